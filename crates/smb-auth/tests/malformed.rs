//! Hostile and broken tokens: each ends in a clean AuthError, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

mod common;

use common::*;
use smb_auth::{AuthError, NtlmServer, SpnegoServer, OID_NTLMSSP};

fn malformed<T: std::fmt::Debug>(r: Result<T, AuthError>) -> &'static str {
    match r {
        Err(AuthError::Malformed(why)) => why,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

/// A server that has sent its CHALLENGE, and a good AUTHENTICATE for it.
fn ready() -> (NtlmServer, Vec<u8>) {
    let mut s = NtlmServer::new(identity(), [5; 8], 0);
    let mut c = NtlmClient::new("alice", "WORKGROUP", "Secret1");
    let ch = s.challenge(&c.negotiate()).unwrap();
    let auth = c.authenticate(&ch);
    (s, auth)
}

#[test]
fn the_good_authenticate_passes() {
    let (mut s, auth) = ready();
    assert!(s.authenticate(&auth, &Users).is_ok());
}

#[test]
fn every_truncation_of_negotiate_and_authenticate_is_an_error() {
    let neg = NtlmClient::new("a", "b", "c").negotiate();
    for n in 0..16 {
        let mut s = NtlmServer::new(identity(), [5; 8], 0);
        assert!(
            matches!(s.challenge(&neg[..n]), Err(AuthError::Malformed(_))),
            "NEGOTIATE cut at {n}"
        );
    }
    let (_, auth) = ready();
    for n in 0..auth.len() {
        let (mut s, _) = ready();
        let r = s.authenticate(&auth[..n], &Users);
        assert!(r.is_err(), "AUTHENTICATE cut at {n} accepted");
        if n < 64 {
            malformed(r);
        }
    }
}

#[test]
fn wrong_signature_and_unknown_type() {
    let mut neg = NtlmClient::new("a", "b", "c").negotiate();
    neg[0] = b'X';
    let mut s = NtlmServer::new(identity(), [5; 8], 0);
    assert_eq!(malformed(s.challenge(&neg)), "missing NTLMSSP signature");
    let mut neg = NtlmClient::new("a", "b", "c").negotiate();
    neg[8] = 9;
    assert_eq!(malformed(s.challenge(&neg)), "unknown NTLM message type");
    // OEM-only clients are refused.
    let mut c = NtlmClient::new("a", "b", "c");
    c.flags = smb_auth::flags::NEGOTIATE_OEM | smb_auth::flags::NEGOTIATE_NTLM;
    assert_eq!(
        malformed(s.challenge(&c.negotiate())),
        "client does not offer Unicode"
    );
}

#[test]
fn offsets_past_the_end_and_overflowing() {
    // NtChallengeResponse offset (bytes 24..28) pointing past the end.
    let (mut s, mut auth) = ready();
    let end = auth.len() as u32;
    auth[24..28].copy_from_slice(&end.to_le_bytes());
    assert_eq!(
        malformed(s.authenticate(&auth, &Users)),
        "field points past the message"
    );
    // Offset near u32::MAX: no overflow, no panic.
    let (mut s, mut auth) = ready();
    auth[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        s.authenticate(&auth, &Users),
        Err(AuthError::Malformed(_))
    ));
    // A user name of odd length is not UTF-16.
    let (mut s, mut auth) = ready();
    let len = u16::from_le_bytes([auth[36], auth[37]]) - 1;
    auth[36..38].copy_from_slice(&len.to_le_bytes());
    assert_eq!(
        malformed(s.authenticate(&auth, &Users)),
        "odd length of a UTF-16 string"
    );
    // Unpaired surrogate in the user name.
    let (mut s, mut auth) = ready();
    let off = u32::from_le_bytes(auth[40..44].try_into().unwrap()) as usize;
    auth[off..off + 2].copy_from_slice(&0xd800u16.to_le_bytes());
    assert_eq!(
        malformed(s.authenticate(&auth, &Users)),
        "invalid UTF-16 string"
    );
}

#[test]
fn broken_ntlmv2_blobs() {
    // A short NT response that is not the 24 bytes of NTLMv1.
    let (mut s, mut auth) = ready();
    auth[20..22].copy_from_slice(&30u16.to_le_bytes());
    assert_eq!(
        malformed(s.authenticate(&auth, &Users)),
        "NTLMv2 response too short"
    );
    // Blob version other than 1/1.
    let (mut s, mut auth) = ready();
    let nt_off = u32::from_le_bytes(auth[24..28].try_into().unwrap()) as usize;
    auth[nt_off + 16] = 2;
    assert_eq!(
        malformed(s.authenticate(&auth, &Users)),
        "unknown NTLMv2 response version"
    );
    // An AV pair whose length runs past the blob.
    let (mut s, mut auth) = ready();
    let av = nt_off + 16 + 28;
    auth[av + 2..av + 4].copy_from_slice(&0xfff0u16.to_le_bytes());
    assert_eq!(
        malformed(s.authenticate(&auth, &Users)),
        "AV pair points past the message"
    );
    // KEY_EXCH negotiated but EncryptedRandomSessionKey of the wrong size.
    let (mut s, mut auth) = ready();
    auth[52..54].copy_from_slice(&8u16.to_le_bytes());
    assert_eq!(
        malformed(s.authenticate(&auth, &Users)),
        "EncryptedRandomSessionKey is not 16 bytes"
    );
    // MIC flagged, but the payload starts at 72 (no room for a MIC).
    let (mut s, mut auth) = ready();
    auth[16..20].copy_from_slice(&72u32.to_le_bytes()); // LM response "at" 72
    assert_eq!(
        malformed(s.authenticate(&auth, &Users)),
        "MIC flagged but absent"
    );
}

#[test]
fn oversized_ntlm_message() {
    let mut neg = NtlmClient::new("a", "b", "c").negotiate();
    neg.resize(70_000, 0);
    let mut s = NtlmServer::new(identity(), [5; 8], 0);
    assert_eq!(malformed(s.challenge(&neg)), "NTLM message too long");
}

fn spnego_step(token: &[u8]) -> Result<smb_auth::Step, AuthError> {
    SpnegoServer::new(identity(), [5; 8], 0).step(token, &Users)
}

#[test]
fn der_lengths_past_the_end() {
    let neg = NtlmClient::new("a", "b", "c").negotiate();
    let good = neg_token_init(&mech_type_list(&[OID_NTLMSSP]), Some(&neg));
    assert!(spnego_step(&good).is_ok());
    for n in 0..good.len() {
        assert!(
            matches!(spnego_step(&good[..n]), Err(AuthError::Malformed(_))),
            "cut at {n}"
        );
    }
    // Outer length claims more than there is.
    let mut long = good.clone();
    long[1] += 1;
    assert_eq!(
        malformed(spnego_step(&long)),
        "DER element runs past the end"
    );
    // Long-form length of 4 bytes and of 64 KiB + 1.
    assert_eq!(
        malformed(spnego_step(&[0x60, 0x84, 0, 0, 0, 1, 0])),
        "DER length too large"
    );
    assert_eq!(
        malformed(spnego_step(&[0x60, 0x83, 0x01, 0x00, 0x01, 0])),
        "DER length too large"
    );
}

#[test]
fn der_indefinite_length_is_refused() {
    assert_eq!(
        malformed(spnego_step(&[0x60, 0x80, 0x06, 0x00, 0x00, 0x00])),
        "DER indefinite length"
    );
    assert_eq!(
        malformed(spnego_step(&[0xa1, 0x80, 0x00, 0x00])),
        "DER indefinite length"
    );
}

#[test]
fn der_nested_too_deeply_is_refused() {
    let mut t = der(0x04, b"x");
    for _ in 0..40 {
        t = der(0x30, &t);
    }
    let t = der(0xa1, &t);
    assert_eq!(malformed(spnego_step(&t)), "DER nested too deeply");
    // Moderately deep but well-formed garbage is still refused, by the grammar.
    let mut t = der(0x04, b"x");
    for _ in 0..3 {
        t = der(0x30, &t);
    }
    assert!(matches!(
        spnego_step(&der(0x60, &t)),
        Err(AuthError::Malformed(_))
    ));
}

#[test]
fn spnego_grammar_violations() {
    let neg = NtlmClient::new("a", "b", "c").negotiate();
    // Wrong GSS OID.
    let mut inner = der(0x06, &[0x2a, 0x03]);
    inner.extend_from_slice(&der(0xa0, &der(0x30, &[])));
    assert_eq!(
        malformed(spnego_step(&der(0x60, &inner))),
        "GSS token is not SPNEGO"
    );
    // mechTypes holding an INTEGER.
    let bad_types = der(0x30, &der(0x02, &[1]));
    assert_eq!(
        malformed(spnego_step(&neg_token_init(&bad_types, Some(&neg)))),
        "mechTypes holds a non-OID"
    );
    // mechToken that is not NTLMSSP.
    let good_types = mech_type_list(&[OID_NTLMSSP]);
    assert_eq!(
        malformed(spnego_step(&neg_token_init(&good_types, Some(b"hello")))),
        "mechToken is not an NTLMSSP message"
    );
    // mechToken not an OCTET STRING.
    let mut seq = der(0xa0, &good_types);
    seq.extend_from_slice(&der(0xa2, &der(0x0c, b"utf8")));
    let mut inner = der(0x06, smb_auth::OID_SPNEGO);
    inner.extend_from_slice(&der(0xa0, &der(0x30, &seq)));
    assert_eq!(
        malformed(spnego_step(&der(0x60, &inner))),
        "expected an OCTET STRING"
    );
    // Neither SPNEGO nor NTLMSSP.
    assert_eq!(
        malformed(spnego_step(b"\x04\x00")),
        "neither SPNEGO nor NTLMSSP"
    );
    assert_eq!(malformed(spnego_step(b"")), "DER element runs past the end");
    // High tag number form.
    assert_eq!(
        malformed(spnego_step(&[0x7f, 0x01, 0x00])),
        "DER high tag numbers not supported"
    );
}

#[test]
fn negtokenresp_problems() {
    let mut s = SpnegoServer::new(identity(), [5; 8], 0);
    let good_types = mech_type_list(&[OID_NTLMSSP]);
    s.step(&neg_token_init(&good_types, None), &Users).unwrap();
    // No responseToken.
    let empty = der(0xa1, &der(0x30, &der(0xa0, &der(0x0a, &[1]))));
    assert_eq!(
        malformed(s.step(&empty, &Users)),
        "negTokenResp without a token"
    );
    // Any error ends the conversation.
    let neg = NtlmClient::new("a", "b", "c").negotiate();
    assert_eq!(
        s.step(&neg_token_resp(&neg, None), &Users),
        Err(AuthError::UnexpectedMessage)
    );
    // The client rejecting.
    let mut s = SpnegoServer::new(identity(), [5; 8], 0);
    s.step(&neg_token_init(&good_types, None), &Users).unwrap();
    let reject = der(0xa1, &der(0x30, &der(0xa0, &der(0x0a, &[2]))));
    assert_eq!(s.step(&reject, &Users), Err(AuthError::Rejected));
}

/// A tiny deterministic generator for a smoke-fuzz of both parsers.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn mutated_conversations_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut c = NtlmClient::new("alice", "WORKGROUP", "Secret1");
    let types = mech_type_list(&[OID_NTLMSSP]);
    let init = neg_token_init(&types, Some(&c.negotiate()));
    let mut s = SpnegoServer::new(identity(), [5; 8], 0);
    let smb_auth::Step::Continue(reply) = s.step(&init, &Users).unwrap() else {
        panic!()
    };
    let ch = parse_resp(&reply).token.unwrap();
    let resp = neg_token_resp(&c.authenticate(&ch), Some(&[0; 16]));
    for round in 0..3000 {
        let mut a = init.clone();
        let mut b = resp.clone();
        for _ in 0..1 + rng.next() % 4 {
            let i = (rng.next() as usize) % a.len();
            a[i] = rng.next() as u8;
            let j = (rng.next() as usize) % b.len();
            b[j] = rng.next() as u8;
        }
        if round % 7 == 0 {
            a.truncate((rng.next() as usize) % a.len());
        }
        let mut s = SpnegoServer::new(identity(), [5; 8], 0);
        let _ = s.step(&a, &Users);
        let _ = s.step(&b, &Users);
        let mut n = NtlmServer::new(identity(), [5; 8], 0);
        let _ = n.challenge(&a[a.len().min(20)..]);
        let _ = n.authenticate(&b[b.len().min(20)..], &Users);
    }
}
