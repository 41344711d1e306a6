//! IOCTL/FSCTL (MS-SMB2 3.3.5.15): named-pipe transceive, network interfaces, server-side
//! copy (resume key + copychunk), snapshots (none), compression (none, as ReFS answers),
//! sparse files (MS-FSA 2.1.5.10: SET_SPARSE, QUERY_ALLOCATED_RANGES, SET_ZERO_DATA).
//! Unknown FSCTLs get STATUS_INVALID_DEVICE_REQUEST, as a Windows file system answers them.
//!
//! Access: like the Windows I/O manager, the access bits of a control code decide what the
//! open must have been granted (`FILE_READ_ACCESS` → FILE_READ_DATA, `FILE_WRITE_ACCESS`
//! → FILE_WRITE_DATA; see [`required_access`]); SET_SPARSE, which is FILE_ANY_ACCESS,
//! checks its own rule.

use std::rc::Rc;

use smb_proto::{Item, Reply};
use smb_vfs::{Handle, Vfs};
use smb_wire::fscc::{access, attr};
use smb_wire::fsctl::{
    self, FileAllocatedRangeBuffer, FileZeroDataInformation, SetSparseBuffer, SrvCopychunkCopy,
    SrvCopychunkResponse,
};
use smb_wire::ioctl::{IoctlRequest, IoctlResponse};
use smb_wire::message::Response;
use smb_wire::{FileId, NtStatus};

use super::{Chain, R};
use crate::conn::Conn;
use crate::errno::status_of;
use crate::files::FileKey;
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
            // MS-SMB2 3.3.5.15: this FSCTL names no open; any FileId but all-ones is
            // INVALID_PARAMETER, checked before the output size (smbtorture bug14788).
            if req.file_id != FileId::ANY {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            let list = crate::netif::interfaces(c.server.smb_direct_serving());
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
        fsctl::FSCTL_GET_COMPRESSION => {
            let f = file_open(c, item, &req, chain)?;
            // MS-FSA 2.1.5.10.9: room for the USHORT or INVALID_PARAMETER.
            if req.max_output_response < 2 {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            let out = fsctl::COMPRESSION_FORMAT_NONE.to_le_bytes().to_vec();
            reply(&req, f.fid, out, NtStatus::SUCCESS)
        }
        fsctl::FSCTL_SET_COMPRESSION => {
            let f = file_open(c, item, &req, chain)?;
            // No compression here: turning it off is a no-op, turning it on unsupported.
            let format = fsctl::decode_compression_state(&req.input)
                .map_err(|_| NtStatus::INVALID_PARAMETER)?;
            if format != fsctl::COMPRESSION_FORMAT_NONE {
                return Err(NtStatus::NOT_SUPPORTED);
            }
            reply(&req, f.fid, Vec::new(), NtStatus::SUCCESS)
        }
        fsctl::FSCTL_CREATE_OR_GET_OBJECT_ID => {
            let f = file_open(c, item, &req, chain)?;
            // MS-FSCC 2.3.8 FILE_OBJECTID_BUFFER: 64 bytes, or nothing.
            if req.max_output_response < 64 {
                return Err(NtStatus::BUFFER_TOO_SMALL);
            }
            reply(&req, f.fid, object_id_buffer(f.key), NtStatus::SUCCESS)
        }
        fsctl::FSCTL_SET_SPARSE => set_sparse(c, item, &req, chain).await,
        fsctl::FSCTL_QUERY_ALLOCATED_RANGES => query_allocated_ranges(c, item, &req, chain).await,
        fsctl::FSCTL_SET_ZERO_DATA => set_zero_data(c, item, &req, chain).await,
        _ => {
            super::tree_of(c, item)?;
            Err(NtStatus::INVALID_DEVICE_REQUEST)
        }
    }
}

/// A FILE_OBJECTID_BUFFER for the file `key` (device, inode) names. Linux keeps no object
/// ids, so the id is derived from the file's identity: stable while the file exists,
/// distinct between files, the same through every open (as an NTFS object id is).
fn object_id_buffer(key: FileKey) -> Vec<u8> {
    let (dev, ino) = key;
    let mut object_id = [0u8; 16];
    object_id[..8].copy_from_slice(&ino.to_le_bytes());
    object_id[8..].copy_from_slice(&dev.to_le_bytes());
    let mut volume_id = [0u8; 16];
    volume_id[..8].copy_from_slice(&dev.to_le_bytes());
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&object_id); // ObjectId
    out.extend_from_slice(&volume_id); // BirthVolumeId
    out.extend_from_slice(&object_id); // BirthObjectId
    out.extend_from_slice(&[0u8; 16]); // DomainId
    out
}

/// What the access bits of a control code (`CTL_CODE`'s bits 14-15) demand of the open:
/// FILE_READ_ACCESS needs FILE_READ_DATA, FILE_WRITE_ACCESS needs FILE_WRITE_DATA, both
/// need both; FILE_ANY_ACCESS nothing.
pub(crate) fn required_access(ctl_code: u32) -> u32 {
    let bits = (ctl_code >> 14) & 3;
    let mut need = 0;
    if bits & 1 != 0 {
        need |= access::FILE_READ_DATA;
    }
    if bits & 2 != 0 {
        need |= access::FILE_WRITE_DATA;
    }
    need
}

/// An open file an FSCTL works on, copied out of the connection state.
struct FileOpen<H> {
    id: u64,
    fid: FileId,
    key: FileKey,
    granted: u32,
    is_dir: bool,
    handle: Rc<H>,
}

/// The open a file-system FSCTL names (pipes get INVALID_DEVICE_REQUEST), after the access
/// its control code requires.
fn file_open<V: Vfs>(
    c: &Conn<V>,
    item: &mut Item,
    req: &IoctlRequest,
    chain: &Chain,
) -> Result<FileOpen<V::Handle>, NtStatus> {
    let id = super::file_id_of(c, item, req.file_id, chain)?;
    let st = c.st.borrow();
    let o = st.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
    let handle = match &o.kind {
        OpenKind::File(h) => h.clone(),
        OpenKind::Pipe(_) => return Err(NtStatus::INVALID_DEVICE_REQUEST),
    };
    let need = required_access(req.ctl_code);
    if o.access & need != need {
        return Err(NtStatus::ACCESS_DENIED);
    }
    Ok(FileOpen {
        id,
        fid: o.file_id,
        key: o.key,
        granted: o.access,
        is_dir: o.is_dir,
        handle,
    })
}

/// FSCTL_SET_SPARSE (MS-FSA 2.1.5.10.38). The flag lives with the DOS attributes; clearing
/// it allocates the file's holes again (best effort: filesystems without preallocation
/// keep them, which only the allocation size shows).
async fn set_sparse<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: &IoctlRequest,
    chain: &mut Chain,
) -> R {
    let f = file_open(c, item, req, chain)?;
    if f.is_dir {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    // MS-FSA names WRITE_DATA and WRITE_ATTRIBUTES; Windows also takes APPEND_DATA.
    let may = access::FILE_WRITE_DATA | access::FILE_WRITE_ATTRIBUTES | access::FILE_APPEND_DATA;
    if f.granted & may == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let set = SetSparseBuffer::decode(&req.input).set_sparse;
    let st = f.handle.stat().await.map_err(|e| status_of(&e))?;
    let shown = super::dos_attributes(&st) & !(attr::NORMAL | attr::DIRECTORY);
    if (shown & attr::SPARSE_FILE != 0) != set {
        if set {
            f.handle
                .set_dos(Some(shown | attr::SPARSE_FILE), None)
                .await
                .map_err(|e| status_of(&e))?;
        } else {
            let writable = f.granted & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) != 0;
            if writable && st.size > 0 {
                f.handle
                    .allocate(st.size)
                    .await
                    .map_err(|e| status_of(&e))?;
            }
            f.handle
                .set_dos(Some(shown & !attr::SPARSE_FILE), None)
                .await
                .map_err(|e| status_of(&e))?;
        }
    }
    reply(req, f.fid, Vec::new(), NtStatus::SUCCESS)
}

/// FSCTL_QUERY_ALLOCATED_RANGES (MS-FSA 2.1.5.10.22): a sparse file's data ranges from the
/// filesystem; a file that is not sparse is allocated throughout.
async fn query_allocated_ranges<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: &IoctlRequest,
    chain: &mut Chain,
) -> R {
    let f = file_open(c, item, req, chain)?;
    if f.is_dir {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let q =
        FileAllocatedRangeBuffer::decode(&req.input).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    let max_output = req.max_output_response as usize;
    let fit = max_output / FileAllocatedRangeBuffer::SIZE;
    let st = f.handle.stat().await.map_err(|e| status_of(&e))?;
    let ranges: Vec<(u64, u64)> = if st.dos_attributes & attr::SPARSE_FILE != 0 {
        // One more than fits tells whether the answer overflows.
        f.handle
            .data_ranges(q.file_offset, q.length, fit.saturating_add(1))
            .await
            .map_err(|e| status_of(&e))?
    } else {
        let end = q.file_offset.saturating_add(q.length).min(st.size);
        if q.file_offset < end {
            vec![(q.file_offset, end - q.file_offset)]
        } else {
            Vec::new()
        }
    };
    let ranges: Vec<FileAllocatedRangeBuffer> = ranges
        .into_iter()
        .map(|(file_offset, length)| FileAllocatedRangeBuffer {
            file_offset,
            length,
        })
        .collect();
    if ranges.is_empty() {
        return reply(req, f.fid, Vec::new(), NtStatus::SUCCESS);
    }
    if fit == 0 {
        return Err(NtStatus::BUFFER_TOO_SMALL);
    }
    let mut out = Vec::new();
    let status = if fsctl::encode_allocated_ranges(&ranges, max_output, &mut out) {
        NtStatus::SUCCESS
    } else {
        NtStatus::BUFFER_OVERFLOW
    };
    reply(req, f.fid, out, status)
}

/// FSCTL_SET_ZERO_DATA (MS-FSA 2.1.5.10.39): zeros inside the file (never past its end);
/// a sparse file's whole blocks in the range are deallocated, other files stay allocated.
async fn set_zero_data<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: &IoctlRequest,
    chain: &mut Chain,
) -> R {
    let f = file_open(c, item, req, chain)?;
    if f.is_dir {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let z = FileZeroDataInformation::decode(&req.input).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    let len = z.beyond_final_zero - z.file_offset;
    if len == 0 {
        return reply(req, f.fid, Vec::new(), NtStatus::SUCCESS);
    }
    if c.server
        .files
        .io_conflict(f.key, f.id, z.file_offset, len, true)
    {
        return Err(NtStatus::FILE_LOCK_CONFLICT);
    }
    let st = f.handle.stat().await.map_err(|e| status_of(&e))?;
    let sparse = st.dos_attributes & attr::SPARSE_FILE != 0;
    f.handle
        .zero_range(z.file_offset, len, sparse)
        .await
        .map_err(|e| status_of(&e))?;
    reply(req, f.fid, Vec::new(), NtStatus::SUCCESS)
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
    let (dst_fid, dst_key, dst_access) =
        c.st.borrow()
            .opens
            .get(&dst)
            .map(|o| (o.file_id, o.key, o.access))
            .ok_or(NtStatus::FILE_CLOSED)?;
    if req.max_output_response < 12 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let copy = match SrvCopychunkCopy::decode(&req.input) {
        Ok(copy) => copy,
        // Too many chunks: the limits go back with the error (MS-SMB2 3.3.5.15.6).
        Err(smb_wire::WireError::TooLarge) => {
            return copy_response(
                &req,
                dst_fid,
                SrvCopychunkResponse::limits(),
                NtStatus::INVALID_PARAMETER,
            )
        }
        Err(_) => return Err(NtStatus::INVALID_PARAMETER),
    };
    let total: u64 = copy.chunks.iter().map(|ch| u64::from(ch.length)).sum();
    if copy.chunks.len() as u32 > COPYCHUNK_MAX_CHUNKS
        || copy
            .chunks
            .iter()
            .any(|ch| ch.length > COPYCHUNK_MAX_CHUNK_SIZE || ch.length == 0)
        || total > u64::from(COPYCHUNK_MAX_TOTAL)
    {
        return copy_response(
            &req,
            dst_fid,
            SrvCopychunkResponse::limits(),
            NtStatus::INVALID_PARAMETER,
        );
    }
    // The source is an open of this session identified by its resume key.
    let src = {
        let st = c.st.borrow();
        st.opens
            .iter()
            .find(|(_, o)| {
                resume_key(o.file_id) == copy.source_key && o.session_id == item.hdr.session_id
            })
            .map(|(k, o)| (*k, o.key, o.access))
    };
    let Some((src, src_key, src_access)) = src else {
        return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
    };
    // The source is read (READ_DATA or EXECUTE, as for READ); the target is written, and
    // FSCTL_SRV_COPYCHUNK (FILE_READ_ACCESS in its control code) also needs it readable.
    if src_access & (access::FILE_READ_DATA | access::FILE_EXECUTE) == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let need = access::FILE_WRITE_DATA | required_access(req.ctl_code);
    if dst_access & need != need {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let sh = super::handle_of(c, src)?;
    let dh = super::handle_of(c, dst)?;
    let mut written = 0u32;
    let mut chunks = 0u32;
    // A failure after the checks still reports what was copied so far.
    let answer = |chunks: u32, written: u32, status: NtStatus| {
        let rsp = SrvCopychunkResponse {
            chunks_written: chunks,
            chunk_bytes_written: 0,
            total_bytes_written: written,
        };
        copy_response(&req, dst_fid, rsp, status)
    };
    for ch in &copy.chunks {
        let len = u64::from(ch.length);
        // Like READ and WRITE, the copy honours other opens' byte-range locks.
        let files = &c.server.files;
        if files.io_conflict(src_key, src, ch.source_offset, len, false)
            || files.io_conflict(dst_key, dst, ch.target_offset, len, true)
        {
            return answer(chunks, written, NtStatus::FILE_LOCK_CONFLICT);
        }
        let (res, buf) = sh
            .read_exact_at(Vec::with_capacity(ch.length as usize), ch.source_offset)
            .await;
        let n = match res {
            Ok(n) => n,
            Err(e) => return answer(chunks, written, status_of(&e)),
        };
        if n < ch.length as usize {
            // Reading past the end of the source fails the copy (Windows semantics).
            return answer(chunks, written, NtStatus::INVALID_VIEW_SIZE);
        }
        let (res, _) = dh.write_all_at(buf, ch.target_offset).await;
        if let Err(e) = res {
            return answer(chunks, written, status_of(&e));
        }
        written = written.saturating_add(ch.length);
        chunks += 1;
    }
    answer(chunks, written, NtStatus::SUCCESS)
}

/// A copychunk reply: always the whole 12-byte SRV_COPYCHUNK_RESPONSE, whatever the status.
fn copy_response(
    req: &IoctlRequest,
    fid: FileId,
    rsp: SrvCopychunkResponse,
    status: NtStatus,
) -> R {
    let mut out = Vec::with_capacity(12);
    rsp.encode(&mut out);
    reply(req, fid, out, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_code_access_bits_decide_the_data_access_needed() {
        let r = access::FILE_READ_DATA;
        let w = access::FILE_WRITE_DATA;
        // FILE_READ_ACCESS, FILE_WRITE_ACCESS, both, and FILE_ANY_ACCESS (MS-FSCC 2.3).
        assert_eq!(required_access(fsctl::FSCTL_QUERY_ALLOCATED_RANGES), r);
        assert_eq!(required_access(fsctl::FSCTL_SET_ZERO_DATA), w);
        assert_eq!(required_access(fsctl::FSCTL_SET_COMPRESSION), r | w);
        assert_eq!(required_access(fsctl::FSCTL_GET_COMPRESSION), 0);
        assert_eq!(required_access(fsctl::FSCTL_SET_SPARSE), 0);
        // Copychunk reads the target too; copychunk-write does not.
        assert_eq!(required_access(fsctl::FSCTL_SRV_COPYCHUNK), r);
        assert_eq!(required_access(fsctl::FSCTL_SRV_COPYCHUNK_WRITE), w);
        assert_eq!(required_access(fsctl::ctl_code(0x9, 1, 0, 3)), r | w);
    }
}
