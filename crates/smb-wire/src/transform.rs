//! The SMB3 TRANSFORM_HEADER (encryption, MS-SMB2 2.2.41) and the COMPRESSION_TRANSFORM_HEADER
//! (MS-SMB2 2.2.42). This crate only frames them; it neither encrypts nor decompresses.

use crate::codec::{Reader, Writer};
use crate::WireError;

/// 0xFD 'S' 'M' 'B'.
pub const TRANSFORM_PROTOCOL_ID: [u8; 4] = [0xFD, b'S', b'M', b'B'];
/// 0xFC 'S' 'M' 'B'.
pub const COMPRESSION_PROTOCOL_ID: [u8; 4] = [0xFC, b'S', b'M', b'B'];

/// Flags value of a 3.1.1 transform header: the payload is encrypted.
pub const TRANSFORM_FLAG_ENCRYPTED: u16 = 0x0001;

/// The encryption transform header that precedes an encrypted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformHeader {
    /// The AEAD tag (16 bytes).
    pub signature: [u8; 16],
    /// The nonce: 11 bytes used for CCM, 12 for GCM, rest zero.
    pub nonce: [u8; 16],
    /// Size of the plaintext message.
    pub original_message_size: u32,
    /// Flags (3.1.1) / EncryptionAlgorithm (3.0, 3.0.2); `1` in both cases.
    pub flags: u16,
    /// The session whose keys encrypt the message.
    pub session_id: u64,
}

impl TransformHeader {
    /// Encoded size.
    pub const SIZE: usize = 52;

    /// Decode the header at the start of `msg` (the ciphertext follows at offset 52).
    pub fn decode(msg: &[u8]) -> Result<TransformHeader, WireError> {
        let mut r = Reader::new(msg);
        if r.array::<4>()? != TRANSFORM_PROTOCOL_ID {
            return Err(WireError::BadProtocolId);
        }
        let signature = r.array()?;
        let nonce = r.array()?;
        let original_message_size = r.u32()?;
        r.skip(2)?;
        let flags = r.u16()?;
        let session_id = r.u64()?;
        Ok(TransformHeader {
            signature,
            nonce,
            original_message_size,
            flags,
            session_id,
        })
    }

    /// Append the 52-byte header to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_bytes(&TRANSFORM_PROTOCOL_ID);
        out.put_bytes(&self.signature);
        out.put_bytes(&self.nonce);
        out.put_u32(self.original_message_size);
        out.put_u16(0);
        out.put_u16(self.flags);
        out.put_u64(self.session_id);
    }

    /// The additional authenticated data: the 32 bytes from Nonce through SessionId.
    pub fn aad(&self) -> [u8; 32] {
        let mut v = Vec::with_capacity(Self::SIZE);
        self.encode(&mut v);
        let mut a = [0u8; 32];
        if let Some(s) = v.get(20..52) {
            a.copy_from_slice(s);
        }
        a
    }
}

/// `msg` starts with the encryption transform ProtocolId.
pub fn is_transform(msg: &[u8]) -> bool {
    msg.get(..4) == Some(&TRANSFORM_PROTOCOL_ID[..])
}

/// `msg` starts with the compression transform ProtocolId.
pub fn is_compression_transform(msg: &[u8]) -> bool {
    msg.get(..4) == Some(&COMPRESSION_PROTOCOL_ID[..])
}

/// Compression algorithm identifiers (MS-SMB2 2.2.3.1.3).
pub mod compression {
    /// No compression.
    pub const NONE: u16 = 0x0000;
    /// LZNT1.
    pub const LZNT1: u16 = 0x0001;
    /// Plain LZ77.
    pub const LZ77: u16 = 0x0002;
    /// LZ77+Huffman.
    pub const LZ77_HUFFMAN: u16 = 0x0003;
    /// Pattern scanning V1.
    pub const PATTERN_V1: u16 = 0x0004;
    /// LZ4.
    pub const LZ4: u16 = 0x0005;
    /// Flags value of a chained compression transform.
    pub const FLAG_CHAINED: u16 = 0x0001;
}

/// One payload of a chained compression transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressedPayload {
    /// The algorithm of this payload.
    pub algorithm: u16,
    /// Payload flags.
    pub flags: u16,
    /// Decompressed size, present for LZNT1, LZ77, LZ77+Huffman and LZ4 only.
    pub original_payload_size: Option<u32>,
    /// The (compressed) payload bytes.
    pub data: Vec<u8>,
}

/// A decoded COMPRESSION_TRANSFORM_HEADER with its payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompressionTransform {
    /// The unchained form: `uncompressed` prefix (Offset bytes) followed by one compressed
    /// segment.
    Unchained {
        /// OriginalCompressedSegmentSize.
        original_size: u32,
        /// CompressionAlgorithm.
        algorithm: u16,
        /// Uncompressed bytes preceding the compressed data.
        uncompressed: Vec<u8>,
        /// The compressed data.
        compressed: Vec<u8>,
    },
    /// The chained form: a list of payload headers each followed by its data.
    Chained {
        /// OriginalCompressedSegmentSize.
        original_size: u32,
        /// The payloads in order.
        payloads: Vec<CompressedPayload>,
    },
}

/// Bound on the payloads of a chained compression transform.
pub const MAX_COMPRESSED_PAYLOADS: usize = 1024;

impl CompressionTransform {
    /// Decode the compression transform that `msg` starts with. A server that does not
    /// support compression uses this only to recognise the frame and refuse it cleanly.
    pub fn decode(msg: &[u8]) -> Result<CompressionTransform, WireError> {
        let mut r = Reader::new(msg);
        if r.array::<4>()? != COMPRESSION_PROTOCOL_ID {
            return Err(WireError::BadProtocolId);
        }
        let original_size = r.u32()?;
        let algorithm = r.u16()?;
        let flags = r.u16()?;
        let offset_or_len = r.u32()?;
        if flags & compression::FLAG_CHAINED == 0 {
            let uncompressed = r.bytes(offset_or_len as usize)?.to_vec();
            let compressed = r.bytes(r.remaining())?.to_vec();
            return Ok(CompressionTransform::Unchained {
                original_size,
                algorithm,
                uncompressed,
                compressed,
            });
        }
        // Chained: the first payload header overlaps the last 8 bytes of the header.
        let mut payloads = Vec::new();
        let (mut alg, mut pflags, mut len) = (algorithm, flags, offset_or_len);
        loop {
            if payloads.len() >= MAX_COMPRESSED_PAYLOADS {
                return Err(WireError::TooLarge);
            }
            let mut body = r.bytes(len as usize)?;
            // OriginalPayloadSize precedes the data only for the real compressors
            // (not for NONE nor for PATTERN_V1, whose 8-byte payload is self-describing).
            let has_original_size = matches!(
                alg,
                compression::LZNT1
                    | compression::LZ77
                    | compression::LZ77_HUFFMAN
                    | compression::LZ4
            );
            let original_payload_size = if has_original_size {
                let mut br = Reader::new(body);
                let v = br.u32()?;
                body = br.bytes(br.remaining())?;
                Some(v)
            } else {
                None
            };
            payloads.push(CompressedPayload {
                algorithm: alg,
                flags: pflags,
                original_payload_size,
                data: body.to_vec(),
            });
            if r.remaining() == 0 {
                break;
            }
            alg = r.u16()?;
            pflags = r.u16()?;
            len = r.u32()?;
        }
        Ok(CompressionTransform::Chained {
            original_size,
            payloads,
        })
    }
}
