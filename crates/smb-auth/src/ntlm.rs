//! NTLMSSP server side (MS-NLMP): CHALLENGE from NEGOTIATE, NTLMv2 verification of
//! AUTHENTICATE, key exchange, MIC, and NTLM2 session-security MACs (for SPNEGO mechListMIC).

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use rc4::{KeyInit, Rc4, StreamCipher};
use subtle::ConstantTimeEq;

use crate::{AuthError, AuthOutcome, Credentials, ServerIdentity};

type HmacMd5 = Hmac<Md5>;

pub(crate) const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
const REQUEST_TARGET: u32 = 0x0000_0004;
const NEGOTIATE_SIGN: u32 = 0x0000_0010;
const NEGOTIATE_SEAL: u32 = 0x0000_0020;
const NEGOTIATE_NTLM: u32 = 0x0000_0200;
const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
const NEGOTIATE_VERSION: u32 = 0x0200_0000;
const NEGOTIATE_128: u32 = 0x2000_0000;
const NEGOTIATE_KEY_EXCH: u32 = 0x4000_0000;
const NEGOTIATE_56: u32 = 0x8000_0000;

/// Flags the server agrees to when the client offers them.
const OFFERABLE: u32 = NEGOTIATE_SIGN | NEGOTIATE_SEAL | NEGOTIATE_ALWAYS_SIGN | EXTENDED_SESSIONSECURITY | NEGOTIATE_VERSION | NEGOTIATE_128 | NEGOTIATE_KEY_EXCH | NEGOTIATE_56;

const AV_EOL: u16 = 0;
const AV_NB_COMPUTER: u16 = 1;
const AV_NB_DOMAIN: u16 = 2;
const AV_DNS_COMPUTER: u16 = 3;
const AV_DNS_DOMAIN: u16 = 4;
const AV_FLAGS: u16 = 6;
const AV_TIMESTAMP: u16 = 7;
const AV_FLAG_MIC: u32 = 0x2;

/// Longest NTLM message accepted (Windows' are well under 4 KiB).
const MAX_MESSAGE: usize = 64 * 1024;

pub(crate) fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = match <HmacMd5 as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 16],
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn from_utf16(b: &[u8]) -> Result<String, AuthError> {
    if b.len() % 2 != 0 {
        return Err(AuthError::Malformed("odd UTF-16 length"));
    }
    let units: Vec<u16> = b.chunks_exact(2).map(|c| c.try_into().map(u16::from_le_bytes).unwrap_or(0)).collect();
    String::from_utf16(&units).map_err(|_| AuthError::Malformed("invalid UTF-16"))
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, AuthError> {
    let s: [u8; 2] = b.get(at..at + 2).and_then(|s| s.try_into().ok()).ok_or(AuthError::Malformed("truncated"))?;
    Ok(u16::from_le_bytes(s))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, AuthError> {
    let s: [u8; 4] = b.get(at..at + 4).and_then(|s| s.try_into().ok()).ok_or(AuthError::Malformed("truncated"))?;
    Ok(u32::from_le_bytes(s))
}

/// A (len, maxlen, offset) field of an NTLM message, resolved against the message.
fn field(b: &[u8], at: usize) -> Result<&[u8], AuthError> {
    let len = usize::from(u16_at(b, at)?);
    let off = u32_at(b, at + 4)? as usize;
    if len == 0 {
        return Ok(&[]);
    }
    let end = off.checked_add(len).ok_or(AuthError::Malformed("field overflows"))?;
    b.get(off..end).ok_or(AuthError::Malformed("field outside the message"))
}

/// The NT hash of a password: MD4 of its UTF-16LE encoding.
pub fn nt_hash(password: &str) -> [u8; 16] {
    use md4::Md4;
    Md4::digest(utf16(password)).into()
}

fn check_header(m: &[u8], ty: u32) -> Result<(), AuthError> {
    if m.len() > MAX_MESSAGE {
        return Err(AuthError::Malformed("message too long"));
    }
    if m.get(..8) != Some(&SIGNATURE[..]) {
        return Err(AuthError::Malformed("not NTLMSSP"));
    }
    if u32_at(m, 8)? != ty {
        return Err(AuthError::UnexpectedMessage);
    }
    Ok(())
}

/// Signing and sealing state of NTLM2 session security, one direction.
pub(crate) struct Direction {
    sign_key: [u8; 16],
    seal: Option<Rc4<rc4::consts::U16>>,
    seq: u32,
}

impl Direction {
    fn new(exported: &[u8; 16], sign_magic: &[u8], seal_magic: &[u8], key_exch: bool) -> Self {
        let sign_key: [u8; 16] = Md5::new().chain_update(exported).chain_update(sign_magic).finalize().into();
        let seal_key: [u8; 16] = Md5::new().chain_update(exported).chain_update(seal_magic).finalize().into();
        Self { sign_key, seal: key_exch.then(|| Rc4::new(&seal_key.into())), seq: 0 }
    }

    /// The 16-byte NTLMSSP_MESSAGE_SIGNATURE of `msg` (MS-NLMP 3.4.4.2), advancing the
    /// sequence number and the RC4 state.
    pub(crate) fn mac(&mut self, msg: &[u8]) -> [u8; 16] {
        let seq = self.seq.to_le_bytes();
        let h = hmac_md5(&self.sign_key, &[&seq, msg]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&h[..8]);
        if let Some(rc4) = self.seal.as_mut() {
            rc4.apply_keystream(&mut checksum);
        }
        let mut out = [0u8; 16];
        out[..4].copy_from_slice(&1u32.to_le_bytes());
        out[4..12].copy_from_slice(&checksum);
        out[12..].copy_from_slice(&seq);
        self.seq = self.seq.wrapping_add(1);
        out
    }
}

/// Session security after a successful logon: client→server and server→client.
pub(crate) struct Security {
    pub client: Direction,
    pub server: Direction,
}

/// One NTLM exchange.
pub struct NtlmServer {
    id: ServerIdentity,
    challenge: [u8; 8],
    now: u64,
    negotiate: Vec<u8>,
    challenge_msg: Vec<u8>,
    flags: u32,
    pub(crate) security: Option<Security>,
}

impl NtlmServer {
    pub fn new(id: ServerIdentity, server_challenge: [u8; 8], now_filetime: u64) -> Self {
        Self { id, challenge: server_challenge, now: now_filetime, negotiate: Vec::new(), challenge_msg: Vec::new(), flags: 0, security: None }
    }

    /// NEGOTIATE_MESSAGE in → CHALLENGE_MESSAGE out.
    pub fn challenge(&mut self, negotiate: &[u8]) -> Result<Vec<u8>, AuthError> {
        check_header(negotiate, 1)?;
        let client = u32_at(negotiate, 12)?;
        if client & NEGOTIATE_UNICODE == 0 {
            return Err(AuthError::Malformed("client does not speak Unicode"));
        }
        let flags = NEGOTIATE_UNICODE | REQUEST_TARGET | NEGOTIATE_NTLM | TARGET_TYPE_SERVER | NEGOTIATE_TARGET_INFO | (client & OFFERABLE);
        self.flags = flags;
        self.negotiate = negotiate.to_vec();
        let target = utf16(&self.id.netbios_domain);
        let mut info = Vec::new();
        let mut av = |id: u16, v: &[u8]| {
            info.extend_from_slice(&id.to_le_bytes());
            info.extend_from_slice(&u16::try_from(v.len()).unwrap_or(0).to_le_bytes());
            info.extend_from_slice(v);
        };
        av(AV_NB_DOMAIN, &utf16(&self.id.netbios_domain));
        av(AV_NB_COMPUTER, &utf16(&self.id.netbios_name));
        av(AV_DNS_DOMAIN, &utf16(&self.id.dns_domain));
        av(AV_DNS_COMPUTER, &utf16(&self.id.dns_name));
        av(AV_TIMESTAMP, &self.now.to_le_bytes());
        av(AV_EOL, &[]);
        let mut m = SIGNATURE.to_vec();
        m.extend_from_slice(&2u32.to_le_bytes());
        let tlen = u16::try_from(target.len()).unwrap_or(0);
        let ilen = u16::try_from(info.len()).unwrap_or(0);
        m.extend_from_slice(&tlen.to_le_bytes());
        m.extend_from_slice(&tlen.to_le_bytes());
        m.extend_from_slice(&56u32.to_le_bytes());
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&self.challenge);
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&ilen.to_le_bytes());
        m.extend_from_slice(&ilen.to_le_bytes());
        m.extend_from_slice(&(56 + u32::from(tlen)).to_le_bytes());
        m.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]);
        m.extend_from_slice(&target);
        m.extend_from_slice(&info);
        self.challenge_msg = m.clone();
        Ok(m)
    }

    /// AUTHENTICATE_MESSAGE in → who it is and the exported session key.
    pub fn authenticate(&mut self, auth: &[u8], creds: &dyn Credentials) -> Result<AuthOutcome, AuthError> {
        if self.challenge_msg.is_empty() {
            return Err(AuthError::UnexpectedMessage);
        }
        check_header(auth, 3)?;
        let lm = field(auth, 12)?;
        let nt = field(auth, 20)?;
        let domain = from_utf16(field(auth, 28)?)?;
        let user = from_utf16(field(auth, 36)?)?;
        let enc_key = field(auth, 52)?;
        let flags = u32_at(auth, 60)?;
        if user.is_empty() && nt.is_empty() && lm.len() <= 1 {
            return Ok(AuthOutcome::Anonymous);
        }
        if nt.len() == 24 {
            return Err(AuthError::NtlmV1Refused);
        }
        if nt.len() < 16 + 28 {
            return Err(AuthError::Malformed("NTLMv2 response too short"));
        }
        let (proof, blob) = nt.split_at(16);
        let hash = creds.nt_hash(&user, &domain).ok_or_else(|| AuthError::UnknownUser(user.clone()))?;
        let mut key_nt = None;
        for d in [domain.as_str(), ""] {
            let k = hmac_md5(&hash, &[&utf16(&(user.to_uppercase() + d))]);
            let p = hmac_md5(&k, &[&self.challenge, blob]);
            if bool::from(p.ct_eq(proof)) {
                key_nt = Some(k);
                break;
            }
        }
        let key_nt = key_nt.ok_or(AuthError::WrongPassword)?;
        let base = hmac_md5(&key_nt, &[proof]);
        let key_exch = flags & NEGOTIATE_KEY_EXCH != 0 && self.flags & NEGOTIATE_KEY_EXCH != 0;
        let exported = if key_exch {
            let mut k: [u8; 16] = enc_key.try_into().map_err(|_| AuthError::Malformed("encrypted session key is not 16 bytes"))?;
            let mut rc4 = Rc4::new(&base.into());
            rc4.apply_keystream(&mut k);
            k
        } else {
            base
        };
        if mic_present(blob) {
            let mic = auth.get(72..88).ok_or(AuthError::Malformed("MIC missing"))?;
            let mut zeroed = auth.to_vec();
            if let Some(s) = zeroed.get_mut(72..88) {
                s.fill(0);
            }
            let want = hmac_md5(&exported, &[&self.negotiate, &self.challenge_msg, &zeroed]);
            if !bool::from(want.ct_eq(mic)) {
                return Err(AuthError::MicMismatch);
            }
        }
        self.security = Some(Security {
            client: Direction::new(&exported, b"session key to client-to-server signing key magic constant\0", b"session key to client-to-server sealing key magic constant\0", key_exch),
            server: Direction::new(&exported, b"session key to server-to-client signing key magic constant\0", b"session key to server-to-client sealing key magic constant\0", key_exch),
        });
        Ok(AuthOutcome::User { user, domain, session_key: exported })
    }
}

/// Whether the client's NTLMv2 blob says a MIC is present (MsvAvFlags bit 0x2).
fn mic_present(blob: &[u8]) -> bool {
    // The AV pairs start after 28 bytes of the blob header.
    let mut at = 28;
    for _ in 0..64 {
        let (Ok(id), Ok(len)) = (u16_at(blob, at), u16_at(blob, at + 2)) else { return false };
        let len = usize::from(len);
        if id == AV_EOL {
            return false;
        }
        if id == AV_FLAGS && len == 4 {
            return u32_at(blob, at + 4).is_ok_and(|f| f & AV_FLAG_MIC != 0);
        }
        at += 4 + len;
    }
    false
}
