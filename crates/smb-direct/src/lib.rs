//! MS-SMBD (SMB Direct: SMB2 over RDMA): a sans-IO protocol engine, the verbs boundary
//! under it, and the driver that joins the two.
//!
//! Three layers:
//! - the **sans-IO engine** ([`Connection`] and the modules below it): like `smb-proto`
//!   (and quinn-proto before it) no I/O, no verbs, no threads and no clock;
//! - the **verbs boundary** ([`verbs`]): the [`verbs::QueuePair`] / [`verbs::Listener`]
//!   traits, registered-memory pools, an in-memory emulation ([`verbs::emu`]) for tests and
//!   the real provider over rdma_cm/libibverbs ([`verbs::rdma`], the only code that names
//!   rdma-sys);
//! - the **driver** ([`driver::Driver`]): runs a `Connection` over a queue pair, keeps
//!   receives posted, posts sends, performs the RDMA reads and writes of SMB2 WRITE/READ
//!   with RDMA channels, and tears everything down cleanly. Runtime-agnostic and
//!   clockless (`now` is passed in), so the server's async loop drives it.
//!
//! A driver pushes what happened into a [`Connection`] and polls out what to do:
//!
//! ```text
//! accept / connect            Connection::server(config, now) | Connection::client(config, now)
//! post receive buffers        n = conn.receives_to_post(); post n; conn.receive_posted(n)
//! a receive completed         conn.handle_recv(now, &buf[..byte_len])?   (Err = disconnect)
//! upper layer events          while let Some(ev) = conn.poll_event() { Negotiated | Message }
//! upper layer sends           conn.send_message(smb2_bytes)
//! packets to post as sends    while let Some(pkt) = conn.poll_transmit(now) { post_send(pkt) }
//! timers                      conn.poll_timeout() -> Option<Instant>; conn.handle_timeout(now)?
//! ```
//!
//! After any `Err(Disconnect)` the driver drains [`Connection::poll_transmit`] once more (a
//! negotiate failure response may be waiting) and then tears the connection down.
//!
//! Modules, one per piece of the spec:
//! - [`negotiate`]: negotiate request/response (MS-SMBD 2.2.1, 2.2.2), their validation
//!   (3.1.5.6, 3.1.5.7) and the negotiated parameters.
//! - [`data`]: the data transfer message header (2.2.3), bounds-checked.
//! - [`descriptor`]: SMB_DIRECT_BUFFER_DESCRIPTOR_V1 lists (2.2.3.1) as carried in SMB2
//!   READ/WRITE channel information.
//! - [`credits`]: the credit state machine (3.1.5.1, 3.1.5.8, 3.1.5.9), one method per rule.
//! - [`fragment`] and [`reassembly`]: splitting an upper-layer message into data transfer
//!   messages and putting incoming fragments back together.
//! - [`conn`]: the [`Connection`] tying it together, server or client role.
//! - [`verbs`] and [`driver`]: see above.
//!
//! Must not know: SMB2 semantics (a message is opaque bytes; buffer descriptors are opaque
//! regions of the peer), sockets, clocks. Only `verbs::rdma` names rdma-sys.

pub mod config;
pub mod conn;
pub mod credits;
pub mod data;
pub mod descriptor;
pub mod driver;
pub mod error;
pub mod fragment;
pub mod negotiate;
pub mod reassembly;
pub mod verbs;
mod wire;

pub use config::{Config, ConfigError};
pub use conn::{Connection, Event, Role, SendError, Stats};
pub use descriptor::{BufferDescriptorV1, DescriptorError, DescriptorLimits};
pub use driver::{CloseReason, Driver, DriverConfig, DriverEvent, TransferError, TransferId};
pub use error::Disconnect;
pub use negotiate::Negotiated;

/// The only protocol version there is: SMBDirect 1.0 (MS-SMBD 1.7).
pub const SMBD_VERSION_1: u16 = 0x0100;
/// Length of a negotiate request (MS-SMBD 2.2.1).
pub const NEGOTIATE_REQUEST_LEN: usize = 20;
/// Length of a negotiate response (MS-SMBD 2.2.2).
pub const NEGOTIATE_RESPONSE_LEN: usize = 32;
/// Length of the fixed part of a data transfer message (MS-SMBD 2.2.3).
pub const DATA_HEADER_LEN: usize = 20;
/// Where this implementation puts the payload: the header, then 4 bytes of padding so the
/// payload is 8-byte aligned.
pub const DATA_OFFSET: usize = 24;
/// The smallest MaxReceiveSize a peer may announce (3.1.5.6, 3.1.5.7).
pub const MIN_RECEIVE_SIZE: u32 = 128;
/// The smallest MaxFragmentedSize a peer may announce (3.1.5.6, 3.1.5.7).
pub const MIN_FRAGMENTED_SIZE: u32 = 131_072;
/// SMB_DIRECT_RESPONSE_REQUESTED: the peer is asked to send a message promptly (keepalive).
pub const FLAG_RESPONSE_REQUESTED: u16 = 0x0001;
/// NTSTATUS STATUS_NOT_SUPPORTED, the negotiate failure status for a version mismatch.
pub const STATUS_NOT_SUPPORTED: u32 = 0xC000_00BB;
