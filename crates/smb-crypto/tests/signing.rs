//! Signing transcripts: a message arrives signed, we verify it; we sign a
//! reply and compare with the published or independently computed signature.
//! AES-CMAC vectors are Microsoft's (SMB 3.1.1 blog, appendices A.1/A.2);
//! HMAC-SHA256 and AES-GMAC values come from tests/vectors/gen_vectors.py
//! (Python `hmac` and `cryptography`'s AESGCM with the message as AAD).

// Test helpers outside #[test] fns: same allowance clippy.toml gives tests.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;
use common::*;
use smb_crypto::{sign, verify, CryptoError, SigningAlgorithm, SigningKey};

const HMAC_KEY: &str = "0123456789ABCDEFFEDCBA9876543210";
/// An SMB 2.1 TREE_CONNECT request (\\192.168.1.1\IPC$), SIGNED flag set,
/// signature field zero.
const HMAC_MSG: &str = "
    FE534D4240000100000000000300010008000000000000000300000000000000FFFE000001000000
    4500000000E0000000000000000000000000000000000000090000004800260000005C005C003100
    390032002E003100360038002E0031002E0031005C0049005000430024000000";
const HMAC_SIG: &str = "D8C247758E49FA2F7A607D5DC10EE48A";

/// A client CANCEL (command 0x000C), MessageId 7, SIGNED flag, sig zero.
const CANCEL_REQUEST: &str = "
    FE534D4240000100000000000C000000080000000000000007000000000000000000000000000000
    2500000000100000000000000000000000000000000000000400000000000000";

fn sig_field(msg: &[u8]) -> &[u8] {
    &msg[48..64]
}

#[test]
fn aes_cmac_verifies_and_reproduces_ms_session_setup_responses() {
    for (msg_hex, key_hex) in [
        (A1_FINAL_SESSION_SETUP_RESPONSE, A1_SIGNING_KEY),
        (A2_FINAL_SESSION_SETUP_RESPONSE, A2_SIGNING_KEY),
    ] {
        let published = hex(msg_hex);
        let key = hex(key_hex);
        // The client receives the server's signed response and verifies it.
        verify(SigningAlgorithm::AesCmac, &key, &published).unwrap();

        // The server builds the same response with a zero signature and signs it.
        let mut reply = published.clone();
        reply[48..64].fill(0);
        sign(SigningAlgorithm::AesCmac, &key, &mut reply).unwrap();
        assert_eq!(reply, published);
    }
}

#[test]
fn hmac_sha256_signs_smb21_request() {
    let key = hex(HMAC_KEY);
    let mut msg = hex(HMAC_MSG);
    sign(SigningAlgorithm::HmacSha256, &key, &mut msg).unwrap();
    assert_eq!(sig_field(&msg), &hex(HMAC_SIG)[..]);
    // Everything outside the signature field is unchanged.
    let orig = hex(HMAC_MSG);
    assert_eq!(&msg[..48], &orig[..48]);
    assert_eq!(&msg[64..], &orig[64..]);
    verify(SigningAlgorithm::HmacSha256, &key, &msg).unwrap();
}

#[test]
fn aes_gmac_signs_server_response_with_role_bit_in_nonce() {
    // The A.1 final SESSION_SETUP response, as if AES-GMAC had been negotiated:
    // nonce = MessageId 2 || 0x00000001 (sent by the server).
    let key = SigningKey::new(SigningAlgorithm::AesGmac, &hex(A1_SIGNING_KEY)).unwrap();
    let mut msg = hex(A1_FINAL_SESSION_SETUP_RESPONSE);
    msg[48..64].fill(0xAA); // whatever is there is ignored by signing
    key.sign(&mut msg).unwrap();
    assert_eq!(
        sig_field(&msg),
        &hex("42FE89B1890DE0AADF2117AC042B355B")[..]
    );
    key.verify(&msg).unwrap();

    // The same bytes sent by the client would use role bit 0: a different
    // signature, so a reflected message fails to verify.
    let mut as_client = msg.clone();
    as_client[16] &= !0x01; // clear SMB2_FLAGS_SERVER_TO_REDIR
    assert_eq!(key.verify(&as_client), Err(CryptoError::BadSignature));
    key.sign(&mut as_client).unwrap();
    assert_ne!(sig_field(&as_client), sig_field(&msg));
}

#[test]
fn aes_gmac_signs_cancel_with_cancel_bit_in_nonce() {
    // nonce = MessageId 7 || 0x00000002 (client, CANCEL).
    let key = hex(A1_SIGNING_KEY);
    let mut msg = hex(CANCEL_REQUEST);
    sign(SigningAlgorithm::AesGmac, &key, &mut msg).unwrap();
    assert_eq!(
        sig_field(&msg),
        &hex("F4980F9577F860D9495B9581BBEA8498")[..]
    );
    // The same header as an ECHO (0x000D) gets no cancel bit: different tag.
    let mut echo = hex(CANCEL_REQUEST);
    echo[12] = 0x0D;
    sign(SigningAlgorithm::AesGmac, &key, &mut echo).unwrap();
    assert_ne!(sig_field(&echo), sig_field(&msg));
}

fn signed_sample(alg: SigningAlgorithm) -> (Vec<u8>, Vec<u8>) {
    match alg {
        SigningAlgorithm::HmacSha256 => {
            let mut m = hex(HMAC_MSG);
            sign(alg, &hex(HMAC_KEY), &mut m).unwrap();
            (hex(HMAC_KEY), m)
        }
        SigningAlgorithm::AesCmac => (hex(A1_SIGNING_KEY), hex(A1_FINAL_SESSION_SETUP_RESPONSE)),
        SigningAlgorithm::AesGmac => {
            let mut m = hex(A1_FINAL_SESSION_SETUP_RESPONSE);
            sign(alg, &hex(A1_SIGNING_KEY), &mut m).unwrap();
            (hex(A1_SIGNING_KEY), m)
        }
    }
}

#[test]
fn verify_rejects_any_flipped_bit_and_leaves_message_alone() {
    for alg in [
        SigningAlgorithm::HmacSha256,
        SigningAlgorithm::AesCmac,
        SigningAlgorithm::AesGmac,
    ] {
        let (key, msg) = signed_sample(alg);
        let sk = SigningKey::new(alg, &key).unwrap();
        let before = msg.clone();
        sk.verify(&msg).unwrap();
        assert_eq!(msg, before, "{alg:?}: verify must not modify the message");

        // body byte, header bytes (command, MessageId, SessionId), signature byte
        for (pos, bit) in [
            (msg.len() - 1, 0x01u8),
            (64, 0x80),
            (12, 0x01),
            (24, 0x04),
            (40, 0x10),
            (48, 0x01),
            (63, 0x80),
        ] {
            let mut bad = msg.clone();
            bad[pos] ^= bit;
            assert_eq!(
                sk.verify(&bad),
                Err(CryptoError::BadSignature),
                "{alg:?} flip at {pos}"
            );
        }
        // Wrong key.
        let mut other = key.clone();
        other[0] ^= 1;
        assert_eq!(verify(alg, &other, &msg), Err(CryptoError::BadSignature));
        // Appending padding changes the signature too.
        let mut longer = msg.clone();
        longer.extend_from_slice(&[0u8; 8]);
        assert_eq!(sk.verify(&longer), Err(CryptoError::BadSignature));
    }
}

#[test]
fn signing_key_is_reusable_and_matches_free_functions() {
    let key = hex(A2_SIGNING_KEY);
    for alg in [
        SigningAlgorithm::HmacSha256,
        SigningAlgorithm::AesCmac,
        SigningAlgorithm::AesGmac,
    ] {
        let sk = SigningKey::new(alg, &key).unwrap();
        assert_eq!(sk.algorithm(), alg);
        for base in [
            hex(HMAC_MSG),
            hex(CANCEL_REQUEST),
            hex(A2_FINAL_SESSION_SETUP_RESPONSE),
        ] {
            let mut a = base.clone();
            let mut b = base.clone();
            sk.sign(&mut a).unwrap();
            sign(alg, &key, &mut b).unwrap();
            assert_eq!(a, b);
            assert_eq!(
                sk.signature(&base).unwrap(),
                <[u8; 16]>::try_from(&a[48..64]).unwrap()
            );
        }
    }
    // The published A.2 signature again through a reused key object.
    let sk = SigningKey::new(SigningAlgorithm::AesCmac, &key).unwrap();
    assert_eq!(
        sk.signature(&hex(A2_FINAL_SESSION_SETUP_RESPONSE)).unwrap(),
        hex16("3676196AEE8CA17E5D50A53642EF2BE4")
    );
}

#[test]
fn short_messages_and_bad_keys_are_errors_not_panics() {
    let key = hex(A1_SIGNING_KEY);
    for alg in [
        SigningAlgorithm::HmacSha256,
        SigningAlgorithm::AesCmac,
        SigningAlgorithm::AesGmac,
    ] {
        for len in [0usize, 1, 47, 48, 63] {
            let mut m = vec![0u8; len];
            assert_eq!(
                sign(alg, &key, &mut m),
                Err(CryptoError::MessageTooShort { len })
            );
            assert_eq!(
                verify(alg, &key, &m),
                Err(CryptoError::MessageTooShort { len })
            );
        }
        // A bare 64-byte header is signable.
        let mut header = vec![0u8; 64];
        sign(alg, &key, &mut header).unwrap();
        verify(alg, &key, &header).unwrap();
        for bad_len in [0usize, 15, 17, 32] {
            assert_eq!(
                SigningKey::new(alg, &vec![1u8; bad_len]).err(),
                Some(CryptoError::InvalidKeyLength {
                    expected: 16,
                    got: bad_len
                })
            );
        }
    }
}
