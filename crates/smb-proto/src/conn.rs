//! The connection state machine: one transport message in, a batch of work out; the
//! server's replies in, one transport message out.

use std::collections::HashMap;
use std::sync::Arc;

use smb_auth::{AuthError, AuthOutcome, Credentials, SpnegoServer, Step};
use smb_crypto::{Cipher, PreauthHash, SigningAlgorithm};
use smb_wire::codec::Writer;
use smb_wire::header::{flags, Command, Header, HEADER_SIZE};
use smb_wire::message::{split_compound, Request, Response};
use smb_wire::misc::ErrorResponse;
use smb_wire::negotiate::{NegotiateContext, NegotiateRequest, NegotiateResponse};
use smb_wire::session::{SessionSetupRequest, SessionSetupResponse};
use smb_wire::transform::TransformHeader;
use smb_wire::NtStatus;

use crate::config::{Config, EncryptionPolicy};
use crate::credits::{CreditError, CreditWindow};
use crate::session::{Session, SessionInfo, SessionState};

/// Randomness, supplied by the caller (the protocol reads no entropy source itself).
pub trait Random {
    fn fill(&mut self, buf: &mut [u8]);
}

/// Why the connection must be closed. Logged by the server with the peer address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Disconnect {
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    #[error("credit violation: {0:?}")]
    Credits(CreditError),
    #[error("request before NEGOTIATE")]
    NotNegotiated,
    #[error("second NEGOTIATE on a negotiated connection")]
    Renegotiate,
    #[error("no common dialect")]
    NoDialect,
    #[error("undecryptable transform message")]
    Decrypt,
    #[error("compressed messages are not supported")]
    Compressed,
    #[error("protocol violation: {0}")]
    Violation(&'static str),
}

const SMB2_NEGOTIATE_SIGNING_ENABLED: u16 = 0x0001;
const SMB2_NEGOTIATE_SIGNING_REQUIRED: u16 = 0x0002;
const CAP_DFS: u32 = 0x01;
const CAP_LARGE_MTU: u32 = 0x04;
const CAP_MULTI_CHANNEL: u32 = 0x08;
const CAP_ENCRYPTION: u32 = 0x40;
const SESSION_FLAG_IS_GUEST: u16 = 0x0001;
const SESSION_FLAG_IS_NULL: u16 = 0x0002;
const SESSION_FLAG_ENCRYPT_DATA: u16 = 0x0004;
const SESSION_SETUP_BINDING: u8 = 0x01;
const HASH_SHA512: u16 = 0x0001;
const FSCTL_VALIDATE_NEGOTIATE_INFO: u32 = 0x0014_0204;

/// What NEGOTIATE settled.
#[derive(Debug, Clone)]
pub struct Negotiated {
    pub dialect: u16,
    pub client_guid: [u8; 16],
    pub client_security_mode: u16,
    pub client_capabilities: u32,
    pub client_dialects: Vec<u16>,
    pub server_security_mode: u16,
    pub server_capabilities: u32,
    pub cipher: Option<Cipher>,
    pub signing: SigningAlgorithm,
    /// 3.1.1: hash over NEGOTIATE request and response.
    pub preauth: Option<PreauthHash>,
}

/// The server's answer to one request of a batch.
#[derive(Debug)]
pub enum Reply {
    /// A response body with its status (SUCCESS, or a warning such as BUFFER_OVERFLOW).
    Ok(NtStatus, Response),
    /// An error response.
    Err(NtStatus),
    /// Going async: an interim STATUS_PENDING now, the final reply later through
    /// [`Connection::complete_async`].
    Pending { async_id: u64 },
    /// Nothing is sent (CANCEL, or a request already answered asynchronously).
    None,
}

/// What one item of a batch is.
#[derive(Debug)]
pub enum Work {
    /// For the server to execute, in order.
    Request(Request),
    /// Cancel the request with this message id (sync) or async id, if still pending.
    Cancel {
        message_id: u64,
        async_id: Option<u64>,
    },
    /// Already answered by the connection (negotiate, session setup, echo, errors).
    Answered,
}

/// One message of a received (possibly compound) transport message.
#[derive(Debug)]
pub struct Item {
    /// The request header with SessionId/TreeId already taken from the previous request
    /// when the request is related.
    pub hdr: Header,
    pub work: Work,
    /// The session the request runs in (None before one exists).
    pub session: Option<Arc<SessionInfo>>,
    /// The request arrived inside an encrypted transform.
    pub encrypted: bool,
    /// Fill in for `Work::Request`; pre-filled for answered items.
    pub reply: Reply,
    /// The server asks for this response to be encrypted (a share with `encrypt`).
    pub encrypt_reply: bool,
    /// Hash the response into this session's preauth hash (3.1.1 session setup).
    preauth_session: Option<u64>,
    /// The request was signed (so its response is signed too).
    signed: bool,
    /// A successful final SESSION_SETUP response: sign with the new session's key.
    sign_final_setup: bool,
}

/// A received transport message, split into items.
#[derive(Debug, Default)]
pub struct Batch {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone)]
struct PendingAsync {
    hdr: Header,
    session_id: u64,
    signed: bool,
    encrypted: bool,
}

/// Counters for live status.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub requests: u64,
}

/// The sans-IO state of one SMB2/3 connection. Deterministic: time and randomness come in
/// through the arguments; bytes come in and go out as `Vec<u8>`.
pub struct Connection {
    cfg: Arc<Config>,
    rng: Box<dyn Random + Send>,
    negotiated: Option<Negotiated>,
    /// An SMB1 negotiate offered "SMB 2.???": the next NEGOTIATE is allowed.
    wildcard_sent: bool,
    credits: CreditWindow,
    sessions: HashMap<u64, Session>,
    pending: HashMap<u64, PendingAsync>,
    next_async_id: u64,
    pub stats: Stats,
}

/// Space reserved at the front of every output buffer for the transport's framing (the
/// NetBIOS session header on TCP): the connection fills it for TCP.
pub const FRAME_PREFIX: usize = 4;

impl Connection {
    pub fn new(cfg: Arc<Config>, rng: Box<dyn Random + Send>) -> Self {
        let max = cfg.max_credits;
        Self {
            cfg,
            rng,
            negotiated: None,
            wildcard_sent: false,
            credits: CreditWindow::new(max),
            sessions: HashMap::new(),
            pending: HashMap::new(),
            next_async_id: 1,
            stats: Stats::default(),
        }
    }

    /// The negotiated parameters, once NEGOTIATE is done.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// Valid sessions, for live status.
    pub fn sessions(&self) -> Vec<Arc<SessionInfo>> {
        self.sessions
            .values()
            .filter_map(|s| s.info.clone())
            .collect()
    }

    /// A fresh async id for a request the server is about to answer with [`Reply::Pending`].
    pub fn alloc_async_id(&mut self) -> u64 {
        let id = self.next_async_id;
        self.next_async_id += 1;
        id
    }

    /// Take in one transport message (a NetBIOS payload or a reassembled SMB Direct
    /// message). `now` is the current time as a FILETIME.
    pub fn receive(
        &mut self,
        now: u64,
        msg: Vec<u8>,
        creds: &dyn Credentials,
    ) -> Result<Batch, Disconnect> {
        self.stats.bytes_in += msg.len() as u64;
        let first = msg.first().copied();
        match first {
            Some(0xFF) => return self.receive_smb1(msg),
            Some(0xFC) => return Err(Disconnect::Compressed),
            _ => {}
        }
        let (plain, encrypted_session) = if first == Some(0xFD) {
            let (plain, sid) = self.decrypt(&msg)?;
            (plain, Some(sid))
        } else {
            (msg, None)
        };
        let parts = split_compound(&plain).map_err(|_| Disconnect::Malformed("compound"))?;
        let mut batch = Batch::default();
        let mut prev: Option<Header> = None;
        for (start, len) in parts {
            let bytes = plain
                .get(start..start + len)
                .ok_or(Disconnect::Malformed("compound bounds"))?;
            let item = self.receive_one(now, bytes, prev.as_ref(), encrypted_session, creds)?;
            prev = Some(item.hdr.clone());
            batch.items.push(item);
        }
        Ok(batch)
    }

    fn receive_one(
        &mut self,
        now: u64,
        bytes: &[u8],
        prev: Option<&Header>,
        encrypted_session: Option<u64>,
        creds: &dyn Credentials,
    ) -> Result<Item, Disconnect> {
        let mut hdr = Header::decode(bytes).map_err(|_| Disconnect::Malformed("header"))?;
        if hdr.is_response() {
            return Err(Disconnect::Violation("response sent to server"));
        }
        self.stats.requests += 1;
        if hdr.is_related() {
            match prev {
                Some(p) => {
                    hdr.session_id = p.session_id;
                    hdr.tree_id = p.tree_id;
                }
                None => {
                    // The first message of a chain may not be related (3.3.5.2.7.2).
                    return Ok(self.answered(hdr, NtStatus::INVALID_PARAMETER, encrypted_session));
                }
            }
        }
        if let Some(sid) = encrypted_session {
            if hdr.session_id != sid {
                return Err(Disconnect::Violation("session id differs from transform"));
            }
        }
        let is_cancel = hdr.command == Command::CANCEL;
        if !is_cancel {
            if self.negotiated.is_none() && hdr.command != Command::NEGOTIATE {
                return Err(Disconnect::NotNegotiated);
            }
            let charge = if self.multi_credit() {
                hdr.credit_charge
            } else {
                0
            };
            self.credits
                .consume(hdr.message_id, charge)
                .map_err(Disconnect::Credits)?;
        }
        if !hdr.command.is_known() {
            return Ok(self.answered(hdr, NtStatus::INVALID_PARAMETER, encrypted_session));
        }
        let req = match Request::decode(&hdr, bytes) {
            Ok(r) => r,
            Err(_) => {
                if is_cancel {
                    return Ok(self.no_reply(hdr, encrypted_session));
                }
                return Ok(self.answered(hdr, NtStatus::INVALID_PARAMETER, encrypted_session));
            }
        };
        match req {
            Request::Negotiate(n) => self.negotiate(now, hdr, bytes, n),
            Request::SessionSetup(s) => {
                Ok(self.session_setup(hdr, bytes, s, creds, encrypted_session))
            }
            Request::Cancel(_) => {
                let async_id = hdr.is_async().then_some(hdr.async_id);
                let message_id = hdr.message_id;
                let mut item = self.no_reply(hdr, encrypted_session);
                item.work = Work::Cancel {
                    message_id,
                    async_id,
                };
                Ok(item)
            }
            other => Ok(self.session_request(hdr, bytes, other, encrypted_session)),
        }
    }

    fn multi_credit(&self) -> bool {
        self.negotiated.as_ref().is_some_and(|n| n.dialect > 0x0202)
    }

    fn item(&self, hdr: Header, work: Work, reply: Reply, encrypted: Option<u64>) -> Item {
        let signed = hdr.is_signed();
        Item {
            hdr,
            work,
            session: None,
            encrypted: encrypted.is_some(),
            reply,
            encrypt_reply: false,
            preauth_session: None,
            signed,
            sign_final_setup: false,
        }
    }

    fn answered(&self, hdr: Header, status: NtStatus, encrypted: Option<u64>) -> Item {
        tracing::debug!(command = ?hdr.command, status = ?status, session = hdr.session_id, "answered by the connection");
        self.item(hdr, Work::Answered, Reply::Err(status), encrypted)
    }

    fn no_reply(&self, hdr: Header, encrypted: Option<u64>) -> Item {
        self.item(hdr, Work::Answered, Reply::None, encrypted)
    }

    // ----------------------------------------------------------------- SMB1 negotiate

    fn receive_smb1(&mut self, msg: Vec<u8>) -> Result<Batch, Disconnect> {
        if self.negotiated.is_some() || self.wildcard_sent {
            return Err(Disconnect::Renegotiate);
        }
        if !smb_wire::header::is_smb1_negotiate(&msg) {
            return Err(Disconnect::Malformed("SMB1 message"));
        }
        let dialects = smb_wire::header::smb1_dialects(&msg)
            .map_err(|_| Disconnect::Malformed("SMB1 negotiate"))?;
        let dialect = if dialects.iter().any(|d| d == "SMB 2.???") {
            0x02FF
        } else if dialects.iter().any(|d| d == "SMB 2.002") && self.cfg.dialects.contains(&0x0202) {
            0x0202
        } else {
            return Err(Disconnect::NoDialect);
        };
        // Message id 0 is consumed by this request; the SMB2 NEGOTIATE that follows uses 1.
        self.credits.consume(0, 1).map_err(Disconnect::Credits)?;
        let hdr = Header {
            credit_charge: 0,
            status: 0,
            command: Command::NEGOTIATE,
            credits: 0,
            flags: 0,
            next_command: 0,
            message_id: 0,
            async_id: 0,
            process_id: 0,
            tree_id: 0,
            session_id: 0,
            signature: [0; 16],
        };
        let resp = self.negotiate_response(dialect, None, 0);
        if dialect == 0x02FF {
            self.wildcard_sent = true;
        } else {
            self.negotiated = Some(Negotiated {
                dialect,
                client_guid: [0; 16],
                client_security_mode: 0,
                client_capabilities: 0,
                client_dialects: vec![0x0202],
                server_security_mode: resp.security_mode,
                server_capabilities: resp.capabilities,
                cipher: None,
                signing: SigningAlgorithm::HmacSha256,
                preauth: None,
            });
        }
        let mut item = self.item(
            hdr,
            Work::Answered,
            Reply::Ok(NtStatus::SUCCESS, Response::Negotiate(resp)),
            None,
        );
        item.hdr.credits = 1;
        Ok(Batch { items: vec![item] })
    }

    // ----------------------------------------------------------------- NEGOTIATE

    fn server_security_mode(&self) -> u16 {
        SMB2_NEGOTIATE_SIGNING_ENABLED
            | if self.cfg.signing_required {
                SMB2_NEGOTIATE_SIGNING_REQUIRED
            } else {
                0
            }
    }

    fn negotiate_response(
        &mut self,
        dialect: u16,
        contexts: Option<Vec<NegotiateContext>>,
        now: u64,
    ) -> NegotiateResponse {
        let mut caps = 0;
        if dialect != 0x0202 && dialect != 0x02FF {
            caps |= CAP_LARGE_MTU;
        }
        if dialect >= 0x0300 && dialect != 0x02FF {
            if self.cfg.multichannel {
                caps |= CAP_MULTI_CHANNEL;
            }
            if dialect < 0x0311 {
                caps |= CAP_ENCRYPTION;
            }
        }
        let _ = CAP_DFS;
        let max = if dialect == 0x0202 || dialect == 0x02FF {
            65536
        } else {
            self.cfg.max_io
        };
        NegotiateResponse {
            security_mode: self.server_security_mode(),
            dialect,
            guid: self.cfg.server_guid,
            capabilities: caps,
            max_transact: max,
            max_read: max,
            max_write: max,
            system_time: now,
            server_start_time: self.cfg.start_time,
            security_buffer: smb_auth::server_neg_token_init(),
            contexts: contexts.unwrap_or_default(),
        }
    }

    fn negotiate(
        &mut self,
        now: u64,
        hdr: Header,
        bytes: &[u8],
        req: NegotiateRequest,
    ) -> Result<Item, Disconnect> {
        if self.negotiated.is_some() {
            return Err(Disconnect::Renegotiate);
        }
        let dialect = self
            .cfg
            .dialects
            .iter()
            .copied()
            .filter(|d| req.dialects.contains(d))
            .max();
        let Some(dialect) = dialect else {
            return Ok(self.answered(hdr, NtStatus::NOT_SUPPORTED, None));
        };
        let mut cipher = None;
        let mut signing = match dialect {
            0x0202 | 0x0210 => SigningAlgorithm::HmacSha256,
            _ => SigningAlgorithm::AesCmac,
        };
        let mut out_ctx = None;
        let mut preauth = None;
        if dialect == 0x0311 {
            let mut has_preauth = false;
            let mut ctx = Vec::new();
            let mut seen_enc = false;
            let mut seen_sign = false;
            for c in &req.contexts {
                match c {
                    NegotiateContext::PreauthIntegrity {
                        hash_algorithms, ..
                    } => {
                        if !hash_algorithms.contains(&HASH_SHA512) {
                            return Ok(self.answered(
                                hdr,
                                NtStatus::SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP,
                                None,
                            ));
                        }
                        has_preauth = true;
                    }
                    NegotiateContext::Encryption { ciphers } if !seen_enc => {
                        seen_enc = true;
                        cipher = ciphers.iter().copied().find_map(Cipher::from_id);
                        let id = cipher.map(Cipher::id).unwrap_or(0);
                        ctx.push(NegotiateContext::Encryption { ciphers: vec![id] });
                    }
                    NegotiateContext::SigningCapabilities { algorithms } if !seen_sign => {
                        seen_sign = true;
                        let pick = if algorithms.contains(&2) {
                            SigningAlgorithm::AesGmac
                        } else if algorithms.contains(&1) {
                            SigningAlgorithm::AesCmac
                        } else {
                            SigningAlgorithm::HmacSha256
                        };
                        signing = pick;
                        let id = match pick {
                            SigningAlgorithm::HmacSha256 => 0,
                            SigningAlgorithm::AesCmac => 1,
                            SigningAlgorithm::AesGmac => 2,
                        };
                        ctx.push(NegotiateContext::SigningCapabilities {
                            algorithms: vec![id],
                        });
                    }
                    NegotiateContext::Encryption { .. }
                    | NegotiateContext::SigningCapabilities { .. } => {
                        // A context type may appear only once (3.3.5.4).
                        return Ok(self.answered(hdr, NtStatus::INVALID_PARAMETER, None));
                    }
                    _ => {}
                }
            }
            if !has_preauth {
                return Ok(self.answered(hdr, NtStatus::INVALID_PARAMETER, None));
            }
            let mut salt = vec![0u8; 32];
            self.rng.fill(&mut salt);
            ctx.insert(
                0,
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms: vec![HASH_SHA512],
                    salt,
                },
            );
            out_ctx = Some(ctx);
            let mut h = PreauthHash::zero();
            h.update(bytes);
            preauth = Some(h);
        } else if dialect >= 0x0300 && req.capabilities & CAP_ENCRYPTION != 0 {
            cipher = Some(Cipher::Aes128Ccm);
        }
        let resp = self.negotiate_response(dialect, out_ctx, now);
        self.negotiated = Some(Negotiated {
            dialect,
            client_guid: req.client_guid,
            client_security_mode: req.security_mode,
            client_capabilities: req.capabilities,
            client_dialects: req.dialects.clone(),
            server_security_mode: resp.security_mode,
            server_capabilities: resp.capabilities,
            cipher,
            signing,
            preauth,
        });
        let mut item = self.item(
            hdr,
            Work::Answered,
            Reply::Ok(NtStatus::SUCCESS, Response::Negotiate(resp)),
            None,
        );
        // The response is hashed into the connection's preauth hash when it is encoded.
        item.preauth_session = (dialect == 0x0311).then_some(0);
        Ok(item)
    }

    // ----------------------------------------------------------------- SESSION_SETUP

    fn session_setup(
        &mut self,
        hdr: Header,
        bytes: &[u8],
        req: SessionSetupRequest,
        creds: &dyn Credentials,
        encrypted: Option<u64>,
    ) -> Item {
        let Some(neg) = self.negotiated.clone() else {
            return self.answered(hdr, NtStatus::INVALID_PARAMETER, encrypted);
        };
        if req.flags & SESSION_SETUP_BINDING != 0 {
            // Binding a session to a second channel needs multichannel (not offered).
            return self.answered(hdr, NtStatus::REQUEST_NOT_ACCEPTED, encrypted);
        }
        let mut hdr = hdr;
        if hdr.session_id == 0 {
            let id = self.new_session_id();
            let preauth = neg.preauth.clone();
            let spnego = SpnegoServer::new(self.cfg.identity.clone(), self.challenge(), 0);
            self.sessions.insert(
                id,
                Session {
                    state: SessionState::InProgress(Box::new(spnego)),
                    preauth,
                    info: None,
                    signing: None,
                    decrypt: None,
                    encrypt: None,
                    signing_required: false,
                    nonce_counter: 0,
                },
            );
            hdr.session_id = id;
        } else {
            let challenge = self.challenge();
            let identity = self.cfg.identity.clone();
            match self.sessions.get_mut(&hdr.session_id) {
                None => return self.answered(hdr, NtStatus::USER_SESSION_DELETED, encrypted),
                Some(s) => {
                    if s.is_valid() {
                        // Re-authentication: a new exchange on the same session and keys.
                        s.state = SessionState::InProgress(Box::new(SpnegoServer::new(
                            identity, challenge, 0,
                        )));
                    }
                }
            }
        }
        let sid = hdr.session_id;
        let dialect = neg.dialect;
        let Some(sess) = self.sessions.get_mut(&sid) else {
            return self.answered(hdr, NtStatus::USER_SESSION_DELETED, encrypted);
        };
        if let Some(h) = sess.preauth.as_mut() {
            h.update(bytes);
        }
        let step = match &mut sess.state {
            SessionState::InProgress(sp) => sp.step(&req.security_buffer, creds),
            SessionState::Valid => Err(AuthError::UnexpectedMessage),
        };
        let reauth = sess.info.is_some();
        match step {
            Ok(Step::Continue(token)) => {
                let resp = SessionSetupResponse {
                    session_flags: 0,
                    security_buffer: token,
                };
                let mut item = self.item(
                    hdr,
                    Work::Answered,
                    Reply::Ok(
                        NtStatus::MORE_PROCESSING_REQUIRED,
                        Response::SessionSetup(resp),
                    ),
                    encrypted,
                );
                item.preauth_session = Some(sid);
                item
            }
            Ok(Step::Done { token, outcome }) => {
                let mapped = match outcome {
                    AuthOutcome::User {
                        user,
                        domain,
                        session_key,
                    } => Some((user, domain, session_key, false, false)),
                    AuthOutcome::Anonymous if self.cfg.allow_anonymous => {
                        Some((String::new(), String::new(), [0u8; 16], false, true))
                    }
                    AuthOutcome::Anonymous => None,
                };
                let Some((user, domain, key, guest, anonymous)) = mapped else {
                    self.sessions.remove(&sid);
                    return self.answered(hdr, NtStatus::LOGON_FAILURE, encrypted);
                };
                self.finish_setup(
                    hdr, neg, sid, user, domain, key, guest, anonymous, token, reauth, encrypted,
                    dialect,
                )
            }
            Err(AuthError::UnknownUser(_)) if self.cfg.map_to_guest && !reauth => self
                .finish_setup(
                    hdr,
                    neg,
                    sid,
                    "guest".into(),
                    String::new(),
                    [0u8; 16],
                    true,
                    false,
                    Vec::new(),
                    false,
                    encrypted,
                    dialect,
                ),
            Err(_) => {
                if !reauth {
                    self.sessions.remove(&sid);
                } else if let Some(s) = self.sessions.get_mut(&sid) {
                    // A failed re-authentication leaves the session unusable (3.3.5.5.3).
                    s.state = SessionState::Valid;
                    self.sessions.remove(&sid);
                }
                self.answered(hdr, NtStatus::LOGON_FAILURE, encrypted)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_setup(
        &mut self,
        hdr: Header,
        neg: Negotiated,
        sid: u64,
        user: String,
        domain: String,
        key: [u8; 16],
        guest: bool,
        anonymous: bool,
        token: Vec<u8>,
        reauth: bool,
        encrypted: Option<u64>,
        dialect: u16,
    ) -> Item {
        let cfg_policy = self.cfg.encryption;
        let client_signing_required =
            neg.client_security_mode & SMB2_NEGOTIATE_SIGNING_REQUIRED != 0;
        let Some(sess) = self.sessions.get_mut(&sid) else {
            return self.answered(hdr, NtStatus::USER_SESSION_DELETED, encrypted);
        };
        let has_keys = !guest && !anonymous;
        if !reauth && has_keys {
            let preauth = sess.preauth.as_ref().map(|h| *h.value());
            let keys = smb_crypto::derive_session_keys(dialect, &key, preauth.as_ref(), neg.cipher);
            sess.signing = smb_crypto::SigningKey::new(neg.signing, &keys.signing).ok();
            if let Some(c) = neg.cipher.filter(|_| dialect >= 0x0300) {
                sess.encrypt = smb_crypto::CipherKey::new(c, &keys.encryption).ok();
                sess.decrypt = smb_crypto::CipherKey::new(c, &keys.decryption).ok();
            }
        }
        let can_encrypt = has_keys && dialect >= 0x0300 && neg.cipher.is_some();
        let encrypt_data = match cfg_policy {
            EncryptionPolicy::Off => false,
            EncryptionPolicy::Desired | EncryptionPolicy::Required => can_encrypt,
        };
        if cfg_policy == EncryptionPolicy::Required && !can_encrypt {
            self.sessions.remove(&sid);
            return self.answered(hdr, NtStatus::ACCESS_DENIED, encrypted);
        }
        sess.signing_required = has_keys && (self.cfg.signing_required || client_signing_required);
        sess.state = SessionState::Valid;
        sess.info = Some(Arc::new(SessionInfo {
            id: sid,
            user,
            domain,
            guest,
            anonymous,
            encrypt_data,
            can_encrypt,
        }));
        let mut session_flags = 0;
        if guest {
            session_flags |= SESSION_FLAG_IS_GUEST;
        }
        if anonymous {
            session_flags |= SESSION_FLAG_IS_NULL;
        }
        if encrypt_data && dialect >= 0x0300 {
            session_flags |= SESSION_FLAG_ENCRYPT_DATA;
        }
        let signed_req = hdr.is_signed();
        let resp = SessionSetupResponse {
            session_flags,
            security_buffer: token,
        };
        let mut item = self.item(
            hdr,
            Work::Answered,
            Reply::Ok(NtStatus::SUCCESS, Response::SessionSetup(resp)),
            encrypted,
        );
        item.sign_final_setup =
            has_keys && (dialect >= 0x0300 || signed_req || self.cfg.signing_required);
        item
    }

    fn new_session_id(&mut self) -> u64 {
        loop {
            let mut b = [0u8; 8];
            self.rng.fill(&mut b);
            // 32-bit ids (clients such as Samba's keep them in 32 bits), never zero.
            let id = u64::from_le_bytes(b) & 0xffff_ffff;
            if id != 0 && !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    fn challenge(&mut self) -> [u8; 8] {
        let mut c = [0u8; 8];
        self.rng.fill(&mut c);
        c
    }

    // ----------------------------------------------------------------- other requests

    fn session_request(
        &mut self,
        hdr: Header,
        bytes: &[u8],
        req: Request,
        encrypted: Option<u64>,
    ) -> Item {
        let cmd = hdr.command;
        if cmd == Command::ECHO && hdr.session_id == 0 {
            return self.item(
                hdr,
                Work::Answered,
                Reply::Ok(NtStatus::SUCCESS, Response::Echo(Default::default())),
                encrypted,
            );
        }
        let Some(sess) = self.sessions.get(&hdr.session_id) else {
            return self.answered(hdr, NtStatus::USER_SESSION_DELETED, encrypted);
        };
        let Some(info) = sess.info.clone().filter(|_| sess.is_valid()) else {
            return self.answered(hdr, NtStatus::USER_SESSION_DELETED, encrypted);
        };
        if encrypted.is_none() {
            if hdr.is_signed() {
                let ok = sess
                    .signing
                    .as_ref()
                    .is_some_and(|k| k.verify(bytes).is_ok());
                if !ok {
                    return self.answered(hdr, NtStatus::ACCESS_DENIED, encrypted);
                }
            } else if sess.signing_required {
                return self.answered(hdr, NtStatus::ACCESS_DENIED, encrypted);
            }
            if info.encrypt_data {
                return self.answered(hdr, NtStatus::ACCESS_DENIED, encrypted);
            }
        }
        if let Some(status) = self.check_charge(&hdr, &req) {
            return self.answered(hdr, status, encrypted);
        }
        let mut item = match req {
            Request::Echo(_) => self.item(
                hdr,
                Work::Answered,
                Reply::Ok(NtStatus::SUCCESS, Response::Echo(Default::default())),
                encrypted,
            ),
            Request::Ioctl(ref io) if io.ctl_code == FSCTL_VALIDATE_NEGOTIATE_INFO => {
                let reply = self.validate_negotiate(&io.input);
                match reply {
                    Ok(r) => self.item(hdr, Work::Answered, r, encrypted),
                    Err(d) => {
                        // Tampering detected: answered by tearing the connection down.
                        let mut it = self.answered(hdr, NtStatus::ACCESS_DENIED, encrypted);
                        it.work = Work::Answered;
                        let _ = d;
                        it.reply = Reply::Err(NtStatus::ACCESS_DENIED);
                        it
                    }
                }
            }
            other => self.item(hdr, Work::Request(other), Reply::None, encrypted),
        };
        item.session = Some(info);
        item
    }

    /// Large-MTU rule (3.3.5.2.5): a request moving more than 64 KiB must be charged one
    /// credit per 64 KiB, and sizes may not exceed what NEGOTIATE announced.
    fn check_charge(&self, hdr: &Header, req: &Request) -> Option<NtStatus> {
        let max_io = self.negotiated.as_ref().map(|n| {
            if n.dialect == 0x0202 {
                65536
            } else {
                self.cfg.max_io
            }
        })?;
        let size: u64 = match req {
            Request::Read(r) => {
                if r.length > max_io {
                    return Some(NtStatus::INVALID_PARAMETER);
                }
                u64::from(r.length)
            }
            Request::Write(w) => {
                if w.data.len() as u64 > u64::from(max_io) {
                    return Some(NtStatus::INVALID_PARAMETER);
                }
                w.data.len() as u64
            }
            Request::Ioctl(i) => {
                if i.max_output_response > max_io || i.input.len() as u64 > u64::from(max_io) {
                    return Some(NtStatus::INVALID_PARAMETER);
                }
                (i.input.len() as u64).max(u64::from(i.max_output_response))
            }
            Request::QueryDirectory(q) => u64::from(q.output_buffer_length),
            Request::ChangeNotify(c) => u64::from(c.output_buffer_length),
            Request::QueryInfo(q) => u64::from(q.output_buffer_length).max(q.input.len() as u64),
            Request::SetInfo(s) => s.buffer.len() as u64,
            _ => 0,
        };
        if !self.multi_credit() {
            return None;
        }
        let needed = size.saturating_sub(1) / 65536 + 1;
        if size > 65536 && u64::from(hdr.credit_charge) < needed {
            return Some(NtStatus::INVALID_PARAMETER);
        }
        None
    }

    fn validate_negotiate(&self, input: &[u8]) -> Result<Reply, Disconnect> {
        use smb_wire::fsctl::{ValidateNegotiateInfoRequest, ValidateNegotiateInfoResponse};
        let neg = self.negotiated.as_ref().ok_or(Disconnect::NotNegotiated)?;
        if neg.dialect == 0x0311 {
            return Err(Disconnect::Violation("VALIDATE_NEGOTIATE_INFO on 3.1.1"));
        }
        let req = ValidateNegotiateInfoRequest::decode(input)
            .map_err(|_| Disconnect::Malformed("validate negotiate"))?;
        let ok = req.capabilities == neg.client_capabilities
            && req.guid == neg.client_guid
            && req.security_mode == neg.client_security_mode
            && req.dialects == neg.client_dialects;
        if !ok {
            return Err(Disconnect::Violation("VALIDATE_NEGOTIATE_INFO mismatch"));
        }
        let resp = ValidateNegotiateInfoResponse {
            capabilities: neg.server_capabilities,
            guid: self.cfg.server_guid,
            security_mode: neg.server_security_mode,
            dialect: neg.dialect,
        };
        let mut out = Vec::new();
        resp.encode(&mut out);
        Ok(Reply::Ok(
            NtStatus::SUCCESS,
            Response::Ioctl(smb_wire::ioctl::IoctlResponse {
                ctl_code: FSCTL_VALIDATE_NEGOTIATE_INFO,
                file_id: smb_wire::FileId::ANY,
                input: Vec::new(),
                output: out,
                flags: 0,
            }),
        ))
    }

    // ----------------------------------------------------------------- output

    /// Encode the replies of a batch as one transport message (compound responses joined,
    /// signed or encrypted as the sessions require). Returns None when nothing is sent.
    /// The first [`FRAME_PREFIX`] bytes hold the NetBIOS header.
    pub fn finish(&mut self, batch: Batch) -> Option<Vec<u8>> {
        let mut msgs: Vec<(Vec<u8>, Option<u64>, bool)> = Vec::new();
        let mut encrypt_session: Option<u64> = None;
        let n = batch.items.len();
        for (i, item) in batch.items.into_iter().enumerate() {
            let related = item.hdr.is_related();
            let (status, body, async_id) = match item.reply {
                Reply::None => continue,
                Reply::Ok(s, b) => (s, Some(b), None),
                Reply::Err(s) => (s, None, None),
                Reply::Pending { async_id } => {
                    self.pending.insert(
                        async_id,
                        PendingAsync {
                            hdr: item.hdr.clone(),
                            session_id: item.hdr.session_id,
                            signed: item.signed,
                            encrypted: item.encrypted,
                        },
                    );
                    (NtStatus::PENDING, None, Some(async_id))
                }
            };
            let granted = if item.hdr.command == Command::CANCEL {
                0
            } else {
                self.credits.grant(item.hdr.credits.max(1))
            };
            let mut msg =
                self.encode_response(&item.hdr, status, granted, body.as_ref(), async_id, related);
            let _ = i;
            let _ = n;
            if let Some(sid) = item.preauth_session {
                if status == NtStatus::MORE_PROCESSING_REQUIRED {
                    if let Some(h) = self.sessions.get_mut(&sid).and_then(|s| s.preauth.as_mut()) {
                        h.update(&msg);
                    }
                } else if sid == 0 && item.hdr.command == Command::NEGOTIATE {
                    if let Some(h) = self.negotiated.as_mut().and_then(|n| n.preauth.as_mut()) {
                        h.update(&msg);
                    }
                }
            }
            let wants_encrypt = item.encrypted
                || item.encrypt_reply
                || item.session.as_ref().is_some_and(|s| s.encrypt_data);
            if wants_encrypt
                && item.hdr.command != Command::SESSION_SETUP
                && encrypt_session.is_none()
            {
                encrypt_session = Some(item.hdr.session_id);
            }
            let session_signs = self
                .sessions
                .get(&item.hdr.session_id)
                .is_some_and(|s| s.signing.is_some() && s.signing_required);
            let sign = item.sign_final_setup
                || (item.hdr.command != Command::SESSION_SETUP
                    && item.hdr.command != Command::NEGOTIATE
                    && status != NtStatus::PENDING
                    && (item.signed || session_signs));
            let _ = &mut msg;
            msgs.push((msg, Some(item.hdr.session_id), sign));
        }
        if msgs.is_empty() {
            return None;
        }
        Some(self.join(msgs, encrypt_session))
    }

    fn join(
        &mut self,
        msgs: Vec<(Vec<u8>, Option<u64>, bool)>,
        encrypt_session: Option<u64>,
    ) -> Vec<u8> {
        let count = msgs.len();
        let mut out = vec![0u8; FRAME_PREFIX];
        for (i, (mut m, sid, sign)) in msgs.into_iter().enumerate() {
            if i + 1 < count {
                let pad = (8 - m.len() % 8) % 8;
                m.resize(m.len() + pad, 0);
                let next = u32::try_from(m.len()).unwrap_or(0);
                m.patch_u32(20, next);
            }
            if sign && encrypt_session.is_none() {
                // A signed request gets a response with the SIGNED flag; without a key (an
                // unknown or logged-off session) the signature stays zero, which clients
                // accept for the statuses that can arise before signing is possible.
                let f = m
                    .get(16..20)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map_or(0, u32::from_le_bytes);
                m.patch_u32(16, f | flags::SIGNED);
                if let Some(key) = sid
                    .and_then(|s| self.sessions.get(&s))
                    .and_then(|s| s.signing.as_ref())
                {
                    if let Err(e) = key.sign(&mut m) {
                        tracing::error!(error = %e, "signing a response failed");
                    }
                }
            }
            out.extend_from_slice(&m);
        }
        if let Some(sid) = encrypt_session {
            if let Some(enc) = self.encrypt(sid, out.get(FRAME_PREFIX..).unwrap_or_default()) {
                out.truncate(FRAME_PREFIX);
                out.extend_from_slice(&enc);
            }
        }
        let len = out.len().saturating_sub(FRAME_PREFIX);
        if let Some(prefix) = out.get_mut(..FRAME_PREFIX) {
            prefix.copy_from_slice(&smb_wire::netbios::frame_header(len));
        }
        self.stats.bytes_out += out.len() as u64;
        out
    }

    fn encode_response(
        &self,
        req: &Header,
        status: NtStatus,
        credits: u16,
        body: Option<&Response>,
        async_id: Option<u64>,
        related: bool,
    ) -> Vec<u8> {
        let mut f = flags::SERVER_TO_REDIR;
        if related {
            f |= flags::RELATED_OPERATIONS;
        }
        if async_id.is_some() {
            f |= flags::ASYNC_COMMAND;
        }
        let hdr = Header {
            credit_charge: req.credit_charge,
            status: status.0,
            command: req.command,
            credits,
            flags: f,
            next_command: 0,
            message_id: req.message_id,
            async_id: async_id.unwrap_or(0),
            process_id: req.process_id,
            tree_id: req.tree_id,
            session_id: req.session_id,
            signature: [0; 16],
        };
        let mut out = Vec::with_capacity(HEADER_SIZE + 64);
        hdr.encode(&mut out);
        match body {
            Some(b) => b.encode(&mut out),
            None => ErrorResponse::default().encode(&mut out),
        }
        out
    }

    /// The final reply of a request that went async.
    pub fn complete_async(&mut self, async_id: u64, reply: Reply) -> Option<Vec<u8>> {
        let p = self.pending.remove(&async_id)?;
        let (status, body) = match reply {
            Reply::Ok(s, b) => (s, Some(b)),
            Reply::Err(s) => (s, None),
            Reply::Pending { .. } | Reply::None => return None,
        };
        let msg = self.encode_response(&p.hdr, status, 0, body.as_ref(), Some(async_id), false);
        let sess = self.sessions.get(&p.session_id);
        let sign = sess.is_some_and(|s| s.signing.is_some() && (p.signed || s.signing_required));
        let enc = p.encrypted
            || sess
                .and_then(|s| s.info.as_ref())
                .is_some_and(|i| i.encrypt_data);
        Some(self.join(
            vec![(msg, Some(p.session_id), sign)],
            enc.then_some(p.session_id),
        ))
    }

    /// Whether a request is still pending under this async id.
    pub fn is_pending(&self, async_id: u64) -> bool {
        self.pending.contains_key(&async_id)
    }

    /// Forget a session (after LOGOFF was answered, or when the server expires it).
    pub fn remove_session(&mut self, session_id: u64) {
        self.sessions.remove(&session_id);
    }

    // ----------------------------------------------------------------- encryption

    fn decrypt(&mut self, msg: &[u8]) -> Result<(Vec<u8>, u64), Disconnect> {
        let th =
            TransformHeader::decode(msg).map_err(|_| Disconnect::Malformed("transform header"))?;
        let sess = self
            .sessions
            .get(&th.session_id)
            .ok_or(Disconnect::Decrypt)?;
        let key = sess.decrypt.as_ref().ok_or(Disconnect::Decrypt)?;
        let body = msg
            .get(TransformHeader::SIZE..)
            .ok_or(Disconnect::Decrypt)?;
        if body.len() != th.original_message_size as usize {
            return Err(Disconnect::Decrypt);
        }
        let nlen = key.cipher().nonce_len();
        if th
            .nonce
            .get(nlen..)
            .is_some_and(|rest| rest.iter().any(|b| *b != 0))
        {
            return Err(Disconnect::Decrypt);
        }
        let nonce = th.nonce.get(..nlen).ok_or(Disconnect::Decrypt)?;
        let mut data = body.to_vec();
        key.decrypt_in_place(nonce, &th.aad(), &mut data, &th.signature)
            .map_err(|_| Disconnect::Decrypt)?;
        Ok((data, th.session_id))
    }

    fn encrypt(&mut self, sid: u64, plain: &[u8]) -> Option<Vec<u8>> {
        let mut salt = [0u8; 4];
        self.rng.fill(&mut salt);
        let sess = self.sessions.get_mut(&sid)?;
        sess.nonce_counter += 1;
        let counter = sess.nonce_counter;
        let key = sess.encrypt.as_ref()?;
        // Nonce: a per-session counter (never repeats under one key) and random salt bytes.
        let nlen = key.cipher().nonce_len();
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&counter.to_le_bytes());
        for (d, s) in nonce.iter_mut().take(nlen).skip(8).zip(salt) {
            *d = s;
        }
        let mut th = TransformHeader {
            signature: [0; 16],
            nonce,
            original_message_size: u32::try_from(plain.len()).ok()?,
            // Flags (3.1.1) and EncryptionAlgorithm (3.0.x) are both 0x0001 here.
            flags: 0x0001,
            session_id: sid,
        };
        let aad = th.aad();
        let mut data = plain.to_vec();
        let tag = key
            .encrypt_in_place(nonce.get(..nlen)?, &aad, &mut data)
            .ok()?;
        th.signature = tag;
        let mut out = Vec::with_capacity(TransformHeader::SIZE + data.len());
        th.encode(&mut out);
        out.extend_from_slice(&data);
        Some(out)
    }
}
