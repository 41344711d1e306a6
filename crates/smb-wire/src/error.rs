/// Why a message could not be decoded. None of these panic; the caller decides whether the
/// failure is a request-level error (an NTSTATUS reply, usually `STATUS_INVALID_PARAMETER`)
/// or a protocol violation (disconnect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The message ends before a fixed field or structure does.
    #[error("message truncated")]
    Truncated,
    /// An Offset/Length pair (or a chain link) points outside the message or backwards.
    #[error("offset or length points outside the message")]
    BadOffset,
    /// A UTF-16LE string has an odd length or an unpaired surrogate.
    #[error("invalid UTF-16 string")]
    BadString,
    /// The body's StructureSize is not the one the command requires.
    #[error("structure size field has the wrong value")]
    BadStructureSize,
    /// The protocol identifier is not 0xFE 'S' 'M' 'B' (or the expected variant).
    #[error("protocol identifier is not SMB2/SMB3")]
    BadProtocolId,
    /// A field holds a value the protocol does not allow (unknown command, bad alignment…).
    #[error("value out of range")]
    BadValue,
    /// A count or length exceeds a bound this crate enforces.
    #[error("length exceeds the permitted maximum")]
    TooLarge,
}
