//! One client connection: the transport-independent driver between the sans-IO
//! [`smb_proto::Connection`] and the command handlers in [`crate::exec`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use smb_proto::{Batch, Connection, Item, Reply, SessionEvent, SessionInfo, Work};
use smb_vfs::Vfs;
use smb_wire::file::{channel, ReadResponse};
use smb_wire::message::{Request, Response};
use smb_wire::misc::OplockBreak;
use smb_wire::NtStatus;

use crate::exec::{self, Chain};
use crate::files::Notice;
use crate::server::{ConnStatus, Forwarded, Mail, Server, StatusSlot};
use crate::state::ConnState;

/// Where a connection's output goes: the transport's writer.
pub trait Sink {
    /// Queue one transport message (the first [`smb_proto::FRAME_PREFIX`] bytes hold the
    /// NetBIOS header, which a non-TCP transport skips).
    fn send(&self, frame: Vec<u8>);
    /// Like [`Sink::send`], and invalidate the peer's memory registration `token` with it
    /// (SMB Direct: the reply to a READ/WRITE with SMB2_CHANNEL_RDMA_V1_INVALIDATE).
    fn send_invalidate(&self, frame: Vec<u8>, token: u32) {
        let _ = token;
        self.send(frame);
    }
    /// Ask the transport to close the connection.
    fn close(&self);
    /// RDMA data movement, on a transport that has it (SMB Direct).
    fn rdma(&self) -> Option<&dyn RdmaChannel> {
        None
    }
    /// The transport's own counters, for the status page.
    fn counters(&self) -> Option<TransportCounters> {
        None
    }
    /// A way for other threads to learn that the peer has gone (see [`PeerProbe`]).
    fn peer_probe(&self) -> Option<Arc<dyn PeerProbe>> {
        None
    }
}

/// Asks a transport, from any thread, whether its peer has already closed the connection,
/// before the connection's own thread has read that far. A client that drops a connection
/// and at once opens another (smbtorture between subtests, a Windows client after a
/// network hiccup) closed the first one before it sent anything on the second; an open
/// refused because of what the first still holds waits for its teardown (exec/create.rs).
pub trait PeerProbe: Send + Sync {
    fn peer_gone(&self) -> bool;
}

/// The data path of READ/WRITE with an RDMA channel (MS-SMB2 3.3.5.12, 3.3.5.13): the
/// client names its registered buffers in the request's channel information.
pub trait RdmaChannel {
    /// What the channel information's buffer descriptors describe (INVALID_PARAMETER
    /// when they are malformed).
    fn describe(&self, channel_info: &[u8]) -> Result<ChannelInfo, NtStatus>;
    /// The largest message the peer reassembles: a READ answered inline must fit it.
    fn max_inline(&self) -> usize;
    /// RDMA-reads the first `len` bytes the descriptors describe (a WRITE's data; on SMB
    /// Direct they stay in the registered buffer they landed in until dropped).
    fn pull(
        &self,
        channel_info: &[u8],
        len: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bytes::Bytes, NtStatus>>>>;
    /// RDMA-writes `data[start..]` (a READ's data) into the client's buffers; returns the
    /// bytes written once they are there.
    fn push(
        &self,
        channel_info: &[u8],
        data: Vec<u8>,
        start: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<usize, NtStatus>>>>;
    /// Registered memory for a READ of `len` bytes, to read the file into and
    /// [`RdmaChannel::push_buf`] from without a copy; `None` when the transport has none
    /// free (then the data goes through a `Vec` and [`RdmaChannel::push`]).
    fn lease(&self, len: usize) -> Option<RdmaBuf> {
        let _ = len;
        None
    }
    /// [`RdmaChannel::push`] of a filled [`RdmaChannel::lease`] buffer, in place.
    fn push_buf(
        &self,
        channel_info: &[u8],
        buf: RdmaBuf,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<usize, NtStatus>>>> {
        let data = buf.as_ref().to_vec();
        self.push(channel_info, data, 0)
    }
}

/// An SMB Direct data pool buffer as an io_uring buffer of at most `limit` bytes (the READ's
/// length): the file is read into it and the NIC RDMA-writes from it.
#[derive(Debug)]
pub struct RdmaBuf {
    buf: smb_direct::verbs::RegBuf,
    limit: usize,
}

impl RdmaBuf {
    pub fn new(buf: smb_direct::verbs::RegBuf, limit: usize) -> Self {
        let limit = limit.min(buf.capacity());
        RdmaBuf { buf, limit }
    }

    pub fn into_inner(self) -> smb_direct::verbs::RegBuf {
        self.buf
    }
}

impl AsRef<[u8]> for RdmaBuf {
    fn as_ref(&self) -> &[u8] {
        self.buf.as_slice()
    }
}

// SAFETY: the memory is a heap allocation that never moves and lives (through the RegBuf's
// Arc) as long as this value; the pointer is its first byte; `bytes_init` bytes are
// initialized (in fact all `bytes_total` are: the pool is zeroed when allocated).
unsafe impl tokio_uring::buf::IoBuf for RdmaBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.buf.len()
    }

    fn bytes_total(&self) -> usize {
        self.limit
    }
}

// SAFETY: as above; the RegBuf owns its bytes exclusively (no other view exists while the
// kernel fills them), and `set_init` never goes past `limit`, which is within capacity.
unsafe impl tokio_uring::buf::IoBufMut for RdmaBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.as_mut_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        if self.buf.len() < pos {
            self.buf.set_len(pos.min(self.limit));
        }
    }
}

impl smb_vfs::ReadBuf for RdmaBuf {
    fn put(&mut self, data: &[u8]) -> usize {
        let room = self.limit.saturating_sub(self.buf.len());
        self.buf
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default())
    }
}

/// A READ with an RDMA channel, set aside by [`Conn::rdma_in`]: its channel information,
/// the registered buffer it may read into, and that buffer once filled.
struct RdmaRead {
    index: usize,
    channel_info: Vec<u8>,
    buf: Option<RdmaBuf>,
    filled: Option<RdmaBuf>,
}

/// A transport's traffic counters (SMB Direct: the verbs work it did).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportCounters {
    pub sends: u64,
    pub recvs: u64,
    pub rdma_reads: u64,
    pub rdma_writes: u64,
    /// WRITE data pulled from the client by RDMA read.
    pub rdma_read_bytes: u64,
    /// READ data pushed to the client by RDMA write.
    pub rdma_write_bytes: u64,
    /// RDMA data the server copied in user space (0 when it all went in place).
    pub copied_bytes: u64,
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
    /// This connection's entry in the server's status list, once it has one.
    status: RefCell<Option<StatusSlot>>,
}

/// What [`RdmaChannel::describe`] finds in a READ/WRITE's channel information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Bytes the buffer descriptors describe, all together.
    pub len: u64,
    /// The first descriptor's token: the registration SMB2_CHANNEL_RDMA_V1_INVALIDATE
    /// asks the server to invalidate with its reply.
    pub token: u32,
}

/// Room a READ reply needs besides its data when deciding whether it fits one SMB Direct
/// message: the SMB2 header and the READ response up to its data (DataOffset 0x50), and a
/// transform header in case the session encrypts. The Linux client sizes signed reads to
/// exactly this (its MaxFragmentedSize - 112 - 52).
const READ_REPLY_ROOM: usize = 0x50 + 52;

fn is_rdma(ch: u32) -> bool {
    ch == channel::RDMA_V1 || ch == channel::RDMA_V1_INVALIDATE
}

/// SMB2_LOCKFLAG_UNLOCK and SMB2_LOCKFLAG_FAIL_IMMEDIATELY (MS-SMB2 2.2.26.1).
const LOCKFLAG_UNLOCK: u32 = 0x04;
const LOCKFLAG_FAIL_IMMEDIATELY: u32 = 0x10;

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
        let conn = Rc::new(Self {
            id,
            server,
            vfs,
            peer,
            transport,
            proto: RefCell::new(Connection::new(cfg, Box::new(OsRandom))),
            st: RefCell::new(ConnState::new()),
            sink,
            status: RefCell::new(None),
        });
        conn.start_mailbox();
        conn
    }

    /// Register this connection's mailbox for unsolicited messages (oplock and lease breaks
    /// raised by opens on any thread) and drain it on this thread, where the connection's
    /// keys live. The task ends when [`Conn::shutdown`] removes the mailbox.
    fn start_mailbox(self: &Rc<Self>) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Mail>();
        self.server
            .register_mailbox(self.id, tx, self.sink.peer_probe());
        let weak = Rc::downgrade(self);
        tokio_uring::spawn(async move {
            while let Some(mail) = rx.recv().await {
                let Some(conn) = weak.upgrade() else { break };
                match mail {
                    Mail::Notice(notice) => conn.notify(notice),
                    Mail::EndSession { session_id, done } => {
                        conn.end_session(session_id).await;
                        let _ = done.send(());
                    }
                    Mail::ChannelGone { session_id } => {
                        conn.proto.borrow_mut().end_channel(session_id);
                        conn.session_events().await;
                    }
                    Mail::Execute { items, done } => {
                        // Its own task: a forwarded CREATE may wait for a break that this
                        // mailbox must still deliver.
                        tokio_uring::spawn(async move {
                            let items = conn.execute_forwarded(items).await;
                            let _ = done.send(items);
                        });
                    }
                }
            }
        });
    }

    /// End one of this connection's sessions: close its opens (honouring
    /// delete-on-close), drop its trees, forget it in the protocol state and the registry.
    pub(crate) async fn end_session(self: &Rc<Self>, session_id: u64) {
        self.proto.borrow_mut().remove_session(session_id);
        self.session_events().await;
    }

    /// Close what a session that is gone had open.
    async fn close_session_state(self: &Rc<Self>, session_id: u64) {
        let opens: Vec<u64> = self
            .st
            .borrow()
            .opens
            .iter()
            .filter(|(_, o)| o.session_id == session_id)
            .map(|(k, _)| *k)
            .collect();
        for id in opens {
            exec::close::close_open(self, id).await;
        }
        self.st
            .borrow_mut()
            .trees
            .retain(|_, t| t.session_id != session_id);
    }

    /// Apply what the protocol state reports about sessions: publish new (and
    /// re-authenticated) ones in the server-wide registry, and for ended ones unregister
    /// them and close what they had open.
    async fn session_events(self: &Rc<Self>) {
        loop {
            let ev = self.proto.borrow_mut().poll_session_event();
            match ev {
                None => break,
                Some(SessionEvent::Established(shared)) => {
                    self.server.register_session(self.id, shared);
                }
                Some(SessionEvent::Bound(sid)) => {
                    self.server.add_channel(sid, self.id);
                }
                Some(SessionEvent::Revoked(sid)) => {
                    self.server.unregister_session(self.id, sid);
                    match self.server.session_owner(sid) {
                        Some((home, _)) if home != self.id => {
                            let _ = self.server.end_session_on(home, sid).await;
                        }
                        _ => {}
                    }
                }
                Some(SessionEvent::Ended(sid)) => {
                    self.server.unregister_session(self.id, sid);
                    self.close_session_state(sid).await;
                }
            }
        }
    }

    /// A successful SESSION_SETUP named a PreviousSessionId (MS-SMB2 3.3.5.5.3): end that
    /// session, on whatever connection it lives, if it belongs to the same user; wait until
    /// it is gone, so that the reply reaches the client only after the old session (and
    /// its opens) no longer exist.
    async fn end_previous_session(self: &Rc<Self>, item: &Item) {
        let (Some(prev), Some(new)) = (item.previous_session(), item.session.as_ref()) else {
            return;
        };
        let Some((owner, old)) = self.server.session_owner(prev) else {
            return;
        };
        let same_user = !new.anonymous
            && !new.guest
            && !old.anonymous
            && !old.guest
            && old.user.eq_ignore_ascii_case(&new.user)
            && old.domain.eq_ignore_ascii_case(&new.domain);
        if !same_user {
            return;
        }
        if owner == self.id {
            self.end_session(prev).await;
        } else {
            let _ = self.server.end_session_on(owner, prev).await;
        }
    }

    /// Send one unsolicited message, signed/encrypted as its session requires.
    pub(crate) fn notify(&self, notice: Notice) {
        let frame = {
            let mut proto = self.proto.borrow_mut();
            match notice {
                Notice::OplockBreak {
                    session_id,
                    encrypt,
                    file_id,
                    level,
                } => proto.notification(
                    session_id,
                    encrypt,
                    &Response::OplockBreak(OplockBreak {
                        oplock_level: level,
                        file_id,
                    }),
                ),
                Notice::LeaseBreak {
                    session_id,
                    encrypt,
                    body,
                } => {
                    proto.notification(session_id, encrypt, &Response::LeaseBreakNotification(body))
                }
            }
        };
        if let Some(frame) = frame {
            self.sink.send(frame);
        }
    }

    /// Send the interim response of a request that will take a while (an open waiting for
    /// an oplock break). Returns the async id, or None when the request stays synchronous
    /// (inside a compound). A CANCEL of it wakes `cancel`.
    pub(crate) fn go_async(
        &self,
        item: &mut Item,
        cancel: Rc<tokio::sync::Notify>,
        file_id: Option<smb_wire::FileId>,
    ) -> Option<u64> {
        let (async_id, frame) = self.proto.borrow_mut().go_async(item)?;
        {
            let mut st = self.st.borrow_mut();
            st.pending.insert(
                async_id,
                crate::state::Pending {
                    session_id: item.hdr.session_id,
                    message_id: item.hdr.message_id,
                    file_id,
                },
            );
            st.cancel_hooks.insert(async_id, cancel);
        }
        self.sink.send(frame);
        Some(async_id)
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
            .receive_in(filetime_now(), msg, &*catalog, &*self.server);
        match res {
            Ok(batch) => {
                let this = self.clone();
                tokio_uring::spawn(async move {
                    this.session_events().await;
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

    /// Execute requests that arrived on a bound channel of one of this connection's
    /// sessions, in order, and return them with their replies.
    async fn execute_forwarded(self: &Rc<Self>, mut items: Vec<Forwarded>) -> Vec<Forwarded> {
        let mut chain = Chain::default();
        for fwd in items.iter_mut() {
            let item = &mut fwd.item;
            if let Work::Request(req) = std::mem::replace(&mut item.work, Work::Answered) {
                // The reply goes out on the channel, so nothing may go async here: a final
                // reply sent later would come out of this connection. CHANGE_NOTIFY is
                // refused; a lock that would wait fails at once instead.
                let req = match req {
                    Request::ChangeNotify(_) => {
                        item.reply = Reply::Err(NtStatus::NOT_SUPPORTED);
                        chain.failed(NtStatus::NOT_SUPPORTED, item.hdr.command);
                        continue;
                    }
                    Request::Lock(mut l) => {
                        for e in l.locks.iter_mut() {
                            if e.flags & LOCKFLAG_UNLOCK == 0 {
                                e.flags |= LOCKFLAG_FAIL_IMMEDIATELY;
                            }
                        }
                        Request::Lock(l)
                    }
                    other => other,
                };
                // A READ for the channel's RDMA write fills the channel's buffer in place
                // and hands it back; one it did not use goes back to the channel's pool.
                chain.rdma_buf = fwd.buf.take();
                let mut reply = exec::dispatch(self, item, req, &mut chain).await;
                chain.rdma_buf = None;
                fwd.buf = chain.rdma_filled.take();
                if let Reply::Pending { async_id } = reply {
                    self.st.borrow_mut().forget_pending(async_id);
                    reply = Reply::Err(NtStatus::NOT_SUPPORTED);
                }
                if let Reply::Err(s) = &reply {
                    chain.failed(*s, item.hdr.command);
                }
                item.reply = reply;
            }
        }
        // A LOGOFF through a channel ends the session here, at its home.
        for sid in chain.logoffs.drain(..) {
            self.end_session(sid).await;
        }
        items
    }

    /// The session's home connection when a batch's requests belong to a session this
    /// connection is only a channel of.
    fn home_of(&self, batch: &Batch) -> Option<u64> {
        let sid = batch
            .items
            .iter()
            .find(|it| matches!(it.work, Work::Request(_)))
            .and_then(|it| it.session.as_ref())
            .map(|s| s.id)?;
        let (owner, _) = self.server.session_owner(sid)?;
        (owner != self.id).then_some(owner)
    }

    /// A bound channel's batch: its requests run at the session's home connection; the
    /// replies come back to be signed with this channel's key and sent here.
    /// A READ of `reads` takes its registered buffer along and brings it back filled.
    async fn forward_batch(self: &Rc<Self>, home: u64, batch: &mut Batch, reads: &mut [RdmaRead]) {
        let mut out = Vec::new();
        let mut at = Vec::new();
        for (i, item) in batch.items.iter_mut().enumerate() {
            if matches!(item.work, Work::Request(_)) {
                let buf = reads
                    .iter_mut()
                    .find(|r| r.index == i)
                    .and_then(|r| r.buf.take());
                out.push(Forwarded {
                    item: item.detach(),
                    buf,
                });
                at.push(i);
            }
        }
        match self.server.execute_on(home, out).await {
            Ok(done) => {
                for (i, d) in at.into_iter().zip(done) {
                    if let Some(item) = batch.items.get_mut(i) {
                        item.absorb(d.item);
                    }
                    if let Some(r) = reads.iter_mut().find(|r| r.index == i) {
                        r.filled = d.buf;
                    }
                }
            }
            Err(_) => {
                for i in at {
                    if let Some(item) = batch.items.get_mut(i) {
                        item.reply = Reply::Err(NtStatus::USER_SESSION_DELETED);
                    }
                }
            }
        }
    }

    /// Before a batch executes, on an RDMA transport: pull the data of each WRITE with an
    /// RDMA channel from the client (it then executes as an ordinary WRITE, here or at the
    /// session's home connection), and turn each READ with an RDMA channel into an
    /// ordinary READ whose data [`Conn::rdma_out`] pushes afterwards. Returns those READs
    /// (item index, channel information) and the client's registration to invalidate
    /// with the reply. Malformed channels are answered INVALID_PARAMETER here.
    async fn rdma_in(&self, batch: &mut Batch, forwarded: bool) -> (Vec<RdmaRead>, Option<u32>) {
        let mut reads = Vec::new();
        let mut invalidate = None;
        let Some(rdma) = self.sink.rdma() else {
            // On TCP an RDMA channel is refused by READ/WRITE themselves.
            return (reads, invalidate);
        };
        for (i, item) in batch.items.iter_mut().enumerate() {
            // A WRITE the handler would refuse pulls nothing (its open is known only here,
            // not at a home connection it is forwarded to).
            let refused = match &item.work {
                Work::Request(Request::Write(w)) if is_rdma(w.channel) && !forwarded => {
                    Some((w.file_id, w.offset, u64::from(w.remaining_bytes)))
                }
                _ => None,
            }
            .and_then(|(fid, offset, len)| {
                exec::write_refusal_before_pull(self, item, fid, offset, len).err()
            });
            let answer = match &mut item.work {
                Work::Request(Request::Write(_)) if refused.is_some() => refused,
                Work::Request(Request::Write(w)) if is_rdma(w.channel) => {
                    match rdma.describe(&w.write_channel_info) {
                        Err(s) => Some(s),
                        Ok(_) if !w.data.is_empty() => Some(NtStatus::INVALID_PARAMETER),
                        Ok(ch) if u64::from(w.remaining_bytes) > ch.len => {
                            Some(NtStatus::INVALID_PARAMETER)
                        }
                        Ok(ch) => {
                            let len = w.remaining_bytes as usize;
                            match rdma.pull(&w.write_channel_info, len).await {
                                Ok(data) => {
                                    if w.channel == channel::RDMA_V1_INVALIDATE {
                                        invalidate = Some(ch.token);
                                    }
                                    w.data = data;
                                    w.channel = channel::NONE;
                                    w.remaining_bytes = 0;
                                    w.write_channel_info.clear();
                                    None
                                }
                                Err(s) => Some(s),
                            }
                        }
                    }
                }
                Work::Request(Request::Read(r)) if is_rdma(r.channel) => {
                    match rdma.describe(&r.read_channel_info) {
                        Err(s) => Some(s),
                        Ok(ch) if u64::from(r.length) > ch.len => Some(NtStatus::INVALID_PARAMETER),
                        Ok(ch) => {
                            if r.channel == channel::RDMA_V1_INVALIDATE {
                                invalidate = Some(ch.token);
                            }
                            // The file is read straight into registered memory, here or
                            // at the home connection the READ is forwarded to (a Vec,
                            // copied once more, only when the data pool is full).
                            reads.push(RdmaRead {
                                index: i,
                                channel_info: std::mem::take(&mut r.read_channel_info),
                                buf: rdma.lease(r.length as usize),
                                filled: None,
                            });
                            r.channel = channel::NONE;
                            None
                        }
                    }
                }
                // Answered inline, the data must fit one SMB Direct message.
                Work::Request(Request::Read(r))
                    if r.length as usize > rdma.max_inline().saturating_sub(READ_REPLY_ROOM) =>
                {
                    Some(NtStatus::INVALID_PARAMETER)
                }
                _ => None,
            };
            if let Some(status) = answer {
                item.work = Work::Answered;
                item.reply = Reply::Err(status);
            }
        }
        (reads, invalidate)
    }

    /// After a batch executed: push the data of each READ [`Conn::rdma_in`] set aside into
    /// the client's buffers; the reply then carries no data, and DataRemaining says how
    /// much went by RDMA.
    async fn rdma_out(&self, batch: &mut Batch, reads: Vec<RdmaRead>) {
        let Some(rdma) = self.sink.rdma() else {
            return;
        };
        for read in reads {
            let (i, info) = (read.index, read.channel_info);
            let Some(item) = batch.items.get_mut(i) else {
                continue;
            };
            let (status, pushed) = match std::mem::replace(&mut item.reply, Reply::None) {
                Reply::Ok(status, Response::Read(_)) if read.filled.is_some() => {
                    match read.filled {
                        Some(buf) => (status, rdma.push_buf(&info, buf).await),
                        None => continue,
                    }
                }
                Reply::ReadData(d) => (d.status, rdma.push(&info, d.buf, d.headroom).await),
                Reply::Ok(status, Response::Read(r)) => (status, rdma.push(&info, r.data, 0).await),
                other => {
                    item.reply = other;
                    continue;
                }
            };
            item.reply = match pushed
                .and_then(|n| u32::try_from(n).map_err(|_| NtStatus::INVALID_PARAMETER))
            {
                Ok(n) => Reply::Ok(
                    status,
                    Response::Read(ReadResponse {
                        data_remaining: n,
                        data: Vec::new(),
                        flags: 0,
                    }),
                ),
                Err(s) => Reply::Err(s),
            };
        }
    }

    /// Execute a batch in order (a compound's requests depend on each other) and send the
    /// joined reply.
    async fn run_batch(self: Rc<Self>, mut batch: Batch) {
        let home = self.home_of(&batch);
        let (mut rdma_reads, invalidate) = self.rdma_in(&mut batch, home.is_some()).await;
        if let Some(home) = home {
            self.forward_batch(home, &mut batch, &mut rdma_reads).await;
        }
        let mut chain = Chain::default();
        for (index, item) in batch.items.iter_mut().enumerate() {
            // A READ with an RDMA channel reads into its registered buffer, if it has one.
            chain.rdma_buf = rdma_reads
                .iter_mut()
                .find(|r| r.index == index)
                .and_then(|r| r.buf.take());
            let work = std::mem::replace(&mut item.work, Work::Answered);
            match work {
                Work::Answered => {
                    if let Reply::Err(s) = &item.reply {
                        tracing::debug!(peer = %self.peer, command = ?item.hdr.command, status = ?s, signed = item.hdr.is_signed(), "request refused by the protocol layer");
                        chain.failed(*s, item.hdr.command);
                    }
                    self.end_previous_session(item).await;
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
                    item.reply = match item.async_id() {
                        // It had an interim response: the final one is async (unless a
                        // CANCEL already answered it).
                        Some(aid) => {
                            self.complete_async(aid, reply);
                            Reply::None
                        }
                        None => reply,
                    };
                }
            }
            // What it filled goes out by RDMA write afterwards; an unused buffer goes back.
            chain.rdma_buf = None;
            if let Some(buf) = chain.rdma_filled.take() {
                if let Some(r) = rdma_reads.iter_mut().find(|r| r.index == index) {
                    r.filled = Some(buf);
                }
            }
        }
        self.rdma_out(&mut batch, rdma_reads).await;
        let out = {
            let mut proto = self.proto.borrow_mut();
            let out = proto.finish(batch);
            // A LOGOFF reply is signed with the session's key: forget it only now.
            for sid in chain.logoffs.drain(..) {
                proto.remove_session(sid);
            }
            out
        };
        match (out, invalidate) {
            (Some(frame), Some(token)) => self.sink.send_invalidate(frame, token),
            (Some(frame), None) => self.sink.send(frame),
            (None, _) => {}
        }
        self.session_events().await;
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

    /// Updates this connection's status slot (after every batch: byte counters move with
    /// each request). Only the slot's own lock is taken, and the user names are cloned
    /// only when the sessions changed.
    fn publish_status(&self) {
        fn name(s: &SessionInfo) -> &str {
            if s.anonymous {
                "(anonymous)"
            } else {
                &s.user
            }
        }
        let p = self.proto.borrow();
        let sessions = p.sessions();
        let (trees, opens) = {
            let st = self.st.borrow();
            (st.trees.len(), st.opens.len())
        };
        let mut slot = self.status.borrow_mut();
        let slot = slot.get_or_insert_with(|| {
            self.server.add_status(ConnStatus {
                id: self.id,
                peer: self.peer,
                transport: self.transport,
                dialect: 0,
                users: Vec::new(),
                trees: 0,
                opens: 0,
                bytes_in: 0,
                bytes_out: 0,
                transport_counters: None,
            })
        });
        let mut c = slot.lock().unwrap_or_else(|e| e.into_inner());
        c.dialect = p.negotiated().map(|n| n.dialect).unwrap_or(0);
        if !c
            .users
            .iter()
            .map(String::as_str)
            .eq(sessions.iter().map(|s| name(s)))
        {
            c.users = sessions.iter().map(|s| name(s).to_string()).collect();
        }
        c.trees = trees;
        c.opens = opens;
        c.bytes_in = p.stats.bytes_in;
        c.bytes_out = p.stats.bytes_out;
        c.transport_counters = self.sink.counters();
    }

    /// The transport is gone: close every open (honouring delete-on-close), forget status.
    pub async fn shutdown(self: &Rc<Self>) {
        self.server.remove_mailbox(self.id);
        self.server.unregister_connection(self.id);
        let ids: Vec<u64> = self.st.borrow().opens.keys().copied().collect();
        for id in ids {
            exec::close::close_open(self, id).await;
        }
        self.server.remove_status(self.id);
    }
}

/// The set of pending (async) requests of a connection, by async id.
pub(crate) type PendingMap = HashMap<u64, crate::state::Pending>;
