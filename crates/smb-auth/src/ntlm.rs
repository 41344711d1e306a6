//! NTLMSSP server side (MS-NLMP): CHALLENGE from NEGOTIATE, NTLMv2 verification of
//! AUTHENTICATE, key exchange, MIC, and the session security SPNEGO's mechListMIC needs.

use subtle::ConstantTimeEq;

use crate::crypto::{
    compute_mic, nt_proof_str, ntowf_v2, rc4_in_place, session_base_key, utf16le, SessionSecurity,
    Side,
};
use crate::flags::*;
use crate::{AuthError, AuthOutcome, Credentials, ServerIdentity};

/// The 8 bytes every NTLMSSP message starts with.
pub const NTLMSSP_SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// NTLM message types.
const NEGOTIATE: u32 = 1;
const CHALLENGE: u32 = 2;
const AUTHENTICATE: u32 = 3;

/// Flags the server grants when the client asks for them.
const GRANTABLE: u32 = NEGOTIATE_SIGN
    | NEGOTIATE_SEAL
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_VERSION
    | NEGOTIATE_128
    | NEGOTIATE_KEY_EXCH
    | NEGOTIATE_56;

const AV_EOL: u16 = 0;
const AV_NB_COMPUTER: u16 = 1;
const AV_NB_DOMAIN: u16 = 2;
const AV_DNS_COMPUTER: u16 = 3;
const AV_DNS_DOMAIN: u16 = 4;
const AV_FLAGS: u16 = 6;
const AV_TIMESTAMP: u16 = 7;
/// MsvAvFlags bit: the AUTHENTICATE_MESSAGE carries a MIC.
const AV_FLAG_MIC: u32 = 0x2;

/// Longest NTLM message accepted (real ones are well under 4 KiB).
pub(crate) const MAX_MESSAGE: usize = 64 * 1024;
/// Fixed part of an AUTHENTICATE_MESSAGE, without Version and MIC.
const AUTH_HEADER: usize = 64;
/// Where the MIC sits (after the 8-byte Version) when present.
const MIC_AT: usize = 72;
const MIC_END: usize = 88;
/// NTLMv2_CLIENT_CHALLENGE fixed part before its AV pairs.
const BLOB_HEADER: usize = 28;
/// Length of an NTLMv1 (and LM) response.
const V1_RESPONSE: usize = 24;
/// The Version we advertise: 10.0 build 19041, NTLM revision 15.
const VERSION: [u8; 8] = [10, 0, 0x61, 0x4a, 0, 0, 0, 15];

fn u16_at(b: &[u8], at: usize) -> Result<u16, AuthError> {
    let s: [u8; 2] = at
        .checked_add(2)
        .and_then(|end| b.get(at..end))
        .and_then(|s| s.try_into().ok())
        .ok_or(AuthError::Malformed("truncated NTLM message"))?;
    Ok(u16::from_le_bytes(s))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, AuthError> {
    let s: [u8; 4] = at
        .checked_add(4)
        .and_then(|end| b.get(at..end))
        .and_then(|s| s.try_into().ok())
        .ok_or(AuthError::Malformed("truncated NTLM message"))?;
    Ok(u32::from_le_bytes(s))
}

fn from_utf16le(b: &[u8]) -> Result<String, AuthError> {
    if b.len() % 2 != 0 {
        return Err(AuthError::Malformed("odd length of a UTF-16 string"));
    }
    let units = b.chunks_exact(2).map(|c| {
        u16::from_le_bytes([
            c.first().copied().unwrap_or(0),
            c.get(1).copied().unwrap_or(0),
        ])
    });
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| AuthError::Malformed("invalid UTF-16 string"))
}

/// A payload field descriptor (Len, MaxLen, BufferOffset) at `at`, resolved against the
/// message: (offset, bytes). Empty fields resolve to no bytes whatever their offset.
fn field(m: &[u8], at: usize) -> Result<(usize, &[u8]), AuthError> {
    let len = usize::from(u16_at(m, at)?);
    let off = usize::try_from(u32_at(m, at + 4)?)
        .map_err(|_| AuthError::Malformed("field offset out of range"))?;
    if len == 0 {
        return Ok((off, &[]));
    }
    let end = off
        .checked_add(len)
        .ok_or(AuthError::Malformed("field overflows"))?;
    let bytes = m
        .get(off..end)
        .ok_or(AuthError::Malformed("field points past the message"))?;
    Ok((off, bytes))
}

fn check_header(m: &[u8], ty: u32) -> Result<(), AuthError> {
    if m.len() > MAX_MESSAGE {
        return Err(AuthError::Malformed("NTLM message too long"));
    }
    if m.get(..8) != Some(&NTLMSSP_SIGNATURE[..]) {
        return Err(AuthError::Malformed("missing NTLMSSP signature"));
    }
    match u32_at(m, 8)? {
        t if t == ty => Ok(()),
        NEGOTIATE | CHALLENGE | AUTHENTICATE => Err(AuthError::UnexpectedMessage),
        _ => Err(AuthError::Malformed("unknown NTLM message type")),
    }
}

/// The message type of an NTLMSSP token (1, 2 or 3), if it has the signature.
pub(crate) fn message_type(m: &[u8]) -> Option<u32> {
    if m.get(..8) != Some(&NTLMSSP_SIGNATURE[..]) {
        return None;
    }
    u32_at(m, 8).ok()
}

/// Iterate over AV pairs (MS-NLMP 2.2.2.1), bounded, stopping at MsvAvEOL.
fn av_pairs(mut b: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), AuthError>> {
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let pair = (|| {
            let id = u16_at(b, 0)?;
            let len = usize::from(u16_at(b, 2)?);
            let value = b
                .get(4..4 + len)
                .ok_or(AuthError::Malformed("AV pair points past the message"))?;
            b = b.get(4 + len..).unwrap_or(&[]);
            Ok((id, value))
        })();
        match pair {
            Ok((AV_EOL, _)) => {
                done = true;
                None
            }
            Ok(p) => Some(Ok(p)),
            Err(e) => {
                done = true;
                Some(Err(e))
            }
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitNegotiate,
    AwaitAuthenticate,
    Done,
}

/// One NTLM authentication exchange (one SESSION_SETUP sequence), server side.
pub struct NtlmServer {
    id: ServerIdentity,
    server_challenge: [u8; 8],
    now: u64,
    state: State,
    negotiate_msg: Vec<u8>,
    challenge_msg: Vec<u8>,
    flags: u32,
    mic_verified: bool,
    security: Option<SessionSecurity>,
}

impl NtlmServer {
    /// A fresh exchange. `server_challenge` must come from a CSPRNG; `now_filetime` (100 ns
    /// since 1601) goes into the MsvAvTimestamp pair.
    pub fn new(id: ServerIdentity, server_challenge: [u8; 8], now_filetime: u64) -> Self {
        Self {
            id,
            server_challenge,
            now: now_filetime,
            state: State::AwaitNegotiate,
            negotiate_msg: Vec::new(),
            challenge_msg: Vec::new(),
            flags: 0,
            mic_verified: false,
            security: None,
        }
    }

    /// NEGOTIATE_MESSAGE in → CHALLENGE_MESSAGE out.
    pub fn challenge(&mut self, negotiate: &[u8]) -> Result<Vec<u8>, AuthError> {
        if self.state != State::AwaitNegotiate {
            return Err(AuthError::UnexpectedMessage);
        }
        check_header(negotiate, NEGOTIATE)?;
        let client = u32_at(negotiate, 12)?;
        if client & NEGOTIATE_UNICODE == 0 {
            return Err(AuthError::Malformed("client does not offer Unicode"));
        }
        let flags = NEGOTIATE_UNICODE
            | REQUEST_TARGET
            | NEGOTIATE_NTLM
            | TARGET_TYPE_SERVER
            | NEGOTIATE_TARGET_INFO
            | (client & GRANTABLE);
        let target = utf16le(&self.id.netbios_domain);
        let mut info = Vec::new();
        for (id, value) in [
            (AV_NB_DOMAIN, utf16le(&self.id.netbios_domain)),
            (AV_NB_COMPUTER, utf16le(&self.id.netbios_name)),
            (AV_DNS_DOMAIN, utf16le(&self.id.dns_domain)),
            (AV_DNS_COMPUTER, utf16le(&self.id.dns_name)),
            (AV_TIMESTAMP, self.now.to_le_bytes().to_vec()),
            (AV_EOL, Vec::new()),
        ] {
            let len = u16::try_from(value.len())
                .map_err(|_| AuthError::Malformed("server name too long"))?;
            info.extend_from_slice(&id.to_le_bytes());
            info.extend_from_slice(&len.to_le_bytes());
            info.extend_from_slice(&value);
        }
        let tlen = u16::try_from(target.len())
            .map_err(|_| AuthError::Malformed("server domain name too long"))?;
        let ilen =
            u16::try_from(info.len()).map_err(|_| AuthError::Malformed("target info too long"))?;
        const PAYLOAD_AT: u32 = 56;
        let mut m = Vec::with_capacity(56 + target.len() + info.len());
        m.extend_from_slice(NTLMSSP_SIGNATURE);
        m.extend_from_slice(&CHALLENGE.to_le_bytes());
        m.extend_from_slice(&tlen.to_le_bytes());
        m.extend_from_slice(&tlen.to_le_bytes());
        m.extend_from_slice(&PAYLOAD_AT.to_le_bytes());
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&self.server_challenge);
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&ilen.to_le_bytes());
        m.extend_from_slice(&ilen.to_le_bytes());
        m.extend_from_slice(&(PAYLOAD_AT + u32::from(tlen)).to_le_bytes());
        m.extend_from_slice(&VERSION);
        m.extend_from_slice(&target);
        m.extend_from_slice(&info);
        self.flags = flags;
        self.negotiate_msg = negotiate.to_vec();
        self.challenge_msg = m.clone();
        self.state = State::AwaitAuthenticate;
        Ok(m)
    }

    /// AUTHENTICATE_MESSAGE in → who it is and the ExportedSessionKey.
    ///
    /// NTLMv2 only: a 24-byte NtChallengeResponse (NTLMv1) or an LM-only answer is refused
    /// with [`AuthError::NtlmV1Refused`]. The MIC is checked when the client's MsvAvFlags says
    /// it is present. Whatever the result, the exchange is over afterwards.
    pub fn authenticate(
        &mut self,
        auth: &[u8],
        creds: &dyn Credentials,
    ) -> Result<AuthOutcome, AuthError> {
        if self.state != State::AwaitAuthenticate {
            return Err(AuthError::UnexpectedMessage);
        }
        self.state = State::Done;
        check_header(auth, AUTHENTICATE)?;
        if auth.len() < AUTH_HEADER {
            return Err(AuthError::Malformed("truncated AUTHENTICATE message"));
        }
        let fields = [12, 20, 28, 36, 44, 52].map(|at| field(auth, at));
        let [lm, nt, domain, user, workstation, enc_key] = fields;
        let (lm, nt, domain, user, workstation, enc_key) =
            (lm?, nt?, domain?, user?, workstation?, enc_key?);
        // Where the payload starts: the MIC can only be there if nothing points before 88.
        let payload_at = [lm, nt, domain, user, workstation, enc_key]
            .iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|(off, _)| *off)
            .min()
            .unwrap_or(auth.len());
        let auth_flags = u32_at(auth, 60)?;
        let domain = from_utf16le(domain.1)?;
        let user = from_utf16le(user.1)?;
        let (lm, nt, enc_key) = (lm.1, nt.1, enc_key.1);

        if user.is_empty() && nt.is_empty() && (lm.is_empty() || lm == [0]) {
            return Ok(AuthOutcome::Anonymous);
        }
        if nt.len() == V1_RESPONSE || (nt.is_empty() && lm.len() == V1_RESPONSE) {
            return Err(AuthError::NtlmV1Refused);
        }
        if nt.len() < 16 + BLOB_HEADER {
            return Err(AuthError::Malformed("NTLMv2 response too short"));
        }
        let (proof, temp) = nt.split_at(16);
        if temp.get(..2) != Some(&[1, 1][..]) {
            return Err(AuthError::Malformed("unknown NTLMv2 response version"));
        }
        let client_av = temp.get(BLOB_HEADER..).unwrap_or(&[]);
        let mut mic_flagged = false;
        for pair in av_pairs(client_av) {
            let (id, value) = pair?;
            if id == AV_FLAGS {
                let f = u32_at(value, 0)?;
                mic_flagged = f & AV_FLAG_MIC != 0;
            }
        }

        let hash = creds
            .nt_hash(&user, &domain)
            .ok_or_else(|| AuthError::UnknownUser(user.clone()))?;
        // The client should use the domain it sent; some use it upper-cased or leave it out.
        let upper = domain.to_uppercase();
        let mut response_key = None;
        for d in [domain.as_str(), upper.as_str(), ""] {
            let key = ntowf_v2(&hash, &user, d);
            let want = nt_proof_str(&key, &self.server_challenge, temp);
            if bool::from(want.as_slice().ct_eq(proof)) {
                response_key = Some(key);
                break;
            }
        }
        let response_key = response_key.ok_or(AuthError::WrongPassword)?;
        let mut proof16 = [0u8; 16];
        proof16.copy_from_slice(proof);
        let key_exchange_key = session_base_key(&response_key, &proof16);

        // Grantable flags end as those both sides kept; the server's own ones stay.
        let flags = (self.flags & auth_flags & GRANTABLE) | (self.flags & !GRANTABLE);
        let exported = if flags & NEGOTIATE_KEY_EXCH != 0 {
            let mut k: [u8; 16] = enc_key
                .try_into()
                .map_err(|_| AuthError::Malformed("EncryptedRandomSessionKey is not 16 bytes"))?;
            rc4_in_place(&key_exchange_key, &mut k);
            k
        } else {
            key_exchange_key
        };

        if mic_flagged {
            if payload_at < MIC_END || auth.len() < MIC_END {
                return Err(AuthError::Malformed("MIC flagged but absent"));
            }
            let mut zeroed = auth.to_vec();
            let mic = auth.get(MIC_AT..MIC_END).unwrap_or(&[]);
            if let Some(s) = zeroed.get_mut(MIC_AT..MIC_END) {
                s.fill(0);
            }
            let want = compute_mic(&exported, &self.negotiate_msg, &self.challenge_msg, &zeroed);
            if !bool::from(want.as_slice().ct_eq(mic)) {
                return Err(AuthError::MicMismatch);
            }
            self.mic_verified = true;
        }
        self.flags = flags;
        if flags & NEGOTIATE_EXTENDED_SESSIONSECURITY != 0 {
            self.security = Some(SessionSecurity::new(&exported, flags, Side::Server));
        }
        Ok(AuthOutcome::User {
            user,
            domain,
            session_key: exported,
        })
    }

    /// The flags in force: after [`Self::challenge`] those the server granted, after a
    /// successful [`Self::authenticate`] those both sides agreed on.
    pub fn negotiated_flags(&self) -> u32 {
        self.flags
    }

    /// Whether the AUTHENTICATE_MESSAGE carried a MIC that was verified.
    pub fn mic_verified(&self) -> bool {
        self.mic_verified
    }

    /// Session security (signing/sealing, server side) after a successful user logon with
    /// extended session security; `None` before, for anonymous, or without it.
    pub fn session_security(&mut self) -> Option<&mut SessionSecurity> {
        self.security.as_mut()
    }
}
