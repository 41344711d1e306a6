//! The connection state machine: one transport message in, a batch of work out; the
//! server's replies in, one transport message out.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use smb_auth::{AuthError, AuthOutcome, Credentials, SpnegoServer, Step};
use smb_crypto::{Cipher, PreauthHash, SigningAlgorithm};
use smb_wire::codec::Writer;
use smb_wire::file::ReadResponse;
use smb_wire::header::{flags, Command, Header, HEADER_SIZE};
use smb_wire::message::{split_compound, Request, Response};
use smb_wire::misc::ErrorResponse;
use smb_wire::negotiate::{NegotiateContext, NegotiateRequest, NegotiateResponse};
use smb_wire::session::{SessionSetupRequest, SessionSetupResponse};
use smb_wire::transform::TransformHeader;
use smb_wire::NtStatus;

use crate::config::{Config, EncryptionPolicy};
use crate::credits::{CreditError, CreditWindow};
use crate::session::{
    NoSessions, Session, SessionEvent, SessionInfo, SessionState, SessionTable, SharedSession,
};

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
const CAP_LEASING: u32 = 0x02;
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
    /// A READ's data, placed by the server after [`Item::read_headroom`] bytes of its
    /// buffer so that the response is built around it without copying the data.
    ReadData(ReadData),
}

/// The data of a successful READ (see [`Reply::ReadData`]).
#[derive(Debug)]
pub struct ReadData {
    pub status: NtStatus,
    /// `buf[headroom..]` is the data; the bytes before it are free for the headers.
    pub buf: Vec<u8>,
    pub headroom: usize,
    pub data_remaining: u32,
}

/// A response body on its way into a frame.
enum Body {
    Response(Response),
    Error,
    Read(ReadData),
}

/// A transport message being assembled: the NetBIOS prefix, room for a transform header
/// when it will be encrypted, then the (compound) responses.
struct Frame {
    buf: Vec<u8>,
    /// Where the first SMB2 message begins.
    headroom: usize,
    encrypted: bool,
    /// The last message appended (start, session, sign?): it is padded, linked and
    /// signed when the next one comes or the frame is sealed.
    last: Option<(usize, u64, bool)>,
}

impl Frame {
    fn new(encrypted: bool) -> Self {
        let headroom = FRAME_PREFIX + if encrypted { TransformHeader::SIZE } else { 0 };
        Frame {
            buf: Vec::new(),
            headroom,
            encrypted,
            last: None,
        }
    }

    /// Where the next message starts (making room for the prefixes first).
    fn start_message(&mut self) -> usize {
        if self.buf.is_empty() {
            self.buf.resize(self.headroom, 0);
        }
        self.buf.len()
    }
}

/// The header of the response to `req`.
fn response_header(
    req: &Header,
    status: NtStatus,
    credits: u16,
    async_id: Option<u64>,
    related: bool,
) -> Header {
    let mut f = flags::SERVER_TO_REDIR;
    if related {
        f |= flags::RELATED_OPERATIONS;
    }
    if async_id.is_some() {
        f |= flags::ASYNC_COMMAND;
    }
    Header {
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
    }
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
    /// One of several requests of a compound (never sent async by [`Connection::go_async`]).
    compound: bool,
    /// A successful SESSION_SETUP named this PreviousSessionId (3.3.5.5.3): the server
    /// ends that session, wherever it lives, if it belongs to the same user.
    previous_session: Option<u64>,
    /// An interim response went out under this async id ([`Connection::go_async`]).
    async_id: Option<u64>,
}

impl Item {
    /// Whether the request is one of several in a compound.
    pub fn in_compound(&self) -> bool {
        self.compound
    }

    /// Move this request out for another connection to execute: a bound channel hands
    /// its session's requests to the session's home connection, which owns the trees and
    /// opens. The copy has the same header, session and encryption wishes, and is never
    /// sent async (it counts as part of a compound); this item keeps `Work::Answered` and
    /// takes the executed copy's reply back with [`Item::absorb`].
    pub fn detach(&mut self) -> Item {
        Item {
            hdr: self.hdr.clone(),
            work: std::mem::replace(&mut self.work, Work::Answered),
            session: self.session.clone(),
            encrypted: self.encrypted,
            reply: Reply::None,
            encrypt_reply: self.encrypt_reply,
            preauth_session: None,
            signed: self.signed,
            sign_final_setup: false,
            compound: true,
            previous_session: None,
            async_id: None,
        }
    }

    /// Take back the reply (and the header changes, such as a new TreeId) of a copy made
    /// by [`Item::detach`] and executed elsewhere.
    pub fn absorb(&mut self, done: Item) {
        self.hdr.tree_id = done.hdr.tree_id;
        self.reply = done.reply;
        self.encrypt_reply = done.encrypt_reply;
    }

    /// The PreviousSessionId of a successful SESSION_SETUP (reconnect): the server logs
    /// that session off if it belongs to the same user (MS-SMB2 3.3.5.5.3), before the
    /// reply goes out. `session` is then the new session.
    pub fn previous_session(&self) -> Option<u64> {
        self.previous_session
    }

    /// The async id under which an interim response was sent, if one was: the final reply
    /// then goes out through [`Connection::complete_async`].
    pub fn async_id(&self) -> Option<u64> {
        self.async_id
    }

    /// Whether this request's response must be encrypted.
    pub fn wants_encryption(&self) -> bool {
        self.encrypted
            || self.encrypt_reply
            || self.session.as_ref().is_some_and(|s| s.encrypt_data)
    }

    /// How many bytes a READ handler should leave free at the front of its data buffer
    /// for [`Reply::ReadData`] (NetBIOS prefix, transform header if encrypted, SMB2
    /// header and READ response body).
    pub fn read_headroom(&self) -> usize {
        let transform = if self.wants_encryption() {
            TransformHeader::SIZE
        } else {
            0
        };
        FRAME_PREFIX + transform + HEADER_SIZE + ReadResponse::BODY_SIZE
    }
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
    /// Sessions in [`SessionState::Doomed`], removed when the next message arrives.
    doomed: Vec<u64>,
    /// What the server must learn about sessions ([`Connection::poll_session_event`]).
    events: std::collections::VecDeque<SessionEvent>,
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
            doomed: Vec::new(),
            events: std::collections::VecDeque::new(),
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
    /// message). `now` is the current time as a FILETIME. A connection on its own: no
    /// other connection's sessions exist (see [`Connection::receive_in`]).
    pub fn receive(
        &mut self,
        now: u64,
        msg: Vec<u8>,
        creds: &dyn Credentials,
    ) -> Result<Batch, Disconnect> {
        self.receive_in(now, msg, creds, &NoSessions)
    }

    /// [`Connection::receive`] on a server whose other connections' sessions are in
    /// `table` (binding attempts and reconnects look them up there).
    pub fn receive_in(
        &mut self,
        now: u64,
        msg: Vec<u8>,
        creds: &dyn Credentials,
        table: &dyn SessionTable,
    ) -> Result<Batch, Disconnect> {
        for sid in std::mem::take(&mut self.doomed) {
            if self
                .sessions
                .get(&sid)
                .is_some_and(|s| matches!(s.state, SessionState::Doomed))
            {
                self.sessions.remove(&sid);
            }
        }
        self.stats.bytes_in += msg.len() as u64;
        let first = msg.first().copied();
        match first {
            Some(0xFF) => return self.receive_smb1(msg),
            Some(0xFC) => return Err(Disconnect::Compressed),
            _ => {}
        }
        let mut msg = msg;
        let (base, encrypted_session) = if first == Some(0xFD) {
            (
                TransformHeader::SIZE,
                Some(self.decrypt_in_place(&mut msg)?),
            )
        } else {
            (0, None)
        };
        // From here the message is shared: WRITE data stays a view of it (no copy).
        let frame = Bytes::from(msg);
        if frame.len() < base {
            return Err(Disconnect::Decrypt);
        }
        let plain = frame.slice(base..);
        let parts = split_compound(&plain).map_err(|_| Disconnect::Malformed("compound"))?;
        let mut batch = Batch::default();
        let mut prev: Option<Header> = None;
        let mut no_session = false;
        for (start, len) in parts {
            if plain.get(start..start + len).is_none() {
                return Err(Disconnect::Malformed("compound bounds"));
            }
            let bytes = &plain.slice(start..start + len);
            let chain_ok = prev.is_some() && !no_session;
            let item = self.receive_one(
                now,
                bytes,
                prev.as_ref(),
                chain_ok,
                encrypted_session,
                creds,
                table,
            )?;
            // A request whose session did not check out leaves no session for the related
            // requests after it to inherit (3.3.5.2.7.2; Windows and Samba answer them
            // INVALID_PARAMETER).
            let failed_session = item.session.is_none()
                && match &item.reply {
                    Reply::Err(s) => {
                        *s == NtStatus::USER_SESSION_DELETED
                            || (item.hdr.is_related()
                                && *s == NtStatus::INVALID_PARAMETER
                                && !chain_ok)
                    }
                    _ => false,
                };
            if item.hdr.is_related() {
                no_session = no_session || failed_session;
            } else {
                no_session = failed_session;
            }
            prev = Some(item.hdr.clone());
            batch.items.push(item);
        }
        if batch.items.len() > 1 {
            for item in batch.items.iter_mut() {
                item.compound = true;
            }
        }
        Ok(batch)
    }

    #[allow(clippy::too_many_arguments)]
    fn receive_one(
        &mut self,
        now: u64,
        bytes: &Bytes,
        prev: Option<&Header>,
        chain_ok: bool,
        encrypted_session: Option<u64>,
        creds: &dyn Credentials,
        table: &dyn SessionTable,
    ) -> Result<Item, Disconnect> {
        let mut hdr = Header::decode(bytes).map_err(|_| Disconnect::Malformed("header"))?;
        if hdr.is_response() {
            return Err(Disconnect::Violation("response sent to server"));
        }
        self.stats.requests += 1;
        // The first message of a chain may not be related (3.3.5.2.7.2), and a related
        // request after one that failed its session check has no session to inherit.
        let mut bad_related = false;
        if hdr.is_related() {
            match prev {
                Some(p) if chain_ok => {
                    hdr.session_id = p.session_id;
                    hdr.tree_id = p.tree_id;
                }
                _ => bad_related = true,
            }
        }
        if let Some(sid) = encrypted_session.filter(|_| !bad_related) {
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
        if !hdr.command.is_known() || bad_related {
            return Ok(self.answered(hdr, NtStatus::INVALID_PARAMETER, encrypted_session));
        }
        let req = match Request::decode_shared(&hdr, bytes) {
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
                Ok(self.session_setup(hdr, bytes, s, creds, table, encrypted_session))
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
            compound: false,
            previous_session: None,
            async_id: None,
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
            // Leases (MS-SMB2 3.3.5.9.8/11): the server keeps them (smb-server files.rs).
            caps |= CAP_LARGE_MTU | CAP_LEASING;
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
        table: &dyn SessionTable,
        encrypted: Option<u64>,
    ) -> Item {
        let mut item = self.session_setup_inner(hdr, bytes, req, creds, table, encrypted);
        // An error answering a signed request carries the SIGNED flag (signed when the
        // session's key is still known, else with a zero signature, as for other commands):
        // Samba's client refuses an unflagged answer before it looks at the status.
        if item.signed && matches!(item.reply, Reply::Err(_)) {
            item.sign_final_setup = true;
        }
        item
    }

    fn session_setup_inner(
        &mut self,
        hdr: Header,
        bytes: &[u8],
        req: SessionSetupRequest,
        creds: &dyn Credentials,
        table: &dyn SessionTable,
        encrypted: Option<u64>,
    ) -> Item {
        let Some(neg) = self.negotiated.clone() else {
            return self.answered(hdr, NtStatus::INVALID_PARAMETER, encrypted);
        };
        let binding = req.flags & SESSION_SETUP_BINDING != 0;
        if hdr.session_id != 0 {
            // A setup for a session this connection knows (re-authentication, or a second
            // binding attempt): the request is checked with the key the session has here
            // (a bound channel's own key), as any other request would be.
            let local = self.sessions.get(&hdr.session_id).filter(|s| s.is_valid());
            if let Some(s) = local {
                let ok = if hdr.is_signed() {
                    s.signing.as_ref().is_some_and(|k| k.verify(bytes).is_ok())
                } else {
                    !s.signing_required
                };
                if !ok {
                    return self.answered(hdr, NtStatus::ACCESS_DENIED, encrypted);
                }
            }
        }
        let previous = req.previous_session_id;
        let mut hdr = hdr;
        if binding {
            if let Err(item) = self.bind(&hdr, bytes, &neg, table, encrypted) {
                return *item;
            }
        } else if hdr.session_id == 0 {
            let id = self.new_session_id(table);
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
                    nonce_counter: Default::default(),
                    binding: None,
                },
            );
            hdr.session_id = id;
        } else {
            let challenge = self.challenge();
            let identity = self.cfg.identity.clone();
            match self.sessions.get_mut(&hdr.session_id) {
                None => return self.answered(hdr, NtStatus::USER_SESSION_DELETED, encrypted),
                // (A binding exchange in progress has no identity yet.)
                Some(s)
                    if matches!(s.state, SessionState::Doomed)
                        || (s.binding.is_some() && s.info.is_none()) =>
                {
                    return self.answered(hdr, NtStatus::USER_SESSION_DELETED, encrypted)
                }
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
            SessionState::Valid | SessionState::Doomed => Err(AuthError::UnexpectedMessage),
        };
        let reauth = sess.info.is_some();
        // Re-authentication keeps the session's keys (3.3.5.5.3): every response of the
        // exchange, interim ones included, is signed with them (the client signs its
        // requests and Samba's refuses an unsigned answer).
        let sign_reauth = (reauth || sess.binding.is_some()) && sess.signing.is_some();
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
                item.sign_final_setup = sign_reauth;
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
                    let status = NtStatus::LOGON_FAILURE;
                    return self.fail_setup(hdr, sid, reauth, sign_reauth, status, encrypted);
                };
                if binding {
                    return self.finish_bind(hdr, &neg, sid, &user, &domain, key, token, encrypted);
                }
                if reauth && self.sessions.get(&sid).is_some_and(|s| s.binding.is_some()) {
                    return self.finish_channel_reauth(hdr, sid, &user, &domain, token, encrypted);
                }
                let mut item = self.finish_setup(
                    hdr, neg, sid, user, domain, key, guest, anonymous, token, reauth, encrypted,
                    dialect,
                );
                let ok = matches!(item.reply, Reply::Ok(NtStatus::SUCCESS, _));
                if ok && !reauth && previous != 0 && previous != sid {
                    item.previous_session = Some(previous);
                }
                item
            }
            Err(AuthError::UnknownUser(_)) if self.cfg.map_to_guest && !reauth && !binding => self
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
            Err(e) => {
                // A token that does not parse is the client's error, not a wrong password
                // (Windows and Samba: INVALID_PARAMETER, e.g. a malformed NTLMv2 blob).
                let status = match e {
                    AuthError::Malformed(_) => NtStatus::INVALID_PARAMETER,
                    _ => NtStatus::LOGON_FAILURE,
                };
                self.fail_setup(hdr, sid, reauth, sign_reauth, status, encrypted)
            }
        }
    }

    /// A failed authentication. A new session is forgotten; a failed re-authentication
    /// ends the session (3.3.5.5.3), but its error is still signed with the
    /// session's key (the client signed the request and expects a signed answer).
    fn fail_setup(
        &mut self,
        hdr: Header,
        sid: u64,
        reauth: bool,
        sign_reauth: bool,
        status: NtStatus,
        encrypted: Option<u64>,
    ) -> Item {
        let binding = self.sessions.get(&sid).is_some_and(|s| s.binding.is_some());
        if reauth || binding {
            self.doom(sid);
        } else {
            self.sessions.remove(&sid);
        }
        let mut item = self.answered(hdr, status, encrypted);
        item.sign_final_setup = sign_reauth;
        item
    }

    /// End a session now but keep its keys until the reply being built is signed.
    fn doom(&mut self, sid: u64) {
        if let Some(s) = self.sessions.get_mut(&sid) {
            if s.info.is_some() {
                // A channel's failure ends the session on every connection.
                self.events.push_back(match s.binding {
                    Some(_) => SessionEvent::Revoked(sid),
                    None => SessionEvent::Ended(sid),
                });
            }
            s.state = SessionState::Doomed;
            s.info = None;
            self.doomed.push(sid);
        }
    }

    /// SESSION_SETUP with SMB2_SESSION_FLAG_BINDING: this connection becomes a channel
    /// of another connection's session (3.3.5.5.2). The session is looked up server-wide;
    /// the checks come in the order Windows and Samba answer them, and a refusal is signed
    /// with the session's key when the client needs it signed. A binding that passes them
    /// continues as an authentication (`Ok`); a channel entry exists from then on.
    fn bind(
        &mut self,
        hdr: &Header,
        bytes: &[u8],
        neg: &Negotiated,
        table: &dyn SessionTable,
        encrypted: Option<u64>,
    ) -> Result<(), Box<Item>> {
        let sid = hdr.session_id;
        if sid == 0 {
            return Err(Box::new(self.answered(
                hdr.clone(),
                NtStatus::INVALID_PARAMETER,
                encrypted,
            )));
        }
        match self.sessions.get(&sid) {
            // Already a channel here, or this connection's own session (its signature was
            // checked with the local key by the caller).
            Some(s) if s.is_valid() => {
                return Err(Box::new(self.answered(
                    hdr.clone(),
                    NtStatus::REQUEST_NOT_ACCEPTED,
                    encrypted,
                )));
            }
            // The next round of a binding exchange: signed with the session's key.
            Some(s) if s.binding.is_some() && matches!(s.state, SessionState::InProgress(_)) => {
                let ok = s.signing.as_ref().is_some_and(|k| k.verify(bytes).is_ok());
                if !ok {
                    return Err(Box::new(self.answered(
                        hdr.clone(),
                        NtStatus::ACCESS_DENIED,
                        encrypted,
                    )));
                }
                return Ok(());
            }
            Some(_) => {
                return Err(Box::new(self.answered(
                    hdr.clone(),
                    NtStatus::USER_SESSION_DELETED,
                    encrypted,
                )))
            }
            None => {}
        }
        let Some(shared) = table.lookup(sid) else {
            return Err(Box::new(self.answered(
                hdr.clone(),
                NtStatus::USER_SESSION_DELETED,
                encrypted,
            )));
        };
        if hdr.is_signed() {
            let ok = shared
                .signing
                .as_ref()
                .is_some_and(|k| k.verify(bytes).is_ok());
            if !ok {
                return Err(Box::new(self.answered(
                    hdr.clone(),
                    NtStatus::ACCESS_DENIED,
                    encrypted,
                )));
            }
        }
        let gmac = smb_crypto::SigningAlgorithm::AesGmac;
        let refusal = if shared.signing_algorithm == gmac && neg.signing != gmac {
            Some(NtStatus::REQUEST_OUT_OF_SEQUENCE)
        } else if neg.signing == gmac && shared.signing_algorithm != gmac {
            Some(NtStatus::NOT_SUPPORTED)
        } else if neg.dialect < 0x0300 || !self.cfg.multichannel {
            Some(NtStatus::REQUEST_NOT_ACCEPTED)
        } else if !hdr.is_signed() || shared.dialect != neg.dialect || shared.cipher != neg.cipher {
            Some(NtStatus::INVALID_PARAMETER)
        } else if shared.info.guest || shared.info.anonymous || shared.signing.is_none() {
            Some(NtStatus::NOT_SUPPORTED)
        } else {
            None
        };
        // Until the binding completes, answers are signed with Session.SigningKey.
        let signs = shared.signing.is_some() && hdr.is_signed();
        let state = match refusal {
            Some(_) => SessionState::Doomed,
            None => SessionState::InProgress(Box::new(SpnegoServer::new(
                self.cfg.identity.clone(),
                self.challenge(),
                0,
            ))),
        };
        self.sessions.insert(
            sid,
            Session {
                state,
                // 3.1.1: the channel's preauth hash starts from this connection's.
                preauth: neg.preauth.clone(),
                info: None,
                signing: shared.signing.clone(),
                // A channel encrypts and decrypts with the session's keys; the nonce
                // counter is shared, so no nonce repeats across channels.
                decrypt: shared.decrypt.clone(),
                encrypt: shared.encrypt.clone(),
                signing_required: false,
                nonce_counter: shared.nonce_counter.clone(),
                binding: Some(shared),
            },
        );
        match refusal {
            Some(status) => {
                self.doomed.push(sid);
                let mut item = self.answered(hdr.clone(), status, encrypted);
                item.sign_final_setup = signs;
                Err(Box::new(item))
            }
            None => Ok(()),
        }
    }

    /// A re-authentication through a channel succeeded: the channel keeps its key. It may
    /// not change who the session is (the identity lives at the session's home): another
    /// user ends the session everywhere with ACCESS_DENIED.
    fn finish_channel_reauth(
        &mut self,
        hdr: Header,
        sid: u64,
        user: &str,
        domain: &str,
        token: Vec<u8>,
        encrypted: Option<u64>,
    ) -> Item {
        let Some(sess) = self.sessions.get_mut(&sid) else {
            return self.answered(hdr, NtStatus::USER_SESSION_DELETED, encrypted);
        };
        let same = sess.info.as_ref().is_some_and(|i| {
            !i.anonymous
                && !i.guest
                && i.user.eq_ignore_ascii_case(user)
                && i.domain.eq_ignore_ascii_case(domain)
        });
        if !same {
            self.doom(sid);
            let mut item = self.answered(hdr, NtStatus::ACCESS_DENIED, encrypted);
            item.sign_final_setup = true;
            return item;
        }
        sess.state = SessionState::Valid;
        let info = sess.info.clone();
        let resp = SessionSetupResponse {
            session_flags: 0,
            security_buffer: token,
        };
        let mut item = self.item(
            hdr,
            Work::Answered,
            Reply::Ok(NtStatus::SUCCESS, Response::SessionSetup(resp)),
            encrypted,
        );
        item.session = info;
        item.sign_final_setup = true;
        item
    }

    /// The end of a successful binding exchange: the same user as the session's, then the
    /// channel's signing key from this authentication's session key (and, for 3.1.1, the
    /// channel's preauth hash); the final response is signed with it.
    #[allow(clippy::too_many_arguments)]
    fn finish_bind(
        &mut self,
        hdr: Header,
        neg: &Negotiated,
        sid: u64,
        user: &str,
        domain: &str,
        key: [u8; 16],
        token: Vec<u8>,
        encrypted: Option<u64>,
    ) -> Item {
        let Some(sess) = self.sessions.get_mut(&sid) else {
            return self.answered(hdr, NtStatus::USER_SESSION_DELETED, encrypted);
        };
        let Some(shared) = sess.binding.clone() else {
            return self.answered(hdr, NtStatus::USER_SESSION_DELETED, encrypted);
        };
        let same_user = shared.info.user.eq_ignore_ascii_case(user)
            && shared.info.domain.eq_ignore_ascii_case(domain);
        let preauth = sess.preauth.as_ref().map(|h| *h.value());
        let keys = smb_crypto::derive_session_keys(neg.dialect, &key, preauth.as_ref(), neg.cipher);
        let channel_key = smb_crypto::SigningKey::new(neg.signing, &keys.signing).ok();
        if !same_user || channel_key.is_none() {
            self.doom(sid);
            let mut item = self.answered(hdr, NtStatus::ACCESS_DENIED, encrypted);
            item.sign_final_setup = true;
            return item;
        }
        sess.signing = channel_key;
        sess.signing_required = true;
        sess.state = SessionState::Valid;
        sess.info = Some(shared.info.clone());
        self.events.push_back(SessionEvent::Bound(sid));
        let resp = SessionSetupResponse {
            session_flags: 0,
            security_buffer: token,
        };
        let mut item = self.item(
            hdr,
            Work::Answered,
            Reply::Ok(NtStatus::SUCCESS, Response::SessionSetup(resp)),
            encrypted,
        );
        item.session = Some(shared.info);
        item.sign_final_setup = true;
        item
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
        let (can_encrypt, encrypt_data) = match sess.info.as_ref().filter(|_| reauth) {
            // Re-authentication changes who the session is, never its keys, signing or
            // encryption (3.3.5.5.3): those were settled by the first authentication.
            Some(old) => (old.can_encrypt, old.encrypt_data),
            None => {
                let can_encrypt = has_keys && dialect >= 0x0300 && neg.cipher.is_some();
                let encrypt_data = match cfg_policy {
                    EncryptionPolicy::Off => false,
                    EncryptionPolicy::Desired | EncryptionPolicy::Required => can_encrypt,
                };
                if cfg_policy == EncryptionPolicy::Required && !can_encrypt {
                    self.sessions.remove(&sid);
                    return self.answered(hdr, NtStatus::ACCESS_DENIED, encrypted);
                }
                sess.signing_required =
                    has_keys && (self.cfg.signing_required || client_signing_required);
                (can_encrypt, encrypt_data)
            }
        };
        let session_signs = sess.signing.is_some();
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
        let info = sess.info.clone();
        let shared = info.clone().map(|info| SharedSession {
            info,
            dialect,
            client_guid: neg.client_guid,
            signing_algorithm: neg.signing,
            cipher: neg.cipher,
            signing: sess.signing.clone(),
            encrypt: sess.encrypt.clone(),
            decrypt: sess.decrypt.clone(),
            nonce_counter: sess.nonce_counter.clone(),
        });
        if let Some(shared) = shared {
            self.events.push_back(SessionEvent::Established(shared));
        }
        let mut item = self.item(
            hdr,
            Work::Answered,
            Reply::Ok(NtStatus::SUCCESS, Response::SessionSetup(resp)),
            encrypted,
        );
        item.session = info;
        item.sign_final_setup = if reauth {
            session_signs
        } else {
            has_keys && (dialect >= 0x0300 || signed_req || self.cfg.signing_required)
        };
        item
    }

    fn new_session_id(&mut self, table: &dyn SessionTable) -> u64 {
        loop {
            let mut b = [0u8; 8];
            self.rng.fill(&mut b);
            // 32-bit ids (clients such as Samba's keep them in 32 bits), never zero.
            let id = u64::from_le_bytes(b) & 0xffff_ffff;
            // Unique server-wide: binding and reconnects find sessions by id.
            if id != 0 && !self.sessions.contains_key(&id) && table.lookup(id).is_none() {
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
        // The frame is encrypted for the first session whose reply must be (SESSION_SETUP
        // responses never are); then no message in it is signed.
        let encrypt_session = batch
            .items
            .iter()
            .find(|it| {
                !matches!(it.reply, Reply::None)
                    && it.hdr.command != Command::SESSION_SETUP
                    && it.wants_encryption()
            })
            .map(|it| it.hdr.session_id);
        let mut frame = Frame::new(encrypt_session.is_some());
        for item in batch.items {
            let related = item.hdr.is_related();
            let (status, body, async_id) = match item.reply {
                Reply::None => continue,
                Reply::Ok(s, b) => (s, Body::Response(b), None),
                Reply::Err(s) => (s, Body::Error, None),
                Reply::ReadData(rd) => (rd.status, Body::Read(rd), None),
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
                    (NtStatus::PENDING, Body::Error, Some(async_id))
                }
            };
            let granted = if item.hdr.command == Command::CANCEL {
                0
            } else {
                self.credits.grant(item.hdr.credits.max(1))
            };
            let session_signs = self
                .sessions
                .get(&item.hdr.session_id)
                .is_some_and(|s| s.signing.is_some() && s.signing_required);
            let sign = item.sign_final_setup
                || (item.hdr.command != Command::SESSION_SETUP
                    && item.hdr.command != Command::NEGOTIATE
                    && status != NtStatus::PENDING
                    && (item.signed || session_signs));
            let start = self.push_response(
                &mut frame, &item.hdr, status, granted, body, async_id, related,
            );
            frame.last = Some((start, item.hdr.session_id, sign));
            if let Some(sid) = item.preauth_session {
                if status == NtStatus::MORE_PROCESSING_REQUIRED && sign {
                    // A signed interim answer (binding) is hashed as the client sees it.
                    self.sign_message(&mut frame, start, sid);
                }
                let msg = frame.buf.get(start..).unwrap_or_default();
                if status == NtStatus::MORE_PROCESSING_REQUIRED {
                    if let Some(h) = self.sessions.get_mut(&sid).and_then(|s| s.preauth.as_mut()) {
                        h.update(msg);
                    }
                } else if sid == 0 && item.hdr.command == Command::NEGOTIATE {
                    if let Some(h) = self.negotiated.as_mut().and_then(|n| n.preauth.as_mut()) {
                        h.update(msg);
                    }
                }
            }
        }
        // Nothing to send when every item was answered already (CANCEL, async).
        frame.last?;
        self.seal(frame, encrypt_session)
    }

    /// Join already encoded messages into one transport message (compound padding and
    /// NextCommand, then signing or encryption). Empty when encryption failed.
    fn join(
        &mut self,
        msgs: Vec<(Vec<u8>, Option<u64>, bool)>,
        encrypt_session: Option<u64>,
    ) -> Vec<u8> {
        let mut frame = Frame::new(encrypt_session.is_some());
        for (m, sid, sign) in msgs {
            self.close_last(&mut frame, true);
            let start = frame.start_message();
            frame.buf.extend_from_slice(&m);
            frame.last = Some((start, sid.unwrap_or(0), sign));
        }
        self.seal(frame, encrypt_session).unwrap_or_default()
    }

    /// Append one response to `frame`, returning where it starts. A READ whose data
    /// buffer was allocated with [`Item::read_headroom`] and which comes first in the frame
    /// becomes the frame itself: the header is written in front of the data, no copy.
    #[allow(clippy::too_many_arguments)]
    fn push_response(
        &mut self,
        frame: &mut Frame,
        req: &Header,
        status: NtStatus,
        credits: u16,
        body: Body,
        async_id: Option<u64>,
        related: bool,
    ) -> usize {
        self.close_last(frame, true);
        let hdr = response_header(req, status, credits, async_id, related);
        match body {
            Body::Read(rd) => {
                let data_len = rd.buf.len().saturating_sub(rd.headroom);
                let mut head = Vec::with_capacity(HEADER_SIZE + ReadResponse::BODY_SIZE);
                hdr.encode(&mut head);
                ReadResponse::encode_header_only(data_len, rd.data_remaining, &mut head);
                let fits = frame.buf.is_empty()
                    && rd.headroom == frame.headroom + head.len()
                    && rd.buf.len() >= rd.headroom;
                if fits {
                    frame.buf = rd.buf;
                    if let Some(room) = frame.buf.get_mut(frame.headroom..rd.headroom) {
                        room.copy_from_slice(&head);
                    }
                    frame.headroom
                } else {
                    let start = frame.start_message();
                    frame.buf.extend_from_slice(&head);
                    frame
                        .buf
                        .extend_from_slice(rd.buf.get(rd.headroom..).unwrap_or_default());
                    start
                }
            }
            body => {
                // Body encoders take offsets from the start of their buffer, which must
                // be the SMB2 header: encode apart, then append (these bodies are small).
                let mut msg = Vec::with_capacity(HEADER_SIZE + 64);
                hdr.encode(&mut msg);
                match body {
                    Body::Response(b) => b.encode(&mut msg),
                    _ => ErrorResponse::default().encode(&mut msg),
                }
                let start = frame.start_message();
                frame.buf.extend_from_slice(&msg);
                start
            }
        }
    }

    /// Finish the last message of `frame`: when another follows (`more`), pad it to 8
    /// bytes and link it with NextCommand; then sign it (unless the frame is encrypted).
    fn close_last(&self, frame: &mut Frame, more: bool) {
        let Some((start, sid, sign)) = frame.last.take() else {
            return;
        };
        if more {
            let len = frame.buf.len().saturating_sub(start);
            let pad = (8 - len % 8) % 8;
            frame.buf.resize(frame.buf.len() + pad, 0);
            let next = u32::try_from(len + pad).unwrap_or(0);
            frame.buf.patch_u32(start + 20, next);
        }
        if sign && !frame.encrypted {
            let Some(m) = frame.buf.get_mut(start..) else {
                return;
            };
            // A signed request gets a response with the SIGNED flag; without a key (an
            // unknown or logged-off session) the signature stays zero, which clients
            // accept for the statuses that can arise before signing is possible.
            let f = m
                .get(16..20)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, u32::from_le_bytes);
            if let Some(field) = m.get_mut(16..20) {
                field.copy_from_slice(&(f | flags::SIGNED).to_le_bytes());
            }
            if let Some(key) = self.sessions.get(&sid).and_then(|s| s.signing.as_ref()) {
                if let Err(e) = key.sign(m) {
                    tracing::error!(error = %e, "signing a response failed");
                }
            }
        }
    }

    /// Sign the message at `start` (the last of `frame`) now, with the SIGNED flag, when
    /// the session has a key: for an interim SESSION_SETUP answer that enters the preauth
    /// hash signed. Signing it again when the frame closes gives the same bytes.
    fn sign_message(&self, frame: &mut Frame, start: usize, sid: u64) {
        if frame.encrypted {
            return;
        }
        let Some(key) = self.sessions.get(&sid).and_then(|s| s.signing.as_ref()) else {
            return;
        };
        let Some(m) = frame.buf.get_mut(start..) else {
            return;
        };
        let f = m
            .get(16..20)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_le_bytes);
        if let Some(field) = m.get_mut(16..20) {
            field.copy_from_slice(&(f | flags::SIGNED).to_le_bytes());
        }
        if let Err(e) = key.sign(m) {
            tracing::error!(error = %e, "signing a response failed");
        }
    }

    /// Close the frame: sign the last message, encrypt in place, write the NetBIOS prefix.
    fn seal(&mut self, mut frame: Frame, encrypt_session: Option<u64>) -> Option<Vec<u8>> {
        self.close_last(&mut frame, false);
        if let Some(sid) = encrypt_session {
            let sealed = frame
                .buf
                .get_mut(FRAME_PREFIX..)
                .and_then(|b| self.encrypt_in_place(sid, b));
            if sealed.is_none() {
                // Never fall back to plaintext for a reply that must be encrypted.
                tracing::error!(session = sid, "encrypting a response failed; dropped");
                return None;
            }
        }
        let len = frame.buf.len().saturating_sub(FRAME_PREFIX);
        if let Some(prefix) = frame.buf.get_mut(..FRAME_PREFIX) {
            prefix.copy_from_slice(&smb_wire::netbios::frame_header(len));
        }
        self.stats.bytes_out += frame.buf.len() as u64;
        Some(frame.buf)
    }

    /// The final reply of a request that went async.
    pub fn complete_async(&mut self, async_id: u64, reply: Reply) -> Option<Vec<u8>> {
        let p = self.pending.remove(&async_id)?;
        let (status, body) = match reply {
            Reply::Ok(s, b) => (s, Body::Response(b)),
            Reply::Err(s) => (s, Body::Error),
            Reply::ReadData(rd) => (rd.status, Body::Read(rd)),
            Reply::Pending { .. } | Reply::None => return None,
        };
        let sess = self.sessions.get(&p.session_id);
        let sign = sess.is_some_and(|s| s.signing.is_some() && (p.signed || s.signing_required));
        let enc = p.encrypted
            || sess
                .and_then(|s| s.info.as_ref())
                .is_some_and(|i| i.encrypt_data);
        let mut frame = Frame::new(enc);
        let start = self.push_response(&mut frame, &p.hdr, status, 0, body, Some(async_id), false);
        frame.last = Some((start, p.session_id, sign));
        self.seal(frame, enc.then_some(p.session_id))
    }

    /// Answer a request that is still executing with an interim STATUS_PENDING now
    /// (MS-SMB2 3.3.4.2): returns its async id and the frame to send. Its final reply goes
    /// out through [`Connection::complete_async`] (a CANCEL may answer it first); the item's
    /// own reply is then [`Reply::None`]. None for a request inside a compound (answered
    /// synchronously) or one already async.
    pub fn go_async(&mut self, item: &mut Item) -> Option<(u64, Vec<u8>)> {
        if item.compound || item.async_id.is_some() {
            return None;
        }
        let async_id = self.alloc_async_id();
        item.async_id = Some(async_id);
        let enc = item.wants_encryption();
        self.pending.insert(
            async_id,
            PendingAsync {
                hdr: item.hdr.clone(),
                session_id: item.hdr.session_id,
                signed: item.signed,
                encrypted: enc,
            },
        );
        let granted = self.credits.grant(item.hdr.credits.max(1));
        let hdr = response_header(&item.hdr, NtStatus::PENDING, granted, Some(async_id), false);
        let mut msg = Vec::with_capacity(HEADER_SIZE + 9);
        hdr.encode(&mut msg);
        ErrorResponse::default().encode(&mut msg);
        let frame = self.join(
            vec![(msg, Some(item.hdr.session_id), false)],
            enc.then_some(item.hdr.session_id),
        );
        Some((async_id, frame))
    }

    /// An unsolicited server message (MS-SMB2 3.3.4.6 oplock break, 3.3.4.7 lease break):
    /// MessageId 0xFFFFFFFFFFFFFFFF, no session or tree in the header, never signed (clients
    /// skip verification for it); encrypted with the session's key when the session or the
    /// open's tree requires it (`encrypt`). None when the session is gone or the body is not
    /// a break notification.
    pub fn notification(
        &mut self,
        session_id: u64,
        encrypt: bool,
        body: &Response,
    ) -> Option<Vec<u8>> {
        if !matches!(
            body,
            Response::OplockBreak(_) | Response::LeaseBreakNotification(_)
        ) {
            return None;
        }
        let sess = self.sessions.get(&session_id)?;
        let dialect = self.negotiated.as_ref().map_or(0, |n| n.dialect);
        let enc = dialect >= 0x0300
            && sess.encrypt.is_some()
            && (encrypt || sess.info.as_ref().is_some_and(|i| i.encrypt_data));
        let hdr = Header {
            credit_charge: 0,
            status: 0,
            command: Command::OPLOCK_BREAK,
            credits: 0,
            flags: flags::SERVER_TO_REDIR,
            next_command: 0,
            message_id: u64::MAX,
            async_id: 0,
            process_id: 0,
            tree_id: 0,
            session_id: 0,
            signature: [0; 16],
        };
        let mut msg = Vec::with_capacity(HEADER_SIZE + 44);
        hdr.encode(&mut msg);
        body.encode(&mut msg);
        Some(self.join(vec![(msg, None, false)], enc.then_some(session_id)))
    }

    /// Whether a request is still pending under this async id.
    pub fn is_pending(&self, async_id: u64) -> bool {
        self.pending.contains_key(&async_id)
    }

    /// Forget a session (after LOGOFF was answered, or when the server ends it because a
    /// reconnect named it as PreviousSessionId). Reported as [`SessionEvent::Ended`].
    pub fn remove_session(&mut self, session_id: u64) {
        if let Some(s) = self.sessions.remove(&session_id) {
            if s.info.is_some() {
                self.events.push_back(SessionEvent::Ended(session_id));
            }
        }
    }

    /// The session this connection is a channel of has ended at its home: forget the
    /// channel (an entry already doomed stays until its reply is signed).
    pub fn end_channel(&mut self, session_id: u64) {
        let channel = self
            .sessions
            .get(&session_id)
            .is_some_and(|s| s.binding.is_some() && !matches!(s.state, SessionState::Doomed));
        if channel {
            self.remove_session(session_id);
        }
    }

    /// The next thing the server must learn about this connection's sessions: one became
    /// valid (register it server-wide) or ended (unregister it, close its opens). Polled
    /// after every [`Connection::receive_in`] and [`Connection::finish`].
    pub fn poll_session_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    // ----------------------------------------------------------------- encryption

    /// Check and decrypt the message after the transform header in place; returns the
    /// session it was encrypted for.
    fn decrypt_in_place(&mut self, msg: &mut [u8]) -> Result<u64, Disconnect> {
        let th =
            TransformHeader::decode(msg).map_err(|_| Disconnect::Malformed("transform header"))?;
        let sess = self
            .sessions
            .get(&th.session_id)
            .ok_or(Disconnect::Decrypt)?;
        let key = sess.decrypt.as_ref().ok_or(Disconnect::Decrypt)?;
        let body = msg
            .get_mut(TransformHeader::SIZE..)
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
        key.decrypt_in_place(nonce, &th.aad(), body, &th.signature)
            .map_err(|_| Disconnect::Decrypt)?;
        Ok(th.session_id)
    }

    /// Encrypt `buf[TransformHeader::SIZE..]` in place for `sid` and write the transform
    /// header into the room in front of it.
    fn encrypt_in_place(&mut self, sid: u64, buf: &mut [u8]) -> Option<()> {
        let (room, plain) = buf.split_at_mut_checked(TransformHeader::SIZE)?;
        let mut salt = [0u8; 4];
        self.rng.fill(&mut salt);
        let sess = self.sessions.get_mut(&sid)?;
        let counter = sess
            .nonce_counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_add(1);
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
        let tag = key.encrypt_in_place(nonce.get(..nlen)?, &aad, plain).ok()?;
        th.signature = tag;
        let mut head = Vec::with_capacity(TransformHeader::SIZE);
        th.encode(&mut head);
        if head.len() != room.len() {
            return None;
        }
        room.copy_from_slice(&head);
        Some(())
    }
}
