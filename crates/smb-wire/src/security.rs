//! Security identifiers, access control lists and self-relative security descriptors
//! (MS-DTYP 2.4), as carried by QUERY_INFO / SET_INFO with InfoType SMB2_0_INFO_SECURITY,
//! and the synthesis of a descriptor from a POSIX mode.
//!
//! Parsing is bounds-checked throughout: every offset must fall inside the buffer, every ACE
//! inside its ACL, every SID inside its ACE; counts never drive an allocation larger than
//! the input can justify.

use std::fmt;

use crate::codec::{sat16, sat32, Reader, Writer};
use crate::fscc::access;
use crate::WireError;

/// A security identifier (MS-DTYP 2.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sid {
    /// Always 1.
    pub revision: u8,
    /// The 48-bit identifier authority, big-endian.
    pub authority: [u8; 6],
    /// At most 15 sub-authorities.
    pub sub_authorities: Vec<u32>,
}

/// The largest sub-authority count MS-DTYP allows.
pub const SID_MAX_SUB_AUTHORITIES: usize = 15;

impl Sid {
    /// A revision-1 SID with the numeric authority `authority` and `subs`.
    pub fn new(authority: u64, subs: &[u32]) -> Self {
        let b = authority.to_be_bytes();
        let mut a = [0u8; 6];
        a.copy_from_slice(b.get(2..8).unwrap_or(&[0; 6]));
        Self {
            revision: 1,
            authority: a,
            sub_authorities: subs.to_vec(),
        }
    }

    /// The authority as a number.
    pub fn authority_value(&self) -> u64 {
        self.authority
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    }

    /// Encoded size: 8 + 4 × sub-authority count.
    pub fn encoded_len(&self) -> usize {
        8 + 4 * self.sub_authorities.len()
    }

    /// Append the binary form. A SID with more than 15 sub-authorities is written with its
    /// first 15 (such a SID cannot come from [`Sid::parse`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let subs = self
            .sub_authorities
            .get(..SID_MAX_SUB_AUTHORITIES)
            .unwrap_or(&self.sub_authorities);
        out.put_u8(self.revision);
        out.put_u8(u8::try_from(subs.len()).unwrap_or(0));
        out.put_bytes(&self.authority);
        for s in subs {
            out.put_u32(*s);
        }
    }

    /// Parse a SID at the start of `buf`; returns it and the bytes it used. Revision other
    /// than 1 or more than 15 sub-authorities is a [`WireError::BadValue`].
    pub fn parse(buf: &[u8]) -> Result<(Self, usize), WireError> {
        let mut r = Reader::new(buf);
        let revision = r.u8()?;
        let count = usize::from(r.u8()?);
        if revision != 1 || count > SID_MAX_SUB_AUTHORITIES {
            return Err(WireError::BadValue);
        }
        let authority = r.array::<6>()?;
        let mut sub_authorities = Vec::with_capacity(count);
        for _ in 0..count {
            sub_authorities.push(r.u32()?);
        }
        Ok((
            Self {
                revision,
                authority,
                sub_authorities,
            },
            r.pos(),
        ))
    }

    /// The relative identifier (last sub-authority), if any.
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities.last().copied()
    }
}

impl fmt::Display for Sid {
    /// `S-1-5-32-544`; authorities of 2^32 and above in hex, as MS-DTYP 2.4.2.1 says.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.authority_value();
        if a >> 32 == 0 {
            write!(f, "S-{}-{}", self.revision, a)?;
        } else {
            write!(f, "S-{}-0x{:012X}", self.revision, a)?;
        }
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Sid {
    type Err = WireError;
    /// Parse `S-1-<authority>-<sub>…` (decimal or 0x-hex authority).
    fn from_str(s: &str) -> Result<Self, WireError> {
        let mut parts = s.split('-');
        if !parts.next().is_some_and(|p| p.eq_ignore_ascii_case("S")) {
            return Err(WireError::BadValue);
        }
        let revision: u8 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or(WireError::BadValue)?;
        let auth_s = parts.next().ok_or(WireError::BadValue)?;
        let authority = match auth_s
            .strip_prefix("0x")
            .or_else(|| auth_s.strip_prefix("0X"))
        {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => auth_s.parse(),
        }
        .map_err(|_| WireError::BadValue)?;
        if revision != 1 || authority >> 48 != 0 {
            return Err(WireError::BadValue);
        }
        let mut subs = Vec::new();
        for p in parts {
            if subs.len() == SID_MAX_SUB_AUTHORITIES {
                return Err(WireError::BadValue);
            }
            subs.push(p.parse::<u32>().map_err(|_| WireError::BadValue)?);
        }
        Ok(Self::new(authority, &subs))
    }
}

/// Well-known SIDs (MS-DTYP 2.4.2.4).
pub mod well_known {
    use super::Sid;
    /// S-1-0-0, Nobody.
    pub fn nobody() -> Sid {
        Sid::new(0, &[0])
    }
    /// S-1-1-0, Everyone.
    pub fn everyone() -> Sid {
        Sid::new(1, &[0])
    }
    /// S-1-3-0, Creator Owner.
    pub fn creator_owner() -> Sid {
        Sid::new(3, &[0])
    }
    /// S-1-3-1, Creator Group.
    pub fn creator_group() -> Sid {
        Sid::new(3, &[1])
    }
    /// S-1-5-11, Authenticated Users.
    pub fn authenticated_users() -> Sid {
        Sid::new(5, &[11])
    }
    /// S-1-5-18, Local System.
    pub fn local_system() -> Sid {
        Sid::new(5, &[18])
    }
    /// S-1-5-32-544, BUILTIN\Administrators.
    pub fn administrators() -> Sid {
        Sid::new(5, &[32, 544])
    }
    /// S-1-5-32-545, BUILTIN\Users.
    pub fn users() -> Sid {
        Sid::new(5, &[32, 545])
    }
}

/// S-1-22-1-`uid`: a Unix user, in the authority Samba uses for unmapped Unix accounts.
pub fn unix_user_sid(uid: u32) -> Sid {
    Sid::new(22, &[1, uid])
}

/// S-1-22-2-`gid`: a Unix group, likewise.
pub fn unix_group_sid(gid: u32) -> Sid {
    Sid::new(22, &[2, gid])
}

/// If `sid` is S-1-22-1-uid, the uid.
pub fn sid_to_unix_user(sid: &Sid) -> Option<u32> {
    match (sid.authority_value(), sid.sub_authorities.as_slice()) {
        (22, [1, uid]) => Some(*uid),
        _ => None,
    }
}

/// If `sid` is S-1-22-2-gid, the gid.
pub fn sid_to_unix_group(sid: &Sid) -> Option<u32> {
    match (sid.authority_value(), sid.sub_authorities.as_slice()) {
        (22, [2, gid]) => Some(*gid),
        _ => None,
    }
}

/// ACE types (MS-DTYP 2.4.4.1) whose body is Mask + SID (+ optional application data).
pub mod ace_type {
    /// ACCESS_ALLOWED_ACE_TYPE.
    pub const ACCESS_ALLOWED: u8 = 0x00;
    /// ACCESS_DENIED_ACE_TYPE.
    pub const ACCESS_DENIED: u8 = 0x01;
    /// SYSTEM_AUDIT_ACE_TYPE.
    pub const SYSTEM_AUDIT: u8 = 0x02;
    /// SYSTEM_ALARM_ACE_TYPE.
    pub const SYSTEM_ALARM: u8 = 0x03;
    /// ACCESS_ALLOWED_CALLBACK_ACE_TYPE.
    pub const ACCESS_ALLOWED_CALLBACK: u8 = 0x09;
    /// ACCESS_DENIED_CALLBACK_ACE_TYPE.
    pub const ACCESS_DENIED_CALLBACK: u8 = 0x0A;
    /// SYSTEM_AUDIT_CALLBACK_ACE_TYPE.
    pub const SYSTEM_AUDIT_CALLBACK: u8 = 0x0D;
    /// SYSTEM_MANDATORY_LABEL_ACE_TYPE.
    pub const SYSTEM_MANDATORY_LABEL: u8 = 0x11;
    /// SYSTEM_RESOURCE_ATTRIBUTE_ACE_TYPE.
    pub const SYSTEM_RESOURCE_ATTRIBUTE: u8 = 0x12;
    /// SYSTEM_SCOPED_POLICY_ID_ACE_TYPE.
    pub const SYSTEM_SCOPED_POLICY_ID: u8 = 0x13;

    /// Whether this crate can represent the type (the object ACE types 0x05–0x08, 0x0B,
    /// 0x0C, 0x0F, 0x10 carry GUIDs before the SID and are refused).
    pub fn is_supported(t: u8) -> bool {
        matches!(t, 0x00..=0x03 | 0x09 | 0x0A | 0x0D | 0x0E | 0x11..=0x13)
    }
}

/// ACE flags (MS-DTYP 2.4.4.1).
pub mod ace_flags {
    /// Inherited by non-container children.
    pub const OBJECT_INHERIT_ACE: u8 = 0x01;
    /// Inherited by container children.
    pub const CONTAINER_INHERIT_ACE: u8 = 0x02;
    /// Inheritance stops at the children.
    pub const NO_PROPAGATE_INHERIT_ACE: u8 = 0x04;
    /// Applies only to children, not to this object.
    pub const INHERIT_ONLY_ACE: u8 = 0x08;
    /// This ACE was inherited.
    pub const INHERITED_ACE: u8 = 0x10;
    /// Audit successes.
    pub const SUCCESSFUL_ACCESS_ACE_FLAG: u8 = 0x40;
    /// Audit failures.
    pub const FAILED_ACCESS_ACE_FLAG: u8 = 0x80;
}

/// Security descriptor control bits (MS-DTYP 2.4.6).
pub mod control {
    /// The owner was defaulted.
    pub const SE_OWNER_DEFAULTED: u16 = 0x0001;
    /// The group was defaulted.
    pub const SE_GROUP_DEFAULTED: u16 = 0x0002;
    /// A DACL is present (a zero offset then means a NULL DACL).
    pub const SE_DACL_PRESENT: u16 = 0x0004;
    /// The DACL was defaulted.
    pub const SE_DACL_DEFAULTED: u16 = 0x0008;
    /// A SACL is present.
    pub const SE_SACL_PRESENT: u16 = 0x0010;
    /// The SACL was defaulted.
    pub const SE_SACL_DEFAULTED: u16 = 0x0020;
    /// DACL auto-inheritance requested.
    pub const SE_DACL_AUTO_INHERIT_REQ: u16 = 0x0100;
    /// SACL auto-inheritance requested.
    pub const SE_SACL_AUTO_INHERIT_REQ: u16 = 0x0200;
    /// The DACL was auto-inherited.
    pub const SE_DACL_AUTO_INHERITED: u16 = 0x0400;
    /// The SACL was auto-inherited.
    pub const SE_SACL_AUTO_INHERITED: u16 = 0x0800;
    /// The DACL does not inherit from the parent.
    pub const SE_DACL_PROTECTED: u16 = 0x1000;
    /// The SACL does not inherit from the parent.
    pub const SE_SACL_PROTECTED: u16 = 0x2000;
    /// The descriptor is in self-relative form.
    pub const SE_SELF_RELATIVE: u16 = 0x8000;
}

/// SecurityInformation bits of QUERY_INFO / SET_INFO (MS-SMB2 2.2.37).
pub mod secinfo {
    /// Owner SID.
    pub const OWNER: u32 = 0x0000_0001;
    /// Group SID.
    pub const GROUP: u32 = 0x0000_0002;
    /// DACL.
    pub const DACL: u32 = 0x0000_0004;
    /// SACL.
    pub const SACL: u32 = 0x0000_0008;
    /// Mandatory label.
    pub const LABEL: u32 = 0x0000_0010;
}

/// An access control entry with the Mask + SID body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    /// One of [`ace_type`].
    pub ace_type: u8,
    /// [`ace_flags`].
    pub flags: u8,
    /// Access mask.
    pub mask: u32,
    /// The trustee.
    pub sid: Sid,
    /// Application data after the SID (callback and resource attribute ACEs), with the
    /// ACE's padding; empty for the common types.
    pub app_data: Vec<u8>,
}

impl Ace {
    /// An ACCESS_ALLOWED ACE.
    pub fn allowed(sid: Sid, mask: u32, flags: u8) -> Self {
        Self {
            ace_type: ace_type::ACCESS_ALLOWED,
            flags,
            mask,
            sid,
            app_data: Vec::new(),
        }
    }

    /// An ACCESS_DENIED ACE.
    pub fn denied(sid: Sid, mask: u32, flags: u8) -> Self {
        Self {
            ace_type: ace_type::ACCESS_DENIED,
            ..Self::allowed(sid, mask, flags)
        }
    }

    /// Encoded size, rounded up to 4.
    pub fn encoded_len(&self) -> usize {
        (8 + self.sid.encoded_len() + self.app_data.len()).div_ceil(4) * 4
    }

    /// Append the ACE.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u8(self.ace_type);
        out.put_u8(self.flags);
        out.put_u16(sat16(self.encoded_len()));
        out.put_u32(self.mask);
        self.sid.encode(out);
        out.put_bytes(&self.app_data);
        let written = out.len() - start;
        out.put_zeros(self.encoded_len().saturating_sub(written));
    }

    /// Parse one ACE at the start of `buf`; returns it and its AceSize.
    pub fn parse(buf: &[u8]) -> Result<(Self, usize), WireError> {
        let mut r = Reader::new(buf);
        let t = r.u8()?;
        let flags = r.u8()?;
        let size = usize::from(r.u16()?);
        if size < 8 || size % 4 != 0 {
            return Err(WireError::BadValue);
        }
        if !ace_type::is_supported(t) {
            return Err(WireError::BadValue);
        }
        let body = buf.get(..size).ok_or(WireError::Truncated)?;
        let mut r = Reader::at(body, 4);
        let mask = r.u32()?;
        let (sid, used) = Sid::parse(body.get(8..).unwrap_or(&[]))?;
        let app_data = body.get(8 + used..).unwrap_or(&[]).to_vec();
        Ok((
            Self {
                ace_type: t,
                flags,
                mask,
                sid,
                app_data,
            },
            size,
        ))
    }
}

/// ACL revision for ACLs without object ACEs.
pub const ACL_REVISION: u8 = 2;
/// ACL revision for ACLs with object ACEs.
pub const ACL_REVISION_DS: u8 = 4;

/// An access control list (MS-DTYP 2.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// [`ACL_REVISION`] or [`ACL_REVISION_DS`].
    pub revision: u8,
    /// The entries, in order.
    pub aces: Vec<Ace>,
}

impl Acl {
    /// A revision-2 ACL.
    pub fn new(aces: Vec<Ace>) -> Self {
        Self {
            revision: ACL_REVISION,
            aces,
        }
    }

    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        8 + self.aces.iter().map(Ace::encoded_len).sum::<usize>()
    }

    /// Append the ACL.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.revision);
        out.put_u8(0);
        out.put_u16(sat16(self.encoded_len()));
        out.put_u16(sat16(self.aces.len()));
        out.put_u16(0);
        for a in &self.aces {
            a.encode(out);
        }
    }

    /// Parse an ACL at the start of `buf`: AclSize must fit in `buf`, and AceCount ACEs
    /// must fit in AclSize.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let revision = r.u8()?;
        r.skip(1)?;
        let size = usize::from(r.u16()?);
        let count = usize::from(r.u16()?);
        if !(ACL_REVISION..=ACL_REVISION_DS).contains(&revision) || size < 8 {
            return Err(WireError::BadValue);
        }
        let body = buf.get(..size).ok_or(WireError::BadOffset)?;
        // Every ACE is at least 16 bytes (8 + an empty SID's 8).
        if count > (size - 8) / 16 {
            return Err(WireError::BadValue);
        }
        let mut aces = Vec::with_capacity(count);
        let mut off = 8usize;
        for _ in 0..count {
            let (ace, used) = Ace::parse(body.get(off..).ok_or(WireError::BadOffset)?)?;
            aces.push(ace);
            off += used;
        }
        Ok(Self { revision, aces })
    }
}

/// A security descriptor (MS-DTYP 2.4.6), kept in absolute form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityDescriptor {
    /// Owner SID.
    pub owner: Option<Sid>,
    /// Primary group SID.
    pub group: Option<Sid>,
    /// Discretionary ACL. `None` with [`control::SE_DACL_PRESENT`] set is a NULL DACL
    /// (everyone allowed everything); `None` without it means no DACL was given.
    pub dacl: Option<Acl>,
    /// System ACL.
    pub sacl: Option<Acl>,
    /// [`control`] bits other than `SE_SELF_RELATIVE`.
    pub control: u16,
}

/// Size of the self-relative header.
const SD_HEADER: usize = 20;

impl SecurityDescriptor {
    /// The self-relative encoding holding only the parts `additional_information` asks for
    /// ([`secinfo`] OWNER, GROUP, DACL, SACL). The PRESENT and DEFAULTED bits of parts not
    /// included are cleared, SE_SELF_RELATIVE is set, and the parts follow the header in
    /// the Windows order SACL, DACL, owner, group (each 4-byte aligned by construction).
    pub fn to_self_relative(&self, additional_information: u32) -> Vec<u8> {
        use control as c;
        let want = |bit: u32| additional_information & bit != 0;
        let mut ctl = self.control | c::SE_SELF_RELATIVE;
        let dacl_present =
            want(secinfo::DACL) && (self.dacl.is_some() || self.control & c::SE_DACL_PRESENT != 0);
        let sacl_present =
            want(secinfo::SACL) && (self.sacl.is_some() || self.control & c::SE_SACL_PRESENT != 0);
        if dacl_present {
            ctl |= c::SE_DACL_PRESENT;
        } else {
            ctl &= !(c::SE_DACL_PRESENT | c::SE_DACL_DEFAULTED);
        }
        if sacl_present {
            ctl |= c::SE_SACL_PRESENT;
        } else {
            ctl &= !(c::SE_SACL_PRESENT | c::SE_SACL_DEFAULTED);
        }
        if !want(secinfo::OWNER) || self.owner.is_none() {
            ctl &= !c::SE_OWNER_DEFAULTED;
        }
        if !want(secinfo::GROUP) || self.group.is_none() {
            ctl &= !c::SE_GROUP_DEFAULTED;
        }

        let mut out = Vec::with_capacity(SD_HEADER + 128);
        out.put_u8(1);
        out.put_u8(0);
        out.put_u16(ctl);
        out.put_zeros(16);
        fn place(out: &mut Vec<u8>, at: usize, f: &dyn Fn(&mut Vec<u8>)) {
            out.align_to(4);
            let off = out.len();
            f(out);
            out.patch_u32(at, sat32(off));
        }
        if sacl_present {
            if let Some(sacl) = &self.sacl {
                place(&mut out, 12, &|o| sacl.encode(o));
            }
        }
        if dacl_present {
            if let Some(dacl) = &self.dacl {
                place(&mut out, 16, &|o| dacl.encode(o));
            }
        }
        if want(secinfo::OWNER) {
            if let Some(owner) = &self.owner {
                place(&mut out, 4, &|o| owner.encode(o));
            }
        }
        if want(secinfo::GROUP) {
            if let Some(group) = &self.group {
                place(&mut out, 8, &|o| group.encode(o));
            }
        }
        out
    }

    /// Parse a self-relative descriptor (SET_INFO security, or CREATE's SecD context).
    /// Revision must be 1 and SE_SELF_RELATIVE set; every non-zero offset must lie after the
    /// header and inside `buf`, and what it points at must parse within `buf`.
    pub fn parse_self_relative(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let revision = r.u8()?;
        r.skip(1)?;
        let ctl = r.u16()?;
        let off_owner = r.u32()? as usize;
        let off_group = r.u32()? as usize;
        let off_sacl = r.u32()? as usize;
        let off_dacl = r.u32()? as usize;
        if revision != 1 || ctl & control::SE_SELF_RELATIVE == 0 {
            return Err(WireError::BadValue);
        }
        let at = |off: usize| -> Result<Option<&[u8]>, WireError> {
            if off == 0 {
                return Ok(None);
            }
            if off < SD_HEADER || off >= buf.len() {
                return Err(WireError::BadOffset);
            }
            Ok(buf.get(off..))
        };
        let owner = at(off_owner)?.map(Sid::parse).transpose()?.map(|(s, _)| s);
        let group = at(off_group)?.map(Sid::parse).transpose()?.map(|(s, _)| s);
        let sacl = if ctl & control::SE_SACL_PRESENT != 0 {
            at(off_sacl)?.map(Acl::parse).transpose()?
        } else {
            None
        };
        let dacl = if ctl & control::SE_DACL_PRESENT != 0 {
            at(off_dacl)?.map(Acl::parse).transpose()?
        } else {
            None
        };
        Ok(Self {
            owner,
            group,
            dacl,
            sacl,
            control: ctl & !control::SE_SELF_RELATIVE,
        })
    }
}

/// The rights one rwx triplet of a POSIX mode grants.
fn triplet_mask(bits: u32, is_dir: bool, is_owner: bool) -> u32 {
    use access::*;
    if bits & 7 == 7 && is_owner {
        return FILE_ALL_ACCESS;
    }
    let mut m = 0;
    if bits & 4 != 0 {
        m |= FILE_GENERIC_READ;
    }
    if bits & 2 != 0 {
        m |= FILE_GENERIC_WRITE | DELETE;
        if is_dir {
            m |= FILE_DELETE_CHILD;
        }
    }
    if bits & 1 != 0 {
        m |= FILE_GENERIC_EXECUTE;
    }
    if is_owner {
        // The owner may always read the descriptor, chmod and set times.
        m |= READ_CONTROL | WRITE_DAC | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | SYNCHRONIZE;
    }
    m
}

/// A descriptor telling the truth about a POSIX file: owner S-1-22-1-`uid`, group
/// S-1-22-2-`gid`, and a protected DACL with one ACCESS_ALLOWED ACE each for the owner,
/// the group and Everyone, carrying the rights of the matching rwx triplet of `mode`:
/// r → FILE_GENERIC_READ, w → FILE_GENERIC_WRITE | DELETE (| FILE_DELETE_CHILD on a
/// directory), x → FILE_GENERIC_EXECUTE; an rwx owner gets FILE_ALL_ACCESS and any owner
/// READ_CONTROL | WRITE_DAC | attribute rights (chmod and utimes need no more). Triplets
/// granting nothing get no ACE (group and other). On directories every ACE carries
/// OBJECT_INHERIT | CONTAINER_INHERIT.
pub fn from_unix_mode(uid: u32, gid: u32, mode: u32, is_dir: bool) -> SecurityDescriptor {
    let flags = if is_dir {
        ace_flags::OBJECT_INHERIT_ACE | ace_flags::CONTAINER_INHERIT_ACE
    } else {
        0
    };
    let mut aces = vec![Ace::allowed(
        unix_user_sid(uid),
        triplet_mask(mode >> 6, is_dir, true),
        flags,
    )];
    let g = triplet_mask(mode >> 3, is_dir, false);
    if g != 0 {
        aces.push(Ace::allowed(unix_group_sid(gid), g, flags));
    }
    let o = triplet_mask(mode, is_dir, false);
    if o != 0 {
        aces.push(Ace::allowed(well_known::everyone(), o, flags));
    }
    SecurityDescriptor {
        owner: Some(unix_user_sid(uid)),
        group: Some(unix_group_sid(gid)),
        dacl: Some(Acl::new(aces)),
        sacl: None,
        control: control::SE_DACL_PRESENT | control::SE_DACL_PROTECTED,
    }
}
