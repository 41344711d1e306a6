//! An in-memory server for transcript tests of the sans-IO connection: the client's frames go
//! straight into [`smb_proto::Connection::receive`]; a closure stands in for the server's
//! command handlers; [`smb_proto::Connection::finish`]'s output comes back to the client.

use std::collections::VecDeque;
use std::sync::Arc;

use smb_proto::{Batch, Connection, Disconnect, Reply, Work};

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
            if let Work::Request(req) = std::mem::replace(&mut item.work, Work::Answered) {
                item.reply = (self.handler)(item, req);
            }
        }
        if let Some(f) = self.conn.finish(batch) {
            self.out.push_back(f);
        }
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
        match self.conn.receive(self.now, msg, &self.users) {
            Ok(b) => self.run(b),
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
