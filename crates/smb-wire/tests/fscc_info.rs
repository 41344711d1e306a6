//! QUERY_INFO / SET_INFO file and file-system information classes: byte-exact encodings and
//! decoders fed truncated, overlong and hostile buffers.

use smb_wire::fscc::*;
use smb_wire::WireError;

/// Bytes from a hex string; whitespace and `|` separators are ignored.
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

fn basic() -> FileBasicInformation {
    FileBasicInformation {
        creation_time: 0x01DA_0102_0304_0506,
        last_access_time: 0x01DA_0000_0000_0001,
        last_write_time: 0x01DA_0000_0000_0002,
        change_time: 0x01DA_0000_0000_0003,
        file_attributes: attr::ARCHIVE | attr::READONLY,
    }
}

#[test]
fn query_file_basic_information_is_40_exact_bytes() {
    let mut out = Vec::new();
    basic().encode(&mut out);
    assert_eq!(
        out,
        hex("06 05 04 03 02 01 DA 01 | 01 00 00 00 00 00 DA 01 |
             02 00 00 00 00 00 DA 01 | 03 00 00 00 00 00 DA 01 |
             21 00 00 00 | 00 00 00 00")
    );
    assert_eq!(out.len(), FileBasicInformation::SIZE);
}

#[test]
fn query_file_all_information_layout_per_ms_fscc_2_4_2() {
    let all = FileAllInformation {
        basic: basic(),
        standard: FileStandardInformation {
            allocation_size: 4096,
            end_of_file: 5,
            number_of_links: 1,
            delete_pending: false,
            directory: false,
        },
        internal: FileInternalInformation {
            index_number: 0x1122_3344_5566_7788,
        },
        ea: FileEaInformation { ea_size: 0 },
        access: FileAccessInformation {
            access_flags: access::FILE_GENERIC_READ,
        },
        position: FilePositionInformation {
            current_byte_offset: 0,
        },
        mode: FileModeInformation { mode: 0x20 },
        alignment: FileAlignmentInformation {
            alignment_requirement: 0,
        },
        name: FileNameInformation {
            file_name: "\\dir\\a.txt".into(),
        },
    };
    let mut out = Vec::new();
    all.encode(&mut out);
    let expected = hex("
        06 05 04 03 02 01 DA 01  01 00 00 00 00 00 DA 01
        02 00 00 00 00 00 DA 01  03 00 00 00 00 00 DA 01
        21 00 00 00 00 00 00 00
        00 10 00 00 00 00 00 00  05 00 00 00 00 00 00 00
        01 00 00 00 00 00 00 00
        88 77 66 55 44 33 22 11
        00 00 00 00
        89 00 12 00
        00 00 00 00 00 00 00 00
        20 00 00 00
        00 00 00 00
        14 00 00 00
        5C 00 64 00 69 00 72 00 5C 00 61 00 2E 00 74 00 78 00 74 00");
    assert_eq!(out, expected);
    assert_eq!(out.len(), FileAllInformation::FIXED_SIZE + 20);
}

#[test]
fn query_network_open_attribute_tag_compression_and_standard_sizes() {
    let mut out = Vec::new();
    FileNetworkOpenInformation {
        creation_time: 1,
        last_access_time: 2,
        last_write_time: 3,
        change_time: 4,
        allocation_size: 8192,
        end_of_file: 100,
        file_attributes: attr::DIRECTORY,
    }
    .encode(&mut out);
    assert_eq!(out.len(), 56);
    assert_eq!(
        &out[32..48],
        &hex("00 20 00 00 00 00 00 00 64 00 00 00 00 00 00 00")[..]
    );
    assert_eq!(&out[48..56], &hex("10 00 00 00 00 00 00 00")[..]);

    out.clear();
    FileAttributeTagInformation {
        file_attributes: attr::NORMAL,
        reparse_tag: 0,
    }
    .encode(&mut out);
    assert_eq!(out, hex("80 00 00 00 00 00 00 00"));

    out.clear();
    FileCompressionInformation {
        compressed_file_size: 0x1234,
        compression_format: 0,
        compression_unit_shift: 16,
        chunk_shift: 12,
        cluster_shift: 12,
    }
    .encode(&mut out);
    assert_eq!(out, hex("34 12 00 00 00 00 00 00 00 00 10 0C 0C 00 00 00"));

    out.clear();
    FileStandardInformation {
        allocation_size: 0,
        end_of_file: 0,
        number_of_links: 2,
        delete_pending: true,
        directory: true,
    }
    .encode(&mut out);
    assert_eq!(
        out,
        hex("0000000000000000 0000000000000000 02000000 01 01 0000")
    );
}

#[test]
fn query_stream_information_chains_8_byte_aligned_entries() {
    let mut info = FileStreamInformation::main_stream(5, 4096);
    let mut out = Vec::new();
    info.encode(&mut out);
    // "::$DATA" is 7 UTF-16 units = 14 bytes after the 24-byte fixed part.
    assert_eq!(
        out,
        hex("00000000 0E000000 0500000000000000 0010000000000000
             3A003A00 24004400 41005400 4100")
    );

    info.streams.push(StreamEntry {
        name: ":x:$DATA".into(),
        size: 1,
        allocation_size: 8,
    });
    out.clear();
    info.encode(&mut out);
    // First entry is 38 bytes, padded to 40; the second starts there.
    assert_eq!(&out[0..4], &40u32.to_le_bytes());
    assert_eq!(&out[38..40], &[0, 0]);
    assert_eq!(&out[40..44], &0u32.to_le_bytes());
    assert_eq!(&out[44..48], &16u32.to_le_bytes());
    assert_eq!(out.len(), 40 + 24 + 16);

    out.clear();
    FileStreamInformation::default().encode(&mut out);
    assert!(out.is_empty(), "a directory has no streams");
}

#[test]
fn query_fs_attribute_information_defaults_to_ntfs() {
    let mut out = Vec::new();
    FsAttributeInformation::default().encode(&mut out);
    assert_eq!(
        out,
        hex("4F 00 40 00 | FF 00 00 00 | 08 00 00 00 | 4E 00 54 00 46 00 53 00")
    );
}

#[test]
fn query_fs_volume_size_full_size_device_sector_object_id() {
    let mut out = Vec::new();
    FsVolumeInformation {
        creation_time: 0x01DA_0000_0000_0000,
        serial_number: 0xDEAD_BEEF,
        label: "data".into(),
        supports_objects: false,
    }
    .encode(&mut out);
    assert_eq!(
        out,
        hex("00 00 00 00 00 00 DA 01 EF BE AD DE 08 00 00 00 00 00
             64 00 61 00 74 00 61 00")
    );

    out.clear();
    FsSizeInformation {
        total_allocation_units: 1000,
        available_allocation_units: 250,
        sectors_per_allocation_unit: 8,
        bytes_per_sector: 512,
    }
    .encode(&mut out);
    assert_eq!(
        out,
        hex("E803000000000000 FA00000000000000 08000000 00020000")
    );

    out.clear();
    FsFullSizeInformation {
        total_allocation_units: 1000,
        caller_available_allocation_units: 200,
        actual_available_allocation_units: 250,
        sectors_per_allocation_unit: 8,
        bytes_per_sector: 512,
    }
    .encode(&mut out);
    assert_eq!(out.len(), 32);
    assert_eq!(&out[8..16], &200u64.to_le_bytes());

    out.clear();
    FsDeviceInformation::default().encode(&mut out);
    assert_eq!(out, hex("07 00 00 00 20 00 00 00"));

    out.clear();
    FsSectorSizeInformation::typical().encode(&mut out);
    assert_eq!(
        out,
        hex("00020000 00100000 00100000 00100000 03000000 00000000 00000000")
    );

    out.clear();
    FsObjectIdInformation {
        object_id: [0xAB; 16],
        extended_info: [0; 48],
    }
    .encode(&mut out);
    assert_eq!(out.len(), 64);
    assert_eq!(out[15], 0xAB);
    assert_eq!(out[16], 0);

    out.clear();
    FsControlInformation {
        default_quota_limit: u64::MAX,
        file_system_control_flags: 0x10,
        ..Default::default()
    }
    .encode(&mut out);
    assert_eq!(out.len(), 48);
    assert_eq!(
        FsControlInformation::decode(&out)
            .unwrap()
            .file_system_control_flags,
        0x10
    );
}

#[test]
fn set_basic_information_decodes_special_time_values() {
    let buf = hex(
        "0000000000000000 FFFFFFFFFFFFFFFF FEFFFFFFFFFFFFFF 0605040302 01DA01
                   20000000 00000000",
    );
    let b = SetBasicInformation::decode(&buf).unwrap();
    assert_eq!(b.creation_time, TimeUpdate::Unchanged);
    assert_eq!(b.last_access_time, TimeUpdate::StopUpdating);
    assert_eq!(b.last_write_time, TimeUpdate::ResumeUpdating);
    assert_eq!(b.change_time, TimeUpdate::Set(0x01DA_0102_0304_0506));
    assert_eq!(b.file_attributes, attr::ARCHIVE);

    // The reserved u32 may be omitted; anything shorter is a length mismatch.
    assert!(SetBasicInformation::decode(&buf[..36]).is_ok());
    assert_eq!(
        SetBasicInformation::decode(&buf[..35]),
        Err(WireError::Truncated)
    );
    assert_eq!(SetBasicInformation::decode(&[]), Err(WireError::Truncated));
    // Overlong buffers are accepted, the tail ignored.
    let mut long = buf.clone();
    long.extend_from_slice(&[0xEE; 16]);
    assert_eq!(SetBasicInformation::decode(&long).unwrap(), b);
    // -3 is not a defined value.
    let mut bad = buf.clone();
    bad[0..8].copy_from_slice(&(-3i64).to_le_bytes());
    assert_eq!(SetBasicInformation::decode(&bad), Err(WireError::BadValue));
}

#[test]
fn set_rename_information_smb2_form_and_ex_form() {
    // ReplaceIfExists=1, 7 reserved, RootDirectory=0, FileNameLength=10, "b.txt".
    let buf = hex(
        "01 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 | 0A 00 00 00 |
                   62 00 2E 00 74 00 78 00 74 00",
    );
    let r = RenameInformation::decode(&buf).unwrap();
    assert!(r.replace_if_exists());
    assert_eq!(r.root_directory, 0);
    assert_eq!(r.file_name, "b.txt");
    // The link class shares the layout.
    assert_eq!(LinkInformation::decode(&buf).unwrap(), r);

    // Name cut short, header cut short.
    assert_eq!(
        RenameInformation::decode(&buf[..29]),
        Err(WireError::Truncated)
    );
    assert_eq!(
        RenameInformation::decode(&buf[..19]),
        Err(WireError::Truncated)
    );
    // A huge FileNameLength is refused before anything is allocated.
    let mut huge = buf.clone();
    huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(RenameInformation::decode(&huge), Err(WireError::TooLarge));
    // Odd name length is not UTF-16.
    let mut odd = buf.clone();
    odd[16] = 9;
    assert_eq!(RenameInformation::decode(&odd), Err(WireError::BadString));

    // Ex form: Flags = REPLACE_IF_EXISTS | POSIX_SEMANTICS | IGNORE_READONLY.
    let ex = hex("43 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 | 04 00 00 00 | 63 00 64 00");
    let r = RenameInformation::decode_ex(&ex).unwrap();
    assert_eq!(
        r.flags,
        rename_flags::FILE_RENAME_REPLACE_IF_EXISTS
            | rename_flags::FILE_RENAME_POSIX_SEMANTICS
            | rename_flags::FILE_RENAME_IGNORE_READONLY_ATTRIBUTE
    );
    assert_eq!(r.file_name, "cd");
    // Non-Ex with ReplaceIfExists=0.
    let mut no = buf.clone();
    no[0] = 0;
    assert!(!RenameInformation::decode(&no).unwrap().replace_if_exists());
}

#[test]
fn set_disposition_sizes_and_positions() {
    assert!(DispositionInformation::decode(&[1]).unwrap().delete_pending);
    assert!(
        !DispositionInformation::decode(&[0, 9, 9])
            .unwrap()
            .delete_pending
    );
    assert_eq!(
        DispositionInformation::decode(&[]),
        Err(WireError::Truncated)
    );

    let d = DispositionInformationEx::decode(&hex("0B 00 00 00")).unwrap();
    assert!(d.delete());
    assert_eq!(
        d.flags,
        disposition_flags::FILE_DISPOSITION_DELETE
            | disposition_flags::FILE_DISPOSITION_POSIX_SEMANTICS
            | disposition_flags::FILE_DISPOSITION_ON_CLOSE
    );
    assert_eq!(
        DispositionInformationEx::decode(&hex("00 01 00 00")),
        Err(WireError::BadValue)
    );
    assert_eq!(
        DispositionInformationEx::decode(&[1, 0, 0]),
        Err(WireError::Truncated)
    );

    let eof = EndOfFileInformation::decode(&hex("00 00 10 00 00 00 00 00")).unwrap();
    assert_eq!(eof.end_of_file, 0x0010_0000);
    assert_eq!(
        EndOfFileInformation::decode(&(-1i64).to_le_bytes()),
        Err(WireError::BadValue)
    );
    assert_eq!(
        EndOfFileInformation::decode(&[0; 7]),
        Err(WireError::Truncated)
    );
    assert_eq!(
        AllocationInformation::decode(&4096i64.to_le_bytes())
            .unwrap()
            .allocation_size,
        4096
    );
    assert_eq!(
        ValidDataLengthInformation::decode(&77i64.to_le_bytes())
            .unwrap()
            .valid_data_length,
        77
    );
    assert_eq!(
        FilePositionInformation::decode(&512i64.to_le_bytes())
            .unwrap()
            .current_byte_offset,
        512
    );
    assert_eq!(
        FileModeInformation::decode(&hex("02 00 00 00"))
            .unwrap()
            .mode,
        2
    );
    assert_eq!(FileModeInformation::decode(&[2]), Err(WireError::Truncated));
}

#[test]
fn set_short_name_and_fs_label() {
    let sn = ShortNameInformation::decode(&hex("0A000000 41 00 7E 00 31 00 2E 00 54 00")).unwrap();
    assert_eq!(sn.file_name, "A~1.T");
    assert_eq!(
        ShortNameInformation::decode(&hex("0C000000 41 00 7E 00 31 00 2E 00 54 00")),
        Err(WireError::Truncated)
    );
    let l = FsLabelInformation::decode(&hex("04000000 4E 00 41 00")).unwrap();
    assert_eq!(l.label, "NA");
    assert_eq!(
        FsLabelInformation::decode(&hex("FFFFFFFF 4E 00")),
        Err(WireError::Truncated)
    );
    assert_eq!(
        FsControlInformation::decode(&[0; 43]),
        Err(WireError::Truncated)
    );
}

#[test]
fn full_ea_list_round_trip_and_hostile_chains() {
    let list = vec![
        FullEa {
            flags: 0,
            name: b"USER.A".to_vec(),
            value: b"xyz".to_vec(),
        },
        FullEa {
            flags: 0x80,
            name: b"B".to_vec(),
            value: vec![],
        },
    ];
    let mut out = Vec::new();
    encode_full_ea_list(&list, &mut out).unwrap();
    // Entry 1: 8 + 6 + 1 + 3 = 18 bytes, padded to 20.
    assert_eq!(
        out,
        hex("14000000 00 06 0300 55 53 45 52 2E 41 00 78 79 7A 0000
             00000000 80 01 0000 42 00")
    );
    assert_eq!(decode_full_ea_list(&out).unwrap(), list);

    // NextEntryOffset pointing past the end.
    let mut bad = out.clone();
    bad[0] = 0x40;
    assert_eq!(decode_full_ea_list(&bad), Err(WireError::BadOffset));
    // Unaligned NextEntryOffset.
    let mut bad = out.clone();
    bad[0] = 0x13;
    assert_eq!(decode_full_ea_list(&bad), Err(WireError::BadOffset));
    // NextEntryOffset inside its own entry.
    let mut bad = out.clone();
    bad[0] = 0x04;
    assert_eq!(decode_full_ea_list(&bad), Err(WireError::BadOffset));
    // Name not NUL-terminated.
    let mut bad = out.clone();
    bad[14] = b'!';
    assert_eq!(decode_full_ea_list(&bad), Err(WireError::BadValue));
    // Value longer than the buffer.
    let mut bad = out.clone();
    bad[6] = 0xFF;
    assert_eq!(decode_full_ea_list(&bad), Err(WireError::Truncated));
    assert_eq!(decode_full_ea_list(&[]), Err(WireError::Truncated));

    let too_long = vec![FullEa {
        flags: 0,
        name: vec![b'n'; 256],
        value: vec![],
    }];
    assert_eq!(
        encode_full_ea_list(&too_long, &mut Vec::new()),
        Err(WireError::TooLarge)
    );
}

#[test]
fn generic_rights_map_to_ntfs_file_rights() {
    use access::*;
    assert_eq!(map_generic(GENERIC_READ, false), 0x0012_0089);
    assert_eq!(map_generic(GENERIC_WRITE, false), 0x0012_0116);
    assert_eq!(map_generic(GENERIC_EXECUTE, true), 0x0012_00A0);
    assert_eq!(map_generic(GENERIC_ALL, true), 0x001F_01FF);
    assert_eq!(map_generic(GENERIC_READ | DELETE, false), 0x0013_0089);
    assert_eq!(map_generic(MAXIMUM_ALLOWED, false), MAXIMUM_ALLOWED);
}

#[test]
fn unix_times_convert_to_filetime_and_back() {
    // 2000-01-01T00:00:00Z is FILETIME 125911584000000000.
    assert_eq!(unix_to_filetime(946_684_800, 0), 125_911_584_000_000_000);
    assert_eq!(
        filetime_to_unix(125_911_584_000_000_123),
        (946_684_800, 12_300)
    );
    assert_eq!(unix_to_filetime(-11_644_473_601, 0), 0);
    assert_eq!(unix_to_filetime(0, 2_000_000_000), 116_444_736_009_999_999);
}

#[test]
fn query_file_id_and_stat_information() {
    let mut out = Vec::new();
    FileIdInformation {
        volume_serial_number: 0xDEAD_BEEF,
        file_id: 0x1122_3344_5566_7788,
    }
    .encode(&mut out);
    assert_eq!(
        out,
        hex("EF BE AD DE 00 00 00 00  88 77 66 55 44 33 22 11 00 00 00 00 00 00 00 00")
    );

    out.clear();
    FileStatInformation {
        file_id: 9,
        creation_time: 1,
        last_access_time: 2,
        last_write_time: 3,
        change_time: 4,
        allocation_size: 4096,
        end_of_file: 10,
        file_attributes: attr::ARCHIVE,
        reparse_tag: 0,
        number_of_links: 1,
        effective_access: access::FILE_ALL_ACCESS,
    }
    .encode(&mut out);
    assert_eq!(out.len(), 72);
    assert_eq!(&out[0..8], &9u64.to_le_bytes());
    assert_eq!(
        &out[56..72],
        &hex("20 00 00 00 00 00 00 00 01 00 00 00 FF 01 1F 00")[..]
    );
}
