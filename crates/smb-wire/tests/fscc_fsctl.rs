//! IOCTL payloads: VALIDATE_NEGOTIATE_INFO, network interfaces, server-side copy, sparse
//! ranges, snapshots, pipes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use smb_wire::fsctl::*;
use smb_wire::WireError;

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .chars()
        .filter_map(|c| c.to_digit(16))
        .map(|d| u8::try_from(d).unwrap_or(0))
        .collect();
    assert_eq!(digits.len() % 2, 0, "odd hex string");
    digits
        .chunks(2)
        .map(|c| (c.first().copied().unwrap_or(0) << 4) | c.get(1).copied().unwrap_or(0))
        .collect()
}

#[test]
fn control_codes_are_what_ctl_code_makes() {
    // FILE_DEVICE_FILE_SYSTEM = 9; methods BUFFERED 0 / NEITHER 3; access ANY 0, READ 1, WRITE 2.
    assert_eq!(ctl_code(9, 51, 3, 1), code::FSCTL_QUERY_ALLOCATED_RANGES);
    assert_eq!(ctl_code(9, 50, 0, 2), code::FSCTL_SET_ZERO_DATA);
    assert_eq!(ctl_code(9, 49, 0, 0), code::FSCTL_SET_SPARSE);
    assert_eq!(
        ctl_code(9, 209, 0, 2),
        code::FSCTL_DUPLICATE_EXTENTS_TO_FILE
    );
    assert_eq!(ctl_code(9, 42, 0, 0), code::FSCTL_GET_REPARSE_POINT);
    assert_eq!(ctl_code(9, 48, 0, 0), code::FSCTL_CREATE_OR_GET_OBJECT_ID);
    assert_eq!(ctl_code(0x14, 110, 3, 1), code::FSCTL_SRV_READ_HASH);
    assert_eq!(ctl_code(0x11, 3, 0, 1), code::FSCTL_PIPE_PEEK);
    assert_eq!(ctl_code(6, 101, 0, 0), code::FSCTL_DFS_GET_REFERRALS);
    assert_eq!(code::FSCTL_VALIDATE_NEGOTIATE_INFO, 0x0014_0204);
    assert_eq!(code::FSCTL_PIPE_TRANSCEIVE, 0x0011_C017);
}

#[test]
fn validate_negotiate_info_request_and_response() {
    let req = hex("7F 00 00 00
         00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F
         01 00  04 00
         02 02  10 02  00 03  02 03");
    let v = ValidateNegotiateInfoRequest::decode(&req).unwrap();
    assert_eq!(v.capabilities, 0x7F);
    assert_eq!(v.guid, core::array::from_fn(|i| i as u8));
    assert_eq!(v.security_mode, 1);
    assert_eq!(v.dialects, vec![0x0202, 0x0210, 0x0300, 0x0302]);
    let mut again = Vec::new();
    v.encode(&mut again);
    assert_eq!(again, req);

    // DialectCount says 4 but only 3 are there.
    assert_eq!(
        ValidateNegotiateInfoRequest::decode(&req[..req.len() - 2]),
        Err(WireError::Truncated)
    );
    // An absurd DialectCount is refused before allocating.
    let mut huge = req.clone();
    huge[22..24].copy_from_slice(&0xFFFFu16.to_le_bytes());
    assert_eq!(
        ValidateNegotiateInfoRequest::decode(&huge),
        Err(WireError::TooLarge)
    );
    assert_eq!(
        ValidateNegotiateInfoRequest::decode(&req[..23]),
        Err(WireError::Truncated)
    );

    let rsp = ValidateNegotiateInfoResponse {
        capabilities: 0x2F,
        guid: [0xA5; 16],
        security_mode: 0x01,
        dialect: 0x0302,
    };
    let mut out = Vec::new();
    rsp.encode(&mut out);
    assert_eq!(
        out,
        hex("2F 00 00 00 A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5 01 00 02 03")
    );
    assert_eq!(ValidateNegotiateInfoResponse::decode(&out).unwrap(), rsp);
}

#[test]
fn network_interface_info_ipv4_then_ipv6() {
    let list = [
        NetworkInterfaceInfo {
            if_index: 2,
            capability: RSS_CAPABLE,
            link_speed: 10_000_000_000,
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)), 445),
        },
        NetworkInterfaceInfo {
            if_index: 3,
            capability: RDMA_CAPABLE,
            link_speed: 1_000_000_000,
            addr: SocketAddr::new(IpAddr::V6("fe80::1".parse::<Ipv6Addr>().unwrap()), 0),
        },
    ];
    let mut out = Vec::new();
    encode_network_interfaces(&list, &mut out);
    let mut expected = hex(
        "98 00 00 00  02 00 00 00  01 00 00 00  00 00 00 00  00 E4 0B 54 02 00 00 00
         02 00 00 00  C0 A8 01 0A",
    );
    expected.resize(24 + 128, 0);
    expected.extend(hex(
        "00 00 00 00  03 00 00 00  02 00 00 00  00 00 00 00  00 CA 9A 3B 00 00 00 00
         17 00 00 00  00 00 00 00  FE 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01
         00 00 00 00",
    ));
    expected.resize(2 * 152, 0);
    assert_eq!(out, expected);

    let back = decode_network_interfaces(&out).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(
        back[0].addr,
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)), 0)
    );
    assert_eq!(back[1], list[1]);

    // A Next that loops back or points outside is refused.
    let mut bad = out.clone();
    bad[0] = 8;
    assert_eq!(decode_network_interfaces(&bad), Err(WireError::BadOffset));
    let mut bad = out.clone();
    bad[0..4].copy_from_slice(&0x1000u32.to_le_bytes());
    assert_eq!(decode_network_interfaces(&bad), Err(WireError::Truncated));
    let mut bad = out.clone();
    bad[24] = 0x09;
    assert_eq!(decode_network_interfaces(&bad), Err(WireError::BadValue));
    assert_eq!(
        decode_network_interfaces(&out[..151]),
        Err(WireError::Truncated)
    );

    let mut empty = Vec::new();
    encode_network_interfaces(&[], &mut empty);
    assert!(empty.is_empty());
}

#[test]
fn copychunk_request_response_and_resume_key() {
    let mut req = vec![0x11; 24];
    req.extend(hex(
        "02 00 00 00 00 00 00 00
         00 00 00 00 00 00 00 00  00 00 10 00 00 00 00 00  00 00 10 00 00 00 00 00
         00 00 10 00 00 00 00 00  00 00 20 00 00 00 00 00  00 80 00 00 00 00 00 00",
    ));
    let c = SrvCopychunkCopy::decode(&req).unwrap();
    assert_eq!(c.source_key, [0x11; 24]);
    assert_eq!(
        c.chunks,
        vec![
            SrvCopychunk {
                source_offset: 0,
                target_offset: 0x10_0000,
                length: 0x10_0000
            },
            SrvCopychunk {
                source_offset: 0x10_0000,
                target_offset: 0x20_0000,
                length: 0x8000
            },
        ]
    );
    let mut again = Vec::new();
    c.encode(&mut again);
    assert_eq!(again, req);

    // Count above the server limit, and count larger than the chunks present.
    let mut many = req.clone();
    many[24..28].copy_from_slice(&257u32.to_le_bytes());
    assert_eq!(SrvCopychunkCopy::decode(&many), Err(WireError::TooLarge));
    let mut three = req.clone();
    three[24] = 3;
    assert_eq!(SrvCopychunkCopy::decode(&three), Err(WireError::Truncated));
    assert_eq!(
        SrvCopychunkCopy::decode(&req[..31]),
        Err(WireError::Truncated)
    );

    let mut out = Vec::new();
    SrvCopychunkResponse::limits().encode(&mut out);
    assert_eq!(out, hex("00 01 00 00 00 00 10 00 00 00 00 01"));

    out.clear();
    ResumeKeyResponse { key: [0x5A; 24] }.encode(&mut out);
    assert_eq!(out.len(), ResumeKeyResponse::SIZE);
    assert_eq!(&out[24..], &[0; 8]);
}

#[test]
fn sparse_file_payloads() {
    let z = FileZeroDataInformation::decode(&hex("0010000000000000 0020000000000000")).unwrap();
    assert_eq!((z.file_offset, z.beyond_final_zero), (0x1000, 0x2000));
    assert_eq!(
        FileZeroDataInformation::decode(&hex("0020000000000000 0010000000000000")),
        Err(WireError::BadValue)
    );
    assert_eq!(
        FileZeroDataInformation::decode(&hex("FFFFFFFFFFFFFFFF 0010000000000000")),
        Err(WireError::BadValue)
    );
    assert_eq!(
        FileZeroDataInformation::decode(&[0; 15]),
        Err(WireError::Truncated)
    );

    let q = FileAllocatedRangeBuffer::decode(&hex("0000000000000000 0000100000000000")).unwrap();
    assert_eq!(q.length, 0x0010_0000);
    assert_eq!(
        FileAllocatedRangeBuffer::decode(&hex("FFFFFFFFFFFFFF7F 0100000000000000")),
        Err(WireError::BadValue)
    );
    let ranges = [
        FileAllocatedRangeBuffer {
            file_offset: 0,
            length: 4096,
        },
        FileAllocatedRangeBuffer {
            file_offset: 65536,
            length: 4096,
        },
    ];
    let mut out = Vec::new();
    assert!(encode_allocated_ranges(&ranges, 32, &mut out));
    assert_eq!(
        out,
        hex("0000000000000000 0010000000000000 0000010000000000 0010000000000000")
    );
    out.clear();
    assert!(!encode_allocated_ranges(&ranges, 31, &mut out));
    assert_eq!(out.len(), 16);
}

#[test]
fn set_sparse_buffer_is_optional_and_any_nonzero_byte_is_true() {
    // No buffer at all means "make it sparse" (MS-FSA 2.1.5.10.38).
    assert!(SetSparseBuffer::decode(&[]).set_sparse);
    assert!(!SetSparseBuffer::decode(&[0]).set_sparse);
    assert!(SetSparseBuffer::decode(&[1]).set_sparse);
    assert!(SetSparseBuffer::decode(&[0xFF]).set_sparse);
    // An oversized buffer: only the first byte counts.
    let mut big = vec![0u8; 100];
    assert!(!SetSparseBuffer::decode(&big).set_sparse);
    big[0] = 0xFF;
    assert!(SetSparseBuffer::decode(&big).set_sparse);
    for set_sparse in [true, false] {
        let mut out = Vec::new();
        SetSparseBuffer { set_sparse }.encode(&mut out);
        assert_eq!(out, [u8::from(set_sparse)]);
        assert_eq!(SetSparseBuffer::decode(&out).set_sparse, set_sparse);
    }
}

#[test]
fn allocated_range_queries_that_wrap_or_go_negative_are_refused() {
    // smbtorture's sparse_qar_overflow: offset 512, length 2^64-1 (i.e. -1).
    assert_eq!(
        FileAllocatedRangeBuffer::decode(&hex("0002000000000000 FFFFFFFFFFFFFFFF")),
        Err(WireError::BadValue)
    );
    // The end may reach i64::MAX but not pass it.
    let ok = FileAllocatedRangeBuffer::decode(&hex("0100000000000000 FEFFFFFFFFFFFF7F")).unwrap();
    assert_eq!(ok.file_offset + ok.length, i64::MAX as u64);
    assert_eq!(
        FileAllocatedRangeBuffer::decode(&hex("0200000000000000 FEFFFFFFFFFFFF7F")),
        Err(WireError::BadValue)
    );
    // A longer input is fine (the first 16 bytes count); a shorter one is not.
    let mut long = hex("0000000000000000 0004000000000000");
    long.extend_from_slice(&long.clone());
    assert_eq!(
        FileAllocatedRangeBuffer::decode(&long).unwrap().length,
        1024
    );
    assert_eq!(
        FileAllocatedRangeBuffer::decode(&[0; 8]),
        Err(WireError::Truncated)
    );
    // Round trip, and nothing fits in less than 16 bytes.
    let r = FileAllocatedRangeBuffer {
        file_offset: 4096,
        length: 1024,
    };
    let mut out = Vec::new();
    r.encode(&mut out);
    assert_eq!(FileAllocatedRangeBuffer::decode(&out), Ok(r));
    out.clear();
    assert!(!encode_allocated_ranges(&[r], 15, &mut out));
    assert!(out.is_empty());
    assert!(encode_allocated_ranges(&[], 0, &mut out));
    // Zero data: an empty range (offset == beyond) is valid; round trip.
    let z = FileZeroDataInformation {
        file_offset: 4095,
        beyond_final_zero: 4095,
    };
    out.clear();
    z.encode(&mut out);
    assert_eq!(FileZeroDataInformation::decode(&out), Ok(z));
}

#[test]
fn snapshot_arrays_empty_listed_and_too_small() {
    let mut out = Vec::new();
    SrvSnapshotArray::default().encode(1024, &mut out);
    assert_eq!(out, hex("00000000 00000000 02000000 0000"));

    let a = SrvSnapshotArray {
        snapshots: vec!["@GMT-2024.01.02-03.04.05".into()],
    };
    assert_eq!(a.array_size(), 2 * 25 + 2);
    out.clear();
    a.encode(1024, &mut out);
    assert_eq!(&out[..12], &hex("01000000 01000000 34000000")[..]);
    assert_eq!(&out[12..16], &hex("40 00 47 00")[..]);
    assert_eq!(&out[out.len() - 4..], &[0, 0, 0, 0]);
    assert_eq!(out.len(), 12 + 52);

    out.clear();
    a.encode(16, &mut out);
    assert_eq!(out, hex("01000000 00000000 34000000"));
}

#[test]
fn pipe_wait_resiliency_object_id_duplicate_extents_compression() {
    let w = PipeWaitRequest::decode(&hex(
        "00 00 00 00 00 00 00 00  0C 00 00 00  00 00  73 00 72 00 76 00 73 00 76 00 63 00",
    ))
    .unwrap();
    assert_eq!(w.name, "srvsvc");
    assert!(!w.timeout_specified);
    assert_eq!(
        PipeWaitRequest::decode(&hex("0000000000000000 FFFF0000 01 00")),
        Err(WireError::TooLarge)
    );
    assert_eq!(
        PipeWaitRequest::decode(&hex("0000000000000000 0C000000 01 00 7300")),
        Err(WireError::Truncated)
    );

    assert_eq!(
        NetworkResiliencyRequest::decode(&hex("60EA0000 00000000"))
            .unwrap()
            .timeout,
        60_000
    );
    assert_eq!(
        NetworkResiliencyRequest::decode(&[0; 7]),
        Err(WireError::Truncated)
    );

    let o = ObjectIdBuffer {
        object_id: [1; 16],
        birth_volume_id: [2; 16],
        birth_object_id: [1; 16],
        domain_id: [0; 16],
    };
    let mut out = Vec::new();
    o.encode(&mut out);
    assert_eq!(out.len(), 64);
    assert_eq!(ObjectIdBuffer::decode(&out).unwrap(), o);
    assert_eq!(
        ObjectIdBuffer::decode(&out[..63]),
        Err(WireError::Truncated)
    );

    let mut d = Vec::new();
    d.extend(7u64.to_le_bytes());
    d.extend(9u64.to_le_bytes());
    d.extend(0i64.to_le_bytes());
    d.extend(4096i64.to_le_bytes());
    d.extend(65536i64.to_le_bytes());
    let dup = DuplicateExtentsData::decode(&d).unwrap();
    assert_eq!(dup.source_file_id, (7, 9));
    assert_eq!(dup.byte_count, 65536);
    d[32..40].copy_from_slice(&(-1i64).to_le_bytes());
    assert_eq!(DuplicateExtentsData::decode(&d), Err(WireError::BadValue));

    assert_eq!(
        decode_compression_state(&[2, 0]).unwrap(),
        COMPRESSION_FORMAT_LZNT1
    );
    assert_eq!(decode_compression_state(&[3, 0]), Err(WireError::BadValue));
}
