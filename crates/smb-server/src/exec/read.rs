//! READ: file data through the VFS (io_uring), or a named pipe's pending output.

use std::rc::Rc;

use smb_proto::{Item, ReadData, Reply};
use smb_vfs::{Handle, Vfs};
use smb_wire::file::{channel, ReadRequest, ReadResponse};
use smb_wire::fscc::access;
use smb_wire::message::Response;
use smb_wire::NtStatus;

use super::{Chain, R};
use crate::conn::Conn;
use crate::state::OpenKind;

pub(super) async fn read<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: ReadRequest,
    chain: &mut Chain,
) -> R {
    let id = super::file_id_of(c, item, req.file_id, chain)?;
    // RDMA channels (buffer descriptors instead of inline data) exist only on an SMB Direct
    // connection; on TCP they are invalid (MS-SMB2 3.3.5.12 / 3.3.5.13).
    if req.channel != channel::NONE {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let (kind, granted, is_dir, key): (OpenKind<V>, _, _, _) = {
        let st = c.st.borrow();
        let o = st.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let kind = match &o.kind {
            OpenKind::File(h) => OpenKind::File(h.clone()),
            OpenKind::Pipe(p) => OpenKind::Pipe(p.clone()),
        };
        (kind, o.access, o.is_dir, o.key)
    };
    if c.server
        .files
        .io_conflict(key, id, req.offset, u64::from(req.length), false)
    {
        return Err(NtStatus::FILE_LOCK_CONFLICT);
    }
    if is_dir {
        return Err(NtStatus::INVALID_DEVICE_REQUEST);
    }
    if granted & (access::FILE_READ_DATA | access::FILE_EXECUTE) == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let len = req.length as usize;
    // Offsets are signed 64-bit on the server side (MS-FSA): beyond is invalid.
    let end = req
        .offset
        .checked_add(u64::from(req.length))
        .ok_or(NtStatus::INVALID_PARAMETER)?;
    if req.offset > i64::MAX as u64 || end > i64::MAX as u64 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    match kind {
        OpenKind::Pipe(p) => {
            let (data, more) = p.borrow_mut().read(len);
            if data.is_empty() {
                return Err(NtStatus::PIPE_EMPTY);
            }
            let status = if more {
                NtStatus::BUFFER_OVERFLOW
            } else {
                NtStatus::SUCCESS
            };
            Ok(Reply::Ok(
                status,
                Response::Read(ReadResponse {
                    data_remaining: 0,
                    data,
                    flags: 0,
                }),
            ))
        }
        OpenKind::File(h) => {
            if len == 0 {
                if req.minimum_count > 0 {
                    return Err(NtStatus::END_OF_FILE);
                }
                return Ok(no_data());
            }
            if let Some(buf) = chain.rdma_buf.take() {
                // An RDMA channel's READ: into registered memory, which the NIC then
                // RDMA-writes to the client from (`Conn::rdma_out`); the reply carries no
                // data.
                let buf = read_file(c, &h, id, buf, req.offset, req.minimum_count).await?;
                chain.rdma_filled = Some(buf);
                return Ok(no_data());
            }
            // The data lands after room for the response headers, so the reply is built
            // around it without copying (see `Reply::ReadData`).
            let headroom = item.read_headroom();
            let mut buf = Vec::with_capacity(headroom + len);
            buf.resize(headroom, 0);
            let buf = read_file(c, &h, id, buf, req.offset, req.minimum_count).await?;
            Ok(Reply::ReadData(ReadData {
                status: NtStatus::SUCCESS,
                buf,
                headroom,
                data_remaining: 0,
            }))
        }
    }
}

/// Reads the file at `offset` into `buf`'s spare capacity; END_OF_FILE for nothing or less
/// than `minimum` bytes; moves open `id`'s position past the data.
async fn read_file<V: Vfs, B: smb_vfs::ReadBuf>(
    c: &Rc<Conn<V>>,
    h: &V::Handle,
    id: u64,
    buf: B,
    offset: u64,
    minimum: u32,
) -> Result<B, NtStatus> {
    let (res, buf) = h.read_exact_at(buf, offset).await;
    let n = res.map_err(|e| crate::errno::status_of(&e))?;
    if n == 0 || n < minimum as usize {
        return Err(NtStatus::END_OF_FILE);
    }
    if let Some(o) = c.st.borrow_mut().opens.get_mut(&id) {
        o.position = offset + n as u64;
    }
    Ok(buf)
}

/// A successful READ reply that carries no data: an empty read, or one whose data went by
/// RDMA write.
fn no_data() -> Reply {
    Reply::Ok(
        NtStatus::SUCCESS,
        Response::Read(ReadResponse {
            data_remaining: 0,
            data: Vec::new(),
            flags: 0,
        }),
    )
}
