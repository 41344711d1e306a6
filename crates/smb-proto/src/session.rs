//! Sessions of one connection: the authentication in progress, then the keys.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use smb_auth::SpnegoServer;
use smb_crypto::{Cipher, CipherKey, PreauthHash, SigningAlgorithm, SigningKey};

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
    /// Authenticated (or bound, for a channel); requests may use it.
    Valid,
    /// Gone, but kept until the response being built is signed with its key (a failed
    /// re-authentication, an error answering a binding attempt); removed when the next
    /// message arrives.
    Doomed,
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
    /// Counter for encryption nonces (never repeats for one key). Shared by every channel
    /// of the session, since they all encrypt with the session's key.
    pub nonce_counter: Arc<AtomicU64>,
    /// This entry is a channel of another connection's session (3.3.5.5.2): the session
    /// as the registry lent it. While the binding exchange runs, `signing` is the
    /// session's own key (interim answers are signed with it); once bound, the channel's.
    pub binding: Option<SharedSession>,
}

impl Session {
    pub fn is_valid(&self) -> bool {
        matches!(self.state, SessionState::Valid)
    }
}

/// A valid session as every connection of the server sees it: what another connection
/// needs to answer a binding attempt (MS-SMB2 3.3.5.5.2) or a reconnect that names it as
/// PreviousSessionId (3.3.5.5.3). Published through [`SessionEvent::Established`]; the
/// server keeps them in its session registry and lends them back through [`SessionTable`].
#[derive(Clone)]
pub struct SharedSession {
    pub info: Arc<SessionInfo>,
    /// The dialect, ClientGuid, signing algorithm and cipher of the connection that
    /// authenticated it.
    pub dialect: u16,
    pub client_guid: [u8; 16],
    pub signing_algorithm: SigningAlgorithm,
    pub cipher: Option<Cipher>,
    /// Session.SigningKey: a binding request is signed with it, and so is the error that
    /// refuses it. None for guest and anonymous sessions.
    pub signing: Option<SigningKey>,
    /// The session's encryption keys and nonce counter, which its channels share.
    pub encrypt: Option<CipherKey>,
    pub decrypt: Option<CipherKey>,
    pub nonce_counter: Arc<AtomicU64>,
}

impl core::fmt::Debug for SharedSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedSession")
            .field("info", &self.info)
            .field("dialect", &self.dialect)
            .field("signing_algorithm", &self.signing_algorithm)
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

/// The server-wide session table (GlobalSessionTable), as the connection reads it. The
/// server implements it; a lookup must not block for long (no I/O under it).
pub trait SessionTable {
    /// The valid session with this id, on whatever connection it lives.
    fn lookup(&self, session_id: u64) -> Option<SharedSession>;
}

/// A table with no sessions (a connection on its own, as in tests).
pub struct NoSessions;

impl SessionTable for NoSessions {
    fn lookup(&self, _session_id: u64) -> Option<SharedSession> {
        None
    }
}

/// What the server must learn about this connection's sessions
/// ([`crate::Connection::poll_session_event`]).
#[derive(Debug, Clone)]
pub enum SessionEvent {
    /// A session became valid, or was re-authenticated (its identity may have changed).
    Established(SharedSession),
    /// This connection became a channel of another connection's session (binding,
    /// 3.3.5.5.2): requests for it arrive here and are executed by the session's home.
    Bound(u64),
    /// A session is gone (logoff, failed re-authentication, ended by the server): forget it
    /// and close what it had open.
    Ended(u64),
    /// A re-authentication through this channel failed: the session must end on every
    /// connection, starting with its home (this channel's entry is already gone).
    Revoked(u64),
}
