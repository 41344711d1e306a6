//! CREATE (MS-SMB2 3.3.5.9, MS-FSA 2.1.5.1): open or create a file, directory or pipe.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use smb_proto::{Item, Reply};
use smb_vfs::{Create, FileKind, Handle, OpenHow, RelPath, Resolved, Vfs};
use smb_wire::create::{
    CreateContext, CreateContextResponse, CreateRequest, CreateResponse, LeaseResponse,
    MaxAccessResponse, QueryOnDiskIdResponse,
};
use smb_wire::fscc::{access, attr};
use smb_wire::message::Response;
use smb_wire::{FileId, NtStatus};

use super::{allocation, dos_attributes, filetime, Chain, R};
use crate::conn::Conn;
use crate::errno::status_of;
use crate::files::FileKey;
use crate::state::{Open, OpenKind};

pub(crate) const FILE_SUPERSEDE: u32 = 0;
pub(crate) const FILE_OPEN: u32 = 1;
pub(crate) const FILE_CREATE: u32 = 2;
pub(crate) const FILE_OPEN_IF: u32 = 3;
pub(crate) const FILE_OVERWRITE: u32 = 4;
pub(crate) const FILE_OVERWRITE_IF: u32 = 5;

pub(crate) const FILE_DIRECTORY_FILE: u32 = 0x0000_0001;
pub(crate) const FILE_WRITE_THROUGH: u32 = 0x0000_0002;
pub(crate) const FILE_NON_DIRECTORY_FILE: u32 = 0x0000_0040;
pub(crate) const FILE_DELETE_ON_CLOSE: u32 = 0x0000_1000;
pub(crate) const FILE_OPEN_BY_FILE_ID: u32 = 0x0000_2000;
/// Options a server must refuse with NOT_SUPPORTED (MS-SMB2 3.3.5.9).
const UNSUPPORTED_OPTIONS: u32 =
    0x0010_0000 /* FILE_RESERVE_OPFILTER */ | 0x0000_0080 /* FILE_CREATE_TREE_CONNECTION */;

const FILE_SUPERSEDED: u32 = 0;
const FILE_OPENED: u32 = 1;
const FILE_CREATED: u32 = 2;
const FILE_OVERWRITTEN: u32 = 3;

/// Access bits that modify the file or its metadata.
const WRITE_ACCESS: u32 = access::FILE_WRITE_DATA
    | access::FILE_APPEND_DATA
    | access::FILE_WRITE_EA
    | access::FILE_WRITE_ATTRIBUTES
    | access::DELETE
    | access::WRITE_DAC
    | access::WRITE_OWNER
    | access::FILE_DELETE_CHILD;

/// Everything a file open can be granted on a writable share.
const ALL_ACCESS: u32 = 0x001F_01FF;

pub(super) async fn create<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: CreateRequest,
    chain: &mut Chain,
) -> R {
    // These dispositions never collide: a collision means another open created the name
    // between our lookup and our exclusive create. Go again (once): now it exists.
    let mut collision_is_final = !matches!(
        req.create_disposition,
        FILE_OPEN_IF | FILE_OVERWRITE_IF | FILE_SUPERSEDE
    );
    // Set at the first refusal that may be racing cleanup (see oplock::wait_for_cleanup).
    let mut cleanup_deadline = None;
    loop {
        let mut conflict = None;
        match create_once(c, item, &req, chain, &mut conflict).await {
            Err(NtStatus::OBJECT_NAME_COLLISION) if !collision_is_final => {
                collision_is_final = true
            }
            Err(s @ (NtStatus::SHARING_VIOLATION | NtStatus::DELETE_PENDING)) => {
                let Some(key) = conflict else {
                    return Err(s);
                };
                let deadline = *cleanup_deadline
                    .get_or_insert_with(|| Instant::now() + super::oplock::CLEANUP_WAIT);
                if !super::oplock::wait_for_cleanup(c, key, deadline).await {
                    return Err(s);
                }
            }
            r => return r,
        }
    }
}

/// One attempt at a CREATE. An open refused because of another open of the file (sharing
/// violation, delete pending) names that file in `conflict`.
async fn create_once<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: &CreateRequest,
    chain: &mut Chain,
    conflict: &mut Option<FileKey>,
) -> R {
    let tree = super::tree_of(c, item)?;
    // Parameter checks of 3.3.5.9, in the order Windows applies them.
    if req.impersonation_level > 3 {
        return Err(NtStatus::BAD_IMPERSONATION_LEVEL);
    }
    if req.create_disposition > FILE_OVERWRITE_IF {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if req.create_options & FILE_DIRECTORY_FILE != 0
        && req.create_options & FILE_NON_DIRECTORY_FILE != 0
    {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if req.create_options & UNSUPPORTED_OPTIONS != 0 {
        return Err(NtStatus::NOT_SUPPORTED);
    }
    if req.create_options & FILE_OPEN_BY_FILE_ID != 0 {
        return Err(NtStatus::NOT_SUPPORTED);
    }
    if req.create_options & 0xFF00_0000 != 0 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if req.desired_access & 0x0CE0_FE00 != 0 {
        // Reserved access bits (MS-SMB2 2.2.13.1); Windows checks them before attributes.
        return Err(NtStatus::ACCESS_DENIED);
    }
    if req.file_attributes & !0x0000_7FB7 != 0 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if req.name.starts_with('\\') {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let Some(share) = tree.share.clone() else {
        return open_pipe(c, item, req, chain);
    };
    if req
        .contexts
        .iter()
        .any(|x| matches!(x, CreateContext::Timewarp(_)))
    {
        // No previous versions (snapshots) are offered.
        return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
    }
    if req
        .contexts
        .iter()
        .any(|x| matches!(x, CreateContext::Unknown { name, .. } if name.len() < 4))
    {
        // Context names are at least four bytes (Windows refuses shorter tags).
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let mut ea_list = match ext_attrs(req) {
        Some(b) => Some(super::ea::parse(b)?),
        None => None,
    };
    if req.name.eq_ignore_ascii_case(QUOTA_FAKE_FILE) {
        return open_quota_fake(c, item, req, share, chain).await;
    }
    let is_dir_req = req.create_options & FILE_DIRECTORY_FILE != 0;
    let (name, stream) = split_stream(&req.name)?;
    if stream {
        // Named streams are not stored: every name with a non-default stream is absent.
        return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
    }
    let path = RelPath::from_smb(name).map_err(crate::errno::path_status)?;
    let mut desired = access::map_generic(req.desired_access, is_dir_req);
    let max_allowed = desired & access::MAXIMUM_ALLOWED != 0;
    let grantable = if tree.writable {
        ALL_ACCESS
    } else {
        ALL_ACCESS & !WRITE_ACCESS
    };
    if max_allowed {
        desired = (desired & !access::MAXIMUM_ALLOWED) | grantable;
    }
    if desired & !grantable != 0 && !max_allowed {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if desired & access::ACCESS_SYSTEM_SECURITY != 0 {
        return Err(NtStatus::PRIVILEGE_NOT_HELD);
    }
    let delete_on_close = req.create_options & FILE_DELETE_ON_CLOSE != 0;
    if delete_on_close && desired & access::DELETE == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }

    let resolved = c
        .vfs
        .resolve(&share.root, &path)
        .await
        .map_err(|e| match e.errno {
            libc::ENOENT | libc::ENOTDIR => NtStatus::OBJECT_PATH_NOT_FOUND,
            _ => status_of(&e),
        })?;
    let disp = req.create_disposition;
    let (path, existing) = match resolved {
        Resolved::Found { path, attr } => (path, Some(attr)),
        Resolved::Missing { parent, name } => (parent.join(&name), None),
    };
    let creating = existing.is_none();
    let action;
    let mut how = OpenHow {
        read: true,
        write: desired & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) != 0,
        create: Create::No,
        truncate: false,
        directory: false,
        mode: 0o666,
    };
    match &existing {
        Some(a) => {
            let is_dir = matches!(a.kind, FileKind::Dir);
            if matches!(a.kind, FileKind::Symlink | FileKind::Other) {
                // Symlinks are not followed and special files are not served.
                return Err(NtStatus::ACCESS_DENIED);
            }
            if disp == FILE_CREATE {
                return Err(NtStatus::OBJECT_NAME_COLLISION);
            }
            if is_dir && req.create_options & FILE_NON_DIRECTORY_FILE != 0 {
                return Err(NtStatus::FILE_IS_A_DIRECTORY);
            }
            if !is_dir && is_dir_req {
                return Err(NtStatus::NOT_A_DIRECTORY);
            }
            if is_dir && matches!(disp, FILE_SUPERSEDE | FILE_OVERWRITE | FILE_OVERWRITE_IF) {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            let dos = a.dos_attributes;
            if !is_dir && dos & attr::READONLY != 0 {
                if desired & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) != 0
                    && !max_allowed
                {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                if delete_on_close {
                    return Err(NtStatus::CANNOT_DELETE);
                }
                if max_allowed {
                    desired &=
                        !(access::FILE_WRITE_DATA | access::FILE_APPEND_DATA | access::DELETE);
                    how.write = false;
                }
            }
            let overwrite = matches!(disp, FILE_SUPERSEDE | FILE_OVERWRITE | FILE_OVERWRITE_IF);
            if overwrite {
                if !tree.writable {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                how.write = true;
                // Truncated only once the stored DACL allows the open (below).
                how.truncate = false;
            }
            how.directory = is_dir;
            action = match disp {
                FILE_SUPERSEDE => FILE_SUPERSEDED,
                FILE_OVERWRITE | FILE_OVERWRITE_IF => FILE_OVERWRITTEN,
                _ => FILE_OPENED,
            };
        }
        None => {
            if matches!(disp, FILE_OPEN | FILE_OVERWRITE) {
                return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
            }
            if !tree.writable {
                return Err(NtStatus::ACCESS_DENIED);
            }
            if is_dir_req && !matches!(disp, FILE_CREATE | FILE_OPEN_IF) {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            how.create = Create::Exclusive;
            how.directory = is_dir_req;
            how.write = !is_dir_req;
            action = FILE_CREATED;
        }
    }
    if how.directory {
        how.write = false;
    }
    // Oplocks and leases (exec/oplock.rs): break what this open conflicts with, and wait
    // for the breaks, before the file is touched (an overwrite must not truncate under a
    // caching client); share modes are checked afterwards, as Windows does.
    let uid = c.server.next_id();
    let overwrite =
        existing.is_some() && matches!(disp, FILE_SUPERSEDE | FILE_OVERWRITE | FILE_OVERWRITE_IF);
    let mut oreq = super::oplock::open_req(c, item, req, uid, desired, overwrite);
    if let Some(a) = existing
        .as_ref()
        .filter(|a| matches!(a.kind, FileKind::File))
    {
        let key = (a.dev, a.ino);
        super::oplock::wait_for_breaks(c, item, key, &oreq)
            .await
            .inspect_err(|_| *conflict = Some(key))?;
    }
    let (handle, _created) =
        c.vfs
            .open(&share.root, &path, &how)
            .await
            .map_err(|e| match e.errno {
                libc::EEXIST => NtStatus::OBJECT_NAME_COLLISION,
                libc::ENOENT => NtStatus::OBJECT_NAME_NOT_FOUND,
                _ => status_of(&e),
            })?;
    if let Some(a) = &existing {
        // A descriptor stored on the file (SET_INFO security or a SecD context) limits
        // what this open may have.
        if let Some(sd) = super::acl::stored(&handle).await {
            let is_dir = matches!(a.kind, FileKind::Dir);
            let token = super::acl::token(item.session.as_deref(), a);
            let mut allowed = super::acl::granted(&sd, &token, is_dir) | access::SYNCHRONIZE;
            if allowed & access::DELETE == 0
                && desired & access::DELETE != 0
                && parent_grants_delete_child(c, &share, &path, item).await
            {
                // FILE_DELETE_CHILD on the parent allows deleting what the file's own
                // DACL does not (MS-FSA 2.1.5.1.2.1).
                allowed |= access::DELETE;
            }
            if max_allowed {
                desired &= allowed;
                oreq.access = desired;
            } else if desired & !allowed != 0 {
                let _ = handle.close().await;
                return Err(NtStatus::ACCESS_DENIED);
            }
        }
        if matches!(action, FILE_OVERWRITTEN | FILE_SUPERSEDED) {
            if let Err(e) = handle.set_len(0).await {
                let _ = handle.close().await;
                return Err(status_of(&e));
            }
        }
    }
    if creating || matches!(action, FILE_OVERWRITTEN | FILE_SUPERSEDED) {
        if let Some(list) = ea_list.take() {
            // ExtA (MS-SMB2 2.2.13.2.1): the new file's extended attributes.
            if let Err(s) = super::ea::apply(&handle, list).await {
                let _ = handle.close().await;
                if creating {
                    let _ = c.vfs.unlink(&share.root, &path).await;
                }
                return Err(s);
            }
        }
    }
    if creating {
        if let Some(blob) = sec_desc(req) {
            // SecD (MS-SMB2 2.2.13.2): the new file's descriptor; parts it leaves out
            // come from the POSIX defaults.
            if let Err(s) = store_initial_sd(&handle, blob).await {
                let _ = handle.close().await;
                let _ = c.vfs.unlink(&share.root, &path).await;
                return Err(s);
            }
        }
    }
    if creating || action == FILE_OVERWRITTEN || action == FILE_SUPERSEDED {
        // Sparse is only ever set by FSCTL_SET_SPARSE, never by CREATE (as on Windows).
        let mut dos = req.file_attributes & !(attr::NORMAL | attr::DIRECTORY | attr::SPARSE_FILE);
        if !how.directory {
            dos |= attr::ARCHIVE;
        }
        if let Err(e) = handle.set_dos(Some(dos), None).await {
            tracing::debug!(error = %e, "could not store DOS attributes");
        }
        if let Some(size) = alloc_size(req).filter(|s| *s > 0 && !how.directory) {
            // AllocationSize (MS-SMB2 2.2.13.2.5): reserve the space, as Windows does.
            if let Err(e) = handle.allocate(size).await {
                let _ = handle.close().await;
                return Err(status_of(&e));
            }
        }
    }
    let st = match handle.stat().await {
        Ok(s) => s,
        Err(e) => {
            let _ = handle.close().await;
            return Err(status_of(&e));
        }
    };
    let is_dir = matches!(st.kind, FileKind::Dir);
    let key = (st.dev, st.ino);
    oreq.is_dir = is_dir;
    let granted = c.server.files.register(key, &oreq);
    let granted = match granted {
        Ok(g) => g,
        Err(s) => {
            *conflict = Some(key);
            let _ = handle.close().await;
            if creating {
                // Nobody else can have it open if we just created it; undo anyway on error.
                let _ = c.vfs.unlink(&share.root, &path).await;
            }
            return Err(s);
        }
    };
    if delete_on_close && is_dir {
        // A directory opened delete-on-close must be empty to be deletable at close.
    }
    let file_id = FileId {
        persistent: uid,
        volatile: uid,
    };
    let mut contexts = Vec::new();
    if let Some(l) = granted.lease {
        contexts.push(CreateContextResponse::Lease(LeaseResponse {
            key: l.key,
            state: l.state,
            flags: if l.breaking {
                smb_wire::create::lease::FLAG_BREAK_IN_PROGRESS
            } else {
                0
            } | match l.v2 {
                Some((Some(_), _)) => smb_wire::create::lease::FLAG_PARENT_LEASE_KEY_SET,
                _ => 0,
            },
            parent_key: l.v2.map(|(p, _)| p.unwrap_or_default()),
            epoch: l.v2.map(|(_, e)| e),
        }));
    }
    for ctx in &req.contexts {
        match ctx {
            CreateContext::MaxAccess { .. } => {
                contexts.push(CreateContextResponse::MaxAccess(MaxAccessResponse {
                    status: NtStatus::SUCCESS,
                    maximal_access: grantable,
                }))
            }
            CreateContext::QueryOnDiskId => contexts.push(CreateContextResponse::QueryOnDiskId(
                QueryOnDiskIdResponse {
                    disk_file_id: st.ino,
                    volume_id: st.dev,
                },
            )),
            _ => {}
        }
    }
    let open = Open {
        file_id,
        session_id: item.hdr.session_id,
        tree_id: item.hdr.tree_id,
        kind: OpenKind::File(Rc::new(handle)),
        share: Some(share),
        path,
        key,
        is_dir,
        access: desired,
        create_options: req.create_options,
        delete_on_close,
        dir: None,
        position: 0,
        mode: req.create_options
            & (FILE_WRITE_THROUGH | 0x0000_0004 | 0x0000_0008 | 0x0000_0010 | 0x0000_0020),
        notify: None,
    };
    c.st.borrow_mut().opens.insert(uid, open);
    chain.file_id = Some(file_id);
    let (ct, at, wt, cht) = (
        filetime(st.btime),
        filetime(st.atime),
        filetime(st.mtime),
        filetime(st.ctime),
    );
    Ok(Reply::Ok(
        NtStatus::SUCCESS,
        Response::Create(CreateResponse {
            oplock_level: granted.oplock,
            flags: 0,
            create_action: action,
            creation_time: ct,
            last_access_time: at,
            last_write_time: wt,
            change_time: cht,
            allocation_size: allocation(&st),
            end_of_file: if is_dir { 0 } else { st.size },
            file_attributes: dos_attributes(&st),
            file_id,
            contexts,
        }),
    ))
}

/// The quota file of NTFS, which Windows and Samba let a client open for the quota
/// interface (FileQuotaInformation) even where quotas are off.
const QUOTA_FAKE_FILE: &str = "$Extend\\$Quota:$Q:$INDEX_ALLOCATION";

/// Whether the parent directory of `path` grants FILE_DELETE_CHILD to the session: always
/// on a writable share unless a descriptor stored on the parent says otherwise.
async fn parent_grants_delete_child<V: Vfs>(
    c: &Rc<Conn<V>>,
    share: &crate::catalog::Share,
    path: &RelPath,
    item: &Item,
) -> bool {
    let parent = path.parent().unwrap_or_else(RelPath::root);
    let how = OpenHow {
        read: true,
        write: false,
        create: Create::No,
        truncate: false,
        directory: true,
        mode: 0,
    };
    let Ok((h, _)) = c.vfs.open(&share.root, &parent, &how).await else {
        return false;
    };
    let sd = super::acl::stored(&h).await;
    let a = h.stat().await;
    let _ = h.close().await;
    match (sd, a) {
        (None, _) => true,
        (Some(sd), Ok(a)) => {
            let token = super::acl::token(item.session.as_deref(), &a);
            super::acl::granted(&sd, &token, true) & access::FILE_DELETE_CHILD != 0
        }
        (Some(_), Err(_)) => false,
    }
}

fn ext_attrs(req: &CreateRequest) -> Option<&[u8]> {
    req.contexts.iter().find_map(|x| match x {
        CreateContext::ExtendedAttributes(b) => Some(b.as_slice()),
        _ => None,
    })
}

fn sec_desc(req: &CreateRequest) -> Option<&[u8]> {
    req.contexts.iter().find_map(|x| match x {
        CreateContext::SecurityDescriptor(b) => Some(b.as_slice()),
        _ => None,
    })
}

async fn store_initial_sd<H: Handle>(h: &H, blob: &[u8]) -> Result<(), NtStatus> {
    use smb_wire::security::{control, secinfo, SecurityDescriptor};
    let new = SecurityDescriptor::parse_self_relative(blob)
        .map_err(|_| NtStatus::INVALID_SECURITY_DESCR)?;
    let mut info = secinfo::OWNER | secinfo::GROUP;
    if new.control & control::SE_DACL_PRESENT != 0 {
        info |= secinfo::DACL;
    }
    let a = h.stat().await.map_err(|e| status_of(&e))?;
    let sd = super::acl::merge(super::acl::from_attr(&a), new, info);
    super::acl::store(h, &sd).await
}

fn alloc_size(req: &CreateRequest) -> Option<u64> {
    req.contexts.iter().find_map(|x| match x {
        CreateContext::AllocationSize(s) => Some(*s),
        _ => None,
    })
}

/// Open the fake quota file: a handle on the share root that presents itself as the
/// hidden system directory NTFS has, with no timestamps (like Windows and Samba).
async fn open_quota_fake<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: &CreateRequest,
    share: std::sync::Arc<crate::catalog::Share>,
    chain: &mut Chain,
) -> R {
    if !matches!(req.create_disposition, FILE_OPEN | FILE_OPEN_IF) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let how = OpenHow {
        read: true,
        write: false,
        create: Create::No,
        truncate: false,
        directory: true,
        mode: 0,
    };
    let (handle, _) = c
        .vfs
        .open(&share.root, &RelPath::root(), &how)
        .await
        .map_err(|e| status_of(&e))?;
    let uid = c.server.next_id();
    let file_id = FileId {
        persistent: uid,
        volatile: uid,
    };
    let desired =
        access::map_generic(req.desired_access, true) & !(access::MAXIMUM_ALLOWED | WRITE_ACCESS);
    let open = Open {
        file_id,
        session_id: item.hdr.session_id,
        tree_id: item.hdr.tree_id,
        kind: OpenKind::File(Rc::new(handle)),
        share: Some(share),
        path: RelPath::root(),
        // Not a file of the share: no share modes, oplocks or locks apply.
        key: (u64::MAX, uid),
        is_dir: true,
        access: desired,
        create_options: req.create_options,
        delete_on_close: false,
        dir: None,
        position: 0,
        mode: 0,
        notify: None,
    };
    c.st.borrow_mut().opens.insert(uid, open);
    chain.file_id = Some(file_id);
    Ok(Reply::Ok(
        NtStatus::SUCCESS,
        Response::Create(CreateResponse {
            oplock_level: 0,
            flags: 0,
            create_action: FILE_OPENED,
            creation_time: 0,
            last_access_time: 0,
            last_write_time: 0,
            change_time: 0,
            allocation_size: 0,
            end_of_file: 0,
            file_attributes: attr::HIDDEN | attr::SYSTEM | attr::DIRECTORY | attr::ARCHIVE,
            file_id,
            contexts: Vec::new(),
        }),
    ))
}

/// Split "name:stream:$DATA". Returns the name and whether a non-default stream is named.
fn split_stream(name: &str) -> Result<(&str, bool), NtStatus> {
    match name.split_once(':') {
        None => Ok((name, false)),
        Some((base, rest)) => {
            let default = rest.eq_ignore_ascii_case(":$DATA")
                || rest.eq_ignore_ascii_case("$DATA")
                || rest.is_empty();
            if rest.contains('\\') {
                return Err(NtStatus::OBJECT_NAME_INVALID);
            }
            Ok((base, !default))
        }
    }
}

fn open_pipe<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: &CreateRequest,
    chain: &mut Chain,
) -> R {
    let kind = smb_rpc::pipe_kind(&req.name).ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
    let uid = c.server.next_id();
    let file_id = FileId {
        persistent: uid,
        volatile: uid,
    };
    let open = Open {
        file_id,
        session_id: item.hdr.session_id,
        tree_id: item.hdr.tree_id,
        kind: OpenKind::Pipe(Rc::new(RefCell::new(smb_rpc::Pipe::new(kind)))),
        share: None,
        path: RelPath::root(),
        key: (u64::MAX, uid),
        is_dir: false,
        access: req.desired_access,
        create_options: req.create_options,
        delete_on_close: false,
        dir: None,
        position: 0,
        mode: 0,
        notify: None,
    };
    c.st.borrow_mut().opens.insert(uid, open);
    chain.file_id = Some(file_id);
    Ok(Reply::Ok(
        NtStatus::SUCCESS,
        Response::Create(CreateResponse {
            oplock_level: 0,
            flags: 0,
            create_action: FILE_OPENED,
            creation_time: 0,
            last_access_time: 0,
            last_write_time: 0,
            change_time: 0,
            allocation_size: 4096,
            end_of_file: 0,
            file_attributes: attr::NORMAL,
            file_id,
            contexts: Vec::new(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::split_stream;

    #[test]
    fn stream_suffixes() {
        assert_eq!(split_stream("a.txt"), Ok(("a.txt", false)));
        assert_eq!(split_stream("a.txt::$DATA"), Ok(("a.txt", false)));
        assert_eq!(split_stream("a.txt:s1:$DATA"), Ok(("a.txt", true)));
        assert_eq!(split_stream("a.txt:s1"), Ok(("a.txt", true)));
    }
}
