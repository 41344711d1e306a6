//! Whole-message dispatch: [`Request`]/[`Response`] enums and compound splitting.

use crate::codec::structure_size;
use crate::create::{CreateRequest, CreateResponse};
use crate::dir::{
    ChangeNotifyRequest, ChangeNotifyResponse, QueryDirectoryRequest, QueryDirectoryResponse,
};
use crate::file::{
    CloseRequest, CloseResponse, FlushRequest, FlushResponse, LockRequest, LockResponse,
    ReadRequest, ReadResponse, WriteRequest, WriteResponse,
};
use crate::header::{Command, Header, HEADER_SIZE};
use crate::info::{QueryInfoRequest, QueryInfoResponse, SetInfoRequest, SetInfoResponse};
use crate::ioctl::{IoctlRequest, IoctlResponse};
use crate::misc::{
    CancelRequest, EchoRequest, EchoResponse, ErrorResponse, LeaseBreakAck, LeaseBreakNotification,
    OplockBreak,
};
use crate::negotiate::{NegotiateRequest, NegotiateResponse};
use crate::session::{LogoffRequest, LogoffResponse, SessionSetupRequest, SessionSetupResponse};
use crate::status::NtStatus;
use crate::tree::{
    TreeConnectRequest, TreeConnectResponse, TreeDisconnectRequest, TreeDisconnectResponse,
};
use crate::WireError;

/// The client's OPLOCK_BREAK request: an oplock or a lease acknowledgment, told apart by
/// StructureSize (24 or 36).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OplockBreakAck {
    /// Oplock break acknowledgment (24).
    Oplock(OplockBreak),
    /// Lease break acknowledgment (36).
    Lease(LeaseBreakAck),
}

/// A decoded request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// NEGOTIATE.
    Negotiate(NegotiateRequest),
    /// SESSION_SETUP.
    SessionSetup(SessionSetupRequest),
    /// LOGOFF.
    Logoff(LogoffRequest),
    /// TREE_CONNECT.
    TreeConnect(TreeConnectRequest),
    /// TREE_DISCONNECT.
    TreeDisconnect(TreeDisconnectRequest),
    /// CREATE.
    Create(CreateRequest),
    /// CLOSE.
    Close(CloseRequest),
    /// FLUSH.
    Flush(FlushRequest),
    /// READ.
    Read(ReadRequest),
    /// WRITE.
    Write(WriteRequest),
    /// LOCK.
    Lock(LockRequest),
    /// IOCTL.
    Ioctl(IoctlRequest),
    /// CANCEL.
    Cancel(CancelRequest),
    /// ECHO.
    Echo(EchoRequest),
    /// QUERY_DIRECTORY.
    QueryDirectory(QueryDirectoryRequest),
    /// CHANGE_NOTIFY.
    ChangeNotify(ChangeNotifyRequest),
    /// QUERY_INFO.
    QueryInfo(QueryInfoRequest),
    /// SET_INFO.
    SetInfo(SetInfoRequest),
    /// OPLOCK_BREAK acknowledgment (oplock or lease).
    OplockBreak(OplockBreakAck),
}

impl Request {
    /// Decode the body of `msg` (one message of a chain, header included) according to
    /// `hdr.command`. An unknown command is [`WireError::BadValue`].
    /// Like [`Request::decode`], for a message held in [`Bytes`]: WRITE data becomes a
    /// view of `msg` instead of a copy.
    pub fn decode_shared(hdr: &Header, msg: &bytes::Bytes) -> Result<Request, WireError> {
        if hdr.command == Command::WRITE {
            return Ok(Request::Write(WriteRequest::decode_shared(msg)?));
        }
        Self::decode(hdr, msg)
    }

    pub fn decode(hdr: &Header, msg: &[u8]) -> Result<Request, WireError> {
        Ok(match hdr.command {
            Command::NEGOTIATE => Request::Negotiate(NegotiateRequest::decode(msg)?),
            Command::SESSION_SETUP => Request::SessionSetup(SessionSetupRequest::decode(msg)?),
            Command::LOGOFF => Request::Logoff(LogoffRequest::decode(msg)?),
            Command::TREE_CONNECT => Request::TreeConnect(TreeConnectRequest::decode(msg)?),
            Command::TREE_DISCONNECT => {
                Request::TreeDisconnect(TreeDisconnectRequest::decode(msg)?)
            }
            Command::CREATE => Request::Create(CreateRequest::decode(msg)?),
            Command::CLOSE => Request::Close(CloseRequest::decode(msg)?),
            Command::FLUSH => Request::Flush(FlushRequest::decode(msg)?),
            Command::READ => Request::Read(ReadRequest::decode(msg)?),
            Command::WRITE => Request::Write(WriteRequest::decode(msg)?),
            Command::LOCK => Request::Lock(LockRequest::decode(msg)?),
            Command::IOCTL => Request::Ioctl(IoctlRequest::decode(msg)?),
            Command::CANCEL => Request::Cancel(CancelRequest::decode(msg)?),
            Command::ECHO => Request::Echo(EchoRequest::decode(msg)?),
            Command::QUERY_DIRECTORY => {
                Request::QueryDirectory(QueryDirectoryRequest::decode(msg)?)
            }
            Command::CHANGE_NOTIFY => Request::ChangeNotify(ChangeNotifyRequest::decode(msg)?),
            Command::QUERY_INFO => Request::QueryInfo(QueryInfoRequest::decode(msg)?),
            Command::SET_INFO => Request::SetInfo(SetInfoRequest::decode(msg)?),
            Command::OPLOCK_BREAK => match structure_size(msg)? {
                OplockBreak::STRUCTURE_SIZE => {
                    Request::OplockBreak(OplockBreakAck::Oplock(OplockBreak::decode(msg)?))
                }
                LeaseBreakAck::STRUCTURE_SIZE => {
                    Request::OplockBreak(OplockBreakAck::Lease(LeaseBreakAck::decode(msg)?))
                }
                _ => return Err(WireError::BadStructureSize),
            },
            _ => return Err(WireError::BadValue),
        })
    }

    /// The command this request belongs to.
    pub fn command(&self) -> Command {
        match self {
            Request::Negotiate(_) => Command::NEGOTIATE,
            Request::SessionSetup(_) => Command::SESSION_SETUP,
            Request::Logoff(_) => Command::LOGOFF,
            Request::TreeConnect(_) => Command::TREE_CONNECT,
            Request::TreeDisconnect(_) => Command::TREE_DISCONNECT,
            Request::Create(_) => Command::CREATE,
            Request::Close(_) => Command::CLOSE,
            Request::Flush(_) => Command::FLUSH,
            Request::Read(_) => Command::READ,
            Request::Write(_) => Command::WRITE,
            Request::Lock(_) => Command::LOCK,
            Request::Ioctl(_) => Command::IOCTL,
            Request::Cancel(_) => Command::CANCEL,
            Request::Echo(_) => Command::ECHO,
            Request::QueryDirectory(_) => Command::QUERY_DIRECTORY,
            Request::ChangeNotify(_) => Command::CHANGE_NOTIFY,
            Request::QueryInfo(_) => Command::QUERY_INFO,
            Request::SetInfo(_) => Command::SET_INFO,
            Request::OplockBreak(_) => Command::OPLOCK_BREAK,
        }
    }

    /// Append the body (header already at index 0 of `out`); for clients and tests.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Request::Negotiate(b) => b.encode(out),
            Request::SessionSetup(b) => b.encode(out),
            Request::Logoff(b) => b.encode(out),
            Request::TreeConnect(b) => b.encode(out),
            Request::TreeDisconnect(b) => b.encode(out),
            Request::Create(b) => b.encode(out),
            Request::Close(b) => b.encode(out),
            Request::Flush(b) => b.encode(out),
            Request::Read(b) => b.encode(out),
            Request::Write(b) => b.encode(out),
            Request::Lock(b) => b.encode(out),
            Request::Ioctl(b) => b.encode(out),
            Request::Cancel(b) => b.encode(out),
            Request::Echo(b) => b.encode(out),
            Request::QueryDirectory(b) => b.encode(out),
            Request::ChangeNotify(b) => b.encode(out),
            Request::QueryInfo(b) => b.encode(out),
            Request::SetInfo(b) => b.encode(out),
            Request::OplockBreak(OplockBreakAck::Oplock(b)) => b.encode(out),
            Request::OplockBreak(OplockBreakAck::Lease(b)) => b.encode(out),
        }
    }
}

/// A response body to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// NEGOTIATE.
    Negotiate(NegotiateResponse),
    /// SESSION_SETUP.
    SessionSetup(SessionSetupResponse),
    /// LOGOFF.
    Logoff(LogoffResponse),
    /// TREE_CONNECT.
    TreeConnect(TreeConnectResponse),
    /// TREE_DISCONNECT.
    TreeDisconnect(TreeDisconnectResponse),
    /// CREATE.
    Create(CreateResponse),
    /// CLOSE.
    Close(CloseResponse),
    /// FLUSH.
    Flush(FlushResponse),
    /// READ.
    Read(ReadResponse),
    /// WRITE.
    Write(WriteResponse),
    /// LOCK.
    Lock(LockResponse),
    /// IOCTL.
    Ioctl(IoctlResponse),
    /// ECHO.
    Echo(EchoResponse),
    /// QUERY_DIRECTORY.
    QueryDirectory(QueryDirectoryResponse),
    /// CHANGE_NOTIFY.
    ChangeNotify(ChangeNotifyResponse),
    /// QUERY_INFO.
    QueryInfo(QueryInfoResponse),
    /// SET_INFO.
    SetInfo(SetInfoResponse),
    /// Oplock break notification (unsolicited) or response to an acknowledgment.
    OplockBreak(OplockBreak),
    /// Lease break notification (unsolicited).
    LeaseBreakNotification(LeaseBreakNotification),
    /// Response to a lease break acknowledgment.
    LeaseBreak(LeaseBreakAck),
    /// ERROR response.
    Error(ErrorResponse),
}

impl Response {
    /// Append the body (header already at index 0 of `out`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Response::Negotiate(b) => b.encode(out),
            Response::SessionSetup(b) => b.encode(out),
            Response::Logoff(b) => b.encode(out),
            Response::TreeConnect(b) => b.encode(out),
            Response::TreeDisconnect(b) => b.encode(out),
            Response::Create(b) => b.encode(out),
            Response::Close(b) => b.encode(out),
            Response::Flush(b) => b.encode(out),
            Response::Read(b) => b.encode(out),
            Response::Write(b) => b.encode(out),
            Response::Lock(b) => b.encode(out),
            Response::Ioctl(b) => b.encode(out),
            Response::Echo(b) => b.encode(out),
            Response::QueryDirectory(b) => b.encode(out),
            Response::ChangeNotify(b) => b.encode(out),
            Response::QueryInfo(b) => b.encode(out),
            Response::SetInfo(b) => b.encode(out),
            Response::OplockBreak(b) => b.encode(out),
            Response::LeaseBreakNotification(b) => b.encode(out),
            Response::LeaseBreak(b) => b.encode(out),
            Response::Error(b) => b.encode(out),
        }
    }

    /// Decode a response (client side and tests). A 9-byte body on a command whose normal
    /// response is not 9 bytes, or on any command with an error status (except the
    /// success-shaped MORE_PROCESSING_REQUIRED of SESSION_SETUP), is an [`ErrorResponse`].
    pub fn decode(hdr: &Header, msg: &[u8]) -> Result<Response, WireError> {
        let size = structure_size(msg)?;
        let status = NtStatus(hdr.status);
        let nine_is_normal = matches!(
            hdr.command,
            Command::SESSION_SETUP
                | Command::QUERY_DIRECTORY
                | Command::CHANGE_NOTIFY
                | Command::QUERY_INFO
        );
        let is_error = size == ErrorResponse::STRUCTURE_SIZE
            && (!nine_is_normal
                || (status.is_error() && status != NtStatus::MORE_PROCESSING_REQUIRED));
        if is_error {
            return Ok(Response::Error(ErrorResponse::decode(msg)?));
        }
        Ok(match hdr.command {
            Command::NEGOTIATE => Response::Negotiate(NegotiateResponse::decode(msg)?),
            Command::SESSION_SETUP => Response::SessionSetup(SessionSetupResponse::decode(msg)?),
            Command::LOGOFF => Response::Logoff(LogoffResponse::decode(msg)?),
            Command::TREE_CONNECT => Response::TreeConnect(TreeConnectResponse::decode(msg)?),
            Command::TREE_DISCONNECT => {
                Response::TreeDisconnect(TreeDisconnectResponse::decode(msg)?)
            }
            Command::CREATE => Response::Create(CreateResponse::decode(msg)?),
            Command::CLOSE => Response::Close(CloseResponse::decode(msg)?),
            Command::FLUSH => Response::Flush(FlushResponse::decode(msg)?),
            Command::READ => Response::Read(ReadResponse::decode(msg)?),
            Command::WRITE => Response::Write(WriteResponse::decode(msg)?),
            Command::LOCK => Response::Lock(LockResponse::decode(msg)?),
            Command::IOCTL => Response::Ioctl(IoctlResponse::decode(msg)?),
            Command::ECHO => Response::Echo(EchoResponse::decode(msg)?),
            Command::QUERY_DIRECTORY => {
                Response::QueryDirectory(QueryDirectoryResponse::decode(msg)?)
            }
            Command::CHANGE_NOTIFY => Response::ChangeNotify(ChangeNotifyResponse::decode(msg)?),
            Command::QUERY_INFO => Response::QueryInfo(QueryInfoResponse::decode(msg)?),
            Command::SET_INFO => Response::SetInfo(SetInfoResponse::decode(msg)?),
            Command::OPLOCK_BREAK => match size {
                OplockBreak::STRUCTURE_SIZE => Response::OplockBreak(OplockBreak::decode(msg)?),
                LeaseBreakNotification::STRUCTURE_SIZE => {
                    Response::LeaseBreakNotification(LeaseBreakNotification::decode(msg)?)
                }
                LeaseBreakAck::STRUCTURE_SIZE => Response::LeaseBreak(LeaseBreakAck::decode(msg)?),
                _ => return Err(WireError::BadStructureSize),
            },
            _ => return Err(WireError::BadValue),
        })
    }
}

/// Prepare one encoded message (header at index 0) for a compound chain: unless it is the
/// last one, pad it with zeros to a multiple of 8 and set its NextCommand to the padded
/// length; the last one gets NextCommand 0. Sign each message after this step (the
/// signature covers the padding), then concatenate them.
pub fn finish_compound_member(msg: &mut Vec<u8>, last: bool) {
    use crate::codec::Writer;
    const NEXT_COMMAND_AT: usize = 20;
    if last {
        msg.patch_u32(NEXT_COMMAND_AT, 0);
    } else {
        msg.align_to(8);
        let len = crate::codec::sat32(msg.len());
        msg.patch_u32(NEXT_COMMAND_AT, len);
    }
}

/// Bound on the messages of one compound chain.
pub const MAX_COMPOUND: usize = 1024;

/// Split a compound chain into `(start, len)` of each message. NextCommand must be 0 (last)
/// or 8-byte aligned, at least 64, and inside the buffer; the chain is bounded by
/// [`MAX_COMPOUND`]. Each message must hold at least a header.
pub fn split_compound(buf: &[u8]) -> Result<Vec<(usize, usize)>, WireError> {
    let mut out = Vec::new();
    let mut start = 0usize;
    loop {
        if out.len() >= MAX_COMPOUND {
            return Err(WireError::TooLarge);
        }
        let rest = buf.get(start..).ok_or(WireError::BadOffset)?;
        if rest.len() < HEADER_SIZE {
            return Err(WireError::Truncated);
        }
        let hdr = Header::decode(rest)?;
        let next = hdr.next_command as usize;
        if next == 0 {
            out.push((start, rest.len()));
            return Ok(out);
        }
        if next % 8 != 0 || next < HEADER_SIZE {
            return Err(WireError::BadValue);
        }
        if next >= rest.len() {
            return Err(WireError::BadOffset);
        }
        out.push((start, next));
        start = start.checked_add(next).ok_or(WireError::BadOffset)?;
    }
}
