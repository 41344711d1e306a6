//! QUERY_DIRECTORY output: entry layouts per class, chaining, alignment, the client's
//! OutputBufferLength, and the wildcard rules used to filter names.

use smb_wire::fscc::{attr, class, encode_dir_entry, wildcard_match, DirEntryInfo, DirListWriter};
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

fn file_a() -> DirEntryInfo {
    DirEntryInfo {
        file_index: 0,
        creation_time: 0x01DA_0102_0304_0506,
        last_access_time: 0x01DA_0000_0000_0001,
        last_write_time: 0x01DA_0000_0000_0002,
        change_time: 0x01DA_0000_0000_0003,
        end_of_file: 5,
        allocation_size: 4096,
        attributes: attr::ARCHIVE,
        ea_size: 0,
        file_id: 0x1122_3344_5566_7788,
        short_name: "A.TXT".into(),
        name: "a.txt".into(),
    }
}

fn dir_bb() -> DirEntryInfo {
    DirEntryInfo {
        creation_time: 0x01DA_0102_0304_0506,
        last_access_time: 0x01DA_0000_0000_0001,
        last_write_time: 0x01DA_0000_0000_0002,
        change_time: 0x01DA_0000_0000_0003,
        attributes: attr::DIRECTORY,
        file_id: 2,
        name: "bb".into(),
        ..Default::default()
    }
}

const TIMES: &str = "06 05 04 03 02 01 DA 01  01 00 00 00 00 00 DA 01
                     02 00 00 00 00 00 DA 01  03 00 00 00 00 00 DA 01";

#[test]
fn id_both_directory_information_two_entries_byte_exact() {
    let mut w = DirListWriter::new(65536);
    assert!(w
        .push(class::FileIdBothDirectoryInformation, &file_a())
        .unwrap());
    assert!(w
        .push(class::FileIdBothDirectoryInformation, &dir_bb())
        .unwrap());
    assert_eq!(w.len(), 2);
    let expected = hex(&format!(
        "78 00 00 00  00 00 00 00  {TIMES}
         05 00 00 00 00 00 00 00  00 10 00 00 00 00 00 00
         20 00 00 00  0A 00 00 00  00 00 00 00
         0A 00
         41 00 2E 00 54 00 58 00 54 00  00 00 00 00 00 00 00 00 00 00 00 00 00 00
         00 00
         88 77 66 55 44 33 22 11
         61 00 2E 00 74 00 78 00 74 00
         00 00 00 00 00 00
         00 00 00 00  00 00 00 00  {TIMES}
         00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
         10 00 00 00  04 00 00 00  00 00 00 00
         00 00
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
         00 00
         02 00 00 00 00 00 00 00
         62 00 62 00"
    ));
    assert_eq!(w.as_bytes(), &expected[..]);
    assert_eq!(w.into_bytes().len(), 120 + 108);
}

#[test]
fn each_class_has_its_fixed_size_and_puts_the_name_last() {
    let e = file_a(); // name is 10 bytes of UTF-16
    for (c, fixed) in [
        (class::FileDirectoryInformation, 64),
        (class::FileFullDirectoryInformation, 68),
        (class::FileIdFullDirectoryInformation, 80),
        (class::FileBothDirectoryInformation, 94),
        (class::FileIdBothDirectoryInformation, 104),
        (class::FileIdExtdDirectoryInformation, 88),
        (class::FileNamesInformation, 12),
    ] {
        let mut out = vec![0xEE; 3]; // entries are appended, never overwriting
        let n = encode_dir_entry(c, &e, &mut out).unwrap();
        assert_eq!(n, fixed + 10, "class {c}");
        assert_eq!(out.len(), 3 + n);
        assert_eq!(&out[..3], &[0xEE; 3]);
        assert_eq!(
            &out[out.len() - 10..],
            &hex("61 00 2E 00 74 00 78 00 74 00")[..]
        );
        // FileNameLength sits right before the name for Names; at 60 for the others.
        let len_at = if c == class::FileNamesInformation {
            8
        } else {
            60
        };
        assert_eq!(&out[3 + len_at..3 + len_at + 4], &10u32.to_le_bytes());
    }
    // FileIdFull: EaSize at 64, reserved at 68, FileId at 72.
    let mut out = Vec::new();
    encode_dir_entry(class::FileIdFullDirectoryInformation, &e, &mut out).unwrap();
    assert_eq!(&out[72..80], &0x1122_3344_5566_7788u64.to_le_bytes());
    // FileIdExtd: 128-bit FileId at 72.
    out.clear();
    encode_dir_entry(class::FileIdExtdDirectoryInformation, &e, &mut out).unwrap();
    assert_eq!(
        &out[72..88],
        &hex("88 77 66 55 44 33 22 11 00 00 00 00 00 00 00 00")[..]
    );
    // FileBoth: short name length at 68 and name at 70.
    out.clear();
    encode_dir_entry(class::FileBothDirectoryInformation, &e, &mut out).unwrap();
    assert_eq!(out[68], 10);
    assert_eq!(&out[70..72], &hex("41 00")[..]);
}

#[test]
fn unknown_class_and_bad_short_name_are_refused_without_output() {
    let mut out = Vec::new();
    assert_eq!(
        encode_dir_entry(class::FileBasicInformation, &file_a(), &mut out),
        Err(WireError::BadValue)
    );
    let mut long_short = file_a();
    long_short.short_name = "ABCDEFGHI.TXT".into(); // 13 units
    assert_eq!(
        encode_dir_entry(class::FileBothDirectoryInformation, &long_short, &mut out),
        Err(WireError::BadValue)
    );
    assert!(out.is_empty());
    // Classes without a short name do not care.
    assert!(encode_dir_entry(class::FileDirectoryInformation, &long_short, &mut out).is_ok());

    let mut w = DirListWriter::new(1000);
    assert_eq!(w.push(200, &file_a()), Err(WireError::BadValue));
    assert!(w.is_empty());
    assert!(w.as_bytes().is_empty());
}

#[test]
fn writer_stops_at_the_clients_output_buffer_length() {
    // First entry 114 bytes; the second would end at 120 + 108 = 228.
    let mut w = DirListWriter::new(227);
    assert!(w
        .push(class::FileIdBothDirectoryInformation, &file_a())
        .unwrap());
    assert!(!w
        .push(class::FileIdBothDirectoryInformation, &dir_bb())
        .unwrap());
    assert_eq!(w.len(), 1);
    let bytes = w.into_bytes();
    assert_eq!(bytes.len(), 114, "refused entry leaves no padding behind");
    assert_eq!(
        &bytes[0..4],
        &[0, 0, 0, 0],
        "last entry keeps NextEntryOffset 0"
    );

    let mut w = DirListWriter::new(228);
    assert!(w
        .push(class::FileIdBothDirectoryInformation, &file_a())
        .unwrap());
    assert!(w
        .push(class::FileIdBothDirectoryInformation, &dir_bb())
        .unwrap());

    // A FileNames entry for "a.txt" is exactly 22 bytes.
    let mut w = DirListWriter::new(21);
    assert!(!w.push(class::FileNamesInformation, &file_a()).unwrap());
    let mut w = DirListWriter::new(22);
    assert!(w.push(class::FileNamesInformation, &file_a()).unwrap());
    // Not even one entry fits: the server answers STATUS_BUFFER_OVERFLOW.
    let mut w = DirListWriter::new(10);
    assert!(!w
        .push(class::FileIdBothDirectoryInformation, &file_a())
        .unwrap());
    assert!(w.is_empty());
}

#[test]
fn names_information_chain_of_three() {
    let mut w = DirListWriter::new(4096);
    for n in [".", "..", "x"] {
        let e = DirEntryInfo {
            name: n.into(),
            ..Default::default()
        };
        assert!(w.push(class::FileNamesInformation, &e).unwrap());
    }
    // "." = 14 bytes -> next at 16; ".." = 16 bytes -> next at 32; "x" = 14 bytes.
    assert_eq!(
        w.into_bytes(),
        hex("10000000 00000000 02000000 2E00 0000
             10000000 00000000 04000000 2E00 2E00
             00000000 00000000 02000000 7800")
    );
}

#[test]
fn wildcard_table() {
    let table: &[(&str, &str, bool)] = &[
        ("*", "foo", true),
        ("*", "foo.txt", true),
        ("*.*", "foo", true),
        ("*.*", "foo.txt", true),
        ("*", "", false),
        ("", "", true),
        ("", "a", false),
        ("*.txt", "a.txt", true),
        ("*.txt", "A.TXT", true),
        ("*.TXT", "notes.txt", true),
        ("*.txt", ".txt", true),
        ("*.txt", "a.txt.bak", false),
        ("*.txt", "txt", false),
        ("*.txt", "readme", false),
        ("a?c", "abc", true),
        ("a?c", "aXc", true),
        ("a?c", "ac", false),
        ("a?c", "abbc", false),
        ("a?c", "a.c", true),
        ("abc", "ABC", true),
        ("abc", "abcd", false),
        ("*a*", "banana", true),
        ("*z*", "banana", false),
        ("**", "x", true),
        ("b*n*a", "banana", true),
        ("b*n*b", "banana", false),
        // DOS_STAR: anything up to the last dot.
        ("<.txt", "a.txt", true),
        ("<.txt", "a.b.txt", true),
        ("<.txt", "a.txt.x", false),
        ("<", "abc", true),
        ("<", "a.b", false),
        ("<.<", "a.b.c", true),
        // "*." as the Windows redirector translates it: DOS_STAR DOS_DOT, names without a dot.
        ("<\"", "readme", true),
        ("<\"", "readme.txt", false),
        // Literal "*." needs a literal trailing dot.
        ("*.", "foo", false),
        ("*.", "foo.", true),
        // DOS_DOT: a dot, or nothing at the end.
        ("foo\"", "foo", true),
        ("foo\"", "foo.", true),
        ("foo\"", "foo.txt", false),
        ("foo\"txt", "foo.txt", true),
        // DOS_QM: one character, or nothing at a dot or at the end.
        (">>>.txt", "ab.txt", true),
        (">>>.txt", "abc.txt", true),
        (">>>.txt", "abcd.txt", false),
        ("a>", "a", true),
        ("a>", "ab", true),
        ("a>", "abc", false),
        ("a>>", "a.", false),
        ("a>>\"", "a.", true),
        // Case folding beyond ASCII.
        ("ÄBC*", "äbcd", true),
        ("ß*", "SSx", false),
        ("straße", "STRASSE", false),
        ("?", "é", true),
    ];
    for (pat, name, want) in table {
        assert_eq!(
            wildcard_match(pat, name),
            *want,
            "pattern {pat:?} name {name:?}"
        );
    }
}

#[test]
fn wildcard_matching_is_linear_not_exponential() {
    let name = "a".repeat(255);
    let pat = "*a".repeat(40) + "b";
    assert!(!wildcard_match(&pat, &name));
    let long_pat = "<".repeat(30_000);
    assert!(wildcard_match(&long_pat, &name));
}
