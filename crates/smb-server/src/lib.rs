//! SMB2/3 server semantics: shares and tree connects, the open table with share modes and
//! delete-on-close, byte-range locks, directory enumeration, file information, named pipes
//! on IPC$; one file per command under `exec/`. It drives the sans-IO
//! [`smb_proto::Connection`] over a transport (TCP here; SMB Direct plugs in through the same
//! [`conn::Sink`] and [`conn::Conn::receive_with_permit`]) and reaches files only through
//! the [`smb_vfs::Vfs`] trait.
//!
//! Must not know: SQL or the store (it is handed a [`Catalog`]), rdma-sys, HTTP.

mod catalog;
pub mod conn;
pub mod direct;
mod errno;
mod exec;
mod files;
mod ipc;
mod netif;
mod server;
mod state;
mod tcp;

pub use catalog::{Catalog, Share, ShareAccess, ShareConfig, UserConfig};
pub use conn::filetime_now;
pub use server::{ConnStatus, Server};
pub use tcp::{bind as bind_tcp, serve as serve_tcp};
