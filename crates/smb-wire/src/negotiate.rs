//! SMB2 NEGOTIATE request/response and the 3.1.1 negotiate contexts (MS-SMB2 2.2.3, 2.2.4).

use crate::codec::{
    body_reader, buffer_at, sat16, sat32, utf16le, utf16le_to_string, Reader, Writer,
};
use crate::header::HEADER_SIZE;
use crate::WireError;

/// SMB 2.0.2.
pub const SMB202: u16 = 0x0202;
/// SMB 2.1.
pub const SMB210: u16 = 0x0210;
/// SMB 3.0.
pub const SMB300: u16 = 0x0300;
/// SMB 3.0.2.
pub const SMB302: u16 = 0x0302;
/// SMB 3.1.1.
pub const SMB311: u16 = 0x0311;
/// "SMB 2.???" answer to a multi-protocol (SMB1) negotiate.
pub const WILDCARD: u16 = 0x02FF;

/// SecurityMode bits.
pub mod security_mode {
    /// Signing is enabled.
    pub const SIGNING_ENABLED: u16 = 0x0001;
    /// Signing is required.
    pub const SIGNING_REQUIRED: u16 = 0x0002;
}

/// Global capability bits.
pub mod capabilities {
    /// DFS.
    pub const DFS: u32 = 0x0000_0001;
    /// Leasing.
    pub const LEASING: u32 = 0x0000_0002;
    /// Multi-credit operations.
    pub const LARGE_MTU: u32 = 0x0000_0004;
    /// Multichannel.
    pub const MULTI_CHANNEL: u32 = 0x0000_0008;
    /// Persistent handles.
    pub const PERSISTENT_HANDLES: u32 = 0x0000_0010;
    /// Directory leasing.
    pub const DIRECTORY_LEASING: u32 = 0x0000_0020;
    /// Encryption (3.0/3.0.2).
    pub const ENCRYPTION: u32 = 0x0000_0040;
    /// Notifications (3.1.1).
    pub const NOTIFICATIONS: u32 = 0x0000_0080;
}

/// Negotiate context type ids.
pub mod context_type {
    /// PREAUTH_INTEGRITY_CAPABILITIES.
    pub const PREAUTH_INTEGRITY: u16 = 0x0001;
    /// ENCRYPTION_CAPABILITIES.
    pub const ENCRYPTION: u16 = 0x0002;
    /// COMPRESSION_CAPABILITIES.
    pub const COMPRESSION: u16 = 0x0003;
    /// NETNAME_NEGOTIATE_CONTEXT_ID.
    pub const NETNAME: u16 = 0x0005;
    /// TRANSPORT_CAPABILITIES.
    pub const TRANSPORT: u16 = 0x0006;
    /// RDMA_TRANSFORM_CAPABILITIES.
    pub const RDMA_TRANSFORM: u16 = 0x0007;
    /// SIGNING_CAPABILITIES.
    pub const SIGNING: u16 = 0x0008;
}

/// Preauth integrity hash id: SHA-512.
pub const HASH_SHA512: u16 = 0x0001;

/// Cipher ids.
pub mod cipher {
    /// AES-128-CCM.
    pub const AES128_CCM: u16 = 0x0001;
    /// AES-128-GCM.
    pub const AES128_GCM: u16 = 0x0002;
    /// AES-256-CCM.
    pub const AES256_CCM: u16 = 0x0003;
    /// AES-256-GCM.
    pub const AES256_GCM: u16 = 0x0004;
}

/// Signing algorithm ids.
pub mod signing {
    /// HMAC-SHA256.
    pub const HMAC_SHA256: u16 = 0x0000;
    /// AES-CMAC.
    pub const AES_CMAC: u16 = 0x0001;
    /// AES-GMAC.
    pub const AES_GMAC: u16 = 0x0002;
}

/// Bound on dialects, contexts and ids within a context.
pub const MAX_ITEMS: usize = 1024;
/// Bound on a security buffer (SPNEGO token).
pub const MAX_SECURITY_BUFFER: usize = 64 * 1024;

/// A 3.1.1 negotiate context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiateContext {
    /// Preauth integrity: hash ids and salt.
    PreauthIntegrity {
        /// Hash algorithm ids (SHA-512 = 1).
        hash_algorithms: Vec<u16>,
        /// Salt.
        salt: Vec<u8>,
    },
    /// Cipher ids in preference order.
    Encryption {
        /// [`cipher`] ids.
        ciphers: Vec<u16>,
    },
    /// Compression capabilities.
    Compression {
        /// Flags (chained = 1).
        flags: u32,
        /// Algorithm ids.
        algorithms: Vec<u16>,
    },
    /// The server name the client connected to.
    NetnameNegotiateContextId {
        /// Server name.
        netname: String,
    },
    /// Transport capabilities (QUIC security).
    TransportCapabilities {
        /// Flags.
        flags: u32,
    },
    /// RDMA transform ids.
    RdmaTransformCapabilities {
        /// Transform ids.
        transforms: Vec<u16>,
    },
    /// Signing algorithm ids.
    SigningCapabilities {
        /// [`signing`] ids.
        algorithms: Vec<u16>,
    },
    /// A context this crate does not know.
    Unknown {
        /// ContextType.
        context_type: u16,
        /// Raw data.
        data: Vec<u8>,
    },
}

fn read_ids(r: &mut Reader<'_>, count: usize) -> Result<Vec<u16>, WireError> {
    if count > MAX_ITEMS {
        return Err(WireError::TooLarge);
    }
    let mut v = Vec::with_capacity(count.min(r.remaining() / 2));
    for _ in 0..count {
        v.push(r.u16()?);
    }
    Ok(v)
}

fn put_ids(out: &mut Vec<u8>, ids: &[u16]) {
    for id in ids {
        out.put_u16(*id);
    }
}

impl NegotiateContext {
    /// The ContextType of this context.
    pub fn context_type(&self) -> u16 {
        match self {
            NegotiateContext::PreauthIntegrity { .. } => context_type::PREAUTH_INTEGRITY,
            NegotiateContext::Encryption { .. } => context_type::ENCRYPTION,
            NegotiateContext::Compression { .. } => context_type::COMPRESSION,
            NegotiateContext::NetnameNegotiateContextId { .. } => context_type::NETNAME,
            NegotiateContext::TransportCapabilities { .. } => context_type::TRANSPORT,
            NegotiateContext::RdmaTransformCapabilities { .. } => context_type::RDMA_TRANSFORM,
            NegotiateContext::SigningCapabilities { .. } => context_type::SIGNING,
            NegotiateContext::Unknown { context_type, .. } => *context_type,
        }
    }

    /// Parse the Data of a context of type `ty`.
    pub fn parse(ty: u16, data: &[u8]) -> Result<NegotiateContext, WireError> {
        let mut r = Reader::new(data);
        Ok(match ty {
            context_type::PREAUTH_INTEGRITY => {
                let n = usize::from(r.u16()?);
                let salt_len = usize::from(r.u16()?);
                let hash_algorithms = read_ids(&mut r, n)?;
                let salt = r.bytes(salt_len)?.to_vec();
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms,
                    salt,
                }
            }
            context_type::ENCRYPTION => {
                let n = usize::from(r.u16()?);
                NegotiateContext::Encryption {
                    ciphers: read_ids(&mut r, n)?,
                }
            }
            context_type::COMPRESSION => {
                let n = usize::from(r.u16()?);
                r.skip(2)?;
                let flags = r.u32()?;
                NegotiateContext::Compression {
                    flags,
                    algorithms: read_ids(&mut r, n)?,
                }
            }
            context_type::NETNAME => {
                let mut s = utf16le_to_string(data)?;
                // Some clients include a terminating NUL.
                while s.ends_with('\0') {
                    s.pop();
                }
                NegotiateContext::NetnameNegotiateContextId { netname: s }
            }
            context_type::TRANSPORT => NegotiateContext::TransportCapabilities { flags: r.u32()? },
            context_type::RDMA_TRANSFORM => {
                let n = usize::from(r.u16()?);
                r.skip(6)?;
                NegotiateContext::RdmaTransformCapabilities {
                    transforms: read_ids(&mut r, n)?,
                }
            }
            context_type::SIGNING => {
                let n = usize::from(r.u16()?);
                NegotiateContext::SigningCapabilities {
                    algorithms: read_ids(&mut r, n)?,
                }
            }
            _ => NegotiateContext::Unknown {
                context_type: ty,
                data: data.to_vec(),
            },
        })
    }

    /// Append the Data of this context.
    pub fn encode_data(&self, out: &mut Vec<u8>) {
        match self {
            NegotiateContext::PreauthIntegrity {
                hash_algorithms,
                salt,
            } => {
                out.put_u16(sat16(hash_algorithms.len()));
                out.put_u16(sat16(salt.len()));
                put_ids(out, hash_algorithms);
                out.put_bytes(salt);
            }
            NegotiateContext::Encryption { ciphers } => {
                out.put_u16(sat16(ciphers.len()));
                put_ids(out, ciphers);
            }
            NegotiateContext::Compression { flags, algorithms } => {
                out.put_u16(sat16(algorithms.len()));
                out.put_u16(0);
                out.put_u32(*flags);
                put_ids(out, algorithms);
            }
            NegotiateContext::NetnameNegotiateContextId { netname } => {
                out.put_bytes(&utf16le(netname));
            }
            NegotiateContext::TransportCapabilities { flags } => out.put_u32(*flags),
            NegotiateContext::RdmaTransformCapabilities { transforms } => {
                out.put_u16(sat16(transforms.len()));
                out.put_zeros(6);
                put_ids(out, transforms);
            }
            NegotiateContext::SigningCapabilities { algorithms } => {
                out.put_u16(sat16(algorithms.len()));
                put_ids(out, algorithms);
            }
            NegotiateContext::Unknown { data, .. } => out.put_bytes(data),
        }
    }
}

/// Parse `count` negotiate contexts starting at header-relative `offset` of `msg`. Each
/// context starts 8-byte aligned (relative to the header) after the previous one.
pub fn decode_negotiate_contexts(
    msg: &[u8],
    offset: usize,
    count: usize,
) -> Result<Vec<NegotiateContext>, WireError> {
    if count > MAX_ITEMS {
        return Err(WireError::TooLarge);
    }
    if count > 0 && (offset < HEADER_SIZE || offset % 8 != 0) {
        return Err(WireError::BadOffset);
    }
    let mut out = Vec::with_capacity(count.min(64));
    let mut pos = offset;
    for i in 0..count {
        if i > 0 {
            pos = pos.checked_add(7).ok_or(WireError::BadOffset)? & !7;
        }
        let mut r = Reader::at(msg, pos);
        let ty = r.u16()?;
        let len = usize::from(r.u16()?);
        r.skip(4)?;
        let data = r.bytes(len)?;
        out.push(NegotiateContext::parse(ty, data)?);
        pos = r.pos();
    }
    Ok(out)
}

/// Append contexts, 8-byte aligning `out` (whose index 0 is the header) before each one.
pub fn encode_negotiate_contexts(ctxs: &[NegotiateContext], out: &mut Vec<u8>) {
    for c in ctxs {
        out.align_to(8);
        out.put_u16(c.context_type());
        let len_at = out.len();
        out.put_u16(0);
        out.put_u32(0);
        let start = out.len();
        c.encode_data(out);
        let len = out.len() - start;
        out.patch_u16(len_at, sat16(len));
    }
}

/// NEGOTIATE request (MS-SMB2 2.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateRequest {
    /// [`security_mode`] bits.
    pub security_mode: u16,
    /// [`capabilities`] bits.
    pub capabilities: u32,
    /// ClientGuid.
    pub client_guid: [u8; 16],
    /// Offered dialects.
    pub dialects: Vec<u16>,
    /// Negotiate contexts (only read when 0x0311 is offered).
    pub contexts: Vec<NegotiateContext>,
}

impl NegotiateRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 36;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let dialect_count = usize::from(r.u16()?);
        let security_mode = r.u16()?;
        r.skip(2)?;
        let capabilities = r.u32()?;
        let client_guid = r.array()?;
        let ctx_offset = r.u32()? as usize;
        let ctx_count = usize::from(r.u16()?);
        r.skip(2)?;
        if dialect_count == 0 {
            return Err(WireError::BadValue);
        }
        let dialects = read_ids(&mut r, dialect_count)?;
        let contexts = if dialects.contains(&SMB311) {
            decode_negotiate_contexts(msg, ctx_offset, ctx_count)?
        } else {
            Vec::new()
        };
        Ok(NegotiateRequest {
            security_mode,
            capabilities,
            client_guid,
            dialects,
            contexts,
        })
    }

    /// Append the body (header already at index 0 of `out`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(sat16(self.dialects.len()));
        out.put_u16(self.security_mode);
        out.put_u16(0);
        out.put_u32(self.capabilities);
        out.put_bytes(&self.client_guid);
        let off_at = out.len();
        out.put_u32(0);
        out.put_u16(sat16(self.contexts.len()));
        out.put_u16(0);
        put_ids(out, &self.dialects);
        if !self.contexts.is_empty() {
            out.align_to(8);
            out.patch_u32(off_at, sat32(out.len()));
            encode_negotiate_contexts(&self.contexts, out);
        }
    }
}

/// NEGOTIATE response (MS-SMB2 2.2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateResponse {
    /// [`security_mode`] bits.
    pub security_mode: u16,
    /// The selected dialect.
    pub dialect: u16,
    /// ServerGuid.
    pub guid: [u8; 16],
    /// [`capabilities`] bits.
    pub capabilities: u32,
    /// MaxTransactSize.
    pub max_transact: u32,
    /// MaxReadSize.
    pub max_read: u32,
    /// MaxWriteSize.
    pub max_write: u32,
    /// Current time (FILETIME).
    pub system_time: u64,
    /// Server start time (FILETIME, 0 allowed).
    pub server_start_time: u64,
    /// The initial SPNEGO token.
    pub security_buffer: Vec<u8>,
    /// Negotiate contexts (3.1.1 only).
    pub contexts: Vec<NegotiateContext>,
}

impl NegotiateResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 65;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let security_mode = r.u16()?;
        let dialect = r.u16()?;
        let ctx_count = usize::from(r.u16()?);
        let guid = r.array()?;
        let capabilities = r.u32()?;
        let max_transact = r.u32()?;
        let max_read = r.u32()?;
        let max_write = r.u32()?;
        let system_time = r.u64()?;
        let server_start_time = r.u64()?;
        let sb_off = r.u16()?;
        let sb_len = r.u16()?;
        let ctx_offset = r.u32()? as usize;
        let security_buffer = buffer_at(
            msg,
            u32::from(sb_off),
            u32::from(sb_len),
            MAX_SECURITY_BUFFER,
        )?
        .to_vec();
        let contexts = if dialect == SMB311 {
            decode_negotiate_contexts(msg, ctx_offset, ctx_count)?
        } else {
            Vec::new()
        };
        Ok(NegotiateResponse {
            security_mode,
            dialect,
            guid,
            capabilities,
            max_transact,
            max_read,
            max_write,
            system_time,
            server_start_time,
            security_buffer,
            contexts,
        })
    }

    /// Append the body (header already at index 0 of `out`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u16(self.security_mode);
        out.put_u16(self.dialect);
        out.put_u16(sat16(self.contexts.len()));
        out.put_bytes(&self.guid);
        out.put_u32(self.capabilities);
        out.put_u32(self.max_transact);
        out.put_u32(self.max_read);
        out.put_u32(self.max_write);
        out.put_u64(self.system_time);
        out.put_u64(self.server_start_time);
        let sb_at = out.len();
        out.put_u16(0);
        out.put_u16(sat16(self.security_buffer.len()));
        let ctx_at = out.len();
        out.put_u32(0);
        out.patch_u16(sb_at, sat16(out.len()));
        out.put_bytes(&self.security_buffer);
        if self.security_buffer.is_empty() {
            out.put_u8(0);
        }
        if !self.contexts.is_empty() {
            out.align_to(8);
            out.patch_u32(ctx_at, sat32(out.len()));
            encode_negotiate_contexts(&self.contexts, out);
        }
    }
}
