//! An in-memory RDMA emulation: two endpoints of a reliable-connected queue pair joined by
//! a shared link, with the semantics the driver has to survive on real hardware.
//!
//! - **Send/receive**: a send consumes the peer's oldest posted receive; with none posted
//!   the sender's WR fails with [`WcStatus::RnrRetryExceeded`] (RC QPs retry, then give
//!   up) and the sender's QP goes to error. A message longer than the receive buffer fails
//!   on both ends.
//! - **RDMA read/write** against the peer's registered regions: the rkey must name a live
//!   region with the right access, and the range must lie inside it; otherwise
//!   [`WcStatus::RemoteAccessError`] and the QP goes to error. Send-with-invalidate
//!   invalidates the named rkey at the receiver (later RDMA on it fails).
//! - **Completions**: exactly one per posted WR; send-queue WRs execute and complete in
//!   posting order. WRs run when their poster calls [`QueuePair::poll_cq`] (so a test can
//!   act between posting and execution, like a network with latency).
//! - **Errors and teardown**: once in error, every outstanding and later WR completes with
//!   [`WcStatus::WrFlushError`]. [`QueuePair::disconnect`] tells the peer
//!   ([`QpEvent::Disconnected`]) and puts it in error too. Dropping an endpoint (or
//!   [`EmuQp::vanish`]) is a peer that disappears without a word: the survivor's next
//!   work requests fail with [`WcStatus::RetryExceeded`].
//! - **Fault injection** ([`Fault`]): fail the Nth work request with a chosen status, make
//!   the peer vanish after N work requests, or a fatal QP error now ([`EmuQp::qp_error`]).
//! - **Limits**: posting beyond the queue depths is refused with
//!   [`VerbsError::QueueFull`]; a completion queue that overflows is a fatal QP error.
//! - **Notification** ([`EmuQp::set_doorbell`]): the stand-in for a completion channel's
//!   fd. An endpoint's doorbell rings when it has work to do: it posted to its send queue
//!   (the WRs run at its next poll), the peer's send queue ran (a receive may have
//!   completed), the peer disconnected, or the QP failed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    Access, Completion, ConnectRequest, DeviceLimits, Listener, QpCaps, QpEvent, QueuePair, RegMem,
    Region, RemoteBuf, SendWr, Sge, VerbsError, WcKind, WcStatus, WrId,
};

/// The largest region the emulation registers (its address layout gives each 4 GiB).
const REGION_SPAN: u64 = 1 << 32;
/// Bit set in every rkey, so that an lkey used as an rkey (a classic bug) fails.
const RKEY_BIT: u32 = 0x8000_0000;

/// A fault to inject into one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The `n`th send-queue work request executed from now on (1-based) fails with
    /// `status`, and the QP goes to error.
    FailNthWr { n: u64, status: WcStatus },
    /// After `n` more send-queue work requests of this endpoint executed, the peer vanishes
    /// (as if its host lost power mid-transfer).
    PeerVanishesAfter { n: u64 },
}

/// What one endpoint did, for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmuStats {
    pub sends: u64,
    pub recvs: u64,
    pub rdma_reads: u64,
    pub rdma_writes: u64,
    pub rdma_read_bytes: u64,
    pub rdma_write_bytes: u64,
    pub errors: u64,
    pub flushed: u64,
    /// Calls that posted sends (one per `post_send`, one per `post_sends` batch): the
    /// doorbells a real provider would ring.
    pub send_posts: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The client side before the listener accepted.
    Connecting,
    Ready,
    Error,
}

#[derive(Debug)]
struct EmuRegion {
    /// The registered memory: the upper layer's (a data pool lends it out) or fresh.
    data: Arc<RegMem>,
    addr: u64,
    access: Access,
    rkey: u32,
    rkey_valid: bool,
}

#[derive(Debug, Clone, Copy)]
enum Wr {
    Send {
        wr_id: WrId,
        sge: Sge,
        invalidate: Option<u32>,
    },
    Read {
        wr_id: WrId,
        local: Sge,
        remote: RemoteBuf,
    },
    Write {
        wr_id: WrId,
        local: Sge,
        remote: RemoteBuf,
    },
}

impl Wr {
    fn wr_id(&self) -> WrId {
        match *self {
            Wr::Send { wr_id, .. } | Wr::Read { wr_id, .. } | Wr::Write { wr_id, .. } => wr_id,
        }
    }

    fn kind(&self) -> WcKind {
        match self {
            Wr::Send { .. } => WcKind::Send,
            Wr::Read { .. } => WcKind::RdmaRead,
            Wr::Write { .. } => WcKind::RdmaWrite,
        }
    }
}

#[derive(Debug)]
struct End {
    limits: DeviceLimits,
    caps: QpCaps,
    state: State,
    disconnected: bool,
    gone: bool,
    regions: Vec<Option<EmuRegion>>,
    recvs: VecDeque<(WrId, Sge)>,
    sq: VecDeque<Wr>,
    /// Send-queue WRs posted whose completion has not been polled yet.
    sq_outstanding: u32,
    cq: VecDeque<Completion>,
    events: VecDeque<QpEvent>,
    executed: u64,
    faults: Vec<(u64, Fault)>,
    stats: EmuStats,
}

impl End {
    fn new(limits: DeviceLimits, caps: QpCaps, state: State) -> Self {
        End {
            limits,
            caps,
            state,
            disconnected: false,
            gone: false,
            regions: Vec::new(),
            recvs: VecDeque::new(),
            sq: VecDeque::new(),
            sq_outstanding: 0,
            cq: VecDeque::new(),
            events: VecDeque::new(),
            executed: 0,
            faults: Vec::new(),
            stats: EmuStats::default(),
        }
    }

    fn region_by_lkey(&mut self, lkey: u32) -> Option<&mut EmuRegion> {
        let index = usize::try_from(lkey & 0x000F_FFFF).ok()?.checked_sub(1)?;
        self.regions.get_mut(index)?.as_mut()
    }

    fn region_by_rkey(&mut self, rkey: u32) -> Option<&mut EmuRegion> {
        if rkey & RKEY_BIT == 0 {
            return None;
        }
        let r = self.region_by_lkey(rkey & !RKEY_BIT)?;
        (r.rkey == rkey).then_some(r)
    }

    /// The bytes of our own region at `sge`, if the SGE is valid.
    fn local(&mut self, sge: Sge) -> Option<&mut [u8]> {
        let r = self.region_by_lkey(sge.lkey)?;
        let start = usize::try_from(sge.addr.checked_sub(r.addr)?).ok()?;
        let len = usize::try_from(sge.len).ok()?;
        // SAFETY: the emulation is the device: it touches only bytes a work request (or a
        // write_local/read_local) names, which their owner does not touch meanwhile (see
        // `verbs::mem`); the slice lives only while the link is locked.
        unsafe { r.data.slice_mut(start, len) }
    }

    /// The bytes of our region the peer names with `remote`, if it may touch them.
    fn remote(&mut self, remote: RemoteBuf, write: bool) -> Option<&mut [u8]> {
        let r = self.region_by_rkey(remote.rkey)?;
        let allowed = if write {
            r.access.remote_write
        } else {
            r.access.remote_read
        };
        if !r.rkey_valid || !allowed {
            return None;
        }
        let start = usize::try_from(remote.addr.checked_sub(r.addr)?).ok()?;
        let len = usize::try_from(remote.len).ok()?;
        // SAFETY: as in `local`: the peer's device touches the bytes the peer registered
        // for it, only while the link is locked.
        unsafe { r.data.slice_mut(start, len) }
    }

    fn push_completion(&mut self, c: Completion) {
        if !c.status.is_success() {
            if c.status == WcStatus::WrFlushError {
                self.stats.flushed = self.stats.flushed.saturating_add(1);
            } else {
                self.stats.errors = self.stats.errors.saturating_add(1);
            }
        }
        self.cq.push_back(c);
        let cap = usize::try_from(self.caps.cqe).unwrap_or(usize::MAX);
        if self.cq.len() > cap && self.state != State::Error {
            // CQ overrun: a fatal, asynchronous error.
            self.events.push_back(QpEvent::Fatal);
            self.fail();
        }
    }

    fn complete(&mut self, wr_id: WrId, kind: WcKind, status: WcStatus, byte_len: u32) {
        self.push_completion(Completion {
            wr_id,
            kind,
            status,
            byte_len,
            invalidated_rkey: None,
        });
        if !status.is_success() {
            self.fail();
        }
    }

    /// The QP goes to the error state: everything outstanding is flushed.
    fn fail(&mut self) {
        if self.state == State::Error {
            return;
        }
        self.state = State::Error;
        while let Some(wr) = self.sq.pop_front() {
            self.complete_flush(wr.wr_id(), wr.kind());
        }
        while let Some((wr_id, _)) = self.recvs.pop_front() {
            self.complete_flush(wr_id, WcKind::Recv);
        }
    }

    fn complete_flush(&mut self, wr_id: WrId, kind: WcKind) {
        self.push_completion(Completion {
            wr_id,
            kind,
            status: WcStatus::WrFlushError,
            byte_len: 0,
            invalidated_rkey: None,
        });
    }
}

/// What an endpoint's owner is called with when the endpoint has something to poll.
pub type Doorbell = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Bells([Option<Doorbell>; 2]);

impl std::fmt::Debug for Bells {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(Option::is_some))
            .finish()
    }
}

#[derive(Debug)]
struct Link {
    ends: [End; 2],
    bells: Bells,
}

impl Link {
    /// The doorbell of endpoint `who`, to ring once the lock is released.
    fn bell(&self, who: usize) -> Option<Doorbell> {
        self.bells.0.get(who).cloned().flatten()
    }

    fn pair(&mut self, me: usize) -> Option<(&mut End, &mut End)> {
        let [a, b] = &mut self.ends;
        match me {
            0 => Some((a, b)),
            1 => Some((b, a)),
            _ => None,
        }
    }

    /// Executes the send queue of `me`, in order.
    fn run(&mut self, me: usize) {
        let Some((end, peer)) = self.pair(me) else {
            return;
        };
        loop {
            if end.state != State::Ready || end.gone {
                // A vanished endpoint does nothing at all any more.
                return;
            }
            let Some(wr) = end.sq.pop_front() else {
                return;
            };
            end.executed = end.executed.saturating_add(1);
            let n = end.executed;
            let mut injected = None;
            for (start, fault) in &end.faults {
                match *fault {
                    Fault::FailNthWr { n: nth, status } if n == start.saturating_add(nth) => {
                        injected = Some(status);
                    }
                    Fault::PeerVanishesAfter { n: after } if n > start.saturating_add(after) => {
                        peer.gone = true;
                    }
                    _ => {}
                }
            }
            if let Some(status) = injected {
                end.complete(wr.wr_id(), wr.kind(), status, 0);
                continue;
            }
            if peer.gone || peer.state != State::Ready {
                // Nobody answers: the transport retries run out.
                end.complete(wr.wr_id(), wr.kind(), WcStatus::RetryExceeded, 0);
                continue;
            }
            execute(end, peer, wr);
        }
    }
}

fn execute(end: &mut End, peer: &mut End, wr: Wr) {
    match wr {
        Wr::Send {
            wr_id,
            sge,
            invalidate,
        } => {
            let Some(bytes) = end.local(sge).map(|b| b.to_vec()) else {
                return end.complete(wr_id, WcKind::Send, WcStatus::LocalProtectionError, 0);
            };
            let Some((recv_id, recv_sge)) = peer.recvs.pop_front() else {
                return end.complete(wr_id, WcKind::Send, WcStatus::RnrRetryExceeded, 0);
            };
            let byte_len = sge.len;
            let Some(target) = peer.local(recv_sge).and_then(|b| b.get_mut(..bytes.len())) else {
                peer.complete(recv_id, WcKind::Recv, WcStatus::LocalLengthError, 0);
                return end.complete(wr_id, WcKind::Send, WcStatus::RemoteInvalidRequest, 0);
            };
            target.copy_from_slice(&bytes);
            let mut invalidated_rkey = None;
            if let Some(rkey) = invalidate {
                let Some(r) = peer.region_by_rkey(rkey) else {
                    peer.complete(recv_id, WcKind::Recv, WcStatus::LocalProtectionError, 0);
                    return end.complete(wr_id, WcKind::Send, WcStatus::RemoteInvalidRequest, 0);
                };
                r.rkey_valid = false;
                invalidated_rkey = Some(rkey);
            }
            peer.stats.recvs = peer.stats.recvs.saturating_add(1);
            peer.push_completion(Completion {
                wr_id: recv_id,
                kind: WcKind::Recv,
                status: WcStatus::Success,
                byte_len,
                invalidated_rkey,
            });
            end.stats.sends = end.stats.sends.saturating_add(1);
            end.complete(wr_id, WcKind::Send, WcStatus::Success, 0);
        }
        Wr::Read {
            wr_id,
            local,
            remote,
        } => {
            if local.len != remote.len {
                return end.complete(wr_id, WcKind::RdmaRead, WcStatus::LocalLengthError, 0);
            }
            let Some(src) = peer.remote(remote, false).map(|b| b.to_vec()) else {
                return end.complete(wr_id, WcKind::RdmaRead, WcStatus::RemoteAccessError, 0);
            };
            let Some(dst) = end.local(local) else {
                return end.complete(wr_id, WcKind::RdmaRead, WcStatus::LocalProtectionError, 0);
            };
            dst.copy_from_slice(&src);
            end.stats.rdma_reads = end.stats.rdma_reads.saturating_add(1);
            end.stats.rdma_read_bytes = end
                .stats
                .rdma_read_bytes
                .saturating_add(u64::from(local.len));
            end.complete(wr_id, WcKind::RdmaRead, WcStatus::Success, local.len);
        }
        Wr::Write {
            wr_id,
            local,
            remote,
        } => {
            if local.len != remote.len {
                return end.complete(wr_id, WcKind::RdmaWrite, WcStatus::LocalLengthError, 0);
            }
            let Some(src) = end.local(local).map(|b| b.to_vec()) else {
                return end.complete(wr_id, WcKind::RdmaWrite, WcStatus::LocalProtectionError, 0);
            };
            let Some(dst) = peer.remote(remote, true) else {
                return end.complete(wr_id, WcKind::RdmaWrite, WcStatus::RemoteAccessError, 0);
            };
            dst.copy_from_slice(&src);
            end.stats.rdma_writes = end.stats.rdma_writes.saturating_add(1);
            end.stats.rdma_write_bytes = end
                .stats
                .rdma_write_bytes
                .saturating_add(u64::from(local.len));
            end.complete(wr_id, WcKind::RdmaWrite, WcStatus::Success, local.len);
        }
    }
}

fn lock(link: &Mutex<Link>) -> MutexGuard<'_, Link> {
    // A test that panicked while holding the lock leaves consistent enough state.
    link.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Fault injection into one endpoint, usable from any thread (see [`EmuQp::faults`]).
#[derive(Debug, Clone)]
pub struct EmuFaults {
    link: Arc<Mutex<Link>>,
    me: usize,
}

impl EmuFaults {
    /// Injects a fault into the endpoint (counted from now).
    pub fn inject(&self, fault: Fault) {
        let mut link = lock(&self.link);
        if let Some(e) = link.ends.get_mut(self.me) {
            e.faults.push((e.executed, fault));
        }
    }

    /// A fatal QP error now (IBV_EVENT_QP_FATAL): everything outstanding is flushed, and
    /// the endpoint's owner is woken to find out.
    pub fn qp_error(&self) {
        let mut link = lock(&self.link);
        if let Some(e) = link.ends.get_mut(self.me) {
            e.events.push_back(QpEvent::Fatal);
            e.fail();
        }
        let bell = link.bell(self.me);
        drop(link);
        ring(bell);
    }
}

/// One endpoint of an emulated RC connection.
#[derive(Debug)]
pub struct EmuQp {
    link: Arc<Mutex<Link>>,
    me: usize,
    name: String,
}

impl EmuQp {
    fn with_end<R>(&self, f: impl FnOnce(&mut End) -> R) -> Option<R> {
        let mut link = lock(&self.link);
        link.ends.get_mut(self.me).map(f)
    }

    /// Injects a fault into this endpoint (counted from now).
    pub fn inject(&self, fault: Fault) {
        self.faults().inject(fault);
    }

    /// A fatal QP error now (IBV_EVENT_QP_FATAL): everything outstanding is flushed.
    pub fn qp_error(&self) {
        self.faults().qp_error();
    }

    /// A handle that injects faults into this endpoint after the QP itself moved out of
    /// reach (into a driver, onto another thread).
    pub fn faults(&self) -> EmuFaults {
        EmuFaults {
            link: Arc::clone(&self.link),
            me: self.me,
        }
    }

    /// Calls `bell` (from any thread, without the emulation's lock held) whenever this
    /// endpoint has something to poll; see the module notes.
    pub fn set_doorbell(&self, bell: Doorbell) {
        let mut link = lock(&self.link);
        if let Some(slot) = link.bells.0.get_mut(self.me) {
            *slot = Some(bell);
        }
    }

    fn bell_of(&self, who: usize) -> Option<Doorbell> {
        lock(&self.link).bell(who)
    }

    /// This endpoint disappears without a word (its host died).
    pub fn vanish(&self) {
        self.with_end(|e| e.gone = true);
    }

    /// Whether `rkey` (one of ours) still grants remote access.
    pub fn rkey_valid(&self, rkey: u32) -> bool {
        self.with_end(|e| e.region_by_rkey(rkey).is_some_and(|r| r.rkey_valid))
            .unwrap_or(false)
    }

    /// Receives posted and not yet consumed.
    pub fn recvs_posted(&self) -> usize {
        self.with_end(|e| e.recvs.len()).unwrap_or(0)
    }

    /// Bytes of all regions registered and not deregistered.
    pub fn registered_bytes(&self) -> u64 {
        self.with_end(|e| {
            e.regions
                .iter()
                .flatten()
                .map(|r| r.data.len() as u64)
                .sum()
        })
        .unwrap_or(0)
    }

    /// Regions registered and not deregistered.
    pub fn regions_registered(&self) -> usize {
        self.with_end(|e| e.regions.iter().flatten().count())
            .unwrap_or(0)
    }

    pub fn stats(&self) -> EmuStats {
        self.with_end(|e| e.stats).unwrap_or_default()
    }

    /// Whether the QP is in the error state.
    pub fn in_error(&self) -> bool {
        self.with_end(|e| e.state == State::Error).unwrap_or(true)
    }
}

impl Drop for EmuQp {
    fn drop(&mut self) {
        // Without a disconnect first, this is a peer that vanished.
        self.with_end(|e| e.gone = true);
    }
}

impl QueuePair for EmuQp {
    fn device_limits(&self) -> DeviceLimits {
        self.with_end(|e| e.limits).unwrap_or_default()
    }

    fn caps(&self) -> QpCaps {
        self.with_end(|e| e.caps).unwrap_or(QpCaps {
            send_wr: 0,
            recv_wr: 0,
            cqe: 0,
            send_sge: 0,
            rd_atom: 0,
        })
    }

    fn peer(&self) -> String {
        self.name.clone()
    }

    fn register_mem(&mut self, mem: &Arc<RegMem>, access: Access) -> Result<Region, VerbsError> {
        let me = u32::try_from(self.me).unwrap_or(0).saturating_add(1);
        let len = mem.len() as u64;
        self.with_end(|e| {
            let max = e.limits.max_mr_size.min(REGION_SPAN);
            if len > max {
                return Err(VerbsError::RegionTooLarge { len, max });
            }
            let index = u32::try_from(e.regions.len())
                .ok()
                .filter(|i| *i < 0x000F_FFFF)
                .ok_or(VerbsError::Provider {
                    call: "ibv_reg_mr",
                    reason: "too many regions".into(),
                })?;
            let lkey = (me << 20) | index.saturating_add(1);
            let addr = (u64::from(me) << 48) | (u64::from(index).saturating_add(1) << 32);
            let rkey = lkey | RKEY_BIT;
            e.regions.push(Some(EmuRegion {
                data: Arc::clone(mem),
                addr,
                access,
                rkey,
                rkey_valid: true,
            }));
            Ok(Region {
                lkey,
                rkey,
                addr,
                len,
            })
        })
        .unwrap_or(Err(VerbsError::NotConnected))
    }

    fn deregister(&mut self, region: &Region) {
        self.with_end(|e| {
            let slot = usize::try_from(region.lkey & 0x000F_FFFF)
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| e.regions.get_mut(i));
            if let Some(slot) = slot {
                *slot = None;
            }
        });
    }

    fn write_local(&mut self, at: Sge, data: &[u8]) -> Result<(), VerbsError> {
        self.with_end(|e| {
            let dst = e.local(at).ok_or(VerbsError::BadLocalBuffer)?;
            if dst.len() != data.len() {
                return Err(VerbsError::BadLocalBuffer);
            }
            dst.copy_from_slice(data);
            Ok(())
        })
        .unwrap_or(Err(VerbsError::NotConnected))
    }

    fn read_local(&self, at: Sge, out: &mut [u8]) -> Result<(), VerbsError> {
        self.with_end(|e| {
            let src = e.local(at).ok_or(VerbsError::BadLocalBuffer)?;
            if src.len() != out.len() {
                return Err(VerbsError::BadLocalBuffer);
            }
            out.copy_from_slice(src);
            Ok(())
        })
        .unwrap_or(Err(VerbsError::NotConnected))
    }

    fn post_recv(&mut self, wr_id: WrId, buf: Sge) -> Result<(), VerbsError> {
        self.with_end(|e| {
            if e.recvs.len() >= usize::try_from(e.caps.recv_wr).unwrap_or(usize::MAX) {
                return Err(VerbsError::QueueFull {
                    queue: "receive",
                    depth: e.caps.recv_wr,
                });
            }
            if e.state == State::Error {
                e.complete_flush(wr_id, WcKind::Recv);
            } else {
                e.recvs.push_back((wr_id, buf));
            }
            Ok(())
        })
        .unwrap_or(Err(VerbsError::NotConnected))
    }

    fn post_send(
        &mut self,
        wr_id: WrId,
        buf: Sge,
        invalidate: Option<u32>,
    ) -> Result<(), VerbsError> {
        self.with_end(|e| e.stats.send_posts = e.stats.send_posts.saturating_add(1));
        self.post_sq(Wr::Send {
            wr_id,
            sge: buf,
            invalidate,
        })
    }

    fn post_sends(&mut self, sends: &[SendWr]) -> Result<(), (usize, VerbsError)> {
        if sends.is_empty() {
            return Ok(());
        }
        self.with_end(|e| e.stats.send_posts = e.stats.send_posts.saturating_add(1));
        for (i, s) in sends.iter().enumerate() {
            let res = self.post_sq_locked(Wr::Send {
                wr_id: s.wr_id,
                sge: s.buf,
                invalidate: s.invalidate,
            });
            if let Err(e) = res {
                if i > 0 {
                    ring(self.bell_of(self.me));
                }
                return Err((i, e));
            }
        }
        ring(self.bell_of(self.me));
        Ok(())
    }

    fn rdma_read(&mut self, wr_id: WrId, local: Sge, remote: RemoteBuf) -> Result<(), VerbsError> {
        self.post_sq(Wr::Read {
            wr_id,
            local,
            remote,
        })
    }

    fn rdma_write(&mut self, wr_id: WrId, local: Sge, remote: RemoteBuf) -> Result<(), VerbsError> {
        self.post_sq(Wr::Write {
            wr_id,
            local,
            remote,
        })
    }

    fn poll_cq(&mut self, out: &mut Vec<Completion>, max: usize) -> Result<usize, VerbsError> {
        let mut link = lock(&self.link);
        let before = link.ends.get(self.me).map_or(0, |e| e.executed);
        link.run(self.me);
        let ran = link.ends.get(self.me).map_or(0, |e| e.executed) != before;
        let peer_bell = if ran { link.bell(1 - self.me) } else { None };
        let Some(end) = link.ends.get_mut(self.me) else {
            return Err(VerbsError::NotConnected);
        };
        let mut n = 0;
        while n < max {
            let Some(c) = end.cq.pop_front() else { break };
            if c.kind != WcKind::Recv {
                end.sq_outstanding = end.sq_outstanding.saturating_sub(1);
            }
            out.push(c);
            n += 1;
        }
        let more = !end.cq.is_empty();
        let own_bell = if more { link.bell(self.me) } else { None };
        drop(link);
        ring(peer_bell);
        ring(own_bell);
        Ok(n)
    }

    fn poll_event(&mut self) -> Option<QpEvent> {
        self.with_end(|e| e.events.pop_front()).flatten()
    }

    fn disconnect(&mut self) {
        let mut link = lock(&self.link);
        let Some((end, peer)) = link.pair(self.me) else {
            return;
        };
        if end.disconnected {
            return;
        }
        end.disconnected = true;
        end.fail();
        let told = !peer.gone && !peer.disconnected;
        if told {
            peer.events.push_back(QpEvent::Disconnected);
            peer.fail();
        }
        let bells = (
            link.bell(self.me),
            told.then(|| link.bell(1 - self.me)).flatten(),
        );
        drop(link);
        ring(bells.0);
        ring(bells.1);
    }
}

fn ring(bell: Option<Doorbell>) {
    if let Some(b) = bell {
        b();
    }
}

impl EmuQp {
    fn post_sq(&mut self, wr: Wr) -> Result<(), VerbsError> {
        let res = self.post_sq_locked(wr);
        if res.is_ok() {
            // The WR runs at this endpoint's next poll: tell its owner to poll.
            ring(self.bell_of(self.me));
        }
        res
    }

    fn post_sq_locked(&mut self, wr: Wr) -> Result<(), VerbsError> {
        self.with_end(|e| {
            if e.sq_outstanding >= e.caps.send_wr {
                return Err(VerbsError::QueueFull {
                    queue: "send",
                    depth: e.caps.send_wr,
                });
            }
            e.sq_outstanding = e.sq_outstanding.saturating_add(1);
            if e.state == State::Error {
                e.complete_flush(wr.wr_id(), wr.kind());
            } else {
                e.sq.push_back(wr);
            }
            Ok(())
        })
        .unwrap_or(Err(VerbsError::NotConnected))
    }
}

/// A connection request waiting at an [`EmuListener`].
#[derive(Debug)]
pub struct EmuRequest {
    link: Arc<Mutex<Link>>,
    peer: String,
}

impl ConnectRequest for EmuRequest {
    type Qp = EmuQp;

    fn device_limits(&self) -> DeviceLimits {
        let link = lock(&self.link);
        link.ends.get(1).map(|e| e.limits).unwrap_or_default()
    }

    fn peer(&self) -> String {
        self.peer.clone()
    }

    fn accept(self, caps: QpCaps) -> Result<EmuQp, VerbsError> {
        {
            let mut link = lock(&self.link);
            let Some((client, server)) = link.pair(0) else {
                return Err(VerbsError::NotConnected);
            };
            if client.gone || client.state != State::Connecting {
                return Err(VerbsError::NotConnected);
            }
            let l = server.limits;
            if caps.send_wr > l.max_qp_wr
                || caps.recv_wr > l.max_qp_wr
                || caps.cqe > l.max_cqe
                || caps.send_sge > l.max_send_sge
                || caps.rd_atom > l.max_qp_rd_atom
            {
                return Err(VerbsError::Provider {
                    call: "rdma_create_qp",
                    reason: format!("{caps:?} exceed the device limits {l:?}"),
                });
            }
            server.caps = caps;
            server.state = State::Ready;
            client.state = State::Ready;
        }
        // The client's early work requests may run now.
        ring(lock(&self.link).bell(0));
        Ok(EmuQp {
            link: self.link,
            me: 1,
            name: self.peer,
        })
    }

    fn reject(self) {
        let mut link = lock(&self.link);
        if let Some(client) = link.ends.get_mut(0) {
            client.events.push_back(QpEvent::Disconnected);
            client.fail();
        }
        let bell = link.bell(0);
        drop(link);
        ring(bell);
    }
}

/// The listening side of the emulation; [`EmuListener::connect`] plays the client.
#[derive(Debug)]
pub struct EmuListener {
    limits: DeviceLimits,
    pending: VecDeque<EmuRequest>,
    connections: u64,
}

impl EmuListener {
    /// A listener on a device with `limits`.
    pub fn new(limits: DeviceLimits) -> Self {
        EmuListener {
            limits,
            pending: VecDeque::new(),
            connections: 0,
        }
    }

    /// A client connects with a QP of `caps`; the returned QP is usable once the listener
    /// side accepted (work requests posted before wait in the send queue).
    pub fn connect(&mut self, caps: QpCaps) -> EmuQp {
        self.connections = self.connections.saturating_add(1);
        let name = format!("emu-client-{}", self.connections);
        let unaccepted = QpCaps {
            send_wr: 0,
            recv_wr: 0,
            cqe: 0,
            send_sge: 0,
            rd_atom: 0,
        };
        let link = Arc::new(Mutex::new(Link {
            bells: Bells::default(),
            ends: [
                End::new(self.limits, caps, State::Connecting),
                End::new(self.limits, unaccepted, State::Connecting),
            ],
        }));
        self.pending.push_back(EmuRequest {
            link: Arc::clone(&link),
            peer: name.clone(),
        });
        EmuQp {
            link,
            me: 0,
            name: "emu-server".into(),
        }
    }
}

impl Listener for EmuListener {
    type Request = EmuRequest;

    fn poll_request(&mut self) -> Result<Option<EmuRequest>, VerbsError> {
        Ok(self.pending.pop_front())
    }
}
