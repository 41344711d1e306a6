//! AEAD for the SMB3 TRANSFORM_HEADER: AES-128/256-CCM and AES-128/256-GCM.

use aes::{Aes128, Aes256};
use ccm::aead::generic_array::GenericArray;
use ccm::aead::{AeadInPlace, KeyInit};
use ccm::consts::{U11, U16};
use ccm::Ccm;

use crate::gcm::GcmKey;
use crate::CryptoError;

type Aes128Ccm = Ccm<Aes128, U16, U11>;
type Aes256Ccm = Ccm<Aes256, U16, U11>;

/// An SMB3 encryption cipher (MS-SMB2 2.2.3.1.2 Cipher IDs in [`Cipher::id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    /// AES-128-CCM (id 1; the only cipher of 3.0/3.0.2).
    Aes128Ccm,
    /// AES-128-GCM (id 2).
    Aes128Gcm,
    /// AES-256-CCM (id 3).
    Aes256Ccm,
    /// AES-256-GCM (id 4).
    Aes256Gcm,
}

impl Cipher {
    /// Map a cipher ID of SMB2_ENCRYPTION_CAPABILITIES (1..=4).
    pub fn from_id(id: u16) -> Option<Cipher> {
        match id {
            1 => Some(Self::Aes128Ccm),
            2 => Some(Self::Aes128Gcm),
            3 => Some(Self::Aes256Ccm),
            4 => Some(Self::Aes256Gcm),
            _ => None,
        }
    }

    /// The cipher ID (1..=4).
    pub fn id(self) -> u16 {
        match self {
            Self::Aes128Ccm => 1,
            Self::Aes128Gcm => 2,
            Self::Aes256Ccm => 3,
            Self::Aes256Gcm => 4,
        }
    }

    /// Key length in bytes: 16 for AES-128, 32 for AES-256.
    pub fn key_len(self) -> usize {
        match self {
            Self::Aes128Ccm | Self::Aes128Gcm => 16,
            Self::Aes256Ccm | Self::Aes256Gcm => 32,
        }
    }

    /// Nonce length in bytes: CCM 11, GCM 12 (the leading bytes of the
    /// 16-byte TRANSFORM_HEADER Nonce field; the rest must be zero on the wire).
    pub fn nonce_len(self) -> usize {
        match self {
            Self::Aes128Ccm | Self::Aes256Ccm => 11,
            Self::Aes128Gcm | Self::Aes256Gcm => 12,
        }
    }
}

/// An encryption or decryption key with its AES key schedule (and, for GCM,
/// the GHASH key) expanded once. Build one per session direction and reuse
/// it for every message.
#[derive(Clone)]
pub struct CipherKey {
    inner: Aead,
}

#[derive(Clone)]
enum Aead {
    Ccm128(Box<Aes128Ccm>),
    Gcm128(GcmKey),
    Ccm256(Box<Aes256Ccm>),
    Gcm256(GcmKey),
}

impl core::fmt::Debug for CipherKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CipherKey")
            .field("cipher", &self.cipher())
            .finish_non_exhaustive()
    }
}

impl CipherKey {
    /// Expand `key` for `cipher`. The key must be exactly
    /// [`Cipher::key_len`] bytes, else [`CryptoError::InvalidKeyLength`].
    pub fn new(cipher: Cipher, key: &[u8]) -> Result<Self, CryptoError> {
        let bad = CryptoError::InvalidKeyLength {
            expected: cipher.key_len(),
            got: key.len(),
        };
        if key.len() != cipher.key_len() {
            return Err(bad);
        }
        let inner = match cipher {
            Cipher::Aes128Ccm => {
                Aead::Ccm128(Box::new(Aes128Ccm::new_from_slice(key).map_err(|_| bad)?))
            }
            Cipher::Aes128Gcm => Aead::Gcm128(GcmKey::new(key)?),
            Cipher::Aes256Ccm => {
                Aead::Ccm256(Box::new(Aes256Ccm::new_from_slice(key).map_err(|_| bad)?))
            }
            Cipher::Aes256Gcm => Aead::Gcm256(GcmKey::new(key)?),
        };
        Ok(Self { inner })
    }

    /// The cipher of this key.
    pub fn cipher(&self) -> Cipher {
        match self.inner {
            Aead::Ccm128(_) => Cipher::Aes128Ccm,
            Aead::Gcm128(_) => Cipher::Aes128Gcm,
            Aead::Ccm256(_) => Cipher::Aes256Ccm,
            Aead::Gcm256(_) => Cipher::Aes256Gcm,
        }
    }

    fn nonce<'a>(&self, nonce: &'a [u8]) -> Result<&'a [u8], CryptoError> {
        let n = self.cipher().nonce_len();
        nonce.get(..n).ok_or(CryptoError::InvalidNonceLength {
            expected: n,
            got: nonce.len(),
        })
    }

    /// Encrypt `buf` in place and return the 16-byte tag (the
    /// TRANSFORM_HEADER Signature). `nonce` may be the whole 16-byte Nonce
    /// field: only its first [`Cipher::nonce_len`] bytes are used. `aad` is
    /// TRANSFORM_HEADER bytes 20..52 (Nonce through SessionId).
    pub fn encrypt_in_place(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        let n = self.nonce(nonce)?;
        let tag = match &self.inner {
            Aead::Ccm128(c) => c.encrypt_in_place_detached(GenericArray::from_slice(n), aad, buf),
            Aead::Ccm256(c) => c.encrypt_in_place_detached(GenericArray::from_slice(n), aad, buf),
            Aead::Gcm128(k) | Aead::Gcm256(k) => return k.seal(n, aad, buf),
        }
        .map_err(|_| CryptoError::MessageTooLong)?;
        Ok(tag.into())
    }

    /// Decrypt `buf` in place after checking `tag` (constant time, inside the
    /// AEAD). On [`CryptoError::BadTag`] the buffer is zeroed, so no
    /// unauthenticated plaintext is ever left behind.
    pub fn decrypt_in_place(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), CryptoError> {
        let n = self.nonce(nonce)?;
        let t = GenericArray::from_slice(tag);
        let r = match &self.inner {
            Aead::Ccm128(c) => {
                c.decrypt_in_place_detached(GenericArray::from_slice(n), aad, buf, t)
            }
            Aead::Ccm256(c) => {
                c.decrypt_in_place_detached(GenericArray::from_slice(n), aad, buf, t)
            }
            Aead::Gcm128(k) | Aead::Gcm256(k) => return k.open(n, aad, buf, tag),
        };
        if r.is_err() {
            buf.fill(0);
            return Err(CryptoError::BadTag);
        }
        Ok(())
    }
}

/// Encrypt `plaintext` in place with a one-off [`CipherKey`] and return the
/// tag (the TRANSFORM_HEADER Signature). The caller builds the 52-byte
/// TRANSFORM_HEADER; `aad` is its bytes 20..52 (Nonce..SessionId). Nonce:
/// CCM uses the first 11 bytes, GCM the first 12.
pub fn encrypt(
    c: Cipher,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &mut Vec<u8>,
) -> Result<[u8; 16], CryptoError> {
    CipherKey::new(c, key)?.encrypt_in_place(nonce, aad, plaintext.as_mut_slice())
}

/// Decrypt `ciphertext` in place with a one-off [`CipherKey`]; a tag
/// mismatch is [`CryptoError::BadTag`] (and the buffer is zeroed).
pub fn decrypt(
    c: Cipher,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &mut Vec<u8>,
    tag: &[u8; 16],
) -> Result<(), CryptoError> {
    CipherKey::new(c, key)?.decrypt_in_place(nonce, aad, ciphertext.as_mut_slice(), tag)
}
