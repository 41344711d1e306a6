//! An in-memory server for transcript tests of the sans-IO connection: the client's frames go
//! straight into [`smb_proto::Connection::receive`]; a closure stands in for the server's
//! command handlers; [`smb_proto::Connection::finish`]'s output comes back to the client.

use std::collections::VecDeque;
use std::sync::Arc;

use smb_proto::{
    Batch, Connection, Disconnect, Reply, SessionEvent, SessionTable, SharedSession, Work,
};

use crate::client::Transport;

/// Deterministic "randomness" for reproducible transcripts.
pub struct Counter(pub u8);

impl smb_proto::Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

/// Accounts for tests: name → NT hash.
pub struct Users(pub Vec<(String, [u8; 16])>);

impl smb_auth::Credentials for Users {
    fn nt_hash(&self, user: &str, _domain: &str) -> Option<[u8; 16]> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(user))
            .map(|(_, h)| *h)
    }
}

/// A session registry several in-memory servers share (the server's GlobalSessionTable).
#[derive(Clone, Default)]
pub struct Registry(
    pub std::rc::Rc<std::cell::RefCell<std::collections::HashMap<u64, SharedSession>>>,
);

impl SessionTable for Registry {
    fn lookup(&self, session_id: u64) -> Option<SharedSession> {
        self.0.borrow().get(&session_id).cloned()
    }
}

/// See [`MemServer::on_answered`].
pub type AnsweredHook = Box<dyn FnMut(&smb_proto::Item)>;

type Handler = Box<dyn FnMut(&mut smb_proto::Item, smb_wire::message::Request) -> Reply>;

/// The in-memory server end.
pub struct MemServer {
    pub conn: Connection,
    pub users: Users,
    pub handler: Handler,
    out: VecDeque<Vec<u8>>,
    /// Why the connection was closed, once it was.
    pub closed: Option<Disconnect>,
    /// Every batch item the server saw (command, session id, tree id, encrypted).
    pub seen: Vec<(smb_wire::Command, u64, u32, bool)>,
    pub now: u64,
    /// The sessions of every server sharing it ([`MemServer::with_registry`]).
    pub registry: Registry,
    /// Every session event the connection reported, in order.
    pub events: Vec<SessionEvent>,
    /// Called with every item the connection answered itself (SESSION_SETUP, ...).
    pub on_answered: Option<AnsweredHook>,
}

impl MemServer {
    pub fn new(cfg: smb_proto::Config, users: Users, handler: Handler) -> Self {
        Self {
            conn: Connection::new(Arc::new(cfg), Box::new(Counter(0))),
            users,
            handler,
            out: VecDeque::new(),
            closed: None,
            seen: Vec::new(),
            now: 133_000_000_000_000_000,
            registry: Registry::default(),
            events: Vec::new(),
            on_answered: None,
        }
    }

    /// A server whose connection sees the sessions of the others sharing `registry`.
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Apply the connection's session events to the registry, as the real server does.
    fn drain_events(&mut self) {
        while let Some(ev) = self.conn.poll_session_event() {
            match &ev {
                SessionEvent::Established(s) => {
                    self.registry.0.borrow_mut().insert(s.info.id, s.clone());
                }
                SessionEvent::Ended(id) => {
                    self.registry.0.borrow_mut().remove(id);
                }
                SessionEvent::Bound(_) => {}
                SessionEvent::Revoked(id) => {
                    self.registry.0.borrow_mut().remove(id);
                }
            }
            self.events.push(ev);
        }
    }

    fn run(&mut self, mut batch: Batch) {
        for item in batch.items.iter_mut() {
            self.seen.push((
                item.hdr.command,
                item.hdr.session_id,
                item.hdr.tree_id,
                item.encrypted,
            ));
            match std::mem::replace(&mut item.work, Work::Answered) {
                Work::Request(req) => item.reply = (self.handler)(item, req),
                Work::Answered => {
                    if let Some(f) = self.on_answered.as_mut() {
                        f(item);
                    }
                }
                Work::Cancel { .. } => {}
            }
        }
        if let Some(f) = self.conn.finish(batch) {
            self.out.push_back(f);
        }
        self.drain_events();
    }
}

impl Transport for MemServer {
    fn send(&mut self, frame: &[u8]) {
        if self.closed.is_some() {
            return;
        }
        let Some(h) = frame.get(..4) else { return };
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        let msg = frame[4..].to_vec();
        assert_eq!(msg.len(), len, "test sent a bad frame");
        let registry = self.registry.clone();
        match self.conn.receive_in(self.now, msg, &self.users, &registry) {
            Ok(b) => {
                self.drain_events();
                self.run(b)
            }
            Err(d) => self.closed = Some(d),
        }
    }
    fn recv(&mut self) -> Option<Vec<u8>> {
        let f = self.out.pop_front()?;
        Some(f[4..].to_vec())
    }
}

/// A handle on a [`MemServer`] that a test keeps while the client owns another.
#[derive(Clone)]
pub struct Shared(pub std::rc::Rc<std::cell::RefCell<MemServer>>);

impl Shared {
    pub fn new(s: MemServer) -> Self {
        Self(std::rc::Rc::new(std::cell::RefCell::new(s)))
    }
}

impl Transport for Shared {
    fn send(&mut self, frame: &[u8]) {
        self.0.borrow_mut().send(frame);
    }
    fn recv(&mut self) -> Option<Vec<u8>> {
        self.0.borrow_mut().recv()
    }
}
