//! Extended attributes (MS-FSCC 2.4.15): set by CREATE's ExtA context and SET_INFO
//! FileFullEaInformation, listed by QUERY_INFO FileFullEaInformation, counted by
//! FileEaInformation. Stored through the Vfs (`Handle::set_ea`, xattrs
//! `user.nasd.ea.<NAME>`); names are kept upper-case, as NTFS keeps them, so lookups are
//! case-insensitive.

use smb_vfs::Handle;
use smb_wire::fscc::{self, FullEa};
use smb_wire::NtStatus;

/// Characters an EA name may not hold (MS-FSCC 2.4.15: the FAT/OS2 rules Windows applies).
fn name_ok(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= smb_vfs::MAX_EA_NAME
        && name
            .iter()
            .all(|&c| c > 0x1F && c < 0x7F && !b"\"*+,/:;<=>?[\\]|".contains(&c))
}

/// The EAs of an open file in wire form (empty where none are stored or the filesystem
/// cannot keep them).
pub(crate) async fn list<H: Handle>(h: &H) -> Vec<FullEa> {
    h.eas()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| FullEa {
            flags: 0,
            name,
            value,
        })
        .collect()
}

/// FileEaInformation.EaSize: the size of the FILE_FULL_EA_INFORMATION list (0 for none).
pub(crate) fn size(list: &[FullEa]) -> u32 {
    let mut out = Vec::new();
    if list.is_empty() || fscc::encode_full_ea_list(list, &mut out).is_err() {
        return 0;
    }
    u32::try_from(out.len()).unwrap_or(u32::MAX)
}

/// Parse a FILE_FULL_EA_INFORMATION chain from a client and check every name.
pub(crate) fn parse(buf: &[u8]) -> Result<Vec<FullEa>, NtStatus> {
    let list = fscc::decode_full_ea_list(buf).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    if list.iter().any(|e| !name_ok(&e.name)) {
        return Err(NtStatus::INVALID_EA_NAME);
    }
    Ok(list)
}

/// Store a parsed list: each EA set, or removed when its value is empty.
pub(crate) async fn apply<H: Handle>(h: &H, list: Vec<FullEa>) -> Result<(), NtStatus> {
    for e in list {
        h.set_ea(e.name.to_ascii_uppercase(), e.value)
            .await
            .map_err(|e| match e.errno {
                libc::EOPNOTSUPP => NtStatus::EAS_NOT_SUPPORTED,
                libc::EINVAL => NtStatus::INVALID_EA_NAME,
                libc::E2BIG | libc::ENOSPC => NtStatus::INSUFFICIENT_RESOURCES,
                _ => crate::errno::status_of(&e),
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_windows_rules() {
        assert!(name_ok(b"EAONE"));
        assert!(name_ok(b"user.x-1"));
        for bad in [&b""[..], b"A*", b"A\\B", b"A:B", b"A\x01", b"A\xff"] {
            assert!(!name_ok(bad), "{bad:?}");
        }
    }

    #[test]
    fn size_is_the_encoded_list() {
        assert_eq!(size(&[]), 0);
        let one = FullEa {
            flags: 0,
            name: b"EAONE".to_vec(),
            value: b"VALUE1".to_vec(),
        };
        // 8 header bytes, the name and its NUL, the value.
        assert_eq!(size(std::slice::from_ref(&one)), 8 + 6 + 6);
        // 20 bytes are already 4-aligned: no padding between the two.
        assert_eq!(size(&[one.clone(), one]), 40);
    }
}
