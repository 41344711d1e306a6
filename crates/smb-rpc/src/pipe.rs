//! Connection-oriented PDU handling for one open pipe.

use std::collections::VecDeque;

use crate::services::{self, Fault, NCA_S_PROTO_ERROR, NCA_S_UNK_IF, NCA_S_UNSUPPORTED_TYPE};
use crate::{PipeKind, RpcError, ServerInfo, MAX_PENDING_OUTPUT, MAX_PIPE_PDU};

/// Largest fragment this server sends or accepts to negotiate (Windows' value).
pub const MAX_FRAG: u16 = 4280;
/// Smallest receive fragment size a client may announce; below it the bind
/// is refused with bind_nak "local_limit_exceeded".
pub const MIN_FRAG: u16 = 64;

const HDR_LEN: usize = 16;
/// Header plus alloc_hint, p_cont_id, cancel_count, reserved.
const RESP_HDR_LEN: usize = 24;

const PTYPE_REQUEST: u8 = 0;
const PTYPE_RESPONSE: u8 = 2;
const PTYPE_FAULT: u8 = 3;
const PTYPE_BIND: u8 = 11;
const PTYPE_BIND_ACK: u8 = 12;
const PTYPE_BIND_NAK: u8 = 13;
const PTYPE_ALTER_CONTEXT: u8 = 14;
const PTYPE_ALTER_CONTEXT_RESP: u8 = 15;
const PTYPE_CO_CANCEL: u8 = 18;
const PTYPE_ORPHANED: u8 = 19;

const PFC_FIRST_FRAG: u8 = 0x01;
const PFC_LAST_FRAG: u8 = 0x02;
const PFC_DID_NOT_EXECUTE: u8 = 0x20;
const PFC_OBJECT_UUID: u8 = 0x80;

/// p_cont_def_result_t.
const RESULT_ACCEPTANCE: u16 = 0;
const RESULT_PROVIDER_REJECTION: u16 = 2;
const RESULT_NEGOTIATE_ACK: u16 = 3;
/// p_provider_reason_t.
const REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED: u16 = 1;
const REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED: u16 = 2;
/// bind_nak reject reasons (C706 + MS-RPCE).
const NAK_REASON_NOT_SPECIFIED: u16 = 0;
const NAK_LOCAL_LIMIT_EXCEEDED: u16 = 2;
const NAK_PROTOCOL_VERSION_NOT_SUPPORTED: u16 = 4;
const NAK_AUTHENTICATION_TYPE_NOT_RECOGNIZED: u16 = 8;

/// Bind-time feature bit "keep connection on orphan" (MS-RPCE 2.2.2.14).
/// We keep the pipe open on `orphaned` PDUs, so it is the one we accept;
/// security context multiplexing (bit 0) is meaningless without auth.
const FEATURE_KEEP_CONNECTION_ON_ORPHAN: u64 = 0x02;

/// Association group id handed out when the client asks for a new one.
const DEFAULT_ASSOC_GROUP: u32 = 0x0000_53F0;

/// NDR20 transfer syntax 8a885d04-1ceb-11c9-9fe8-08002b104860 v2.
const NDR20: [u8; 20] = [
    0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
    0x02, 0x00, 0x00, 0x00,
];
/// First 8 bytes of the bind-time feature negotiation syntax
/// 6cb71c2c-9812-4540-xxxx-xxxxxxxxxxxx (the rest is the bitmask), version 1.
const BTFN_PREFIX: [u8; 8] = [0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45];
/// srvsvc 4b324fc8-1670-01d3-1278-5a47bf6ee188.
const SRVSVC_UUID: [u8; 16] = [
    0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88,
];
/// wkssvc 6bffd098-a112-3610-9833-46c3f87e345a.
const WKSSVC_UUID: [u8; 16] = [
    0x98, 0xd0, 0xff, 0x6b, 0x12, 0xa1, 0x10, 0x36, 0x98, 0x33, 0x46, 0xc3, 0xf8, 0x7e, 0x34, 0x5a,
];

impl PipeKind {
    /// (uuid, major, minor) of the interface.
    fn interface(self) -> ([u8; 16], u16, u16) {
        match self {
            PipeKind::Srvsvc => (SRVSVC_UUID, 3, 0),
            PipeKind::Wkssvc => (WKSSVC_UUID, 1, 0),
        }
    }
}

fn get_u16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([*s.first()?, *s.get(1)?]))
}

fn get_u32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_le_bytes(a))
}

fn put_u16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put_u32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// Common header with frag_length left 0 (patched by [`finish`]).
fn header(ptype: u8, flags: u8, call_id: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(&[5, 0, ptype, flags, 0x10, 0, 0, 0]);
    put_u16(&mut v, 0); // frag_length, patched
    put_u16(&mut v, 0); // auth_length
    put_u32(&mut v, call_id);
    v
}

fn finish(mut v: Vec<u8>) -> Vec<u8> {
    let len = u16::try_from(v.len()).unwrap_or(u16::MAX).to_le_bytes();
    if let Some(f) = v.get_mut(8..10) {
        f.copy_from_slice(&len);
    }
    v
}

/// A request being reassembled from several fragments.
#[derive(Debug)]
struct Reassembly {
    call_id: u32,
    ctx_id: u16,
    opnum: u16,
    stub: Vec<u8>,
}

/// One open pipe (one SMB2 CREATE on IPC$): bind state, request reassembly,
/// pending output.
///
/// Output is a queue of whole PDUs. [`Pipe::read`] never returns bytes of
/// two PDUs in one call, so every read starts or continues exactly one
/// fragment (message-mode pipe semantics).
#[derive(Debug)]
pub struct Pipe {
    kind: PipeKind,
    inbuf: Vec<u8>,
    out: VecDeque<Vec<u8>>,
    out_pos: usize,
    out_bytes: usize,
    bound: bool,
    contexts: Vec<u16>,
    max_xmit: u16,
    max_recv: u16,
    assoc_group: u32,
    pending: Option<Reassembly>,
}

/// Parsed common header fields.
struct Header {
    vers: u8,
    ptype: u8,
    flags: u8,
    little_endian_ascii: bool,
    auth_len: u16,
    call_id: u32,
}

impl Pipe {
    /// A fresh, unbound pipe serving `kind`.
    pub fn new(kind: PipeKind) -> Self {
        Pipe {
            kind,
            inbuf: Vec::new(),
            out: VecDeque::new(),
            out_pos: 0,
            out_bytes: 0,
            bound: false,
            contexts: Vec::new(),
            max_xmit: MAX_FRAG,
            max_recv: MAX_FRAG,
            assoc_group: 0,
            pending: None,
        }
    }

    /// The interface this pipe serves.
    pub fn kind(&self) -> PipeKind {
        self.kind
    }

    /// The negotiated largest fragment this server sends (after bind).
    pub fn max_xmit_frag(&self) -> u16 {
        self.max_xmit
    }

    /// Bytes the client wrote (SMB2 WRITE or the input of
    /// FSCTL_PIPE_TRANSCEIVE). May hold a partial PDU (buffer it), exactly
    /// one PDU, or a fragment of a multi-fragment request; several PDUs in
    /// one write are processed in order.
    pub fn write(&mut self, data: &[u8], info: &ServerInfo) -> Result<(), RpcError> {
        let mut data = data;
        loop {
            if self.inbuf.len() < HDR_LEN {
                let n = (HDR_LEN - self.inbuf.len()).min(data.len());
                let (head, tail) = data.split_at(n);
                self.inbuf.extend_from_slice(head);
                data = tail;
                if self.inbuf.len() < HDR_LEN {
                    return Ok(());
                }
            }
            let frag_len = self.frag_length()?;
            let need = frag_len.saturating_sub(self.inbuf.len());
            let n = need.min(data.len());
            let (head, tail) = data.split_at(n);
            self.inbuf.extend_from_slice(head);
            data = tail;
            if self.inbuf.len() < frag_len {
                return Ok(());
            }
            let pdu = std::mem::take(&mut self.inbuf);
            self.process(&pdu, info)?;
        }
    }

    /// Validates the buffered header's frag_length.
    fn frag_length(&self) -> Result<usize, RpcError> {
        let drep0 = *self
            .inbuf
            .get(4)
            .ok_or(RpcError::Malformed("short header"))?;
        let raw = get_u16(&self.inbuf, 8).ok_or(RpcError::Malformed("short header"))?;
        let len = if drep0 & 0x10 != 0 {
            raw
        } else {
            raw.swap_bytes()
        };
        let len = usize::from(len);
        if len < HDR_LEN {
            return Err(RpcError::Malformed("frag_length shorter than header"));
        }
        if len > MAX_PIPE_PDU {
            return Err(RpcError::TooLarge);
        }
        Ok(len)
    }

    /// Up to `max` bytes of pending response. Returns (bytes, more): `more`
    /// is true when bytes remain after this read (of this fragment or of
    /// later ones); the server then replies STATUS_BUFFER_OVERFLOW and the
    /// client reads again. Empty with nothing pending means the server
    /// answers STATUS_PIPE_EMPTY (or waits).
    pub fn read(&mut self, max: usize) -> (Vec<u8>, bool) {
        let Some(front) = self.out.front() else {
            return (Vec::new(), false);
        };
        let end = self.out_pos.saturating_add(max).min(front.len());
        let bytes = front.get(self.out_pos..end).unwrap_or_default().to_vec();
        self.out_pos = end;
        self.out_bytes = self.out_bytes.saturating_sub(bytes.len());
        if self.out_pos >= front.len() {
            self.out.pop_front();
            self.out_pos = 0;
        }
        (bytes, !self.out.is_empty())
    }

    /// True when response bytes are waiting to be read.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    fn push(&mut self, pdu: Vec<u8>) {
        self.out_bytes = self.out_bytes.saturating_add(pdu.len());
        self.out.push_back(pdu);
    }

    fn process(&mut self, pdu: &[u8], info: &ServerInfo) -> Result<(), RpcError> {
        let short = RpcError::Malformed("short header");
        let drep0 = *pdu.get(4).ok_or(short.clone())?;
        let little_endian_ascii = drep0 == 0x10;
        let raw_call = get_u32(pdu, 12).ok_or(short.clone())?;
        let raw_auth = get_u16(pdu, 10).ok_or(short.clone())?;
        let h = Header {
            vers: *pdu.first().ok_or(short.clone())?,
            ptype: *pdu.get(2).ok_or(short.clone())?,
            flags: *pdu.get(3).ok_or(short)?,
            little_endian_ascii,
            auth_len: if drep0 & 0x10 != 0 {
                raw_auth
            } else {
                raw_auth.swap_bytes()
            },
            call_id: if drep0 & 0x10 != 0 {
                raw_call
            } else {
                raw_call.swap_bytes()
            },
        };
        if h.vers != 5 {
            if h.ptype == PTYPE_BIND {
                self.bind_nak(h.call_id, NAK_PROTOCOL_VERSION_NOT_SUPPORTED);
                return Ok(());
            }
            return Err(RpcError::ProtocolViolation("unsupported RPC version"));
        }
        match h.ptype {
            PTYPE_BIND | PTYPE_ALTER_CONTEXT => self.bind(&h, pdu),
            PTYPE_REQUEST => self.request(&h, pdu, info),
            PTYPE_CO_CANCEL => Ok(()),
            PTYPE_ORPHANED => {
                if self
                    .pending
                    .as_ref()
                    .is_some_and(|p| p.call_id == h.call_id)
                {
                    self.pending = None;
                }
                Ok(())
            }
            _ => Err(RpcError::ProtocolViolation("unexpected PDU type")),
        }
    }

    fn bind_nak(&mut self, call_id: u32, reason: u16) {
        let mut v = header(PTYPE_BIND_NAK, PFC_FIRST_FRAG | PFC_LAST_FRAG, call_id);
        put_u16(&mut v, reason);
        v.push(1); // n_protocols
        v.extend_from_slice(&[5, 0]); // we speak 5.0 (5.x)
        v.push(0); // pad to 4
        self.push(finish(v));
    }

    fn fault(&mut self, call_id: u32, ctx_id: u16, f: Fault) {
        let mut flags = PFC_FIRST_FRAG | PFC_LAST_FRAG;
        if f.did_not_execute {
            flags |= PFC_DID_NOT_EXECUTE;
        }
        let mut v = header(PTYPE_FAULT, flags, call_id);
        put_u32(&mut v, 0); // alloc_hint
        put_u16(&mut v, ctx_id);
        v.push(0); // cancel_count
        v.push(0); // reserved
        put_u32(&mut v, f.status);
        put_u32(&mut v, 0); // reserved
        self.push(finish(v));
    }

    fn bind(&mut self, h: &Header, pdu: &[u8]) -> Result<(), RpcError> {
        let is_bind = h.ptype == PTYPE_BIND;
        let proto_fault = Fault {
            status: NCA_S_PROTO_ERROR,
            did_not_execute: true,
        };
        if is_bind && (self.bound || !h.little_endian_ascii) {
            self.bind_nak(h.call_id, NAK_REASON_NOT_SPECIFIED);
            return Ok(());
        }
        if is_bind && h.auth_len != 0 {
            self.bind_nak(h.call_id, NAK_AUTHENTICATION_TYPE_NOT_RECOGNIZED);
            return Ok(());
        }
        if !is_bind && (!self.bound || !h.little_endian_ascii || h.auth_len != 0) {
            self.fault(h.call_id, 0, proto_fault);
            return Ok(());
        }
        let bad = RpcError::Malformed("truncated bind");
        let c_max_xmit = get_u16(pdu, 16).ok_or(bad.clone())?;
        let c_max_recv = get_u16(pdu, 18).ok_or(bad.clone())?;
        let c_assoc = get_u32(pdu, 20).ok_or(bad.clone())?;
        let n_ctx = *pdu.get(24).ok_or(bad.clone())?;
        if n_ctx == 0 {
            if is_bind {
                self.bind_nak(h.call_id, NAK_REASON_NOT_SPECIFIED);
            } else {
                self.fault(h.call_id, 0, proto_fault);
            }
            return Ok(());
        }
        if is_bind && c_max_recv < MIN_FRAG {
            self.bind_nak(h.call_id, NAK_LOCAL_LIMIT_EXCEEDED);
            return Ok(());
        }

        let (if_uuid, if_major, if_minor) = self.kind.interface();
        let mut off = 28usize;
        let mut results: Vec<(u16, u16, [u8; 20])> = Vec::with_capacity(usize::from(n_ctx));
        let mut accepted: Vec<u16> = Vec::new();
        for _ in 0..n_ctx {
            let ctx_id = get_u16(pdu, off).ok_or(bad.clone())?;
            let n_ts = *pdu.get(off + 2).ok_or(bad.clone())?;
            let abs = pdu.get(off + 4..off + 24).ok_or(bad.clone())?;
            off += 24;
            let ts_len = usize::from(n_ts) * 20;
            let ts_all = pdu.get(off..off + ts_len).ok_or(bad.clone())?;
            off += ts_len;

            let abs_uuid = abs.get(..16).unwrap_or_default();
            let abs_major = get_u16(abs, 16).unwrap_or(0);
            let abs_minor = get_u16(abs, 18).unwrap_or(0);
            let btfn = ts_all
                .chunks_exact(20)
                .find(|ts| ts.get(..8) == Some(&BTFN_PREFIX[..]) && get_u32(ts, 16) == Some(1));
            let zero = [0u8; 20];
            let result = if let Some(ts) = btfn {
                if is_bind {
                    let mut mask = [0u8; 8];
                    mask.copy_from_slice(ts.get(8..16).unwrap_or(&[0; 8]));
                    let offered = u64::from_le_bytes(mask);
                    let ours = offered & FEATURE_KEEP_CONNECTION_ON_ORPHAN;
                    (RESULT_NEGOTIATE_ACK, u16::try_from(ours).unwrap_or(0), zero)
                } else {
                    (
                        RESULT_PROVIDER_REJECTION,
                        REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED,
                        zero,
                    )
                }
            } else if abs_uuid != if_uuid || abs_major != if_major || abs_minor > if_minor {
                (
                    RESULT_PROVIDER_REJECTION,
                    REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED,
                    zero,
                )
            } else if ts_all.chunks_exact(20).any(|ts| ts == NDR20) {
                accepted.push(ctx_id);
                (RESULT_ACCEPTANCE, 0, NDR20)
            } else {
                (
                    RESULT_PROVIDER_REJECTION,
                    REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED,
                    zero,
                )
            };
            results.push(result);
        }

        if is_bind {
            self.max_xmit = c_max_recv.min(MAX_FRAG);
            self.max_recv = c_max_xmit.clamp(MIN_FRAG, MAX_FRAG);
            self.assoc_group = if c_assoc == 0 {
                DEFAULT_ASSOC_GROUP
            } else {
                c_assoc
            };
            self.bound = true;
        }
        for id in accepted {
            if !self.contexts.contains(&id) {
                self.contexts.push(id);
            }
        }

        let ptype = if is_bind {
            PTYPE_BIND_ACK
        } else {
            PTYPE_ALTER_CONTEXT_RESP
        };
        let mut v = header(ptype, PFC_FIRST_FRAG | PFC_LAST_FRAG, h.call_id);
        put_u16(&mut v, self.max_xmit);
        put_u16(&mut v, self.max_recv);
        put_u32(&mut v, self.assoc_group);
        if is_bind {
            let addr = format!("\\PIPE\\{}\0", self.kind.name());
            put_u16(&mut v, u16::try_from(addr.len()).unwrap_or(0));
            v.extend_from_slice(addr.as_bytes());
        } else {
            put_u16(&mut v, 0);
        }
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.push(n_ctx);
        v.extend_from_slice(&[0, 0, 0]);
        for (result, reason, ts) in results {
            put_u16(&mut v, result);
            put_u16(&mut v, reason);
            v.extend_from_slice(&ts);
        }
        self.push(finish(v));
        Ok(())
    }

    fn request(&mut self, h: &Header, pdu: &[u8], info: &ServerInfo) -> Result<(), RpcError> {
        let bad = RpcError::Malformed("truncated request");
        let ctx_id = get_u16(pdu, 20).ok_or(bad.clone())?;
        let opnum = get_u16(pdu, 22).ok_or(bad.clone())?;
        let mut stub_off = RESP_HDR_LEN;
        if h.flags & PFC_OBJECT_UUID != 0 {
            stub_off += 16;
        }
        let stub = pdu.get(stub_off..).ok_or(bad)?;
        let reject = |status| Fault {
            status,
            did_not_execute: true,
        };
        if !self.bound || h.auth_len != 0 {
            self.pending = None;
            self.fault(h.call_id, ctx_id, reject(NCA_S_PROTO_ERROR));
            return Ok(());
        }
        if !h.little_endian_ascii {
            self.fault(h.call_id, ctx_id, reject(NCA_S_UNSUPPORTED_TYPE));
            return Ok(());
        }

        let first = h.flags & PFC_FIRST_FRAG != 0;
        let last = h.flags & PFC_LAST_FRAG != 0;
        let (ctx_id, opnum, full): (u16, u16, Vec<u8>) = if first {
            if self.pending.is_some() {
                return Err(RpcError::ProtocolViolation(
                    "new request while another is being reassembled",
                ));
            }
            if last {
                (ctx_id, opnum, stub.to_vec())
            } else {
                self.pending = Some(Reassembly {
                    call_id: h.call_id,
                    ctx_id,
                    opnum,
                    stub: stub.to_vec(),
                });
                return Ok(());
            }
        } else {
            let Some(p) = self.pending.as_mut() else {
                return Err(RpcError::ProtocolViolation(
                    "continuation fragment without a first fragment",
                ));
            };
            if p.call_id != h.call_id {
                return Err(RpcError::ProtocolViolation("fragment call_id mismatch"));
            }
            if p.stub.len().saturating_add(stub.len()) > MAX_PIPE_PDU {
                return Err(RpcError::TooLarge);
            }
            p.stub.extend_from_slice(stub);
            if !last {
                return Ok(());
            }
            match self.pending.take() {
                Some(p) => (p.ctx_id, p.opnum, p.stub),
                None => return Ok(()),
            }
        };

        if !self.contexts.contains(&ctx_id) {
            self.fault(h.call_id, ctx_id, reject(NCA_S_UNK_IF));
            return Ok(());
        }
        if self.out_bytes > MAX_PENDING_OUTPUT {
            return Err(RpcError::TooLarge);
        }
        match services::dispatch(self.kind, opnum, &full, info) {
            Ok(out) => self.respond(h.call_id, ctx_id, &out),
            Err(f) => self.fault(h.call_id, ctx_id, f),
        }
        Ok(())
    }

    /// Splits `stub` into response fragments of at most `max_xmit` bytes.
    fn respond(&mut self, call_id: u32, ctx_id: u16, stub: &[u8]) {
        let room = usize::from(self.max_xmit).saturating_sub(RESP_HDR_LEN);
        let chunk = (room / 8 * 8).max(8);
        let mut rest = stub;
        let mut first = true;
        loop {
            let n = chunk.min(rest.len());
            let (part, tail) = rest.split_at(n);
            let mut flags = 0;
            if first {
                flags |= PFC_FIRST_FRAG;
            }
            if tail.is_empty() {
                flags |= PFC_LAST_FRAG;
            }
            let mut v = header(PTYPE_RESPONSE, flags, call_id);
            put_u32(&mut v, u32::try_from(rest.len()).unwrap_or(u32::MAX)); // alloc_hint
            put_u16(&mut v, ctx_id);
            v.push(0); // cancel_count
            v.push(0); // reserved
            v.extend_from_slice(part);
            self.push(finish(v));
            rest = tail;
            first = false;
            if rest.is_empty() {
                break;
            }
        }
    }
}
