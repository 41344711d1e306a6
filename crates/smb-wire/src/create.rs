//! CREATE request/response and create contexts (MS-SMB2 2.2.13, 2.2.14).

use crate::codec::{
    body_reader, buffer_at, sat16, sat32, utf16le, utf16le_to_string, Reader, Writer,
};
use crate::file::FileId;
use crate::header::HEADER_SIZE;
use crate::status::NtStatus;
use crate::WireError;

/// CreateDisposition values.
pub mod disposition {
    /// Replace if exists, else create.
    pub const SUPERSEDE: u32 = 0;
    /// Open if exists, else fail.
    pub const OPEN: u32 = 1;
    /// Fail if exists, else create.
    pub const CREATE: u32 = 2;
    /// Open or create.
    pub const OPEN_IF: u32 = 3;
    /// Overwrite if exists, else fail.
    pub const OVERWRITE: u32 = 4;
    /// Overwrite or create.
    pub const OVERWRITE_IF: u32 = 5;
}

/// CreateOptions bits.
pub mod options {
    /// The target must be a directory.
    pub const DIRECTORY_FILE: u32 = 0x0000_0001;
    /// Write through.
    pub const WRITE_THROUGH: u32 = 0x0000_0002;
    /// Sequential access only.
    pub const SEQUENTIAL_ONLY: u32 = 0x0000_0004;
    /// No intermediate buffering.
    pub const NO_INTERMEDIATE_BUFFERING: u32 = 0x0000_0008;
    /// Synchronous I/O alert (ignored).
    pub const SYNCHRONOUS_IO_ALERT: u32 = 0x0000_0010;
    /// Synchronous I/O non-alert (ignored).
    pub const SYNCHRONOUS_IO_NONALERT: u32 = 0x0000_0020;
    /// The target must not be a directory.
    pub const NON_DIRECTORY_FILE: u32 = 0x0000_0040;
    /// Complete if oplocked.
    pub const COMPLETE_IF_OPLOCKED: u32 = 0x0000_0100;
    /// No EA knowledge.
    pub const NO_EA_KNOWLEDGE: u32 = 0x0000_0200;
    /// Random access.
    pub const RANDOM_ACCESS: u32 = 0x0000_0800;
    /// Delete when the last handle closes.
    pub const DELETE_ON_CLOSE: u32 = 0x0000_1000;
    /// Open by file id.
    pub const OPEN_BY_FILE_ID: u32 = 0x0000_2000;
    /// Backup intent.
    pub const OPEN_FOR_BACKUP_INTENT: u32 = 0x0000_4000;
    /// No compression.
    pub const NO_COMPRESSION: u32 = 0x0000_8000;
    /// Open the reparse point itself.
    pub const OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    /// Do not recall.
    pub const OPEN_NO_RECALL: u32 = 0x0040_0000;
    /// Open for free-space query.
    pub const OPEN_FOR_FREE_SPACE_QUERY: u32 = 0x0080_0000;
}

/// ShareAccess bits.
pub mod share_access {
    /// Others may read.
    pub const READ: u32 = 0x0000_0001;
    /// Others may write.
    pub const WRITE: u32 = 0x0000_0002;
    /// Others may delete.
    pub const DELETE: u32 = 0x0000_0004;
}

/// ImpersonationLevel values.
pub mod impersonation {
    /// Anonymous.
    pub const ANONYMOUS: u32 = 0;
    /// Identification.
    pub const IDENTIFICATION: u32 = 1;
    /// Impersonation.
    pub const IMPERSONATION: u32 = 2;
    /// Delegate.
    pub const DELEGATE: u32 = 3;
}

/// Oplock levels.
pub mod oplock {
    /// None.
    pub const NONE: u8 = 0x00;
    /// Level II.
    pub const LEVEL_II: u8 = 0x01;
    /// Exclusive.
    pub const EXCLUSIVE: u8 = 0x08;
    /// Batch.
    pub const BATCH: u8 = 0x09;
    /// A lease (see the RqLs context).
    pub const LEASE: u8 = 0xFF;
}

/// CreateAction values.
pub mod action {
    /// The file was superseded.
    pub const SUPERSEDED: u32 = 0;
    /// An existing file was opened.
    pub const OPENED: u32 = 1;
    /// A new file was created.
    pub const CREATED: u32 = 2;
    /// An existing file was overwritten.
    pub const OVERWRITTEN: u32 = 3;
}

/// Lease state bits.
pub mod lease {
    /// Read caching.
    pub const READ_CACHING: u32 = 0x01;
    /// Handle caching.
    pub const HANDLE_CACHING: u32 = 0x02;
    /// Write caching.
    pub const WRITE_CACHING: u32 = 0x04;
    /// Lease flag: a break is in progress.
    pub const FLAG_BREAK_IN_PROGRESS: u32 = 0x02;
    /// Lease flag: ParentLeaseKey is set.
    pub const FLAG_PARENT_LEASE_KEY_SET: u32 = 0x04;
}

/// Durable v2 flag: persistent handle.
pub const DHANDLE_FLAG_PERSISTENT: u32 = 0x0000_0002;

/// Context names (4-byte tags, 16-byte GUIDs for the app-instance contexts).
pub mod names {
    /// Extended attributes.
    pub const EXTA: &[u8] = b"ExtA";
    /// Security descriptor.
    pub const SECD: &[u8] = b"SecD";
    /// Durable handle request v1.
    pub const DHNQ: &[u8] = b"DHnQ";
    /// Durable handle reconnect v1.
    pub const DHNC: &[u8] = b"DHnC";
    /// Durable handle request v2.
    pub const DH2Q: &[u8] = b"DH2Q";
    /// Durable handle reconnect v2.
    pub const DH2C: &[u8] = b"DH2C";
    /// Allocation size.
    pub const ALSI: &[u8] = b"AlSi";
    /// Maximal access.
    pub const MXAC: &[u8] = b"MxAc";
    /// Timewarp (previous versions).
    pub const TWRP: &[u8] = b"TWrp";
    /// Query on-disk id.
    pub const QFID: &[u8] = b"QFid";
    /// Lease request/response.
    pub const RQLS: &[u8] = b"RqLs";
    /// SMB2_CREATE_APP_INSTANCE_ID, the GUID 45BCA66A-EFA7-F74A-9008-FA462E144D74.
    pub const APP_INSTANCE_ID: &[u8] = &[
        0x45, 0xBC, 0xA6, 0x6A, 0xEF, 0xA7, 0xF7, 0x4A, 0x90, 0x08, 0xFA, 0x46, 0x2E, 0x14, 0x4D,
        0x74,
    ];
}

/// Bounds on create context chains.
pub const MAX_CREATE_CONTEXTS: usize = 64;
/// Bound on a file name in bytes (32767 UTF-16 units, the NT path limit).
pub const MAX_NAME_BYTES: usize = 65534;
/// Bound on the create contexts area.
pub const MAX_CONTEXTS_BYTES: usize = 1024 * 1024;

/// A create context sent by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateContext {
    /// MxAc: return the maximal access (optionally as of a timestamp).
    MaxAccess {
        /// Optional FILETIME.
        timestamp: Option<u64>,
    },
    /// QFid: return the on-disk id.
    QueryOnDiskId,
    /// DHnQ: durable handle v1.
    DurableRequest,
    /// DHnC: reconnect a v1 durable handle.
    DurableReconnect {
        /// The previous handle.
        file_id: FileId,
    },
    /// DH2Q: durable handle v2.
    DurableRequestV2 {
        /// Timeout in milliseconds.
        timeout: u32,
        /// Flags ([`DHANDLE_FLAG_PERSISTENT`]).
        flags: u32,
        /// CreateGuid.
        create_guid: [u8; 16],
    },
    /// DH2C: reconnect a v2 durable handle.
    DurableReconnectV2 {
        /// The previous handle.
        file_id: FileId,
        /// CreateGuid.
        create_guid: [u8; 16],
        /// Flags.
        flags: u32,
    },
    /// RqLs: lease request, v1 (32 bytes) or v2 (52 bytes: parent key and epoch).
    RequestLease {
        /// LeaseKey.
        key: [u8; 16],
        /// LeaseState.
        state: u32,
        /// LeaseFlags.
        flags: u32,
        /// LeaseDuration (reserved).
        duration: u64,
        /// ParentLeaseKey (v2).
        parent_key: Option<[u8; 16]>,
        /// Epoch (v2).
        epoch: Option<u16>,
    },
    /// ExtA: FILE_FULL_EA_INFORMATION list.
    ExtendedAttributes(Vec<u8>),
    /// SecD: self-relative security descriptor.
    SecurityDescriptor(Vec<u8>),
    /// AlSi: allocation size.
    AllocationSize(u64),
    /// TWrp: snapshot timestamp.
    Timewarp(u64),
    /// App instance id.
    AppInstanceId {
        /// AppInstanceId GUID.
        app_instance_id: [u8; 16],
    },
    /// Anything else (kept raw).
    Unknown {
        /// Context name.
        name: Vec<u8>,
        /// Context data.
        data: Vec<u8>,
    },
}

fn arr16(r: &mut Reader<'_>) -> Result<[u8; 16], WireError> {
    r.array::<16>()
}

impl CreateContext {
    /// Interpret one context by name. Known names with a malformed data length are errors.
    pub fn parse(name: &[u8], data: &[u8]) -> Result<CreateContext, WireError> {
        let mut r = Reader::new(data);
        let c = match name {
            n if n == names::MXAC => match data.len() {
                0 => CreateContext::MaxAccess { timestamp: None },
                8 => CreateContext::MaxAccess {
                    timestamp: Some(r.u64()?),
                },
                _ => return Err(WireError::BadValue),
            },
            n if n == names::QFID => CreateContext::QueryOnDiskId,
            n if n == names::DHNQ => {
                r.skip(16)?;
                CreateContext::DurableRequest
            }
            n if n == names::DHNC => CreateContext::DurableReconnect {
                file_id: FileId::read(&mut r)?,
            },
            n if n == names::DH2Q => {
                let timeout = r.u32()?;
                let flags = r.u32()?;
                r.skip(8)?;
                CreateContext::DurableRequestV2 {
                    timeout,
                    flags,
                    create_guid: arr16(&mut r)?,
                }
            }
            n if n == names::DH2C => {
                let file_id = FileId::read(&mut r)?;
                let create_guid = arr16(&mut r)?;
                CreateContext::DurableReconnectV2 {
                    file_id,
                    create_guid,
                    flags: r.u32()?,
                }
            }
            n if n == names::RQLS => {
                let key = arr16(&mut r)?;
                let state = r.u32()?;
                let flags = r.u32()?;
                let duration = r.u64()?;
                let (parent_key, epoch) = if data.len() >= 52 {
                    let pk = arr16(&mut r)?;
                    (Some(pk), Some(r.u16()?))
                } else {
                    (None, None)
                };
                CreateContext::RequestLease {
                    key,
                    state,
                    flags,
                    duration,
                    parent_key,
                    epoch,
                }
            }
            n if n == names::EXTA => CreateContext::ExtendedAttributes(data.to_vec()),
            n if n == names::SECD => CreateContext::SecurityDescriptor(data.to_vec()),
            n if n == names::ALSI => CreateContext::AllocationSize(r.u64()?),
            n if n == names::TWRP => CreateContext::Timewarp(r.u64()?),
            n if n == names::APP_INSTANCE_ID => {
                if r.u16()? != 20 {
                    return Err(WireError::BadStructureSize);
                }
                r.skip(2)?;
                CreateContext::AppInstanceId {
                    app_instance_id: arr16(&mut r)?,
                }
            }
            _ => CreateContext::Unknown {
                name: name.to_vec(),
                data: data.to_vec(),
            },
        };
        Ok(c)
    }

    /// The context's name.
    pub fn name(&self) -> &[u8] {
        match self {
            CreateContext::MaxAccess { .. } => names::MXAC,
            CreateContext::QueryOnDiskId => names::QFID,
            CreateContext::DurableRequest => names::DHNQ,
            CreateContext::DurableReconnect { .. } => names::DHNC,
            CreateContext::DurableRequestV2 { .. } => names::DH2Q,
            CreateContext::DurableReconnectV2 { .. } => names::DH2C,
            CreateContext::RequestLease { .. } => names::RQLS,
            CreateContext::ExtendedAttributes(_) => names::EXTA,
            CreateContext::SecurityDescriptor(_) => names::SECD,
            CreateContext::AllocationSize(_) => names::ALSI,
            CreateContext::Timewarp(_) => names::TWRP,
            CreateContext::AppInstanceId { .. } => names::APP_INSTANCE_ID,
            CreateContext::Unknown { name, .. } => name,
        }
    }

    /// The context's data.
    pub fn data(&self) -> Vec<u8> {
        let mut v = Vec::new();
        match self {
            CreateContext::MaxAccess { timestamp } => {
                if let Some(t) = timestamp {
                    v.put_u64(*t);
                }
            }
            CreateContext::QueryOnDiskId => {}
            CreateContext::DurableRequest => v.put_zeros(16),
            CreateContext::DurableReconnect { file_id } => file_id.write(&mut v),
            CreateContext::DurableRequestV2 {
                timeout,
                flags,
                create_guid,
            } => {
                v.put_u32(*timeout);
                v.put_u32(*flags);
                v.put_zeros(8);
                v.put_bytes(create_guid);
            }
            CreateContext::DurableReconnectV2 {
                file_id,
                create_guid,
                flags,
            } => {
                file_id.write(&mut v);
                v.put_bytes(create_guid);
                v.put_u32(*flags);
            }
            CreateContext::RequestLease {
                key,
                state,
                flags,
                duration,
                parent_key,
                epoch,
            } => {
                put_lease(&mut v, key, *state, *flags, *duration, *parent_key, *epoch);
            }
            CreateContext::ExtendedAttributes(d) | CreateContext::SecurityDescriptor(d) => {
                v.put_bytes(d)
            }
            CreateContext::AllocationSize(x) | CreateContext::Timewarp(x) => v.put_u64(*x),
            CreateContext::AppInstanceId { app_instance_id } => {
                v.put_u16(20);
                v.put_u16(0);
                v.put_bytes(app_instance_id);
            }
            CreateContext::Unknown { data, .. } => v.put_bytes(data),
        }
        v
    }
}

fn put_lease(
    v: &mut Vec<u8>,
    key: &[u8; 16],
    state: u32,
    flags: u32,
    duration: u64,
    parent_key: Option<[u8; 16]>,
    epoch: Option<u16>,
) {
    v.put_bytes(key);
    v.put_u32(state);
    v.put_u32(flags);
    v.put_u64(duration);
    if parent_key.is_some() || epoch.is_some() {
        v.put_bytes(&parent_key.unwrap_or([0; 16]));
        v.put_u16(epoch.unwrap_or(0));
        v.put_u16(0);
    }
}

/// A raw create context: (name, data).
pub type RawContext<'a> = (&'a [u8], &'a [u8]);

/// Walk a chain of raw create contexts in `area` (the bytes at CreateContextsOffset),
/// returning (name, data) pairs. Next must be 8-aligned, move forward and stay inside the
/// area; name and data must lie inside their context.
pub fn walk_create_contexts(area: &[u8]) -> Result<Vec<RawContext<'_>>, WireError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    if area.is_empty() {
        return Ok(out);
    }
    loop {
        if out.len() >= MAX_CREATE_CONTEXTS {
            return Err(WireError::TooLarge);
        }
        let ctx = area.get(pos..).ok_or(WireError::BadOffset)?;
        let mut r = Reader::new(ctx);
        let next = r.u32()? as usize;
        let name_off = usize::from(r.u16()?);
        let name_len = usize::from(r.u16()?);
        r.skip(2)?;
        let data_off = usize::from(r.u16()?);
        let data_len = r.u32()? as usize;
        // The context proper ends at Next (or the end of the area for the last one).
        let ctx = if next == 0 {
            ctx
        } else {
            ctx.get(..next).ok_or(WireError::BadOffset)?
        };
        let cr = Reader::new(ctx);
        if name_len == 0 || name_off < 16 {
            return Err(WireError::BadValue);
        }
        let name = cr.slice_at(name_off, name_len)?;
        if data_len != 0 && data_off < 16 {
            return Err(WireError::BadOffset);
        }
        let data = cr.slice_at(data_off, data_len)?;
        out.push((name, data));
        if next == 0 {
            break;
        }
        if next % 8 != 0 || next < 16 {
            return Err(WireError::BadOffset);
        }
        pos = pos.checked_add(next).ok_or(WireError::BadOffset)?;
    }
    Ok(out)
}

/// Parse a create context chain into [`CreateContext`]s.
pub fn decode_create_contexts(area: &[u8]) -> Result<Vec<CreateContext>, WireError> {
    walk_create_contexts(area)?
        .into_iter()
        .map(|(n, d)| CreateContext::parse(n, d))
        .collect()
}

/// Append a raw (name, data) chain; `out` must be 8-aligned relative to the message start
/// (the header), which the callers ensure.
fn encode_raw_contexts<'a>(items: impl Iterator<Item = (&'a [u8], Vec<u8>)>, out: &mut Vec<u8>) {
    let mut prev_next_at: Option<(usize, usize)> = None;
    for (name, data) in items {
        out.align_to(8);
        let start = out.len();
        if let Some((at, pstart)) = prev_next_at {
            out.patch_u32(at, sat32(start - pstart));
        }
        out.put_u32(0);
        out.put_u16(16);
        out.put_u16(sat16(name.len()));
        out.put_u16(0);
        let data_off_at = out.len();
        out.put_u16(0);
        out.put_u32(sat32(data.len()));
        out.put_bytes(name);
        if !data.is_empty() {
            out.align_to(8);
            out.patch_u16(data_off_at, sat16(out.len() - start));
            out.put_bytes(&data);
        }
        prev_next_at = Some((start, start));
    }
}

/// Append a request-side chain of create contexts (properly chained and 8-aligned).
pub fn encode_request_contexts(ctxs: &[CreateContext], out: &mut Vec<u8>) {
    encode_raw_contexts(ctxs.iter().map(|c| (c.name(), c.data())), out);
}

/// Maximal access response (MxAc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxAccessResponse {
    /// QueryStatus.
    pub status: NtStatus,
    /// MaximalAccess.
    pub maximal_access: u32,
}

/// On-disk id response (QFid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOnDiskIdResponse {
    /// DiskFileId.
    pub disk_file_id: u64,
    /// VolumeId.
    pub volume_id: u64,
}

/// Lease response (RqLs), v1 or v2 (`parent_key`/`epoch` present).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseResponse {
    /// LeaseKey.
    pub key: [u8; 16],
    /// Granted LeaseState.
    pub state: u32,
    /// LeaseFlags.
    pub flags: u32,
    /// ParentLeaseKey (v2).
    pub parent_key: Option<[u8; 16]>,
    /// Epoch (v2).
    pub epoch: Option<u16>,
}

/// A create context returned by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateContextResponse {
    /// MxAc.
    MaxAccess(MaxAccessResponse),
    /// QFid.
    QueryOnDiskId(QueryOnDiskIdResponse),
    /// DHnQ response (8 reserved bytes).
    Durable,
    /// DH2Q response.
    DurableV2 {
        /// Timeout granted (ms).
        timeout: u32,
        /// Flags granted.
        flags: u32,
    },
    /// RqLs.
    Lease(LeaseResponse),
    /// Anything else (kept raw).
    Unknown {
        /// Context name.
        name: Vec<u8>,
        /// Context data.
        data: Vec<u8>,
    },
}

impl CreateContextResponse {
    /// The context's name.
    pub fn name(&self) -> &[u8] {
        match self {
            CreateContextResponse::MaxAccess(_) => names::MXAC,
            CreateContextResponse::QueryOnDiskId(_) => names::QFID,
            CreateContextResponse::Durable => names::DHNQ,
            CreateContextResponse::DurableV2 { .. } => names::DH2Q,
            CreateContextResponse::Lease(_) => names::RQLS,
            CreateContextResponse::Unknown { name, .. } => name,
        }
    }

    /// The context's data.
    pub fn data(&self) -> Vec<u8> {
        let mut v = Vec::new();
        match self {
            CreateContextResponse::MaxAccess(m) => {
                v.put_u32(m.status.0);
                v.put_u32(m.maximal_access);
            }
            CreateContextResponse::QueryOnDiskId(q) => {
                v.put_u64(q.disk_file_id);
                v.put_u64(q.volume_id);
                v.put_zeros(16);
            }
            CreateContextResponse::Durable => v.put_zeros(8),
            CreateContextResponse::DurableV2 { timeout, flags } => {
                v.put_u32(*timeout);
                v.put_u32(*flags);
            }
            CreateContextResponse::Lease(l) => {
                put_lease(&mut v, &l.key, l.state, l.flags, 0, l.parent_key, l.epoch)
            }
            CreateContextResponse::Unknown { data, .. } => v.put_bytes(data),
        }
        v
    }

    /// Interpret one response context by name.
    pub fn parse(name: &[u8], data: &[u8]) -> Result<CreateContextResponse, WireError> {
        let mut r = Reader::new(data);
        Ok(match name {
            n if n == names::MXAC => CreateContextResponse::MaxAccess(MaxAccessResponse {
                status: NtStatus(r.u32()?),
                maximal_access: r.u32()?,
            }),
            n if n == names::QFID => CreateContextResponse::QueryOnDiskId(QueryOnDiskIdResponse {
                disk_file_id: r.u64()?,
                volume_id: r.u64()?,
            }),
            n if n == names::DHNQ => CreateContextResponse::Durable,
            n if n == names::DH2Q => CreateContextResponse::DurableV2 {
                timeout: r.u32()?,
                flags: r.u32()?,
            },
            n if n == names::RQLS => {
                let key = arr16(&mut r)?;
                let state = r.u32()?;
                let flags = r.u32()?;
                r.skip(8)?;
                let (parent_key, epoch) = if data.len() >= 52 {
                    let pk = arr16(&mut r)?;
                    (Some(pk), Some(r.u16()?))
                } else {
                    (None, None)
                };
                CreateContextResponse::Lease(LeaseResponse {
                    key,
                    state,
                    flags,
                    parent_key,
                    epoch,
                })
            }
            _ => CreateContextResponse::Unknown {
                name: name.to_vec(),
                data: data.to_vec(),
            },
        })
    }
}

/// Append a response-side chain of create contexts (properly chained and 8-aligned).
pub fn encode_create_contexts(ctxs: &[CreateContextResponse], out: &mut Vec<u8>) {
    encode_raw_contexts(ctxs.iter().map(|c| (c.name(), c.data())), out);
}

/// CREATE request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// SecurityFlags (reserved).
    pub security_flags: u8,
    /// RequestedOplockLevel ([`oplock`]).
    pub requested_oplock_level: u8,
    /// ImpersonationLevel ([`impersonation`]).
    pub impersonation_level: u32,
    /// SmbCreateFlags (reserved).
    pub smb_create_flags: u64,
    /// DesiredAccess mask.
    pub desired_access: u32,
    /// FileAttributes for a new file.
    pub file_attributes: u32,
    /// [`share_access`] bits.
    pub share_access: u32,
    /// [`disposition`].
    pub create_disposition: u32,
    /// [`options`] bits.
    pub create_options: u32,
    /// Share-relative path, backslash separated, no leading backslash (empty = share root).
    pub name: String,
    /// Create contexts.
    pub contexts: Vec<CreateContext>,
}

impl CreateRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 57;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let security_flags = r.u8()?;
        let requested_oplock_level = r.u8()?;
        let impersonation_level = r.u32()?;
        let smb_create_flags = r.u64()?;
        r.skip(8)?;
        let desired_access = r.u32()?;
        let file_attributes = r.u32()?;
        let share_access = r.u32()?;
        let create_disposition = r.u32()?;
        let create_options = r.u32()?;
        let name_off = r.u16()?;
        let name_len = r.u16()?;
        let ctx_off = r.u32()?;
        let ctx_len = r.u32()?;
        let name_bytes = buffer_at(
            msg,
            u32::from(name_off),
            u32::from(name_len),
            MAX_NAME_BYTES,
        )?;
        let name = utf16le_to_string(name_bytes)?;
        if ctx_len != 0 && ctx_off % 8 != 0 {
            return Err(WireError::BadOffset);
        }
        let area = buffer_at(msg, ctx_off, ctx_len, MAX_CONTEXTS_BYTES)?;
        let contexts = decode_create_contexts(area)?;
        Ok(CreateRequest {
            security_flags,
            requested_oplock_level,
            impersonation_level,
            smb_create_flags,
            desired_access,
            file_attributes,
            share_access,
            create_disposition,
            create_options,
            name,
            contexts,
        })
    }

    /// Append the body (header already at index 0 of `out`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let name = utf16le(&self.name);
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u8(self.security_flags);
        out.put_u8(self.requested_oplock_level);
        out.put_u32(self.impersonation_level);
        out.put_u64(self.smb_create_flags);
        out.put_u64(0);
        out.put_u32(self.desired_access);
        out.put_u32(self.file_attributes);
        out.put_u32(self.share_access);
        out.put_u32(self.create_disposition);
        out.put_u32(self.create_options);
        out.put_u16(sat16(HEADER_SIZE + 56));
        out.put_u16(sat16(name.len()));
        let ctx_at = out.len();
        out.put_u32(0);
        out.put_u32(0);
        out.put_bytes(&name);
        if name.is_empty() {
            out.put_u8(0);
        }
        if !self.contexts.is_empty() {
            out.align_to(8);
            let start = out.len();
            encode_request_contexts(&self.contexts, out);
            out.patch_u32(ctx_at, sat32(start));
            out.patch_u32(ctx_at + 4, sat32(out.len() - start));
        }
    }
}

/// CREATE response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateResponse {
    /// Granted oplock level.
    pub oplock_level: u8,
    /// Flags (3.x: REPARSEPOINT = 1).
    pub flags: u8,
    /// [`action`].
    pub create_action: u32,
    /// CreationTime.
    pub creation_time: u64,
    /// LastAccessTime.
    pub last_access_time: u64,
    /// LastWriteTime.
    pub last_write_time: u64,
    /// ChangeTime.
    pub change_time: u64,
    /// AllocationSize.
    pub allocation_size: u64,
    /// EndOfFile.
    pub end_of_file: u64,
    /// FileAttributes.
    pub file_attributes: u32,
    /// The new handle.
    pub file_id: FileId,
    /// Response contexts.
    pub contexts: Vec<CreateContextResponse>,
}

impl CreateResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 89;

    /// Decode from a whole message.
    pub fn decode(msg: &[u8]) -> Result<Self, WireError> {
        let mut r = body_reader(msg, Self::STRUCTURE_SIZE)?;
        let oplock_level = r.u8()?;
        let flags = r.u8()?;
        let create_action = r.u32()?;
        let creation_time = r.u64()?;
        let last_access_time = r.u64()?;
        let last_write_time = r.u64()?;
        let change_time = r.u64()?;
        let allocation_size = r.u64()?;
        let end_of_file = r.u64()?;
        let file_attributes = r.u32()?;
        r.skip(4)?;
        let file_id = FileId::read(&mut r)?;
        let ctx_off = r.u32()?;
        let ctx_len = r.u32()?;
        let area = buffer_at(msg, ctx_off, ctx_len, MAX_CONTEXTS_BYTES)?;
        let contexts = walk_create_contexts(area)?
            .into_iter()
            .map(|(n, d)| CreateContextResponse::parse(n, d))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CreateResponse {
            oplock_level,
            flags,
            create_action,
            creation_time,
            last_access_time,
            last_write_time,
            change_time,
            allocation_size,
            end_of_file,
            file_attributes,
            file_id,
            contexts,
        })
    }

    /// Append the body (header already at index 0 of `out`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(Self::STRUCTURE_SIZE);
        out.put_u8(self.oplock_level);
        out.put_u8(self.flags);
        out.put_u32(self.create_action);
        out.put_u64(self.creation_time);
        out.put_u64(self.last_access_time);
        out.put_u64(self.last_write_time);
        out.put_u64(self.change_time);
        out.put_u64(self.allocation_size);
        out.put_u64(self.end_of_file);
        out.put_u32(self.file_attributes);
        out.put_u32(0);
        self.file_id.write(out);
        let ctx_at = out.len();
        out.put_u32(0);
        out.put_u32(0);
        if self.contexts.is_empty() {
            out.put_u8(0);
        } else {
            out.align_to(8);
            let start = out.len();
            encode_create_contexts(&self.contexts, out);
            out.patch_u32(ctx_at, sat32(start));
            out.patch_u32(ctx_at + 4, sat32(out.len() - start));
        }
    }
}
