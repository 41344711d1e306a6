//! Test-only support: an NTLMv2 client, SMB2 request builders and a blocking SMB2 client
//! over TCP, so tests can talk to a real server and say exactly what goes on the wire —
//! including what a well-behaved client never sends.
//!
//! Not for production: it panics on surprises (tests want that).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::missing_panics_doc
)]

pub mod client;
pub mod mem;
pub mod ntlm;

pub use client::Client;
