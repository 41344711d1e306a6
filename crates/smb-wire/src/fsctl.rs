//! FSCTL/IOCTL control codes and the payloads of the SMB2 IOCTL request and response buffers
//! (MS-SMB2 2.2.31.1 - 2.2.32.5, MS-FSCC 2.3).
//!
//! Request payloads decode (bounds-checked, counts bounded), response payloads encode. What
//! a control code *does* is the server's business; this module only knows the bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::codec::{sat32, utf16le_to_string, Reader, Writer};
use crate::WireError;

/// Build a control code from its parts, as the Windows `CTL_CODE` macro does.
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    (device_type << 16) | (access << 14) | (function << 2) | method
}

/// Control codes (MS-FSCC 2.3, MS-SMB2 2.2.31).
pub mod code {
    #![allow(missing_docs)]
    pub const FSCTL_DFS_GET_REFERRALS: u32 = 0x0006_0194;
    pub const FSCTL_DFS_GET_REFERRALS_EX: u32 = 0x0006_01B0;
    pub const FSCTL_PIPE_PEEK: u32 = 0x0011_400C;
    pub const FSCTL_PIPE_WAIT: u32 = 0x0011_0018;
    pub const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_C017;
    pub const FSCTL_SRV_COPYCHUNK: u32 = 0x0014_40F2;
    pub const FSCTL_SRV_COPYCHUNK_WRITE: u32 = 0x0014_80F2;
    pub const FSCTL_SRV_ENUMERATE_SNAPSHOTS: u32 = 0x0014_4064;
    pub const FSCTL_SRV_REQUEST_RESUME_KEY: u32 = 0x0014_0078;
    pub const FSCTL_SRV_READ_HASH: u32 = 0x0014_41BB;
    pub const FSCTL_LMR_REQUEST_RESILIENCY: u32 = 0x0014_01D4;
    pub const FSCTL_QUERY_NETWORK_INTERFACE_INFO: u32 = 0x0014_01FC;
    pub const FSCTL_VALIDATE_NEGOTIATE_INFO: u32 = 0x0014_0204;
    pub const FSCTL_IS_PATHNAME_VALID: u32 = 0x0009_002C;
    pub const FSCTL_GET_COMPRESSION: u32 = 0x0009_003C;
    pub const FSCTL_SET_COMPRESSION: u32 = 0x0009_C040;
    pub const FSCTL_FILESYSTEM_GET_STATISTICS: u32 = 0x0009_0060;
    pub const FSCTL_GET_NTFS_VOLUME_DATA: u32 = 0x0009_0064;
    pub const FSCTL_GET_RETRIEVAL_POINTERS: u32 = 0x0009_0073;
    pub const FSCTL_FIND_FILES_BY_SID: u32 = 0x0009_008F;
    pub const FSCTL_SET_OBJECT_ID: u32 = 0x0009_0098;
    pub const FSCTL_GET_OBJECT_ID: u32 = 0x0009_009C;
    pub const FSCTL_DELETE_OBJECT_ID: u32 = 0x0009_00A0;
    pub const FSCTL_SET_REPARSE_POINT: u32 = 0x0009_00A4;
    pub const FSCTL_GET_REPARSE_POINT: u32 = 0x0009_00A8;
    pub const FSCTL_DELETE_REPARSE_POINT: u32 = 0x0009_00AC;
    pub const FSCTL_SET_OBJECT_ID_EXTENDED: u32 = 0x0009_00BC;
    pub const FSCTL_CREATE_OR_GET_OBJECT_ID: u32 = 0x0009_00C0;
    pub const FSCTL_SET_SPARSE: u32 = 0x0009_00C4;
    pub const FSCTL_SET_ZERO_DATA: u32 = 0x0009_80C8;
    pub const FSCTL_QUERY_ALLOCATED_RANGES: u32 = 0x0009_40CF;
    pub const FSCTL_READ_FILE_USN_DATA: u32 = 0x0009_00EB;
    pub const FSCTL_WRITE_USN_CLOSE_RECORD: u32 = 0x0009_00EF;
    pub const FSCTL_SET_ZERO_ON_DEALLOCATION: u32 = 0x0009_0194;
    pub const FSCTL_SET_SHORT_NAME_BEHAVIOR: u32 = 0x0009_01B4;
    pub const FSCTL_FILE_LEVEL_TRIM: u32 = 0x0009_8208;
    pub const FSCTL_OFFLOAD_READ: u32 = 0x0009_4264;
    pub const FSCTL_OFFLOAD_WRITE: u32 = 0x0009_8268;
    pub const FSCTL_GET_INTEGRITY_INFORMATION: u32 = 0x0009_027C;
    pub const FSCTL_SET_INTEGRITY_INFORMATION: u32 = 0x0009_C280;
    pub const FSCTL_QUERY_FILE_REGIONS: u32 = 0x0009_0284;
    pub const FSCTL_DUPLICATE_EXTENTS_TO_FILE: u32 = 0x0009_8344;
    pub const FSCTL_DUPLICATE_EXTENTS_TO_FILE_EX: u32 = 0x0009_83E8;
}

pub use code::*;

/// SMB2 IOCTL request flag: the request is an FSCTL (MS-SMB2 2.2.31).
pub const SMB2_0_IOCTL_IS_FSCTL: u32 = 0x0000_0001;

// ---------------------------------------------------------------------------------------
// VALIDATE_NEGOTIATE_INFO
// ---------------------------------------------------------------------------------------

/// Most dialects a VALIDATE_NEGOTIATE_INFO request may list (a real client sends ≤ 6).
pub const MAX_VALIDATE_DIALECTS: usize = 64;

/// VALIDATE_NEGOTIATE_INFO request (MS-SMB2 2.2.31.4): what the client sent in NEGOTIATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateNegotiateInfoRequest {
    /// The client's Capabilities.
    pub capabilities: u32,
    /// The client's ClientGuid.
    pub guid: [u8; 16],
    /// The client's SecurityMode.
    pub security_mode: u16,
    /// The client's dialect list.
    pub dialects: Vec<u16>,
}

impl ValidateNegotiateInfoRequest {
    /// Decode; the dialect array must be fully present and at most
    /// [`MAX_VALIDATE_DIALECTS`] long ([`WireError::TooLarge`]).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let capabilities = r.u32()?;
        let guid = r.array::<16>()?;
        let security_mode = r.u16()?;
        let count = usize::from(r.u16()?);
        if count > MAX_VALIDATE_DIALECTS {
            return Err(WireError::TooLarge);
        }
        let mut dialects = Vec::with_capacity(count);
        for _ in 0..count {
            dialects.push(r.u16()?);
        }
        Ok(Self {
            capabilities,
            guid,
            security_mode,
            dialects,
        })
    }

    /// Encode (for tests and clients).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.capabilities);
        out.put_bytes(&self.guid);
        out.put_u16(self.security_mode);
        out.put_u16(u16::try_from(self.dialects.len()).unwrap_or(u16::MAX));
        for d in self.dialects.iter().take(usize::from(u16::MAX)) {
            out.put_u16(*d);
        }
    }
}

/// VALIDATE_NEGOTIATE_INFO response (MS-SMB2 2.2.32.6): what the server chose, 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidateNegotiateInfoResponse {
    /// The server's Capabilities.
    pub capabilities: u32,
    /// The server's ServerGuid.
    pub guid: [u8; 16],
    /// The server's SecurityMode.
    pub security_mode: u16,
    /// The negotiated dialect.
    pub dialect: u16,
}

impl ValidateNegotiateInfoResponse {
    /// Encoded size.
    pub const SIZE: usize = 24;
    /// Append the 24-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.capabilities);
        out.put_bytes(&self.guid);
        out.put_u16(self.security_mode);
        out.put_u16(self.dialect);
    }
    /// Decode (for tests and clients).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        Ok(Self {
            capabilities: r.u32()?,
            guid: r.array()?,
            security_mode: r.u16()?,
            dialect: r.u16()?,
        })
    }
}

// ---------------------------------------------------------------------------------------
// QUERY_NETWORK_INTERFACE_INFO
// ---------------------------------------------------------------------------------------

/// Capability bit: the interface supports receive side scaling.
pub const RSS_CAPABLE: u32 = 0x0000_0001;
/// Capability bit: the interface supports RDMA (SMB Direct).
pub const RDMA_CAPABLE: u32 = 0x0000_0002;

/// Address family of an IPv4 SOCKADDR_IN.
pub const AF_INET: u16 = 0x0002;
/// Address family of an IPv6 SOCKADDR_IN6 (Windows' value).
pub const AF_INET6: u16 = 0x0017;

/// One NETWORK_INTERFACE_INFO entry (MS-SMB2 2.2.32.5), 152 bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkInterfaceInfo {
    /// Interface index.
    pub if_index: u32,
    /// [`RSS_CAPABLE`] | [`RDMA_CAPABLE`].
    pub capability: u32,
    /// Link speed in bits per second.
    pub link_speed: u64,
    /// The address; the port is not carried (written as 0, decoded as 0).
    pub addr: SocketAddr,
}

/// Size of one NETWORK_INTERFACE_INFO entry.
pub const NETWORK_INTERFACE_INFO_SIZE: usize = 152;
const SOCKADDR_STORAGE_SIZE: usize = 128;

impl NetworkInterfaceInfo {
    fn encode(&self, next: u32, out: &mut Vec<u8>) {
        out.put_u32(next);
        out.put_u32(self.if_index);
        out.put_u32(self.capability);
        out.put_u32(0);
        out.put_u64(self.link_speed);
        let start = out.len();
        match self.addr.ip() {
            IpAddr::V4(a) => {
                out.put_u16(AF_INET);
                out.put_u16(0);
                out.put_bytes(&a.octets());
            }
            IpAddr::V6(a) => {
                out.put_u16(AF_INET6);
                out.put_u16(0);
                out.put_u32(0);
                out.put_bytes(&a.octets());
                out.put_u32(0);
            }
        }
        let used = out.len() - start;
        out.put_zeros(SOCKADDR_STORAGE_SIZE - used);
    }
}

/// Append the FSCTL_QUERY_NETWORK_INTERFACE_INFO output: the entries back to back, each
/// `Next` pointing to the following one (152) and the last one 0.
pub fn encode_network_interfaces(list: &[NetworkInterfaceInfo], out: &mut Vec<u8>) {
    let n = list.len();
    for (i, e) in list.iter().enumerate() {
        let next = if i + 1 == n {
            0
        } else {
            sat32(NETWORK_INTERFACE_INFO_SIZE)
        };
        e.encode(next, out);
    }
}

/// Most entries [`decode_network_interfaces`] accepts.
pub const MAX_NETWORK_INTERFACES: usize = 256;

/// Decode a NETWORK_INTERFACE_INFO chain (clients and tests). Each `Next` must move
/// forward by at least one entry and stay inside `buf`; unknown address families are a
/// [`WireError::BadValue`].
pub fn decode_network_interfaces(buf: &[u8]) -> Result<Vec<NetworkInterfaceInfo>, WireError> {
    let mut out = Vec::new();
    let mut off = 0usize;
    loop {
        if out.len() == MAX_NETWORK_INTERFACES {
            return Err(WireError::TooLarge);
        }
        let mut r = Reader::at(buf, off);
        let next = r.u32()? as usize;
        let if_index = r.u32()?;
        let capability = r.u32()?;
        r.skip(4)?;
        let link_speed = r.u64()?;
        let sa = r.bytes(SOCKADDR_STORAGE_SIZE)?;
        let mut s = Reader::new(sa);
        let family = s.u16()?;
        s.skip(2)?;
        let ip = match family {
            AF_INET => IpAddr::V4(Ipv4Addr::from(s.array::<4>()?)),
            AF_INET6 => {
                s.skip(4)?;
                IpAddr::V6(Ipv6Addr::from(s.array::<16>()?))
            }
            _ => return Err(WireError::BadValue),
        };
        out.push(NetworkInterfaceInfo {
            if_index,
            capability,
            link_speed,
            addr: SocketAddr::new(ip, 0),
        });
        if next == 0 {
            return Ok(out);
        }
        if next < NETWORK_INTERFACE_INFO_SIZE {
            return Err(WireError::BadOffset);
        }
        off = off.checked_add(next).ok_or(WireError::BadOffset)?;
    }
}

// ---------------------------------------------------------------------------------------
// Server-side copy
// ---------------------------------------------------------------------------------------

/// Windows' limit on chunks per copychunk request (ServerSideCopyMaxNumberofChunks).
pub const COPYCHUNK_MAX_CHUNKS: u32 = 256;
/// Windows' limit on one chunk (ServerSideCopyMaxChunkSize).
pub const COPYCHUNK_MAX_CHUNK_SIZE: u32 = 1024 * 1024;
/// Windows' limit on one request's total (ServerSideCopyMaxDataSize).
pub const COPYCHUNK_MAX_DATA_SIZE: u32 = 16 * 1024 * 1024;

/// One SRV_COPYCHUNK (MS-SMB2 2.2.31.1.1), 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrvCopychunk {
    /// Offset in the source file.
    pub source_offset: u64,
    /// Offset in the target (the handle the IOCTL is sent on).
    pub target_offset: u64,
    /// Bytes to copy.
    pub length: u32,
}

/// SRV_COPYCHUNK_COPY (MS-SMB2 2.2.31.1): the source's resume key and the chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvCopychunkCopy {
    /// The key from FSCTL_SRV_REQUEST_RESUME_KEY.
    pub source_key: [u8; 24],
    /// The chunks, at most [`COPYCHUNK_MAX_CHUNKS`].
    pub chunks: Vec<SrvCopychunk>,
}

impl SrvCopychunkCopy {
    /// Decode. A ChunkCount above [`COPYCHUNK_MAX_CHUNKS`] is a [`WireError::TooLarge`]
    /// (the server answers STATUS_INVALID_PARAMETER with [`SrvCopychunkResponse::limits`]);
    /// fewer chunk bytes than ChunkCount says is a [`WireError::Truncated`].
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let source_key = r.array::<24>()?;
        let count = r.u32()?;
        r.skip(4)?;
        if count > COPYCHUNK_MAX_CHUNKS {
            return Err(WireError::TooLarge);
        }
        let mut chunks = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let source_offset = r.u64()?;
            let target_offset = r.u64()?;
            let length = r.u32()?;
            r.skip(4)?;
            chunks.push(SrvCopychunk {
                source_offset,
                target_offset,
                length,
            });
        }
        Ok(Self { source_key, chunks })
    }

    /// Encode (clients and tests).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_bytes(&self.source_key);
        out.put_u32(sat32(self.chunks.len()));
        out.put_u32(0);
        for c in &self.chunks {
            out.put_u64(c.source_offset);
            out.put_u64(c.target_offset);
            out.put_u32(c.length);
            out.put_u32(0);
        }
    }
}

/// SRV_COPYCHUNK_RESPONSE (MS-SMB2 2.2.32.1), 12 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrvCopychunkResponse {
    /// Chunks written (or, on STATUS_INVALID_PARAMETER, the maximum chunk count).
    pub chunks_written: u32,
    /// Bytes written in a partial last chunk (or the maximum chunk size).
    pub chunk_bytes_written: u32,
    /// Total bytes written (or the maximum total).
    pub total_bytes_written: u32,
}

impl SrvCopychunkResponse {
    /// The response carrying the server's limits, sent with STATUS_INVALID_PARAMETER.
    pub fn limits() -> Self {
        Self {
            chunks_written: COPYCHUNK_MAX_CHUNKS,
            chunk_bytes_written: COPYCHUNK_MAX_CHUNK_SIZE,
            total_bytes_written: COPYCHUNK_MAX_DATA_SIZE,
        }
    }
    /// Append the 12-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.chunks_written);
        out.put_u32(self.chunk_bytes_written);
        out.put_u32(self.total_bytes_written);
    }
}

/// SRV_REQUEST_RESUME_KEY response (MS-SMB2 2.2.32.3), 32 bytes as Windows sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeKeyResponse {
    /// Opaque key identifying the open.
    pub key: [u8; 24],
}

impl ResumeKeyResponse {
    /// Encoded size (MS-SMB2 3.3.5.15.5: OutputCount MUST be 32).
    pub const SIZE: usize = 32;
    /// Append key, ContextLength 0 and 4 bytes of empty context.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_bytes(&self.key);
        out.put_u32(0);
        out.put_u32(0);
    }
}

// ---------------------------------------------------------------------------------------
// Sparse files, object ids, pipes, snapshots, misc
// ---------------------------------------------------------------------------------------

fn nonneg(v: i64) -> Result<u64, WireError> {
    u64::try_from(v).map_err(|_| WireError::BadValue)
}

/// FILE_SET_SPARSE_BUFFER (MS-FSCC 2.3.84), the optional input of FSCTL_SET_SPARSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetSparseBuffer {
    /// Make the file sparse (TRUE) or not (FALSE).
    pub set_sparse: bool,
}

impl SetSparseBuffer {
    /// Decode; never fails. The buffer is optional: an empty one means TRUE (MS-FSA
    /// 2.1.5.10.38); otherwise any nonzero first byte is TRUE and bytes after it are
    /// ignored, as Windows does with an oversized buffer.
    pub fn decode(buf: &[u8]) -> Self {
        Self {
            set_sparse: buf.first().is_none_or(|&b| b != 0),
        }
    }
    /// Append the 1-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(u8::from(self.set_sparse));
    }
}

/// FILE_ZERO_DATA_INFORMATION (MS-FSCC 2.3.86), input of FSCTL_SET_ZERO_DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileZeroDataInformation {
    /// First byte to zero.
    pub file_offset: u64,
    /// First byte after the range.
    pub beyond_final_zero: u64,
}

impl FileZeroDataInformation {
    /// Decode; negative offsets or `beyond_final_zero < file_offset` are a
    /// [`WireError::BadValue`].
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let file_offset = nonneg(r.i64()?)?;
        let beyond_final_zero = nonneg(r.i64()?)?;
        if beyond_final_zero < file_offset {
            return Err(WireError::BadValue);
        }
        Ok(Self {
            file_offset,
            beyond_final_zero,
        })
    }
    /// Append the 16-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.file_offset);
        out.put_u64(self.beyond_final_zero);
    }
}

/// FILE_ALLOCATED_RANGE_BUFFER (MS-FSCC 2.3.52): input and output element of
/// FSCTL_QUERY_ALLOCATED_RANGES.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileAllocatedRangeBuffer {
    /// Start of the range.
    pub file_offset: u64,
    /// Length of the range.
    pub length: u64,
}

impl FileAllocatedRangeBuffer {
    /// Encoded size.
    pub const SIZE: usize = 16;
    /// Decode the request's range; negative values or an overflowing end are a
    /// [`WireError::BadValue`].
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let file_offset = nonneg(r.i64()?)?;
        let length = nonneg(r.i64()?)?;
        if i64::try_from(file_offset.saturating_add(length)).is_err() {
            return Err(WireError::BadValue);
        }
        Ok(Self {
            file_offset,
            length,
        })
    }
    /// Append the 16-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.file_offset);
        out.put_u64(self.length);
    }
}

/// Append as many `ranges` as fit in `max_output` bytes; returns whether all fitted (if
/// not, the server answers STATUS_BUFFER_OVERFLOW with what was written).
pub fn encode_allocated_ranges(
    ranges: &[FileAllocatedRangeBuffer],
    max_output: usize,
    out: &mut Vec<u8>,
) -> bool {
    let fit = max_output / FileAllocatedRangeBuffer::SIZE;
    for r in ranges.iter().take(fit) {
        r.encode(out);
    }
    ranges.len() <= fit
}

/// FILE_OBJECTID_BUFFER (MS-FSCC 2.1.3), 64 bytes: output of FSCTL_GET_OBJECT_ID and
/// FSCTL_CREATE_OR_GET_OBJECT_ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectIdBuffer {
    /// The file's object id.
    pub object_id: [u8; 16],
    /// Volume id at creation.
    pub birth_volume_id: [u8; 16],
    /// Object id at creation.
    pub birth_object_id: [u8; 16],
    /// Domain id (zero).
    pub domain_id: [u8; 16],
}

impl ObjectIdBuffer {
    /// Encoded size.
    pub const SIZE: usize = 64;
    /// Append the 64-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_bytes(&self.object_id);
        out.put_bytes(&self.birth_volume_id);
        out.put_bytes(&self.birth_object_id);
        out.put_bytes(&self.domain_id);
    }
    /// Decode (FSCTL_SET_OBJECT_ID input).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        Ok(Self {
            object_id: r.array()?,
            birth_volume_id: r.array()?,
            birth_object_id: r.array()?,
            domain_id: r.array()?,
        })
    }
}

/// FSCTL_PIPE_WAIT request (MS-FSCC 2.3.49).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeWaitRequest {
    /// Timeout in 100 ns units, if `timeout_specified`.
    pub timeout: i64,
    /// Whether `timeout` applies.
    pub timeout_specified: bool,
    /// Pipe name without the `\pipe\` prefix.
    pub name: String,
}

/// Longest pipe name accepted (bytes of UTF-16).
pub const MAX_PIPE_NAME_BYTES: usize = 512;

impl PipeWaitRequest {
    /// Decode; a NameLength above [`MAX_PIPE_NAME_BYTES`] is a [`WireError::TooLarge`].
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let timeout = r.i64()?;
        let len = r.u32()? as usize;
        let timeout_specified = r.u8()? != 0;
        r.skip(1)?;
        if len > MAX_PIPE_NAME_BYTES {
            return Err(WireError::TooLarge);
        }
        let name = utf16le_to_string(r.bytes(len)?)?;
        Ok(Self {
            timeout,
            timeout_specified,
            name,
        })
    }
}

/// NETWORK_RESILIENCY_REQUEST (MS-SMB2 2.2.31.3), input of FSCTL_LMR_REQUEST_RESILIENCY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkResiliencyRequest {
    /// Requested timeout in milliseconds.
    pub timeout: u32,
}

impl NetworkResiliencyRequest {
    /// Decode (8 bytes: Timeout and Reserved).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let timeout = r.u32()?;
        r.skip(4)?;
        Ok(Self { timeout })
    }
}

/// DUPLICATE_EXTENTS_DATA (MS-FSCC 2.3.8), input of FSCTL_DUPLICATE_EXTENTS_TO_FILE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateExtentsData {
    /// SMB2 FileId of the source: persistent then volatile.
    pub source_file_id: (u64, u64),
    /// Offset in the source.
    pub source_offset: u64,
    /// Offset in the target.
    pub target_offset: u64,
    /// Bytes to clone.
    pub byte_count: u64,
}

impl DuplicateExtentsData {
    /// Decode (40 bytes); negative offsets or counts are a [`WireError::BadValue`].
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let persistent = r.u64()?;
        let volatile = r.u64()?;
        Ok(Self {
            source_file_id: (persistent, volatile),
            source_offset: nonneg(r.i64()?)?,
            target_offset: nonneg(r.i64()?)?,
            byte_count: nonneg(r.i64()?)?,
        })
    }
}

/// COMPRESSION_FORMAT_NONE.
pub const COMPRESSION_FORMAT_NONE: u16 = 0;
/// COMPRESSION_FORMAT_DEFAULT.
pub const COMPRESSION_FORMAT_DEFAULT: u16 = 1;
/// COMPRESSION_FORMAT_LZNT1.
pub const COMPRESSION_FORMAT_LZNT1: u16 = 2;

/// Decode the u16 CompressionState of FSCTL_SET_COMPRESSION (MS-FSCC 2.3.67); values
/// other than NONE, DEFAULT and LZNT1 are a [`WireError::BadValue`].
pub fn decode_compression_state(buf: &[u8]) -> Result<u16, WireError> {
    let v = Reader::new(buf).u16()?;
    if v > COMPRESSION_FORMAT_LZNT1 {
        return Err(WireError::BadValue);
    }
    Ok(v)
}

/// SRV_SNAPSHOT_ARRAY (MS-SMB2 2.2.32.2), the FSCTL_SRV_ENUMERATE_SNAPSHOTS output.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SrvSnapshotArray {
    /// Snapshot labels in the `@GMT-YYYY.MM.DD-HH.MM.SS` form.
    pub snapshots: Vec<String>,
}

impl SrvSnapshotArray {
    /// Bytes of the SnapShots field: each label NUL-terminated, then one more NUL.
    pub fn array_size(&self) -> usize {
        self.snapshots
            .iter()
            .map(|s| 2 * (s.encode_utf16().count() + 1))
            .sum::<usize>()
            + 2
    }

    /// Append the array. If the whole thing does not fit in `max_output` bytes, only the
    /// 12-byte header is written, with NumberOfSnapShotsReturned 0 and SnapShotArraySize
    /// the size the client needs (MS-SMB2 3.3.5.15.1). The caller rejects a `max_output`
    /// below 16 with STATUS_INVALID_PARAMETER before calling.
    pub fn encode(&self, max_output: usize, out: &mut Vec<u8>) {
        let size = self.array_size();
        let n = sat32(self.snapshots.len());
        out.put_u32(n);
        if 12 + size > max_output {
            out.put_u32(0);
            out.put_u32(sat32(size));
            return;
        }
        out.put_u32(n);
        out.put_u32(sat32(size));
        for s in &self.snapshots {
            crate::codec::put_utf16le(out, s);
            out.put_u16(0);
        }
        out.put_u16(0);
    }
}
