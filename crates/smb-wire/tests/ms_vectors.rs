//! Known-answer tests on the messages Microsoft published as test vectors, captured from
//! Windows 10 / Windows Server 2016:
//! - "SMB 3.1.1 Pre-authentication integrity in Windows 10" (Open Specifications blog,
//!   2015-08-11): the NEGOTIATE and SESSION_SETUP exchange;
//! - "Encryption in SMB 3.0: a protocol perspective" (2012-10-05) and "SMB 3.1.1
//!   Encryption in Windows 10" (2015-09-09): encrypted WRITE request/response.
//!
//! Each transcript decodes the Windows bytes, checks the fields, and where our encoder
//! is meant to be byte-exact re-encodes them and compares.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

mod common;

use common::hex;
use smb_wire::negotiate::{self, NegotiateContext};
use smb_wire::transform::TransformHeader;
use smb_wire::{Command, FileId, Header, NtStatus, Request, Response};

fn reencode_request(msg: &[u8]) -> Vec<u8> {
    let h = Header::decode(msg).unwrap();
    let r = Request::decode(&h, msg).unwrap();
    let mut out = Vec::new();
    h.encode(&mut out);
    r.encode(&mut out);
    out
}

fn reencode_response(msg: &[u8]) -> Vec<u8> {
    let h = Header::decode(msg).unwrap();
    let r = Response::decode(&h, msg).unwrap();
    let mut out = Vec::new();
    h.encode(&mut out);
    r.encode(&mut out);
    out
}

const WIN10_NEGOTIATE: &str = "
    FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000
    00000000000000000000000000000000000000000000000024000500000000003F000000ECD86F32
    6276024F9F7752B89BB33F3A70000000020000000202100200030203110300000100260000000000
    010020000100FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF0000
    0200060000000000020002000100";

const WIN_NEGOTIATE_RESPONSE: &str = "
    FE534D4240000100000000000000010001000000000000000100000000000000FFFE000000000000
    000000000000000000000000000000000000000000000000410001001103020039CBCAF329714942
    BDCE5D60F09AB3FB2F000000000080000000800000008000D8DAE5ADCBAED00109094AB095AED001
    80004001C00100006082013C06062B0601050502A08201303082012CA01A3018060A2B0601040182
    3702021E060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000
    60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51
    FD370471B235E15A50DAE15BD5489C87000000000000000060000000010000000000000000000000
    5C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000010000004000000098000000
    7C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4DB2EC4AE3786EC3084000000058000000
    3056A05430523027802530233121301F06035504031318546F6B656E205369676E696E6720507562
    6C6963204B65793027802530233121301F06035504031318546F6B656E205369676E696E67205075
    626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4
    83CA5B65385A251117BEB30712E50000020004000000000001000200";

const WIN10_SESSION_SETUP_1: &str = "
    FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000
    00000000000000000000000000000000000000000000000019000001010000000000000058004A00
    0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A
    04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000
    000F";

const WIN_SESSION_SETUP_1_RESPONSE: &str = "
    FE534D4240000100160000C00100010001000000000000000200000000000000FFFE000000000000
    190000000010000000000000000000000000000000000000090000004800B300A181B03081ADA003
    0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038
    00000015828AE20D1D8BA31179D008000000000000000050005000440000000A0092270000000F53
    005500540033003100310002000C0053005500540033003100310001000C00530055005400330031
    00310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1
    A1F5ADCBAED00100000000";

#[test]
fn windows10_negotiate_request() {
    let msg = hex(WIN10_NEGOTIATE);
    let h = Header::decode(&msg).unwrap();
    assert_eq!(h.command, Command::NEGOTIATE);
    assert_eq!(h.credit_charge, 1);
    assert_eq!(h.credits, 0x80);
    assert_eq!(
        h.message_id, 1,
        "the client's SMB1 multi-protocol negotiate was 0"
    );
    assert_eq!(h.process_id, 0xFEFF);
    let Request::Negotiate(n) = Request::decode(&h, &msg).unwrap() else {
        panic!()
    };
    assert_eq!(n.dialects, [0x0202, 0x0210, 0x0300, 0x0302, 0x0311]);
    assert_eq!(n.security_mode, 0);
    assert_eq!(n.capabilities, 0x3F);
    assert_eq!(n.client_guid[..4], [0xEC, 0xD8, 0x6F, 0x32]);
    assert_eq!(n.contexts.len(), 2);
    let NegotiateContext::PreauthIntegrity {
        hash_algorithms,
        salt,
    } = &n.contexts[0]
    else {
        panic!()
    };
    assert_eq!(hash_algorithms, &[negotiate::HASH_SHA512]);
    assert_eq!(salt.len(), 32);
    assert_eq!(salt[..2], [0xFA, 0x49]);
    assert_eq!(
        n.contexts[1],
        NegotiateContext::Encryption {
            ciphers: vec![negotiate::cipher::AES128_GCM, negotiate::cipher::AES128_CCM]
        }
    );
    assert_eq!(reencode_request(&msg), msg, "byte-exact with Windows");
}

#[test]
fn windows_server_negotiate_response() {
    let msg = hex(WIN_NEGOTIATE_RESPONSE);
    let h = Header::decode(&msg).unwrap();
    assert!(h.is_response());
    assert_eq!(h.credits, 1);
    let Response::Negotiate(r) = Response::decode(&h, &msg).unwrap() else {
        panic!()
    };
    assert_eq!(r.security_mode, negotiate::security_mode::SIGNING_ENABLED);
    assert_eq!(r.dialect, negotiate::SMB311);
    assert_eq!(r.capabilities, 0x2F);
    assert_eq!(
        (r.max_transact, r.max_read, r.max_write),
        (0x80_0000, 0x80_0000, 0x80_0000)
    );
    assert_eq!(r.system_time, 0x01D0_AECB_ADE5_DAD8);
    assert_eq!(r.security_buffer.len(), 0x140);
    assert_eq!(r.security_buffer[..2], [0x60, 0x82]);
    assert_eq!(r.contexts.len(), 2);
    assert!(matches!(&r.contexts[0],
        NegotiateContext::PreauthIntegrity { hash_algorithms, salt }
            if hash_algorithms == &[1] && salt.len() == 32));
    assert_eq!(
        r.contexts[1],
        NegotiateContext::Encryption {
            ciphers: vec![negotiate::cipher::AES128_GCM]
        }
    );
    assert_eq!(reencode_response(&msg), msg, "byte-exact with Windows");
}

#[test]
fn windows10_session_setup_ntlm_negotiate() {
    let msg = hex(WIN10_SESSION_SETUP_1);
    let h = Header::decode(&msg).unwrap();
    let Request::SessionSetup(s) = Request::decode(&h, &msg).unwrap() else {
        panic!()
    };
    assert_eq!(s.flags, 0);
    assert_eq!(s.security_mode, 1);
    assert_eq!(s.capabilities, 1);
    assert_eq!(s.previous_session_id, 0);
    assert_eq!(s.security_buffer.len(), 0x4A);
    assert_eq!(&s.security_buffer[0x22..0x29], b"NTLMSSP");
    assert_eq!(reencode_request(&msg), msg, "byte-exact with Windows");
}

#[test]
fn more_processing_required_is_a_session_setup_body_not_an_error() {
    let msg = hex(WIN_SESSION_SETUP_1_RESPONSE);
    let h = Header::decode(&msg).unwrap();
    assert_eq!(NtStatus(h.status), NtStatus::MORE_PROCESSING_REQUIRED);
    assert_eq!(h.session_id, 0x0000_1000_0000_0019);
    let Response::SessionSetup(s) = Response::decode(&h, &msg).unwrap() else {
        panic!()
    };
    assert_eq!(s.session_flags, 0);
    assert_eq!(s.security_buffer.len(), 0xB3);
    assert_eq!(reencode_response(&msg), msg, "byte-exact with Windows");
}

#[test]
fn smb300_encrypted_write_request() {
    // Plaintext WRITE (note WriteChannelInfoOffset 0x70 with length 0).
    let plain = hex("
        FE534D4240000100000000000900400008000000000000000400000000000000
        FFFE0000010000001100001400E4080000000000000000000000000000000000
        3100700017000000000000000000000015010000390000020100000039020000
        00000000000000007000000000000000536D623320656E6372797074696F6E20
        74657374696E67");
    let h = Header::decode(&plain).unwrap();
    assert!(h.is_signed());
    assert_eq!(
        (h.message_id, h.tree_id, h.session_id),
        (4, 1, 0x8E40014000011)
    );
    let Request::Write(w) = Request::decode(&h, &plain).unwrap() else {
        panic!()
    };
    assert_eq!(&w.data[..], b"Smb3 encryption testing");
    assert_eq!(w.offset, 0);
    assert_eq!(
        w.file_id,
        FileId {
            persistent: 0x200003900000115,
            volatile: 0x23900000001
        }
    );
    assert!(w.write_channel_info.is_empty());

    let transformed = hex("
        FD534D4281A286535415445DAE393921E44FA42E66E69A111892584FB5ED524A
        744DA3EE87000000000001001100001400E4080025C8FEE16605A437832D1CD5");
    let t = TransformHeader::decode(&transformed).unwrap();
    assert_eq!(t.original_message_size as usize, plain.len());
    assert_eq!(t.flags, 1, "SMB 3.0 EncryptionAlgorithm AES-128-CCM");
    assert_eq!(t.session_id, 0x8E40014000011);
    assert_eq!(t.nonce[..11], hex("66E69A111892584FB5ED52")[..]);
    assert_eq!(t.signature[0], 0x81);
    assert_eq!(&t.aad()[..], &transformed[20..52]);
    let mut out = Vec::new();
    t.encode(&mut out);
    assert_eq!(out, transformed[..52]);
}

#[test]
fn smb311_encrypted_write_and_response() {
    let plain = hex("
        FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000
        25000000001000000000000000000000000000000000000031007000170000000000000000000000
        0600000004000000010000000400000000000000000000007000000000000000536D623320656E63
        72797074696F6E2074657374696E67");
    let h = Header::decode(&plain).unwrap();
    let Request::Write(w) = Request::decode(&h, &plain).unwrap() else {
        panic!()
    };
    assert_eq!(
        w.file_id,
        FileId {
            persistent: 0x400000006,
            volatile: 0x400000001
        }
    );
    assert_eq!(w.data.len(), 23);

    let transformed = hex("
        FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C0000000087000000
        000001002500000000100000");
    let t = TransformHeader::decode(&transformed).unwrap();
    assert_eq!(t.flags, smb_wire::transform::TRANSFORM_FLAG_ENCRYPTED);
    assert_eq!(t.session_id, 0x100000000025);
    assert_eq!(t.original_message_size, 0x87);
    assert_eq!(t.nonce[12..], [0, 0, 0, 0], "GCM nonce is 12 bytes");

    // The decrypted WRITE response: Windows sends the 16 fixed bytes only.
    let resp = hex("
        FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000
        25000000001000000000000000000000000000000000000011000000170000000000000000000000");
    let h = Header::decode(&resp).unwrap();
    assert!(
        h.is_response() && !h.is_signed(),
        "encrypted, hence unsigned"
    );
    let Response::Write(wr) = Response::decode(&h, &resp).unwrap() else {
        panic!()
    };
    assert_eq!(wr.count, 23);
    assert_eq!(reencode_response(&resp), resp, "byte-exact with Windows");
}
