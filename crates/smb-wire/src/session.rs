//! SESSION_SETUP and LOGOFF (MS-SMB2 2.2.5 to 2.2.8).

use crate::codec::{body_reader, buffer_at, sat16, Writer};
use crate::negotiate::MAX_SECURITY_BUFFER;
use crate::WireError;

/// SESSION_SETUP request Flags: bind to an existing session (multichannel).
pub const SESSION_FLAG_BINDING: u8 = 0x01;

/// SessionFlags bits of the response.
pub mod session_flags {
    /// Guest session.
    pub const IS_GUEST: u16 = 0x0001;
    /// Anonymous session.
    pub const IS_NULL: u16 = 0x0002;
    /// The session requires encryption.
    pub const ENCRYPT_DATA: u16 = 0x0004;
}

/// SESSION_SETUP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupRequest {
    /// Flags ([`SESSION_FLAG_BINDING`]).
    pub flags: u8,
    /// SecurityMode.
    pub security_mode: u8,
    /// Capabilities.
    pub capabilities: u32,
    /// Channel (must be 0).
    pub channel: u32,
    /// PreviousSessionId.
    pub previous_session_id: u64,
    /// The GSS/SPNEGO token.
    pub security_buffer: Vec<u8>,
}

impl SessionSetupRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 25;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let flags = r.u8()?;
        let security_mode = r.u8()?;
        let capabilities = r.u32()?;
        let channel = r.u32()?;
        let off = r.u16()?;
        let len = r.u16()?;
        let previous_session_id = r.u64()?;
        let security_buffer =
            buffer_at(msg, u32::from(off), u32::from(len), MAX_SECURITY_BUFFER)?.to_vec();
        Ok(SessionSetupRequest {
            flags,
            security_mode,
            capabilities,
            channel,
            previous_session_id,
            security_buffer,
        })
    }

    /// Append the body (header already at index 0 of `out`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u8(self.flags);
        out.put_u8(self.security_mode);
        out.put_u32(self.capabilities);
        out.put_u32(self.channel);
        out.put_u16(sat16(out.len() + 12));
        out.put_u16(sat16(self.security_buffer.len()));
        out.put_u64(self.previous_session_id);
        out.put_bytes(&self.security_buffer);
        if self.security_buffer.is_empty() {
            out.put_u8(0);
        }
    }
}

/// SESSION_SETUP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupResponse {
    /// [`session_flags`] bits.
    pub session_flags: u16,
    /// The GSS/SPNEGO token.
    pub security_buffer: Vec<u8>,
}

impl SessionSetupResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 9;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let session_flags = r.u16()?;
        let off = r.u16()?;
        let len = r.u16()?;
        let security_buffer =
            buffer_at(msg, u32::from(off), u32::from(len), MAX_SECURITY_BUFFER)?.to_vec();
        Ok(SessionSetupResponse {
            session_flags,
            security_buffer,
        })
    }

    /// Append the body (header already at index 0 of `out`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(self.session_flags);
        out.put_u16(sat16(out.len() + 4));
        out.put_u16(sat16(self.security_buffer.len()));
        out.put_bytes(&self.security_buffer);
        if self.security_buffer.is_empty() {
            out.put_u8(0);
        }
    }
}

/// Decoder/encoder of the 4-byte bodies (StructureSize 4 + Reserved) shared by LOGOFF,
/// TREE_DISCONNECT, FLUSH response, LOCK response, ECHO and CANCEL.
macro_rules! empty_body {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;

        impl $name {
            /// StructureSize.
            pub const STRUCTURE_SIZE: u16 = 4;

            /// Decode from a whole message (checks StructureSize 4 and the Reserved field
            /// is present).
            pub fn decode(msg: &[u8]) -> Result<Self, $crate::WireError> {
                let mut r = $crate::codec::body_reader(msg, Self::STRUCTURE_SIZE)?;
                r.u16()?;
                Ok($name)
            }

            /// Append the body.
            pub fn encode(&self, out: &mut Vec<u8>) {
                use $crate::codec::Writer;
                out.put_u16(Self::STRUCTURE_SIZE);
                out.put_u16(0);
            }
        }
    };
}
pub(crate) use empty_body;

empty_body!(
    /// LOGOFF request.
    LogoffRequest
);
empty_body!(
    /// LOGOFF response.
    LogoffResponse
);
