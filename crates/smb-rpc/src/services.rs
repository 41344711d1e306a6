//! Server stubs for srvsvc (MS-SRVS) and wkssvc (MS-WKST): decode the
//! `[in]` parameters of a request stub, produce the `[out]` stub.

use crate::ndr::{NdrError, NdrReader, NdrWriter};
use crate::{PipeKind, ServerInfo, ShareInfo};

/// `nca_s_op_rng_error`: the opnum is not served by the interface.
pub const NCA_S_OP_RNG_ERROR: u32 = 0x1C01_0002;
/// `nca_s_unk_if`: request on a presentation context that is not bound.
pub const NCA_S_UNK_IF: u32 = 0x1C01_0003;
/// `nca_s_proto_error`: a PDU arrived that the protocol does not allow now.
pub const NCA_S_PROTO_ERROR: u32 = 0x1C01_000B;
/// `nca_s_unsupported_type`: e.g. a non little-endian/ASCII data representation.
pub const NCA_S_UNSUPPORTED_TYPE: u32 = 0x1C01_0017;
/// `nca_s_fault_ndr` (RPC_X_BAD_STUB_DATA): the request stub did not decode.
pub const NCA_S_FAULT_NDR: u32 = 0x0000_06F7;

/// WERROR success.
pub const WERR_OK: u32 = 0;
/// WERROR_INVALID_LEVEL.
pub const WERR_INVALID_LEVEL: u32 = 0x0000_007C;
/// WERROR_MORE_DATA: enumeration truncated by PreferedMaximumLength.
pub const WERR_MORE_DATA: u32 = 0x0000_00EA;
/// NERR_NetNameNotFound.
pub const WERR_NET_NAME_NOT_FOUND: u32 = 0x0000_0906;

/// PLATFORM_ID_NT.
const PLATFORM_ID_NT: u32 = 500;
/// `MAX_PREFERRED_LENGTH`: no limit on the enumeration size.
const MAX_PREFERRED_LENGTH: u32 = 0xFFFF_FFFF;

/// A call that ends in a fault PDU instead of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The NCA status placed in the fault PDU.
    pub status: u32,
    /// True when the server guarantees the operation was not executed.
    pub did_not_execute: bool,
}

impl From<NdrError> for Fault {
    fn from(_: NdrError) -> Self {
        Fault {
            status: NCA_S_FAULT_NDR,
            did_not_execute: true,
        }
    }
}

/// Runs operation `opnum` of the interface behind `kind` on `stub`.
pub fn dispatch(
    kind: PipeKind,
    opnum: u16,
    stub: &[u8],
    info: &ServerInfo,
) -> Result<Vec<u8>, Fault> {
    let mut r = NdrReader::new(stub);
    match (kind, opnum) {
        (PipeKind::Srvsvc, 15) => share_enum(&mut r, info),
        (PipeKind::Srvsvc, 16) => share_get_info(&mut r, info),
        (PipeKind::Srvsvc, 21) => server_get_info(&mut r, info),
        (PipeKind::Wkssvc, 0) => wksta_get_info(&mut r, info),
        _ => Err(Fault {
            status: NCA_S_OP_RNG_ERROR,
            did_not_execute: true,
        }),
    }
}

/// Windows-style path for levels 2/502: a POSIX absolute path is shown as
/// `C:\...`; anything else is passed through unchanged.
fn windows_path(path: &str) -> String {
    if path.starts_with('/') {
        format!("C:{}", path.replace('/', "\\"))
    } else {
        path.to_owned()
    }
}

/// Share-info levels this server marshals.
fn share_level_supported(level: u32, get_info: bool) -> bool {
    matches!(level, 0 | 1 | 2 | 501 | 502) || (get_info && level == 1005)
}

/// Fixed (scalar) size of one SHARE_INFO_x structure.
fn share_fixed_size(level: u32) -> usize {
    match level {
        0 => 4,
        1 => 12,
        2 => 32,
        501 => 16,
        502 => 40,
        _ => 4,
    }
}

/// Approximate marshalled size of one entry: scalars plus strings.
fn share_size(level: u32, s: &ShareInfo) -> usize {
    let str_size = |t: &str| 12 + 2 * (t.encode_utf16().count() + 1) + 3;
    let mut n = share_fixed_size(level) + str_size(&s.name);
    if level != 0 {
        n += str_size(&s.comment);
    }
    if matches!(level, 2 | 502) {
        n += str_size(&windows_path(&s.path));
    }
    n
}

/// Scalars of one SHARE_INFO_`level` (embedded pointers as referents).
fn share_scalars(w: &mut NdrWriter, level: u32, s: &ShareInfo) {
    match level {
        1005 => w.u32(0), // shi1005_flags
        _ => {
            w.referent(true); // netname
            if level == 0 {
                return;
            }
            w.u32(s.share_type);
            w.referent(true); // remark
            match level {
                501 => w.u32(0), // shi501_flags
                2 | 502 => {
                    w.u32(0); // permissions (ignored by servers with user-level security)
                    w.u32(s.max_uses);
                    w.u32(s.current_uses);
                    w.referent(true); // path
                    w.referent(false); // passwd
                    if level == 502 {
                        w.u32(0); // shi502_reserved (= security descriptor size)
                        w.referent(false); // security descriptor
                    }
                }
                _ => {}
            }
        }
    }
}

/// Deferred referents (strings) of one SHARE_INFO_`level`.
fn share_deferred(w: &mut NdrWriter, level: u32, s: &ShareInfo) {
    if level == 1005 {
        return;
    }
    w.string(&s.name);
    if level != 0 {
        w.string(&s.comment);
    }
    if matches!(level, 2 | 502) {
        w.string(&windows_path(&s.path));
    }
}

/// NetrShareEnum (opnum 15).
fn share_enum(r: &mut NdrReader<'_>, info: &ServerInfo) -> Result<Vec<u8>, Fault> {
    let _server = r.unique_string()?;
    // InfoStruct: [in,out,ref] SHARE_ENUM_STRUCT { Level; union(switch Level) }
    let level = r.u32()?;
    let tag = r.u32()?;
    if tag != level {
        return Err(NdrError::BadValue.into());
    }
    if r.referent()?.is_some() {
        let _entries = r.u32()?;
        // Clients send an empty container; an [in] array is not supported.
        if r.referent()?.is_some() {
            return Err(NdrError::BadValue.into());
        }
    }
    let pref_max = r.u32()?;
    let resume_in = match r.referent()? {
        Some(_) => Some(r.u32()?),
        None => None,
    };

    let mut w = NdrWriter::new();
    w.u32(level);
    w.u32(level);
    if !share_level_supported(level, false) {
        w.referent(false);
        w.u32(0); // TotalEntries
        write_resume(&mut w, resume_in);
        w.u32(WERR_INVALID_LEVEL);
        return Ok(w.into_bytes());
    }

    let total = info.shares.len();
    let start = usize::try_from(resume_in.unwrap_or(0))
        .unwrap_or(usize::MAX)
        .min(total);
    let rest = info.shares.get(start..).unwrap_or_default();
    let mut take = rest.len();
    if pref_max != MAX_PREFERRED_LENGTH {
        let budget = usize::try_from(pref_max).unwrap_or(usize::MAX);
        let mut used = 0usize;
        take = 0;
        for s in rest {
            used = used.saturating_add(share_size(level, s));
            // Always return at least one entry so the client makes progress.
            if used > budget && take > 0 {
                break;
            }
            take += 1;
        }
    }
    let entries = rest.get(..take).unwrap_or_default();
    let complete = start + take >= total;

    let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    w.referent(true); // -> SHARE_INFO_x_CONTAINER
    w.u32(count); // EntriesRead
    w.referent(true); // Buffer
    w.u32(count); // conformant array max_count
    for s in entries {
        share_scalars(&mut w, level, s);
    }
    for s in entries {
        share_deferred(&mut w, level, s);
    }
    w.u32(u32::try_from(total).unwrap_or(u32::MAX)); // TotalEntries
    let next = if complete {
        0
    } else {
        u32::try_from(start + take).unwrap_or(u32::MAX)
    };
    write_resume(&mut w, resume_in.map(|_| next));
    w.u32(if complete { WERR_OK } else { WERR_MORE_DATA });
    Ok(w.into_bytes())
}

fn write_resume(w: &mut NdrWriter, resume: Option<u32>) {
    match resume {
        Some(v) => {
            w.referent(true);
            w.u32(v);
        }
        None => w.referent(false),
    }
}

/// Levels that are arms of the SHARE_INFO union (a pointer is marshalled);
/// any other level takes the empty `[default]` arm.
fn share_info_has_arm(level: u32) -> bool {
    matches!(
        level,
        0 | 1 | 2 | 502 | 1004 | 1006 | 1501 | 1005 | 501 | 503
    )
}

/// NetrShareGetInfo (opnum 16).
fn share_get_info(r: &mut NdrReader<'_>, info: &ServerInfo) -> Result<Vec<u8>, Fault> {
    let _server = r.unique_string()?;
    let net_name = r.string()?; // [in, string] wchar_t* (ref: no referent id)
    let level = r.u32()?;

    let mut w = NdrWriter::new();
    w.u32(level); // union discriminant
    if !share_level_supported(level, true) {
        if share_info_has_arm(level) {
            w.referent(false);
        }
        w.u32(WERR_INVALID_LEVEL);
        return Ok(w.into_bytes());
    }
    let found = info
        .shares
        .iter()
        .find(|s| s.name.to_lowercase() == net_name.to_lowercase());
    match found {
        Some(s) => {
            w.referent(true);
            share_scalars(&mut w, level, s);
            share_deferred(&mut w, level, s);
            w.u32(WERR_OK);
        }
        None => {
            w.referent(false);
            w.u32(WERR_NET_NAME_NOT_FOUND);
        }
    }
    Ok(w.into_bytes())
}

/// Levels that are pointer arms of the SERVER_INFO union.
fn server_info_has_arm(level: u32) -> bool {
    matches!(
        level,
        100 | 101 | 102 | 103 | 502 | 503 | 599 | 1005 | 1107 | 1010 | 1016 | 1017 | 1018
    ) || (1501..=1556).contains(&level)
}

/// NetrServerGetInfo (opnum 21).
fn server_get_info(r: &mut NdrReader<'_>, info: &ServerInfo) -> Result<Vec<u8>, Fault> {
    let _server = r.unique_string()?;
    let level = r.u32()?;
    let mut w = NdrWriter::new();
    w.u32(level);
    if !matches!(level, 100..=102) {
        if server_info_has_arm(level) {
            w.referent(false);
        }
        w.u32(WERR_INVALID_LEVEL);
        return Ok(w.into_bytes());
    }
    w.referent(true);
    w.u32(PLATFORM_ID_NT);
    w.referent(true); // name
    if level >= 101 {
        w.u32(info.version_major);
        w.u32(info.version_minor);
        w.u32(info.server_type);
        w.referent(true); // comment
    }
    if level == 102 {
        w.u32(0xFFFF_FFFF); // sv102_users: no fixed limit
        w.u32(15); // sv102_disc: auto-disconnect minutes
        w.u32(0); // sv102_hidden: FALSE
        w.u32(240); // sv102_announce: seconds
        w.u32(3000); // sv102_anndelta: milliseconds
        w.u32(0); // sv102_licenses
        w.referent(true); // userpath
    }
    w.string(&info.netbios_name);
    if level >= 101 {
        w.string(&info.comment);
    }
    if level == 102 {
        w.string("C:\\");
    }
    w.u32(WERR_OK);
    Ok(w.into_bytes())
}

/// NetrWkstaGetInfo (wkssvc opnum 0).
fn wksta_get_info(r: &mut NdrReader<'_>, info: &ServerInfo) -> Result<Vec<u8>, Fault> {
    let _server = r.unique_string()?;
    let level = r.u32()?;
    let mut w = NdrWriter::new();
    w.u32(level);
    if !matches!(level, 100..=102) {
        if matches!(level, 502 | 1013 | 1018 | 1046) {
            w.referent(false);
        }
        w.u32(WERR_INVALID_LEVEL);
        return Ok(w.into_bytes());
    }
    w.referent(true);
    w.u32(PLATFORM_ID_NT);
    w.referent(true); // computername
    w.referent(true); // langroup
    w.u32(info.version_major);
    w.u32(info.version_minor);
    if level >= 101 {
        w.referent(true); // lanroot
    }
    if level == 102 {
        w.u32(0); // logged_on_users
    }
    w.string(&info.netbios_name);
    w.string(&info.domain);
    if level >= 101 {
        w.string("C:\\");
    }
    w.u32(WERR_OK);
    Ok(w.into_bytes())
}
