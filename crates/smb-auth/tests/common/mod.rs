//! A small test-only NTLMv2 + SPNEGO client built from the crate's public primitives, and a
//! tiny DER toolkit to wrap and unwrap its tokens.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

use smb_auth::flags::*;
use smb_auth::{
    compute_mic, nt_hash, nt_proof_str, ntowf_v2, rc4_in_place, session_base_key, utf16le,
    AuthError, AuthOutcome, Credentials, ServerIdentity, SessionSecurity, Side, SpnegoServer, Step,
    OID_NTLMSSP, OID_SPNEGO,
};

/// OID 1.2.840.113554.1.2.2 (Kerberos 5).
pub const OID_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];

pub fn identity() -> ServerIdentity {
    ServerIdentity {
        netbios_name: "NAS".into(),
        netbios_domain: "WORKGROUP".into(),
        dns_name: "nas.example.org".into(),
        dns_domain: "example.org".into(),
    }
}

/// Accounts: alice/Secret1 and bob/hunter2, looked up case-insensitively.
pub struct Users;

impl Credentials for Users {
    fn nt_hash(&self, user: &str, _domain: &str) -> Option<[u8; 16]> {
        match user.to_lowercase().as_str() {
            "alice" => Some(nt_hash("Secret1")),
            "bob" => Some(nt_hash("hunter2")),
            _ => None,
        }
    }
}

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ---- DER ----

pub fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = contents.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(contents);
    out
}

/// (tag, contents, rest)
pub fn tlv(b: &[u8]) -> (u8, &[u8], &[u8]) {
    let (len, hdr) = match b[1] {
        l if l < 0x80 => (l as usize, 2),
        0x81 => (b[2] as usize, 3),
        0x82 => (((b[2] as usize) << 8) | b[3] as usize, 4),
        l => panic!("unexpected length byte {l:#x}"),
    };
    (b[0], &b[hdr..hdr + len], &b[hdr + len..])
}

pub fn mech_type_list(mechs: &[&[u8]]) -> Vec<u8> {
    let oids: Vec<u8> = mechs.iter().flat_map(|m| der(0x06, m)).collect();
    der(0x30, &oids)
}

/// GSS-wrapped negTokenInit with these mechTypes and an optional mechToken.
pub fn neg_token_init(mech_types: &[u8], token: Option<&[u8]>) -> Vec<u8> {
    let mut seq = der(0xa0, mech_types);
    if let Some(t) = token {
        seq.extend_from_slice(&der(0xa2, &der(0x04, t)));
    }
    let mut inner = der(0x06, OID_SPNEGO);
    inner.extend_from_slice(&der(0xa0, &der(0x30, &seq)));
    der(0x60, &inner)
}

/// A client negTokenResp with a responseToken and an optional mechListMIC.
pub fn neg_token_resp(token: &[u8], mic: Option<&[u8]>) -> Vec<u8> {
    let mut seq = der(0xa2, &der(0x04, token));
    if let Some(m) = mic {
        seq.extend_from_slice(&der(0xa3, &der(0x04, m)));
    }
    der(0xa1, &der(0x30, &seq))
}

/// A server negTokenResp, decoded.
#[derive(Debug, Default)]
pub struct Resp {
    pub state: Option<u8>,
    pub mech: Option<Vec<u8>>,
    pub token: Option<Vec<u8>>,
    pub mic: Option<Vec<u8>>,
}

pub fn parse_resp(b: &[u8]) -> Resp {
    let (tag, body, rest) = tlv(b);
    assert_eq!(tag, 0xa1, "negTokenResp");
    assert!(rest.is_empty());
    let (tag, mut seq, _) = tlv(body);
    assert_eq!(tag, 0x30);
    let mut r = Resp::default();
    while !seq.is_empty() {
        let (tag, c, rest) = tlv(seq);
        seq = rest;
        let (_, inner, _) = tlv(c);
        match tag {
            0xa0 => r.state = Some(inner[0]),
            0xa1 => r.mech = Some(inner.to_vec()),
            0xa2 => r.token = Some(inner.to_vec()),
            0xa3 => r.mic = Some(inner.to_vec()),
            t => panic!("unexpected negTokenResp field {t:#x}"),
        }
    }
    r
}

// ---- NTLM client ----

/// How the test client misbehaves, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Twist {
    #[default]
    None,
    /// Answer with a 24-byte NTLMv1-style response.
    NtlmV1,
    /// Flip a bit of the AUTHENTICATE MIC.
    TamperMic,
    /// Anonymous: no user, no responses.
    Anonymous,
    /// Flip a bit of the SPNEGO mechListMIC.
    TamperMechListMic,
    /// Leave the SPNEGO mechListMIC out.
    NoMechListMic,
}

pub struct NtlmClient {
    pub user: String,
    pub domain: String,
    pub password: String,
    pub flags: u32,
    pub client_challenge: [u8; 8],
    pub random_session_key: [u8; 16],
    pub twist: Twist,
    pub negotiate: Vec<u8>,
    pub exported: Option<[u8; 16]>,
    pub negotiated: u32,
}

pub const CLIENT_FLAGS: u32 = NEGOTIATE_UNICODE
    | REQUEST_TARGET
    | NEGOTIATE_SIGN
    | NEGOTIATE_SEAL
    | NEGOTIATE_NTLM
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_TARGET_INFO
    | NEGOTIATE_VERSION
    | NEGOTIATE_128
    | NEGOTIATE_KEY_EXCH
    | NEGOTIATE_56;

impl NtlmClient {
    pub fn new(user: &str, domain: &str, password: &str) -> Self {
        Self {
            user: user.into(),
            domain: domain.into(),
            password: password.into(),
            flags: CLIENT_FLAGS,
            client_challenge: *b"\xaa\xbb\xcc\xdd\x01\x02\x03\x04",
            random_session_key: [0x42; 16],
            twist: Twist::None,
            negotiate: Vec::new(),
            exported: None,
            negotiated: 0,
        }
    }

    pub fn negotiate(&mut self) -> Vec<u8> {
        let mut m = b"NTLMSSP\0".to_vec();
        m.extend_from_slice(&1u32.to_le_bytes());
        m.extend_from_slice(&self.flags.to_le_bytes());
        m.extend_from_slice(&[0; 16]); // empty domain and workstation fields
        m.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]);
        self.negotiate = m.clone();
        m
    }

    /// CHALLENGE in → AUTHENTICATE out (NTLMv2 with MsvAvFlags MIC, KEY_EXCH, MIC).
    pub fn authenticate(&mut self, challenge: &[u8]) -> Vec<u8> {
        assert_eq!(&challenge[..8], b"NTLMSSP\0");
        assert_eq!(u32::from_le_bytes(challenge[8..12].try_into().unwrap()), 2);
        let flags = u32::from_le_bytes(challenge[20..24].try_into().unwrap()) & self.flags;
        self.negotiated = flags;
        let server_challenge: [u8; 8] = challenge[24..32].try_into().unwrap();
        let ti_len = u16::from_le_bytes(challenge[40..42].try_into().unwrap()) as usize;
        let ti_off = u32::from_le_bytes(challenge[44..48].try_into().unwrap()) as usize;
        let target_info = &challenge[ti_off..ti_off + ti_len];
        // Copy the server's AV pairs, add MsvAvFlags = MIC present before MsvAvEOL.
        let mut av = Vec::new();
        let mut rest = target_info;
        let mut timestamp = [0u8; 8];
        loop {
            let id = u16::from_le_bytes([rest[0], rest[1]]);
            let len = u16::from_le_bytes([rest[2], rest[3]]) as usize;
            if id == 0 {
                break;
            }
            if id == 7 {
                timestamp.copy_from_slice(&rest[4..12]);
            }
            av.extend_from_slice(&rest[..4 + len]);
            rest = &rest[4 + len..];
        }
        av.extend_from_slice(&[6, 0, 4, 0, 2, 0, 0, 0]);
        av.extend_from_slice(&[0, 0, 0, 0]);

        let (lm, nt, enc_key, exported) = if self.twist == Twist::Anonymous {
            (Vec::new(), Vec::new(), Vec::new(), None)
        } else if self.twist == Twist::NtlmV1 {
            (vec![0x11; 24], vec![0x22; 24], Vec::new(), None)
        } else {
            let key = ntowf_v2(&nt_hash(&self.password), &self.user, &self.domain);
            let mut temp = vec![1, 1, 0, 0, 0, 0, 0, 0];
            temp.extend_from_slice(&timestamp);
            temp.extend_from_slice(&self.client_challenge);
            temp.extend_from_slice(&[0; 4]);
            temp.extend_from_slice(&av);
            temp.extend_from_slice(&[0; 4]);
            let proof = nt_proof_str(&key, &server_challenge, &temp);
            let base = session_base_key(&key, &proof);
            let mut nt = proof.to_vec();
            nt.extend_from_slice(&temp);
            let (enc, exported) = if flags & NEGOTIATE_KEY_EXCH != 0 {
                let mut k = self.random_session_key;
                rc4_in_place(&base, &mut k);
                (k.to_vec(), self.random_session_key)
            } else {
                (Vec::new(), base)
            };
            (vec![0; 24], nt, enc, Some(exported))
        };
        let (user, domain) = if self.twist == Twist::Anonymous {
            (String::new(), String::new())
        } else {
            (self.user.clone(), self.domain.clone())
        };
        let fields: [Vec<u8>; 6] = [
            lm,
            nt,
            utf16le(&domain),
            utf16le(&user),
            utf16le("CLIENT"),
            enc_key,
        ];
        let mut header = b"NTLMSSP\0".to_vec();
        header.extend_from_slice(&3u32.to_le_bytes());
        let mut payload = Vec::new();
        let mut offset = 88u32;
        // Field descriptors in wire order: Lm, Nt, Domain, User, Workstation, EncKey.
        for f in &fields {
            header.extend_from_slice(&(f.len() as u16).to_le_bytes());
            header.extend_from_slice(&(f.len() as u16).to_le_bytes());
            header.extend_from_slice(&offset.to_le_bytes());
            offset += f.len() as u32;
            payload.extend_from_slice(f);
        }
        header.extend_from_slice(&flags.to_le_bytes());
        header.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]);
        header.extend_from_slice(&[0; 16]);
        let mut m = header;
        m.extend_from_slice(&payload);
        if let Some(exported) = exported {
            let mut mic = compute_mic(&exported, &self.negotiate, challenge, &m);
            if self.twist == Twist::TamperMic {
                mic[0] ^= 1;
            }
            m[72..88].copy_from_slice(&mic);
        }
        self.exported = exported;
        m
    }

    pub fn security(&self) -> SessionSecurity {
        SessionSecurity::new(&self.exported.unwrap(), self.negotiated, Side::Client)
    }
}

/// The outcome of a whole SPNEGO conversation run by the test client against the server.
pub struct Conversation {
    pub result: Result<AuthOutcome, AuthError>,
    /// Session key the client derived.
    pub client_key: Option<[u8; 16]>,
    /// Whether the server's mechListMIC verified under the client's keys.
    pub server_mic_ok: Option<bool>,
    pub first_reply: Option<Resp>,
}

/// NEGOTIATE inside negTokenInit (optimistic), then AUTHENTICATE + mechListMIC inside a
/// negTokenResp. With `kerberos_first`, Kerberos is listed (and "used") first, so NTLMSSP
/// arrives in a second round trip.
pub fn converse(mut client: NtlmClient, kerberos_first: bool) -> Conversation {
    let mut server = SpnegoServer::new(
        identity(),
        *b"\x01\x23\x45\x67\x89\xab\xcd\xef",
        0x01d9_0000_0000_0000,
    );
    let mechs: Vec<&[u8]> = if kerberos_first {
        vec![OID_KRB5, OID_NTLMSSP]
    } else {
        vec![OID_NTLMSSP]
    };
    let mech_types = mech_type_list(&mechs);
    let twist = client.twist;
    let mut conv = Conversation {
        result: Err(AuthError::UnexpectedMessage),
        client_key: None,
        server_mic_ok: None,
        first_reply: None,
    };

    let challenge_resp = if kerberos_first {
        let init = neg_token_init(
            &mech_types,
            Some(b"\x60\x03\x06\x01\x00 not really kerberos"),
        );
        let Step::Continue(reply) = server.step(&init, &Users).unwrap() else {
            panic!("expected Continue")
        };
        let r = parse_resp(&reply);
        conv.first_reply = Some(parse_resp(&reply));
        assert_eq!(r.token, None, "no NTLM challenge before the NEGOTIATE");
        match server.step(&neg_token_resp(&client.negotiate(), None), &Users) {
            Ok(Step::Continue(reply)) => parse_resp(&reply),
            other => panic!("expected Continue, got {other:?}"),
        }
    } else {
        let init = neg_token_init(&mech_types, Some(&client.negotiate()));
        match server.step(&init, &Users) {
            Ok(Step::Continue(reply)) => {
                conv.first_reply = Some(parse_resp(&reply));
                parse_resp(&reply)
            }
            other => panic!("expected Continue, got {other:?}"),
        }
    };
    let challenge = challenge_resp
        .token
        .clone()
        .expect("CHALLENGE in responseToken");
    let auth = client.authenticate(&challenge);
    conv.client_key = client.exported;
    let mic = client.exported.map(|_| {
        let mut m = client.security().sign(&mech_types);
        if twist == Twist::TamperMechListMic {
            m[5] ^= 0x80;
        }
        m
    });
    let mic = if twist == Twist::NoMechListMic {
        None
    } else {
        mic
    };
    match server.step(&neg_token_resp(&auth, mic.as_ref().map(|m| &m[..])), &Users) {
        Ok(Step::Done { token, outcome }) => {
            let r = parse_resp(&token);
            assert_eq!(r.state, Some(0), "accept-completed");
            if let Some(server_mic) = r.mic {
                let mut sec = client.security();
                let _ = sec.sign(&mech_types); // the client's own MIC used send seq 0
                conv.server_mic_ok = Some(sec.verify(&mech_types, &server_mic).is_ok());
            }
            conv.result = Ok(outcome);
        }
        Ok(Step::Continue(_)) => panic!("expected Done"),
        Err(e) => conv.result = Err(e),
    }
    conv
}
