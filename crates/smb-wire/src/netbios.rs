//! Direct-TCP (port 445) session framing, MS-SMB2 2.1: each SMB2 message (or compound
//! chain, or transform) is preceded by a 4-byte header: a zero type byte and a 24-bit
//! big-endian length.

use crate::WireError;

/// The largest READ/WRITE/transact payload the server should ever negotiate (8 MiB, the
/// Windows default for SMB 3.x).
pub const MAX_PAYLOAD: usize = 8 * 1024 * 1024;

/// The largest frame accepted: one [`MAX_PAYLOAD`] plus 1 MiB of margin for the SMB2
/// header, the transform header, the fixed body and the other members of a compound chain.
/// Anything larger cannot be a legal frame for a server that advertises at most
/// `MAX_PAYLOAD`, and refusing it before allocating keeps a peer from making us buffer the
/// full 16 MiB the 24-bit field could otherwise express on every connection.
pub const MAX_FRAME: usize = MAX_PAYLOAD + 1024 * 1024;

/// The session-message type byte (the only type valid on port 445).
pub const SESSION_MESSAGE: u8 = 0x00;

/// The length of the frame announced by a 4-byte transport header.
///
/// The type byte must be `0x00`; a length over [`MAX_FRAME`] is [`WireError::TooLarge`].
/// A zero length is returned as is (the caller treats it as an empty keep-alive or error).
pub fn frame_len(hdr: [u8; 4]) -> Result<usize, WireError> {
    let [kind, a, b, c] = hdr;
    if kind != SESSION_MESSAGE {
        return Err(WireError::BadValue);
    }
    let len = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
    if len > MAX_FRAME {
        return Err(WireError::TooLarge);
    }
    Ok(len)
}

/// The 4-byte transport header for a frame of `len` bytes.
///
/// `len` must not exceed 0xFF_FFFF (the encoder never builds larger frames: it is bounded
/// by [`MAX_FRAME`]); a larger value is saturated, which the peer will reject.
pub fn frame_header(len: usize) -> [u8; 4] {
    let l = len.min(0x00FF_FFFF);
    [SESSION_MESSAGE, (l >> 16) as u8, (l >> 8) as u8, l as u8]
}
