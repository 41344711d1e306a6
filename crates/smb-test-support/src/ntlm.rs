//! A small NTLMv2 client (MS-NLMP 3.1.5): NEGOTIATE, then AUTHENTICATE from the server's
//! CHALLENGE, with key exchange. Written independently of the server's smb-auth so the two
//! check each other.

use hmac::{Hmac, Mac};
use md5::Md5;
use rc4::{KeyInit, Rc4, StreamCipher};

type HmacMd5 = Hmac<Md5>;

const UNICODE: u32 = 0x0000_0001;
const REQUEST_TARGET: u32 = 0x0000_0004;
const SIGN: u32 = 0x0000_0010;
const NTLM: u32 = 0x0000_0200;
const ALWAYS_SIGN: u32 = 0x0000_8000;
const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
const TARGET_INFO: u32 = 0x0080_0000;
const VERSION: u32 = 0x0200_0000;
const N128: u32 = 0x2000_0000;
const KEY_EXCH: u32 = 0x4000_0000;
const N56: u32 = 0x8000_0000;

/// The flags this client offers.
pub const FLAGS: u32 = UNICODE
    | REQUEST_TARGET
    | SIGN
    | NTLM
    | ALWAYS_SIGN
    | EXTENDED_SESSIONSECURITY
    | TARGET_INFO
    | VERSION
    | N128
    | KEY_EXCH
    | N56;

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut m = <HmacMd5 as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// MD4 of the UTF-16LE password.
pub fn nt_hash(password: &str) -> [u8; 16] {
    use md4::{Digest, Md4};
    Md4::digest(utf16(password)).into()
}

/// NEGOTIATE_MESSAGE.
pub fn negotiate() -> Vec<u8> {
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&FLAGS.to_le_bytes());
    m.extend_from_slice(&[0u8; 16]); // domain, workstation: empty
    m.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]); // version 10.0.19041, NTLM rev 15
    m
}

/// What the client needs from a CHALLENGE_MESSAGE.
pub struct Challenge {
    pub flags: u32,
    pub server_challenge: [u8; 8],
    pub target_info: Vec<u8>,
}

pub fn parse_challenge(m: &[u8]) -> Challenge {
    assert_eq!(&m[..8], b"NTLMSSP\0", "not NTLMSSP");
    assert_eq!(
        u32::from_le_bytes(m[8..12].try_into().unwrap()),
        2,
        "not a CHALLENGE"
    );
    let flags = u32::from_le_bytes(m[20..24].try_into().unwrap());
    let server_challenge = m[24..32].try_into().unwrap();
    let len = u16::from_le_bytes(m[40..42].try_into().unwrap()) as usize;
    let off = u32::from_le_bytes(m[44..48].try_into().unwrap()) as usize;
    Challenge {
        flags,
        server_challenge,
        target_info: m[off..off + len].to_vec(),
    }
}

/// The result of building an AUTHENTICATE_MESSAGE.
pub struct Authenticate {
    pub message: Vec<u8>,
    /// The ExportedSessionKey both sides use for SMB key derivation.
    pub session_key: [u8; 16],
}

/// AUTHENTICATE_MESSAGE for `user`/`domain` with an NT hash. `client_challenge`,
/// `timestamp` and `random_key` make it deterministic.
pub fn authenticate(
    ch: &Challenge,
    user: &str,
    domain: &str,
    hash: &[u8; 16],
    client_challenge: [u8; 8],
    timestamp: u64,
    random_key: [u8; 16],
) -> Authenticate {
    let key_nt = hmac_md5(hash, &[&utf16(&(user.to_uppercase() + domain))]);
    let mut temp = vec![1u8, 1, 0, 0, 0, 0, 0, 0];
    temp.extend_from_slice(&timestamp.to_le_bytes());
    temp.extend_from_slice(&client_challenge);
    temp.extend_from_slice(&[0; 4]);
    temp.extend_from_slice(&ch.target_info);
    temp.extend_from_slice(&[0; 4]);
    let proof = hmac_md5(&key_nt, &[&ch.server_challenge, &temp]);
    let mut nt_response = proof.to_vec();
    nt_response.extend_from_slice(&temp);
    let session_base = hmac_md5(&key_nt, &[&proof]);
    let flags = FLAGS & ch.flags;
    let (session_key, encrypted_key) = if flags & KEY_EXCH != 0 {
        let mut enc = random_key;
        let mut rc4 = Rc4::new(&session_base.into());
        rc4.apply_keystream(&mut enc);
        (random_key, enc.to_vec())
    } else {
        (session_base, Vec::new())
    };
    let lm_response = vec![0u8; 24];
    let fields: [Vec<u8>; 6] = [
        lm_response,
        nt_response,
        utf16(domain),
        utf16(user),
        utf16("TESTCLIENT"),
        encrypted_key,
    ];
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&3u32.to_le_bytes());
    let mut offset = 88u32;
    let mut payload = Vec::new();
    let mut descr = Vec::new();
    for f in &fields {
        let len = f.len() as u16;
        descr.extend_from_slice(&len.to_le_bytes());
        descr.extend_from_slice(&len.to_le_bytes());
        descr.extend_from_slice(&offset.to_le_bytes());
        offset += u32::from(len);
        payload.extend_from_slice(f);
    }
    // Order on the wire: Lm, Nt, Domain, User, Workstation, EncryptedRandomSessionKey.
    m.extend_from_slice(&descr);
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]);
    m.extend_from_slice(&[0u8; 16]); // MIC: not used (no MsvAvFlags MIC bit)
    assert_eq!(m.len(), 88);
    m.extend_from_slice(&payload);
    Authenticate {
        message: m,
        session_key,
    }
}
