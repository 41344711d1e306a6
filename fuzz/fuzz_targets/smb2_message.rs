//! Fuzz the SMB2 codec: framing, compound splitting, headers, every request body, the
//! transform headers, create contexts and negotiate contexts. Nothing may panic.

#![no_main]

use smb_wire::create::{decode_create_contexts, CreateContextResponse};
use smb_wire::header::{is_smb1_negotiate, smb1_dialects};
use smb_wire::negotiate::decode_negotiate_contexts;
use smb_wire::transform::{CompressionTransform, TransformHeader};
use smb_wire::{split_compound, Command, Header, Request, Response};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(h4) = data.get(..4) {
        let mut hdr = [0u8; 4];
        hdr.copy_from_slice(h4);
        let _ = smb_wire::netbios::frame_len(hdr);
    }
    if is_smb1_negotiate(data) {
        let _ = smb1_dialects(data);
    }
    if let Ok(t) = TransformHeader::decode(data) {
        let _ = t.aad();
    }
    let _ = CompressionTransform::decode(data);

    if let Ok(parts) = split_compound(data) {
        for (start, len) in parts {
            let Some(msg) = start.checked_add(len).and_then(|end| data.get(start..end)) else {
                panic!("split_compound returned an out-of-bounds span");
            };
            if let Ok(h) = Header::decode(msg) {
                // The zero-copy decode (WRITE data as a view of the message) must agree
                // with the copying one.
                let shared = bytes::Bytes::copy_from_slice(msg);
                let viewed = Request::decode_shared(&h, &shared);
                assert_eq!(viewed.as_ref().ok(), Request::decode(&h, msg).as_ref().ok());
                if let Ok(req) = Request::decode(&h, msg) {
                    // Whatever decodes must re-encode and decode to the same value.
                    let mut out = Vec::new();
                    h.encode(&mut out);
                    req.encode(&mut out);
                    if let Ok(again) = Request::decode(&h, &out) {
                        assert_eq!(again, req);
                    }
                }
                let _ = Response::decode(&h, msg);
            }
        }
    }

    // Interpret the input directly as a message of each command (the first byte picks
    // one, so the fuzzer reaches every body decoder even without a valid header).
    if let (Some(&sel), Ok(h)) = (data.first(), Header::decode(data)) {
        let mut h = h;
        h.command = Command(u16::from(sel % 0x14));
        let _ = Request::decode(&h, data);
        let _ = Response::decode(&h, data);
    }

    // FSCTL input payloads (the IOCTL request's input buffer goes to these as-is).
    let _ = smb_wire::fsctl::SrvCopychunkCopy::decode(data);
    let _ = smb_wire::fsctl::ValidateNegotiateInfoRequest::decode(data);
    let _ = smb_wire::fsctl::FileZeroDataInformation::decode(data);
    let _ = smb_wire::fsctl::FileAllocatedRangeBuffer::decode(data);
    let _ = smb_wire::fsctl::SetSparseBuffer::decode(data);
    let _ = smb_wire::fsctl::decode_compression_state(data);
    let _ = smb_wire::fsctl::PipeWaitRequest::decode(data);
    let _ = smb_wire::fsctl::NetworkResiliencyRequest::decode(data);
    let _ = smb_wire::fsctl::DuplicateExtentsData::decode(data);
    let _ = smb_wire::fsctl::ObjectIdBuffer::decode(data);

    // Raw context chains.
    let _ = decode_create_contexts(data);
    if let Ok(raw) = smb_wire::create::walk_create_contexts(data) {
        for (n, d) in raw {
            let _ = CreateContextResponse::parse(n, d);
        }
    }
    if let Some((&count, rest)) = data.split_first() {
        let mut msg = vec![0u8; smb_wire::HEADER_SIZE];
        msg.extend_from_slice(rest);
        let _ = decode_negotiate_contexts(&msg, smb_wire::HEADER_SIZE, usize::from(count));
    }
});
