//! QUERY_INFO and SET_INFO (MS-SMB2 2.2.37 to 2.2.40). The payloads live in `fscc`.

use crate::codec::{body_reader, buffer_at, sat16, sat32, Writer};
use crate::dir::{decode_buffer_response, encode_buffer_response};
use crate::file::FileId;
use crate::WireError;

/// InfoType values.
pub mod info_type {
    /// File information classes.
    pub const FILE: u8 = 0x01;
    /// File system information classes.
    pub const FILESYSTEM: u8 = 0x02;
    /// Security descriptor.
    pub const SECURITY: u8 = 0x03;
    /// Quota.
    pub const QUOTA: u8 = 0x04;
}

/// QUERY_INFO flags (for FileFullEaInformation).
pub mod query_info_flags {
    /// Restart the EA scan.
    pub const RESTART_SCAN: u32 = 0x0000_0001;
    /// Return a single entry.
    pub const RETURN_SINGLE_ENTRY: u32 = 0x0000_0002;
    /// Start at the index.
    pub const INDEX_SPECIFIED: u32 = 0x0000_0004;
}

/// Bound on a QUERY_INFO input buffer or SET_INFO buffer.
pub const MAX_INFO_BUFFER: usize = 1024 * 1024;

/// QUERY_INFO request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryInfoRequest {
    /// [`info_type`].
    pub info_type: u8,
    /// FileInfoClass.
    pub file_info_class: u8,
    /// OutputBufferLength.
    pub output_buffer_length: u32,
    /// Input buffer (EA name list, quota SIDs).
    pub input: Vec<u8>,
    /// AdditionalInformation (security: OWNER/GROUP/DACL/SACL bits).
    pub additional_information: u32,
    /// [`query_info_flags`].
    pub flags: u32,
    /// The handle.
    pub file_id: FileId,
}

impl QueryInfoRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 41;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let info_type = r.u8()?;
        let file_info_class = r.u8()?;
        let output_buffer_length = r.u32()?;
        let in_off = r.u16()?;
        r.skip(2)?;
        let in_len = r.u32()?;
        let additional_information = r.u32()?;
        let flags = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        let input = buffer_at(msg, u32::from(in_off), in_len, MAX_INFO_BUFFER)?.to_vec();
        Ok(QueryInfoRequest {
            info_type,
            file_info_class,
            output_buffer_length,
            input,
            additional_information,
            flags,
            file_id,
        })
    }

    /// Append the body (header already at index 0 of `out`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u8(self.info_type);
        out.put_u8(self.file_info_class);
        out.put_u32(self.output_buffer_length);
        let off = if self.input.is_empty() {
            0
        } else {
            out.len() + 32
        };
        out.put_u16(sat16(off));
        out.put_u16(0);
        out.put_u32(sat32(self.input.len()));
        out.put_u32(self.additional_information);
        out.put_u32(self.flags);
        self.file_id.write(out);
        out.put_bytes(&self.input);
        if self.input.is_empty() {
            out.put_u8(0);
        }
    }
}

/// QUERY_INFO response: the raw information buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryInfoResponse {
    /// The encoded information.
    pub buffer: Vec<u8>,
}

impl QueryInfoResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 9;
    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        Ok(QueryInfoResponse {
            buffer: decode_buffer_response(msg)?,
        })
    }
    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_buffer_response(&self.buffer, out);
    }
}

/// SET_INFO request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetInfoRequest {
    /// [`info_type`].
    pub info_type: u8,
    /// FileInfoClass.
    pub file_info_class: u8,
    /// The information to set.
    pub buffer: Vec<u8>,
    /// AdditionalInformation (security).
    pub additional_information: u32,
    /// The handle.
    pub file_id: FileId,
}

impl SetInfoRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 33;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let info_type = r.u8()?;
        let file_info_class = r.u8()?;
        let len = r.u32()?;
        let off = r.u16()?;
        r.skip(2)?;
        let additional_information = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        let buffer = buffer_at(msg, u32::from(off), len, MAX_INFO_BUFFER)?.to_vec();
        Ok(SetInfoRequest {
            info_type,
            file_info_class,
            buffer,
            additional_information,
            file_id,
        })
    }

    /// Append the body (header already at index 0 of `out`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u8(self.info_type);
        out.put_u8(self.file_info_class);
        out.put_u32(sat32(self.buffer.len()));
        out.put_u16(sat16(out.len() + 24));
        out.put_u16(0);
        out.put_u32(self.additional_information);
        self.file_id.write(out);
        out.put_bytes(&self.buffer);
        if self.buffer.is_empty() {
            out.put_u8(0);
        }
    }
}

/// SET_INFO response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetInfoResponse;

impl SetInfoResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 2;
    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        body_reader(msg, Self::STRUCTURE_SIZE)?;
        Ok(SetInfoResponse)
    }
    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
    }
}
