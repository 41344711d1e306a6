//! Every request and response survives encode → decode unchanged.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

mod common;

use common::fixtures::{all_requests, all_responses};
use common::*;
use smb_wire::{Command, Header, NtStatus, Request, Response};

#[test]
fn every_request_round_trips() {
    for r in all_requests() {
        let msg = encode_request(&r);
        let h = Header::decode(&msg).unwrap();
        assert_eq!(h.command, r.command());
        let back = Request::decode(&h, &msg).unwrap_or_else(|e| panic!("{r:?}: {e}"));
        assert_eq!(back, r);
        // Fixed part + at least the one Buffer byte the odd StructureSizes announce.
        let ss = u16::from_le_bytes([msg[64], msg[65]]) as usize;
        assert!(
            msg.len() >= 64 + ss,
            "{:?} shorter than its StructureSize",
            r.command()
        );
    }
}

#[test]
fn every_response_round_trips() {
    for (cmd, st, r) in all_responses() {
        let msg = encode_response(cmd, st, &r);
        let h = Header::decode(&msg).unwrap();
        assert_eq!(NtStatus(h.status), st);
        let back = Response::decode(&h, &msg).unwrap_or_else(|e| panic!("{r:?}: {e}"));
        assert_eq!(back, r);
        let ss = u16::from_le_bytes([msg[64], msg[65]]) as usize;
        // Windows omits the Buffer byte of a WRITE response; everything else carries it.
        let need = if cmd == Command::WRITE { ss - 1 } else { ss };
        assert!(
            msg.len() >= 64 + need,
            "{cmd:?} shorter than its StructureSize"
        );
    }
}

#[test]
fn offsets_point_where_the_spec_says() {
    // CREATE request name at 0x78, WRITE data at 0x70, QUERY_DIRECTORY pattern at 0x60,
    // SESSION_SETUP request token at 0x58, SET_INFO buffer at 0x60, QUERY_INFO input at 0x68.
    let reqs = all_requests();
    let at = |m: &[u8], o: usize| u16::from_le_bytes([m[o], m[o + 1]]);
    for r in &reqs {
        let m = encode_request(r);
        match r {
            Request::Create(_) => assert_eq!(at(&m, 64 + 44), 0x78),
            Request::Write(_) => assert_eq!(at(&m, 64 + 2), 0x70),
            Request::QueryDirectory(_) => assert_eq!(at(&m, 64 + 24), 0x60),
            Request::SessionSetup(_) => assert_eq!(at(&m, 64 + 12), 0x58),
            Request::SetInfo(_) => assert_eq!(at(&m, 64 + 8), 0x60),
            Request::QueryInfo(q) if !q.input.is_empty() => assert_eq!(at(&m, 64 + 8), 0x68),
            Request::TreeConnect(t) if !t.has_extension() => assert_eq!(at(&m, 64 + 4), 0x48),
            Request::TreeConnect(_) => assert_eq!(at(&m, 64 + 4), 0x58),
            _ => {}
        }
    }
}
