//! SMB_DIRECT_BUFFER_DESCRIPTOR_V1 (MS-SMBD 2.2.3.1): where a peer's registered memory is.
//!
//! An SMB2 READ or WRITE with Channel SMB2_CHANNEL_RDMA_V1 (or _V1_INVALIDATE) carries a
//! list of these in its channel-information blob: for a READ the server RDMA-writes the
//! data into them, for a WRITE it RDMA-reads the data from them. This module only parses
//! and bounds the list; `smb-server` decides what to do with it and the verbs layer checks
//! the tokens when it posts the work requests.

use crate::wire::{le32, le64};

/// The size of one descriptor on the wire.
pub const BUFFER_DESCRIPTOR_V1_LEN: usize = 16;

/// One region of the peer's registered memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferDescriptorV1 {
    /// The remote address (or offset) of the region.
    pub offset: u64,
    /// The remote key (steering tag) that grants access to the region.
    pub token: u32,
    /// The region's length in bytes.
    pub length: u32,
}

/// Bounds on a descriptor list, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescriptorLimits {
    /// The most descriptors one request may carry.
    pub max_count: usize,
    /// The most bytes all descriptors together may describe (the negotiated
    /// MaxReadWriteSize).
    pub max_total_len: u64,
}

impl DescriptorLimits {
    /// Limits for one connection: at most `max_count` descriptors, together describing at
    /// most the negotiated MaxReadWriteSize.
    pub fn negotiated(params: &crate::Negotiated, max_count: usize) -> Self {
        DescriptorLimits {
            max_count,
            max_total_len: u64::from(params.max_read_write_size),
        }
    }
}

impl Default for DescriptorLimits {
    fn default() -> Self {
        DescriptorLimits {
            max_count: 64,
            max_total_len: 8 * 1024 * 1024,
        }
    }
}

/// Why a descriptor list was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    #[error("empty buffer descriptor list")]
    Empty,
    #[error("descriptor list of {0} bytes is not a multiple of 16")]
    Ragged(usize),
    #[error("{count} buffer descriptors, at most {max} allowed")]
    TooMany { count: usize, max: usize },
    #[error("buffer descriptor {index} has length 0")]
    ZeroLength { index: usize },
    #[error("buffer descriptor {index} wraps the address space")]
    Wraps { index: usize },
    #[error("buffer descriptors describe {total} bytes, at most {max} allowed")]
    TooLong { total: u64, max: u64 },
}

impl BufferDescriptorV1 {
    /// Decodes one descriptor from exactly 16 bytes or more (the rest ignored).
    pub fn decode(buf: &[u8]) -> Option<Self> {
        Some(BufferDescriptorV1 {
            offset: le64(buf, 0)?,
            token: le32(buf, 8)?,
            length: le32(buf, 12)?,
        })
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.token.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
    }
}

/// Parses a channel-information blob into descriptors. Rejected: an empty or ragged blob,
/// more than `limits.max_count` entries, a zero-length entry, an entry whose
/// offset + length wraps 64 bits, and a total length above `limits.max_total_len`.
pub fn parse_descriptors(
    blob: &[u8],
    limits: &DescriptorLimits,
) -> Result<Vec<BufferDescriptorV1>, DescriptorError> {
    if blob.is_empty() {
        return Err(DescriptorError::Empty);
    }
    if blob.len() % BUFFER_DESCRIPTOR_V1_LEN != 0 {
        return Err(DescriptorError::Ragged(blob.len()));
    }
    let count = blob.len() / BUFFER_DESCRIPTOR_V1_LEN;
    if count > limits.max_count {
        return Err(DescriptorError::TooMany {
            count,
            max: limits.max_count,
        });
    }
    let mut out = Vec::with_capacity(count);
    let mut total: u64 = 0;
    for (index, chunk) in blob.chunks_exact(BUFFER_DESCRIPTOR_V1_LEN).enumerate() {
        let d = BufferDescriptorV1::decode(chunk).ok_or(DescriptorError::Ragged(blob.len()))?;
        if d.length == 0 {
            return Err(DescriptorError::ZeroLength { index });
        }
        if d.offset.checked_add(u64::from(d.length)).is_none() {
            return Err(DescriptorError::Wraps { index });
        }
        // At most `max_count` u32 lengths: cannot overflow u64, but stay explicit.
        total = total.saturating_add(u64::from(d.length));
        if total > limits.max_total_len {
            return Err(DescriptorError::TooLong {
                total,
                max: limits.max_total_len,
            });
        }
        out.push(d);
    }
    Ok(out)
}

/// Encodes a list (the client side of a READ/WRITE, and tests).
pub fn encode_descriptors(list: &[BufferDescriptorV1]) -> Vec<u8> {
    let mut out = Vec::with_capacity(list.len().saturating_mul(BUFFER_DESCRIPTOR_V1_LEN));
    for d in list {
        d.encode_into(&mut out);
    }
    out
}

/// The bytes a list describes together.
pub fn total_length(list: &[BufferDescriptorV1]) -> u64 {
    list.iter()
        .fold(0u64, |acc, d| acc.saturating_add(u64::from(d.length)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn d(offset: u64, token: u32, length: u32) -> BufferDescriptorV1 {
        BufferDescriptorV1 {
            offset,
            token,
            length,
        }
    }

    #[test]
    fn wire_layout() {
        let b = encode_descriptors(&[d(0x1122_3344_5566_7788, 0xAABB_CCDD, 0x0010_0000)]);
        assert_eq!(
            b,
            [
                0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xDD, 0xCC, 0xBB, 0xAA, 0x00, 0x00,
                0x10, 0x00
            ]
        );
    }

    #[test]
    fn several_descriptors_round_trip() {
        let list = [
            d(0x1000, 1, 1 << 20),
            d(0x20_0000, 2, 4096),
            d(0x30_0000, 3, 1),
        ];
        let parsed =
            parse_descriptors(&encode_descriptors(&list), &DescriptorLimits::default()).unwrap();
        assert_eq!(parsed, list);
        assert_eq!(total_length(&parsed), (1 << 20) + 4097);
    }

    #[test]
    fn empty_and_ragged_blobs() {
        let lim = DescriptorLimits::default();
        assert_eq!(parse_descriptors(&[], &lim), Err(DescriptorError::Empty));
        let b = encode_descriptors(&[d(0, 1, 10), d(16, 2, 10)]);
        for len in 1..b.len() {
            let r = parse_descriptors(&b[..len], &lim);
            if len == 16 {
                assert!(r.is_ok());
            } else {
                assert_eq!(r, Err(DescriptorError::Ragged(len)));
            }
        }
    }

    #[test]
    fn count_is_bounded() {
        let lim = DescriptorLimits {
            max_count: 2,
            max_total_len: u64::MAX,
        };
        let three = encode_descriptors(&[d(0, 1, 1), d(8, 1, 1), d(16, 1, 1)]);
        assert_eq!(
            parse_descriptors(&three, &lim),
            Err(DescriptorError::TooMany { count: 3, max: 2 })
        );
    }

    #[test]
    fn limits_follow_the_negotiated_read_write_size() {
        let cfg = crate::Config {
            max_read_write_size: 1 << 20,
            ..crate::Config::default()
        };
        let req = crate::negotiate::NegotiateRequest::from_config(&cfg);
        let params = req.accept(&cfg).unwrap();
        let lim = DescriptorLimits::negotiated(&params, 16);
        assert_eq!(lim.max_total_len, 1 << 20);
        let b = encode_descriptors(&[d(0, 1, 1 << 20), d(1 << 20, 2, 1)]);
        assert!(matches!(
            parse_descriptors(&b, &lim),
            Err(DescriptorError::TooLong { .. })
        ));
    }

    #[test]
    fn zero_length_is_refused() {
        let b = encode_descriptors(&[d(0, 1, 1), d(8, 1, 0)]);
        assert_eq!(
            parse_descriptors(&b, &DescriptorLimits::default()),
            Err(DescriptorError::ZeroLength { index: 1 })
        );
    }

    #[test]
    fn wrapping_region_is_refused() {
        let b = encode_descriptors(&[d(u64::MAX - 9, 1, 10)]);
        assert_eq!(
            parse_descriptors(&b, &DescriptorLimits::default()),
            Err(DescriptorError::Wraps { index: 0 })
        );
        // Ending exactly at the top of the address space is fine.
        let b = encode_descriptors(&[d(u64::MAX - 10, 1, 10)]);
        assert!(parse_descriptors(&b, &DescriptorLimits::default()).is_ok());
    }

    #[test]
    fn total_length_is_bounded() {
        let lim = DescriptorLimits {
            max_count: 64,
            max_total_len: 1 << 20,
        };
        let ok = encode_descriptors(&[d(0, 1, 1 << 19), d(1 << 19, 1, 1 << 19)]);
        assert!(parse_descriptors(&ok, &lim).is_ok());
        let long = encode_descriptors(&[d(0, 1, 1 << 19), d(1 << 19, 1, (1 << 19) + 1)]);
        assert_eq!(
            parse_descriptors(&long, &lim),
            Err(DescriptorError::TooLong {
                total: (1 << 20) + 1,
                max: 1 << 20
            })
        );
        // Many maximal lengths: no overflow, just TooLong.
        let lim = DescriptorLimits {
            max_count: 1024,
            max_total_len: 1 << 40,
        };
        let huge: Vec<_> = (0..1024).map(|i| d(i << 32, 1, u32::MAX)).collect();
        assert!(matches!(
            parse_descriptors(&encode_descriptors(&huge), &lim),
            Err(DescriptorError::TooLong { .. })
        ));
    }
}
