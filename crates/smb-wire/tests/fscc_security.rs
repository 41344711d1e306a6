//! Security descriptors: SIDs, ACLs, self-relative encoding of mode-derived descriptors, and
//! parsing of hostile buffers.

use smb_wire::fscc::access;
use smb_wire::security::*;
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

const ALL_PARTS: u32 = secinfo::OWNER | secinfo::GROUP | secinfo::DACL | secinfo::SACL;

#[test]
fn well_known_sids_binary_and_text() {
    // MS-DTYP 2.4.2.2: S-1-5-32-544 is 01 02 000000000005 20000000 20020000.
    let admins = well_known::administrators();
    let mut out = Vec::new();
    admins.encode(&mut out);
    assert_eq!(out, hex("01 02 00 00 00 00 00 05 20 00 00 00 20 02 00 00"));
    assert_eq!(Sid::parse(&out).unwrap(), (admins.clone(), 16));
    assert_eq!(admins.to_string(), "S-1-5-32-544");
    assert_eq!(well_known::everyone().to_string(), "S-1-1-0");
    assert_eq!(well_known::creator_owner().to_string(), "S-1-3-0");
    assert_eq!(well_known::authenticated_users().to_string(), "S-1-5-11");
    assert_eq!(well_known::users().to_string(), "S-1-5-32-545");
    assert_eq!(unix_user_sid(1000).to_string(), "S-1-22-1-1000");
    assert_eq!(unix_group_sid(100).to_string(), "S-1-22-2-100");
    assert_eq!(sid_to_unix_user(&unix_user_sid(1000)), Some(1000));
    assert_eq!(sid_to_unix_user(&unix_group_sid(1000)), None);
    assert_eq!(sid_to_unix_group(&unix_group_sid(7)), Some(7));

    let dom: Sid = "S-1-5-21-3623811015-3361044348-30300820-1013"
        .parse()
        .unwrap();
    assert_eq!(
        dom.to_string(),
        "S-1-5-21-3623811015-3361044348-30300820-1013"
    );
    assert_eq!(dom.rid(), Some(1013));
    // Authorities of 2^32 and above print in hex.
    let big = Sid::new(0x0000_1234_5678_9ABC, &[1]);
    assert_eq!(big.to_string(), "S-1-0x123456789ABC-1");
    assert_eq!(big.to_string().parse::<Sid>().unwrap(), big);
    assert!("S-2-5-1".parse::<Sid>().is_err());
    assert!("X-1-5".parse::<Sid>().is_err());
    assert!("S-1-5-x".parse::<Sid>().is_err());
}

#[test]
fn sid_parse_rejects_bad_revision_counts_and_truncation() {
    assert_eq!(
        Sid::parse(&hex("02 01 000000000001 00000000")),
        Err(WireError::BadValue)
    );
    assert_eq!(
        Sid::parse(&hex("01 10 000000000001")),
        Err(WireError::BadValue)
    );
    assert_eq!(
        Sid::parse(&hex("01 02 000000000005 20000000")),
        Err(WireError::Truncated)
    );
    assert_eq!(Sid::parse(&[1]), Err(WireError::Truncated));
}

#[test]
fn file_0644_descriptor_is_byte_exact() {
    let sd = from_unix_mode(1000, 100, 0o644, false);
    let bytes = sd.to_self_relative(secinfo::OWNER | secinfo::GROUP | secinfo::DACL);
    let expected = hex(
        "01 00 04 90  60 00 00 00  70 00 00 00  00 00 00 00  14 00 00 00
         02 00 4C 00 03 00 00 00
           00 00 18 00 9F 01 17 00  01 02 00 00 00 00 00 16 01 00 00 00 E8 03 00 00
           00 00 18 00 89 00 12 00  01 02 00 00 00 00 00 16 02 00 00 00 64 00 00 00
           00 00 14 00 89 00 12 00  01 01 00 00 00 00 00 01 00 00 00 00
         01 02 00 00 00 00 00 16 01 00 00 00 E8 03 00 00
         01 02 00 00 00 00 00 16 02 00 00 00 64 00 00 00",
    );
    assert_eq!(bytes, expected);
    assert_eq!(SecurityDescriptor::parse_self_relative(&bytes).unwrap(), sd);
}

#[test]
fn directory_0755_descriptor_grants_full_control_and_inherits() {
    let sd = from_unix_mode(0, 0, 0o755, true);
    let bytes = sd.to_self_relative(secinfo::DACL);
    // Only the DACL: owner and group offsets are zero, the ACL follows the header.
    assert_eq!(
        bytes,
        hex(
            "01 00 04 90  00 00 00 00  00 00 00 00  00 00 00 00  14 00 00 00
             02 00 4C 00 03 00 00 00
               00 03 18 00 FF 01 1F 00  01 02 00 00 00 00 00 16 01 00 00 00 00 00 00 00
               00 03 18 00 A9 00 12 00  01 02 00 00 00 00 00 16 02 00 00 00 00 00 00 00
               00 03 14 00 A9 00 12 00  01 01 00 00 00 00 00 01 00 00 00 00"
        )
    );
    let back = SecurityDescriptor::parse_self_relative(&bytes).unwrap();
    assert_eq!(back.owner, None);
    assert_eq!(back.dacl, sd.dacl);
}

#[test]
fn mode_without_group_or_other_rights_has_only_the_owner_ace() {
    let sd = from_unix_mode(5, 6, 0o600, false);
    let dacl = sd.dacl.as_ref().unwrap();
    assert_eq!(dacl.aces.len(), 1);
    let m = dacl.aces[0].mask;
    assert_eq!(m & access::FILE_GENERIC_READ, access::FILE_GENERIC_READ);
    assert_eq!(m & access::FILE_GENERIC_WRITE, access::FILE_GENERIC_WRITE);
    assert_eq!(m & access::FILE_EXECUTE, 0);
    assert_eq!(m & access::WRITE_OWNER, 0);
    // 0o070 lets the group do everything but the owner only chmod.
    let sd = from_unix_mode(5, 6, 0o070, false);
    let aces = &sd.dacl.as_ref().unwrap().aces;
    assert_eq!(aces.len(), 2);
    assert_eq!(aces[0].mask & access::FILE_READ_DATA, 0);
    assert_ne!(aces[0].mask & access::WRITE_DAC, 0);
    assert_eq!(aces[1].sid, unix_group_sid(6));
}

#[test]
fn owner_and_group_only_and_empty_requests() {
    let sd = from_unix_mode(1, 2, 0o644, false);
    let only_owner = sd.to_self_relative(secinfo::OWNER);
    // Header with SELF_RELATIVE only (DACL bits cleared since the DACL was not asked for).
    assert_eq!(
        only_owner,
        hex("01 00 00 90 14 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
             01 02 00 00 00 00 00 16 01 00 00 00 01 00 00 00")
    );
    let none = sd.to_self_relative(0);
    assert_eq!(none.len(), 20);
    let parsed = SecurityDescriptor::parse_self_relative(&none).unwrap();
    assert_eq!(parsed.owner, None);
    assert_eq!(parsed.dacl, None);
}

#[test]
fn parse_of_encode_is_identity_for_a_rich_descriptor() {
    let sd = SecurityDescriptor {
        owner: Some(well_known::administrators()),
        group: Some("S-1-5-21-1-2-3-513".parse().unwrap()),
        dacl: Some(Acl::new(vec![
            Ace::denied(well_known::everyone(), access::DELETE, 0),
            Ace::allowed(well_known::local_system(), access::FILE_ALL_ACCESS, 0x13),
            Ace {
                ace_type: ace_type::ACCESS_ALLOWED_CALLBACK,
                flags: 0,
                mask: access::FILE_GENERIC_READ,
                sid: well_known::authenticated_users(),
                app_data: vec![0x61, 0x72, 0x74, 0x78],
            },
        ])),
        sacl: Some(Acl::new(vec![Ace {
            ace_type: ace_type::SYSTEM_AUDIT,
            flags: ace_flags::FAILED_ACCESS_ACE_FLAG,
            mask: access::FILE_WRITE_DATA,
            sid: well_known::everyone(),
            app_data: vec![],
        }])),
        control: control::SE_DACL_PRESENT
            | control::SE_SACL_PRESENT
            | control::SE_DACL_AUTO_INHERITED,
    };
    let bytes = sd.to_self_relative(ALL_PARTS);
    assert_eq!(bytes.len() % 4, 0);
    assert_eq!(SecurityDescriptor::parse_self_relative(&bytes).unwrap(), sd);
    // Windows order: SACL straight after the header.
    assert_eq!(&bytes[12..16], &20u32.to_le_bytes());
}

#[test]
fn null_dacl_survives_a_round_trip() {
    let sd = SecurityDescriptor {
        owner: None,
        group: None,
        dacl: None,
        sacl: None,
        control: control::SE_DACL_PRESENT,
    };
    let bytes = sd.to_self_relative(secinfo::DACL);
    assert_eq!(
        bytes,
        hex("01 00 04 80 00000000 00000000 00000000 00000000")
    );
    assert_eq!(SecurityDescriptor::parse_self_relative(&bytes).unwrap(), sd);
}

#[test]
fn hostile_descriptors_are_refused() {
    let good = from_unix_mode(1000, 100, 0o644, false).to_self_relative(ALL_PARTS);
    assert!(SecurityDescriptor::parse_self_relative(&good).is_ok());

    // Every truncation fails cleanly.
    for n in 0..good.len() {
        assert!(
            SecurityDescriptor::parse_self_relative(&good[..n]).is_err(),
            "prefix {n} parsed"
        );
    }
    // Not self-relative.
    let mut b = good.clone();
    b[3] &= 0x7F;
    assert_eq!(
        SecurityDescriptor::parse_self_relative(&b),
        Err(WireError::BadValue)
    );
    // Bad revision.
    let mut b = good.clone();
    b[0] = 2;
    assert_eq!(
        SecurityDescriptor::parse_self_relative(&b),
        Err(WireError::BadValue)
    );
    // Owner offset past the end, and pointing into the header.
    let mut b = good.clone();
    b[4..8].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    assert_eq!(
        SecurityDescriptor::parse_self_relative(&b),
        Err(WireError::BadOffset)
    );
    let mut b = good.clone();
    b[4..8].copy_from_slice(&4u32.to_le_bytes());
    assert_eq!(
        SecurityDescriptor::parse_self_relative(&b),
        Err(WireError::BadOffset)
    );
    // AclSize larger than the buffer.
    let mut b = good.clone();
    b[22..24].copy_from_slice(&0x0400u16.to_le_bytes());
    assert_eq!(
        SecurityDescriptor::parse_self_relative(&b),
        Err(WireError::BadOffset)
    );
    // AceCount that cannot fit in AclSize.
    let mut b = good.clone();
    b[24..26].copy_from_slice(&0xFFFFu16.to_le_bytes());
    assert_eq!(
        SecurityDescriptor::parse_self_relative(&b),
        Err(WireError::BadValue)
    );
    // An ACE whose AceSize is below the minimum, or not a multiple of 4.
    let mut b = good.clone();
    b[30..32].copy_from_slice(&4u16.to_le_bytes());
    assert_eq!(
        SecurityDescriptor::parse_self_relative(&b),
        Err(WireError::BadValue)
    );
    let mut b = good.clone();
    b[30..32].copy_from_slice(&0x19u16.to_le_bytes());
    assert_eq!(
        SecurityDescriptor::parse_self_relative(&b),
        Err(WireError::BadValue)
    );
    // An ACE whose SID claims more sub-authorities than the ACE holds.
    let mut b = good.clone();
    b[37] = 5;
    assert!(SecurityDescriptor::parse_self_relative(&b).is_err());
    // Object ACE types are not representable.
    let mut b = good.clone();
    b[28] = 0x05;
    assert_eq!(
        SecurityDescriptor::parse_self_relative(&b),
        Err(WireError::BadValue)
    );
}
