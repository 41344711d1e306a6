//! MS-NLMP 4.2.4 (NTLMv2 authentication) known-answer vectors: user "User", domain
//! "Domain", password "Password", server challenge 0123456789abcdef, client challenge
//! aaaaaaaaaaaaaaaa, RandomSessionKey 55..55, time 0; and the 4.2.4.4 GSS_WrapEx example.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

mod common;

use common::hex;
use smb_auth::flags::*;
use smb_auth::{
    hmac_md5, nt_hash, nt_proof_str, ntowf_v2, rc4_in_place, sealing_key, session_base_key,
    signing_key, utf16le, AuthOutcome, Credentials, NtlmServer, ServerIdentity, SessionSecurity,
    Side,
};

const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];
const RANDOM_SESSION_KEY: [u8; 16] = [0x55; 16];
/// The 4.2.4 challenge flags: 0xe28a8233.
const FLAGS: u32 = NEGOTIATE_KEY_EXCH
    | NEGOTIATE_56
    | NEGOTIATE_128
    | NEGOTIATE_VERSION
    | NEGOTIATE_TARGET_INFO
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | TARGET_TYPE_SERVER
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_NTLM
    | NEGOTIATE_SEAL
    | NEGOTIATE_SIGN
    | NEGOTIATE_OEM
    | NEGOTIATE_UNICODE;

/// The NTLMv2_CLIENT_CHALLENGE ("temp") of 4.2.4.1.3: version 1/1, time 0, client
/// challenge, the server's AV pairs (NbDomainName "Domain", NbComputerName "Server", EOL).
fn temp() -> Vec<u8> {
    let mut t = vec![1, 1, 0, 0, 0, 0, 0, 0];
    t.extend_from_slice(&[0; 8]);
    t.extend_from_slice(&CLIENT_CHALLENGE);
    t.extend_from_slice(&[0; 4]);
    t.extend_from_slice(&[2, 0, 12, 0]);
    t.extend_from_slice(&utf16le("Domain"));
    t.extend_from_slice(&[1, 0, 12, 0]);
    t.extend_from_slice(&utf16le("Server"));
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(&[0; 4]);
    t
}

#[test]
fn ntlmv2_intermediate_values() {
    assert_eq!(FLAGS, 0xe28a_8233);
    let nt = nt_hash("Password");
    assert_eq!(
        nt.to_vec(),
        hex("a4f49c406510bdcab6824ee7c30fd852"),
        "NTOWFv1"
    );
    let key = ntowf_v2(&nt, "User", "Domain");
    assert_eq!(
        key.to_vec(),
        hex("0c868a403bfd7a93a3001ef22ef02e3f"),
        "NTOWFv2"
    );
    // The user name is upper-cased, the domain is not.
    assert_eq!(ntowf_v2(&nt, "user", "Domain"), key);
    assert_ne!(ntowf_v2(&nt, "User", "DOMAIN"), key);

    // LMv2 response (4.2.4.2.1): HMAC_MD5(ResponseKeyLM, server || client challenge) || client.
    let lmv2 = hmac_md5(&key, &[&SERVER_CHALLENGE, &CLIENT_CHALLENGE]);
    assert_eq!(
        lmv2.to_vec(),
        hex("86c35097ac9cec102554764a57cccc19"),
        "LMv2"
    );

    let proof = nt_proof_str(&key, &SERVER_CHALLENGE, &temp());
    assert_eq!(
        proof.to_vec(),
        hex("68cd0ab851e51c96aabc927bebef6a1c"),
        "NTProofStr"
    );

    let base = session_base_key(&key, &proof);
    assert_eq!(
        base.to_vec(),
        hex("8de40ccadbc14a82f15cb0ad0de95ca3"),
        "SessionBaseKey"
    );

    let mut enc = RANDOM_SESSION_KEY;
    rc4_in_place(&base, &mut enc);
    assert_eq!(
        enc.to_vec(),
        hex("c5dad2544fc9799094ce1ce90bc9d03e"),
        "EncryptedRandomSessionKey"
    );
    rc4_in_place(&base, &mut enc);
    assert_eq!(
        enc, RANDOM_SESSION_KEY,
        "RC4 key exchange is its own inverse"
    );
}

#[test]
fn gss_wrap_ex_example_4_2_4_4() {
    assert_eq!(
        sealing_key(&RANDOM_SESSION_KEY, FLAGS, Side::Client).to_vec(),
        hex("59f600973cc4960a25480a7c196e4c58"),
        "client sealing key"
    );
    assert_eq!(
        signing_key(&RANDOM_SESSION_KEY, Side::Client).to_vec(),
        hex("4788dc861b4782f35d43fd98fe1a2d39"),
        "client signing key"
    );
    // Checksum before RC4: HMAC_MD5(SigningKey, SeqNum 0 || plaintext)[..8].
    let plaintext = utf16le("Plaintext");
    let h = hmac_md5(
        &signing_key(&RANDOM_SESSION_KEY, Side::Client),
        &[&[0; 4], &plaintext],
    );
    assert_eq!(h[..8].to_vec(), hex("7035 2851 f256 4309"));

    // The client seals...
    let mut client = SessionSecurity::new(&RANDOM_SESSION_KEY, FLAGS, Side::Client);
    let mut data = plaintext.clone();
    let sig = client.seal(&mut data);
    assert_eq!(
        data,
        hex("54e50165bf1936dc996020c1811b0f06fb5f"),
        "sealed data"
    );
    assert_eq!(
        sig.to_vec(),
        hex("01000000 7fb38ec5c55d4976 00000000"),
        "signature"
    );

    // ...and the server unseals the spec's bytes and checks the signature.
    let mut server = SessionSecurity::new(&RANDOM_SESSION_KEY, FLAGS, Side::Server);
    let mut wire = hex("54e50165bf1936dc996020c1811b0f06fb5f");
    server.unseal(&mut wire, &sig).unwrap();
    assert_eq!(wire, plaintext);
    // Sequence numbers advance: the same signature a second time is refused.
    let mut again = hex("54e50165bf1936dc996020c1811b0f06fb5f");
    assert!(server.unseal(&mut again, &sig).is_err());
}

#[test]
fn signing_without_sealing_uses_sequence_numbers() {
    // GSS_GetMIC: a sign-only MAC, seq 0 then 1, verified by the peer in order.
    let mut client = SessionSecurity::new(&RANDOM_SESSION_KEY, FLAGS, Side::Client);
    let mut server = SessionSecurity::new(&RANDOM_SESSION_KEY, FLAGS, Side::Server);
    let m0 = client.sign(b"first");
    let m1 = client.sign(b"second");
    assert_eq!(&m0[..4], &[1, 0, 0, 0]);
    assert_eq!(&m0[12..], &[0, 0, 0, 0]);
    assert_eq!(&m1[12..], &[1, 0, 0, 0]);
    // Sign-only checksum with KEY_EXCH is still RC4-sealed with the sealing key stream.
    let raw = hmac_md5(
        &signing_key(&RANDOM_SESSION_KEY, Side::Client),
        &[&[0; 4], b"first"],
    );
    let mut sealed = [0u8; 8];
    sealed.copy_from_slice(&raw[..8]);
    let seal = sealing_key(&RANDOM_SESSION_KEY, FLAGS, Side::Client);
    rc4_in_place(&seal, &mut sealed);
    assert_eq!(&m0[4..12], &sealed);
    server.verify(b"first", &m0).unwrap();
    server.verify(b"second", &m1).unwrap();
    // Server-to-client keys differ from client-to-server ones.
    let s0 = server.sign(b"first");
    assert_ne!(s0, m0);
    client.verify(b"first", &s0).unwrap();
}

struct SpecUser;

impl Credentials for SpecUser {
    fn nt_hash(&self, user: &str, _domain: &str) -> Option<[u8; 16]> {
        user.eq_ignore_ascii_case("user")
            .then(|| nt_hash("Password"))
    }
}

/// An AUTHENTICATE_MESSAGE carrying exactly the 4.2.4 values, fed to the server after a
/// CHALLENGE with the 4.2.4 server challenge: the server must recover RandomSessionKey.
#[test]
fn server_accepts_the_spec_exchange() {
    let id = ServerIdentity {
        netbios_name: "Server".into(),
        netbios_domain: "Domain".into(),
        dns_name: String::new(),
        dns_domain: String::new(),
    };
    let mut server = NtlmServer::new(id, SERVER_CHALLENGE, 0);
    let mut negotiate = b"NTLMSSP\0\x01\0\0\0".to_vec();
    negotiate.extend_from_slice(&FLAGS.to_le_bytes());
    negotiate.extend_from_slice(&[0; 16]);
    let challenge = server.challenge(&negotiate).unwrap();
    assert_eq!(&challenge[24..32], &SERVER_CHALLENGE);
    let granted = u32::from_le_bytes(challenge[20..24].try_into().unwrap());
    for f in [
        NEGOTIATE_KEY_EXCH,
        NEGOTIATE_128,
        NEGOTIATE_EXTENDED_SESSIONSECURITY,
        NEGOTIATE_SIGN,
        NEGOTIATE_SEAL,
        NEGOTIATE_TARGET_INFO,
        NEGOTIATE_UNICODE,
    ] {
        assert_ne!(granted & f, 0, "flag {f:#x} granted");
    }
    assert_eq!(granted & NEGOTIATE_OEM, 0, "Unicode chosen over OEM");

    let key = ntowf_v2(&nt_hash("Password"), "User", "Domain");
    let proof = nt_proof_str(&key, &SERVER_CHALLENGE, &temp());
    let mut nt = proof.to_vec();
    nt.extend_from_slice(&temp());
    let mut lm = hmac_md5(&key, &[&SERVER_CHALLENGE, &CLIENT_CHALLENGE]).to_vec();
    lm.extend_from_slice(&CLIENT_CHALLENGE);
    let fields = [
        lm,
        nt,
        utf16le("Domain"),
        utf16le("User"),
        utf16le("COMPUTER"),
        hex("c5dad2544fc9799094ce1ce90bc9d03e"),
    ];
    let mut m = b"NTLMSSP\0\x03\0\0\0".to_vec();
    let mut off = 72u32;
    let mut payload = Vec::new();
    for f in &fields {
        m.extend_from_slice(&(f.len() as u16).to_le_bytes());
        m.extend_from_slice(&(f.len() as u16).to_le_bytes());
        m.extend_from_slice(&off.to_le_bytes());
        off += f.len() as u32;
        payload.extend_from_slice(f);
    }
    m.extend_from_slice(&FLAGS.to_le_bytes());
    m.extend_from_slice(&[6, 0, 0x70, 0x17, 0, 0, 0, 15]);
    m.extend_from_slice(&payload);

    let outcome = server.authenticate(&m, &SpecUser).unwrap();
    assert_eq!(
        outcome,
        AuthOutcome::User {
            user: "User".into(),
            domain: "Domain".into(),
            session_key: RANDOM_SESSION_KEY
        }
    );
    assert!(
        !server.mic_verified(),
        "no MsvAvFlags in the spec's blob, so no MIC"
    );
    // The server's session security is the 4.2.4.4 one: it unseals the spec's message.
    let sec = server.session_security().unwrap();
    let mut wire = hex("54e50165bf1936dc996020c1811b0f06fb5f");
    sec.unseal(&mut wire, &hex("010000007fb38ec5c55d497600000000"))
        .unwrap();
    assert_eq!(wire, utf16le("Plaintext"));
}
