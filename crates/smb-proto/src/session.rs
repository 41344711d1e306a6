//! Sessions of one connection: the authentication in progress, then the keys.

use std::sync::Arc;

use smb_auth::SpnegoServer;
use smb_crypto::{CipherKey, PreauthHash, SigningKey};

/// Who a valid session belongs to, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: u64,
    pub user: String,
    pub domain: String,
    pub guest: bool,
    pub anonymous: bool,
    /// Every message of this session must be encrypted (SessionFlags ENCRYPT_DATA).
    pub encrypt_data: bool,
    /// The session can encrypt (it has keys and the dialect is 3.x).
    pub can_encrypt: bool,
}

pub(crate) enum SessionState {
    /// SESSION_SETUP rounds under way.
    InProgress(Box<SpnegoServer>),
    /// Authenticated; requests may use it.
    Valid,
}

pub(crate) struct Session {
    pub state: SessionState,
    /// 3.1.1: the session's preauth integrity hash (starts from the connection's).
    pub preauth: Option<PreauthHash>,
    pub info: Option<Arc<SessionInfo>>,
    /// Signing key (expanded once), absent for guest and anonymous sessions.
    pub signing: Option<SigningKey>,
    /// Client→server and server→client encryption keys, when the dialect can encrypt.
    pub decrypt: Option<CipherKey>,
    pub encrypt: Option<CipherKey>,
    pub signing_required: bool,
    /// Counter for encryption nonces (never repeats for one key).
    pub nonce_counter: u64,
}

impl Session {
    pub fn is_valid(&self) -> bool {
        matches!(self.state, SessionState::Valid)
    }
}
