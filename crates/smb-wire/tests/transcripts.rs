//! Conversations built byte by byte from the MS-SMB2 layouts, as real clients send them.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

mod common;

use common::*;
use smb_wire::create::{
    encode_create_contexts, CreateContext, CreateContextResponse, LeaseResponse, MaxAccessResponse,
    QueryOnDiskIdResponse,
};
use smb_wire::header::{flags, is_smb1_negotiate, smb1_dialects};
use smb_wire::message::OplockBreakAck;
use smb_wire::negotiate::{self, NegotiateContext, NegotiateRequest, NegotiateResponse};
use smb_wire::netbios::{frame_header, frame_len, MAX_FRAME};
use smb_wire::transform::{CompressionTransform, TransformHeader};
use smb_wire::{split_compound, Command, Header, NtStatus, Request, Response, WireError};

/// A 3.1.1-capable NEGOTIATE as smbclient (Samba 4.x) sends it: five dialects, three
/// contexts (preauth SHA-512 with a 32-byte salt, four ciphers, three signing algorithms).
fn smbclient_negotiate() -> Vec<u8> {
    hex("
        fe534d42 4000 0000 00000000 0000 1f00 00000000 00000000   # ProtocolId, size 64, charge 0, status, NEGOTIATE, 31 credits, flags, next
        0000000000000000                                         # MessageId 0
        fffe0000 00000000                                        # ProcessId 0xFEFF, TreeId 0
        0000000000000000                                         # SessionId
        00000000000000000000000000000000                         # Signature
        2400 0500 0100 0000 7f000000                             # size 36, 5 dialects, signing enabled, caps 0x7f
        00112233445566778899aabbccddeeff                         # ClientGuid
        70000000 0300 0000                                       # contexts at 0x70, 3 of them
        0202 1002 0003 0203 1103                                 # 2.0.2 2.1 3.0 3.0.2 3.1.1
        0000                                                     # pad to 8 (offset 0x70)
        0100 2600 00000000 0100 2000 0100                        # PREAUTH: len 38, 1 hash, salt 32, SHA-512
        000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
        0000                                                     # pad
        0200 0a00 00000000 0400 0400 0200 0300 0100              # ENCRYPTION: 4 ciphers
        000000000000                                             # pad
        0800 0800 00000000 0300 0200 0100 0000                   # SIGNING: GMAC, CMAC, HMAC
    ")
}

#[test]
fn smbclient_negotiate_is_decoded_and_reencoded_byte_exactly() {
    let msg = smbclient_negotiate();
    let hdr = Header::decode(&msg).unwrap();
    assert_eq!(hdr.command, Command::NEGOTIATE);
    assert_eq!(hdr.credits, 31);
    assert_eq!(hdr.process_id, 0xFEFF);
    assert!(!hdr.is_response());
    let Request::Negotiate(n) = Request::decode(&hdr, &msg).unwrap() else {
        panic!()
    };
    assert_eq!(n.dialects, vec![0x0202, 0x0210, 0x0300, 0x0302, 0x0311]);
    assert_eq!(n.security_mode, negotiate::security_mode::SIGNING_ENABLED);
    assert_eq!(n.capabilities, 0x7f);
    assert_eq!(n.client_guid[15], 0xff);
    assert_eq!(n.contexts.len(), 3);
    match &n.contexts[0] {
        NegotiateContext::PreauthIntegrity {
            hash_algorithms,
            salt,
        } => {
            assert_eq!(hash_algorithms, &[negotiate::HASH_SHA512]);
            assert_eq!(salt.len(), 32);
            assert_eq!(salt[31], 0x1f);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        n.contexts[1],
        NegotiateContext::Encryption {
            ciphers: vec![
                negotiate::cipher::AES256_GCM,
                negotiate::cipher::AES128_GCM,
                negotiate::cipher::AES256_CCM,
                negotiate::cipher::AES128_CCM
            ]
        }
    );
    assert_eq!(
        n.contexts[2],
        NegotiateContext::SigningCapabilities {
            algorithms: vec![
                negotiate::signing::AES_GMAC,
                negotiate::signing::AES_CMAC,
                negotiate::signing::HMAC_SHA256
            ]
        }
    );
    // Our encoder produces the very same bytes.
    let mut out = Vec::new();
    hdr.encode(&mut out);
    n.encode(&mut out);
    assert_eq!(out, msg);
}

#[test]
fn contexts_are_ignored_without_311() {
    let mut msg = smbclient_negotiate();
    // Replace the 3.1.1 dialect (at 100 + 8) by 3.0.2 again.
    msg[108] = 0x02;
    let n = NegotiateRequest::decode(&msg).unwrap();
    assert!(n.contexts.is_empty());
}

#[test]
fn negotiate_response_places_security_buffer_at_0x80_and_aligns_contexts() {
    let resp = NegotiateResponse {
        security_mode: 1,
        dialect: negotiate::SMB311,
        guid: [7; 16],
        capabilities: negotiate::capabilities::LARGE_MTU | negotiate::capabilities::LEASING,
        max_transact: 8 << 20,
        max_read: 8 << 20,
        max_write: 8 << 20,
        system_time: 0x01DB_0000_0000_0000,
        server_start_time: 0,
        security_buffer: vec![0x60, 0x28, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02], // SPNEGO
        contexts: vec![
            NegotiateContext::PreauthIntegrity {
                hash_algorithms: vec![1],
                salt: vec![9; 32],
            },
            NegotiateContext::Encryption {
                ciphers: vec![negotiate::cipher::AES128_GCM],
            },
        ],
    };
    let msg = encode_response(
        Command::NEGOTIATE,
        NtStatus::SUCCESS,
        &Response::Negotiate(resp.clone()),
    );
    assert_eq!(&msg[64..66], &[65, 0]);
    assert_eq!(u16::from_le_bytes([msg[64 + 56], msg[64 + 57]]), 0x80);
    assert_eq!(u16::from_le_bytes([msg[64 + 58], msg[64 + 59]]), 10);
    assert_eq!(&msg[0x80..0x82], &[0x60, 0x28]);
    // contexts start at 0x80 + 10 rounded up to 8 = 0x90
    assert_eq!(
        u32::from_le_bytes(msg[64 + 60..64 + 64].try_into().unwrap()),
        0x90
    );
    assert_eq!(&msg[0x90..0x92], &[1, 0]);
    // second context: 0x90 + 8 + 38 = 0xBE → 0xC0
    assert_eq!(&msg[0xC0..0xC2], &[2, 0]);
    assert_eq!(NegotiateResponse::decode(&msg).unwrap(), resp);
}

#[test]
fn smb1_multiprotocol_negotiate_lists_smb2_dialects() {
    let mut msg = hex("
        ff534d42 72 00000000 18 5328 0000 0000000000000000 0000 0000 fffe 0000 0000  # SMB1 header
        00                                                                           # WordCount 0
    ");
    let dialects: &[&str] = &["NT LM 0.12", "SMB 2.002", "SMB 2.???"];
    let mut bytes = Vec::new();
    for d in dialects {
        bytes.push(2);
        bytes.extend_from_slice(d.as_bytes());
        bytes.push(0);
    }
    msg.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    msg.extend_from_slice(&bytes);
    assert!(is_smb1_negotiate(&msg));
    assert_eq!(smb1_dialects(&msg).unwrap(), dialects);
    assert!(!is_smb1_negotiate(&smbclient_negotiate()));
    // A missing NUL terminator is an error, not a panic.
    msg.pop();
    let n = msg.len();
    msg[n - 1] = b'?';
    assert!(smb1_dialects(&msg[..n]).is_err());
}

#[test]
fn netbios_framing() {
    assert_eq!(frame_header(0x44), [0, 0, 0, 0x44]);
    assert_eq!(frame_header(0x01_02_03), [0, 1, 2, 3]);
    assert_eq!(frame_len([0, 1, 2, 3]).unwrap(), 0x010203);
    assert_eq!(frame_len(frame_header(MAX_FRAME)).unwrap(), MAX_FRAME);
    assert_eq!(frame_len([0, 0xFF, 0xFF, 0xFF]), Err(WireError::TooLarge));
    // NetBIOS keep-alive (0x85) / session request (0x81) are not session messages.
    assert_eq!(frame_len([0x85, 0, 0, 0]), Err(WireError::BadValue));
    assert_eq!(frame_len([0x81, 0, 0, 0x44]), Err(WireError::BadValue));
}

#[test]
fn ntstatus_names_and_severity() {
    assert_eq!(
        format!("{:?}", NtStatus::ACCESS_DENIED),
        "STATUS_ACCESS_DENIED"
    );
    assert_eq!(NtStatus::ACCESS_DENIED.0, 0xC000_0022);
    assert_eq!(NtStatus::OBJECT_NAME_NOT_FOUND.0, 0xC000_0034);
    assert_eq!(NtStatus::MORE_PROCESSING_REQUIRED.0, 0xC000_0016);
    assert_eq!(NtStatus::PENDING.0, 0x0000_0103);
    assert_eq!(NtStatus::NETWORK_SESSION_EXPIRED.0, 0xC000_035C);
    assert_eq!(NtStatus::NETNAME_DELETED, NtStatus::NETWORK_NAME_DELETED);
    assert_eq!(
        format!("{:?}", NtStatus(0xC0DE_0001)),
        "NTSTATUS(0xC0DE0001)"
    );
    assert!(NtStatus::SUCCESS.is_success() && !NtStatus::SUCCESS.is_error());
    assert!(NtStatus::PENDING.is_success());
    assert!(NtStatus::LOGON_FAILURE.is_error());
    assert!(!NtStatus::BUFFER_OVERFLOW.is_error() && !NtStatus::BUFFER_OVERFLOW.is_success());
    assert!(NtStatus::NO_MORE_FILES.is_warning());
}

#[test]
fn async_header_carries_async_id_instead_of_tree() {
    let mut h = resp_header(Command::CHANGE_NOTIFY, NtStatus::PENDING);
    h.flags |= flags::ASYNC_COMMAND;
    h.async_id = 0x0102_0304_0506_0708;
    h.tree_id = 0;
    h.process_id = 0;
    let mut out = Vec::new();
    h.encode(&mut out);
    assert_eq!(out.len(), 64);
    assert_eq!(&out[32..40], &[8, 7, 6, 5, 4, 3, 2, 1]);
    let d = Header::decode(&out).unwrap();
    assert!(d.is_async() && d.is_response());
    assert_eq!(d, h);
    assert_eq!(format!("{:?}", d.command), "CHANGE_NOTIFY");
    assert!(Command(0x12).is_known() && !Command(0x13).is_known());
}

#[test]
fn transform_header_layout_and_aad() {
    let msg = hex("
        fd534d42
        a0a1a2a3a4a5a6a7a8a9aaabacadaeaf   # Signature
        b0b1b2b3b4b5b6b7b8b9bbbb00000000   # Nonce (GCM uses 12 bytes)
        78000000 0000 0100                 # OriginalMessageSize 120, reserved, Flags encrypted
        0900000000100000                   # SessionId
    ");
    let t = TransformHeader::decode(&msg).unwrap();
    assert_eq!(t.original_message_size, 120);
    assert_eq!(t.flags, 1);
    assert_eq!(t.session_id, 0x0000_1000_0000_0009);
    assert_eq!(t.signature[0], 0xa0);
    assert_eq!(&t.aad()[..], &msg[20..52]);
    let mut out = Vec::new();
    t.encode(&mut out);
    assert_eq!(out, msg);
    assert!(smb_wire::transform::is_transform(&msg));
    assert_eq!(
        TransformHeader::decode(&msg[..51]),
        Err(WireError::Truncated)
    );
}

#[test]
fn compression_transform_is_recognised_both_forms() {
    let unchained = hex("fc534d42 00010000 0500 0000 04000000 fe534d42 aabbcc");
    match CompressionTransform::decode(&unchained).unwrap() {
        CompressionTransform::Unchained {
            original_size,
            algorithm,
            uncompressed,
            compressed,
        } => {
            assert_eq!(original_size, 256);
            assert_eq!(algorithm, smb_wire::transform::compression::LZ4);
            assert_eq!(uncompressed, vec![0xfe, b'S', b'M', b'B']);
            assert_eq!(compressed, vec![0xaa, 0xbb, 0xcc]);
        }
        other => panic!("{other:?}"),
    }
    let chained = hex("
        fc534d42 04100000          # header, original size 4 + 2048 + 2048
        0000 0100 04000000 fe534d42          # NONE payload, chained flag, 4 bytes
        0400 0000 08000000 aa000000 00080000            # PATTERN_V1: byte 0xAA x 2048
        0500 0000 07000000 00080000 112233              # LZ4: original 2048, 3 bytes
    ");
    match CompressionTransform::decode(&chained).unwrap() {
        CompressionTransform::Chained {
            original_size,
            payloads,
        } => {
            assert_eq!(original_size, 4100);
            assert_eq!(payloads.len(), 3);
            assert_eq!(payloads[0].original_payload_size, None);
            assert_eq!(payloads[0].data, b"\xfeSMB");
            assert_eq!(
                payloads[1].algorithm,
                smb_wire::transform::compression::PATTERN_V1
            );
            assert_eq!(payloads[1].original_payload_size, None);
            assert_eq!(payloads[1].data, [0xaa, 0, 0, 0, 0, 8, 0, 0]);
            assert_eq!(payloads[2].algorithm, smb_wire::transform::compression::LZ4);
            assert_eq!(payloads[2].original_payload_size, Some(2048));
            assert_eq!(payloads[2].data, [0x11, 0x22, 0x33]);
        }
        other => panic!("{other:?}"),
    }
    // A payload length beyond the frame is refused.
    let bad = hex("fc534d42 00100000 0000 0100 ffffff7f 00");
    assert_eq!(
        CompressionTransform::decode(&bad),
        Err(WireError::Truncated)
    );
}

/// CREATE of "dir\\a.txt" with MxAc, QFid and a v2 lease, as Windows 10 sends it.
fn windows_create() -> Vec<u8> {
    let mut msg = Vec::new();
    req_header(Command::CREATE).encode(&mut msg);
    msg.extend(hex("
        3900 00 ff 02000000                 # size 57, SecurityFlags, oplock=LEASE, impersonation
        0000000000000000 0000000000000000   # SmbCreateFlags, Reserved
        89001200 80000000 07000000          # access, attrs NORMAL, share RWD
        01000000 60000000                   # OPEN, NON_DIRECTORY|SYNC_NONALERT
        7800 1200                           # name at 0x78, 18 bytes
        90000000 7c000000                   # contexts at 0x90, 124 bytes
        6400690072005c0061002e00740078007400  # d i r \\ a . t x t
        000000000000                        # pad to 0x90
        18000000 1000 0400 0000 0000 00000000 4d784163 00000000     # MxAc, next 24, no data
        18000000 1000 0400 0000 0000 00000000 51466964 00000000     # QFid, next 24, no data
        00000000 1000 0400 0000 1800 34000000 52714c73 00000000     # RqLs, last, data at 24 len 52
        000102030405060708090a0b0c0d0e0f    # LeaseKey
        07000000 04000000 0000000000000000  # RWH, PARENT_KEY_SET, duration
        f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff    # ParentLeaseKey
        0300 0000                           # Epoch 3, reserved
    "));
    msg
}

#[test]
fn windows_create_with_contexts() {
    let msg = windows_create();
    let hdr = Header::decode(&msg).unwrap();
    let Request::Create(c) = Request::decode(&hdr, &msg).unwrap() else {
        panic!()
    };
    assert_eq!(c.name, "dir\\a.txt");
    assert_eq!(c.requested_oplock_level, smb_wire::create::oplock::LEASE);
    assert_eq!(c.create_disposition, smb_wire::create::disposition::OPEN);
    assert_eq!(c.share_access, 7);
    assert_eq!(c.contexts.len(), 3);
    assert_eq!(c.contexts[0], CreateContext::MaxAccess { timestamp: None });
    assert_eq!(c.contexts[1], CreateContext::QueryOnDiskId);
    match &c.contexts[2] {
        CreateContext::RequestLease {
            key,
            state,
            flags,
            parent_key,
            epoch,
            ..
        } => {
            assert_eq!(key[15], 0x0f);
            assert_eq!(*state, 7);
            assert_eq!(*flags, smb_wire::create::lease::FLAG_PARENT_LEASE_KEY_SET);
            assert_eq!(parent_key.unwrap()[0], 0xf0);
            assert_eq!(*epoch, Some(3));
        }
        other => panic!("{other:?}"),
    }
    // Our encoder lays the same request out byte for byte.
    assert_eq!(encode_request(&Request::Create(c)), msg);
}

#[test]
fn create_response_contexts_are_chained_and_aligned() {
    let ctxs = vec![
        CreateContextResponse::MaxAccess(MaxAccessResponse {
            status: NtStatus::SUCCESS,
            maximal_access: 0x001F_01FF,
        }),
        CreateContextResponse::QueryOnDiskId(QueryOnDiskIdResponse {
            disk_file_id: 0x1234,
            volume_id: 0x99,
        }),
        CreateContextResponse::Lease(LeaseResponse {
            key: [1; 16],
            state: 5,
            flags: 0,
            parent_key: Some([2; 16]),
            epoch: Some(4),
        }),
    ];
    let mut out = vec![0u8; 152]; // header + fixed CREATE response
    encode_create_contexts(&ctxs, &mut out);
    let area = &out[152..];
    // MxAc: 16 header + "MxAc" padded to 24, 8 bytes data → Next = 32.
    assert_eq!(&area[0..4], &32u32.to_le_bytes());
    assert_eq!(&area[16..20], b"MxAc");
    assert_eq!(&area[10..12], &24u16.to_le_bytes());
    assert_eq!(&area[24..28], &0u32.to_le_bytes());
    assert_eq!(&area[28..32], &0x001F_01FFu32.to_le_bytes());
    // QFid: 24 + 32 data = 56.
    assert_eq!(&area[32..36], &56u32.to_le_bytes());
    assert_eq!(&area[48..52], b"QFid");
    // Lease v2: last, 52 bytes of data.
    assert_eq!(&area[88..92], &0u32.to_le_bytes());
    assert_eq!(&area[88 + 12..88 + 16], &52u32.to_le_bytes());
    assert_eq!(area.len(), 88 + 24 + 52);
    let back: Vec<_> = smb_wire::create::walk_create_contexts(area)
        .unwrap()
        .into_iter()
        .map(|(n, d)| CreateContextResponse::parse(n, d).unwrap())
        .collect();
    assert_eq!(back, ctxs);
}

#[test]
fn related_compound_create_query_close() {
    use smb_wire::file::CloseRequest;
    use smb_wire::info::QueryInfoRequest;
    use smb_wire::FileId;
    let mut chain = Vec::new();
    let parts: Vec<Request> = vec![
        Request::decode(
            &Header::decode(&windows_create()).unwrap(),
            &windows_create(),
        )
        .unwrap(),
        Request::QueryInfo(QueryInfoRequest {
            info_type: 1,
            file_info_class: 0x22,
            output_buffer_length: 4096,
            input: vec![],
            additional_information: 0,
            flags: 0,
            file_id: FileId::ANY,
        }),
        Request::Close(CloseRequest {
            flags: 1,
            file_id: FileId::ANY,
        }),
    ];
    let n = parts.len();
    for (i, p) in parts.iter().enumerate() {
        let mut m = Vec::new();
        let mut h = req_header(p.command());
        if i > 0 {
            h.flags |= flags::RELATED_OPERATIONS;
        }
        h.encode(&mut m);
        p.encode(&mut m);
        smb_wire::message::finish_compound_member(&mut m, i + 1 == n);
        if i + 1 < n {
            assert_eq!(m.len() % 8, 0);
            assert_eq!(&m[20..24], &(m.len() as u32).to_le_bytes());
        } else {
            assert_eq!(&m[20..24], &[0; 4]);
        }
        chain.extend(m);
    }
    let spans = split_compound(&chain).unwrap();
    assert_eq!(spans.len(), 3);
    for ((start, len), p) in spans.iter().zip(&parts) {
        let msg = &chain[*start..*start + *len];
        let h = Header::decode(msg).unwrap();
        assert_eq!(&Request::decode(&h, msg).unwrap(), p);
    }
    let last = Header::decode(&chain[spans[2].0..]).unwrap();
    assert!(last.is_related());
}

#[test]
fn lease_break_ack_and_oplock_ack_are_told_apart() {
    let lease = encode_request(&Request::OplockBreak(OplockBreakAck::Lease(
        smb_wire::misc::LeaseBreakAck {
            flags: 0,
            lease_key: [3; 16],
            lease_state: 1,
        },
    )));
    assert_eq!(&lease[64..66], &[36, 0]);
    let h = Header::decode(&lease).unwrap();
    assert!(matches!(
        Request::decode(&h, &lease),
        Ok(Request::OplockBreak(OplockBreakAck::Lease(_)))
    ));
    let op = encode_request(&Request::OplockBreak(OplockBreakAck::Oplock(
        smb_wire::misc::OplockBreak {
            oplock_level: 1,
            file_id: smb_wire::FileId::default(),
        },
    )));
    assert_eq!(&op[64..66], &[24, 0]);
}

#[test]
fn error_response_is_the_standard_nine_bytes() {
    let msg = encode_response(
        Command::CREATE,
        NtStatus::OBJECT_NAME_NOT_FOUND,
        &Response::Error(Default::default()),
    );
    assert_eq!(&msg[64..], &[9, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&msg[8..12], &0xC000_0034u32.to_le_bytes());
    let h = Header::decode(&msg).unwrap();
    assert_eq!(
        Response::decode(&h, &msg).unwrap(),
        Response::Error(Default::default())
    );
    // An error on QUERY_INFO (whose success body is also 9 bytes) is told apart by status.
    let msg = encode_response(
        Command::QUERY_INFO,
        NtStatus::ACCESS_DENIED,
        &Response::Error(Default::default()),
    );
    let h = Header::decode(&msg).unwrap();
    assert!(matches!(
        Response::decode(&h, &msg).unwrap(),
        Response::Error(_)
    ));
}

#[test]
fn read_response_data_at_0x50_without_copy() {
    let mut out = Vec::new();
    resp_header(Command::READ, NtStatus::SUCCESS).encode(&mut out);
    smb_wire::file::ReadResponse::encode_header_only(5, 0, &mut out);
    assert_eq!(out.len(), 0x50);
    out.extend_from_slice(b"hello");
    let r = smb_wire::file::ReadResponse::decode(&out).unwrap();
    assert_eq!(r.data, b"hello");
}

#[test]
fn rdma_read_response_ends_at_data_offset() {
    // The data went by RDMA write: no data and no pad byte, so a client that reads up to
    // DataOffset (the Linux client over SMB Direct) finds the next message right after.
    let body = smb_wire::file::ReadResponse {
        data_remaining: 1 << 20,
        flags: 0,
        data: Vec::new(),
    };
    let mut out = Vec::new();
    resp_header(Command::READ, NtStatus::SUCCESS).encode(&mut out);
    body.encode(&mut out);
    assert_eq!(out.len(), 0x50);
    let r = smb_wire::file::ReadResponse::decode(&out).unwrap();
    assert_eq!((r.data_remaining, r.data.len()), (1 << 20, 0));

    // An empty READ reply on TCP keeps the one byte StructureSize 17 counts.
    let mut out = Vec::new();
    resp_header(Command::READ, NtStatus::SUCCESS).encode(&mut out);
    smb_wire::file::ReadResponse {
        data_remaining: 0,
        flags: 0,
        data: Vec::new(),
    }
    .encode(&mut out);
    assert_eq!(out.len(), 0x51);
}
