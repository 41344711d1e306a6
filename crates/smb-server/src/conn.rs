//! One client connection: the transport-independent driver between the sans-IO
//! [`smb_proto::Connection`] and the command handlers in [`crate::exec`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use smb_proto::{Batch, Connection, Reply, Work};
use smb_vfs::Vfs;
use smb_wire::NtStatus;

use crate::exec::{self, Chain};
use crate::server::{ConnStatus, Server};
use crate::state::ConnState;

/// Where a connection's output goes: the transport's writer.
pub trait Sink {
    /// Queue one transport message (the first [`smb_proto::FRAME_PREFIX`] bytes hold the
    /// NetBIOS header, which a non-TCP transport skips).
    fn send(&self, frame: Vec<u8>);
    /// Ask the transport to close the connection.
    fn close(&self);
}

/// A connection's shared pieces; every in-flight request task holds an `Rc` of it.
pub struct Conn<V: Vfs> {
    pub(crate) id: u64,
    pub(crate) server: Arc<Server>,
    pub(crate) vfs: V,
    pub(crate) peer: SocketAddr,
    pub(crate) transport: &'static str,
    pub(crate) proto: RefCell<Connection>,
    pub(crate) st: RefCell<ConnState<V>>,
    pub(crate) sink: Box<dyn Sink>,
}

/// Randomness for the protocol (challenges, salts, nonces, session ids) from the OS.
struct OsRandom;

impl smb_proto::Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        use rand::RngCore;
        rand::rngs::OsRng.fill_bytes(buf);
    }
}

/// The current time as a FILETIME (100 ns ticks since 1601).
pub fn filetime_now() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_secs() * 10_000_000 + u64::from(d.subsec_nanos()) / 100 + 116_444_736_000_000_000
}

impl<V: Vfs> Conn<V> {
    pub fn new(
        server: Arc<Server>,
        vfs: V,
        peer: SocketAddr,
        transport: &'static str,
        sink: Box<dyn Sink>,
    ) -> Rc<Self> {
        let cfg = server.catalog().proto.clone();
        let id = server.next_id();
        Rc::new(Self {
            id,
            server,
            vfs,
            peer,
            transport,
            proto: RefCell::new(Connection::new(cfg, Box::new(OsRandom))),
            st: RefCell::new(ConnState::new()),
            sink,
        })
    }

    /// Take one transport message; the request task holds `permit` (the transport's bound on
    /// requests in flight) until its reply is queued. Returns false when the connection must
    /// close.
    pub fn receive_with_permit(
        self: &Rc<Self>,
        msg: Vec<u8>,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> bool {
        let catalog = self.server.catalog();
        let res = self
            .proto
            .borrow_mut()
            .receive(filetime_now(), msg, &*catalog);
        match res {
            Ok(batch) => {
                let this = self.clone();
                tokio_uring::spawn(async move {
                    this.run_batch(batch).await;
                    drop(permit);
                });
                true
            }
            Err(why) => {
                tracing::warn!(peer = %self.peer, reason = %why, "closing connection: protocol violation");
                false
            }
        }
    }

    /// Execute a batch in order (a compound's requests depend on each other) and send the
    /// joined reply.
    async fn run_batch(self: Rc<Self>, mut batch: Batch) {
        let mut chain = Chain::default();
        for item in batch.items.iter_mut() {
            let work = std::mem::replace(&mut item.work, Work::Answered);
            match work {
                Work::Answered => {
                    if let Reply::Err(s) = &item.reply {
                        chain.failed(*s, item.hdr.command);
                    }
                }
                Work::Cancel {
                    message_id,
                    async_id,
                } => {
                    self.cancel(item.hdr.session_id, message_id, async_id);
                }
                Work::Request(req) => {
                    let detail = if tracing::enabled!(tracing::Level::DEBUG) {
                        format!("{req:?}")
                    } else {
                        String::new()
                    };
                    let reply = exec::dispatch(&self, item, req, &mut chain).await;
                    if let Reply::Err(s) = &reply {
                        tracing::debug!(peer = %self.peer, command = ?item.hdr.command, status = ?s, request = %detail.chars().take(400).collect::<String>(), "request failed");
                    }
                    if let Reply::Err(s) = &reply {
                        chain.failed(*s, item.hdr.command);
                    }
                    item.reply = reply;
                }
            }
        }
        let out = {
            let mut proto = self.proto.borrow_mut();
            let out = proto.finish(batch);
            // A LOGOFF reply is signed with the session's key: forget it only now.
            for sid in chain.logoffs.drain(..) {
                proto.remove_session(sid);
            }
            out
        };
        if let Some(frame) = out {
            self.sink.send(frame);
        }
        self.publish_status();
    }

    fn cancel(&self, session_id: u64, message_id: u64, async_id: Option<u64>) {
        let target = {
            let st = self.st.borrow();
            st.pending
                .iter()
                .find(|(aid, p)| {
                    p.session_id == session_id
                        && (Some(**aid) == async_id || p.message_id == message_id)
                })
                .map(|(aid, _)| *aid)
        };
        if let Some(aid) = target {
            self.complete_async(aid, Reply::Err(NtStatus::CANCELLED));
        }
    }

    /// Send the final reply of a pending request.
    pub(crate) fn complete_async(&self, async_id: u64, reply: Reply) {
        self.st.borrow_mut().forget_pending(async_id);
        let out = self.proto.borrow_mut().complete_async(async_id, reply);
        if let Some(frame) = out {
            self.sink.send(frame);
        }
    }

    fn publish_status(&self) {
        let (dialect, users, stats) = {
            let p = self.proto.borrow();
            (
                p.negotiated().map(|n| n.dialect).unwrap_or(0),
                p.sessions()
                    .iter()
                    .map(|s| {
                        if s.anonymous {
                            "(anonymous)".to_string()
                        } else {
                            s.user.clone()
                        }
                    })
                    .collect(),
                p.stats,
            )
        };
        let (trees, opens) = {
            let st = self.st.borrow();
            (st.trees.len(), st.opens.len())
        };
        self.server.update_status(ConnStatus {
            id: self.id,
            peer: self.peer,
            transport: self.transport,
            dialect,
            users,
            trees,
            opens,
            bytes_in: stats.bytes_in,
            bytes_out: stats.bytes_out,
        });
    }

    /// The transport is gone: close every open (honouring delete-on-close), forget status.
    pub async fn shutdown(self: &Rc<Self>) {
        let ids: Vec<u64> = self.st.borrow().opens.keys().copied().collect();
        for id in ids {
            exec::close::close_open(self, id).await;
        }
        self.server.remove_status(self.id);
    }
}

/// The set of pending (async) requests of a connection, by async id.
pub(crate) type PendingMap = HashMap<u64, crate::state::Pending>;
