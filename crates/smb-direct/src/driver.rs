//! The glue that runs a sans-IO [`Connection`] over a verbs queue pair.
//!
//! Runtime-agnostic and clockless: the server's loop owns the QP's completion notification
//! and the timer, and calls in:
//!
//! ```text
//! accept             Driver::accept(request, config, driver_config, now)?
//! whenever the CQ or CM signalled, or after send_message / rdma_*:  driver.process(now)
//! timer              driver.poll_timeout() -> Option<Instant>;  driver.handle_timeout(now)
//! upper layer        driver.poll_event(): Negotiated | Message | ReadDone | WriteDone | Closed
//!                    driver.send_message(smb2) / send_message_invalidate(smb2, token)
//!                    driver.rdma_read(channel_info)         (SMB2 WRITE, RDMA_V1[_INVALIDATE])
//!                    driver.rdma_write(channel_info, data)  (SMB2 READ)
//!                    driver.lease(len) -> RegBuf; fill it; driver.rdma_write_buf(info, buf)
//! ```
//!
//! What [`Driver::process`] does, in order: connection events (disconnect, fatal QP error),
//! then every completion (receives fed to [`Connection::handle_recv`] in completion order,
//! chunks returned to their pools), then posting: the receives
//! [`Connection::receives_to_post`] asks for, the packets [`Connection::poll_transmit`]
//! yields (only while a send-queue slot and a send buffer are free, so a credit is never
//! spent on a packet that cannot be posted), and the RDMA work requests of pending
//! transfers (bounded by the send queue, the data pool and, for reads, the QP's
//! initiator depth `max_qp_rd_atom`).
//!
//! Memory is registered once per connection, at accept: receive buffers (one pool chunk
//! of MaxReceiveSize per receive), send buffers (MaxSendSize), and a data pool
//! ([`DataPool`]) that RDMA reads land in and RDMA writes go out from; nothing is
//! registered per request. A transfer that fits the pool gets one contiguous buffer of it
//! and its data is not copied in user space: an RDMA read's buffer becomes
//! [`DriverEvent::ReadDone`]'s `Bytes` (written to the file from there), and a READ's file
//! data can be read straight into a [`Driver::lease`]d buffer that
//! [`Driver::rdma_write_buf`] sends from. A transfer larger than the whole pool streams
//! through it one unit at a time, copied in or out.
//!
//! Teardown is the same for every cause (protocol violation, failed work request, peer
//! gone, local close): the QP is disconnected, which flushes every outstanding work
//! request; each flush completion returns its chunk; when none is left the pools are
//! deregistered and [`DriverEvent::Closed`] reports the reason and the transfers that
//! were cut short. [`Driver::pool_stats`] then shows every chunk back.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use crate::config::{Config, ConfigError};
use crate::conn::{Connection, Event, Role, SendError, Stats};
use crate::descriptor::{parse_descriptors, BufferDescriptorV1, DescriptorError, DescriptorLimits};
use crate::error::Disconnect;
use crate::negotiate::Negotiated;
use crate::verbs::{
    Access, Chunk, Completion, ConnectRequest, DataPool, DeviceLimits, Pool, PoolStats, QpCaps,
    QpEvent, QueuePair, RegBuf, RemoteBuf, SendWr, VerbsError, WcKind, WcStatus, WrId,
};

/// Sizes of the driver's own resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    /// The data pool's unit: a transfer's buffer is whole units, contiguous; a transfer
    /// larger than the pool streams through it one unit per work request.
    pub data_chunk_size: u32,
    /// Units in the data pool (registered once per connection).
    pub data_chunks: u32,
    /// The most one RDMA work request moves (a descriptor longer than this takes several).
    pub max_wr_bytes: u32,
    /// The most buffer descriptors one READ/WRITE may carry.
    pub max_descriptors: usize,
    /// The send queue depth we ask for (bounded by the device's max_qp_wr).
    pub send_queue_depth: u32,
    /// Outstanding RDMA reads we issue (bounded by the device's max_qp_rd_atom; ksmbd
    /// uses 8).
    pub max_rdma_reads: u32,
    /// Completions taken per `poll_cq` call.
    pub poll_batch: usize,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            data_chunk_size: 64 * 1024,
            data_chunks: 256,
            max_wr_bytes: 1024 * 1024,
            max_descriptors: 64,
            send_queue_depth: 1024,
            max_rdma_reads: 8,
            poll_batch: 64,
        }
    }
}

/// Why a driver could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("verbs: {0}")]
    Verbs(#[from] VerbsError),
    #[error("device cannot carry SMB Direct: {0}")]
    Device(&'static str),
    #[error("driver configuration: {0}")]
    DriverConfig(&'static str),
}

/// Why a connection closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    #[error("protocol: {0}")]
    Protocol(#[from] Disconnect),
    #[error("bad buffer descriptors from the peer: {0}")]
    Descriptor(#[from] DescriptorError),
    #[error("{kind:?} work request failed: {status:?}")]
    WorkRequest { kind: WcKind, status: WcStatus },
    #[error("verbs: {0}")]
    Verbs(#[from] VerbsError),
    #[error("peer disconnected")]
    PeerDisconnected,
    #[error("fatal queue pair error")]
    QpFatal,
    #[error("closed locally")]
    Local,
}

/// Identifies one RDMA transfer (one READ or WRITE request's data).
pub type TransferId = u64;

/// What the driver has for the upper layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverEvent {
    /// SMB Direct negotiation succeeded.
    Negotiated(Negotiated),
    /// A whole SMB2 message arrived.
    Message(Vec<u8>),
    /// An [`Driver::rdma_read`] finished: the peer's bytes, in descriptor order (in the
    /// data pool buffer they landed in, which goes back to the pool when the last `Bytes`
    /// of it is dropped).
    ReadDone { id: TransferId, data: Bytes },
    /// An [`Driver::rdma_write`]'s work requests are all posted: `len` bytes are on their
    /// way to the peer's buffers, ahead of anything sent from now on. On a reliable
    /// connection the peer executes work requests in order, so the data is in place when a
    /// message sent after this event arrives (the reply may go out at once, without waiting
    /// for the writes' completions); if a write fails, the connection closes and nothing
    /// sent after it is delivered.
    WriteDone { id: TransferId, len: usize },
    /// The connection is gone and every resource is back; `aborted` transfers never
    /// finished. Nothing follows this event.
    Closed {
        reason: CloseReason,
        aborted: Vec<TransferId>,
    },
}

/// Why an RDMA transfer was not started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("connection not negotiated yet")]
    NotEstablished,
    #[error("connection closed")]
    Closed,
    /// The peer's descriptors are invalid; the connection is being closed.
    #[error("bad buffer descriptors: {0}")]
    Descriptor(DescriptorError),
    /// The caller's data does not fit the descriptors (nothing happened).
    #[error("{len} bytes do not fit the {room} bytes the descriptors describe")]
    DataTooLong { len: usize, room: u64 },
}

/// Counters of one connection's verbs traffic (the per-channel counters of the status page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DriverStats {
    pub sends: u64,
    pub recvs: u64,
    pub rdma_reads: u64,
    pub rdma_writes: u64,
    /// Bytes moved from the peer by RDMA read (SMB2 WRITE data).
    pub rdma_read_bytes: u64,
    /// Bytes moved to the peer by RDMA write (SMB2 READ data), counted as posted (see
    /// [`DriverEvent::WriteDone`]).
    pub rdma_write_bytes: u64,
    pub transfers_done: u64,
    /// The most RDMA reads ever outstanding at once (never above the QP's `rd_atom`).
    pub reads_in_flight_high: u32,
    /// Sends that had to wait for a send-queue slot or a send buffer.
    pub send_queue_stalls: u64,
    /// RDMA data copied in user space into or out of the data pool: a READ's data handed
    /// over in a `Vec`, or a transfer larger than the pool. 0 when every transfer went in
    /// place.
    pub copied_bytes: u64,
}

/// Every pool of a connection, for the "nothing leaked" check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pools {
    pub recv: PoolStats,
    pub send: PoolStats,
    pub data: PoolStats,
}

impl Pools {
    /// Chunks out of their pools, all pools together.
    pub fn in_use(&self) -> u32 {
        self.recv
            .in_use
            .saturating_add(self.send.in_use)
            .saturating_add(self.data.in_use)
    }
}

/// About how much memory one connection registers (pins) when it is accepted with
/// `config` and `dc`: its receive, send and data pools, each registered once. Pinned memory
/// counts against RLIMIT_MEMLOCK unless the process has CAP_IPC_LOCK.
pub fn registered_bytes(config: &Config, dc: &DriverConfig) -> u64 {
    let recv = (u64::from(config.receive_credit_max) + 1) * u64::from(config.max_receive_size);
    let send = (u64::from(config.send_credit_target) + 1) * u64::from(config.max_send_size);
    let data = u64::from(dc.data_chunks) * u64::from(dc.data_chunk_size);
    recv + send + data
}

/// The queue pair sizes for a connection with `config` on a device with `limits`, and the
/// configuration adjusted to them (ReceiveCreditMax never exceeds what the receive queue
/// can hold).
pub fn qp_caps(
    limits: &DeviceLimits,
    config: &Config,
    dc: &DriverConfig,
) -> Result<(QpCaps, Config), DriverError> {
    if limits.max_send_sge < 1 {
        return Err(DriverError::Device("max_send_sge is 0"));
    }
    if limits.max_qp_rd_atom < 1 {
        return Err(DriverError::Device("max_qp_rd_atom is 0: no RDMA reads"));
    }
    if limits.max_qp_wr < 4 || limits.max_cqe < 8 {
        return Err(DriverError::Device("queues too small"));
    }
    let mut config = config.clone();
    // Receive queue: ReceiveCreditMax, plus the one extra receive of 3.1.5.9, plus room
    // for nothing else. The CQ holds both queues.
    let half_cq = limits.max_cqe / 2;
    let recv_room = limits.max_qp_wr.min(half_cq).saturating_sub(1);
    let credit_max = u32::from(config.receive_credit_max).min(recv_room);
    config.receive_credit_max = u16::try_from(credit_max).unwrap_or(u16::MAX);
    config.validate()?;
    let recv_wr = u32::from(config.receive_credit_max).saturating_add(1);
    let send_wr = dc
        .send_queue_depth
        .min(limits.max_qp_wr)
        .min(limits.max_cqe.saturating_sub(recv_wr));
    if send_wr < 2 {
        return Err(DriverError::Device("send queue too small"));
    }
    let caps = QpCaps {
        send_wr,
        recv_wr,
        cqe: send_wr.saturating_add(recv_wr),
        send_sge: 1,
        rd_atom: dc.max_rdma_reads.clamp(1, limits.max_qp_rd_atom),
    };
    Ok((caps, config))
}

/// What a posted work request holds until its completion.
#[derive(Debug)]
enum Pending {
    Recv(Chunk),
    Send(Chunk),
    Rdma {
        transfer: TransferId,
        /// A streamed transfer's unit for this one work request.
        piece: Option<RegBuf>,
        data_offset: usize,
        len: u32,
        read: bool,
    },
}

#[derive(Debug)]
struct Segment {
    remote: RemoteBuf,
    /// Where in the transfer's data (from its first byte).
    data_offset: usize,
}

/// Where a transfer's bytes are.
#[derive(Debug)]
enum Data {
    /// In one data pool buffer: work requests read or write it in place.
    Leased(RegBuf),
    /// Will be, once the pool has room: `from` (a READ's data) is copied in then; an
    /// RDMA read has nothing to copy.
    Waiting {
        len: usize,
        from: Option<(Vec<u8>, usize)>,
    },
    /// Larger than the pool: copied through one unit per work request, to or from
    /// `vec[start..]`.
    Streamed { vec: Vec<u8>, start: usize },
}

#[derive(Debug)]
struct Transfer {
    id: TransferId,
    data: Data,
    /// Bytes moved (the transfer's length).
    len: usize,
    read: bool,
    todo: VecDeque<Segment>,
    in_flight: u32,
    /// An RDMA write transfer's WriteDone went out (every work request is posted); it stays
    /// until they complete, holding its buffer.
    announced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Running,
    /// A last packet (a negotiate failure response) is being sent before disconnecting.
    Draining(CloseReason),
    /// Disconnected; waiting for every outstanding work request to flush.
    Closing(CloseReason),
    Closed,
}

/// One SMB Direct connection over a verbs queue pair.
#[derive(Debug)]
pub struct Driver<Q: QueuePair> {
    qp: Q,
    conn: Connection,
    dc: DriverConfig,
    caps: QpCaps,
    recv_pool: Pool,
    send_pool: Pool,
    data_pool: DataPool,
    pending: HashMap<WrId, Pending>,
    next_wr: WrId,
    sq_in_flight: u32,
    reads_in_flight: u32,
    /// One entry per message queued in the connection: its send-with-invalidate rkey.
    invalidate: VecDeque<Option<u32>>,
    messages_sent_seen: u64,
    transfers: VecDeque<Transfer>,
    next_transfer: TransferId,
    events: VecDeque<DriverEvent>,
    state: State,
    stats: DriverStats,
    completions: Vec<Completion>,
    scratch: Vec<u8>,
    /// The upper layer asked for no new receives ([`Driver::hold_receives`]).
    receives_held: bool,
    /// The latest `now` the caller passed in.
    now: Instant,
}

impl<Q: QueuePair> Driver<Q> {
    /// Accepts a connection request as the SMB Direct server: sizes the QP from the
    /// device's limits, creates and accepts it, registers the pools, posts the first
    /// receive (for the negotiate request).
    pub fn accept<R: ConnectRequest<Qp = Q>>(
        request: R,
        config: Config,
        dc: DriverConfig,
        now: Instant,
    ) -> Result<Self, DriverError> {
        let (caps, config) = match qp_caps(&request.device_limits(), &config, &dc) {
            Ok(v) => v,
            Err(e) => {
                request.reject();
                return Err(e);
            }
        };
        let qp = request.accept(caps)?;
        Self::new(qp, Role::Server, config, dc, now)
    }

    /// Runs over an already connected QP (the client side, or a QP made elsewhere), whose
    /// caps must come from [`qp_caps`] for `config`.
    pub fn new(
        mut qp: Q,
        role: Role,
        config: Config,
        dc: DriverConfig,
        now: Instant,
    ) -> Result<Self, DriverError> {
        if dc.data_chunk_size == 0
            || dc.data_chunks == 0
            || dc.poll_batch == 0
            || dc.max_wr_bytes == 0
        {
            return Err(DriverError::DriverConfig(
                "data pool, work request size and poll batch must be non-empty",
            ));
        }
        let caps = qp.caps();
        let (_, config) = qp_caps(&qp.device_limits(), &config, &dc)?;
        if caps.recv_wr <= u32::from(config.receive_credit_max) || caps.send_wr < 2 {
            return Err(DriverError::Device(
                "queue pair smaller than the configuration",
            ));
        }
        let conn = match role {
            Role::Server => Connection::server(config.clone(), now)?,
            Role::Client => Connection::client(config.clone(), now)?,
        };
        let send_chunks = caps
            .send_wr
            .min(u32::from(config.send_credit_target).saturating_add(1));
        let mut recv_pool = Pool::register(
            &mut qp,
            config.max_receive_size,
            caps.recv_wr,
            Access::LOCAL,
        )?;
        let mut send_pool =
            match Pool::register(&mut qp, config.max_send_size, send_chunks, Access::LOCAL) {
                Ok(p) => p,
                Err(e) => {
                    recv_pool.release(&mut qp);
                    return Err(e.into());
                }
            };
        let data_pool =
            match DataPool::register(&mut qp, dc.data_chunk_size, dc.data_chunks, Access::LOCAL) {
                Ok(p) => p,
                Err(e) => {
                    recv_pool.release(&mut qp);
                    send_pool.release(&mut qp);
                    return Err(e.into());
                }
            };
        let mut driver = Driver {
            qp,
            conn,
            caps,
            recv_pool,
            send_pool,
            data_pool,
            pending: HashMap::new(),
            next_wr: 1,
            sq_in_flight: 0,
            reads_in_flight: 0,
            invalidate: VecDeque::new(),
            messages_sent_seen: 0,
            transfers: VecDeque::new(),
            next_transfer: 1,
            events: VecDeque::new(),
            state: State::Running,
            stats: DriverStats::default(),
            completions: Vec::with_capacity(dc.poll_batch),
            scratch: Vec::new(),
            receives_held: false,
            now,
            dc,
        };
        driver.process(now);
        Ok(driver)
    }

    // ---- accessors ----------------------------------------------------------------------

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    pub fn qp(&self) -> &Q {
        &self.qp
    }

    pub fn qp_mut(&mut self) -> &mut Q {
        &mut self.qp
    }

    pub fn caps(&self) -> QpCaps {
        self.caps
    }

    pub fn stats(&self) -> DriverStats {
        self.stats
    }

    pub fn connection_stats(&self) -> Stats {
        self.conn.stats()
    }

    pub fn pool_stats(&self) -> Pools {
        Pools {
            recv: self.recv_pool.stats(),
            send: self.send_pool.stats(),
            data: self.data_pool.stats(),
        }
    }

    /// Work requests posted and not completed yet.
    pub fn outstanding_wrs(&self) -> usize {
        self.pending.len()
    }

    /// True once [`DriverEvent::Closed`] was queued: every resource is back.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// True while the connection can carry messages and transfers.
    pub fn is_running(&self) -> bool {
        self.state == State::Running
    }

    /// The descriptor bounds of this connection, once negotiated.
    pub fn descriptor_limits(&self) -> Option<DescriptorLimits> {
        self.conn
            .negotiated()
            .map(|p| DescriptorLimits::negotiated(p, self.dc.max_descriptors))
    }

    // ---- upper layer --------------------------------------------------------------------

    pub fn poll_event(&mut self) -> Option<DriverEvent> {
        self.events.pop_front()
    }

    /// Queues an SMB2 message; it is posted by the next [`Driver::process`].
    pub fn send_message(&mut self, message: Vec<u8>) -> Result<(), SendError> {
        self.queue_message(message, None)
    }

    /// Queues an SMB2 message whose last fragment is sent with invalidate of the peer's
    /// `token` (the reply to a READ/WRITE with SMB2_CHANNEL_RDMA_V1_INVALIDATE).
    pub fn send_message_invalidate(
        &mut self,
        message: Vec<u8>,
        token: u32,
    ) -> Result<(), SendError> {
        self.queue_message(message, Some(token))
    }

    fn queue_message(&mut self, message: Vec<u8>, inv: Option<u32>) -> Result<(), SendError> {
        if self.state != State::Running {
            return Err(SendError::Closed);
        }
        self.conn.send_message(message)?;
        self.invalidate.push_back(inv);
        Ok(())
    }

    /// Parses a READ/WRITE channel-information blob with this connection's bounds.
    pub fn descriptors(
        &self,
        channel_info: &[u8],
    ) -> Result<Vec<BufferDescriptorV1>, TransferError> {
        let limits = self
            .descriptor_limits()
            .ok_or(TransferError::NotEstablished)?;
        parse_descriptors(channel_info, &limits).map_err(TransferError::Descriptor)
    }

    /// Starts pulling the data of an SMB2 WRITE from the peer's buffers (channel
    /// RDMA_V1 or RDMA_V1_INVALIDATE); [`DriverEvent::ReadDone`] brings it. Invalid
    /// descriptors are a protocol violation: the connection closes.
    pub fn rdma_read(&mut self, channel_info: &[u8]) -> Result<TransferId, TransferError> {
        let descs = self.start_transfer(channel_info)?;
        let total = crate::descriptor::total_length(&descs);
        let len = usize::try_from(total).map_err(|_| TransferError::DataTooLong {
            len: usize::MAX,
            room: total,
        })?;
        Ok(self.push_transfer(self.read_data(len), len, &descs, true))
    }

    /// [`Driver::rdma_read`] of only the first `len` bytes the descriptors describe (an
    /// SMB2 WRITE's RemainingBytes); more than they describe is refused.
    pub fn rdma_read_len(
        &mut self,
        channel_info: &[u8],
        len: usize,
    ) -> Result<TransferId, TransferError> {
        let descs = self.start_transfer(channel_info)?;
        let room = crate::descriptor::total_length(&descs);
        if len as u64 > room {
            return Err(TransferError::DataTooLong { len, room });
        }
        Ok(self.push_transfer(self.read_data(len), len, &descs, true))
    }

    /// Where an RDMA read of `len` bytes lands: a pool buffer if it can ever fit one.
    fn read_data(&self, len: usize) -> Data {
        if len as u64 <= self.data_pool.capacity() {
            Data::Waiting { len, from: None }
        } else {
            Data::Streamed {
                vec: vec![0; len],
                start: 0,
            }
        }
    }

    /// Starts pushing the data of an SMB2 READ into the peer's buffers, in descriptor order;
    /// after [`DriverEvent::WriteDone`] the response may be sent (it arrives behind the
    /// data). Invalid descriptors close the connection; data longer than they describe is
    /// refused.
    pub fn rdma_write(
        &mut self,
        channel_info: &[u8],
        data: Vec<u8>,
    ) -> Result<TransferId, TransferError> {
        self.rdma_write_from(channel_info, data, 0)
    }

    /// [`Driver::rdma_write`] of `data[start..]`: a READ's file data sits behind room for
    /// the response headers, and is sent from where it lies (copied into a pool buffer
    /// once; [`Driver::rdma_write_buf`] avoids even that).
    pub fn rdma_write_from(
        &mut self,
        channel_info: &[u8],
        data: Vec<u8>,
        start: usize,
    ) -> Result<TransferId, TransferError> {
        let start = start.min(data.len());
        let len = data.len() - start;
        let descs = self.start_transfer(channel_info)?;
        let room = crate::descriptor::total_length(&descs);
        if len as u64 > room {
            return Err(TransferError::DataTooLong { len, room });
        }
        let data = if len as u64 <= self.data_pool.capacity() {
            Data::Waiting {
                len,
                from: Some((data, start)),
            }
        } else {
            Data::Streamed { vec: data, start }
        };
        Ok(self.push_transfer(data, len, &descs, false))
    }

    /// A data pool buffer for `len` bytes, to fill and give to [`Driver::rdma_write_buf`]
    /// (a READ's file data read straight into registered memory); `None` while the pool
    /// has no room (or never can, or the connection is closing): use a `Vec` and
    /// [`Driver::rdma_write_from`] then.
    pub fn lease(&self, len: usize) -> Option<RegBuf> {
        if self.state != State::Running {
            return None;
        }
        self.data_pool.lease(len)
    }

    /// [`Driver::rdma_write`] of a buffer from [`Driver::lease`], sent in place.
    pub fn rdma_write_buf(
        &mut self,
        channel_info: &[u8],
        buf: RegBuf,
    ) -> Result<TransferId, TransferError> {
        let len = buf.len();
        let descs = self.start_transfer(channel_info)?;
        let room = crate::descriptor::total_length(&descs);
        if len as u64 > room {
            return Err(TransferError::DataTooLong { len, room });
        }
        if !self.data_pool.owns(&buf) {
            // Not this connection's memory: its lkey means nothing on this QP.
            let vec = buf.as_slice().to_vec();
            return Ok(self.push_transfer(
                Data::Waiting {
                    len,
                    from: Some((vec, 0)),
                },
                len,
                &descs,
                false,
            ));
        }
        Ok(self.push_transfer(Data::Leased(buf), len, &descs, false))
    }

    fn start_transfer(
        &mut self,
        channel_info: &[u8],
    ) -> Result<Vec<BufferDescriptorV1>, TransferError> {
        match self.state {
            State::Running => {}
            _ => return Err(TransferError::Closed),
        }
        if !self.conn.is_established() {
            return Err(TransferError::NotEstablished);
        }
        match self.descriptors(channel_info) {
            Ok(d) => Ok(d),
            Err(TransferError::Descriptor(e)) => {
                self.begin_close(CloseReason::Descriptor(e));
                Err(TransferError::Descriptor(e))
            }
            Err(e) => Err(e),
        }
    }

    /// Splits the descriptors into work requests: of at most `max_wr_bytes` each out of a
    /// pool buffer, of at most one pool unit each when streamed.
    fn push_transfer(
        &mut self,
        data: Data,
        len: usize,
        descs: &[BufferDescriptorV1],
        read: bool,
    ) -> TransferId {
        let id = self.next_transfer;
        self.next_transfer = self.next_transfer.saturating_add(1);
        let max_wr = match data {
            Data::Streamed { .. } => self.data_pool.unit(),
            _ => self.dc.max_wr_bytes,
        };
        let mut todo = VecDeque::new();
        let mut data_offset = 0usize;
        'descs: for d in descs {
            let mut done = 0u32;
            while done < d.length {
                let left = len.saturating_sub(data_offset);
                if left == 0 {
                    break 'descs;
                }
                let n = (d.length - done)
                    .min(max_wr)
                    .min(u32::try_from(left).unwrap_or(u32::MAX));
                todo.push_back(Segment {
                    remote: RemoteBuf {
                        // parse_descriptors refused regions that wrap.
                        addr: d.offset.saturating_add(u64::from(done)),
                        rkey: d.token,
                        len: n,
                    },
                    data_offset,
                });
                done = done.saturating_add(n);
                data_offset = data_offset.saturating_add(n as usize);
            }
        }
        let transfer = Transfer {
            id,
            data,
            len,
            read,
            todo,
            in_flight: 0,
            announced: false,
        };
        if transfer.todo.is_empty() {
            // A zero-length READ result: nothing to move.
            self.announce(&transfer);
            self.finish_transfer(transfer);
        } else {
            self.transfers.push_back(transfer);
        }
        id
    }

    /// Every RDMA write of `t` is posted: what is sent from now on arrives behind them.
    fn announce(&mut self, t: &Transfer) {
        if !t.read {
            self.events.push_back(DriverEvent::WriteDone {
                id: t.id,
                len: t.len,
            });
        }
    }

    /// Every work request of `t` completed.
    fn finish_transfer(&mut self, t: Transfer) {
        self.stats.transfers_done = self.stats.transfers_done.saturating_add(1);
        if !t.read {
            return; // announced when posted; its buffer goes back now
        }
        let data = match t.data {
            Data::Leased(mut buf) => {
                buf.set_len(t.len);
                Bytes::from_owner(buf)
            }
            Data::Streamed { vec, .. } => Bytes::from(vec),
            Data::Waiting { .. } => Bytes::new(), // nothing was to be read
        };
        self.events
            .push_back(DriverEvent::ReadDone { id: t.id, data });
    }

    /// Flow control towards the peer: while held, no receive is posted, so no receive
    /// credit is granted and the peer stops sending once it has spent the credits it holds
    /// (at most ReceiveCreditMax messages still arrive). For an upper layer whose backlog
    /// of messages is full, as a TCP server stops reading its socket. Released, the next
    /// [`Driver::process`] posts receives (and grants) again.
    pub fn hold_receives(&mut self, hold: bool) {
        self.receives_held = hold;
    }

    /// Closes the connection from this side (server shutdown, logoff of the last session).
    pub fn close(&mut self) {
        self.begin_close(CloseReason::Local);
    }

    // ---- the engine ---------------------------------------------------------------------

    /// Does everything that can be done now: connection events, completions, posting.
    pub fn process(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if self.state == State::Closed {
            return;
        }
        while let Some(ev) = self.qp.poll_event() {
            match ev {
                QpEvent::Disconnected => self.begin_close(CloseReason::PeerDisconnected),
                QpEvent::Fatal => self.begin_close(CloseReason::QpFatal),
            }
        }
        self.poll_completions(now);
        if self.state == State::Running {
            self.post_all(now);
        }
        if let State::Draining(reason) = &self.state {
            if self.sq_in_flight == 0 {
                let reason = reason.clone();
                self.qp.disconnect();
                self.state = State::Closing(reason);
                self.poll_completions(now);
            }
        }
        if let State::Closing(reason) = &self.state {
            if self.pending.is_empty() {
                let reason = reason.clone();
                self.finish(reason);
            }
        }
    }

    /// Posts what can be posted now (receives, sends, RDMA work requests) without taking
    /// completions: for an upper layer that just queued a message or a transfer and wants
    /// it on the wire before the next [`Driver::process`]. May queue events
    /// ([`Driver::has_events`]) or start closing; the next `process` deals with both.
    pub fn flush(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if self.state == State::Running {
            self.post_all(now);
        }
    }

    /// Receives first (grants need posted buffers), then sends; a send may make the
    /// connection want one more receive (3.1.5.9), so go round until nothing moves; then
    /// the RDMA work requests.
    fn post_all(&mut self, now: Instant) {
        for _ in 0..4 {
            let posted = self.post_receives();
            let sent = self.post_sends(now);
            if posted == 0 && sent == 0 {
                break;
            }
        }
        self.post_rdma();
    }

    /// Events are waiting for [`Driver::poll_event`].
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Takes the [`DriverEvent::WriteDone`] of transfer `id` if it is queued (its writes
    /// are all posted): the bytes it moved.
    pub fn take_write_done(&mut self, id: TransferId) -> Option<usize> {
        let at = self
            .events
            .iter()
            .position(|e| matches!(e, DriverEvent::WriteDone { id: got, .. } if *got == id))?;
        match self.events.remove(at) {
            Some(DriverEvent::WriteDone { len, .. }) => Some(len),
            _ => None,
        }
    }

    /// When [`Driver::handle_timeout`] should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Running => self.conn.poll_timeout(),
            _ => None,
        }
    }

    /// The timer fired: keepalives, negotiate and keepalive timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state != State::Running {
            return;
        }
        if let Err(d) = self.conn.handle_timeout(now) {
            self.begin_close(CloseReason::Protocol(d));
        }
        self.process(now);
    }

    fn next_wr_id(&mut self) -> WrId {
        let id = self.next_wr;
        self.next_wr = self.next_wr.wrapping_add(1).max(1);
        id
    }

    fn poll_completions(&mut self, now: Instant) {
        loop {
            let mut batch = std::mem::take(&mut self.completions);
            batch.clear();
            let n = match self.qp.poll_cq(&mut batch, self.dc.poll_batch) {
                Ok(n) => n,
                Err(e) => {
                    self.completions = batch;
                    self.begin_close(CloseReason::Verbs(e));
                    return;
                }
            };
            for c in batch.drain(..) {
                self.on_completion(now, c);
            }
            self.completions = batch;
            if n < self.dc.poll_batch {
                return;
            }
        }
    }

    fn on_completion(&mut self, now: Instant, c: Completion) {
        let Some(pending) = self.pending.remove(&c.wr_id) else {
            return; // not ours: a provider bug, nothing to release
        };
        let ok = c.status.is_success();
        match pending {
            Pending::Recv(chunk) => {
                if ok {
                    self.stats.recvs = self.stats.recvs.saturating_add(1);
                    self.on_receive(now, &chunk, c.byte_len);
                }
                self.recv_pool.put(chunk);
            }
            Pending::Send(chunk) => {
                self.sq_in_flight = self.sq_in_flight.saturating_sub(1);
                self.send_pool.put(chunk);
            }
            Pending::Rdma {
                transfer,
                piece,
                data_offset,
                len,
                read,
            } => {
                self.sq_in_flight = self.sq_in_flight.saturating_sub(1);
                if read {
                    self.reads_in_flight = self.reads_in_flight.saturating_sub(1);
                }
                self.on_rdma_done(transfer, piece, data_offset, len, read, ok);
            }
        }
        if !ok && self.state == State::Running {
            self.begin_close(CloseReason::WorkRequest {
                kind: c.kind,
                status: c.status,
            });
        }
    }

    fn on_receive(&mut self, now: Instant, chunk: &Chunk, byte_len: u32) {
        if self.state != State::Running {
            return;
        }
        let Some(sge) = chunk.prefix(byte_len) else {
            // More bytes than the buffer holds: the provider would have failed the WR.
            let max = chunk.len();
            self.begin_close(CloseReason::Protocol(Disconnect::PacketTooLarge {
                len: byte_len as usize,
                max,
            }));
            return;
        };
        let mut packet = std::mem::take(&mut self.scratch);
        packet.resize(byte_len as usize, 0);
        if let Err(e) = self.qp.read_local(sge, &mut packet) {
            self.scratch = packet;
            self.begin_close(CloseReason::Verbs(e));
            return;
        }
        let result = self.conn.handle_recv(now, &packet);
        self.scratch = packet;
        self.drain_connection_events();
        if let Err(d) = result {
            self.begin_close(CloseReason::Protocol(d));
        }
    }

    fn drain_connection_events(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            self.events.push_back(match ev {
                Event::Negotiated(p) => DriverEvent::Negotiated(p),
                Event::Message(m) => DriverEvent::Message(m),
            });
        }
    }

    /// One RDMA work request of transfer `id` completed (`ok`: successfully); a streamed
    /// read's `piece` is copied out into the transfer's bytes, then goes back to the pool.
    fn on_rdma_done(
        &mut self,
        id: TransferId,
        piece: Option<RegBuf>,
        data_offset: usize,
        len: u32,
        read: bool,
        ok: bool,
    ) {
        let Some(pos) = self.transfers.iter().position(|t| t.id == id) else {
            return;
        };
        let Some(t) = self.transfers.get_mut(pos) else {
            return;
        };
        t.in_flight = t.in_flight.saturating_sub(1);
        if !ok {
            return; // the connection closes; the transfer is reported aborted
        }
        if read {
            self.stats.rdma_reads = self.stats.rdma_reads.saturating_add(1);
            self.stats.rdma_read_bytes = self.stats.rdma_read_bytes.saturating_add(u64::from(len));
            if let (Data::Streamed { vec, start }, Some(piece)) = (&mut t.data, &piece) {
                let at = start.saturating_add(data_offset);
                let dst = at
                    .checked_add(len as usize)
                    .and_then(|end| vec.get_mut(at..end));
                let src = piece.as_slice().get(..len as usize);
                match (dst, src) {
                    (Some(dst), Some(src)) => {
                        dst.copy_from_slice(src);
                        self.stats.copied_bytes =
                            self.stats.copied_bytes.saturating_add(u64::from(len));
                    }
                    _ => {
                        self.begin_close(CloseReason::Verbs(VerbsError::BadLocalBuffer));
                        return;
                    }
                }
            }
        }
        drop(piece);
        let done = self
            .transfers
            .get(pos)
            .is_some_and(|t| t.in_flight == 0 && t.todo.is_empty());
        if done {
            if let Some(t) = self.transfers.remove(pos) {
                self.finish_transfer(t);
            }
        }
    }

    /// Posts the receives the connection asks for, as far as buffers allow.
    fn post_receives(&mut self) -> u32 {
        if self.receives_held {
            return 0;
        }
        let want = self.conn.receives_to_post();
        let mut posted = 0;
        while posted < want {
            let Some(chunk) = self.recv_pool.take() else {
                break;
            };
            let wr_id = self.next_wr_id();
            if let Err(e) = self.qp.post_recv(wr_id, chunk.sge()) {
                self.recv_pool.put(chunk);
                self.conn.receive_posted(posted);
                self.begin_close(CloseReason::Verbs(e));
                return posted;
            }
            self.pending.insert(wr_id, Pending::Recv(chunk));
            posted += 1;
        }
        if posted > 0 {
            self.conn.receive_posted(posted);
        }
        posted
    }

    /// Posts packets while a send slot and a send buffer are free.
    /// Posts packets while a send slot and a send buffer are free, all of them in one
    /// [`QueuePair::post_sends`] call (one doorbell: a fragmented message's hundreds of
    /// packets are not hundreds of system calls on a software provider).
    fn post_sends(&mut self, now: Instant) -> u32 {
        let mut batch: Vec<(SendWr, Chunk)> = Vec::new();
        let mut failed = None;
        loop {
            let in_flight = self.sq_in_flight.saturating_add(batch.len() as u32);
            if in_flight >= self.caps.send_wr || self.send_pool.available() == 0 {
                if self.conn.queued_send_bytes() > 0 {
                    self.stats.send_queue_stalls = self.stats.send_queue_stalls.saturating_add(1);
                }
                break;
            }
            let Some(packet) = self.conn.poll_transmit(now) else {
                break;
            };
            // Did this packet finish an upper-layer message? Then it carries that
            // message's invalidate, if any.
            let done = self.conn.stats().messages_sent;
            let mut inv = None;
            while self.messages_sent_seen < done {
                self.messages_sent_seen = self.messages_sent_seen.saturating_add(1);
                inv = self.invalidate.pop_front().flatten();
            }
            let Some(chunk) = self.send_pool.take() else {
                break; // (checked above)
            };
            let len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
            let staged = match chunk.prefix(len) {
                None => Err(VerbsError::BadLocalBuffer),
                Some(sge) => self.qp.write_local(sge, &packet).map(|()| sge),
            };
            match staged {
                Ok(buf) => {
                    let wr_id = self.next_wr_id();
                    batch.push((
                        SendWr {
                            wr_id,
                            buf,
                            invalidate: inv,
                        },
                        chunk,
                    ));
                }
                Err(e) => {
                    self.send_pool.put(chunk);
                    failed = Some(CloseReason::Verbs(e));
                    break;
                }
            }
        }
        let wrs: Vec<SendWr> = batch.iter().map(|(w, _)| *w).collect();
        let posted = match self.qp.post_sends(&wrs) {
            Ok(()) => wrs.len(),
            Err((n, e)) => {
                failed.get_or_insert(CloseReason::Verbs(e));
                n
            }
        };
        for (i, (wr, chunk)) in batch.into_iter().enumerate() {
            if i < posted {
                self.pending.insert(wr.wr_id, Pending::Send(chunk));
                self.sq_in_flight = self.sq_in_flight.saturating_add(1);
                self.stats.sends = self.stats.sends.saturating_add(1);
            } else {
                self.send_pool.put(chunk);
            }
        }
        if let Some(reason) = failed {
            self.begin_close(reason);
        }
        u32::try_from(posted).unwrap_or(u32::MAX)
    }

    fn post_packet(&mut self, packet: &[u8], inv: Option<u32>) -> Result<(), CloseReason> {
        let Some(chunk) = self.send_pool.take() else {
            return Err(CloseReason::Verbs(VerbsError::QueueFull {
                queue: "send buffer",
                depth: self.send_pool.stats().chunks,
            }));
        };
        let len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let result = match chunk.prefix(len) {
            None => Err(VerbsError::BadLocalBuffer),
            Some(sge) => self
                .qp
                .write_local(sge, packet)
                .map(|()| sge)
                .and_then(|sge| {
                    let wr_id = self.next_wr;
                    self.qp.post_send(wr_id, sge, inv).map(|()| wr_id)
                }),
        };
        match result {
            Ok(wr_id) => {
                self.next_wr_id();
                self.pending.insert(wr_id, Pending::Send(chunk));
                self.sq_in_flight = self.sq_in_flight.saturating_add(1);
                self.stats.sends = self.stats.sends.saturating_add(1);
                Ok(())
            }
            Err(e) => {
                self.send_pool.put(chunk);
                Err(CloseReason::Verbs(e))
            }
        }
    }

    /// Posts the RDMA work requests of pending transfers, oldest transfer first. The pool
    /// is lent in order: once a transfer finds no room, no later one gets any (so a large
    /// transfer is not starved by small ones); transfers that already have their memory
    /// still go, and their completions bring the room.
    fn post_rdma(&mut self) {
        let mut i = 0;
        let mut lending = true;
        while i < self.transfers.len() {
            let waiting = self
                .transfers
                .get(i)
                .is_some_and(|t| matches!(t.data, Data::Waiting { .. }));
            if waiting && !(lending && self.lend_buffer(i)) {
                lending = false;
                i += 1;
                continue;
            }
            loop {
                if self.sq_in_flight >= self.caps.send_wr {
                    return;
                }
                let Some(t) = self.transfers.get_mut(i) else {
                    return;
                };
                if t.read && self.reads_in_flight >= self.caps.rd_atom {
                    break; // reads wait; a later write transfer may still go
                }
                let Some(seg) = t.todo.pop_front() else {
                    break;
                };
                let (id, read) = (t.id, t.read);
                // The local bytes: in place in the transfer's buffer, or a unit of the
                // pool for a streamed transfer (a write's bytes copied into it).
                let (sge, piece) = match &t.data {
                    Data::Leased(buf) => (buf.sge(seg.data_offset, seg.remote.len), None),
                    Data::Streamed { vec, start } => {
                        let piece = if lending {
                            self.data_pool.lease(seg.remote.len as usize)
                        } else {
                            None
                        };
                        let Some(mut piece) = piece else {
                            // The pool is full: completions bring units back.
                            t.todo.push_front(seg);
                            lending = false;
                            break;
                        };
                        if read {
                            piece.set_len(seg.remote.len as usize); // the device fills it
                        } else {
                            let at = start.saturating_add(seg.data_offset);
                            let src = at
                                .checked_add(seg.remote.len as usize)
                                .and_then(|end| vec.get(at..end))
                                .unwrap_or_default();
                            let n = piece.extend_from_slice(src);
                            self.stats.copied_bytes =
                                self.stats.copied_bytes.saturating_add(n as u64);
                        }
                        (piece.sge(0, seg.remote.len), Some(piece))
                    }
                    Data::Waiting { .. } => (None, None),
                };
                let wr_id = self.next_wr;
                let result = match sge {
                    None => Err(VerbsError::BadLocalBuffer),
                    Some(sge) if read => self.qp.rdma_read(wr_id, sge, seg.remote),
                    Some(sge) => self.qp.rdma_write(wr_id, sge, seg.remote),
                };
                if let Err(e) = result {
                    self.begin_close(CloseReason::Verbs(e));
                    return;
                }
                self.next_wr = self.next_wr.wrapping_add(1).max(1);
                t.in_flight = t.in_flight.saturating_add(1);
                let announce = !read && t.todo.is_empty();
                if announce {
                    t.announced = true;
                }
                let len = t.len;
                self.pending.insert(
                    wr_id,
                    Pending::Rdma {
                        transfer: id,
                        piece,
                        data_offset: seg.data_offset,
                        len: seg.remote.len,
                        read,
                    },
                );
                self.sq_in_flight = self.sq_in_flight.saturating_add(1);
                if read {
                    self.reads_in_flight = self.reads_in_flight.saturating_add(1);
                    self.stats.reads_in_flight_high =
                        self.stats.reads_in_flight_high.max(self.reads_in_flight);
                    continue;
                }
                self.stats.rdma_writes = self.stats.rdma_writes.saturating_add(1);
                self.stats.rdma_write_bytes = self
                    .stats
                    .rdma_write_bytes
                    .saturating_add(u64::from(seg.remote.len));
                if announce {
                    self.events.push_back(DriverEvent::WriteDone { id, len });
                }
            }
            i += 1;
        }
    }

    /// Gives waiting transfer `i` its pool buffer (copying a write's bytes in); false if
    /// the pool has no room for it yet.
    fn lend_buffer(&mut self, i: usize) -> bool {
        let Some(t) = self.transfers.get_mut(i) else {
            return false;
        };
        let Data::Waiting { len, from } = &mut t.data else {
            return true;
        };
        let Some(mut buf) = self.data_pool.lease(*len) else {
            return false;
        };
        if let Some((vec, start)) = from.take() {
            let n = buf.extend_from_slice(vec.get(start..).unwrap_or_default());
            self.stats.copied_bytes = self.stats.copied_bytes.saturating_add(n as u64);
        }
        buf.set_len(*len);
        t.data = Data::Leased(buf);
        true
    }

    /// Starts tearing down: a protocol failure may leave a last packet (a negotiate
    /// failure response) to send first; every other cause disconnects at once.
    fn begin_close(&mut self, reason: CloseReason) {
        if self.state != State::Running {
            return;
        }
        if matches!(reason, CloseReason::Protocol(_)) {
            let mut posted = false;
            while self.sq_in_flight < self.caps.send_wr && self.send_pool.available() > 0 {
                let Some(packet) = self.conn.poll_transmit(self.now) else {
                    break;
                };
                if self.post_packet(&packet, None).is_err() {
                    break;
                }
                posted = true;
            }
            if posted {
                self.state = State::Draining(reason);
                return;
            }
        }
        self.qp.disconnect();
        self.state = State::Closing(reason);
    }

    /// Everything flushed: give the memory back and say so.
    fn finish(&mut self, reason: CloseReason) {
        // (A write whose WriteDone went out is not aborted for its upper layer.)
        let aborted = self
            .transfers
            .drain(..)
            .filter(|t| !t.announced)
            .map(|t| t.id)
            .collect();
        self.invalidate.clear();
        self.recv_pool.release(&mut self.qp);
        self.send_pool.release(&mut self.qp);
        self.data_pool.release(&mut self.qp);
        self.state = State::Closed;
        self.events
            .push_back(DriverEvent::Closed { reason, aborted });
    }
}
