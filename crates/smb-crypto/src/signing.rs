//! SMB2/3 message signing: HMAC-SHA256, AES-128-CMAC, AES-128-GMAC.

use aes::Aes128;
use cmac::Cmac;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::gcm::GcmKey;
use crate::CryptoError;

/// Length of the SMB2 header.
pub const SMB2_HEADER_LEN: usize = 64;
/// Offset of the 16-byte Signature field in the SMB2 header.
pub const SIGNATURE_OFFSET: usize = 48;
/// Length of a signature.
pub const SIGNATURE_LEN: usize = 16;
/// Length of every signing key (Session.SigningKey / Channel.SigningKey).
pub const SIGNING_KEY_LEN: usize = 16;

const SMB2_FLAGS_SERVER_TO_REDIR: u32 = 0x0000_0001;
const SMB2_CANCEL: u16 = 0x000C;

/// A signing algorithm (MS-SMB2 2.2.3.1.7 SigningAlgorithms IDs in
/// [`SigningAlgorithm::id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningAlgorithm {
    /// HMAC-SHA256 truncated to 16 bytes (2.0.2, 2.1; id 0).
    HmacSha256,
    /// AES-128-CMAC (3.0, 3.0.2, 3.1.1 default; id 1).
    AesCmac,
    /// AES-128-GMAC (3.1.1 with SMB2_SIGNING_CAPABILITIES; id 2).
    AesGmac,
}

impl SigningAlgorithm {
    /// Map a SigningAlgorithms ID of SMB2_SIGNING_CAPABILITIES.
    pub fn from_id(id: u16) -> Option<SigningAlgorithm> {
        match id {
            0 => Some(Self::HmacSha256),
            1 => Some(Self::AesCmac),
            2 => Some(Self::AesGmac),
            _ => None,
        }
    }

    /// The SigningAlgorithms ID (0, 1 or 2).
    pub fn id(self) -> u16 {
        match self {
            Self::HmacSha256 => 0,
            Self::AesCmac => 1,
            Self::AesGmac => 2,
        }
    }
}

/// A signing key with its expanded key schedule cached: build it once per
/// session/channel, then sign and verify any number of messages.
#[derive(Clone)]
pub struct SigningKey {
    inner: Signer,
}

#[derive(Clone)]
enum Signer {
    Hmac(Box<Hmac<Sha256>>),
    Cmac(Box<Cmac<Aes128>>),
    /// AES-GMAC through OpenSSL's AES-GCM (see `gcm.rs` for why).
    Gmac(Box<GcmKey>),
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.algorithm())
            .finish_non_exhaustive()
    }
}

/// Split a message into (bytes before the signature, bytes after it).
fn around_signature(msg: &[u8]) -> Result<(&[u8], &[u8]), CryptoError> {
    let too_short = CryptoError::MessageTooShort { len: msg.len() };
    let head = msg.get(..SIGNATURE_OFFSET).ok_or(too_short)?;
    let tail = msg.get(SMB2_HEADER_LEN..).ok_or(too_short)?;
    Ok((head, tail))
}

/// The AES-GMAC nonce (MS-SMB2 3.1.4.1): MessageId (header bytes 24..32)
/// followed by a little-endian u32 whose bit 0 is set for a message sent by
/// the server (SMB2_FLAGS_SERVER_TO_REDIR) and bit 1 for a CANCEL request.
/// The caller has checked that `msg` holds a whole header.
fn gmac_nonce(msg: &[u8]) -> Result<[u8; 12], CryptoError> {
    let too_short = CryptoError::MessageTooShort { len: msg.len() };
    let command: [u8; 2] = msg
        .get(12..14)
        .and_then(|s| s.try_into().ok())
        .ok_or(too_short)?;
    let flags: [u8; 4] = msg
        .get(16..20)
        .and_then(|s| s.try_into().ok())
        .ok_or(too_short)?;
    let message_id = msg.get(24..32).ok_or(too_short)?;
    let flags = u32::from_le_bytes(flags);
    let command = u16::from_le_bytes(command);
    let mut word = 0u32;
    if flags & SMB2_FLAGS_SERVER_TO_REDIR != 0 {
        word |= 1;
    }
    if command == SMB2_CANCEL {
        word |= 2;
    }
    let mut nonce = [0u8; 12];
    for (d, s) in nonce
        .iter_mut()
        .zip(message_id.iter().chain(word.to_le_bytes().iter()))
    {
        *d = *s;
    }
    Ok(nonce)
}

/// The AES-GMAC tag of `msg` (whose signature field the caller has zeroed).
fn gmac(key: &GcmKey, msg: &[u8], parts: &[&[u8]]) -> Result<[u8; 16], CryptoError> {
    key.gmac(&gmac_nonce(msg)?, parts)
}

impl SigningKey {
    /// Expand `key` for `alg`. Every SMB signing key is 16 bytes (for 2.x the
    /// 16-byte SessionKey itself); anything else is
    /// [`CryptoError::InvalidKeyLength`].
    pub fn new(alg: SigningAlgorithm, key: &[u8]) -> Result<Self, CryptoError> {
        if key.len() != SIGNING_KEY_LEN {
            return Err(CryptoError::InvalidKeyLength {
                expected: SIGNING_KEY_LEN,
                got: key.len(),
            });
        }
        let bad_len = CryptoError::InvalidKeyLength {
            expected: SIGNING_KEY_LEN,
            got: key.len(),
        };
        let inner = match alg {
            SigningAlgorithm::HmacSha256 => Signer::Hmac(Box::new(
                <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| bad_len)?,
            )),
            SigningAlgorithm::AesCmac => Signer::Cmac(Box::new(
                <Cmac<Aes128> as Mac>::new_from_slice(key).map_err(|_| bad_len)?,
            )),
            SigningAlgorithm::AesGmac => Signer::Gmac(Box::new(GcmKey::new(key)?)),
        };
        Ok(Self { inner })
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        match self.inner {
            Signer::Hmac(_) => SigningAlgorithm::HmacSha256,
            Signer::Cmac(_) => SigningAlgorithm::AesCmac,
            Signer::Gmac(_) => SigningAlgorithm::AesGmac,
        }
    }

    /// The signature of `msg` (64-byte header + body), computed as if header
    /// bytes 48..64 were zero; `msg` itself is not modified. Errors if `msg`
    /// is shorter than 64 bytes.
    pub fn signature(&self, msg: &[u8]) -> Result<[u8; 16], CryptoError> {
        let (head, tail) = around_signature(msg)?;
        let zeros = [0u8; SIGNATURE_LEN];
        let mut out = [0u8; SIGNATURE_LEN];
        match &self.inner {
            Signer::Hmac(base) => {
                let mut mac = (**base).clone();
                mac.update(head);
                mac.update(&zeros);
                mac.update(tail);
                let full = mac.finalize().into_bytes();
                for (d, s) in out.iter_mut().zip(full.iter()) {
                    *d = *s;
                }
            }
            Signer::Cmac(base) => {
                let mut mac = (**base).clone();
                mac.update(head);
                mac.update(&zeros);
                mac.update(tail);
                out = mac.finalize().into_bytes().into();
            }
            Signer::Gmac(key) => {
                // GMAC = GCM with the message as AAD and no plaintext, fed in three parts.
                out = gmac(key, msg, &[head, &zeros, tail])?;
            }
        }
        Ok(out)
    }

    /// Sign `msg` in place: compute the signature with bytes 48..64 taken as
    /// zero and write it there. The caller sets SMB2_FLAGS_SIGNED (and, for
    /// a compound, pads the message as it will be sent) *before* signing.
    pub fn sign(&self, msg: &mut [u8]) -> Result<(), CryptoError> {
        let len = msg.len();
        let sig = self.signature(msg)?;
        let field = msg
            .get_mut(SIGNATURE_OFFSET..SMB2_HEADER_LEN)
            .ok_or(CryptoError::MessageTooShort { len })?;
        field.copy_from_slice(&sig);
        Ok(())
    }

    /// Check the signature in header bytes 48..64 in constant time.
    /// `msg` is not modified. Mismatch → [`CryptoError::BadSignature`].
    pub fn verify(&self, msg: &[u8]) -> Result<(), CryptoError> {
        let expected = self.signature(msg)?;
        let got = msg
            .get(SIGNATURE_OFFSET..SMB2_HEADER_LEN)
            .ok_or(CryptoError::MessageTooShort { len: msg.len() })?;
        if bool::from(expected.ct_eq(got)) {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }
}

/// Sign an SMB2 message in place with a one-off [`SigningKey`]: bytes 48..64
/// are taken as zero, the 16-byte signature is computed and written there.
/// The message is the 64-byte header + body (one message of a compound,
/// padded as sent). For AES-GMAC the 12-byte nonce is MessageId (bytes
/// 24..32) || u32 LE with bit 0 = SMB2_FLAGS_SERVER_TO_REDIR and bit 1 =
/// (command == CANCEL). Errors if `msg` is shorter than 64 bytes or the key
/// is not 16 bytes.
pub fn sign(alg: SigningAlgorithm, key: &[u8], msg: &mut [u8]) -> Result<(), CryptoError> {
    SigningKey::new(alg, key)?.sign(msg)
}

/// Verify an SMB2 message's signature in constant time without modifying it.
pub fn verify(alg: SigningAlgorithm, key: &[u8], msg: &[u8]) -> Result<(), CryptoError> {
    SigningKey::new(alg, key)?.verify(msg)
}
