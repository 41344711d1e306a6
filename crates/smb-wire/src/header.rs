//! The 64-byte SMB2 packet header (MS-SMB2 2.2.1) and SMB1 negotiate detection.

use std::fmt;

use crate::codec::{Reader, Writer};
use crate::WireError;

/// Size of the SMB2 header; every body starts at this offset of its message.
pub const HEADER_SIZE: usize = 64;

/// The SMB2 protocol identifier, 0xFE 'S' 'M' 'B'.
pub const PROTOCOL_ID: [u8; 4] = [0xFE, b'S', b'M', b'B'];

/// The SMB1 protocol identifier, 0xFF 'S' 'M' 'B'.
pub const SMB1_PROTOCOL_ID: [u8; 4] = [0xFF, b'S', b'M', b'B'];

/// An SMB2 command code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Command(pub u16);

macro_rules! commands {
    ($($name:ident = $val:expr,)*) => {
        impl Command {
            $(#[doc = concat!("SMB2 ", stringify!($name))]
            pub const $name: Command = Command($val);)*
        }
        fn command_name(v: u16) -> Option<&'static str> {
            match v {
                $($val => Some(stringify!($name)),)*
                _ => None,
            }
        }
    };
}

commands! {
    NEGOTIATE = 0x00,
    SESSION_SETUP = 0x01,
    LOGOFF = 0x02,
    TREE_CONNECT = 0x03,
    TREE_DISCONNECT = 0x04,
    CREATE = 0x05,
    CLOSE = 0x06,
    FLUSH = 0x07,
    READ = 0x08,
    WRITE = 0x09,
    LOCK = 0x0A,
    IOCTL = 0x0B,
    CANCEL = 0x0C,
    ECHO = 0x0D,
    QUERY_DIRECTORY = 0x0E,
    CHANGE_NOTIFY = 0x0F,
    QUERY_INFO = 0x10,
    SET_INFO = 0x11,
    OPLOCK_BREAK = 0x12,
}

impl Command {
    /// One of the 19 commands defined by MS-SMB2 (0x00..=0x12).
    pub fn is_known(self) -> bool {
        self.0 <= 0x12
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match command_name(self.0) {
            Some(n) => f.write_str(n),
            None => write!(f, "Command(0x{:04X})", self.0),
        }
    }
}

/// Header Flags bits (MS-SMB2 2.2.1.1/2.2.1.2).
pub mod flags {
    /// The message is a response.
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    /// The header is the async form (AsyncId instead of ProcessId/TreeId).
    pub const ASYNC_COMMAND: u32 = 0x0000_0002;
    /// The message is a related operation of a compound chain.
    pub const RELATED_OPERATIONS: u32 = 0x0000_0004;
    /// The message is signed.
    pub const SIGNED: u32 = 0x0000_0008;
    /// The priority value (3.1.1), bits 4..=6.
    pub const PRIORITY_MASK: u32 = 0x0000_0070;
    /// The path is a DFS path.
    pub const DFS_OPERATIONS: u32 = 0x1000_0000;
    /// The request is a replay (3.x).
    pub const REPLAY_OPERATION: u32 = 0x2000_0000;
}

/// A decoded SMB2 header (sync or async form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Credits this request consumes (CreditCharge).
    pub credit_charge: u16,
    /// NTSTATUS in responses; ChannelSequence (low 16 bits) + Reserved in 3.x requests.
    pub status: u32,
    /// The command.
    pub command: Command,
    /// CreditRequest (requests) / CreditResponse (responses).
    pub credits: u16,
    /// [`flags`] bits.
    pub flags: u32,
    /// Offset of the next message of a compound chain from this header, or 0.
    pub next_command: u32,
    /// MessageId.
    pub message_id: u64,
    /// AsyncId; valid iff `flags & ASYNC_COMMAND` (0 in the sync form).
    pub async_id: u64,
    /// ProcessId (sync form only; 0 in the async form).
    pub process_id: u32,
    /// TreeId (sync form only; 0 in the async form).
    pub tree_id: u32,
    /// SessionId.
    pub session_id: u64,
    /// Signature (zero when unsigned).
    pub signature: [u8; 16],
}

impl Header {
    /// A header with every field zero except the command (fill in the rest).
    pub fn new(command: Command) -> Self {
        Header {
            credit_charge: 0,
            status: 0,
            command,
            credits: 0,
            flags: 0,
            next_command: 0,
            message_id: 0,
            async_id: 0,
            process_id: 0,
            tree_id: 0,
            session_id: 0,
            signature: [0; 16],
        }
    }

    /// Decode the header at the start of `msg`; checks ProtocolId and StructureSize (64).
    pub fn decode(msg: &[u8]) -> Result<Header, WireError> {
        let mut r = Reader::new(msg);
        if r.array::<4>()? != PROTOCOL_ID {
            return Err(WireError::BadProtocolId);
        }
        if r.u16()? != HEADER_SIZE as u16 {
            return Err(WireError::BadStructureSize);
        }
        let credit_charge = r.u16()?;
        let status = r.u32()?;
        let command = Command(r.u16()?);
        let credits = r.u16()?;
        let flags = r.u32()?;
        let next_command = r.u32()?;
        let message_id = r.u64()?;
        let (async_id, process_id, tree_id) = if flags & flags::ASYNC_COMMAND != 0 {
            (r.u64()?, 0, 0)
        } else {
            (0, r.u32()?, r.u32()?)
        };
        let session_id = r.u64()?;
        let signature = r.array::<16>()?;
        Ok(Header {
            credit_charge,
            status,
            command,
            credits,
            flags,
            next_command,
            message_id,
            async_id,
            process_id,
            tree_id,
            session_id,
            signature,
        })
    }

    /// Append the 64-byte header to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_bytes(&PROTOCOL_ID);
        out.put_u16(HEADER_SIZE as u16);
        out.put_u16(self.credit_charge);
        out.put_u32(self.status);
        out.put_u16(self.command.0);
        out.put_u16(self.credits);
        out.put_u32(self.flags);
        out.put_u32(self.next_command);
        out.put_u64(self.message_id);
        if self.is_async() {
            out.put_u64(self.async_id);
        } else {
            out.put_u32(self.process_id);
            out.put_u32(self.tree_id);
        }
        out.put_u64(self.session_id);
        out.put_bytes(&self.signature);
    }

    /// SERVER_TO_REDIR is set.
    pub fn is_response(&self) -> bool {
        self.flags & flags::SERVER_TO_REDIR != 0
    }
    /// ASYNC_COMMAND is set.
    pub fn is_async(&self) -> bool {
        self.flags & flags::ASYNC_COMMAND != 0
    }
    /// RELATED_OPERATIONS is set.
    pub fn is_related(&self) -> bool {
        self.flags & flags::RELATED_OPERATIONS != 0
    }
    /// SIGNED is set.
    pub fn is_signed(&self) -> bool {
        self.flags & flags::SIGNED != 0
    }
    /// The ChannelSequence of a 3.x request (low 16 bits of the Status field).
    pub fn channel_sequence(&self) -> u16 {
        (self.status & 0xFFFF) as u16
    }
}

/// SMB1 command code of SMB_COM_NEGOTIATE.
const SMB1_COM_NEGOTIATE: u8 = 0x72;
/// Size of the SMB1 header.
const SMB1_HEADER_SIZE: usize = 32;
/// Bound on the number of dialect strings read from an SMB1 NEGOTIATE.
pub const MAX_SMB1_DIALECTS: usize = 64;

/// `msg` is an SMB1 NEGOTIATE (0xFF 'S' 'M' 'B', command 0x72): a client probing for SMB2
/// support with "SMB 2.002"/"SMB 2.???" in its dialect list.
pub fn is_smb1_negotiate(msg: &[u8]) -> bool {
    msg.get(..4) == Some(&SMB1_PROTOCOL_ID[..]) && msg.get(4) == Some(&SMB1_COM_NEGOTIATE)
}

/// The dialect strings of an SMB1 NEGOTIATE (each a 0x02 buffer-format byte followed by a
/// NUL-terminated OEM string), e.g. `["NT LM 0.12", "SMB 2.002", "SMB 2.???"]`.
pub fn smb1_dialects(msg: &[u8]) -> Result<Vec<String>, WireError> {
    if !is_smb1_negotiate(msg) {
        return Err(WireError::BadProtocolId);
    }
    let mut r = Reader::at(msg, SMB1_HEADER_SIZE);
    let word_count = r.u8()?;
    r.skip(usize::from(word_count) * 2)?;
    let byte_count = usize::from(r.u16()?);
    let bytes = r.bytes(byte_count)?;
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some((&fmt, tail)) = rest.split_first() {
        if fmt != 0x02 {
            return Err(WireError::BadValue);
        }
        let nul = tail
            .iter()
            .position(|&b| b == 0)
            .ok_or(WireError::Truncated)?;
        let (name, after) = tail.split_at(nul);
        if out.len() >= MAX_SMB1_DIALECTS {
            return Err(WireError::TooLarge);
        }
        out.push(String::from_utf8_lossy(name).into_owned());
        rest = after.get(1..).unwrap_or(&[]);
    }
    Ok(out)
}
