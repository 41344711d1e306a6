//! WRITE (with write-through) and FLUSH.

use std::rc::Rc;

use smb_proto::{Item, Reply};
use smb_vfs::{Handle, Vfs};
use smb_wire::file::{channel, FlushRequest, FlushResponse, WriteRequest, WriteResponse};
use smb_wire::fscc::access;
use smb_wire::message::Response;
use smb_wire::{FileId, NtStatus};

use super::create::FILE_WRITE_THROUGH;
use super::{Chain, R};
use crate::conn::Conn;
use crate::state::{Open, OpenKind};

const WRITEFLAG_WRITE_THROUGH: u32 = 0x0000_0001;
/// The largest file size NTFS allows (MS-FSA's MAXFILESIZE); writes may not end beyond it.
const MAX_FILE_SIZE: u64 = 0x0000_0FFF_FFFF_0000;

pub(super) async fn write<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: WriteRequest,
    chain: &mut Chain,
) -> R {
    let id = super::file_id_of(c, item, req.file_id, chain)?;
    // RDMA channels (buffer descriptors instead of inline data) exist only on an SMB Direct
    // connection; on TCP they are invalid (MS-SMB2 3.3.5.12 / 3.3.5.13).
    if req.channel != channel::NONE {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let (kind, granted, options): (OpenKind<V>, _, _) = {
        let st = c.st.borrow();
        let o = st.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        may_write(c, o, id, req.offset, req.data.len() as u64)?;
        let kind = match &o.kind {
            OpenKind::File(h) => OpenKind::File(h.clone()),
            OpenKind::Pipe(p) => OpenKind::Pipe(p.clone()),
        };
        (kind, o.access, o.create_options)
    };
    let count = u32::try_from(req.data.len()).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    match kind {
        OpenKind::Pipe(p) => {
            let info = crate::ipc::server_info(c);
            p.borrow_mut()
                .write(&req.data, &info)
                .map_err(|_| NtStatus::PIPE_BROKEN)?;
        }
        OpenKind::File(h) => {
            let offset = req.offset;
            // Offsets are signed 64-bit, and no file grows past MAXFILESIZE (MS-FSA).
            let end = offset
                .checked_add(u64::from(count))
                .ok_or(NtStatus::INVALID_PARAMETER)?;
            if offset > i64::MAX as u64
                || end > i64::MAX as u64
                || (count > 0 && offset >= MAX_FILE_SIZE)
            {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            if count > 0 && end >= MAX_FILE_SIZE {
                // The file would reach MAXFILESIZE: as on NTFS, the volume is "full".
                return Err(NtStatus::DISK_FULL);
            }
            if granted & access::FILE_WRITE_DATA == 0 {
                // Append-only access may only write at the end.
                let size = h
                    .stat()
                    .await
                    .map_err(|e| crate::errno::status_of(&e))?
                    .size;
                if offset < size {
                    return Err(NtStatus::ACCESS_DENIED);
                }
            }
            if count > 0 {
                let (res, _buf) = h.write_all_at(req.data, offset).await;
                res.map_err(|e| crate::errno::status_of(&e))?;
            }
            if req.flags & WRITEFLAG_WRITE_THROUGH != 0 || options & FILE_WRITE_THROUGH != 0 {
                h.sync(true)
                    .await
                    .map_err(|e| crate::errno::status_of(&e))?;
            }
            if let Some(o) = c.st.borrow_mut().opens.get_mut(&id) {
                o.position = end;
            }
        }
    }
    Ok(Reply::Ok(
        NtStatus::SUCCESS,
        Response::Write(WriteResponse { count }),
    ))
}

/// What refuses a WRITE of `len` bytes at `offset` through open `id` before any data is
/// touched: a byte-range lock, a directory, no write or append access.
fn may_write<V: Vfs>(
    c: &Conn<V>,
    o: &Open<V>,
    id: u64,
    offset: u64,
    len: u64,
) -> Result<(), NtStatus> {
    if c.server.files.io_conflict(o.key, id, offset, len, true) {
        return Err(NtStatus::FILE_LOCK_CONFLICT);
    }
    if o.is_dir {
        return Err(NtStatus::INVALID_DEVICE_REQUEST);
    }
    if o.access & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    Ok(())
}

/// For a WRITE with an RDMA channel, before its data is pulled from the client: the refusal
/// [`write`] would give anyway (unknown handle, wrong session or tree, lock, directory,
/// access), so that a refused WRITE costs no RDMA read. A related request's handle is known
/// only as its compound runs: `Ok` here, [`write`] checks it.
pub(crate) fn refusal_before_pull<V: Vfs>(
    c: &Conn<V>,
    item: &mut Item,
    fid: FileId,
    offset: u64,
    len: u64,
) -> Result<(), NtStatus> {
    if item.hdr.is_related() {
        return Ok(());
    }
    let id = super::file_id_of(c, item, fid, &Chain::default())?;
    let st = c.st.borrow();
    let o = st.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
    may_write(c, o, id, offset, len)
}

pub(super) async fn flush<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: FlushRequest,
    chain: &mut Chain,
) -> R {
    let id = super::file_id_of(c, item, req.file_id, chain)?;
    let granted = c.st.borrow().opens.get(&id).map(|o| o.access).unwrap_or(0);
    if granted & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if let Ok(h) = super::handle_of(c, id) {
        h.sync(false)
            .await
            .map_err(|e| crate::errno::status_of(&e))?;
    }
    Ok(Reply::Ok(NtStatus::SUCCESS, Response::Flush(FlushResponse)))
}
