//! QUERY_DIRECTORY and CHANGE_NOTIFY (MS-SMB2 2.2.33 to 2.2.36).

use crate::codec::{body_reader, buffer_at, sat16, sat32, utf16le, utf16le_to_string, Writer};
use crate::file::FileId;
use crate::netbios::MAX_FRAME;
use crate::WireError;

/// QUERY_DIRECTORY flags.
pub mod query_dir_flags {
    /// Restart the enumeration.
    pub const RESTART_SCANS: u8 = 0x01;
    /// Return one entry only.
    pub const RETURN_SINGLE_ENTRY: u8 = 0x02;
    /// Resume at FileIndex.
    pub const INDEX_SPECIFIED: u8 = 0x04;
    /// Reopen (restart with a new pattern).
    pub const REOPEN: u8 = 0x10;
}

/// CHANGE_NOTIFY flag: watch the whole subtree.
pub const WATCH_TREE: u16 = 0x0001;

/// Bound on a search pattern in bytes.
const MAX_PATTERN_BYTES: usize = 65534;

/// QUERY_DIRECTORY request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDirectoryRequest {
    /// FileInformationClass (FSCC directory class).
    pub info_class: u8,
    /// [`query_dir_flags`].
    pub flags: u8,
    /// FileIndex (with INDEX_SPECIFIED).
    pub file_index: u32,
    /// The directory handle.
    pub file_id: FileId,
    /// Search pattern ("*" etc.).
    pub pattern: String,
    /// OutputBufferLength.
    pub output_buffer_length: u32,
}

impl QueryDirectoryRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 33;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let info_class = r.u8()?;
        let flags = r.u8()?;
        let file_index = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        let off = r.u16()?;
        let len = r.u16()?;
        let output_buffer_length = r.u32()?;
        let pattern = utf16le_to_string(buffer_at(
            msg,
            u32::from(off),
            u32::from(len),
            MAX_PATTERN_BYTES,
        )?)?;
        Ok(QueryDirectoryRequest {
            info_class,
            flags,
            file_index,
            file_id,
            pattern,
            output_buffer_length,
        })
    }

    /// Append the body (header already at index 0 of `out`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let name = utf16le(&self.pattern);
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u8(self.info_class);
        out.put_u8(self.flags);
        out.put_u32(self.file_index);
        self.file_id.write(out);
        out.put_u16(sat16(out.len() + 8));
        out.put_u16(sat16(name.len()));
        out.put_u32(self.output_buffer_length);
        out.put_bytes(&name);
        if name.is_empty() {
            out.put_u8(0);
        }
    }
}

/// The 9-byte "offset + length + buffer" response body shared by QUERY_DIRECTORY,
/// CHANGE_NOTIFY and QUERY_INFO.
pub(crate) fn decode_buffer_response(msg: &[u8]) -> Result<Vec<u8>, WireError> {
    let mut r = body_reader(msg, 9)?;
    let off = r.u16()?;
    let len = r.u32()?;
    Ok(buffer_at(msg, u32::from(off), len, MAX_FRAME)?.to_vec())
}

pub(crate) fn encode_buffer_response(buf: &[u8], out: &mut Vec<u8>) {
    out.put_u16(9);
    out.put_u16(sat16(out.len() + 6));
    out.put_u32(sat32(buf.len()));
    out.put_bytes(buf);
    if buf.is_empty() {
        out.put_u8(0);
    }
}

/// QUERY_DIRECTORY response: the raw FSCC entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDirectoryResponse {
    /// The entries, as encoded by `fscc`.
    pub buffer: Vec<u8>,
}

impl QueryDirectoryResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 9;
    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        Ok(QueryDirectoryResponse {
            buffer: decode_buffer_response(msg)?,
        })
    }
    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_buffer_response(&self.buffer, out);
    }
}

/// CHANGE_NOTIFY request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeNotifyRequest {
    /// Flags ([`WATCH_TREE`]).
    pub flags: u16,
    /// OutputBufferLength.
    pub output_buffer_length: u32,
    /// The directory handle.
    pub file_id: FileId,
    /// CompletionFilter (FILE_NOTIFY_CHANGE_* bits).
    pub completion_filter: u32,
}

impl ChangeNotifyRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 32;

    /// Whether WATCH_TREE is set.
    pub fn watch_tree(&self) -> bool {
        self.flags & WATCH_TREE != 0
    }

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let flags = r.u16()?;
        let output_buffer_length = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        let completion_filter = r.u32()?;
        r.skip(4)?;
        Ok(ChangeNotifyRequest {
            flags,
            output_buffer_length,
            file_id,
            completion_filter,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(self.flags);
        out.put_u32(self.output_buffer_length);
        self.file_id.write(out);
        out.put_u32(self.completion_filter);
        out.put_u32(0);
    }
}

/// CHANGE_NOTIFY response: FILE_NOTIFY_INFORMATION entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeNotifyResponse {
    /// The raw entries.
    pub buffer: Vec<u8>,
}

impl ChangeNotifyResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 9;
    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        Ok(ChangeNotifyResponse {
            buffer: decode_buffer_response(msg)?,
        })
    }
    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_buffer_response(&self.buffer, out);
    }
}
