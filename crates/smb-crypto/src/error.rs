//! The error type of this crate.

/// Everything that can go wrong in this crate. No function here panics on bad
/// input; each failure is one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A message to sign or verify is shorter than the 64-byte SMB2 header.
    #[error("message is {len} bytes, shorter than the 64-byte SMB2 header")]
    MessageTooShort {
        /// Length of the message that was passed.
        len: usize,
    },
    /// A key has the wrong length for the algorithm or cipher.
    #[error("key is {got} bytes, the algorithm needs {expected}")]
    InvalidKeyLength {
        /// Length the algorithm requires.
        expected: usize,
        /// Length that was passed.
        got: usize,
    },
    /// A nonce is shorter than the cipher's nonce length.
    #[error("nonce is {got} bytes, the cipher needs at least {expected}")]
    InvalidNonceLength {
        /// Minimum nonce length of the cipher (CCM 11, GCM 12).
        expected: usize,
        /// Length that was passed.
        got: usize,
    },
    /// The signature in the SMB2 header does not match the message.
    #[error("SMB2 signature mismatch")]
    BadSignature,
    /// The AEAD authentication tag (the transform header Signature) does not
    /// match: the ciphertext, the AAD, the nonce or the key is wrong.
    #[error("transform authentication tag mismatch")]
    BadTag,
    /// The plaintext is longer than the cipher can protect with one nonce.
    #[error("message too long for the cipher")]
    MessageTooLong,
    /// The crypto library failed to set up a context (out of memory, or a cipher the
    /// system's OpenSSL does not provide).
    #[error("the crypto library failed")]
    Backend,
}
