//! The data transfer message (MS-SMBD 2.2.3): a 20-byte header, optional padding, and an
//! optional payload that is one fragment of an upper-layer message.
//!
//! ```text
//!  0      CreditsRequested (2)   CreditsGranted (2)
//!  4      Flags (2)              Reserved (2)
//!  8      RemainingDataLength (4)
//! 12      DataOffset (4)         8-byte aligned; 0 without payload, 24 from this encoder
//! 16      DataLength (4)
//! 20      Padding, then the payload at DataOffset
//! ```

use crate::wire::{le16, le32};
use crate::{DATA_HEADER_LEN, DATA_OFFSET, FLAG_RESPONSE_REQUESTED};

/// The fixed fields of a data transfer message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataHeader {
    /// The total send credits the sender wants to hold (its SendCreditTarget).
    pub credits_requested: u16,
    /// Send credits granted to the receiver by this message (incremental).
    pub credits_granted: u16,
    /// [`FLAG_RESPONSE_REQUESTED`] or 0.
    pub flags: u16,
    /// Bytes of the upper-layer message still to come after this fragment.
    pub remaining_data_length: u32,
    pub data_offset: u32,
    pub data_length: u32,
}

/// A decoded data transfer message borrowing its payload from the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataMessage<'a> {
    pub header: DataHeader,
    pub payload: &'a [u8],
}

/// Why a data transfer message was refused (3.1.5.8); each ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    #[error("data transfer message of {0} bytes, at least 20 required")]
    TooShort(usize),
    #[error("CreditsRequested is 0")]
    ZeroCreditsRequested,
    #[error("DataOffset {0} is not 8-byte aligned")]
    MisalignedOffset(u32),
    #[error("DataOffset {0} points into the header")]
    OffsetInHeader(u32),
    #[error("payload {offset}+{length} exceeds the {len}-byte message")]
    OutOfBounds {
        offset: u32,
        length: u32,
        len: usize,
    },
}

impl DataHeader {
    /// Whether the sender asks for a prompt message in return (keepalive).
    pub fn response_requested(&self) -> bool {
        self.flags & FLAG_RESPONSE_REQUESTED != 0
    }

    /// Builds a whole message around `payload`, filling in DataOffset and DataLength: 24 and
    /// the payload length, or 0 and 0 (and only the 20-byte header) without a payload.
    ///
    /// The caller bounds `payload` by the negotiated MaxSendSize; a payload above 4 GiB is
    /// not representable and is cut to `u32::MAX` bytes (never reached: sizes are `u32`).
    pub fn encode(&self, payload: &[u8]) -> Vec<u8> {
        let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let (offset, total) = if payload.is_empty() {
            (0u32, DATA_HEADER_LEN)
        } else {
            (
                DATA_OFFSET as u32,
                DATA_OFFSET.saturating_add(payload.len()),
            )
        };
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&self.credits_requested.to_le_bytes());
        out.extend_from_slice(&self.credits_granted.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&self.remaining_data_length.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&length.to_le_bytes());
        if !payload.is_empty() {
            out.extend_from_slice(&[0; DATA_OFFSET - DATA_HEADER_LEN]);
            out.extend_from_slice(payload);
        }
        out
    }
}

impl<'a> DataMessage<'a> {
    /// Decodes and checks a received message against the structural rules of 3.1.5.8: at
    /// least 20 bytes, CreditsRequested at least 1, DataOffset 8-byte aligned and, with a
    /// payload, past the header, and DataOffset + DataLength within the message. The rule
    /// that needs connection state (DataLength + RemainingDataLength within the
    /// reassembly limit) is [`crate::reassembly::Reassembler`]'s.
    pub fn decode(buf: &'a [u8]) -> Result<Self, DataError> {
        let short = DataError::TooShort(buf.len());
        if buf.len() < DATA_HEADER_LEN {
            return Err(short);
        }
        let header = DataHeader {
            credits_requested: le16(buf, 0).ok_or(short)?,
            credits_granted: le16(buf, 2).ok_or(short)?,
            flags: le16(buf, 4).ok_or(short)?,
            remaining_data_length: le32(buf, 8).ok_or(short)?,
            data_offset: le32(buf, 12).ok_or(short)?,
            data_length: le32(buf, 16).ok_or(short)?,
        };
        if header.credits_requested == 0 {
            return Err(DataError::ZeroCreditsRequested);
        }
        if header.data_offset % 8 != 0 {
            return Err(DataError::MisalignedOffset(header.data_offset));
        }
        let oob = DataError::OutOfBounds {
            offset: header.data_offset,
            length: header.data_length,
            len: buf.len(),
        };
        if header.data_length == 0 {
            // No payload: the offset should be 0, but all that matters is that it is sane.
            if u64::from(header.data_offset) > buf.len() as u64 {
                return Err(oob);
            }
            return Ok(DataMessage {
                header,
                payload: &[],
            });
        }
        if (header.data_offset as usize) < DATA_HEADER_LEN {
            return Err(DataError::OffsetInHeader(header.data_offset));
        }
        let start = usize::try_from(header.data_offset).map_err(|_| oob)?;
        let len = usize::try_from(header.data_length).map_err(|_| oob)?;
        let end = start.checked_add(len).ok_or(oob)?;
        let payload = buf.get(start..end).ok_or(oob)?;
        Ok(DataMessage { header, payload })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn hdr() -> DataHeader {
        DataHeader {
            credits_requested: 255,
            credits_granted: 7,
            flags: 0,
            remaining_data_length: 0,
            data_offset: 0,
            data_length: 0,
        }
    }

    #[test]
    fn empty_message_is_20_bytes_with_zero_offset() {
        let b = hdr().encode(&[]);
        assert_eq!(b.len(), 20);
        assert_eq!(&b[..4], &[255, 0, 7, 0]);
        let m = DataMessage::decode(&b).unwrap();
        assert_eq!(m.header, hdr());
        assert!(m.payload.is_empty());
    }

    #[test]
    fn payload_sits_at_offset_24() {
        let h = DataHeader {
            flags: FLAG_RESPONSE_REQUESTED,
            remaining_data_length: 1000,
            ..hdr()
        };
        let b = h.encode(b"SMB2 bytes");
        assert_eq!(b.len(), 34);
        assert_eq!(&b[12..16], &24u32.to_le_bytes());
        assert_eq!(&b[16..20], &10u32.to_le_bytes());
        assert_eq!(&b[20..24], &[0; 4]);
        let m = DataMessage::decode(&b).unwrap();
        assert_eq!(m.payload, b"SMB2 bytes");
        assert!(m.header.response_requested());
        assert_eq!(m.header.remaining_data_length, 1000);
        assert_eq!(m.header.data_offset, 24);
    }

    #[test]
    fn reserved_field_is_ignored() {
        let mut b = hdr().encode(b"x");
        b[6] = 0xaa;
        b[7] = 0x55;
        assert_eq!(DataMessage::decode(&b).unwrap().payload, b"x");
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for payload in [&b""[..], b"a", b"0123456789abcdef0123"] {
            let b = hdr().encode(payload);
            for len in 0..b.len() {
                assert!(DataMessage::decode(&b[..len]).is_err(), "len {len}");
            }
            assert!(DataMessage::decode(&b).is_ok());
        }
    }

    #[test]
    fn credits_requested_must_be_nonzero() {
        let b = DataHeader {
            credits_requested: 0,
            ..hdr()
        }
        .encode(b"x");
        assert_eq!(
            DataMessage::decode(&b),
            Err(DataError::ZeroCreditsRequested)
        );
    }

    fn with_offset_len(offset: u32, length: u32, total: usize) -> Vec<u8> {
        let mut b = hdr().encode(&[]);
        b[12..16].copy_from_slice(&offset.to_le_bytes());
        b[16..20].copy_from_slice(&length.to_le_bytes());
        b.resize(total, 0xab);
        b
    }

    #[test]
    fn offset_rules() {
        assert_eq!(
            DataMessage::decode(&with_offset_len(28, 4, 64)),
            Err(DataError::MisalignedOffset(28))
        );
        assert_eq!(
            DataMessage::decode(&with_offset_len(16, 4, 64)),
            Err(DataError::OffsetInHeader(16))
        );
        assert_eq!(
            DataMessage::decode(&with_offset_len(0, 4, 64)),
            Err(DataError::OffsetInHeader(0))
        );
        // An offset of 32 (more padding) is legal.
        assert_eq!(
            DataMessage::decode(&with_offset_len(32, 32, 64))
                .unwrap()
                .payload
                .len(),
            32
        );
    }

    #[test]
    fn payload_must_lie_inside_the_message() {
        assert_eq!(
            DataMessage::decode(&with_offset_len(24, 41, 64)),
            Err(DataError::OutOfBounds {
                offset: 24,
                length: 41,
                len: 64
            })
        );
        assert!(DataMessage::decode(&with_offset_len(24, 40, 64)).is_ok());
        // Sums that overflow 32 bits are out of bounds, not wrapped.
        assert!(matches!(
            DataMessage::decode(&with_offset_len(0xFFFF_FFF8, 0x10, 64)),
            Err(DataError::OutOfBounds { .. })
        ));
        assert!(matches!(
            DataMessage::decode(&with_offset_len(24, u32::MAX, 64)),
            Err(DataError::OutOfBounds { .. })
        ));
        // No payload but an offset past the end.
        assert!(matches!(
            DataMessage::decode(&with_offset_len(64, 0, 32)),
            Err(DataError::OutOfBounds { .. })
        ));
    }

    #[test]
    fn arbitrary_headers_never_panic() {
        // A cheap deterministic sweep over field values that matter for the bounds checks.
        let values = [
            0u32,
            1,
            7,
            8,
            16,
            20,
            24,
            32,
            40,
            4096,
            0x7FFF_FFF8,
            u32::MAX,
        ];
        for &off in &values {
            for &len in &values {
                for total in [0usize, 19, 20, 24, 48, 4200] {
                    let b = with_offset_len(off, len, total.max(20));
                    let _ = DataMessage::decode(&b[..total.min(b.len())]);
                }
            }
        }
    }
}
