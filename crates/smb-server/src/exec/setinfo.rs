//! SET_INFO (MS-SMB2 3.3.5.21, MS-FSA 2.1.5.14): times and attributes, rename and hard link,
//! delete disposition, end of file and allocation, position and mode.

use std::rc::Rc;

use smb_proto::{Item, Reply};
use smb_vfs::{FileKind, Handle, RelPath, Resolved, Timespec, Vfs};
use smb_wire::fscc::{self, access, attr, class, TimeUpdate};
use smb_wire::info::{SetInfoRequest, SetInfoResponse};
use smb_wire::message::Response;
use smb_wire::NtStatus;

use super::info::{INFO_FILE, INFO_FILESYSTEM, INFO_QUOTA, INFO_SECURITY};
use super::{Chain, R};
use crate::conn::Conn;
use crate::errno::status_of;
use crate::state::OpenKind;

fn ok() -> R {
    Ok(Reply::Ok(
        NtStatus::SUCCESS,
        Response::SetInfo(SetInfoResponse),
    ))
}

fn need(granted: u32, bits: u32) -> Result<(), NtStatus> {
    if granted & bits == 0 {
        Err(NtStatus::ACCESS_DENIED)
    } else {
        Ok(())
    }
}

fn ts(ft: u64) -> Timespec {
    let (secs, nanos) = fscc::filetime_to_unix(ft);
    Timespec { secs, nanos }
}

pub(super) async fn set_info<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: SetInfoRequest,
    chain: &mut Chain,
) -> R {
    let id = super::file_id_of(c, item, req.file_id, chain)?;
    let (h, granted, path, key, share, is_dir) = {
        let st = c.st.borrow();
        let o = st.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let h = match &o.kind {
            OpenKind::File(h) => h.clone(),
            OpenKind::Pipe(_) => return Err(NtStatus::INVALID_PARAMETER),
        };
        (
            h,
            o.access,
            o.path.clone(),
            o.key,
            o.share.clone(),
            o.is_dir,
        )
    };
    let share = share.ok_or(NtStatus::INVALID_DEVICE_REQUEST)?;
    let writable = super::tree_of(c, item)?.writable;
    let bad = |_| NtStatus::INFO_LENGTH_MISMATCH;
    match req.info_type {
        INFO_FILE => match req.file_info_class {
            class::FileBasicInformation => {
                let b = fscc::SetBasicInformation::decode(&req.buffer).map_err(|e| match e {
                    smb_wire::WireError::BadValue => NtStatus::INVALID_PARAMETER,
                    _ => NtStatus::INFO_LENGTH_MISMATCH,
                })?;
                need(granted, access::FILE_WRITE_ATTRIBUTES)?;
                if !writable {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                if b.file_attributes != 0 {
                    if !is_dir && b.file_attributes & attr::DIRECTORY != 0 {
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    if b.file_attributes & !0x0000_7FB7 != 0 {
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    if is_dir && b.file_attributes & attr::TEMPORARY != 0 {
                        // Directories cannot be temporary (MS-FSA 2.1.5.14.2).
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                }
                let set = |t: &TimeUpdate| match t {
                    TimeUpdate::Set(v) => Some(ts(*v)),
                    _ => None,
                };
                let (atime, mtime) = (set(&b.last_access_time), set(&b.last_write_time));
                if atime.is_some() || mtime.is_some() {
                    h.set_times(atime, mtime).await.map_err(|e| status_of(&e))?;
                }
                let dos = (b.file_attributes != 0).then(|| {
                    let mut d = b.file_attributes & !(attr::NORMAL | attr::DIRECTORY);
                    if d == 0 && !is_dir {
                        d = 0;
                    }
                    d
                });
                let btime = set(&b.creation_time);
                if dos.is_some() || btime.is_some() {
                    h.set_dos(dos, btime).await.map_err(|e| status_of(&e))?;
                }
                ok()
            }
            class::FileRenameInformation
            | class::FileRenameInformationEx
            | class::FileLinkInformation => {
                let link = req.file_info_class == class::FileLinkInformation;
                let r = if req.file_info_class == class::FileRenameInformationEx {
                    fscc::RenameInformation::decode_ex(&req.buffer)
                } else {
                    fscc::RenameInformation::decode(&req.buffer)
                }
                .map_err(bad)?;
                if !link {
                    need(granted, access::DELETE)?;
                }
                if !writable {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                if r.root_directory != 0 {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                if link && is_dir {
                    return Err(NtStatus::FILE_IS_A_DIRECTORY);
                }
                let target_name = r.file_name.trim_start_matches('\\');
                if target_name.contains(':') {
                    // Renaming streams is not supported (no named streams are stored).
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let target = RelPath::from_smb(target_name).map_err(crate::errno::path_status)?;
                let (target, existing) = match c.vfs.resolve(&share.root, &target).await {
                    Ok(Resolved::Found { path, attr }) => (path, Some(attr)),
                    Ok(Resolved::Missing { parent, name }) => (parent.join(&name), None),
                    Err(_) => return Err(NtStatus::OBJECT_PATH_NOT_FOUND),
                };
                let same = target == path;
                if let Some(t) = &existing {
                    let is_self = (t.dev, t.ino) == key;
                    if !is_self {
                        if !r.replace_if_exists() {
                            return Err(NtStatus::OBJECT_NAME_COLLISION);
                        }
                        if matches!(t.kind, FileKind::Dir) {
                            return Err(NtStatus::ACCESS_DENIED);
                        }
                        if c.server.files.others_open(((t.dev), t.ino), u64::MAX) {
                            return Err(NtStatus::ACCESS_DENIED);
                        }
                    }
                }
                if !link && !c.server.files.may_delete(key, id) {
                    return Err(NtStatus::SHARING_VIOLATION);
                }
                if parent_in_use(c, &share, &target).await {
                    return Err(NtStatus::SHARING_VIOLATION);
                }
                if is_dir && !link && open_below(c, &path, id) {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                if same && !link {
                    return ok();
                }
                let res = if link {
                    c.vfs.link(&share.root, &path, &target).await
                } else {
                    c.vfs
                        .rename(&share.root, &path, &target, r.replace_if_exists())
                        .await
                };
                res.map_err(|e| match e.errno {
                    libc::EEXIST => NtStatus::OBJECT_NAME_COLLISION,
                    libc::EXDEV => NtStatus::NOT_SAME_DEVICE,
                    libc::ENOENT => NtStatus::OBJECT_PATH_NOT_FOUND,
                    _ => status_of(&e),
                })?;
                if !link {
                    rename_opens(c, &path, &target);
                }
                ok()
            }
            class::FileDispositionInformation | class::FileDispositionInformationEx => {
                let delete = if req.file_info_class == class::FileDispositionInformation {
                    fscc::DispositionInformation::decode(&req.buffer)
                        .map_err(bad)?
                        .delete_pending
                } else {
                    fscc::DispositionInformationEx::decode(&req.buffer)
                        .map_err(bad)?
                        .delete()
                };
                need(granted, access::DELETE)?;
                if delete {
                    let a = h.stat().await.map_err(|e| status_of(&e))?;
                    if !is_dir && a.dos_attributes & attr::READONLY != 0 {
                        return Err(NtStatus::CANNOT_DELETE);
                    }
                    if is_dir {
                        let entries = h.read_dir().await.map_err(|e| status_of(&e))?;
                        if !entries.is_empty() {
                            return Err(NtStatus::DIRECTORY_NOT_EMPTY);
                        }
                    }
                }
                if let Some(o) = c.st.borrow_mut().opens.get_mut(&id) {
                    o.delete_on_close = delete;
                }
                c.server.files.set_delete_pending(key, delete);
                ok()
            }
            class::FileEndOfFileInformation => {
                let e = fscc::EndOfFileInformation::decode(&req.buffer).map_err(bad)?;
                need(granted, access::FILE_WRITE_DATA)?;
                if is_dir {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                if e.end_of_file > i64::MAX as u64 {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                h.set_len(e.end_of_file).await.map_err(|e| status_of(&e))?;
                ok()
            }
            class::FileAllocationInformation => {
                let a = fscc::AllocationInformation::decode(&req.buffer).map_err(bad)?;
                need(granted, access::FILE_WRITE_DATA)?;
                if is_dir {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let st = h.stat().await.map_err(|e| status_of(&e))?;
                if a.allocation_size < st.size {
                    // Shrinking the allocation below the end of file truncates (MS-FSA).
                    h.set_len(a.allocation_size)
                        .await
                        .map_err(|e| status_of(&e))?;
                } else if a.allocation_size > st.size {
                    h.allocate(a.allocation_size)
                        .await
                        .map_err(|e| status_of(&e))?;
                }
                ok()
            }
            class::FilePositionInformation => {
                let p = fscc::FilePositionInformation::decode(&req.buffer).map_err(bad)?;
                let pos = u64::try_from(p.current_byte_offset)
                    .map_err(|_| NtStatus::INVALID_PARAMETER)?;
                if let Some(o) = c.st.borrow_mut().opens.get_mut(&id) {
                    o.position = pos;
                }
                ok()
            }
            class::FileModeInformation => {
                let m = fscc::FileModeInformation::decode(&req.buffer).map_err(bad)?;
                // Only FILE_WRITE_THROUGH, FILE_SEQUENTIAL_ONLY, FILE_NO_INTERMEDIATE_BUFFERING
                // and the synchronous-I/O flags are settable (MS-FSCC 2.4.26).
                if m.mode & !0x0000_003E != 0 {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                if let Some(o) = c.st.borrow_mut().opens.get_mut(&id) {
                    o.mode = m.mode;
                }
                ok()
            }
            class::FileValidDataLengthInformation => {
                fscc::ValidDataLengthInformation::decode(&req.buffer).map_err(bad)?;
                need(granted, access::FILE_WRITE_DATA)?;
                ok()
            }
            class::FileFullEaInformation => {
                need(granted, access::FILE_WRITE_EA)?;
                let list = super::ea::parse(&req.buffer)?;
                if !writable {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                super::ea::apply(&*h, list).await?;
                ok()
            }
            class::FileShortNameInformation => Err(NtStatus::NOT_SUPPORTED),
            _ => Err(NtStatus::INVALID_INFO_CLASS),
        },
        INFO_FILESYSTEM => Err(NtStatus::ACCESS_DENIED),
        INFO_SECURITY => {
            use smb_wire::security::secinfo;
            let info = req.additional_information;
            if info & (secinfo::OWNER | secinfo::GROUP) != 0 {
                need(granted, access::WRITE_OWNER)?;
            }
            if info & secinfo::DACL != 0 {
                need(granted, access::WRITE_DAC)?;
            }
            if info & secinfo::SACL != 0 && granted & access::ACCESS_SYSTEM_SECURITY == 0 {
                return Err(NtStatus::PRIVILEGE_NOT_HELD);
            }
            let new = smb_wire::security::SecurityDescriptor::parse_self_relative(&req.buffer)
                .map_err(|_| NtStatus::INVALID_SECURITY_DESCR)?;
            if !writable {
                return Err(NtStatus::ACCESS_DENIED);
            }
            let a = h.stat().await.map_err(|e| status_of(&e))?;
            let cur = super::acl::current(&*h, &a).await;
            let sd = super::acl::merge(cur, new, info);
            super::acl::store(&*h, &sd).await?;
            ok()
        }
        INFO_QUOTA => Err(NtStatus::NOT_SUPPORTED),
        _ => Err(NtStatus::INVALID_PARAMETER),
    }
}

/// Whether the target's parent directory is open in a way that refuses the open Windows
/// makes for a rename (FILE_ADD_FILE, sharing read and write only): another open of it
/// holds DELETE access or does not share writing.
async fn parent_in_use<V: Vfs>(
    c: &Conn<V>,
    share: &crate::catalog::Share,
    target: &RelPath,
) -> bool {
    let parent = target.parent().unwrap_or_else(RelPath::root);
    let Ok(a) = c.vfs.stat(&share.root, &parent).await else {
        return false;
    };
    c.server.files.share_conflict(
        (a.dev, a.ino),
        access::FILE_WRITE_DATA | access::SYNCHRONIZE,
        SHARE_READ | SHARE_WRITE,
    )
}

const SHARE_READ: u32 = 1;
const SHARE_WRITE: u32 = 2;

/// Whether any other open of this connection lies below directory `dir` (renaming a
/// directory with open files inside is refused, as Windows does).
fn open_below<V: Vfs>(c: &Conn<V>, dir: &RelPath, except: u64) -> bool {
    let prefix = format!("{}/", dir.as_str());
    c.st.borrow()
        .opens
        .iter()
        .any(|(k, o)| *k != except && o.path.as_str().starts_with(&prefix))
}

/// Keep the paths of this connection's opens true after a rename.
fn rename_opens<V: Vfs>(c: &Conn<V>, from: &RelPath, to: &RelPath) {
    let mut st = c.st.borrow_mut();
    let prefix = format!("{}/", from.as_str());
    for o in st.opens.values_mut() {
        if o.path == *from {
            o.path = to.clone();
        } else if let Some(rest) = o.path.as_str().strip_prefix(&prefix) {
            if let Ok(p) = to.join_checked(rest) {
                o.path = p;
            }
        }
    }
}
