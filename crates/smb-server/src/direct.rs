//! SMB over SMB Direct (MS-SMBD on RDMA): the same [`Conn`] as TCP, driven by a
//! [`smb_direct::Driver`] instead of a socket.
//!
//! One task per RDMA connection, on the thread that accepted it (a queue pair is not
//! `Send`). The task owns the driver and loops: let the driver work
//! ([`Driver::process`]: completions, receives, sends, RDMA work requests), take its
//! events (whole SMB2 messages go to the connection; finished RDMA transfers wake the
//! request that started them), then sleep until the QP signals (its completion channel or
//! rdma_cm fd, or the emulation's doorbell: a [`Wakeup`]), the SMB layer queued output,
//! the SMBD timer is due, or the server shuts down.
//!
//! The SMB layer reaches the driver through [`DirectSink`]: replies go out as SMBD data
//! messages (send-with-invalidate when the request asked for it), and READ/WRITE with an
//! RDMA channel move their data with RDMA write/read through [`RdmaChannel`].

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use smb_direct::verbs::QueuePair;
use smb_direct::{Driver, DriverConfig, DriverEvent, TransferError, TransferId};
use smb_vfs::Vfs;
use smb_wire::NtStatus;
use tokio::sync::{oneshot, watch, Notify, Semaphore};

use crate::conn::{ChannelInfo, Conn, RdmaBuf, RdmaChannel, Sink, TransportCounters};
use crate::server::Server;

/// Most requests of one connection executing at once (as on TCP).
const MAX_INFLIGHT: usize = 64;

/// Whole messages waiting for a request slot before the driver stops posting receives
/// (so stops granting credits): the bound on what a peer can make a connection buffer, as
/// a TCP connection stops reading its socket.
const MAX_BACKLOG: usize = 64;
const MAX_BACKLOG_BYTES: usize = 8 << 20;

/// SMB Direct settings from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectOptions {
    /// Receive credits offered to a peer (ReceiveCreditMax, SendCreditTarget).
    pub credits: u16,
    /// The largest RDMA read or write for one request (the SMB2 max read/write size).
    pub max_io: u32,
}

impl Default for DirectOptions {
    fn default() -> Self {
        DirectOptions {
            credits: 255,
            max_io: 8 * 1024 * 1024,
        }
    }
}

impl DirectOptions {
    /// The MS-SMBD parameters (Windows' defaults, with our credits and I/O size).
    pub fn smbd_config(&self) -> smb_direct::Config {
        smb_direct::Config {
            receive_credit_max: self.credits.max(2),
            send_credit_target: self.credits.max(2),
            max_read_write_size: self.max_io,
            ..smb_direct::Config::default()
        }
    }

    /// Memory each connection registers (pins) at accept.
    pub fn registered_bytes(&self) -> u64 {
        smb_direct::driver::registered_bytes(&self.smbd_config(), &self.driver_config())
    }

    /// Driver resources: a data pool large enough for two requests of the largest size
    /// in flight.
    pub fn driver_config(&self) -> DriverConfig {
        let dc = DriverConfig::default();
        let chunks = (u64::from(self.max_io) * 2).div_ceil(u64::from(dc.data_chunk_size));
        DriverConfig {
            data_chunks: u32::try_from(chunks)
                .unwrap_or(u32::MAX)
                .max(dc.data_chunks),
            ..dc
        }
    }
}

/// What wakes an RDMA connection's task when the QP may have something new.
pub trait Wakeup {
    /// Resolves when the QP signalled (a completion or a connection event may be waiting);
    /// true when it was the completion channel
    /// ([`smb_direct::verbs::QueuePair::completion_signalled`]).
    fn wait(&mut self) -> impl Future<Output = bool>;
}

/// The emulation's doorbell as a [`Wakeup`] (tests; see `smb_direct::verbs::emu`).
pub struct NotifyWakeup(pub Arc<Notify>);

impl Wakeup for NotifyWakeup {
    async fn wait(&mut self) -> bool {
        self.0.notified().await;
        true
    }
}

/// What woke a connection's task, counted.
#[derive(Debug, Default)]
struct Wakes {
    qp: u64,
    kick: u64,
    timer: u64,
    slot: u64,
}

/// The result of a finished RDMA transfer, for the request waiting on it.
enum Done {
    Read(Bytes),
    Written(usize),
}

/// What the connection task and the SMB layer share.
struct Shared<Q: QueuePair> {
    driver: RefCell<Driver<Q>>,
    /// The SMB layer queued something: the task should let the driver work.
    kick: Notify,
    /// Requests waiting for their RDMA transfer, by transfer.
    waiting: RefCell<HashMap<TransferId, oneshot::Sender<Done>>>,
}

/// The SMB layer's view of an SMB Direct connection.
struct DirectSink<Q: QueuePair> {
    shared: Rc<Shared<Q>>,
}

impl<Q: QueuePair> DirectSink<Q> {
    fn queue(&self, mut frame: Vec<u8>, invalidate: Option<u32>) {
        // SMB Direct carries the SMB2 message alone: no NetBIOS session header.
        frame.drain(..smb_proto::FRAME_PREFIX.min(frame.len()));
        let mut d = self.shared.driver.borrow_mut();
        let deadline = d.poll_timeout();
        let res = match invalidate {
            Some(token) => d.send_message_invalidate(frame, token),
            None => d.send_message(frame),
        };
        if let Err(e) = res {
            if d.is_running() {
                tracing::warn!(peer = %d.qp().peer(), error = %e, "closing SMB Direct connection: cannot send");
                d.close();
            }
        }
        self.post_now(d, deadline);
    }

    /// Posts what was just queued at once, from the request's own task; the connection's
    /// task is woken only when it has something to do about it (events, a changed timer,
    /// a close), not for every reply.
    fn post_now(&self, mut d: std::cell::RefMut<'_, Driver<Q>>, deadline: Option<Instant>) {
        d.flush(Instant::now());
        let wake = d.has_events() || !d.is_running() || d.poll_timeout() != deadline;
        drop(d);
        if wake {
            self.shared.kick.notify_one();
        }
    }

    /// Starts a transfer with `start` and returns what its request awaits.
    fn transfer(
        &self,
        start: impl FnOnce(&mut Driver<Q>) -> Result<TransferId, TransferError>,
    ) -> Result<oneshot::Receiver<Done>, NtStatus> {
        let mut d = self.shared.driver.borrow_mut();
        let deadline = d.poll_timeout();
        let id = start(&mut d).map_err(|e| {
            tracing::debug!(peer = %d.qp().peer(), error = %e, "RDMA transfer refused");
            match e {
                TransferError::DataTooLong { .. } | TransferError::Descriptor(_) => {
                    NtStatus::INVALID_PARAMETER
                }
                TransferError::NotEstablished | TransferError::Closed => {
                    NtStatus::CONNECTION_DISCONNECTED
                }
            }
        })?;
        let (tx, rx) = oneshot::channel();
        // Posted at once; an RDMA write whose work requests all went out is done now (the
        // reply sent next arrives behind its data), with no round trip through the
        // connection's task.
        d.flush(Instant::now());
        match d.take_write_done(id) {
            Some(len) => {
                let _ = tx.send(Done::Written(len));
            }
            None => {
                self.shared.waiting.borrow_mut().insert(id, tx);
            }
        }
        self.post_now(d, deadline);
        Ok(rx)
    }
}

impl<Q: QueuePair> Sink for DirectSink<Q> {
    fn send(&self, frame: Vec<u8>) {
        self.queue(frame, None);
    }

    fn send_invalidate(&self, frame: Vec<u8>, token: u32) {
        self.queue(frame, Some(token));
    }

    fn close(&self) {
        self.shared.driver.borrow_mut().close();
        self.shared.kick.notify_one();
    }

    fn rdma(&self) -> Option<&dyn RdmaChannel> {
        Some(self)
    }

    fn counters(&self) -> Option<TransportCounters> {
        let s = self.shared.driver.borrow().stats();
        Some(TransportCounters {
            sends: s.sends,
            recvs: s.recvs,
            rdma_reads: s.rdma_reads,
            rdma_writes: s.rdma_writes,
            rdma_read_bytes: s.rdma_read_bytes,
            rdma_write_bytes: s.rdma_write_bytes,
            copied_bytes: s.copied_bytes,
        })
    }
}

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<Q: QueuePair> RdmaChannel for DirectSink<Q> {
    fn describe(&self, channel_info: &[u8]) -> Result<ChannelInfo, NtStatus> {
        let d = self.shared.driver.borrow();
        let ds = d
            .descriptors(channel_info)
            .map_err(|_| NtStatus::INVALID_PARAMETER)?;
        let token = ds
            .first()
            .map(|d| d.token)
            .ok_or(NtStatus::INVALID_PARAMETER)?;
        Ok(ChannelInfo {
            len: smb_direct::descriptor::total_length(&ds),
            token,
        })
    }

    fn max_inline(&self) -> usize {
        let d = self.shared.driver.borrow();
        d.connection()
            .negotiated()
            .map_or(0, |n| n.max_fragmented_send_size as usize)
    }

    fn pull(&self, channel_info: &[u8], len: usize) -> LocalFuture<Result<Bytes, NtStatus>> {
        let rx = self.transfer(|d| d.rdma_read_len(channel_info, len));
        Box::pin(async move {
            match rx?.await {
                Ok(Done::Read(data)) => Ok(data),
                _ => Err(NtStatus::CONNECTION_DISCONNECTED),
            }
        })
    }

    fn push(
        &self,
        channel_info: &[u8],
        data: Vec<u8>,
        start: usize,
    ) -> LocalFuture<Result<usize, NtStatus>> {
        let rx = self.transfer(|d| d.rdma_write_from(channel_info, data, start));
        Box::pin(async move {
            match rx?.await {
                Ok(Done::Written(n)) => Ok(n),
                _ => Err(NtStatus::CONNECTION_DISCONNECTED),
            }
        })
    }

    fn lease(&self, len: usize) -> Option<RdmaBuf> {
        let d = self.shared.driver.borrow();
        d.lease(len).map(|b| RdmaBuf::new(b, len))
    }

    fn push_buf(&self, channel_info: &[u8], buf: RdmaBuf) -> LocalFuture<Result<usize, NtStatus>> {
        let rx = self.transfer(|d| d.rdma_write_buf(channel_info, buf.into_inner()));
        Box::pin(async move {
            match rx?.await {
                Ok(Done::Written(n)) => Ok(n),
                _ => Err(NtStatus::CONNECTION_DISCONNECTED),
            }
        })
    }
}

/// One line per received SMB2 message (trace level): its size, command and, for a WRITE,
/// where its data sits, to compare with what the client meant to send.
fn trace_message(peer: &str, m: &[u8]) {
    let u16_at = |i: usize| {
        m.get(i..i + 2)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map_or(0, u16::from_le_bytes)
    };
    let u32_at = |i: usize| {
        m.get(i..i + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_le_bytes)
    };
    tracing::trace!(
        peer,
        len = m.len(),
        command = u16_at(12),
        message_id = u32_at(24),
        flags = u32_at(16),
        write_data_offset = u16_at(66),
        write_length = u32_at(68),
        "SMB Direct message"
    );
}

/// The peer as a socket address (rdma_cm reports one; the emulation a name).
fn peer_addr(name: &str) -> SocketAddr {
    name.parse()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// Serves one accepted SMB Direct connection until it closes or `shutdown` turns true;
/// returns once every request finished and every open of the connection is released.
pub async fn connection<V: Vfs, Q: QueuePair + 'static, W: Wakeup>(
    server: Arc<Server>,
    vfs: V,
    driver: Driver<Q>,
    mut wake: W,
    mut shutdown: watch::Receiver<bool>,
) {
    let peer_name = driver.qp().peer();
    let peer = peer_addr(&peer_name);
    let shared = Rc::new(Shared {
        driver: RefCell::new(driver),
        kick: Notify::new(),
        waiting: RefCell::new(HashMap::new()),
    });
    let conn = Conn::new(
        server,
        vfs,
        peer,
        "smbdirect",
        Box::new(DirectSink {
            shared: shared.clone(),
        }),
    );
    tracing::debug!(peer = %peer_name, "SMB Direct connection");
    let inflight = Arc::new(Semaphore::new(MAX_INFLIGHT));
    // Whole SMB2 messages not yet handed on (all request slots busy).
    let mut backlog: VecDeque<Vec<u8>> = VecDeque::new();
    let mut backlog_bytes = 0usize;
    let mut stopping = false;
    // Why the task woke, for the close log: a busy loop shows here.
    let mut wakes = Wakes::default();
    let reason = loop {
        let now = Instant::now();
        let mut closed = None;
        {
            let mut d = shared.driver.borrow_mut();
            d.hold_receives(backlog.len() >= MAX_BACKLOG || backlog_bytes >= MAX_BACKLOG_BYTES);
            d.process(now);
            while let Some(ev) = d.poll_event() {
                match ev {
                    DriverEvent::Negotiated(n) => {
                        tracing::debug!(peer = %peer_name, max_read_write = n.max_read_write_size, credits = n.receive_credit_target, "SMB Direct negotiated");
                    }
                    DriverEvent::Message(m) => {
                        if tracing::enabled!(tracing::Level::TRACE) {
                            trace_message(&peer_name, &m);
                        }
                        backlog_bytes += m.len();
                        backlog.push_back(m);
                    }
                    DriverEvent::ReadDone { id, data } => {
                        if let Some(tx) = shared.waiting.borrow_mut().remove(&id) {
                            let _ = tx.send(Done::Read(data));
                        }
                    }
                    DriverEvent::WriteDone { id, len } => {
                        if let Some(tx) = shared.waiting.borrow_mut().remove(&id) {
                            let _ = tx.send(Done::Written(len));
                        }
                    }
                    DriverEvent::Closed { reason, .. } => closed = Some(reason),
                }
            }
        }
        while !backlog.is_empty() {
            let Ok(permit) = inflight.clone().try_acquire_owned() else {
                break;
            };
            let Some(m) = backlog.pop_front() else { break };
            backlog_bytes -= m.len();
            if !conn.receive_with_permit(m, permit) {
                shared.driver.borrow_mut().close();
            }
        }
        if let Some(r) = closed {
            break r;
        }
        let deadline = shared.driver.borrow().poll_timeout();
        let timer = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                None => std::future::pending().await,
            }
        };
        let slot = async {
            if backlog.is_empty() {
                std::future::pending::<()>().await;
            }
            // A request finished: its slot is free for the next message.
            let _ = inflight.acquire().await;
        };
        tokio::select! {
            cq = wake.wait() => {
                wakes.qp += 1;
                if cq {
                    shared.driver.borrow_mut().qp_mut().completion_signalled();
                }
            }
            _ = shared.kick.notified() => wakes.kick += 1,
            _ = timer => {
                wakes.timer += 1;
                shared.driver.borrow_mut().handle_timeout(Instant::now());
            }
            _ = slot => wakes.slot += 1,
            _ = shutdown.changed(), if !stopping => {
                stopping = true;
                shared.driver.borrow_mut().close();
            }
        }
    };
    // Requests still waiting for a transfer learn that it will not finish.
    shared.waiting.borrow_mut().clear();
    let _ = inflight.acquire_many(MAX_INFLIGHT as u32).await;
    let stats = shared.driver.borrow().stats();
    tracing::info!(
        peer = %peer_name,
        reason = %reason,
        sends = stats.sends,
        recvs = stats.recvs,
        rdma_read_bytes = stats.rdma_read_bytes,
        rdma_write_bytes = stats.rdma_write_bytes,
        rdma_reads = stats.rdma_reads,
        rdma_writes = stats.rdma_writes,
        copied_bytes = stats.copied_bytes,
        reads_in_flight_high = stats.reads_in_flight_high,
        send_queue_stalls = stats.send_queue_stalls,
        wakes_qp = wakes.qp,
        wakes_kick = wakes.kick,
        wakes_timer = wakes.timer,
        wakes_slot = wakes.slot,
        "SMB Direct connection closed"
    );
    conn.shutdown().await;
    drop(wake);
}

/// The real provider: listeners on the RDMA devices and a [`Wakeup`] over the QP's fds.
#[cfg(feature = "rdma")]
pub mod rdma {
    use std::net::{IpAddr, SocketAddr};
    use std::os::fd::{AsRawFd, RawFd};
    use std::sync::Arc;
    use std::time::Instant;

    use smb_direct::verbs::rdma::{devices, RdmaListener, RdmaQp};
    use smb_direct::verbs::{Listener, VerbsError};
    use smb_direct::Driver;
    use smb_vfs::Vfs;
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;
    use tokio::sync::watch;

    use super::{DirectOptions, Wakeup};
    use crate::server::Server;

    /// A file descriptor someone else owns (the QP or listener closes it).
    struct Borrowed(RawFd);

    impl AsRawFd for Borrowed {
        fn as_raw_fd(&self) -> RawFd {
            self.0
        }
    }

    /// Registers a non-blocking fd owned elsewhere with the runtime's reactor, for
    /// readability. The caller drops the result before the owner closes the fd.
    fn watch_fd(fd: RawFd) -> std::io::Result<AsyncFd<Borrowed>> {
        if fd < 0 {
            return Err(std::io::Error::from_raw_os_error(libc::EBADF));
        }
        // SAFETY: `fd` is open (the QP or listener that owns it is alive) and stays open
        // while the AsyncFd lives: `connection` and `accept_loop` drop their AsyncFds
        // before the driver or listener that owns the fd.
        unsafe { AsyncFd::register_with_interest(Borrowed(fd), Interest::READABLE) }
            .map_err(std::io::Error::from)
    }

    /// Wakes on the QP's completion channel or its rdma_cm event channel.
    struct FdWakeup {
        completions: AsyncFd<Borrowed>,
        cm: AsyncFd<Borrowed>,
    }

    impl FdWakeup {
        fn new(qp: &RdmaQp) -> std::io::Result<Self> {
            Ok(FdWakeup {
                completions: watch_fd(qp.completion_fd())?,
                cm: watch_fd(qp.cm_fd())?,
            })
        }
    }

    impl Wakeup for FdWakeup {
        async fn wait(&mut self) -> bool {
            // Readiness is cleared before the driver takes the event, so one that arrives
            // meanwhile wakes the next wait.
            tokio::select! {
                r = self.completions.readable() => {
                    if let Ok(mut g) = r {
                        g.clear_ready();
                    }
                    true
                }
                r = self.cm.readable() => {
                    if let Ok(mut g) = r {
                        g.clear_ready();
                    }
                    false
                }
            }
        }
    }

    /// The SMB Direct ports to listen on: 445 when an InfiniBand or RoCE device exists,
    /// 5445 when an iWARP one does (its port space is TCP's).
    pub fn ports() -> Result<Vec<u16>, VerbsError> {
        let mut ports: Vec<u16> = devices()?
            .iter()
            .map(|d| d.transport.smb_direct_port())
            .collect();
        ports.sort_unstable();
        ports.dedup();
        Ok(ports)
    }

    /// Runs SMB Direct on its own thread until `shutdown`: listeners on `ip` (every
    /// device when unspecified) at [`ports`], one task per connection. Returns Ok(None)
    /// when the host has no RDMA device (nothing to serve).
    pub fn serve<V, F>(
        server: Arc<Server>,
        ip: IpAddr,
        opts: DirectOptions,
        make_vfs: F,
        shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<Option<std::thread::JoinHandle<()>>>
    where
        V: Vfs,
        F: FnOnce() -> V + Send + 'static,
    {
        let ports = match ports() {
            Ok(p) if !p.is_empty() => p,
            Ok(_) | Err(VerbsError::NoDevices) => return Ok(None),
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        };
        // Bind here, so that a failure is reported by the caller; the listeners move to
        // the thread as plain addresses and are re-bound there (rdma_cm ids are not Send).
        for port in &ports {
            RdmaListener::bind(SocketAddr::new(ip, *port), 1)
                .map_err(|e| std::io::Error::other(format!("SMB Direct on port {port}: {e}")))?;
        }
        let handle = std::thread::Builder::new()
            .name("smb-rdma".into())
            .spawn(move || {
                tokio_uring::start(async move {
                    let vfs = make_vfs();
                    let mut tasks = Vec::new();
                    for port in ports {
                        let addr = SocketAddr::new(ip, port);
                        match RdmaListener::bind(addr, 128) {
                            Ok(l) => {
                                tracing::info!(%addr, "SMB Direct listening");
                                tasks.push(tokio_uring::spawn(accept_loop(
                                    server.clone(),
                                    l,
                                    vfs.clone(),
                                    opts,
                                    shutdown.clone(),
                                )));
                            }
                            Err(e) => {
                                tracing::error!(%addr, error = %e, "SMB Direct listener failed")
                            }
                        }
                    }
                    server.set_smb_direct_serving(!tasks.is_empty());
                    for t in tasks {
                        let _ = t.await;
                    }
                    server.set_smb_direct_serving(false);
                })
            })?;
        Ok(Some(handle))
    }

    async fn accept_loop<V: Vfs>(
        server: Arc<Server>,
        mut listener: RdmaListener,
        vfs: V,
        opts: DirectOptions,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let fd = match watch_fd(listener.fd()) {
            Ok(fd) => fd,
            Err(e) => {
                tracing::error!(error = %e, "SMB Direct listener cannot be polled");
                return;
            }
        };
        let mut conns: Vec<tokio::task::JoinHandle<()>> = Vec::new();
        loop {
            tokio::select! {
                r = fd.readable() => {
                    if let Ok(mut g) = r {
                        g.clear_ready();
                    }
                }
                _ = shutdown.changed() => break,
            }
            loop {
                let req = match listener.poll_request() {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "SMB Direct connect request failed");
                        break;
                    }
                };
                let peer = smb_direct::verbs::ConnectRequest::peer(&req);
                let driver = match Driver::accept(
                    req,
                    opts.smbd_config(),
                    opts.driver_config(),
                    Instant::now(),
                ) {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "SMB Direct connection refused");
                        continue;
                    }
                };
                let wake = match FdWakeup::new(driver.qp()) {
                    Ok(w) => w,
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "SMB Direct connection cannot be polled");
                        continue;
                    }
                };
                conns.push(tokio_uring::spawn(super::connection(
                    server.clone(),
                    vfs.clone(),
                    driver,
                    wake,
                    shutdown.clone(),
                )));
                conns.retain(|h| !h.is_finished());
            }
        }
        for c in conns {
            let _ = c.await;
        }
        drop(fd);
    }
}
