//! SMB2/3 wire format: message types, encode/decode, NTSTATUS, FSCC information classes,
//! FSCTL payloads and NetBIOS session framing.
//!
//! This crate knows no state, does no I/O and reads no clock: it knows nothing of sessions,
//! trees, open files, credits, signing keys or the file system. It turns bytes into typed
//! messages and back. Every decoder is bounds-checked (see [`codec`]) and returns a
//! [`WireError`] instead of panicking; attacker-chosen counts and lengths are capped.
//!
//! Conventions: a message is the 64-byte [`header::Header`] followed by its body. Every
//! body type's `decode(msg)` takes the WHOLE message (offsets in SMB2 are relative to the
//! header) and `encode(&self, out)` appends the body to a `Vec` that already holds the
//! header at index 0.

pub mod codec;
pub mod create;
pub mod dir;
mod error;
pub mod file;
pub mod fscc;
pub mod fsctl;
pub mod header;
pub mod info;
pub mod ioctl;
pub mod message;
pub mod misc;
pub mod negotiate;
pub mod netbios;
pub mod security;
pub mod session;
pub mod status;
pub mod transform;
pub mod tree;

pub use error::WireError;
pub use file::FileId;
pub use header::{Command, Header, HEADER_SIZE};
pub use message::{split_compound, Request, Response};
pub use status::NtStatus;
