//! The verbs boundary: what the SMB Direct driver needs from an RDMA provider, and nothing
//! more.
//!
//! Two implementations sit behind these traits:
//! - [`emu`]: an in-memory emulation (two endpoints joined by queues, registered regions
//!   with rkey and bounds checks, completions, RNR, disconnect, peer vanishing and fault
//!   injection), so the whole SMB Direct stack runs in ordinary `cargo test`;
//! - the real provider over rdma_cm and libibverbs (the only code that names rdma-sys).
//!
//! The model is a reliable-connected (RC) queue pair with one completion queue for both its
//! send and receive queues:
//!
//! ```text
//! Listener::poll_request ─▶ ConnectRequest::device_limits ─▶ driver::qp_caps ─▶ accept ─▶ Qp
//! Qp::register / register_mem (once per pool)   Qp::write_local / read_local  (copy in / out)
//! Qp::post_recv / post_send / rdma_read / rdma_write   (each a work request with a WrId)
//! Qp::poll_cq ─▶ Completion { wr_id, kind, status, byte_len }   (exactly one per posted WR)
//! Qp::poll_event ─▶ Disconnected | Fatal;   Qp::disconnect (QP to error, WRs flushed)
//! ```
//!
//! Rules every implementation keeps, and the driver relies on: every work request that was
//! posted successfully completes exactly once (with [`WcStatus::WrFlushError`] once the QP
//! is in error); send-queue work requests complete in the order they were posted; a
//! completion with an error status moves the QP to the error state.

pub mod emu;
pub mod mem;
pub mod pool;
#[cfg(feature = "rdma")]
pub mod rdma;

pub use mem::{DataPool, RegBuf, RegMem};
pub use pool::{Chunk, Pool, PoolStats};

/// An identifier the poster chooses for a work request; its completion carries it back.
pub type WrId = u64;

/// Device attributes that bound a queue pair (from `ibv_query_device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceLimits {
    /// Most work requests in one send or receive queue.
    pub max_qp_wr: u32,
    /// Most entries in one completion queue.
    pub max_cqe: u32,
    /// Most scatter/gather entries in one send work request.
    pub max_send_sge: u32,
    /// Most outstanding RDMA reads a QP may have as responder / initiator (IRD/ORD).
    pub max_qp_rd_atom: u32,
    /// Largest memory region that can be registered.
    pub max_mr_size: u64,
}

impl Default for DeviceLimits {
    /// Roughly a ConnectX-3 (mlx4) as `ibv_devinfo -v` reports it.
    fn default() -> Self {
        DeviceLimits {
            max_qp_wr: 16_351,
            max_cqe: 4_194_303,
            max_send_sge: 32,
            max_qp_rd_atom: 16,
            max_mr_size: u64::MAX,
        }
    }
}

/// The sizes a queue pair is created with, derived from [`DeviceLimits`] by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QpCaps {
    /// Send queue depth: sends, RDMA reads and RDMA writes together.
    pub send_wr: u32,
    /// Receive queue depth.
    pub recv_wr: u32,
    /// Completion queue size (one CQ for both queues): at least `send_wr + recv_wr`.
    pub cqe: u32,
    /// Scatter/gather entries per send work request.
    pub send_sge: u32,
    /// Outstanding RDMA reads we issue (initiator depth) and accept (responder resources).
    pub rd_atom: u32,
}

/// What the peer may do with a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    pub remote_read: bool,
    pub remote_write: bool,
}

impl Access {
    /// Local use only: receive buffers, send buffers, and the server's data pool (the
    /// server initiates every RDMA operation, so nothing of its own is exposed).
    pub const LOCAL: Access = Access {
        remote_read: false,
        remote_write: false,
    };
    /// A client's buffer that the server RDMA-reads (SMB2 WRITE) or RDMA-writes (READ).
    pub const REMOTE_RW: Access = Access {
        remote_read: true,
        remote_write: true,
    };
}

/// A registered memory region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// The local key (used in our own work requests).
    pub lkey: u32,
    /// The remote key (what a buffer descriptor's Token carries).
    pub rkey: u32,
    /// The address of the first byte, as work requests and descriptors name it.
    pub addr: u64,
    pub len: u64,
}

impl Region {
    /// A piece of this region, for a local work request; `None` if it does not fit.
    pub fn sge(&self, offset: u64, len: u32) -> Option<Sge> {
        let end = offset.checked_add(u64::from(len))?;
        if end > self.len {
            return None;
        }
        Some(Sge {
            lkey: self.lkey,
            addr: self.addr.checked_add(offset)?,
            len,
        })
    }
}

/// A scatter/gather entry: a piece of one of our own registered regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sge {
    pub lkey: u32,
    pub addr: u64,
    pub len: u32,
}

/// One send of a [`QueuePair::post_sends`] batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendWr {
    pub wr_id: WrId,
    pub buf: Sge,
    /// Send-with-invalidate of this rkey of the peer's.
    pub invalidate: Option<u32>,
}

/// A piece of the peer's registered memory (what a buffer descriptor describes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteBuf {
    pub addr: u64,
    pub rkey: u32,
    pub len: u32,
}

/// Which kind of work request completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WcKind {
    Send,
    Recv,
    RdmaRead,
    RdmaWrite,
}

/// How a work request ended (the `ibv_wc_status` values the driver distinguishes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WcStatus {
    Success,
    /// The QP was in (or went to) the error state before the WR was processed.
    WrFlushError,
    /// Our own SGE was not in a registered region of ours, or its key was wrong.
    LocalProtectionError,
    /// A received message did not fit the posted buffer.
    LocalLengthError,
    /// The peer refused an RDMA access: bad rkey, out of bounds, or no permission.
    RemoteAccessError,
    /// The peer could not process the request (e.g. a message longer than its buffer).
    RemoteInvalidRequest,
    /// The peer had no receive posted for our send, for longer than the RNR retries.
    RnrRetryExceeded,
    /// The peer did not answer at all (it vanished): transport retries exhausted.
    RetryExceeded,
    /// Anything else the provider reports (its raw status code).
    Other(u32),
}

impl WcStatus {
    pub fn is_success(self) -> bool {
        self == WcStatus::Success
    }
}

/// One completion queue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    pub wr_id: WrId,
    pub kind: WcKind,
    pub status: WcStatus,
    /// For a successful receive: the bytes received.
    pub byte_len: u32,
    /// For a receive of a send-with-invalidate: the rkey of ours it invalidated.
    pub invalidated_rkey: Option<u32>,
}

/// Connection-level happenings, outside the completion queue (rdma_cm events and
/// asynchronous QP events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QpEvent {
    /// The peer disconnected (RDMA_CM_EVENT_DISCONNECTED).
    Disconnected,
    /// The QP hit a fatal error (IBV_EVENT_QP_FATAL and friends); it is in the error state.
    Fatal,
}

/// A failed verbs call (the call itself, not a work request: those fail by completion).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerbsError {
    #[error("no RDMA devices")]
    NoDevices,
    #[error("{queue} queue full ({depth} work requests)")]
    QueueFull { queue: &'static str, depth: u32 },
    #[error("queue pair is not connected")]
    NotConnected,
    #[error("local buffer is not inside a registered region")]
    BadLocalBuffer,
    #[error("memory region of {len} bytes exceeds the device's max_mr_size {max}")]
    RegionTooLarge { len: u64, max: u64 },
    #[error("{call} failed: {reason}")]
    Provider { call: &'static str, reason: String },
}

/// A connected RC queue pair with its completion queue and its registered memory.
pub trait QueuePair {
    /// The device limits of the device this QP lives on.
    fn device_limits(&self) -> DeviceLimits;
    /// The sizes this QP was created with.
    fn caps(&self) -> QpCaps;
    /// A printable name of the peer, for logs.
    fn peer(&self) -> String;

    /// Registers `mem` in this QP's protection domain; the provider keeps it alive until
    /// the region is deregistered (and whoever else holds it, longer).
    fn register_mem(
        &mut self,
        mem: &std::sync::Arc<RegMem>,
        access: Access,
    ) -> Result<Region, VerbsError>;
    /// Registers `len` bytes of fresh zeroed memory.
    fn register(&mut self, len: u64, access: Access) -> Result<Region, VerbsError> {
        let max = self.device_limits().max_mr_size;
        if len > max {
            return Err(VerbsError::RegionTooLarge { len, max });
        }
        let mem = RegMem::zeroed(len)?;
        self.register_mem(&mem, access)
    }
    /// Releases a region (after every work request using it completed).
    fn deregister(&mut self, region: &Region);
    /// Copies `data` into our registered memory at `at` (which must be as long).
    fn write_local(&mut self, at: Sge, data: &[u8]) -> Result<(), VerbsError>;
    /// Copies our registered memory at `at` into `out` (which must be as long).
    fn read_local(&self, at: Sge, out: &mut [u8]) -> Result<(), VerbsError>;

    /// Posts a receive buffer.
    fn post_recv(&mut self, wr_id: WrId, buf: Sge) -> Result<(), VerbsError>;
    /// Posts a send of `buf`; with `invalidate`, a send-with-invalidate of the peer's rkey.
    fn post_send(
        &mut self,
        wr_id: WrId,
        buf: Sge,
        invalidate: Option<u32>,
    ) -> Result<(), VerbsError>;
    /// Posts several sends in order, in one call where the provider can (one doorbell);
    /// on failure, the count posted before the one that failed, and why.
    fn post_sends(&mut self, sends: &[SendWr]) -> Result<(), (usize, VerbsError)> {
        for (i, s) in sends.iter().enumerate() {
            self.post_send(s.wr_id, s.buf, s.invalidate)
                .map_err(|e| (i, e))?;
        }
        Ok(())
    }
    /// Posts an RDMA read of `remote` into `local` (same length).
    fn rdma_read(&mut self, wr_id: WrId, local: Sge, remote: RemoteBuf) -> Result<(), VerbsError>;
    /// Posts an RDMA write of `local` into `remote` (same length).
    fn rdma_write(&mut self, wr_id: WrId, local: Sge, remote: RemoteBuf) -> Result<(), VerbsError>;

    /// The runtime saw the completion channel signal (its fd readable): the next
    /// [`QueuePair::poll_cq`] takes the event and re-arms. A provider that needs no
    /// re-arming (the emulation) ignores it.
    fn completion_signalled(&mut self) {}
    /// Appends up to `max` completions to `out`; returns how many.
    fn poll_cq(&mut self, out: &mut Vec<Completion>, max: usize) -> Result<usize, VerbsError>;
    /// The next connection-level event.
    fn poll_event(&mut self) -> Option<QpEvent>;
    /// Disconnects: the QP goes to the error state, every outstanding WR completes with
    /// [`WcStatus::WrFlushError`], the peer is told. Idempotent.
    fn disconnect(&mut self);
}

/// An incoming connection, not yet accepted.
pub trait ConnectRequest {
    type Qp: QueuePair;
    fn device_limits(&self) -> DeviceLimits;
    fn peer(&self) -> String;
    /// Creates the QP with `caps` and accepts the connection.
    fn accept(self, caps: QpCaps) -> Result<Self::Qp, VerbsError>;
    /// Refuses the connection.
    fn reject(self);
}

/// Listens for connection requests (rdma_cm on a port, or the emulation).
pub trait Listener {
    type Request: ConnectRequest;
    /// The next connection request, if one is waiting.
    fn poll_request(&mut self) -> Result<Option<Self::Request>, VerbsError>;
}
