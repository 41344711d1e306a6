//! ECHO, CANCEL, oplock/lease breaks and the error response (MS-SMB2 2.2.2, 2.2.23 to 2.2.30).

use crate::codec::{body_reader, sat32, Writer};
use crate::file::FileId;
use crate::session::empty_body;
use crate::WireError;

empty_body!(
    /// ECHO request.
    EchoRequest
);
empty_body!(
    /// ECHO response.
    EchoResponse
);
empty_body!(
    /// CANCEL request (never answered itself; it targets MessageId/AsyncId of the header).
    CancelRequest
);

/// The oplock break body (24 bytes), shared by the server's notification, the client's
/// acknowledgment and the server's response to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OplockBreak {
    /// The new (notification) or acknowledged (ack/response) oplock level.
    pub oplock_level: u8,
    /// The handle.
    pub file_id: FileId,
}

/// Server → client oplock break notification.
pub type OplockBreakNotification = OplockBreak;
/// Client → server acknowledgment.
pub type OplockBreakAcknowledgment = OplockBreak;
/// Server → client response to the acknowledgment.
pub type OplockBreakResponse = OplockBreak;

impl OplockBreak {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 24;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let oplock_level = r.u8()?;
        r.skip(5)?;
        Ok(OplockBreak {
            oplock_level,
            file_id: FileId::read(&mut r)?,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u8(self.oplock_level);
        out.put_u8(0);
        out.put_u32(0);
        self.file_id.write(out);
    }
}

/// Lease break notification flag: an acknowledgment is required.
pub const LEASE_BREAK_ACK_REQUIRED: u32 = 0x0000_0001;

/// Server → client lease break notification (44 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseBreakNotification {
    /// NewEpoch (v2 leases).
    pub new_epoch: u16,
    /// Flags ([`LEASE_BREAK_ACK_REQUIRED`]).
    pub flags: u32,
    /// LeaseKey.
    pub lease_key: [u8; 16],
    /// CurrentLeaseState.
    pub current_state: u32,
    /// NewLeaseState.
    pub new_state: u32,
}

impl LeaseBreakNotification {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 44;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let new_epoch = r.u16()?;
        let flags = r.u32()?;
        let lease_key = r.array()?;
        let current_state = r.u32()?;
        let new_state = r.u32()?;
        r.skip(12)?;
        Ok(LeaseBreakNotification {
            new_epoch,
            flags,
            lease_key,
            current_state,
            new_state,
        })
    }

    /// Append the body (BreakReason, AccessMaskHint, ShareMaskHint are zero).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(self.new_epoch);
        out.put_u32(self.flags);
        out.put_bytes(&self.lease_key);
        out.put_u32(self.current_state);
        out.put_u32(self.new_state);
        out.put_zeros(12);
    }
}

/// The lease break acknowledgment/response body (36 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseBreakAck {
    /// Flags (0).
    pub flags: u32,
    /// LeaseKey.
    pub lease_key: [u8; 16],
    /// LeaseState acknowledged/granted.
    pub lease_state: u32,
}

/// Client → server lease break acknowledgment.
pub type LeaseBreakAcknowledgment = LeaseBreakAck;
/// Server → client response to the acknowledgment.
pub type LeaseBreakResponse = LeaseBreakAck;

impl LeaseBreakAck {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 36;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        r.skip(2)?;
        let flags = r.u32()?;
        let lease_key = r.array()?;
        let lease_state = r.u32()?;
        r.skip(8)?;
        Ok(LeaseBreakAck {
            flags,
            lease_key,
            lease_state,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(0);
        out.put_u32(self.flags);
        out.put_bytes(&self.lease_key);
        out.put_u32(self.lease_state);
        out.put_u64(0);
    }
}

/// Bound on error data.
pub const MAX_ERROR_DATA: usize = 64 * 1024;

/// SMB2 ERROR response (MS-SMB2 2.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorResponse {
    /// ErrorContextCount (3.1.1).
    pub error_context_count: u8,
    /// ErrorData (error contexts, or symlink data for STOPPED_ON_SYMLINK).
    pub error_data: Vec<u8>,
}

impl ErrorResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 9;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let error_context_count = r.u8()?;
        r.skip(1)?;
        let len = r.u32()? as usize;
        if len > MAX_ERROR_DATA {
            return Err(WireError::TooLarge);
        }
        let error_data = r.bytes(len)?.to_vec();
        Ok(ErrorResponse {
            error_context_count,
            error_data,
        })
    }

    /// Append the body; with no data this is the standard 9-byte body (ByteCount 0 and
    /// one pad byte), as Windows sends.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u8(self.error_context_count);
        out.put_u8(0);
        out.put_u32(sat32(self.error_data.len()));
        if self.error_data.is_empty() {
            out.put_u8(0);
        } else {
            out.put_bytes(&self.error_data);
        }
    }
}
