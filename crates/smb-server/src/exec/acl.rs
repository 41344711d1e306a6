//! Security descriptors kept per file and the DACL access check of CREATE.
//!
//! A descriptor a client sets (SET_INFO security, or CREATE's SecD context) is stored
//! self-relative through the Vfs (`Handle::set_security_blob`, the `user.nasd.sd` xattr);
//! a file without one shows the descriptor derived from its POSIX mode. When an existing
//! file with a stored descriptor is opened, its DACL is evaluated (MS-DTYP 2.5.3.2, without
//! privileges, object types or conditional ACEs) against the session's token: Everyone,
//! Authenticated Users and Users for a real logon, plus the file's Unix owner and group
//! SIDs (every user of a share acts as the owner of its files: nasd enforces access per
//! share, not per file owner). The owner always gets READ_CONTROL and WRITE_DAC, so a client
//! can repair a descriptor that locks everyone out.

use smb_proto::SessionInfo;
use smb_vfs::{FileAttr, FileKind, Handle};
use smb_wire::fscc::access;
use smb_wire::security::{
    self, ace_flags, ace_type, control, secinfo, well_known, SecurityDescriptor, Sid,
};
use smb_wire::NtStatus;

/// Everything a file open can be granted.
const FILE_ALL_ACCESS: u32 = 0x001F_01FF;

const DACL_BITS: u16 = control::SE_DACL_PRESENT
    | control::SE_DACL_DEFAULTED
    | control::SE_DACL_AUTO_INHERIT_REQ
    | control::SE_DACL_AUTO_INHERITED
    | control::SE_DACL_PROTECTED;
const SACL_BITS: u16 = control::SE_SACL_PRESENT
    | control::SE_SACL_DEFAULTED
    | control::SE_SACL_AUTO_INHERIT_REQ
    | control::SE_SACL_AUTO_INHERITED
    | control::SE_SACL_PROTECTED;

/// Every part of a descriptor.
pub(crate) const ALL_PARTS: u32 = secinfo::OWNER | secinfo::GROUP | secinfo::DACL | secinfo::SACL;

/// The descriptor derived from the POSIX owner, group and mode.
pub(crate) fn from_attr(a: &FileAttr) -> SecurityDescriptor {
    security::from_unix_mode(a.uid, a.gid, a.mode, matches!(a.kind, FileKind::Dir))
}

/// The stored descriptor of an open file, if any (an unreadable or corrupt one counts as
/// none).
pub(crate) async fn stored<H: Handle>(h: &H) -> Option<SecurityDescriptor> {
    match h.security_blob().await {
        Ok(Some(b)) => SecurityDescriptor::parse_self_relative(&b).ok(),
        _ => None,
    }
}

/// The descriptor a client sees: the stored one, else the one derived from the mode.
pub(crate) async fn current<H: Handle>(h: &H, a: &FileAttr) -> SecurityDescriptor {
    match stored(h).await {
        Some(sd) => sd,
        None => from_attr(a),
    }
}

/// `base` with the parts `info` names taken from `new` (an owner or group `new` lacks is
/// kept from `base`).
pub(crate) fn merge(
    mut base: SecurityDescriptor,
    new: SecurityDescriptor,
    info: u32,
) -> SecurityDescriptor {
    if info & secinfo::OWNER != 0 && new.owner.is_some() {
        base.owner = new.owner;
    }
    if info & secinfo::GROUP != 0 && new.group.is_some() {
        base.group = new.group;
    }
    if info & secinfo::DACL != 0 {
        // A DACL set without SE_DACL_PRESENT is a NULL DACL (Windows shows it as present
        // and empty-handed: everyone allowed everything).
        base.dacl = if new.control & control::SE_DACL_PRESENT != 0 {
            new.dacl
        } else {
            None
        };
        base.control =
            (base.control & !DACL_BITS) | (new.control & DACL_BITS) | control::SE_DACL_PRESENT;
    }
    if info & secinfo::SACL != 0 {
        base.sacl = new.sacl;
        base.control = (base.control & !SACL_BITS) | (new.control & SACL_BITS);
    }
    base
}

/// Store a descriptor on an open file; the status a client sees when that fails.
pub(crate) async fn store<H: Handle>(h: &H, sd: &SecurityDescriptor) -> Result<(), NtStatus> {
    h.set_security_blob(sd.to_self_relative(ALL_PARTS))
        .await
        .map_err(|e| match e.errno {
            // No user xattrs on this filesystem: descriptors cannot be kept.
            libc::EOPNOTSUPP => NtStatus::NOT_SUPPORTED,
            libc::E2BIG | libc::ENOSPC => NtStatus::INVALID_SECURITY_DESCR,
            _ => crate::errno::status_of(&e),
        })
}

/// The SIDs a session acts as on file `a`.
pub(crate) fn token(session: Option<&SessionInfo>, a: &FileAttr) -> Vec<Sid> {
    let mut t = vec![well_known::everyone()];
    let real = session.is_some_and(|s| !s.guest && !s.anonymous);
    if real {
        t.push(well_known::authenticated_users());
        t.push(well_known::users());
        t.push(security::unix_user_sid(a.uid));
        t.push(security::unix_group_sid(a.gid));
    }
    t
}

/// The rights `sd` grants `token` (MS-DTYP 2.5.3.2: ACEs in order, a right decided by the
/// first ACE that mentions it; no DACL grants everything).
pub(crate) fn granted(sd: &SecurityDescriptor, token: &[Sid], is_dir: bool) -> u32 {
    let Some(dacl) = &sd.dacl else {
        return FILE_ALL_ACCESS;
    };
    let mut allowed = 0u32;
    let mut denied = 0u32;
    if sd.owner.as_ref().is_some_and(|o| token.contains(o)) {
        allowed |= access::READ_CONTROL | access::WRITE_DAC;
    }
    for ace in &dacl.aces {
        if ace.flags & ace_flags::INHERIT_ONLY_ACE != 0 || !token.contains(&ace.sid) {
            continue;
        }
        let m = access::map_generic(ace.mask, is_dir) & FILE_ALL_ACCESS;
        match ace.ace_type {
            ace_type::ACCESS_ALLOWED => allowed |= m & !denied,
            ace_type::ACCESS_DENIED => denied |= m & !allowed,
            _ => {}
        }
    }
    allowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb_wire::security::{Ace, Acl};

    fn sd(dacl: Option<Acl>) -> SecurityDescriptor {
        SecurityDescriptor {
            owner: Some(security::unix_user_sid(0)),
            group: Some(security::unix_group_sid(0)),
            dacl,
            sacl: None,
            control: control::SE_DACL_PRESENT,
        }
    }

    #[test]
    fn null_dacl_grants_all_and_empty_dacl_only_owner_rights() {
        let t = vec![well_known::everyone(), security::unix_user_sid(0)];
        assert_eq!(granted(&sd(None), &t, false), FILE_ALL_ACCESS);
        assert_eq!(
            granted(&sd(Some(Acl::new(vec![]))), &t, false),
            access::READ_CONTROL | access::WRITE_DAC
        );
        // Not the owner: nothing at all.
        let t = vec![well_known::everyone()];
        assert_eq!(granted(&sd(Some(Acl::new(vec![]))), &t, false), 0);
    }

    #[test]
    fn first_ace_decides_and_creator_owner_matches_nobody() {
        let t = vec![well_known::everyone(), well_known::authenticated_users()];
        let acl = Acl::new(vec![
            Ace::denied(well_known::everyone(), access::FILE_WRITE_DATA, 0),
            Ace::allowed(well_known::authenticated_users(), FILE_ALL_ACCESS, 0),
            Ace::allowed(well_known::creator_owner(), FILE_ALL_ACCESS, 0),
            Ace::allowed(
                well_known::everyone(),
                FILE_ALL_ACCESS,
                ace_flags::INHERIT_ONLY_ACE,
            ),
        ]);
        let g = granted(&sd(Some(acl)), &t, false);
        assert_eq!(g, FILE_ALL_ACCESS & !access::FILE_WRITE_DATA);
        let only_creator = Acl::new(vec![Ace::allowed(
            well_known::creator_owner(),
            FILE_ALL_ACCESS,
            0,
        )]);
        assert_eq!(granted(&sd(Some(only_creator)), &t, false), 0);
    }

    #[test]
    fn a_dacl_set_without_present_is_a_null_dacl() {
        let base = sd(Some(Acl::new(vec![])));
        let mut new = sd(Some(Acl::new(vec![])));
        new.control = 0;
        let m = merge(base, new, secinfo::DACL);
        assert_eq!(m.dacl, None);
        assert_ne!(m.control & control::SE_DACL_PRESENT, 0);
    }

    #[test]
    fn merge_takes_only_the_named_parts() {
        let base = sd(Some(Acl::new(vec![])));
        let mut new = sd(None);
        new.owner = Some(well_known::everyone());
        let m = merge(base.clone(), new.clone(), secinfo::DACL);
        assert_eq!(m.owner, base.owner);
        assert_eq!(m.dacl, None);
        assert_ne!(m.control & control::SE_DACL_PRESENT, 0);
        let m = merge(base, new, secinfo::OWNER);
        assert_eq!(m.owner, Some(well_known::everyone()));
        assert_eq!(m.dacl, Some(Acl::new(vec![])));
    }
}
