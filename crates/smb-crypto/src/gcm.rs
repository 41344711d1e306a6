//! AES-GCM and AES-GMAC through OpenSSL's EVP interface.
//!
//! Why OpenSSL here and RustCrypto elsewhere: GMAC signs every SMB 3.1.1 message, and a
//! GMAC is all additional data. OpenSSL hashes additional data with its aggregated
//! CLMUL/AVX GHASH (several blocks per reduction); ring and RustCrypto's `polyval` take
//! one block at a time there, about a quarter of the speed on this hardware (see
//! `tests/bench.rs`). GCM encryption gains for the same reason.

use openssl::cipher::{Cipher, CipherRef};
use openssl::cipher_ctx::CipherCtx;

use crate::CryptoError;

/// GCM's nonce (IV) length as SMB uses it.
pub(crate) const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// An AES-GCM key (128 or 256 bits). The raw key is kept; each operation sets up a
/// fresh EVP context, which costs well under a microsecond next to any message.
#[derive(Clone)]
pub(crate) struct GcmKey {
    cipher: &'static CipherRef,
    key: zeroize::Zeroizing<Vec<u8>>,
}

impl GcmKey {
    /// A key for AES-128-GCM (16 bytes) or AES-256-GCM (32 bytes); other lengths are refused.
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        let cipher = match key.len() {
            16 => Cipher::aes_128_gcm(),
            32 => Cipher::aes_256_gcm(),
            got => {
                return Err(CryptoError::InvalidKeyLength { expected: 16, got });
            }
        };
        Ok(Self {
            cipher,
            key: zeroize::Zeroizing::new(key.to_vec()),
        })
    }

    fn ctx(&self, encrypt: bool, nonce: &[u8]) -> Result<CipherCtx, CryptoError> {
        if nonce.len() != NONCE_LEN {
            return Err(CryptoError::InvalidNonceLength {
                expected: NONCE_LEN,
                got: nonce.len(),
            });
        }
        let mut ctx = CipherCtx::new().map_err(|_| CryptoError::Backend)?;
        let r = if encrypt {
            ctx.encrypt_init(Some(self.cipher), Some(&self.key), Some(nonce))
        } else {
            ctx.decrypt_init(Some(self.cipher), Some(&self.key), Some(nonce))
        };
        r.map_err(|_| CryptoError::Backend)?;
        Ok(ctx)
    }

    /// The GMAC tag (GCM with no plaintext) of the concatenation of `aad`'s parts, so a
    /// caller can leave out or replace a field without copying the message.
    pub fn gmac(&self, nonce: &[u8], aad: &[&[u8]]) -> Result<[u8; TAG_LEN], CryptoError> {
        let mut ctx = self.ctx(true, nonce)?;
        for part in aad {
            ctx.cipher_update(part, None)
                .map_err(|_| CryptoError::MessageTooLong)?;
        }
        ctx.cipher_final(&mut [])
            .map_err(|_| CryptoError::Backend)?;
        let mut tag = [0u8; TAG_LEN];
        ctx.tag(&mut tag).map_err(|_| CryptoError::Backend)?;
        Ok(tag)
    }

    /// Encrypt `buf` in place; returns the tag.
    pub fn seal(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], CryptoError> {
        let mut ctx = self.ctx(true, nonce)?;
        ctx.cipher_update(aad, None)
            .map_err(|_| CryptoError::MessageTooLong)?;
        let n = ctx
            .cipher_update_inplace(buf, buf.len())
            .map_err(|_| CryptoError::MessageTooLong)?;
        if n != buf.len() {
            return Err(CryptoError::Backend);
        }
        ctx.cipher_final(&mut [])
            .map_err(|_| CryptoError::Backend)?;
        let mut tag = [0u8; TAG_LEN];
        ctx.tag(&mut tag).map_err(|_| CryptoError::Backend)?;
        Ok(tag)
    }

    /// Check `tag` and decrypt `buf` in place. On a bad tag the buffer is zeroed, so no
    /// unauthenticated plaintext is left behind.
    pub fn open(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        let r = (|| {
            let mut ctx = self.ctx(false, nonce)?;
            ctx.set_tag(tag).map_err(|_| CryptoError::Backend)?;
            ctx.cipher_update(aad, None)
                .map_err(|_| CryptoError::MessageTooLong)?;
            let n = ctx
                .cipher_update_inplace(buf, buf.len())
                .map_err(|_| CryptoError::MessageTooLong)?;
            if n != buf.len() {
                return Err(CryptoError::Backend);
            }
            // The tag is compared (in constant time) by the final step.
            ctx.cipher_final(&mut []).map_err(|_| CryptoError::BadTag)?;
            Ok(())
        })();
        if r.is_err() {
            buf.fill(0);
        }
        r
    }
}
