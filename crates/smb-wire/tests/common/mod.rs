#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used
)]
//! Helpers shared by the smb-wire integration tests.

pub mod fixtures;

use smb_wire::header::flags;
use smb_wire::{Command, Header, NtStatus, Request, Response};

/// A request header as a client would send it.
pub fn req_header(cmd: Command) -> Header {
    let mut h = Header::new(cmd);
    h.credit_charge = 1;
    h.credits = 10;
    h.message_id = 42;
    h.process_id = 0xFEFF;
    h.tree_id = 5;
    h.session_id = 0x0000_1000_0000_0009;
    h
}

/// A response header for `cmd` with `status`.
pub fn resp_header(cmd: Command, status: NtStatus) -> Header {
    let mut h = req_header(cmd);
    h.flags |= flags::SERVER_TO_REDIR;
    h.status = status.0;
    h
}

/// Header + request body.
pub fn encode_request(r: &Request) -> Vec<u8> {
    let mut out = Vec::new();
    req_header(r.command()).encode(&mut out);
    r.encode(&mut out);
    out
}

/// Header + response body.
pub fn encode_response(cmd: Command, status: NtStatus, r: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    resp_header(cmd, status).encode(&mut out);
    r.encode(&mut out);
    out
}

/// Parse hex with whitespace and `#` comments to end of line.
pub fn hex(s: &str) -> Vec<u8> {
    let clean: String = s
        .lines()
        .map(|l| l.split('#').next().unwrap())
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect();
    assert!(clean.len() % 2 == 0, "odd hex");
    (0..clean.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).unwrap())
        .collect()
}

/// Run every decoder over `msg`; must never panic.
pub fn decode_everything(msg: &[u8]) {
    let _ = smb_wire::split_compound(msg);
    let _ = smb_wire::transform::TransformHeader::decode(msg);
    let _ = smb_wire::transform::CompressionTransform::decode(msg);
    let _ = smb_wire::header::smb1_dialects(msg);
    let _ = smb_wire::create::decode_create_contexts(msg);
    if let Ok(h) = Header::decode(msg) {
        if let Ok(req) = Request::decode(&h, msg) {
            // Whatever decodes re-encodes to something that decodes to the same value.
            let mut out = Vec::new();
            h.encode(&mut out);
            req.encode(&mut out);
            assert_eq!(
                Request::decode(&h, &out).as_ref(),
                Ok(&req),
                "re-encode of {msg:02x?}"
            );
        }
        let _ = Response::decode(&h, msg);
        for c in 0..=0x13u16 {
            let mut h2 = h.clone();
            h2.command = Command(c);
            let _ = Request::decode(&h2, msg);
            let _ = Response::decode(&h2, msg);
        }
    }
}
