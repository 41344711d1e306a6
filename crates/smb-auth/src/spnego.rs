//! SPNEGO (RFC 4178, MS-SPNG) around NTLMSSP: the server's initial hint, negTokenInit and
//! negTokenResp parsing, mechListMIC verification and generation. A minimal, bounded DER
//! reader: definite lengths only, at most 64 KiB, nesting bounded by the grammar.

use subtle::ConstantTimeEq;

use crate::ntlm::{NtlmServer, SIGNATURE};
use crate::{AuthError, AuthOutcome, Credentials, ServerIdentity};

/// DER contents of OID 1.3.6.1.4.1.311.2.2.10 (NTLMSSP).
pub const OID_NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
/// DER contents of OID 1.3.6.1.5.5.2 (SPNEGO).
const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
const MAX_TOKEN: usize = 64 * 1024;

const ACCEPT_COMPLETED: u8 = 0;
const ACCEPT_INCOMPLETE: u8 = 1;

/// One DER element: (tag, contents, whole encoding, rest of the input).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// Read one DER TLV.
fn tlv(b: &[u8]) -> Result<Tlv<'_>, AuthError> {
    let bad = AuthError::Malformed("DER");
    let tag = *b.first().ok_or(bad.clone())?;
    let l0 = *b.get(1).ok_or(bad.clone())?;
    let (len, hdr) = if l0 < 0x80 {
        (usize::from(l0), 2)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 3 {
            // Indefinite or absurd lengths are not DER here.
            return Err(bad);
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + i).ok_or(bad.clone())?);
        }
        (len, 2 + n)
    };
    if len > MAX_TOKEN {
        return Err(AuthError::Malformed("DER length too large"));
    }
    let end = hdr.checked_add(len).ok_or(bad.clone())?;
    let contents = b.get(hdr..end).ok_or(bad.clone())?;
    let whole = b.get(..end).ok_or(bad.clone())?;
    let rest = b.get(end..).ok_or(bad)?;
    Ok((tag, contents, whole, rest))
}

fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = contents.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else if n < 0x10000 {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    } else {
        out.extend_from_slice(&[0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(contents);
    out
}

fn oid(o: &[u8]) -> Vec<u8> {
    der(0x06, o)
}

/// The GSS-wrapped negTokenInit a server puts in its NEGOTIATE response: mechTypes with
/// NTLMSSP only, and the conventional negHints.
pub fn server_neg_token_init() -> Vec<u8> {
    let mech_types = der(0x30, &oid(OID_NTLMSSP));
    let hint = der(0x30, &der(0xa0, &der(0x1b, b"not_defined_in_RFC4178@please_ignore")));
    let mut init = der(0xa0, &mech_types);
    init.extend_from_slice(&der(0xa3, &hint));
    let mut inner = oid(OID_SPNEGO);
    inner.extend_from_slice(&der(0xa0, &der(0x30, &init)));
    der(0x60, &inner)
}

fn neg_token_resp(state: u8, mech: bool, token: Option<&[u8]>, mic: Option<&[u8]>) -> Vec<u8> {
    let mut seq = der(0xa0, &der(0x0a, &[state]));
    if mech {
        seq.extend_from_slice(&der(0xa1, &oid(OID_NTLMSSP)));
    }
    if let Some(t) = token {
        seq.extend_from_slice(&der(0xa2, &der(0x04, t)));
    }
    if let Some(m) = mic {
        seq.extend_from_slice(&der(0xa3, &der(0x04, m)));
    }
    der(0xa1, &der(0x30, &seq))
}

/// Parsed fields of a negTokenInit or negTokenResp.
#[derive(Default)]
struct Parsed<'a> {
    mech_types: Option<&'a [u8]>,
    first_mech: Option<&'a [u8]>,
    has_ntlm: bool,
    token: Option<&'a [u8]>,
    mic: Option<&'a [u8]>,
}

fn parse_fields(seq: &[u8], init: bool) -> Result<Parsed<'_>, AuthError> {
    let mut p = Parsed::default();
    let mut rest = seq;
    while !rest.is_empty() {
        let (tag, contents, _, r) = tlv(rest)?;
        rest = r;
        match (init, tag) {
            (true, 0xa0) => {
                let (t, list, whole, _) = tlv(contents)?;
                if t != 0x30 {
                    return Err(AuthError::Malformed("mechTypes"));
                }
                p.mech_types = Some(whole);
                let mut l = list;
                while !l.is_empty() {
                    let (t, o, _, r2) = tlv(l)?;
                    l = r2;
                    if t != 0x06 {
                        return Err(AuthError::Malformed("mech OID"));
                    }
                    if p.first_mech.is_none() {
                        p.first_mech = Some(o);
                    }
                    if o == OID_NTLMSSP {
                        p.has_ntlm = true;
                    }
                }
            }
            (true, 0xa2) | (false, 0xa2) => {
                let (t, tok, _, _) = tlv(contents)?;
                if t != 0x04 {
                    return Err(AuthError::Malformed("mechToken"));
                }
                p.token = Some(tok);
            }
            (_, 0xa3) => {
                let (t, m, _, _) = tlv(contents)?;
                if t == 0x04 {
                    p.mic = Some(m);
                }
            }
            _ => {}
        }
    }
    Ok(p)
}

/// One step of a session-setup conversation.
#[derive(Debug)]
pub enum Step {
    /// Send this token with STATUS_MORE_PROCESSING_REQUIRED.
    Continue(Vec<u8>),
    /// Done: send this token (possibly empty) with STATUS_SUCCESS.
    Done { token: Vec<u8>, outcome: AuthOutcome },
}

/// Drives SPNEGO (or raw NTLMSSP) for one SESSION_SETUP sequence.
pub struct SpnegoServer {
    ntlm: NtlmServer,
    mech_types: Option<Vec<u8>>,
    raw: bool,
}

impl SpnegoServer {
    pub fn new(id: ServerIdentity, server_challenge: [u8; 8], now_filetime: u64) -> Self {
        Self { ntlm: NtlmServer::new(id, server_challenge, now_filetime), mech_types: None, raw: false }
    }

    pub fn step(&mut self, token: &[u8], creds: &dyn Credentials) -> Result<Step, AuthError> {
        if token.len() > MAX_TOKEN {
            return Err(AuthError::Malformed("token too large"));
        }
        if token.starts_with(SIGNATURE) {
            self.raw = true;
            return self.ntlm_step(token, None, creds);
        }
        let (tag, contents, _, _) = tlv(token)?;
        match tag {
            0x60 => {
                let (t, o, _, rest) = tlv(contents)?;
                if t != 0x06 || o != OID_SPNEGO {
                    return Err(AuthError::Malformed("not SPNEGO"));
                }
                let (t, inner, _, _) = tlv(rest)?;
                if t != 0xa0 {
                    return Err(AuthError::Malformed("expected negTokenInit"));
                }
                let (t, seq, _, _) = tlv(inner)?;
                if t != 0x30 {
                    return Err(AuthError::Malformed("negTokenInit"));
                }
                let p = parse_fields(seq, true)?;
                if !p.has_ntlm {
                    return Err(AuthError::Malformed("client does not offer NTLMSSP"));
                }
                self.mech_types = p.mech_types.map(<[u8]>::to_vec);
                match p.token {
                    Some(tok) if p.first_mech == Some(OID_NTLMSSP) => self.ntlm_step(tok, p.mic, creds),
                    // An optimistic token for another mechanism: select NTLMSSP and wait.
                    _ => Ok(Step::Continue(neg_token_resp(ACCEPT_INCOMPLETE, true, None, None))),
                }
            }
            0xa1 => {
                let (t, seq, _, _) = tlv(contents)?;
                if t != 0x30 {
                    return Err(AuthError::Malformed("negTokenResp"));
                }
                let p = parse_fields(seq, false)?;
                let tok = p.token.ok_or(AuthError::Malformed("negTokenResp without a token"))?;
                self.ntlm_step(tok, p.mic, creds)
            }
            _ => Err(AuthError::Malformed("unknown token")),
        }
    }

    fn ntlm_step(&mut self, tok: &[u8], mic: Option<&[u8]>, creds: &dyn Credentials) -> Result<Step, AuthError> {
        let ty = tok.get(8..12).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
        match ty {
            Some(1) => {
                let ch = self.ntlm.challenge(tok)?;
                if self.raw {
                    return Ok(Step::Continue(ch));
                }
                Ok(Step::Continue(neg_token_resp(ACCEPT_INCOMPLETE, true, Some(&ch), None)))
            }
            Some(3) => {
                let outcome = self.ntlm.authenticate(tok, creds)?;
                if self.raw {
                    return Ok(Step::Done { token: Vec::new(), outcome });
                }
                let mut server_mic = None;
                if let (Some(mic), Some(types), Some(sec)) = (mic, self.mech_types.as_ref(), self.ntlm.security.as_mut()) {
                    let want = sec.client.mac(types);
                    if !bool::from(want.ct_eq(mic)) {
                        return Err(AuthError::MicMismatch);
                    }
                    server_mic = Some(sec.server.mac(types));
                }
                Ok(Step::Done { token: neg_token_resp(ACCEPT_COMPLETED, false, None, server_mic.as_ref().map(|m| &m[..])), outcome })
            }
            _ => Err(AuthError::UnexpectedMessage),
        }
    }
}
