//! The real verbs provider: rdma_cm for connections, libibverbs for queue pairs, memory
//! registration and completions, through `rdma-sys`. The only code in the project that
//! names rdma-sys; every `unsafe` block says why it is sound.
//!
//! ```text
//! devices()                      ibv_get_device_list + ibv_query_device: names, transports,
//!                                limits; an empty list (not an error) on a host without RDMA
//! RdmaListener::bind(addr)       rdma_create_event_channel, rdma_create_id(RDMA_PS_TCP),
//!                                rdma_bind_addr, rdma_listen; its fd is non-blocking
//! Listener::poll_request         RDMA_CM_EVENT_CONNECT_REQUEST -> RdmaRequest (device limits
//!                                from ibv_query_device on the request's device)
//! ConnectRequest::accept(caps)   PD, completion channel, one CQ, RC QP sized by `caps`,
//!                                rdma_accept, then the id moves to its own event channel
//! RdmaQp                         ibv_reg_mr, ibv_post_send/recv, ibv_poll_cq, rdma_disconnect
//! ```
//!
//! The server's runtime waits on [`RdmaListener::fd`], [`RdmaQp::completion_fd`] and
//! [`RdmaQp::cm_fd`] (all non-blocking) and calls the driver when one is readable.
//! Not tested on this project's CI hosts (they have no RDMA device); the emulation in
//! [`super::emu`] carries the tests, and the soft-RoCE guest the end-to-end run.

use std::collections::HashMap;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::raw::{c_int, c_void};
use std::ptr;
use std::sync::Arc;

use rdma_sys as sys;

use super::{
    Access, Completion, ConnectRequest, DeviceLimits, Listener, QpCaps, QpEvent, QueuePair, RegMem,
    Region, RemoteBuf, SendWr, Sge, VerbsError, WcKind, WcStatus, WrId,
};

/// SMB Direct's port on InfiniBand and RoCE (their port space is separate from TCP's).
pub const PORT_IB_ROCE: u16 = 445;
/// SMB Direct's port on iWARP (which shares the TCP port space with SMB over TCP).
pub const PORT_IWARP: u16 = 5445;

/// How a device carries RDMA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// InfiniBand or RoCE (libibverbs reports both as IB).
    InfinibandOrRoce,
    Iwarp,
    Other(i32),
}

impl Transport {
    /// The port SMB Direct listens on for this transport.
    pub fn smb_direct_port(self) -> u16 {
        match self {
            Transport::Iwarp => PORT_IWARP,
            _ => PORT_IB_ROCE,
        }
    }
}

/// One RDMA device of this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The device name (`mlx4_0`, `rxe0`, ...).
    pub name: String,
    pub transport: Transport,
    pub limits: DeviceLimits,
}

fn errno_error(call: &'static str) -> VerbsError {
    VerbsError::Provider {
        call,
        reason: std::io::Error::last_os_error().to_string(),
    }
}

fn code_error(call: &'static str, code: c_int) -> VerbsError {
    VerbsError::Provider {
        call,
        reason: std::io::Error::from_raw_os_error(code).to_string(),
    }
}

fn to_u32(v: c_int) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn limits_of(attr: &sys::ibv_device_attr) -> DeviceLimits {
    DeviceLimits {
        max_qp_wr: to_u32(attr.max_qp_wr),
        max_cqe: to_u32(attr.max_cqe),
        max_send_sge: to_u32(attr.max_sge),
        // What we may issue (ORD) is bounded by the initiator depth; what we accept by the
        // responder resources. The driver uses one number for both: the smaller.
        max_qp_rd_atom: to_u32(attr.max_qp_rd_atom).min(to_u32(attr.max_qp_init_rd_atom)),
        max_mr_size: attr.max_mr_size,
    }
}

/// `ibv_query_device` on an open context.
fn query_device(ctx: *mut sys::ibv_context) -> Result<DeviceLimits, VerbsError> {
    if ctx.is_null() {
        return Err(VerbsError::NotConnected);
    }
    // SAFETY: ibv_device_attr is a plain C struct of integers and arrays; all-zero is a
    // valid value.
    let mut attr: sys::ibv_device_attr = unsafe { std::mem::zeroed() };
    // SAFETY: ctx is a live context (checked non-null; owned by the caller for the call's
    // duration) and attr is a valid, writable ibv_device_attr.
    let rc = unsafe { sys::ibv_query_device(ctx, &mut attr) };
    if rc != 0 {
        return Err(code_error("ibv_query_device", rc));
    }
    Ok(limits_of(&attr))
}

/// The RDMA devices of this host with their limits. A host without any (no hardware, or
/// no kernel support) gives an empty list, not an error.
pub fn devices() -> Result<Vec<DeviceInfo>, VerbsError> {
    let mut n: c_int = 0;
    // SAFETY: n is a valid out-pointer; the returned list is freed below.
    let list = unsafe { sys::ibv_get_device_list(&mut n) };
    if list.is_null() {
        // ENOSYS (no kernel support) or no devices at all: nothing to offer.
        return Ok(Vec::new());
    }
    let count = usize::try_from(n).unwrap_or(0);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        // SAFETY: the list holds `n` device pointers followed by a NULL; i < n.
        let dev = unsafe { *list.add(i) };
        if dev.is_null() {
            break;
        }
        // SAFETY: dev is a live device from the list; the name is a NUL-terminated
        // string owned by the device, copied out before the list is freed.
        let name = unsafe { CStr::from_ptr(sys::ibv_get_device_name(dev)) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: dev is a live ibv_device (the list is not freed yet).
        let transport = match unsafe { (*dev).transport_type } {
            sys::ibv_transport_type::IBV_TRANSPORT_IB => Transport::InfinibandOrRoce,
            sys::ibv_transport_type::IBV_TRANSPORT_IWARP => Transport::Iwarp,
            other => Transport::Other(other),
        };
        // SAFETY: dev is a live device; the context is closed right after the query.
        let ctx = unsafe { sys::ibv_open_device(dev) };
        if ctx.is_null() {
            continue; // e.g. no permission on its uverbs node: not usable by us
        }
        let limits = query_device(ctx);
        // SAFETY: ctx was opened above and nothing else uses it.
        unsafe { sys::ibv_close_device(ctx) };
        if let Ok(limits) = limits {
            out.push(DeviceInfo {
                name,
                transport,
                limits,
            });
        }
    }
    // SAFETY: list came from ibv_get_device_list and is freed exactly once.
    unsafe { sys::ibv_free_device_list(list) };
    Ok(out)
}

fn set_nonblocking(fd: c_int, call: &'static str) -> Result<(), VerbsError> {
    // SAFETY: fcntl on an fd we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(errno_error(call));
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(errno_error(call));
    }
    Ok(())
}

/// An rdma_cm event channel (closed on drop).
#[derive(Debug)]
struct EventChannel(*mut sys::rdma_event_channel);

impl EventChannel {
    fn new() -> Result<Self, VerbsError> {
        // SAFETY: no arguments; a NULL result is checked.
        let ch = unsafe { sys::rdma_create_event_channel() };
        if ch.is_null() {
            return Err(errno_error("rdma_create_event_channel"));
        }
        let ch = EventChannel(ch);
        set_nonblocking(ch.fd(), "fcntl(rdma event channel)")?;
        Ok(ch)
    }

    fn fd(&self) -> c_int {
        // SAFETY: self.0 is a live channel (non-null, owned by self).
        unsafe { (*self.0).fd }
    }

    /// The next event, copied out and acknowledged; `None` when none is waiting.
    fn next(&self) -> Result<Option<CmEvent>, VerbsError> {
        let mut ev: *mut sys::rdma_cm_event = ptr::null_mut();
        // SAFETY: the channel is live and non-blocking; ev is a valid out-pointer.
        let rc = unsafe { sys::rdma_get_cm_event(self.0, &mut ev) };
        if rc != 0 || ev.is_null() {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            return Err(VerbsError::Provider {
                call: "rdma_get_cm_event",
                reason: err.to_string(),
            });
        }
        // SAFETY: ev is a live event until acked below; for connect requests on an RC id
        // the `conn` member of the param union is the one rdma_cm filled in.
        let copy = unsafe {
            CmEvent {
                kind: (*ev).event,
                id: (*ev).id,
                initiator_depth: (*ev).param.conn.initiator_depth,
                responder_resources: (*ev).param.conn.responder_resources,
            }
        };
        // SAFETY: ev came from rdma_get_cm_event and is acked exactly once.
        unsafe { sys::rdma_ack_cm_event(ev) };
        Ok(Some(copy))
    }
}

impl Drop for EventChannel {
    fn drop(&mut self) {
        // SAFETY: self.0 is live and every id using it was destroyed or migrated first
        // (the owners' Drop impls run before this one's).
        unsafe { sys::rdma_destroy_event_channel(self.0) };
    }
}

#[derive(Debug, Clone, Copy)]
struct CmEvent {
    kind: sys::rdma_cm_event_type::Type,
    id: *mut sys::rdma_cm_id,
    initiator_depth: u8,
    responder_resources: u8,
}

fn sockaddr_of(addr: SocketAddr) -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain data; all-zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { ptr::write(ptr::addr_of_mut!(storage).cast::<libc::sockaddr_in>(), sin) };
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe {
                ptr::write(
                    ptr::addr_of_mut!(storage).cast::<libc::sockaddr_in6>(),
                    sin6,
                )
            };
        }
    }
    storage
}

/// The peer's address of a connected or connecting id, for logs.
fn peer_of(id: *mut sys::rdma_cm_id) -> String {
    if id.is_null() {
        return "?".into();
    }
    // SAFETY: id is a live cm id; the destination address union is filled in for
    // connection requests, and sockaddr_storage is plain data big enough for any family.
    let storage: libc::sockaddr_storage = unsafe { (*id).route.addr.dst_addr_union.dst_storage };
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin: libc::sockaddr_in =
                unsafe { ptr::read(ptr::addr_of!(storage).cast::<libc::sockaddr_in>()) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            SocketAddr::new(IpAddr::V4(ip), u16::from_be(sin.sin_port)).to_string()
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6: libc::sockaddr_in6 =
                unsafe { ptr::read(ptr::addr_of!(storage).cast::<libc::sockaddr_in6>()) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            SocketAddr::new(IpAddr::V6(ip), u16::from_be(sin6.sin6_port)).to_string()
        }
        other => format!("address family {other}"),
    }
}

/// An rdma_cm listener on one address and port.
#[derive(Debug)]
pub struct RdmaListener {
    id: *mut sys::rdma_cm_id,
    // Dropped after `id` is destroyed (see Drop).
    channel: EventChannel,
}

impl RdmaListener {
    /// Listens on `addr` (e.g. `0.0.0.0:445` for IB/RoCE, `:5445` for iWARP). Fails with
    /// [`VerbsError::NoDevices`] on a host without RDMA devices.
    pub fn bind(addr: SocketAddr, backlog: i32) -> Result<Self, VerbsError> {
        if devices()?.is_empty() {
            return Err(VerbsError::NoDevices);
        }
        let channel = EventChannel::new()?;
        let mut id: *mut sys::rdma_cm_id = ptr::null_mut();
        // SAFETY: the channel is live; id is a valid out-pointer; RC connections use the
        // TCP port space.
        let rc = unsafe {
            sys::rdma_create_id(
                channel.0,
                &mut id,
                ptr::null_mut(),
                sys::rdma_port_space::RDMA_PS_TCP,
            )
        };
        if rc != 0 || id.is_null() {
            return Err(errno_error("rdma_create_id"));
        }
        let listener = RdmaListener { id, channel };
        let mut storage = sockaddr_of(addr);
        // SAFETY: id is live; storage holds a sockaddr of the right family and outlives
        // the call (rdma_bind_addr copies it).
        let rc = unsafe {
            sys::rdma_bind_addr(
                listener.id,
                ptr::addr_of_mut!(storage).cast::<libc::sockaddr>(),
            )
        };
        if rc != 0 {
            return Err(errno_error("rdma_bind_addr"));
        }
        // SAFETY: id is live and bound.
        if unsafe { sys::rdma_listen(listener.id, backlog) } != 0 {
            return Err(errno_error("rdma_listen"));
        }
        Ok(listener)
    }

    /// The event channel's fd (non-blocking): readable when a request may be waiting.
    pub fn fd(&self) -> c_int {
        self.channel.fd()
    }
}

impl Drop for RdmaListener {
    fn drop(&mut self) {
        // SAFETY: id is live, owned by self, and every event for it was acked (events are
        // acked as soon as they are read). The channel is dropped after this.
        unsafe { sys::rdma_destroy_id(self.id) };
    }
}

impl Listener for RdmaListener {
    type Request = RdmaRequest;

    fn poll_request(&mut self) -> Result<Option<RdmaRequest>, VerbsError> {
        while let Some(ev) = self.channel.next()? {
            if ev.kind != sys::rdma_cm_event_type::RDMA_CM_EVENT_CONNECT_REQUEST || ev.id.is_null()
            {
                continue; // nothing else concerns a listening id
            }
            // SAFETY: a connect request's id is live and carries the device it came in on.
            let ctx = unsafe { (*ev.id).verbs };
            let limits = match query_device(ctx) {
                Ok(l) => l,
                Err(e) => {
                    // SAFETY: ev.id is a live, unaccepted request id that we own now.
                    unsafe {
                        sys::rdma_reject(ev.id, ptr::null(), 0);
                        sys::rdma_destroy_id(ev.id);
                    }
                    return Err(e);
                }
            };
            return Ok(Some(RdmaRequest {
                id: ev.id,
                limits,
                peer: peer_of(ev.id),
                may_initiate: ev.initiator_depth,
                may_answer: ev.responder_resources,
            }));
        }
        Ok(None)
    }
}

/// An incoming connection not yet accepted or rejected (rejected when dropped).
#[derive(Debug)]
pub struct RdmaRequest {
    id: *mut sys::rdma_cm_id,
    limits: DeviceLimits,
    peer: String,
    /// The connect request's `initiator_depth`: rdma_cm states the peer's offer from our
    /// side, so this is how many RDMA reads we may have outstanding (the peer's responder
    /// resources; the Linux client offers 32). 0: not stated.
    may_initiate: u8,
    /// Its `responder_resources`: how many RDMA reads the peer will issue to us (its
    /// initiator depth; 0 from SMB clients, which never read server memory).
    may_answer: u8,
}

impl RdmaRequest {
    /// Takes the id out, so Drop does not reject it.
    fn take_id(&mut self) -> *mut sys::rdma_cm_id {
        std::mem::replace(&mut self.id, ptr::null_mut())
    }
}

impl Drop for RdmaRequest {
    fn drop(&mut self) {
        let id = self.take_id();
        if !id.is_null() {
            // SAFETY: id is a live request id nobody else owns.
            unsafe {
                sys::rdma_reject(id, ptr::null(), 0);
                sys::rdma_destroy_id(id);
            }
        }
    }
}

impl ConnectRequest for RdmaRequest {
    type Qp = RdmaQp;

    /// The device's limits, with the reads we may issue bounded by what the peer answers
    /// (so the driver never posts more RDMA reads than the connection allows).
    fn device_limits(&self) -> DeviceLimits {
        let mut l = self.limits;
        if self.may_initiate != 0 {
            l.max_qp_rd_atom = l.max_qp_rd_atom.min(u32::from(self.may_initiate));
        }
        l
    }

    fn peer(&self) -> String {
        self.peer.clone()
    }

    fn accept(mut self, caps: QpCaps) -> Result<RdmaQp, VerbsError> {
        let id = self.take_id();
        // From here `qp` owns the id; its Drop releases whatever was created so far.
        let mut qp = RdmaQp {
            id,
            pd: ptr::null_mut(),
            comp: ptr::null_mut(),
            cq: ptr::null_mut(),
            qp_created: false,
            accepted: false,
            channel: None,
            regions: HashMap::new(),
            kinds: HashMap::new(),
            caps,
            limits: self.limits,
            peer: self.peer.clone(),
            disconnected: false,
            wc: Vec::new(),
            armed: false,
            signalled: false,
        };
        // First the connection's own events (ESTABLISHED, DISCONNECTED) move to its own
        // channel, before anything can happen on it.
        let channel = EventChannel::new()?;
        // SAFETY: id and channel are live; the connect request event was acked when read,
        // so nothing of id is unacknowledged on the listener's channel.
        if unsafe { sys::rdma_migrate_id(id, channel.0) } != 0 {
            return Err(errno_error("rdma_migrate_id"));
        }
        qp.channel = Some(channel);
        // SAFETY: id is a live request id; its verbs context is the incoming device's.
        let ctx = unsafe { (*id).verbs };
        // SAFETY: ctx is live for as long as the id is.
        qp.pd = unsafe { sys::ibv_alloc_pd(ctx) };
        if qp.pd.is_null() {
            return Err(errno_error("ibv_alloc_pd"));
        }
        // SAFETY: as above.
        qp.comp = unsafe { sys::ibv_create_comp_channel(ctx) };
        if qp.comp.is_null() {
            return Err(errno_error("ibv_create_comp_channel"));
        }
        // SAFETY: comp is live (non-null, owned by qp).
        set_nonblocking(unsafe { (*qp.comp).fd }, "fcntl(completion channel)")?;
        let cqe = c_int::try_from(caps.cqe).map_err(|_| VerbsError::QueueFull {
            queue: "completion",
            depth: caps.cqe,
        })?;
        // SAFETY: ctx and comp are live; the CQ gets no context pointer.
        qp.cq = unsafe { sys::ibv_create_cq(ctx, cqe, ptr::null_mut(), qp.comp, 0) };
        if qp.cq.is_null() {
            return Err(errno_error("ibv_create_cq"));
        }
        // SAFETY: ibv_qp_init_attr is plain data; all-zero is valid (no SRQ, no context).
        let mut init: sys::ibv_qp_init_attr = unsafe { std::mem::zeroed() };
        init.send_cq = qp.cq;
        init.recv_cq = qp.cq;
        init.cap.max_send_wr = caps.send_wr;
        init.cap.max_recv_wr = caps.recv_wr;
        init.cap.max_send_sge = caps.send_sge;
        init.cap.max_recv_sge = 1;
        init.qp_type = sys::ibv_qp_type::IBV_QPT_RC;
        init.sq_sig_all = 1;
        // SAFETY: id, pd and the CQ are live; init is a valid attribute block.
        if unsafe { sys::rdma_create_qp(id, qp.pd, &mut init) } != 0 {
            return Err(errno_error("rdma_create_qp"));
        }
        qp.qp_created = true;
        let rd = u8::try_from(caps.rd_atom).unwrap_or(u8::MAX);
        // SAFETY: rdma_conn_param is plain data; all-zero is valid (no private data).
        let mut param: sys::rdma_conn_param = unsafe { std::mem::zeroed() };
        // What we accept of the peer's reads, and what we issue, bounded by both sides.
        // Our outstanding reads (ORD) as the driver sized them, within the peer's offer;
        // the reads we answer (IRD): what the peer asks for, at least one (as ksmbd).
        param.initiator_depth = match self.may_initiate {
            0 => rd,
            n => rd.min(n),
        };
        let device_ird = u8::try_from(self.limits.max_qp_rd_atom).unwrap_or(u8::MAX);
        param.responder_resources = match self.may_answer {
            0 => 1,
            n => device_ird.min(n).max(1),
        };
        // ksmbd's values: 6 transport retries, 6 RNR retries (not infinite: a client that
        // never posts receives must end in an error, not hang the QP).
        param.retry_count = 6;
        param.rnr_retry_count = 6;
        // SAFETY: id has its QP; param is valid for the call.
        if unsafe { sys::rdma_accept(id, &mut param) } != 0 {
            return Err(errno_error("rdma_accept"));
        }
        qp.accepted = true;
        qp.arm()?;
        Ok(qp)
    }

    fn reject(self) {
        // Drop rejects.
    }
}

/// A registered region: the memory (kept alive while registered) and its MR.
#[derive(Debug)]
struct Mr {
    mr: *mut sys::ibv_mr,
    mem: Arc<RegMem>,
    region: Region,
}

/// A connected RC queue pair over rdma_cm.
pub struct RdmaQp {
    id: *mut sys::rdma_cm_id,
    pd: *mut sys::ibv_pd,
    comp: *mut sys::ibv_comp_channel,
    cq: *mut sys::ibv_cq,
    qp_created: bool,
    /// rdma_accept succeeded (else Drop rejects the request).
    accepted: bool,
    channel: Option<EventChannel>,
    regions: HashMap<u32, Mr>,
    /// The kind of every outstanding work request: an error completion's opcode is
    /// undefined, so it is remembered here.
    kinds: HashMap<WrId, WcKind>,
    caps: QpCaps,
    limits: DeviceLimits,
    peer: String,
    disconnected: bool,
    wc: Vec<sys::ibv_wc>,
    /// The CQ notification is armed and its event not yet taken (see `arm`).
    armed: bool,
    /// The completion channel signalled since the last `arm`.
    signalled: bool,
}

impl std::fmt::Debug for RdmaQp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RdmaQp")
            .field("peer", &self.peer)
            .field("caps", &self.caps)
            .field("regions", &self.regions.len())
            .field("outstanding", &self.kinds.len())
            .field("disconnected", &self.disconnected)
            .finish()
    }
}

impl RdmaQp {
    /// The completion channel's fd (non-blocking): readable when completions arrived.
    pub fn completion_fd(&self) -> c_int {
        if self.comp.is_null() {
            return -1;
        }
        // SAFETY: comp is live (non-null, owned by self).
        unsafe { (*self.comp).fd }
    }

    /// The connection's rdma_cm event fd (non-blocking): readable on disconnect.
    pub fn cm_fd(&self) -> c_int {
        self.channel.as_ref().map_or(-1, EventChannel::fd)
    }

    /// Takes the completion event if the channel signalled, and re-arms the CQ
    /// notification if it is not armed; called before each poll, so a completion that
    /// arrives after the poll raises an event. Each is a system call (on rxe
    /// `ibv_req_notify_cq` is one too), so neither is made when it cannot matter: an armed
    /// CQ raises at most one event, and until the channel says it did the CQ stays armed.
    /// (An event the runtime has not reported yet keeps the channel's fd readable, so the
    /// next wait returns at once and reports it.)
    fn arm(&mut self) -> Result<(), VerbsError> {
        if std::mem::take(&mut self.signalled) {
            let mut cq: *mut sys::ibv_cq = ptr::null_mut();
            let mut ctx: *mut c_void = ptr::null_mut();
            // SAFETY: comp is live and non-blocking; cq and ctx are valid out-pointers.
            let rc = unsafe { sys::ibv_get_cq_event(self.comp, &mut cq, &mut ctx) };
            if rc == 0 {
                // SAFETY: one event of our only CQ was taken just now.
                unsafe { sys::ibv_ack_cq_events(self.cq, 1) };
                self.armed = false;
            }
        }
        if !self.armed {
            // SAFETY: cq is live.
            let rc = unsafe { sys::ibv_req_notify_cq(self.cq, 0) };
            if rc != 0 {
                return Err(code_error("ibv_req_notify_cq", rc));
            }
            self.armed = true;
        }
        Ok(())
    }

    fn qp_ptr(&self) -> Result<*mut sys::ibv_qp, VerbsError> {
        if !self.qp_created {
            return Err(VerbsError::NotConnected);
        }
        // SAFETY: id is live; rdma_create_qp set its qp.
        let qp = unsafe { (*self.id).qp };
        if qp.is_null() {
            return Err(VerbsError::NotConnected);
        }
        Ok(qp)
    }

    /// The bytes of `sge` inside one of our regions, as a raw pointer, if it fits.
    fn local_ptr(&self, sge: Sge) -> Option<*mut u8> {
        let mr = self.regions.get(&sge.lkey)?;
        let start = sge.addr.checked_sub(mr.region.addr)?;
        let end = start.checked_add(u64::from(sge.len))?;
        if end > mr.region.len {
            return None;
        }
        let start = usize::try_from(start).ok()?;
        Some(mr.mem.as_ptr().wrapping_add(start))
    }

    fn post_send_wr(
        &mut self,
        wr_id: WrId,
        local: Sge,
        opcode: sys::ibv_wr_opcode::Type,
        remote: Option<RemoteBuf>,
        invalidate: Option<u32>,
    ) -> Result<(), VerbsError> {
        let qp = self.qp_ptr()?;
        if self.local_ptr(local).is_none() {
            return Err(VerbsError::BadLocalBuffer);
        }
        let mut sge = sys::ibv_sge {
            addr: local.addr,
            length: local.len,
            lkey: local.lkey,
        };
        // SAFETY: ibv_send_wr is plain data (pointers, integers, unions of those); all-zero
        // is a valid empty work request.
        let mut wr: sys::ibv_send_wr = unsafe { std::mem::zeroed() };
        wr.wr_id = wr_id;
        wr.sg_list = &mut sge;
        wr.num_sge = 1;
        wr.opcode = opcode;
        wr.send_flags = sys::ibv_send_flags::IBV_SEND_SIGNALED.0;
        if let Some(rkey) = invalidate {
            wr.imm_data_invalidated_rkey_union.invalidated_rkey = rkey;
        }
        if let Some(r) = remote {
            wr.wr.rdma = sys::rdma_t {
                remote_addr: r.addr,
                rkey: r.rkey,
            };
        }
        let mut bad: *mut sys::ibv_send_wr = ptr::null_mut();
        // SAFETY: qp is live; wr and sge are valid for the call (the provider copies them
        // into the send queue); the SGE lies inside one of our registered regions.
        let rc = unsafe { sys::ibv_post_send(qp, &mut wr, &mut bad) };
        if rc != 0 {
            return Err(if rc == libc::ENOMEM {
                VerbsError::QueueFull {
                    queue: "send",
                    depth: self.caps.send_wr,
                }
            } else {
                code_error("ibv_post_send", rc)
            });
        }
        let kind = match opcode {
            sys::ibv_wr_opcode::IBV_WR_RDMA_READ => WcKind::RdmaRead,
            sys::ibv_wr_opcode::IBV_WR_RDMA_WRITE => WcKind::RdmaWrite,
            _ => WcKind::Send,
        };
        self.kinds.insert(wr_id, kind);
        Ok(())
    }
}

fn status_of(s: sys::ibv_wc_status::Type) -> WcStatus {
    use sys::ibv_wc_status as st;
    match s {
        st::IBV_WC_SUCCESS => WcStatus::Success,
        st::IBV_WC_WR_FLUSH_ERR => WcStatus::WrFlushError,
        st::IBV_WC_LOC_PROT_ERR => WcStatus::LocalProtectionError,
        st::IBV_WC_LOC_LEN_ERR => WcStatus::LocalLengthError,
        st::IBV_WC_REM_ACCESS_ERR => WcStatus::RemoteAccessError,
        st::IBV_WC_REM_INV_REQ_ERR => WcStatus::RemoteInvalidRequest,
        st::IBV_WC_RNR_RETRY_EXC_ERR => WcStatus::RnrRetryExceeded,
        st::IBV_WC_RETRY_EXC_ERR => WcStatus::RetryExceeded,
        other => WcStatus::Other(other),
    }
}

impl QueuePair for RdmaQp {
    fn device_limits(&self) -> DeviceLimits {
        self.limits
    }

    fn caps(&self) -> QpCaps {
        self.caps
    }

    fn peer(&self) -> String {
        self.peer.clone()
    }

    fn register_mem(&mut self, mem: &Arc<RegMem>, access: Access) -> Result<Region, VerbsError> {
        let len = mem.len() as u64;
        if len > self.limits.max_mr_size {
            return Err(VerbsError::RegionTooLarge {
                len,
                max: self.limits.max_mr_size,
            });
        }
        let mut flags = sys::ibv_access_flags::IBV_ACCESS_LOCAL_WRITE.0;
        if access.remote_read {
            flags |= sys::ibv_access_flags::IBV_ACCESS_REMOTE_READ.0;
        }
        if access.remote_write {
            flags |= sys::ibv_access_flags::IBV_ACCESS_REMOTE_WRITE.0;
        }
        let flags = c_int::try_from(flags).unwrap_or(0);
        let base = mem.as_ptr();
        // SAFETY: pd is live; base points to mem.len() bytes that stay allocated while the
        // MR exists (Mr keeps the Arc until after ibv_dereg_mr).
        let mr = unsafe { sys::ibv_reg_mr(self.pd, base.cast::<c_void>(), mem.len(), flags) };
        if mr.is_null() {
            return Err(errno_error("ibv_reg_mr"));
        }
        // SAFETY: mr is a live MR returned just now.
        let (lkey, rkey) = unsafe { ((*mr).lkey, (*mr).rkey) };
        let region = Region {
            lkey,
            rkey,
            addr: base as u64,
            len,
        };
        self.regions.insert(
            lkey,
            Mr {
                mr,
                mem: Arc::clone(mem),
                region,
            },
        );
        Ok(region)
    }

    fn deregister(&mut self, region: &Region) {
        if let Some(mr) = self.regions.remove(&region.lkey) {
            // SAFETY: mr.mr is live and no longer used by any work request (the caller's
            // contract); the memory is released (by the Arc) only after deregistration.
            unsafe { sys::ibv_dereg_mr(mr.mr) };
            drop(mr.mem);
        }
    }

    fn write_local(&mut self, at: Sge, data: &[u8]) -> Result<(), VerbsError> {
        if data.len() != at.len as usize {
            return Err(VerbsError::BadLocalBuffer);
        }
        let dst = self.local_ptr(at).ok_or(VerbsError::BadLocalBuffer)?;
        // SAFETY: dst..dst+len lies inside our allocation (local_ptr checked the bounds);
        // data is a distinct Rust slice of the same length.
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
        Ok(())
    }

    fn read_local(&self, at: Sge, out: &mut [u8]) -> Result<(), VerbsError> {
        if out.len() != at.len as usize {
            return Err(VerbsError::BadLocalBuffer);
        }
        let src = self.local_ptr(at).ok_or(VerbsError::BadLocalBuffer)?;
        // SAFETY: src..src+len lies inside our allocation; out is a distinct slice.
        unsafe { ptr::copy_nonoverlapping(src, out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    fn post_recv(&mut self, wr_id: WrId, buf: Sge) -> Result<(), VerbsError> {
        let qp = self.qp_ptr()?;
        if self.local_ptr(buf).is_none() {
            return Err(VerbsError::BadLocalBuffer);
        }
        let mut sge = sys::ibv_sge {
            addr: buf.addr,
            length: buf.len,
            lkey: buf.lkey,
        };
        let mut wr = sys::ibv_recv_wr {
            wr_id,
            next: ptr::null_mut(),
            sg_list: &mut sge,
            num_sge: 1,
        };
        let mut bad: *mut sys::ibv_recv_wr = ptr::null_mut();
        // SAFETY: qp is live; wr and sge are valid for the call; the buffer lies inside a
        // registered region of ours.
        let rc = unsafe { sys::ibv_post_recv(qp, &mut wr, &mut bad) };
        if rc != 0 {
            return Err(if rc == libc::ENOMEM {
                VerbsError::QueueFull {
                    queue: "receive",
                    depth: self.caps.recv_wr,
                }
            } else {
                code_error("ibv_post_recv", rc)
            });
        }
        self.kinds.insert(wr_id, WcKind::Recv);
        Ok(())
    }

    fn post_send(
        &mut self,
        wr_id: WrId,
        buf: Sge,
        invalidate: Option<u32>,
    ) -> Result<(), VerbsError> {
        let opcode = if invalidate.is_some() {
            sys::ibv_wr_opcode::IBV_WR_SEND_WITH_INV
        } else {
            sys::ibv_wr_opcode::IBV_WR_SEND
        };
        self.post_send_wr(wr_id, buf, opcode, None, invalidate)
    }

    fn post_sends(&mut self, sends: &[SendWr]) -> Result<(), (usize, VerbsError)> {
        let qp = self.qp_ptr().map_err(|e| (0, e))?;
        // Only the sends before the first bad buffer go (it fails as its post would).
        let valid = sends
            .iter()
            .position(|s| self.local_ptr(s.buf).is_none())
            .unwrap_or(sends.len());
        let ok = sends.get(..valid).unwrap_or_default();
        if !ok.is_empty() {
            let mut sges: Vec<sys::ibv_sge> = ok
                .iter()
                .map(|s| sys::ibv_sge {
                    addr: s.buf.addr,
                    length: s.buf.len,
                    lkey: s.buf.lkey,
                })
                .collect();
            let mut wrs: Vec<sys::ibv_send_wr> = ok
                .iter()
                .map(|s| {
                    // SAFETY: ibv_send_wr is plain data (pointers, integers, unions of
                    // those); all-zero is a valid empty work request.
                    let mut wr: sys::ibv_send_wr = unsafe { std::mem::zeroed() };
                    wr.wr_id = s.wr_id;
                    wr.num_sge = 1;
                    wr.send_flags = sys::ibv_send_flags::IBV_SEND_SIGNALED.0;
                    wr.opcode = match s.invalidate {
                        Some(rkey) => {
                            wr.imm_data_invalidated_rkey_union.invalidated_rkey = rkey;
                            sys::ibv_wr_opcode::IBV_WR_SEND_WITH_INV
                        }
                        None => sys::ibv_wr_opcode::IBV_WR_SEND,
                    };
                    wr
                })
                .collect();
            // Link them now that neither vector moves again.
            let base = wrs.as_mut_ptr();
            let last = ok.len() - 1;
            for (i, (wr, sge)) in wrs.iter_mut().zip(sges.iter_mut()).enumerate() {
                wr.sg_list = sge;
                wr.next = if i < last {
                    base.wrapping_add(i + 1)
                } else {
                    ptr::null_mut()
                };
            }
            let mut bad: *mut sys::ibv_send_wr = ptr::null_mut();
            // SAFETY: qp is live; the chain of `wrs` (each pointing at its own SGE, the
            // last `next` null) stays valid for the call (the provider copies it into the
            // send queue); every SGE lies inside one of our registered regions.
            let rc = unsafe { sys::ibv_post_send(qp, base, &mut bad) };
            let posted = if rc == 0 {
                ok.len()
            } else {
                // The provider stopped at `bad`: the ones before it are posted.
                (bad as usize)
                    .checked_sub(base as usize)
                    .map_or(0, |b| b / std::mem::size_of::<sys::ibv_send_wr>())
                    .min(ok.len())
            };
            for s in ok.iter().take(posted) {
                self.kinds.insert(s.wr_id, WcKind::Send);
            }
            if rc != 0 {
                let e = if rc == libc::ENOMEM {
                    VerbsError::QueueFull {
                        queue: "send",
                        depth: self.caps.send_wr,
                    }
                } else {
                    code_error("ibv_post_send", rc)
                };
                return Err((posted, e));
            }
        }
        if valid < sends.len() {
            return Err((valid, VerbsError::BadLocalBuffer));
        }
        Ok(())
    }

    fn rdma_read(&mut self, wr_id: WrId, local: Sge, remote: RemoteBuf) -> Result<(), VerbsError> {
        self.post_send_wr(
            wr_id,
            local,
            sys::ibv_wr_opcode::IBV_WR_RDMA_READ,
            Some(remote),
            None,
        )
    }

    fn rdma_write(&mut self, wr_id: WrId, local: Sge, remote: RemoteBuf) -> Result<(), VerbsError> {
        self.post_send_wr(
            wr_id,
            local,
            sys::ibv_wr_opcode::IBV_WR_RDMA_WRITE,
            Some(remote),
            None,
        )
    }

    fn completion_signalled(&mut self) {
        self.signalled = true;
    }

    fn poll_cq(&mut self, out: &mut Vec<Completion>, max: usize) -> Result<usize, VerbsError> {
        self.arm()?;
        let max = max.min(256);
        if self.wc.len() < max {
            // SAFETY: ibv_wc is plain data (integers and a union of integers).
            self.wc.resize_with(max, || unsafe { std::mem::zeroed() });
        }
        let n = c_int::try_from(max).unwrap_or(256);
        // SAFETY: cq is live; self.wc holds at least `n` writable entries.
        let got = unsafe { sys::ibv_poll_cq(self.cq, n, self.wc.as_mut_ptr()) };
        if got < 0 {
            return Err(code_error("ibv_poll_cq", -got));
        }
        let got = usize::try_from(got).unwrap_or(0);
        for wc in self.wc.iter().take(got) {
            let kind = self.kinds.remove(&wc.wr_id).unwrap_or(WcKind::Send);
            let with_inv = wc.wc_flags & sys::ibv_wc_flags::IBV_WC_WITH_INV.0 != 0;
            let invalidated_rkey = if with_inv {
                // SAFETY: with IBV_WC_WITH_INV set the union holds the invalidated rkey
                // (and both members are plain u32s anyway).
                Some(unsafe { wc.imm_data_invalidated_rkey_union.invalidated_rkey })
            } else {
                None
            };
            out.push(Completion {
                wr_id: wc.wr_id,
                kind,
                status: status_of(wc.status),
                byte_len: wc.byte_len,
                invalidated_rkey,
            });
        }
        Ok(got)
    }

    fn poll_event(&mut self) -> Option<QpEvent> {
        let channel = self.channel.as_ref()?;
        loop {
            match channel.next() {
                Ok(Some(ev)) => match ev.kind {
                    sys::rdma_cm_event_type::RDMA_CM_EVENT_DISCONNECTED
                    | sys::rdma_cm_event_type::RDMA_CM_EVENT_TIMEWAIT_EXIT => {
                        return Some(QpEvent::Disconnected)
                    }
                    sys::rdma_cm_event_type::RDMA_CM_EVENT_DEVICE_REMOVAL => {
                        return Some(QpEvent::Fatal)
                    }
                    _ => continue, // ESTABLISHED and the like: nothing to do
                },
                Ok(None) => return None,
                Err(_) => return Some(QpEvent::Fatal),
            }
        }
    }

    fn disconnect(&mut self) {
        if !self.disconnected && !self.id.is_null() {
            self.disconnected = true;
            // SAFETY: id is live; rdma_disconnect moves the QP to error, which flushes
            // every outstanding work request.
            unsafe { sys::rdma_disconnect(self.id) };
        }
    }
}

impl Drop for RdmaQp {
    fn drop(&mut self) {
        if self.accepted {
            self.disconnect();
        } else if !self.id.is_null() {
            // SAFETY: id is a live connection request that was never accepted.
            unsafe { sys::rdma_reject(self.id, ptr::null(), 0) };
        }
        // Each resource is released once, in dependency order (QP before CQ before channel
        // and PD; MRs before PD; the id last but before its event channel, which
        // `self.channel` drops afterwards); null ones were never created. After the QP is
        // destroyed no work request can touch the memory.
        // SAFETY: see above: the QP exists (qp_created) and is destroyed once.
        unsafe {
            if self.qp_created {
                sys::rdma_destroy_qp(self.id);
            }
        }
        for (_, mr) in self.regions.drain() {
            // SAFETY: see above; the memory goes (with the Arc) only after deregistration.
            unsafe { sys::ibv_dereg_mr(mr.mr) };
            drop(mr.mem);
        }
        // SAFETY: see above.
        unsafe {
            if !self.cq.is_null() {
                sys::ibv_destroy_cq(self.cq);
            }
            if !self.comp.is_null() {
                sys::ibv_destroy_comp_channel(self.comp);
            }
            if !self.pd.is_null() {
                sys::ibv_dealloc_pd(self.pd);
            }
            if !self.id.is_null() {
                sys::rdma_destroy_id(self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This host (like CI) has no RDMA device: enumeration says so without failing, and a
    /// listener refuses with "no RDMA devices".
    #[test]
    fn no_devices_is_an_empty_list_not_an_error() {
        let Ok(list) = devices() else {
            panic!("device enumeration failed");
        };
        if !list.is_empty() {
            return; // a host with RDMA hardware: nothing to check here
        }
        let addr = SocketAddr::from(([0, 0, 0, 0], PORT_IB_ROCE));
        match RdmaListener::bind(addr, 16) {
            Err(e) => {
                assert_eq!(e, VerbsError::NoDevices);
                assert_eq!(e.to_string(), "no RDMA devices");
            }
            Ok(_) => panic!("listening without devices"),
        }
    }

    #[test]
    fn ports_per_transport() {
        assert_eq!(Transport::InfinibandOrRoce.smb_direct_port(), 445);
        assert_eq!(Transport::Iwarp.smb_direct_port(), 5445);
    }

    #[test]
    fn status_mapping() {
        use sys::ibv_wc_status as st;
        assert_eq!(status_of(st::IBV_WC_SUCCESS), WcStatus::Success);
        assert_eq!(
            status_of(st::IBV_WC_REM_ACCESS_ERR),
            WcStatus::RemoteAccessError
        );
        assert_eq!(
            status_of(st::IBV_WC_RNR_RETRY_EXC_ERR),
            WcStatus::RnrRetryExceeded
        );
        assert_eq!(status_of(st::IBV_WC_GENERAL_ERR), WcStatus::Other(21));
    }

    #[test]
    fn sockaddr_round_trip() {
        for addr in ["192.0.2.7:445", "[2001:db8::1]:5445"] {
            let a: SocketAddr = addr.parse().unwrap_or_else(|_| panic!("{addr}"));
            let s = sockaddr_of(a);
            let fam = i32::from(s.ss_family);
            assert!(fam == libc::AF_INET || fam == libc::AF_INET6);
        }
    }
}
