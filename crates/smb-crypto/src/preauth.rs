//! The SMB 3.1.1 preauthentication integrity hash.

use sha2::{Digest, Sha512};

/// The preauth integrity hash value of SMB 3.1.1 (MS-SMB2 3.3.5.4, 3.3.5.5):
/// starts as 64 zero bytes; every NEGOTIATE and SESSION_SETUP request and
/// response (except the final successful SESSION_SETUP response) is folded in
/// with `H = SHA-512(H || message)`. The message is the whole SMB2 message
/// as sent, without the 4-byte transport header.
///
/// The connection keeps one value; each session starts from a copy of the
/// connection's value taken after the NEGOTIATE exchange (hence `Clone`).
#[derive(Clone, PartialEq, Eq)]
pub struct PreauthHash([u8; 64]);

impl PreauthHash {
    /// The initial value: 64 zero bytes.
    pub fn zero() -> Self {
        Self([0u8; 64])
    }

    /// Fold one message in: `H = SHA-512(H || msg)`.
    pub fn update(&mut self, msg: &[u8]) {
        let mut h = Sha512::new();
        h.update(self.0);
        h.update(msg);
        self.0 = h.finalize().into();
    }

    /// The current value, the KDF context for 3.1.1 key derivation.
    pub fn value(&self) -> &[u8; 64] {
        &self.0
    }
}

impl Default for PreauthHash {
    fn default() -> Self {
        Self::zero()
    }
}

impl core::fmt::Debug for PreauthHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PreauthHash(")?;
        for b in self.0.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}
