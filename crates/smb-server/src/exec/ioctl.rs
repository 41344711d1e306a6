//! IOCTL/FSCTL (MS-SMB2 3.3.5.15): named-pipe transceive, network interfaces, server-side
//! copy (resume key + copychunk), snapshots (none), sparse files. Unknown FSCTLs get
//! STATUS_INVALID_DEVICE_REQUEST, as a Windows file system answers them.

use std::rc::Rc;

use smb_proto::{Item, Reply};
use smb_vfs::{Handle, Vfs};
use smb_wire::fscc::access;
use smb_wire::fsctl::{self, SrvCopychunkCopy, SrvCopychunkResponse};
use smb_wire::ioctl::{IoctlRequest, IoctlResponse};
use smb_wire::message::Response;
use smb_wire::{FileId, NtStatus};

use super::{Chain, R};
use crate::conn::Conn;
use crate::state::OpenKind;

const SMB2_0_IOCTL_IS_FSCTL: u32 = 0x0000_0001;
/// Server-side copy limits we announce (the Windows defaults).
const COPYCHUNK_MAX_CHUNKS: u32 = 256;
const COPYCHUNK_MAX_CHUNK_SIZE: u32 = 1024 * 1024;
const COPYCHUNK_MAX_TOTAL: u32 = 16 * 1024 * 1024;

fn reply(req: &IoctlRequest, file_id: FileId, output: Vec<u8>, status: NtStatus) -> R {
    Ok(Reply::Ok(
        status,
        Response::Ioctl(IoctlResponse {
            ctl_code: req.ctl_code,
            file_id,
            input: Vec::new(),
            output,
            flags: 0,
        }),
    ))
}

pub(super) async fn ioctl<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: IoctlRequest,
    chain: &mut Chain,
) -> R {
    if req.flags & SMB2_0_IOCTL_IS_FSCTL == 0 {
        return Err(NtStatus::NOT_SUPPORTED);
    }
    match req.ctl_code {
        fsctl::FSCTL_QUERY_NETWORK_INTERFACE_INFO => {
            super::tree_of(c, item)?;
            let list = crate::netif::interfaces();
            let mut out = Vec::new();
            fsctl::encode_network_interfaces(&list, &mut out);
            if out.len() > req.max_output_response as usize {
                return Err(NtStatus::BUFFER_TOO_SMALL);
            }
            reply(&req, FileId::ANY, out, NtStatus::SUCCESS)
        }
        fsctl::FSCTL_DFS_GET_REFERRALS | fsctl::FSCTL_DFS_GET_REFERRALS_EX => {
            Err(NtStatus::FS_DRIVER_REQUIRED)
        }
        fsctl::FSCTL_PIPE_TRANSCEIVE => {
            let id = super::file_id_of(c, item, req.file_id, chain)?;
            let pipe = match c.st.borrow().opens.get(&id).map(|o| &o.kind) {
                Some(OpenKind::Pipe(p)) => p.clone(),
                _ => return Err(NtStatus::INVALID_DEVICE_REQUEST),
            };
            let info = crate::ipc::server_info(c);
            let mut p = pipe.borrow_mut();
            p.write(&req.input, &info)
                .map_err(|_| NtStatus::PIPE_BROKEN)?;
            let (data, more) = p.read(req.max_output_response as usize);
            let status = if more {
                NtStatus::BUFFER_OVERFLOW
            } else {
                NtStatus::SUCCESS
            };
            let fid =
                c.st.borrow()
                    .opens
                    .get(&id)
                    .map(|o| o.file_id)
                    .unwrap_or(FileId::ANY);
            reply(&req, fid, data, status)
        }
        fsctl::FSCTL_SRV_REQUEST_RESUME_KEY => {
            let id = super::file_id_of(c, item, req.file_id, chain)?;
            let fid =
                c.st.borrow()
                    .opens
                    .get(&id)
                    .map(|o| o.file_id)
                    .ok_or(NtStatus::FILE_CLOSED)?;
            let mut out = Vec::new();
            fsctl::ResumeKeyResponse {
                key: resume_key(fid),
            }
            .encode(&mut out);
            if out.len() > req.max_output_response as usize {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            reply(&req, fid, out, NtStatus::SUCCESS)
        }
        fsctl::FSCTL_SRV_COPYCHUNK | fsctl::FSCTL_SRV_COPYCHUNK_WRITE => {
            copychunk(c, item, req, chain).await
        }
        fsctl::FSCTL_SRV_ENUMERATE_SNAPSHOTS => {
            let id = super::file_id_of(c, item, req.file_id, chain)?;
            let fid =
                c.st.borrow()
                    .opens
                    .get(&id)
                    .map(|o| o.file_id)
                    .ok_or(NtStatus::FILE_CLOSED)?;
            if req.max_output_response < 16 {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            // No snapshots: NumberOfSnapShots 0, NumberOfSnapShotsReturned 0,
            // SnapShotArraySize 2 (an empty, double-NUL-terminated list).
            let mut out = Vec::with_capacity(16);
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&2u32.to_le_bytes());
            out.extend_from_slice(&[0, 0]);
            reply(&req, fid, out, NtStatus::SUCCESS)
        }
        _ => {
            super::tree_of(c, item)?;
            Err(NtStatus::INVALID_DEVICE_REQUEST)
        }
    }
}

/// The resume key of an open: its FileId, padded; it is only meaningful to this server.
fn resume_key(fid: FileId) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&fid.persistent.to_le_bytes());
    k[8..16].copy_from_slice(&fid.volatile.to_le_bytes());
    k[16..].copy_from_slice(b"nasdcopy");
    k
}

async fn copychunk<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: IoctlRequest,
    chain: &mut Chain,
) -> R {
    let dst = super::file_id_of(c, item, req.file_id, chain)?;
    let dst_fid =
        c.st.borrow()
            .opens
            .get(&dst)
            .map(|o| o.file_id)
            .ok_or(NtStatus::FILE_CLOSED)?;
    let limits = || {
        let mut out = Vec::new();
        SrvCopychunkResponse {
            chunks_written: COPYCHUNK_MAX_CHUNKS,
            chunk_bytes_written: COPYCHUNK_MAX_CHUNK_SIZE,
            total_bytes_written: COPYCHUNK_MAX_TOTAL,
        }
        .encode(&mut out);
        out
    };
    if req.max_output_response < 12 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let copy = SrvCopychunkCopy::decode(&req.input).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    let total: u64 = copy.chunks.iter().map(|ch| u64::from(ch.length)).sum();
    if copy.chunks.len() as u32 > COPYCHUNK_MAX_CHUNKS
        || copy
            .chunks
            .iter()
            .any(|ch| ch.length > COPYCHUNK_MAX_CHUNK_SIZE || ch.length == 0)
        || total > u64::from(COPYCHUNK_MAX_TOTAL)
    {
        return reply(&req, dst_fid, limits(), NtStatus::INVALID_PARAMETER);
    }
    // The source is an open of this connection identified by its resume key.
    let src = {
        let st = c.st.borrow();
        st.opens
            .iter()
            .find(|(_, o)| {
                resume_key(o.file_id) == copy.source_key && o.session_id == item.hdr.session_id
            })
            .map(|(k, o)| (*k, o.access))
    };
    let Some((src, src_access)) = src else {
        return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
    };
    let dst_access = c.st.borrow().opens.get(&dst).map(|o| o.access).unwrap_or(0);
    if src_access & access::FILE_READ_DATA == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if dst_access & access::FILE_WRITE_DATA == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if req.ctl_code == fsctl::FSCTL_SRV_COPYCHUNK && dst_access & access::FILE_READ_DATA == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let sh = super::handle_of(c, src)?;
    let dh = super::handle_of(c, dst)?;
    let mut written = 0u32;
    let mut chunks = 0u32;
    for ch in &copy.chunks {
        let (res, buf) = sh
            .read_exact_at(Vec::with_capacity(ch.length as usize), ch.source_offset)
            .await;
        let n = res.map_err(|e| crate::errno::status_of(&e))?;
        if n < ch.length as usize {
            // Reading past the end of the source fails the copy (Windows semantics).
            return Err(NtStatus::INVALID_VIEW_SIZE);
        }
        let (res, _) = dh.write_all_at(buf, ch.target_offset).await;
        res.map_err(|e| crate::errno::status_of(&e))?;
        written += ch.length;
        chunks += 1;
    }
    let mut out = Vec::new();
    SrvCopychunkResponse {
        chunks_written: chunks,
        chunk_bytes_written: 0,
        total_bytes_written: written,
    }
    .encode(&mut out);
    reply(&req, dst_fid, out, NtStatus::SUCCESS)
}
