//! `smb-crypto`: the cryptography of SMB2/3 and nothing else — the SP800-108
//! KDF and per-dialect session key derivation, the SMB 3.1.1 preauth
//! integrity hash (SHA-512), message signing (HMAC-SHA256, AES-CMAC,
//! AES-GMAC) and the AEAD of the SMB3 transform (AES-128/256-CCM/GCM).
//!
//! It must NOT know sockets, clocks, threads or randomness (it is sans-IO:
//! nonces and keys are passed in by the caller, who owns nonce uniqueness),
//! nor SMB message types: the only wire knowledge here is the fixed byte
//! offsets of the 64-byte SMB2 header that signing needs (Command 12..14,
//! Flags 16..20, MessageId 24..32, Signature 48..64). Building and parsing
//! the TRANSFORM_HEADER is the protocol crate's job; it hands us the nonce,
//! the AAD (header bytes 20..52) and the payload.
//!
//! Performance: [`SigningKey`] and [`CipherKey`] expand a key once and are
//! reused per message; the free functions ([`sign`], [`encrypt`], ...) build
//! a throw-away key object each call. AEAD works in place. AES uses AES-NI
//! and GHASH uses CLMUL when the CPU has them (runtime detection in the
//! `aes` and `polyval` crates, default features).

mod cipher;
mod error;
mod gcm;
mod kdf;
mod preauth;
mod signing;

pub use cipher::{decrypt, encrypt, Cipher, CipherKey};
pub use error::CryptoError;
pub use kdf::{derive_session_keys, kdf, signing_algorithm_for, SessionKeys, KDF_MAX_OUTPUT};
pub use preauth::PreauthHash;
pub use signing::{
    sign, verify, SigningAlgorithm, SigningKey, SIGNATURE_LEN, SIGNATURE_OFFSET, SIGNING_KEY_LEN,
    SMB2_HEADER_LEN,
};
