//! NTLMv2 cryptographic primitives (MS-NLMP 3.3.2, 3.4.4, 3.4.5) and NTLM2 session
//! security ("extended session security") signing and sealing.
//!
//! These are public so that known-answer tests (MS-NLMP 4.2.4) can check every intermediate
//! value, and so that a test client can be built from the same pieces.

use hmac::{Hmac, Mac};
use md4::Md4;
use md5::{Digest, Md5};
use rc4::{KeyInit, Rc4, StreamCipher};
use subtle::ConstantTimeEq;

use crate::flags;
use crate::AuthError;

type HmacMd5 = Hmac<Md5>;

/// HMAC-MD5 of the concatenation of `parts` under `key`.
pub fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    let Ok(mut m) = <HmacMd5 as Mac>::new_from_slice(key) else {
        return [0; 16];
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// UTF-16LE bytes of `s` (NTLM's "UNICODE" strings).
pub fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The NT hash of a password: MD4 of its UTF-16LE encoding (NTOWFv1 in MS-NLMP 3.3.1).
pub fn nt_hash(password: &str) -> [u8; 16] {
    Md4::digest(utf16le(password)).into()
}

/// NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(NT hash, UNICODE(Uppercase(user) || domain)). The
/// domain keeps the case the client sent.
pub fn ntowf_v2(nt_hash: &[u8; 16], user: &str, domain: &str) -> [u8; 16] {
    let mut who = user.to_uppercase();
    who.push_str(domain);
    hmac_md5(nt_hash, &[&utf16le(&who)])
}

/// NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || temp), where `temp` is the
/// NTLMv2 client challenge structure (the NtChallengeResponse after its first 16 bytes).
pub fn nt_proof_str(
    response_key_nt: &[u8; 16],
    server_challenge: &[u8; 8],
    temp: &[u8],
) -> [u8; 16] {
    hmac_md5(response_key_nt, &[server_challenge, temp])
}

/// SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr). With NTLMv2 it is also the
/// KeyExchangeKey.
pub fn session_base_key(response_key_nt: &[u8; 16], nt_proof_str: &[u8; 16]) -> [u8; 16] {
    hmac_md5(response_key_nt, &[nt_proof_str])
}

/// RC4 with a 16-byte key over `data`, in place (used for key exchange: the client sends
/// RC4(KeyExchangeKey, ExportedSessionKey) and the server applies it again to recover it).
pub fn rc4_in_place(key: &[u8; 16], data: &mut [u8]) {
    let mut c = Rc4::<rc4::consts::U16>::new(key.into());
    c.apply_keystream(data);
}

/// The AUTHENTICATE_MESSAGE MIC (MS-NLMP 3.1.5.1.2): HMAC_MD5(ExportedSessionKey,
/// NEGOTIATE || CHALLENGE || AUTHENTICATE), the AUTHENTICATE's MIC field zeroed.
pub fn compute_mic(
    exported_session_key: &[u8; 16],
    negotiate: &[u8],
    challenge: &[u8],
    authenticate_mic_zeroed: &[u8],
) -> [u8; 16] {
    hmac_md5(
        exported_session_key,
        &[negotiate, challenge, authenticate_mic_zeroed],
    )
}

const CLIENT_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
const CLIENT_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const SERVER_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
const SERVER_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

fn md5_of(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Which end of the conversation a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The initiator (client-to-server keys).
    Client,
    /// The acceptor (server-to-client keys).
    Server,
}

/// SIGNKEY (MS-NLMP 3.4.5.2) with extended session security: MD5(key || magic).
pub fn signing_key(exported_session_key: &[u8; 16], side: Side) -> [u8; 16] {
    let magic = match side {
        Side::Client => CLIENT_SIGN,
        Side::Server => SERVER_SIGN,
    };
    md5_of(&[exported_session_key, magic])
}

/// SEALKEY (MS-NLMP 3.4.5.3) with extended session security: the exported key is cut to
/// 16, 7 or 5 bytes by NEGOTIATE_128 / NEGOTIATE_56 / neither, then MD5(key || magic).
pub fn sealing_key(exported_session_key: &[u8; 16], negotiated_flags: u32, side: Side) -> [u8; 16] {
    let magic = match side {
        Side::Client => CLIENT_SEAL,
        Side::Server => SERVER_SEAL,
    };
    let n = if negotiated_flags & flags::NEGOTIATE_128 != 0 {
        16
    } else if negotiated_flags & flags::NEGOTIATE_56 != 0 {
        7
    } else {
        5
    };
    let key = exported_session_key
        .get(..n)
        .unwrap_or(exported_session_key);
    md5_of(&[key, magic])
}

/// NTLMSSP_MESSAGE_SIGNATURE: Version 1, the 8-byte checksum, the sequence number.
fn signature(checksum: &[u8; 8], seq: [u8; 4]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&1u32.to_le_bytes());
    out[4..12].copy_from_slice(checksum);
    out[12..].copy_from_slice(&seq);
    out
}

/// The first 8 bytes of HMAC_MD5(SigningKey, SeqNum || message).
fn checksum(sign_key: &[u8; 16], seq: [u8; 4], msg: &[u8]) -> [u8; 8] {
    let h = hmac_md5(sign_key, &[&seq, msg]);
    let mut c = [0u8; 8];
    if let Some(first) = h.get(..8) {
        c.copy_from_slice(first);
    }
    c
}

/// Keys, RC4 state and sequence number of one direction.
struct Direction {
    sign_key: [u8; 16],
    rc4: Rc4<rc4::consts::U16>,
    seq: u32,
}

impl Direction {
    fn new(exported: &[u8; 16], negotiated_flags: u32, side: Side) -> Self {
        let seal = sealing_key(exported, negotiated_flags, side);
        Self {
            sign_key: signing_key(exported, side),
            rc4: Rc4::new(&seal.into()),
            seq: 0,
        }
    }

    /// NTLMSSP_MESSAGE_SIGNATURE over `msg` (MS-NLMP 3.4.4.2), advancing the sequence
    /// number and, when the checksum is sealed, the RC4 state.
    fn mac(&mut self, msg: &[u8], key_exch: bool) -> [u8; 16] {
        let seq = self.seq.to_le_bytes();
        let mut c = checksum(&self.sign_key, seq, msg);
        if key_exch {
            self.rc4.apply_keystream(&mut c);
        }
        self.seq = self.seq.wrapping_add(1);
        signature(&c, seq)
    }
}

/// NTLM2 session security (extended session security) after a successful logon: signing
/// (GSS_GetMIC / GSS_VerifyMIC) and sealing (GSS_WrapEx / GSS_UnwrapEx) for one side.
///
/// Each direction keeps its own sequence number (starting at 0) and its own RC4 handle; the
/// checksum is RC4-sealed only when NEGOTIATE_KEY_EXCH was negotiated.
pub struct SessionSecurity {
    send: Direction,
    recv: Direction,
    key_exch: bool,
}

impl SessionSecurity {
    /// Keys for `side` from the ExportedSessionKey and the negotiated flags.
    pub fn new(exported_session_key: &[u8; 16], negotiated_flags: u32, side: Side) -> Self {
        let other = match side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        };
        Self {
            send: Direction::new(exported_session_key, negotiated_flags, side),
            recv: Direction::new(exported_session_key, negotiated_flags, other),
            key_exch: negotiated_flags & flags::NEGOTIATE_KEY_EXCH != 0,
        }
    }

    /// Signature of an outgoing message (GSS_GetMIC).
    pub fn sign(&mut self, msg: &[u8]) -> [u8; 16] {
        self.send.mac(msg, self.key_exch)
    }

    /// Checks the signature of an incoming message (GSS_VerifyMIC), in constant time.
    pub fn verify(&mut self, msg: &[u8], signature: &[u8]) -> Result<(), AuthError> {
        let want = self.recv.mac(msg, self.key_exch);
        if bool::from(want.as_slice().ct_eq(signature)) {
            Ok(())
        } else {
            Err(AuthError::MicMismatch)
        }
    }

    /// Encrypts an outgoing message in place and returns its signature (GSS_WrapEx with
    /// confidentiality: the checksum covers the plaintext, the message is sealed first, then
    /// the checksum with the same RC4 stream).
    pub fn seal(&mut self, msg: &mut [u8]) -> [u8; 16] {
        let seq = self.send.seq.to_le_bytes();
        let mut c = checksum(&self.send.sign_key, seq, msg);
        self.send.rc4.apply_keystream(msg);
        if self.key_exch {
            self.send.rc4.apply_keystream(&mut c);
        }
        self.send.seq = self.send.seq.wrapping_add(1);
        signature(&c, seq)
    }

    /// Decrypts an incoming sealed message in place and checks its signature.
    pub fn unseal(&mut self, msg: &mut [u8], sig: &[u8]) -> Result<(), AuthError> {
        self.recv.rc4.apply_keystream(msg);
        let seq = self.recv.seq.to_le_bytes();
        let mut c = checksum(&self.recv.sign_key, seq, msg);
        if self.key_exch {
            self.recv.rc4.apply_keystream(&mut c);
        }
        self.recv.seq = self.recv.seq.wrapping_add(1);
        if bool::from(signature(&c, seq).as_slice().ct_eq(sig)) {
            Ok(())
        } else {
            Err(AuthError::MicMismatch)
        }
    }
}
