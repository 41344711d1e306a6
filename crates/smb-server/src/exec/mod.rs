//! Command handlers, one file per SMB2 command. Each takes the decoded request and returns a
//! [`Reply`]; failures are an NTSTATUS (`Reply::Err`), never a panic. Handlers never hold a
//! `RefCell` borrow across an `.await`.

mod acl;
pub(crate) mod close;
mod create;
mod dir;
mod ea;
mod info;
mod ioctl;
mod lock;
mod notify;
pub(crate) mod oplock;
mod read;
mod setinfo;
mod tree;
mod write;

pub(crate) use write::refusal_before_pull as write_refusal_before_pull;

use std::rc::Rc;
use std::sync::Arc;

use smb_proto::{Item, Reply};
use smb_vfs::Vfs;
use smb_wire::header::Command;
use smb_wire::message::{Request, Response};
use smb_wire::{FileId, NtStatus};

use crate::catalog::Share;
use crate::conn::Conn;
use crate::state::OpenKind;

/// What a compound chain carries from one request to the next (MS-SMB2 3.3.5.2.7.2).
#[derive(Debug, Default)]
pub struct Chain {
    /// The FileId the previous request created or used.
    pub file_id: Option<FileId>,
    /// A CREATE earlier in the chain failed: related requests fail the same way.
    pub create_err: Option<NtStatus>,
    /// Sessions logged off in this batch (forgotten once the reply is signed).
    pub logoffs: Vec<u64>,
    /// For the READ about to run: registered memory to read into (its RDMA channel's).
    pub rdma_buf: Option<crate::conn::RdmaBuf>,
    /// That READ's data, in that memory, for the RDMA write after the batch.
    pub rdma_filled: Option<crate::conn::RdmaBuf>,
}

impl Chain {
    pub fn failed(&mut self, status: NtStatus, cmd: Command) {
        if cmd == Command::CREATE {
            self.create_err = Some(status);
            self.file_id = None;
        }
    }
}

pub(crate) type R = Result<Reply, NtStatus>;

/// Run one request.
pub(crate) async fn dispatch<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: Request,
    chain: &mut Chain,
) -> Reply {
    if item.hdr.is_related() {
        if let Some(e) = chain.create_err {
            return Reply::Err(e);
        }
    } else {
        // An unrelated request starts a new chain: a related one after it cannot reach
        // the FileId of an earlier CREATE.
        chain.create_err = None;
        chain.file_id = None;
    }
    let res = match req {
        Request::TreeConnect(r) => tree::connect(c, item, r),
        Request::TreeDisconnect(_) => tree::disconnect(c, item).await,
        Request::Logoff(_) => tree::logoff(c, item, chain).await,
        Request::Create(r) => create::create(c, item, r, chain).await,
        Request::Close(r) => close::close(c, item, r, chain).await,
        Request::Flush(r) => write::flush(c, item, r, chain).await,
        Request::Read(r) => read::read(c, item, r, chain).await,
        Request::Write(r) => {
            oplock::break_shared(c, item, r.file_id, chain);
            write::write(c, item, r, chain).await
        }
        Request::Lock(r) => {
            // Taking a byte-range lock (not releasing one) ends shared caching.
            if r.locks
                .iter()
                .any(|l| l.flags & smb_wire::file::lock_flags::UNLOCK == 0)
            {
                oplock::break_shared(c, item, r.file_id, chain);
            }
            lock::lock(c, item, r, chain).await
        }
        Request::Ioctl(r) => ioctl::ioctl(c, item, r, chain).await,
        Request::QueryDirectory(r) => dir::query_directory(c, item, r, chain).await,
        // A CHANGE_NOTIFY that is not the last request of a compound cannot go async:
        // Windows fails it with INTERNAL_ERROR (MS-SMB2 3.3.4.2, <159>).
        Request::ChangeNotify(_) if item.hdr.next_command != 0 => Err(NtStatus::INTERNAL_ERROR),
        Request::ChangeNotify(r) => notify::change_notify(c, item, r, chain),
        Request::QueryInfo(r) => info::query_info(c, item, r, chain).await,
        Request::SetInfo(r) => {
            // Changing the size (FileAllocationInformation, FileEndOfFileInformation)
            // breaks shared caching like a write does.
            if r.info_type == 1 && matches!(r.file_info_class, 19 | 20) {
                oplock::break_shared(c, item, r.file_id, chain);
            }
            setinfo::set_info(c, item, r, chain).await
        }
        Request::OplockBreak(r) => oplock::oplock_break(c, item, r, chain),
        Request::Echo(_) => Ok(Reply::Ok(
            NtStatus::SUCCESS,
            Response::Echo(Default::default()),
        )),
        // Answered by the connection itself; never reaches the server.
        Request::Negotiate(_) | Request::SessionSetup(_) | Request::Cancel(_) => {
            Err(NtStatus::INVALID_PARAMETER)
        }
    };
    res.unwrap_or_else(Reply::Err)
}

/// The tree a request names, checked against its session; and whether it needs encryption.
pub(crate) struct TreeRef {
    pub share: Option<Arc<Share>>,
    pub writable: bool,
}

pub(crate) fn tree_of<V: Vfs>(c: &Conn<V>, item: &mut Item) -> Result<TreeRef, NtStatus> {
    let st = c.st.borrow();
    let t = st
        .trees
        .get(&item.hdr.tree_id)
        .filter(|t| t.session_id == item.hdr.session_id)
        .ok_or(NtStatus::NETWORK_NAME_DELETED)?;
    if t.encrypt {
        if !item.encrypted {
            return Err(NtStatus::ACCESS_DENIED);
        }
        item.encrypt_reply = true;
    }
    Ok(TreeRef {
        share: t.share.clone(),
        writable: t.writable,
    })
}

/// Resolve the FileId of a request (the chain's for a related request), checking that it
/// belongs to the request's session and tree.
pub(crate) fn file_id_of<V: Vfs>(
    c: &Conn<V>,
    item: &mut Item,
    fid: FileId,
    chain: &Chain,
) -> Result<u64, NtStatus> {
    let fid = if fid == FileId::ANY {
        if !item.hdr.is_related() {
            return Err(NtStatus::FILE_CLOSED);
        }
        chain.file_id.ok_or(NtStatus::FILE_CLOSED)?
    } else {
        fid
    };
    tree_of(c, item)?;
    let st = c.st.borrow();
    let o = st.opens.get(&fid.volatile).ok_or(NtStatus::FILE_CLOSED)?;
    if o.file_id.persistent != fid.persistent
        || o.session_id != item.hdr.session_id
        || o.tree_id != item.hdr.tree_id
    {
        return Err(NtStatus::FILE_CLOSED);
    }
    Ok(fid.volatile)
}

/// The file handle of an open (for I/O outside the state borrow).
pub(crate) fn handle_of<V: Vfs>(c: &Conn<V>, id: u64) -> Result<Rc<V::Handle>, NtStatus> {
    let st = c.st.borrow();
    match st.opens.get(&id).map(|o| &o.kind) {
        Some(OpenKind::File(h)) => Ok(h.clone()),
        Some(OpenKind::Pipe(_)) => Err(NtStatus::INVALID_DEVICE_REQUEST),
        None => Err(NtStatus::FILE_CLOSED),
    }
}

/// FILETIME of a Unix time.
pub(crate) fn filetime(t: smb_vfs::Timespec) -> u64 {
    smb_wire::fscc::unix_to_filetime(t.secs, t.nanos)
}

/// The DOS attributes a client sees for a file: stored ones when present, else derived.
pub(crate) fn dos_attributes(a: &smb_vfs::FileAttr) -> u32 {
    use smb_wire::fscc::attr;
    let is_dir = matches!(a.kind, smb_vfs::FileKind::Dir);
    let mut v = a.dos_attributes & !(attr::NORMAL | attr::DIRECTORY);
    if a.dos_attributes == 0 && !is_dir {
        v |= attr::ARCHIVE;
    }
    if is_dir {
        v |= attr::DIRECTORY;
    }
    if v == 0 {
        v = attr::NORMAL;
    }
    v
}

/// Allocation size as Windows reports it: what the filesystem allocated, rounded to 4 KiB,
/// never less than the size rounded up.
pub(crate) fn allocation(a: &smb_vfs::FileAttr) -> u64 {
    if matches!(a.kind, smb_vfs::FileKind::Dir) {
        return 0;
    }
    let round = |v: u64| v.div_ceil(4096) * 4096;
    round(a.alloc_size).max(round(a.size))
}
