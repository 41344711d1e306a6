//! IOCTL request/response (MS-SMB2 2.2.31, 2.2.32). FSCTL payloads live in `fsctl`.

use crate::codec::{body_reader, buffer_at, sat32, Writer};
use crate::file::FileId;
use crate::WireError;

/// IOCTL flag: the request is an FSCTL (the only kind SMB2 allows).
pub const IOCTL_IS_FSCTL: u32 = 0x0000_0001;

/// Bound on IOCTL input/output buffers in a request.
pub const MAX_IOCTL_BUFFER: usize = 1024 * 1024;

/// IOCTL request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlRequest {
    /// CtlCode (FSCTL_* value).
    pub ctl_code: u32,
    /// Target handle ([`FileId::ANY`] for some FSCTLs).
    pub file_id: FileId,
    /// Input buffer.
    pub input: Vec<u8>,
    /// Output buffer sent by the client (almost always empty).
    pub output: Vec<u8>,
    /// MaxInputResponse.
    pub max_input_response: u32,
    /// MaxOutputResponse.
    pub max_output_response: u32,
    /// Flags ([`IOCTL_IS_FSCTL`]).
    pub flags: u32,
}

impl IoctlRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 57;

    /// Whether the IS_FSCTL flag is set.
    pub fn is_fsctl(&self) -> bool {
        self.flags & IOCTL_IS_FSCTL != 0
    }

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        r.skip(2)?;
        let ctl_code = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        let in_off = r.u32()?;
        let in_len = r.u32()?;
        let max_input_response = r.u32()?;
        let out_off = r.u32()?;
        let out_len = r.u32()?;
        let max_output_response = r.u32()?;
        let flags = r.u32()?;
        r.skip(4)?;
        let input = buffer_at(msg, in_off, in_len, MAX_IOCTL_BUFFER)?.to_vec();
        let output = buffer_at(msg, out_off, out_len, MAX_IOCTL_BUFFER)?.to_vec();
        Ok(IoctlRequest {
            ctl_code,
            file_id,
            input,
            output,
            max_input_response,
            max_output_response,
            flags,
        })
    }

    /// Append the body (header already at index 0 of `out`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(0);
        out.put_u32(self.ctl_code);
        self.file_id.write(out);
        let in_at = out.len();
        out.put_u32(0);
        out.put_u32(sat32(self.input.len()));
        out.put_u32(self.max_input_response);
        let out_at = out.len();
        out.put_u32(0);
        out.put_u32(sat32(self.output.len()));
        out.put_u32(self.max_output_response);
        out.put_u32(self.flags);
        out.put_u32(0);
        write_buffers(out, in_at, &self.input, out_at, &self.output);
    }
}

/// Write input then output (8-aligned), patching their offsets; a pad byte if both empty.
fn write_buffers(out: &mut Vec<u8>, in_at: usize, input: &[u8], out_at: usize, output: &[u8]) {
    let base = out.len();
    out.patch_u32(in_at, sat32(base));
    out.put_bytes(input);
    if !output.is_empty() {
        out.align_to(8);
    }
    out.patch_u32(out_at, sat32(out.len()));
    out.put_bytes(output);
    if input.is_empty() && output.is_empty() {
        out.put_u8(0);
    }
}

/// IOCTL response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlResponse {
    /// CtlCode echoed.
    pub ctl_code: u32,
    /// FileId echoed.
    pub file_id: FileId,
    /// Input echoed (only for FSCTLs whose spec says so; usually empty).
    pub input: Vec<u8>,
    /// The output.
    pub output: Vec<u8>,
    /// Flags (0).
    pub flags: u32,
}

impl IoctlResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 49;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        r.skip(2)?;
        let ctl_code = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        let in_off = r.u32()?;
        let in_len = r.u32()?;
        let out_off = r.u32()?;
        let out_len = r.u32()?;
        let flags = r.u32()?;
        r.skip(4)?;
        let input = buffer_at(msg, in_off, in_len, crate::netbios::MAX_FRAME)?.to_vec();
        let output = buffer_at(msg, out_off, out_len, crate::netbios::MAX_FRAME)?.to_vec();
        Ok(IoctlResponse {
            ctl_code,
            file_id,
            input,
            output,
            flags,
        })
    }

    /// Append the body (header already at index 0 of `out`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(0);
        out.put_u32(self.ctl_code);
        self.file_id.write(out);
        let in_at = out.len();
        out.put_u32(0);
        out.put_u32(sat32(self.input.len()));
        let out_at = out.len();
        out.put_u32(0);
        out.put_u32(sat32(self.output.len()));
        out.put_u32(self.flags);
        out.put_u32(0);
        write_buffers(out, in_at, &self.input, out_at, &self.output);
    }
}
