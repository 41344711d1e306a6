//! smb-rpc: the server side of connection-oriented DCE/RPC (MS-RPCE / C706,
//! `ncacn_np`) as it runs over SMB named pipes on `IPC$`, with NDR20
//! marshalling, serving the two interfaces that share browsing needs:
//! srvsvc (MS-SRVS: NetrShareEnum, NetrShareGetInfo, NetrServerGetInfo) and
//! wkssvc (MS-WKST: NetrWkstaGetInfo).
//!
//! The crate is sans-IO. It must NOT know SMB2 messages, sockets, clocks,
//! threads, randomness or the share database: the SMB server feeds it the
//! bytes a client wrote to a pipe together with a [`ServerInfo`] snapshot of
//! what to report, and reads back the bytes to return.
//!
//! Supported: bind / alter_context with several presentation contexts
//! (NDR20 accepted, NDR64 rejected, bind-time feature negotiation answered),
//! fragment size negotiation, request reassembly, response fragmentation,
//! fault PDUs for unknown opnums / unbound contexts / bad stub data. Not
//! supported: authentication verifiers (auth_length must be 0), big-endian
//! or non-ASCII data representations, NDR64.

#![forbid(unsafe_code)]

pub mod ndr;
mod pipe;
mod services;

pub use pipe::{Pipe, MAX_FRAG, MIN_FRAG};
pub use services::{
    NCA_S_FAULT_NDR, NCA_S_OP_RNG_ERROR, NCA_S_PROTO_ERROR, NCA_S_UNK_IF, NCA_S_UNSUPPORTED_TYPE,
    WERR_INVALID_LEVEL, WERR_MORE_DATA, WERR_NET_NAME_NOT_FOUND, WERR_OK,
};

/// Bound on one received fragment (its frag_length) and on the stub data of
/// a reassembled multi-fragment request. Larger input is [`RpcError::TooLarge`].
pub const MAX_PIPE_PDU: usize = 16 * 1024;

/// Bound on response bytes queued but not yet read; a client that keeps
/// sending requests without reading gets [`RpcError::TooLarge`].
pub const MAX_PENDING_OUTPUT: usize = 4 * 1024 * 1024;

/// `STYPE_DISKTREE`: a disk share.
pub const STYPE_DISKTREE: u32 = 0;
/// `STYPE_IPC`: the IPC$ share.
pub const STYPE_IPC: u32 = 3;
/// `STYPE_SPECIAL`: administrative/special share flag (IPC$, ADMIN$, C$).
pub const STYPE_SPECIAL: u32 = 0x8000_0000;
/// `SV_TYPE_WORKSTATION`.
pub const SV_TYPE_WORKSTATION: u32 = 0x0000_0001;
/// `SV_TYPE_SERVER`.
pub const SV_TYPE_SERVER: u32 = 0x0000_0002;
/// `SV_TYPE_SERVER_NT`.
pub const SV_TYPE_SERVER_NT: u32 = 0x0000_8000;

/// One share as reported by srvsvc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareInfo {
    /// Share name, e.g. `"public"` or `"IPC$"`.
    pub name: String,
    /// `STYPE_DISKTREE` (0), `STYPE_IPC` (3), or'ed with `STYPE_SPECIAL`
    /// for IPC$ and other administrative shares.
    pub share_type: u32,
    /// Free-text comment (the "remark").
    pub comment: String,
    /// Local path, reported at levels 2/502. A Windows-style path such as
    /// `C:\srv\share` is passed through; a POSIX absolute path `/srv/share`
    /// is shown as `C:\srv\share`.
    pub path: String,
    /// Maximum concurrent uses (`0xFFFF_FFFF` = unlimited).
    pub max_uses: u32,
    /// Current number of connections.
    pub current_uses: u32,
}

/// The snapshot of server facts the pipe reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// NetBIOS computer name.
    pub netbios_name: String,
    /// Workgroup / domain name.
    pub domain: String,
    /// Server comment.
    pub comment: String,
    /// Reported OS major version.
    pub version_major: u32,
    /// Reported OS minor version.
    pub version_minor: u32,
    /// `SV_TYPE_*` bits, e.g. WORKSTATION | SERVER | SERVER_NT.
    pub server_type: u32,
    /// All shares, in enumeration order (IPC$ included).
    pub shares: Vec<ShareInfo>,
}

/// The RPC interface behind a pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipeKind {
    /// `\PIPE\srvsvc`: MS-SRVS, 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0.
    Srvsvc,
    /// `\PIPE\wkssvc`: MS-WKST, 6bffd098-a112-3610-9833-46c3f87e345a v1.0.
    Wkssvc,
}

impl PipeKind {
    /// The pipe's name without the `\PIPE\` prefix.
    pub fn name(self) -> &'static str {
        match self {
            PipeKind::Srvsvc => "srvsvc",
            PipeKind::Wkssvc => "wkssvc",
        }
    }
}

/// The pipes this crate serves, by the name a client opens on IPC$
/// ("srvsvc", "wkssvc", case-insensitive, with or without a leading
/// "\\PIPE\\").
pub fn pipe_kind(name: &str) -> Option<PipeKind> {
    let lower = name.to_ascii_lowercase();
    let bare = lower.strip_prefix("\\pipe\\").unwrap_or(&lower);
    match bare {
        "srvsvc" => Some(PipeKind::Srvsvc),
        "wkssvc" => Some(PipeKind::Wkssvc),
        _ => None,
    }
}

/// A failure that breaks the pipe: the byte stream can no longer be framed
/// or the peer violated the protocol. After an error the server closes the
/// pipe handle (STATUS_PIPE_BROKEN etc.). Recoverable problems are answered
/// with fault / bind_nak PDUs instead and are not errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The PDU cannot be parsed.
    #[error("malformed DCE/RPC PDU: {0}")]
    Malformed(&'static str),
    /// A fragment, reassembled request or output backlog exceeds its bound.
    #[error("DCE/RPC PDU too large")]
    TooLarge,
    /// A well-formed PDU that the protocol does not allow here.
    #[error("DCE/RPC protocol violation: {0}")]
    ProtocolViolation(&'static str),
}
