//! Authentication for the SMB server: SPNEGO (RFC 4178) wrapping NTLMSSP, server side,
//! NTLMv2 only (NTLMv1 and LM are refused), with key exchange, MIC verification and the NTLM
//! session-security MACs SPNEGO's mechListMIC needs.
//!
//! Must not know: sockets, the database (users come through [`Credentials`]), SMB2 messages,
//! clocks or randomness (the caller passes the server challenge and the time).

mod ntlm;
mod spnego;

pub use ntlm::{nt_hash, NtlmServer};
pub use spnego::{server_neg_token_init, SpnegoServer, Step, OID_NTLMSSP};

/// Looks up the NT hash (MD4 of the UTF-16LE password) of an account.
pub trait Credentials {
    /// `None` for an unknown or disabled user; user names compare case-insensitively.
    fn nt_hash(&self, user: &str, domain: &str) -> Option<[u8; 16]>;
}

/// Names the server reports in NTLM's target information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdentity {
    pub netbios_name: String,
    pub netbios_domain: String,
    pub dns_name: String,
    pub dns_domain: String,
}

/// Who authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    User { user: String, domain: String, session_key: [u8; 16] },
    Anonymous,
}

/// Why authentication failed. Every variant ends in STATUS_LOGON_FAILURE on the wire; the
/// distinction is for logs and for the guest-mapping policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("malformed authentication token: {0}")]
    Malformed(&'static str),
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    #[error("wrong password")]
    WrongPassword,
    #[error("NTLMv1/LM authentication refused")]
    NtlmV1Refused,
    #[error("message integrity code does not match")]
    MicMismatch,
    #[error("unexpected message in this state")]
    UnexpectedMessage,
}
