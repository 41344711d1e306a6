//! FileId, CLOSE, FLUSH, READ, WRITE and LOCK (MS-SMB2 2.2.15 to 2.2.27).

use bytes::Bytes;

use crate::codec::{body_reader, buffer_at, sat16, sat32, Reader, Writer};
use crate::netbios::MAX_FRAME;
use crate::session::empty_body;
use crate::WireError;

/// An SMB2 file handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileId {
    /// Persistent part.
    pub persistent: u64,
    /// Volatile part.
    pub volatile: u64,
}

impl FileId {
    /// All ones: "the handle created by the previous request" in a related compound.
    pub const ANY: FileId = FileId {
        persistent: u64::MAX,
        volatile: u64::MAX,
    };

    /// Read 16 bytes.
    pub fn read(r: &mut Reader<'_>) -> Result<FileId, WireError> {
        Ok(FileId {
            persistent: r.u64()?,
            volatile: r.u64()?,
        })
    }

    /// Append 16 bytes.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.put_u64(self.persistent);
        out.put_u64(self.volatile);
    }

    /// Whether this is [`FileId::ANY`].
    pub fn is_any(&self) -> bool {
        *self == FileId::ANY
    }
}

/// Bound on a channel-info buffer (RDMA descriptors).
pub const MAX_CHANNEL_INFO: usize = 4096;
/// Bound on lock elements in one LOCK request.
pub const MAX_LOCKS: usize = 1024;

/// CLOSE flag: return the file attributes in the response.
pub const CLOSE_FLAG_POSTQUERY_ATTRIB: u16 = 0x0001;

/// CLOSE request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRequest {
    /// Flags ([`CLOSE_FLAG_POSTQUERY_ATTRIB`]).
    pub flags: u16,
    /// The handle.
    pub file_id: FileId,
}

impl CloseRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 24;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let flags = r.u16()?;
        r.skip(4)?;
        Ok(CloseRequest {
            flags,
            file_id: FileId::read(&mut r)?,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(self.flags);
        out.put_u32(0);
        self.file_id.write(out);
    }
}

/// CLOSE response; attributes are meaningful only with POSTQUERY_ATTRIB (else zero).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloseResponse {
    /// Flags (echoes POSTQUERY_ATTRIB when the attributes are valid).
    pub flags: u16,
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime.
    pub last_access_time: u64,
    /// LastWriteTime.
    pub last_write_time: u64,
    /// ChangeTime.
    pub change_time: u64,
    /// AllocationSize.
    pub allocation_size: u64,
    /// EndOfFile.
    pub end_of_file: u64,
    /// FileAttributes.
    pub file_attributes: u32,
}

impl CloseResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 60;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let flags = r.u16()?;
        r.skip(4)?;
        Ok(CloseResponse {
            flags,
            creation_time: r.u64()?,
            last_access_time: r.u64()?,
            last_write_time: r.u64()?,
            change_time: r.u64()?,
            allocation_size: r.u64()?,
            end_of_file: r.u64()?,
            file_attributes: r.u32()?,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(self.flags);
        out.put_u32(0);
        out.put_u64(self.creation_time);
        out.put_u64(self.last_access_time);
        out.put_u64(self.last_write_time);
        out.put_u64(self.change_time);
        out.put_u64(self.allocation_size);
        out.put_u64(self.end_of_file);
        out.put_u32(self.file_attributes);
    }
}

/// FLUSH request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushRequest {
    /// The handle.
    pub file_id: FileId,
}

impl FlushRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 24;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        r.skip(6)?;
        Ok(FlushRequest {
            file_id: FileId::read(&mut r)?,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(0);
        out.put_u32(0);
        self.file_id.write(out);
    }
}

empty_body!(
    /// FLUSH response.
    FlushResponse
);

/// Channel values of READ/WRITE.
pub mod channel {
    /// No RDMA.
    pub const NONE: u32 = 0;
    /// RDMA v1.
    pub const RDMA_V1: u32 = 1;
    /// RDMA v1 with remote invalidation.
    pub const RDMA_V1_INVALIDATE: u32 = 2;
    /// RDMA transform.
    pub const RDMA_TRANSFORM: u32 = 3;
}

/// READ request flag: bypass the server cache.
pub const READ_UNBUFFERED: u8 = 0x01;
/// READ request flag: the client asks for a compressed response.
pub const READ_REQUEST_COMPRESSED: u8 = 0x02;

/// READ request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    /// Padding: requested data offset in the response (0x50 usual).
    pub padding: u8,
    /// [`READ_UNBUFFERED`] / [`READ_REQUEST_COMPRESSED`].
    pub flags: u8,
    /// Bytes to read.
    pub length: u32,
    /// File offset.
    pub offset: u64,
    /// The handle.
    pub file_id: FileId,
    /// MinimumCount.
    pub minimum_count: u32,
    /// [`channel`].
    pub channel: u32,
    /// RemainingBytes.
    pub remaining_bytes: u32,
    /// ReadChannelInfo (RDMA buffer descriptors).
    pub read_channel_info: Vec<u8>,
}

impl ReadRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 49;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let padding = r.u8()?;
        let flags = r.u8()?;
        let length = r.u32()?;
        let offset = r.u64()?;
        let file_id = FileId::read(&mut r)?;
        let minimum_count = r.u32()?;
        let channel = r.u32()?;
        let remaining_bytes = r.u32()?;
        let ci_off = r.u16()?;
        let ci_len = r.u16()?;
        let read_channel_info =
            buffer_at(msg, u32::from(ci_off), u32::from(ci_len), MAX_CHANNEL_INFO)?.to_vec();
        Ok(ReadRequest {
            padding,
            flags,
            length,
            offset,
            file_id,
            minimum_count,
            channel,
            remaining_bytes,
            read_channel_info,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u8(self.padding);
        out.put_u8(self.flags);
        out.put_u32(self.length);
        out.put_u64(self.offset);
        self.file_id.write(out);
        out.put_u32(self.minimum_count);
        out.put_u32(self.channel);
        out.put_u32(self.remaining_bytes);
        let ci = if self.read_channel_info.is_empty() {
            0
        } else {
            out.len() + 4
        };
        out.put_u16(sat16(ci));
        out.put_u16(sat16(self.read_channel_info.len()));
        out.put_bytes(&self.read_channel_info);
        if self.read_channel_info.is_empty() {
            out.put_u8(0);
        }
    }
}

/// READ response. The data starts at offset 0x50 of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResponse {
    /// DataRemaining (RDMA: bytes transferred by the channel).
    pub data_remaining: u32,
    /// Flags (3.1.1; 0 unless RDMA transform).
    pub flags: u32,
    /// The data read.
    pub data: Vec<u8>,
}

impl ReadResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 17;
    /// Header-relative offset of the data.
    pub const DATA_OFFSET: u8 = 0x50;
    /// Length of the body in front of the data.
    pub const BODY_SIZE: usize = 16;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let off = r.u8()?;
        r.skip(1)?;
        let len = r.u32()?;
        let data_remaining = r.u32()?;
        let flags = r.u32()?;
        let data = buffer_at(msg, u32::from(off), len, MAX_FRAME)?.to_vec();
        Ok(ReadResponse {
            data_remaining,
            flags,
            data,
        })
    }

    /// Append the 16 fixed bytes announcing `data_len` bytes of data at 0x50; the caller
    /// appends the data itself right after (no copy through this struct).
    pub fn encode_header_only(data_len: usize, data_remaining: u32, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u8(Self::DATA_OFFSET);
        out.put_u8(0);
        out.put_u32(sat32(data_len));
        out.put_u32(data_remaining);
        out.put_u32(0);
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u8(Self::DATA_OFFSET);
        out.put_u8(0);
        out.put_u32(sat32(self.data.len()));
        out.put_u32(self.data_remaining);
        out.put_u32(self.flags);
        out.put_bytes(&self.data);
        // StructureSize 17 counts one byte of Buffer: an empty READ reply carries a pad
        // byte. An RDMA READ reply (its data went by RDMA, DataRemaining says how much)
        // ends at DataOffset instead, as Windows and ksmbd send it: the Linux client reads
        // exactly that far and would take a pad byte for the start of the next message.
        if self.data.is_empty() && self.data_remaining == 0 {
            out.put_u8(0);
        }
    }
}

/// WRITE flag: write through.
pub const WRITE_THROUGH: u32 = 0x0000_0001;
/// WRITE flag: unbuffered.
pub const WRITE_UNBUFFERED: u32 = 0x0000_0002;

/// WRITE request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRequest {
    /// File offset.
    pub offset: u64,
    /// The handle.
    pub file_id: FileId,
    /// [`channel`].
    pub channel: u32,
    /// RemainingBytes.
    pub remaining_bytes: u32,
    /// WriteChannelInfo.
    pub write_channel_info: Vec<u8>,
    /// [`WRITE_THROUGH`] / [`WRITE_UNBUFFERED`].
    pub flags: u32,
    /// The data (empty for an RDMA write): a view of the received message when decoded
    /// with [`WriteRequest::decode_shared`], so that large writes are never copied.
    pub data: Bytes,
}

impl WriteRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 49;

    /// Decode from a whole message (the data is copied out of it).
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        Self::decode_with(msg, |range| {
            msg.get(range)
                .map(Bytes::copy_from_slice)
                .unwrap_or_default()
        })
    }

    /// Decode from a whole message held in `msg`; the data is a view into it, not a copy.
    pub fn decode_shared(msg: &Bytes) -> Result<Self, WireError> {
        Self::decode_with(msg, |range| {
            if range.end <= msg.len() && range.start <= range.end {
                msg.slice(range)
            } else {
                Bytes::new()
            }
        })
    }

    fn decode_with(
        msg: &[u8],
        data_of: impl FnOnce(std::ops::Range<usize>) -> Bytes,
    ) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let data_off = r.u16()?;
        let len = r.u32()?;
        let offset = r.u64()?;
        let file_id = FileId::read(&mut r)?;
        let channel = r.u32()?;
        let remaining_bytes = r.u32()?;
        let ci_off = r.u16()?;
        let ci_len = r.u16()?;
        let flags = r.u32()?;
        // Checked against the message first; only then taken (as a view or a copy).
        let data_len = buffer_at(msg, u32::from(data_off), len, MAX_FRAME)?.len();
        let write_channel_info =
            buffer_at(msg, u32::from(ci_off), u32::from(ci_len), MAX_CHANNEL_INFO)?.to_vec();
        let data = if data_len == 0 {
            Bytes::new()
        } else {
            let start = usize::from(data_off);
            data_of(start..start + data_len)
        };
        Ok(WriteRequest {
            offset,
            file_id,
            channel,
            remaining_bytes,
            write_channel_info,
            flags,
            data,
        })
    }

    /// Append the body: data first (at 0x70), then channel info.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        let data_off_at = out.len();
        out.put_u16(0);
        out.put_u32(sat32(self.data.len()));
        out.put_u64(self.offset);
        self.file_id.write(out);
        out.put_u32(self.channel);
        out.put_u32(self.remaining_bytes);
        let ci_at = out.len();
        out.put_u16(0);
        out.put_u16(sat16(self.write_channel_info.len()));
        out.put_u32(self.flags);
        out.patch_u16(data_off_at, sat16(out.len()));
        out.put_bytes(&self.data);
        if !self.write_channel_info.is_empty() {
            out.patch_u16(ci_at, sat16(out.len()));
            out.put_bytes(&self.write_channel_info);
        }
        if self.data.is_empty() && self.write_channel_info.is_empty() {
            out.put_u8(0);
        }
    }
}

/// WRITE response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteResponse {
    /// Bytes written.
    pub count: u32,
}

impl WriteResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 17;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        r.skip(2)?;
        Ok(WriteResponse { count: r.u32()? })
    }

    /// Append the body: the 16 fixed bytes only, without the Buffer byte StructureSize 17
    /// announces, exactly as Windows sends it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(0);
        out.put_u32(self.count);
        out.put_u32(0);
        out.put_u16(0);
        out.put_u16(0);
    }
}

/// Lock element flags.
pub mod lock_flags {
    /// Shared lock.
    pub const SHARED: u32 = 0x0000_0001;
    /// Exclusive lock.
    pub const EXCLUSIVE: u32 = 0x0000_0002;
    /// Unlock.
    pub const UNLOCK: u32 = 0x0000_0004;
    /// Fail instead of waiting.
    pub const FAIL_IMMEDIATELY: u32 = 0x0000_0010;
}

/// One byte-range lock element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockElement {
    /// Start of the range.
    pub offset: u64,
    /// Length of the range.
    pub length: u64,
    /// [`lock_flags`].
    pub flags: u32,
}

/// LOCK request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRequest {
    /// LockSequenceNumber (low 4 bits) and LockSequenceIndex (high 28 bits).
    pub lock_sequence: u32,
    /// The handle.
    pub file_id: FileId,
    /// At least one element.
    pub locks: Vec<LockElement>,
}

impl LockRequest {
    /// StructureSize (includes one lock element).
    pub const STRUCTURE_SIZE: u16 = 48;

    /// Decode from a whole message. LockCount must be 1..=[`MAX_LOCKS`].
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let count = usize::from(r.u16()?);
        let lock_sequence = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        if count == 0 {
            return Err(WireError::BadValue);
        }
        if count > MAX_LOCKS {
            return Err(WireError::TooLarge);
        }
        let need = count.checked_mul(24).ok_or(WireError::TooLarge)?;
        if r.remaining() < need {
            return Err(WireError::Truncated);
        }
        let mut locks = Vec::with_capacity(count);
        for _ in 0..count {
            let offset = r.u64()?;
            let length = r.u64()?;
            let flags = r.u32()?;
            r.skip(4)?;
            locks.push(LockElement {
                offset,
                length,
                flags,
            });
        }
        Ok(LockRequest {
            lock_sequence,
            file_id,
            locks,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(sat16(self.locks.len()));
        out.put_u32(self.lock_sequence);
        self.file_id.write(out);
        for l in &self.locks {
            out.put_u64(l.offset);
            out.put_u64(l.length);
            out.put_u32(l.flags);
            out.put_u32(0);
        }
    }
}

empty_body!(
    /// LOCK response.
    LockResponse
);
