//! SPNEGO (RFC 4178, MS-SPNG) around NTLMSSP, acceptor side: the server's initial
//! negTokenInit2, negTokenInit / negTokenResp parsing, mechanism selection, and mechListMIC
//! verification and generation.

use crate::der::{self, Tlv};
use crate::ntlm::{self, NtlmServer};
use crate::{AuthError, AuthOutcome, Credentials, ServerIdentity};

/// DER contents of OID 1.3.6.1.4.1.311.2.2.10 (NTLMSSP).
pub const OID_NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
/// DER contents of OID 1.3.6.1.5.5.2 (SPNEGO).
pub const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

const TAG_APPLICATION_0: u8 = 0x60;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_OID: u8 = 0x06;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_ENUMERATED: u8 = 0x0a;
const TAG_GENERAL_STRING: u8 = 0x1b;
const fn ctx(n: u8) -> u8 {
    0xa0 | n
}

/// negState values.
const ACCEPT_COMPLETED: u8 = 0;
const ACCEPT_INCOMPLETE: u8 = 1;
const REJECT: u8 = 2;
const REQUEST_MIC: u8 = 3;

/// The GSS-API-wrapped negTokenInit2 a server puts in its NEGOTIATE response: mechTypes with
/// NTLMSSP only, and negHints with the conventional hintName
/// "not_defined_in_RFC4178@please_ignore".
pub fn server_neg_token_init() -> Vec<u8> {
    let mech_types = der::encode(TAG_SEQUENCE, &der::encode(TAG_OID, OID_NTLMSSP));
    let hint_name = der::encode(TAG_GENERAL_STRING, b"not_defined_in_RFC4178@please_ignore");
    let hints = der::encode(TAG_SEQUENCE, &der::encode(ctx(0), &hint_name));
    let mut init = der::encode(ctx(0), &mech_types);
    init.extend_from_slice(&der::encode(ctx(3), &hints));
    let mut inner = der::encode(TAG_OID, OID_SPNEGO);
    inner.extend_from_slice(&der::encode(ctx(0), &der::encode(TAG_SEQUENCE, &init)));
    der::encode(TAG_APPLICATION_0, &inner)
}

/// A negTokenResp.
fn neg_token_resp(state: u8, mech: bool, token: Option<&[u8]>, mic: Option<&[u8]>) -> Vec<u8> {
    let mut seq = der::encode(ctx(0), &der::encode(TAG_ENUMERATED, &[state]));
    if mech {
        seq.extend_from_slice(&der::encode(ctx(1), &der::encode(TAG_OID, OID_NTLMSSP)));
    }
    if let Some(t) = token {
        seq.extend_from_slice(&der::encode(ctx(2), &der::encode(TAG_OCTET_STRING, t)));
    }
    if let Some(m) = mic {
        seq.extend_from_slice(&der::encode(ctx(3), &der::encode(TAG_OCTET_STRING, m)));
    }
    der::encode(ctx(1), &der::encode(TAG_SEQUENCE, &seq))
}

/// The fields of a negTokenInit or negTokenResp this server cares about.
#[derive(Default)]
struct Fields<'a> {
    /// negTokenInit: the whole DER MechTypeList, and the OIDs in it.
    mech_types: Option<&'a [u8]>,
    mechs: Vec<&'a [u8]>,
    /// negTokenResp: negState.
    state: Option<u8>,
    /// mechToken / responseToken.
    token: Option<&'a [u8]>,
    /// mechListMIC.
    mic: Option<&'a [u8]>,
}

fn octet_string(t: Tlv<'_>) -> Result<&[u8], AuthError> {
    Ok(der::read_only(t.contents, TAG_OCTET_STRING, "expected an OCTET STRING")?.contents)
}

/// Fields of a negTokenInit SEQUENCE's contents: [0] mechTypes, [1] reqFlags,
/// [2] mechToken, [3] mechListMIC.
fn parse_init(seq: &[u8]) -> Result<Fields<'_>, AuthError> {
    let mut f = Fields::default();
    for t in der::children(seq) {
        let t = t?;
        match t.tag {
            0xa0 => {
                let list = der::read_only(t.contents, TAG_SEQUENCE, "mechTypes is not a SEQUENCE")?;
                f.mech_types = Some(list.whole);
                for m in der::children(list.contents) {
                    let m = m?;
                    if m.tag != TAG_OID {
                        return Err(AuthError::Malformed("mechTypes holds a non-OID"));
                    }
                    if f.mechs.len() >= 32 {
                        return Err(AuthError::Malformed("too many mechTypes"));
                    }
                    f.mechs.push(m.contents);
                }
            }
            0xa1 => {}
            0xa2 => f.token = Some(octet_string(t)?),
            0xa3 => f.mic = Some(octet_string(t)?),
            _ => return Err(AuthError::Malformed("unknown negTokenInit field")),
        }
    }
    Ok(f)
}

/// Fields of a negTokenResp SEQUENCE's contents: [0] negState, [1] supportedMech,
/// [2] responseToken, [3] mechListMIC.
fn parse_resp(seq: &[u8]) -> Result<Fields<'_>, AuthError> {
    let mut f = Fields::default();
    for t in der::children(seq) {
        let t = t?;
        match t.tag {
            0xa0 => {
                let e = der::read_only(t.contents, TAG_ENUMERATED, "negState is not ENUMERATED")?;
                match e.contents {
                    [s] => f.state = Some(*s),
                    _ => return Err(AuthError::Malformed("negState of the wrong size")),
                }
            }
            0xa1 => {
                let m = der::read_only(t.contents, TAG_OID, "supportedMech is not an OID")?;
                if m.contents != OID_NTLMSSP {
                    return Err(AuthError::NoCommonMechanism);
                }
            }
            0xa2 => f.token = Some(octet_string(t)?),
            0xa3 => f.mic = Some(octet_string(t)?),
            _ => return Err(AuthError::Malformed("unknown negTokenResp field")),
        }
    }
    Ok(f)
}

/// One step of a session-setup conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// More processing required: send this token with STATUS_MORE_PROCESSING_REQUIRED.
    Continue(Vec<u8>),
    /// Done: send this token (accept-completed, with the server's mechListMIC where needed;
    /// empty for raw NTLMSSP) with STATUS_SUCCESS.
    Done {
        /// The final token for the client.
        token: Vec<u8>,
        /// Who authenticated.
        outcome: AuthOutcome,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing received yet.
    Start,
    /// SPNEGO: the NTLM NEGOTIATE is still to come.
    AwaitNegotiate,
    /// SPNEGO: CHALLENGE sent, AUTHENTICATE to come.
    AwaitAuthenticate,
    /// Raw NTLMSSP: CHALLENGE sent.
    RawAwaitAuthenticate,
    /// Finished, successfully or not.
    Done,
}

/// Drives SPNEGO (or raw NTLMSSP) through one SESSION_SETUP sequence, token in, token out.
pub struct SpnegoServer {
    ntlm: NtlmServer,
    mode: Mode,
    /// The client's DER MechTypeList, over which mechListMICs are computed.
    mech_types: Vec<u8>,
    /// NTLMSSP was not the client's first choice: RFC 4178 requires the MIC exchange.
    mic_required: bool,
    /// supportedMech still to be sent (it belongs in the first reply only).
    mech_pending: bool,
}

impl SpnegoServer {
    /// A fresh conversation; see [`NtlmServer::new`] for the arguments.
    pub fn new(id: ServerIdentity, server_challenge: [u8; 8], now_filetime: u64) -> Self {
        Self {
            ntlm: NtlmServer::new(id, server_challenge, now_filetime),
            mode: Mode::Start,
            mech_types: Vec::new(),
            mic_required: false,
            mech_pending: false,
        }
    }

    /// Feeds one token from the client: a GSS-wrapped negTokenInit (0x60 ...), a
    /// negTokenResp (0xa1 ...), or a raw NTLMSSP message (b"NTLMSSP\0...").
    ///
    /// Any error ends the conversation; later calls return [`AuthError::UnexpectedMessage`].
    pub fn step(&mut self, token: &[u8], creds: &dyn Credentials) -> Result<Step, AuthError> {
        let mode = std::mem::replace(&mut self.mode, Mode::Done);
        let r = self.step_in(mode, token, creds);
        if r.is_err() {
            self.mode = Mode::Done;
        }
        r
    }

    fn step_in(
        &mut self,
        mode: Mode,
        token: &[u8],
        creds: &dyn Credentials,
    ) -> Result<Step, AuthError> {
        if token.len() > der::MAX_TOKEN {
            return Err(AuthError::Malformed("token too large"));
        }
        if token.starts_with(ntlm::NTLMSSP_SIGNATURE) {
            return match mode {
                Mode::Start => {
                    let ch = self.ntlm.challenge(token)?;
                    self.mode = Mode::RawAwaitAuthenticate;
                    Ok(Step::Continue(ch))
                }
                Mode::RawAwaitAuthenticate => {
                    let outcome = self.ntlm.authenticate(token, creds)?;
                    Ok(Step::Done {
                        token: Vec::new(),
                        outcome,
                    })
                }
                _ => Err(AuthError::UnexpectedMessage),
            };
        }
        der::validate(token, 0)?;
        let (top, _trailing) = der::read(token)?;
        match (top.tag, mode) {
            (TAG_APPLICATION_0, Mode::Start) => self.neg_token_init(top.contents, creds),
            (0xa1, Mode::AwaitNegotiate | Mode::AwaitAuthenticate) => {
                let seq = der::read_only(top.contents, TAG_SEQUENCE, "negTokenResp")?;
                let f = parse_resp(seq.contents)?;
                if f.state == Some(REJECT) {
                    return Err(AuthError::Rejected);
                }
                let tok = f
                    .token
                    .ok_or(AuthError::Malformed("negTokenResp without a token"))?;
                self.ntlm_step(mode, tok, f.mic, creds)
            }
            (TAG_APPLICATION_0 | 0xa1, _) => Err(AuthError::UnexpectedMessage),
            _ => Err(AuthError::Malformed("neither SPNEGO nor NTLMSSP")),
        }
    }

    fn neg_token_init(&mut self, gss: &[u8], creds: &dyn Credentials) -> Result<Step, AuthError> {
        let (oid, rest) = der::read(gss)?;
        if oid.tag != TAG_OID || oid.contents != OID_SPNEGO {
            return Err(AuthError::Malformed("GSS token is not SPNEGO"));
        }
        let init = der::read_only(rest, ctx(0), "expected negTokenInit")?;
        let seq = der::read_only(
            init.contents,
            TAG_SEQUENCE,
            "negTokenInit is not a SEQUENCE",
        )?;
        let f = parse_init(seq.contents)?;
        let mech_types = f
            .mech_types
            .ok_or(AuthError::Malformed("negTokenInit without mechTypes"))?;
        if !f.mechs.contains(&OID_NTLMSSP) {
            return Err(AuthError::NoCommonMechanism);
        }
        self.mech_types = mech_types.to_vec();
        self.mech_pending = true;
        let first_choice = f.mechs.first() == Some(&OID_NTLMSSP);
        match f.token {
            Some(tok) if first_choice => self.ntlm_step(Mode::AwaitNegotiate, tok, None, creds),
            _ => {
                // Either no optimistic token, or one for another mechanism (e.g. Kerberos),
                // which is dropped: select NTLMSSP and wait for its NEGOTIATE.
                self.mic_required = !first_choice;
                self.mech_pending = false;
                self.mode = Mode::AwaitNegotiate;
                let state = if first_choice {
                    ACCEPT_INCOMPLETE
                } else {
                    REQUEST_MIC
                };
                Ok(Step::Continue(neg_token_resp(state, true, None, None)))
            }
        }
    }

    fn ntlm_step(
        &mut self,
        mode: Mode,
        tok: &[u8],
        client_mic: Option<&[u8]>,
        creds: &dyn Credentials,
    ) -> Result<Step, AuthError> {
        match (ntlm::message_type(tok), mode) {
            (Some(1), Mode::AwaitNegotiate) => {
                let ch = self.ntlm.challenge(tok)?;
                self.mode = Mode::AwaitAuthenticate;
                let mech = std::mem::replace(&mut self.mech_pending, false);
                Ok(Step::Continue(neg_token_resp(
                    ACCEPT_INCOMPLETE,
                    mech,
                    Some(&ch),
                    None,
                )))
            }
            (Some(3), Mode::AwaitAuthenticate) => {
                let outcome = self.ntlm.authenticate(tok, creds)?;
                if outcome == AuthOutcome::Anonymous {
                    return Ok(Step::Done {
                        token: neg_token_resp(ACCEPT_COMPLETED, false, None, None),
                        outcome,
                    });
                }
                // "New" SPNEGO: NTLM with a MIC and signing, or a non-first-choice mechanism,
                // needs the mechListMIC exchange; a client that sends one gets one back.
                let needs_mic = self.mic_required
                    || (self.ntlm.mic_verified()
                        && self.ntlm.negotiated_flags() & crate::flags::NEGOTIATE_SIGN != 0);
                let server_mic = match (client_mic, needs_mic) {
                    (Some(mic), _) => {
                        let types = &self.mech_types;
                        let sec = self.ntlm.session_security().ok_or(AuthError::Malformed(
                            "mechListMIC without extended session security",
                        ))?;
                        sec.verify(types, mic)?;
                        Some(sec.sign(types))
                    }
                    (None, true) => return Err(AuthError::MissingMechListMic),
                    (None, false) => None,
                };
                Ok(Step::Done {
                    token: neg_token_resp(
                        ACCEPT_COMPLETED,
                        false,
                        None,
                        server_mic.as_ref().map(|m| &m[..]),
                    ),
                    outcome,
                })
            }
            (Some(1..=3), _) => Err(AuthError::UnexpectedMessage),
            _ => Err(AuthError::Malformed("mechToken is not an NTLMSSP message")),
        }
    }
}
