//! Test-side helpers: a hand-rolled PDU builder and a tiny NDR reader,
//! independent of the crate's own `ndr` module so the two check each other.
#![allow(dead_code)]

use smb_rpc::{Pipe, ServerInfo, ShareInfo};

pub const NDR20: [u8; 20] = [
    0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
    2, 0, 0, 0,
];
pub const NDR64: [u8; 20] = [
    0x33, 0x05, 0x71, 0x71, 0xba, 0xbe, 0x37, 0x49, 0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36,
    1, 0, 0, 0,
];
/// Bind-time feature negotiation 6cb71c2c-9812-4540-0300-000000000000 v1:
/// bitmask 0x03 = security context multiplexing | keep connection on orphan.
pub const BTFN: [u8; 20] = [
    0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45, 0x03, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
];
/// srvsvc 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0.
pub const SRVSVC: [u8; 20] = [
    0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88,
    3, 0, 0, 0,
];
/// wkssvc 6bffd098-a112-3610-9833-46c3f87e345a v1.0.
pub const WKSSVC: [u8; 20] = [
    0x98, 0xd0, 0xff, 0x6b, 0x12, 0xa1, 0x10, 0x36, 0x98, 0x33, 0x46, 0xc3, 0xf8, 0x7e, 0x34, 0x5a,
    1, 0, 0, 0,
];

pub fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
pub fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

/// Common 16-byte header (version 5.0, little-endian ASCII IEEE drep).
pub fn hdr(ptype: u8, flags: u8, frag_len: u16, call_id: u32) -> Vec<u8> {
    let mut v = vec![5, 0, ptype, flags, 0x10, 0, 0, 0];
    v.extend_from_slice(&frag_len.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes()); // auth_length
    v.extend_from_slice(&call_id.to_le_bytes());
    v
}

/// bind (11) or alter_context (14) with contexts (ctx_id, abstract, transfer syntaxes).
pub fn bind_pdu(
    ptype: u8,
    call_id: u32,
    max_xmit: u16,
    max_recv: u16,
    ctxs: &[(u16, [u8; 20], Vec<[u8; 20]>)],
) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&max_xmit.to_le_bytes());
    body.extend_from_slice(&max_recv.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes()); // assoc_group_id: new group
    body.push(ctxs.len() as u8); // n_context_elem
    body.extend_from_slice(&[0, 0, 0]); // reserved
    for (id, abs, tss) in ctxs {
        body.extend_from_slice(&id.to_le_bytes());
        body.push(tss.len() as u8);
        body.push(0);
        body.extend_from_slice(abs);
        for ts in tss {
            body.extend_from_slice(ts);
        }
    }
    let mut v = hdr(ptype, 0x03, (16 + body.len()) as u16, call_id);
    v.extend_from_slice(&body);
    v
}

/// One request fragment carrying `stub`.
pub fn request_pdu(flags: u8, call_id: u32, ctx: u16, opnum: u16, alloc: u32, stub: &[u8]) -> Vec<u8> {
    let mut v = hdr(0, flags, (24 + stub.len()) as u16, call_id);
    v.extend_from_slice(&alloc.to_le_bytes());
    v.extend_from_slice(&ctx.to_le_bytes());
    v.extend_from_slice(&opnum.to_le_bytes());
    v.extend_from_slice(stub);
    v
}

pub fn request(call_id: u32, ctx: u16, opnum: u16, stub: &[u8]) -> Vec<u8> {
    request_pdu(0x03, call_id, ctx, opnum, stub.len() as u32, stub)
}

/// NDR conformant varying UTF-16 string with terminator, padded to 4.
pub fn ndr_string(out: &mut Vec<u8>, s: &str) {
    let u: Vec<u16> = s.encode_utf16().chain([0]).collect();
    let n = u.len() as u32;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    for c in u {
        out.extend_from_slice(&c.to_le_bytes());
    }
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

/// `[unique, string] wchar_t* ServerName` = "\\SRV".
pub fn server_name(out: &mut Vec<u8>) {
    out.extend_from_slice(&0x0002_0000u32.to_le_bytes());
    ndr_string(out, "\\\\SRV");
}

/// Everything the pipe has queued, split into PDUs.
pub fn drain(pipe: &mut Pipe) -> Vec<Vec<u8>> {
    let mut bytes = Vec::new();
    loop {
        let (b, _more) = pipe.read(65536);
        if b.is_empty() {
            break;
        }
        bytes.extend_from_slice(&b);
    }
    let mut pdus = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let len = le16(rest, 8) as usize;
        pdus.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    pdus
}

/// Concatenated stub of a (possibly fragmented) response; checks fragment flags.
pub fn response_stub(pdus: &[Vec<u8>], call_id: u32) -> Vec<u8> {
    let mut stub = Vec::new();
    for (i, p) in pdus.iter().enumerate() {
        assert_eq!(p[2], 2, "ptype response, got {:?}", &p[..std::cmp::min(p.len(), 32)]);
        assert_eq!(p[3] & 1 != 0, i == 0, "FIRST_FRAG only on first");
        assert_eq!(p[3] & 2 != 0, i == pdus.len() - 1, "LAST_FRAG only on last");
        assert_eq!(le32(p, 12), call_id);
        stub.extend_from_slice(&p[24..]);
    }
    stub
}

/// A tiny NDR reader for checking responses.
pub struct Rd<'a> {
    pub b: &'a [u8],
    pub p: usize,
}
impl<'a> Rd<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Rd { b, p: 0 }
    }
    pub fn u32(&mut self) -> u32 {
        self.p = (self.p + 3) & !3;
        let v = le32(self.b, self.p);
        self.p += 4;
        v
    }
    pub fn ptr(&mut self) -> bool {
        self.u32() != 0
    }
    pub fn string(&mut self) -> String {
        let max = self.u32();
        let off = self.u32();
        let act = self.u32();
        assert_eq!(off, 0);
        assert_eq!(max, act);
        let units: Vec<u16> = (0..act as usize)
            .map(|i| le16(self.b, self.p + 2 * i))
            .collect();
        self.p += 2 * act as usize;
        assert_eq!(units.last(), Some(&0), "NUL terminator");
        String::from_utf16(&units[..units.len() - 1]).unwrap()
    }
    pub fn done(&self) {
        assert_eq!(self.p, self.b.len(), "trailing bytes in stub");
    }
}

pub fn share(name: &str, ty: u32, comment: &str, path: &str) -> ShareInfo {
    ShareInfo {
        name: name.into(),
        share_type: ty,
        comment: comment.into(),
        path: path.into(),
        max_uses: 0xFFFF_FFFF,
        current_uses: 1,
    }
}

pub fn server() -> ServerInfo {
    ServerInfo {
        netbios_name: "NAS01".into(),
        domain: "WORKGROUP".into(),
        comment: "Home NAS".into(),
        version_major: 10,
        version_minor: 0,
        server_type: 0x0000_9003, // WORKSTATION | SERVER | SERVER_NT | ... (0x1000 = UNIX? no: 0x1000 SV_TYPE_SERVER_UNIX)
        shares: vec![
            share("public", 0, "Public files", "/srv/public"),
            share("Backups", 0, "", "C:\\srv\\backups"),
            share("IPC$", 0x8000_0003, "IPC Service", ""),
        ],
    }
}

/// A srvsvc pipe bound with context 0 = srvsvc/NDR20.
pub fn bound(kind: smb_rpc::PipeKind, max: u16) -> Pipe {
    let mut pipe = Pipe::new(kind);
    let abs = match kind {
        smb_rpc::PipeKind::Srvsvc => SRVSVC,
        smb_rpc::PipeKind::Wkssvc => WKSSVC,
    };
    pipe.write(&bind_pdu(11, 1, max, max, &[(0, abs, vec![NDR20])]), &server())
        .unwrap();
    let acks = drain(&mut pipe);
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0][2], 12, "bind_ack");
    pipe
}
