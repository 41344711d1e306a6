//! Hostile input: one test per malformation, then "no prefix or mutation ever panics".

#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

mod common;

use common::fixtures::{all_requests, all_responses};
use common::*;
use smb_wire::create::{decode_create_contexts, walk_create_contexts};
use smb_wire::file::LockRequest;
use smb_wire::negotiate::{decode_negotiate_contexts, NegotiateRequest};
use smb_wire::{split_compound, Command, Header, NtStatus, Request, Response, WireError};

fn echo(next: u32) -> Vec<u8> {
    let mut h = req_header(Command::ECHO);
    h.next_command = next;
    let mut m = Vec::new();
    h.encode(&mut m);
    m.extend_from_slice(&[4, 0, 0, 0]);
    m
}

fn put32(m: &mut [u8], at: usize, v: u32) {
    m[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put16(m: &mut [u8], at: usize, v: u16) {
    m[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn truncated_header() {
    let m = echo(0);
    assert_eq!(Header::decode(&m[..63]), Err(WireError::Truncated));
    assert_eq!(Header::decode(&[]), Err(WireError::Truncated));
    assert_eq!(split_compound(&m[..40]), Err(WireError::Truncated));
}

#[test]
fn wrong_protocol_id_and_header_size() {
    let mut m = echo(0);
    m[0] = 0xFF;
    assert_eq!(Header::decode(&m), Err(WireError::BadProtocolId));
    let mut m = echo(0);
    m[4] = 63;
    assert_eq!(Header::decode(&m), Err(WireError::BadStructureSize));
}

#[test]
fn zero_or_wrong_structure_size() {
    for r in all_requests() {
        let mut m = encode_request(&r);
        put16(&mut m, 64, 0);
        let h = Header::decode(&m).unwrap();
        assert_eq!(
            Request::decode(&h, &m),
            Err(WireError::BadStructureSize),
            "{r:?}"
        );
    }
}

#[test]
fn unknown_command_is_bad_value() {
    let mut m = echo(0);
    put16(&mut m, 12, 0x13);
    let h = Header::decode(&m).unwrap();
    assert!(!h.command.is_known());
    assert_eq!(Request::decode(&h, &m), Err(WireError::BadValue));
}

#[test]
fn body_truncated_inside_fixed_part() {
    let r = &all_requests()[7]; // the CREATE with contexts
    let m = encode_request(r);
    let h = Header::decode(&m).unwrap();
    assert_eq!(
        Request::decode(&h, &m[..64 + 30]),
        Err(WireError::Truncated)
    );
}

#[test]
fn offset_beyond_end() {
    // WRITE whose DataOffset points after the message.
    let w = all_requests()
        .into_iter()
        .find(|r| matches!(r, Request::Write(_)))
        .unwrap();
    let mut m = encode_request(&w);
    let len = m.len() as u16;
    put16(&mut m, 64 + 2, len);
    let h = Header::decode(&m).unwrap();
    assert_eq!(Request::decode(&h, &m), Err(WireError::BadOffset));
    // An offset pointing into the header itself is refused too.
    put16(&mut m, 64 + 2, 8);
    assert_eq!(Request::decode(&h, &m), Err(WireError::BadOffset));
}

#[test]
fn length_overflow() {
    // CREATE name length 0xFFFF from offset 0xFFFF: checked add, no wrap.
    let c = all_requests()
        .into_iter()
        .find(|r| matches!(r, Request::Create(_)))
        .unwrap();
    let mut m = encode_request(&c);
    put16(&mut m, 64 + 44, 0xFFFF);
    put16(&mut m, 64 + 46, 0xFFFE);
    let h = Header::decode(&m).unwrap();
    assert_eq!(Request::decode(&h, &m), Err(WireError::BadOffset));
    // Contexts with offset u32::MAX and length u32::MAX.
    let mut m = encode_request(&c);
    put32(&mut m, 64 + 48, 0xFFFF_FFF8);
    put32(&mut m, 64 + 52, 0x0000_FFFF);
    assert_eq!(Request::decode(&h, &m), Err(WireError::BadOffset));
    put32(&mut m, 64 + 52, u32::MAX);
    assert_eq!(Request::decode(&h, &m), Err(WireError::TooLarge));
}

#[test]
fn compound_next_misaligned_backwards_and_out_of_bounds() {
    let mut chain = echo(76);
    chain.resize(76, 0);
    chain.extend(echo(0));
    assert_eq!(
        split_compound(&chain),
        Err(WireError::BadValue),
        "76 is not 8-aligned"
    );
    let mut chain = echo(80);
    chain.resize(80, 0);
    chain.extend(echo(0));
    assert_eq!(split_compound(&chain).unwrap(), vec![(0, 80), (80, 68)]);
    // NextCommand smaller than a header (would point inside the current one / loop).
    let mut chain = echo(8);
    chain.extend(echo(0));
    assert_eq!(split_compound(&chain), Err(WireError::BadValue));
    // NextCommand beyond the buffer.
    let chain = echo(4096);
    assert_eq!(split_compound(&chain), Err(WireError::BadOffset));
    // Next equal to the remaining length leaves an empty message.
    let mut chain = echo(72);
    chain.resize(72, 0);
    put32(&mut chain, 20, 72);
    assert_eq!(split_compound(&chain), Err(WireError::BadOffset));
}

#[test]
fn compound_length_is_bounded() {
    let mut chain = Vec::new();
    for _ in 0..1100 {
        let mut m = echo(72);
        m.resize(72, 0);
        chain.extend(m);
    }
    assert_eq!(split_compound(&chain), Err(WireError::TooLarge));
}

#[test]
fn create_context_chain_loops_and_overruns() {
    // Next = 0 can't loop, Next pointing at itself (0 is "last") → Next < 16 rejected.
    let mut ctx = vec![0u8; 24];
    put32(&mut ctx, 0, 8); // Next 8: backwards into the same context
    put16(&mut ctx, 4, 16);
    put16(&mut ctx, 6, 4);
    ctx[16..20].copy_from_slice(b"MxAc");
    let mut two = ctx.clone();
    two.extend_from_slice(&ctx);
    assert_eq!(walk_create_contexts(&two), Err(WireError::BadOffset));
    // Misaligned Next.
    put32(&mut two, 0, 20);
    assert_eq!(walk_create_contexts(&two), Err(WireError::BadOffset));
    // Next past the area.
    put32(&mut two, 0, 4096);
    assert_eq!(walk_create_contexts(&two), Err(WireError::BadOffset));
    // Data length past the context.
    put32(&mut ctx, 0, 0);
    put16(&mut ctx, 10, 24);
    put32(&mut ctx, 12, 100);
    assert_eq!(walk_create_contexts(&ctx), Err(WireError::BadOffset));
    // A known context with a malformed length.
    put32(&mut ctx, 12, 0);
    ctx[16..20].copy_from_slice(b"AlSi");
    assert_eq!(decode_create_contexts(&ctx), Err(WireError::Truncated));
    // Too many contexts.
    let mut many = Vec::new();
    let mut one = vec![0u8; 24];
    put32(&mut one, 0, 24);
    put16(&mut one, 4, 16);
    put16(&mut one, 6, 4);
    one[16..20].copy_from_slice(b"QFid");
    for _ in 0..100 {
        many.extend_from_slice(&one);
    }
    put32(&mut many, 99 * 24, 0);
    assert_eq!(walk_create_contexts(&many), Err(WireError::TooLarge));
}

#[test]
fn huge_counts() {
    // LOCK with LockCount 0xFFFF.
    let l = all_requests()
        .into_iter()
        .find(|r| matches!(r, Request::Lock(_)))
        .unwrap();
    let mut m = encode_request(&l);
    put16(&mut m, 64 + 2, 0xFFFF);
    assert_eq!(LockRequest::decode(&m), Err(WireError::TooLarge));
    put16(&mut m, 64 + 2, 3); // only 2 present
    assert_eq!(LockRequest::decode(&m), Err(WireError::Truncated));
    put16(&mut m, 64 + 2, 0);
    assert_eq!(LockRequest::decode(&m), Err(WireError::BadValue));
    // NEGOTIATE with 0xFFFF dialects / contexts.
    let n = all_requests()[0].clone();
    let mut m = encode_request(&n);
    put16(&mut m, 64 + 2, 0xFFFF);
    assert_eq!(NegotiateRequest::decode(&m), Err(WireError::TooLarge));
    let mut m = encode_request(&n);
    put16(&mut m, 64 + 32, 0xFFFF);
    assert_eq!(NegotiateRequest::decode(&m), Err(WireError::TooLarge));
    put16(&mut m, 64 + 2, 0);
    assert_eq!(NegotiateRequest::decode(&m), Err(WireError::BadValue));
    // A preauth context announcing more hashes than its data holds.
    let mut ctx = vec![1, 0, 4, 0, 0, 0, 0, 0, 0xFF, 0x03, 0, 0];
    ctx.resize(64, 0);
    let mut msg = vec![0u8; 64];
    msg.extend_from_slice(&ctx);
    assert_eq!(
        decode_negotiate_contexts(&msg, 64, 1),
        Err(WireError::Truncated)
    );
    assert_eq!(
        decode_negotiate_contexts(&msg, 66, 1),
        Err(WireError::BadOffset)
    );
    assert_eq!(
        decode_negotiate_contexts(&msg, 64, 5000),
        Err(WireError::TooLarge)
    );
}

#[test]
fn bad_utf16_name() {
    let c = all_requests()
        .into_iter()
        .find(|r| matches!(r, Request::Create(_)))
        .unwrap();
    let mut m = encode_request(&c);
    m[0x78] = 0x00;
    m[0x79] = 0xD8; // lone high surrogate
    let h = Header::decode(&m).unwrap();
    assert_eq!(Request::decode(&h, &m), Err(WireError::BadString));
    put16(&mut m, 64 + 46, 3); // odd length
    assert_eq!(Request::decode(&h, &m), Err(WireError::BadString));
}

fn corpus() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = all_requests().iter().map(encode_request).collect();
    v.extend(
        all_responses()
            .iter()
            .map(|(c, s, r)| encode_response(*c, *s, r)),
    );
    v
}

#[test]
fn every_prefix_of_every_message_decodes_without_panic() {
    for msg in corpus() {
        for n in 0..=msg.len() {
            decode_everything(&msg[..n]);
        }
        // A strict prefix never decodes into the same request (lengths are checked).
        let h = Header::decode(&msg).unwrap();
        if let Ok(full) = Request::decode(&h, &msg) {
            if !h.is_response() {
                for n in 64..msg.len() - 1 {
                    assert_ne!(Request::decode(&h, &msg[..n]).ok(), Some(full.clone()));
                }
            }
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    // Deterministic xorshift so failures reproduce.
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for msg in corpus() {
        for _ in 0..1000 {
            let mut m = msg.clone();
            for _ in 0..(1 + rnd() % 4) {
                let i = (rnd() as usize) % m.len();
                m[i] = match rnd() % 3 {
                    0 => rnd() as u8,
                    1 => 0xFF,
                    _ => 0,
                };
            }
            decode_everything(&m);
        }
    }
}

#[test]
fn response_with_error_status_on_a_full_body_is_still_decoded_as_that_body() {
    // IOCTL may fail with a full 49-byte body (e.g. copy-chunk limits).
    let (cmd, _, r) = all_responses()
        .into_iter()
        .find(|(c, _, _)| *c == Command::IOCTL)
        .unwrap();
    let m = encode_response(cmd, NtStatus::INVALID_PARAMETER, &r);
    let h = Header::decode(&m).unwrap();
    assert_eq!(Response::decode(&h, &m).unwrap(), r);
}
