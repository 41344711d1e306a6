//! SP800-108 KDF and session key derivation against Microsoft's published
//! keys (SMB 3.0 and SMB 3.1.1 blog examples) and, for AES-256 and 2.x,
//! values produced by tests/vectors/gen_vectors.py (Python `hmac`).

// Test helpers outside #[test] fns: same allowance clippy.toml gives tests.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;
use common::*;
use smb_crypto::{derive_session_keys, kdf, signing_algorithm_for, Cipher, SigningAlgorithm};

#[test]
fn kdf_smb311_signing_key_known_answer() {
    let k = kdf(
        &hex(A1_SESSION_KEY),
        b"SMBSigningKey\0",
        &hex(A1_PREAUTH),
        16,
    );
    assert_eq!(k, hex(A1_SIGNING_KEY));
}

#[test]
fn kdf_output_length_enters_the_derivation() {
    // L is part of the PRF input, so a 32-byte output is not a 16-byte one
    // with 16 more bytes appended.
    let sk = hex(A1_SESSION_KEY);
    let k16 = kdf(&sk, b"SMBSigningKey\0", &hex(A1_PREAUTH), 16);
    let k32 = kdf(&sk, b"SMBSigningKey\0", &hex(A1_PREAUTH), 32);
    assert_eq!(k32.len(), 32);
    assert_ne!(&k32[..16], &k16[..]);
    // Capped, never panics or allocates without bound.
    assert_eq!(
        kdf(&sk, b"x\0", b"", usize::MAX).len(),
        smb_crypto::KDF_MAX_OUTPUT
    );
    assert!(kdf(&sk, b"x\0", b"", 0).is_empty());
}

#[test]
fn smb311_gcm_session_keys_from_ms_appendix_a1() {
    let keys = derive_session_keys(
        0x0311,
        &hex(A1_SESSION_KEY),
        Some(&hex64(A1_PREAUTH)),
        Some(Cipher::Aes128Gcm),
    );
    assert_eq!(keys.signing, hex(A1_SIGNING_KEY));
    // Server view: it decrypts what the client encrypted (C2S) ...
    assert_eq!(keys.decryption, hex(A1_C2S_KEY));
    // ... and encrypts with the key the client decrypts with (S2C).
    assert_eq!(keys.encryption, hex(A1_S2C_KEY));
    assert_eq!(keys.application, hex(A1_APP_KEY));
}

#[test]
fn smb30_session_keys_from_ms_blog() {
    // "Encryption in SMB 3.0: a protocol perspective", session 0x8e40014000011.
    let keys = derive_session_keys(0x0300, &hex("B4546771B515F766A86735532DD6C4F0"), None, None);
    assert_eq!(keys.signing, hex("F773CD23C18FD1E08EE510CADA7CF852"));
    assert_eq!(keys.decryption, hex("261B72350558F2E9DCF613070383EDBF")); // client EncryptionKey
    assert_eq!(keys.encryption, hex("8FE2B57EC34D2DB5B1A9727F526BBDB5")); // client DecryptionKey
    assert_eq!(keys.application, hex("77432F808CE99156B5BC6A3676D730D1"));
    // 3.0.2 uses the same labels; preauth/cipher are ignored for 3.0.x.
    let keys302 = derive_session_keys(
        0x0302,
        &hex("B4546771B515F766A86735532DD6C4F0"),
        Some(&[7u8; 64]),
        Some(Cipher::Aes256Gcm),
    );
    assert_eq!(keys302, keys);
}

#[test]
fn smb311_aes256_keys_use_full_session_key_and_32_byte_output() {
    // Values from gen_vectors.py: full session key 0x20..0x3F, A.1 preauth.
    let full: Vec<u8> = (0x20u8..0x40).collect();
    for cipher in [Cipher::Aes256Gcm, Cipher::Aes256Ccm] {
        let keys = derive_session_keys(0x0311, &full, Some(&hex64(A1_PREAUTH)), Some(cipher));
        assert_eq!(
            keys.encryption,
            hex("7330E611D89F8BD4D0EAF215A49FB02F13EECCC9237436EAAD62DFD1025C951C")
        );
        assert_eq!(
            keys.decryption,
            hex("3334A9F25E7DBDB8A342C07EBFBB2D26CC2FD6C04058EC2083CBA7D217A76848")
        );
        // Signing and application keys stay 128-bit, from the 16-byte SessionKey.
        assert_eq!(keys.signing, hex("A91BB5D9670E1F3818E25366C6DC3415"));
        assert_eq!(keys.application, hex("8168F74D42C0727EDA97DC6FA103C023"));
    }
    // With an AES-128 cipher only the first 16 bytes of the key matter.
    let k128 = derive_session_keys(
        0x0311,
        &full,
        Some(&hex64(A1_PREAUTH)),
        Some(Cipher::Aes128Gcm),
    );
    let k16 = derive_session_keys(0x0311, &full[..16], Some(&hex64(A1_PREAUTH)), None);
    assert_eq!(k128, k16);
    assert_eq!(k128.encryption.len(), 16);
}

#[test]
fn smb2x_signing_key_is_the_session_key() {
    for dialect in [0x0202u16, 0x0210] {
        let keys = derive_session_keys(
            dialect,
            &hex("0123456789ABCDEFFEDCBA9876543210AABB"),
            None,
            None,
        );
        assert_eq!(keys.signing, hex("0123456789ABCDEFFEDCBA9876543210")); // first 16 bytes
        assert_eq!(keys.application, keys.signing);
        assert!(keys.encryption.is_empty() && keys.decryption.is_empty());
    }
    // A short GSS key is right-padded with zeros to 16 bytes.
    let keys = derive_session_keys(0x0210, &[1, 2, 3], None, None);
    assert_eq!(
        keys.signing,
        [1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    // Debug never prints key material.
    let dbg = format!("{keys:?}");
    assert!(dbg.contains("signing_len: 16") && !dbg.contains("[1, 2, 3"));
}

#[test]
fn signing_algorithm_per_dialect() {
    use SigningAlgorithm::*;
    assert_eq!(signing_algorithm_for(0x0202, None), HmacSha256);
    assert_eq!(signing_algorithm_for(0x0210, Some(AesGmac)), HmacSha256);
    assert_eq!(signing_algorithm_for(0x0300, None), AesCmac);
    assert_eq!(signing_algorithm_for(0x0302, Some(AesGmac)), AesCmac);
    assert_eq!(signing_algorithm_for(0x0311, None), AesCmac);
    assert_eq!(signing_algorithm_for(0x0311, Some(AesGmac)), AesGmac);
    assert_eq!(signing_algorithm_for(0x0311, Some(HmacSha256)), HmacSha256);
    for id in 0..3 {
        assert_eq!(SigningAlgorithm::from_id(id).unwrap().id(), id);
    }
    assert_eq!(SigningAlgorithm::from_id(3), None);
}

#[test]
fn cipher_ids_and_sizes() {
    let all = [
        Cipher::Aes128Ccm,
        Cipher::Aes128Gcm,
        Cipher::Aes256Ccm,
        Cipher::Aes256Gcm,
    ];
    for (i, c) in all.iter().enumerate() {
        assert_eq!(c.id(), i as u16 + 1);
        assert_eq!(Cipher::from_id(c.id()), Some(*c));
    }
    assert_eq!(Cipher::from_id(0), None);
    assert_eq!(Cipher::from_id(5), None);
    assert_eq!(
        all.map(|c| (c.key_len(), c.nonce_len())),
        [(16, 11), (16, 12), (32, 11), (32, 12)]
    );
}
