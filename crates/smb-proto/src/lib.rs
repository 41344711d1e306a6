//! The SMB2/3 connection state machine, sans-IO.
//!
//! Like quinn-proto and rustls, this crate does no I/O: no sockets, no files, no threads,
//! no clock and no entropy source. The transport hands [`Connection::receive`] one message
//! (a NetBIOS payload or a reassembled SMB Direct message); the connection decrypts it,
//! splits a compound, checks credits, message ids, sessions and signatures, answers what is
//! its own business (NEGOTIATE, SESSION_SETUP, ECHO, VALIDATE_NEGOTIATE_INFO, errors) and
//! hands everything else to the server as a [`Batch`]. The server fills in each item's
//! [`Reply`] and gives the batch back to [`Connection::finish`], which joins, signs or
//! encrypts, and returns the bytes to send. Time (`now`) and randomness ([`Random`]) come in
//! from the caller, so every test is deterministic.
//!
//! Must not know: sockets, files, share semantics, the database.

mod config;
mod conn;
pub mod credits;
mod session;

pub use config::{Config, EncryptionPolicy};
pub use conn::{
    Batch, Connection, Disconnect, Item, Negotiated, Random, ReadData, Reply, Stats, Work,
    FRAME_PREFIX,
};
pub use session::{NoSessions, SessionEvent, SessionInfo, SessionTable, SharedSession};
