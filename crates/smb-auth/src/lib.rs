//! Authentication for the SMB server: SPNEGO (RFC 4178, MS-SPNG) wrapping NTLMSSP
//! (MS-NLMP), server side, NTLMv2 only (NTLMv1 and LM are refused), with key exchange, MIC
//! verification, and the NTLM2 session-security MACs that SPNEGO's mechListMIC needs.
//!
//! This crate is sans-IO and must NOT know sockets, the database, SMB2 messages, clocks or
//! randomness sources: accounts are looked up through [`Credentials`], and the caller passes
//! the server challenge (random bytes) and the current time. Every parser is bounded and
//! panic-free; tokens come straight from the network.

mod crypto;
mod der;
mod ntlm;
mod spnego;

pub use crypto::{
    compute_mic, hmac_md5, nt_hash, nt_proof_str, ntowf_v2, rc4_in_place, sealing_key,
    session_base_key, signing_key, utf16le, SessionSecurity, Side,
};
pub use ntlm::{NtlmServer, NTLMSSP_SIGNATURE};
pub use spnego::{server_neg_token_init, SpnegoServer, Step, OID_NTLMSSP, OID_SPNEGO};

/// NTLMSSP negotiate flags (MS-NLMP 2.2.2.5).
pub mod flags {
    /// Strings are UTF-16LE.
    pub const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
    /// Strings are in the OEM code page.
    pub const NEGOTIATE_OEM: u32 = 0x0000_0002;
    /// The server must send its TargetName.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// Message integrity (signing).
    pub const NEGOTIATE_SIGN: u32 = 0x0000_0010;
    /// Message confidentiality (sealing).
    pub const NEGOTIATE_SEAL: u32 = 0x0000_0020;
    /// LAN Manager session key (ignored: extended session security wins).
    pub const NEGOTIATE_LM_KEY: u32 = 0x0000_0080;
    /// NTLM authentication.
    pub const NEGOTIATE_NTLM: u32 = 0x0000_0200;
    /// Anonymous connection.
    pub const NEGOTIATE_ANONYMOUS: u32 = 0x0000_0800;
    /// Signing keys exist even without SIGN.
    pub const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
    /// TargetName is a domain.
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    /// TargetName is a server.
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    /// NTLM2 session security ("extended session security").
    pub const NEGOTIATE_EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// The CHALLENGE carries TargetInfo.
    pub const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
    /// Messages carry a Version field.
    pub const NEGOTIATE_VERSION: u32 = 0x0200_0000;
    /// 128-bit session keys.
    pub const NEGOTIATE_128: u32 = 0x2000_0000;
    /// Explicit key exchange (EncryptedRandomSessionKey).
    pub const NEGOTIATE_KEY_EXCH: u32 = 0x4000_0000;
    /// 56-bit encryption.
    pub const NEGOTIATE_56: u32 = 0x8000_0000;
}

/// Looks up the NT hash (MD4 of the UTF-16LE password) of an account.
pub trait Credentials {
    /// The NT hash of `user` in `domain` (as the client typed it), or `None` for an unknown
    /// or disabled account. User lookup is case-insensitive.
    fn nt_hash(&self, user: &str, domain: &str) -> Option<[u8; 16]>;
}

/// Names the server reports in the NTLM CHALLENGE's target information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdentity {
    /// NetBIOS computer name (MsvAvNbComputerName), e.g. "NAS".
    pub netbios_name: String,
    /// NetBIOS domain or workgroup (MsvAvNbDomainName and TargetName), e.g. "WORKGROUP".
    pub netbios_domain: String,
    /// DNS computer name (MsvAvDnsComputerName), e.g. "nas.example.org".
    pub dns_name: String,
    /// DNS domain (MsvAvDnsDomainName), may be empty.
    pub dns_domain: String,
}

/// Who authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// A verified account, with the ExportedSessionKey (the SMB session key).
    User {
        /// The user name as the client sent it.
        user: String,
        /// The domain as the client sent it.
        domain: String,
        /// ExportedSessionKey (after key-exchange decryption when negotiated).
        session_key: [u8; 16],
    },
    /// Anonymous logon: empty user name and empty responses.
    Anonymous,
}

/// Why authentication failed. Every variant ends in STATUS_LOGON_FAILURE (or
/// STATUS_INVALID_PARAMETER for malformed tokens) on the wire; the distinctions serve logs
/// and the guest-mapping policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token does not parse; the text says which part.
    #[error("malformed authentication token: {0}")]
    Malformed(&'static str),
    /// The credentials store does not know this user.
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    /// The NTLMv2 proof does not match the stored password.
    #[error("wrong password")]
    WrongPassword,
    /// The client answered with NTLMv1 or LM, which this server refuses.
    #[error("NTLMv1/LM authentication refused (NTLMv2 required)")]
    NtlmV1Refused,
    /// The AUTHENTICATE MIC, the SPNEGO mechListMIC or a message signature does not match.
    #[error("message integrity code does not match")]
    MicMismatch,
    /// SPNEGO needed a mechListMIC (NTLM with MIC, or a mechanism other than the client's
    /// first choice was selected) and the client sent none.
    #[error("SPNEGO mechListMIC required but missing")]
    MissingMechListMic,
    /// The client's SPNEGO mechanism list does not contain NTLMSSP.
    #[error("no common authentication mechanism (client does not offer NTLMSSP)")]
    NoCommonMechanism,
    /// The client rejected the negotiation.
    #[error("client rejected the negotiation")]
    Rejected,
    /// A message of the wrong type for this point of the exchange.
    #[error("unexpected message in this state")]
    UnexpectedMessage,
}
