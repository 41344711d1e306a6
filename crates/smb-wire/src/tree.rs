//! TREE_CONNECT and TREE_DISCONNECT (MS-SMB2 2.2.9 to 2.2.12).

use crate::codec::{
    body_reader, buffer_at, sat16, sat32, utf16le, utf16le_to_string, Reader, Writer,
};
use crate::session::empty_body;
use crate::WireError;

/// Tree connect request flags (3.1.1).
pub mod tree_connect_flags {
    /// CLUSTER_RECONNECT.
    pub const CLUSTER_RECONNECT: u16 = 0x0001;
    /// REDIRECT_TO_OWNER.
    pub const REDIRECT_TO_OWNER: u16 = 0x0002;
    /// EXTENSION_PRESENT: the buffer starts with a request extension.
    pub const EXTENSION_PRESENT: u16 = 0x0004;
}

/// ShareType values.
pub mod share_type {
    /// Disk share.
    pub const DISK: u8 = 0x01;
    /// Named pipe share (IPC$).
    pub const PIPE: u8 = 0x02;
    /// Printer share.
    pub const PRINT: u8 = 0x03;
}

/// ShareFlags bits (subset).
pub mod share_flags {
    /// Manual caching.
    pub const MANUAL_CACHING: u32 = 0x0000_0000;
    /// Auto caching.
    pub const AUTO_CACHING: u32 = 0x0000_0010;
    /// VDO caching.
    pub const VDO_CACHING: u32 = 0x0000_0020;
    /// No caching.
    pub const NO_CACHING: u32 = 0x0000_0030;
    /// DFS.
    pub const DFS: u32 = 0x0000_0001;
    /// Access-based enumeration.
    pub const ACCESS_BASED_DIRECTORY_ENUM: u32 = 0x0000_0800;
    /// Encrypt data.
    pub const ENCRYPT_DATA: u32 = 0x0000_8000;
}

/// Share capability bits.
pub mod share_caps {
    /// DFS.
    pub const DFS: u32 = 0x0000_0008;
    /// Continuous availability.
    pub const CONTINUOUS_AVAILABILITY: u32 = 0x0000_0010;
    /// Scale-out.
    pub const SCALEOUT: u32 = 0x0000_0020;
    /// Cluster.
    pub const CLUSTER: u32 = 0x0000_0040;
    /// Asymmetric.
    pub const ASYMMETRIC: u32 = 0x0000_0080;
}

/// Bound on the path (bytes) and on tree connect contexts.
const MAX_PATH_BYTES: usize = 4096;
const MAX_TREE_CONTEXTS: usize = 64;
const MAX_TREE_CONTEXT_BYTES: usize = 64 * 1024;

/// One tree connect context (MS-SMB2 2.2.9.2), kept raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectContext {
    /// ContextType (1 = remoted identity).
    pub context_type: u16,
    /// Raw Data.
    pub data: Vec<u8>,
}

/// TREE_CONNECT request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectRequest {
    /// Flags (3.1.1, [`tree_connect_flags`]); Reserved before.
    pub flags: u16,
    /// `\\server\share`.
    pub path: String,
    /// Tree connect contexts of the extension (empty when absent).
    pub contexts: Vec<TreeConnectContext>,
}

impl TreeConnectRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 9;

    /// Whether the 3.1.1 request extension is present.
    pub fn has_extension(&self) -> bool {
        self.flags & tree_connect_flags::EXTENSION_PRESENT != 0
    }

    /// Decode from a whole message. With EXTENSION_PRESENT the buffer begins with the
    /// 16-byte extension; PathOffset still locates the path and TreeConnectContextOffset is
    /// taken relative to the header like every other SMB2 offset.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let flags = r.u16()?;
        let off = r.u16()?;
        let len = r.u16()?;
        let path_bytes = buffer_at(msg, u32::from(off), u32::from(len), MAX_PATH_BYTES)?;
        let path = utf16le_to_string(path_bytes)?;
        let mut contexts = Vec::new();
        if flags & tree_connect_flags::EXTENSION_PRESENT != 0 {
            let ctx_off = r.u32()? as usize;
            let count = usize::from(r.u16()?);
            if count > MAX_TREE_CONTEXTS {
                return Err(WireError::TooLarge);
            }
            let mut cr = Reader::at(msg, ctx_off);
            for i in 0..count {
                if i > 0 {
                    let p = cr.pos().checked_add(7).ok_or(WireError::BadOffset)? & !7;
                    cr.seek(p)?;
                }
                let context_type = cr.u16()?;
                let dlen = usize::from(cr.u16()?);
                cr.skip(4)?;
                if dlen > MAX_TREE_CONTEXT_BYTES {
                    return Err(WireError::TooLarge);
                }
                contexts.push(TreeConnectContext {
                    context_type,
                    data: cr.bytes(dlen)?.to_vec(),
                });
            }
        }
        Ok(TreeConnectRequest {
            flags,
            path,
            contexts,
        })
    }

    /// Append the body (header already at index 0 of `out`). The extension is written when
    /// `flags` has EXTENSION_PRESENT.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let name = utf16le(&self.path);
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(self.flags);
        let off_at = out.len();
        out.put_u16(0);
        out.put_u16(sat16(name.len()));
        if self.has_extension() {
            let ctx_at = out.len();
            out.put_u32(0);
            out.put_u16(sat16(self.contexts.len()));
            out.put_zeros(10);
            out.patch_u16(off_at, sat16(out.len()));
            out.put_bytes(&name);
            if !self.contexts.is_empty() {
                out.align_to(8);
                out.patch_u32(ctx_at, sat32(out.len()));
                for c in &self.contexts {
                    out.align_to(8);
                    out.put_u16(c.context_type);
                    out.put_u16(sat16(c.data.len()));
                    out.put_u32(0);
                    out.put_bytes(&c.data);
                }
            }
        } else {
            out.patch_u16(off_at, sat16(out.len()));
            out.put_bytes(&name);
            if name.is_empty() {
                out.put_u8(0);
            }
        }
    }
}

/// TREE_CONNECT response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConnectResponse {
    /// [`share_type`].
    pub share_type: u8,
    /// [`share_flags`].
    pub share_flags: u32,
    /// [`share_caps`].
    pub capabilities: u32,
    /// Maximal access mask for the user on this share.
    pub maximal_access: u32,
}

impl TreeConnectResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 16;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let share_type = r.u8()?;
        r.skip(1)?;
        let share_flags = r.u32()?;
        let capabilities = r.u32()?;
        let maximal_access = r.u32()?;
        Ok(TreeConnectResponse {
            share_type,
            share_flags,
            capabilities,
            maximal_access,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u8(self.share_type);
        out.put_u8(0);
        out.put_u32(self.share_flags);
        out.put_u32(self.capabilities);
        out.put_u32(self.maximal_access);
    }
}

empty_body!(
    /// TREE_DISCONNECT request.
    TreeDisconnectRequest
);
empty_body!(
    /// TREE_DISCONNECT response.
    TreeDisconnectResponse
);
