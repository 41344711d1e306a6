//! SMB3 transform encryption transcripts. AES-128-CCM and AES-128-GCM use
//! Microsoft's published WRITE/READ exchanges (SMB 3.0 blog; SMB 3.1.1 blog
//! appendices A.1/A.2); AES-256 values come from tests/vectors/gen_vectors.py
//! (Python `cryptography` AESGCM/AESCCM).

// Test helpers outside #[test] fns: same allowance clippy.toml gives tests.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;
use common::*;
use smb_crypto::{decrypt, derive_session_keys, encrypt, Cipher, CipherKey, CryptoError};

/// A.1: client WRITE request (session 0x100000000025), 0x87 bytes.
const A1_WRITE_REQUEST: &str = "
    FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000
    25000000001000000000000000000000000000000000000031007000170000000000000000000000
    0600000004000000010000000400000000000000000000007000000000000000536D623320656E63
    72797074696F6E2074657374696E67";
/// A.1: the server's transformed WRITE response as it travels on the wire
/// (52-byte TRANSFORM_HEADER + ciphertext).
const A1_WRITE_RESPONSE_TRANSFORMED: &str = "
    FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000
    00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8
    F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B
    82E03C9E18A050FF0EA1C967";
const A1_WRITE_RESPONSE_PLAIN: &str = "
    FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000
    25000000001000000000000000000000000000000000000011000000170000000000000000000000";
/// A.1: READ response plaintext (server → client).
const A1_READ_RESPONSE: &str = "
    FE534D4240000100000000000800010001000000000000000600000000000000FFFE000001000000
    25000000001000000000000000000000000000000000000011005000170000000000000000000000
    536D623320656E6372797074696F6E2074657374696E67";
/// A.1: the server's transformed READ response.
const A1_READ_RESPONSE_TRANSFORMED: &str = "
    FD534D427F714B3B9D8FA1198584E71C2BAA1CB6E16831DD2E8EB7B4000000000000000067000000
    000001002500000000100000FECEDF4D03BB11A6CC5D8A53BE33D6D8701986342B4197D306E16F9C
    BB218E92F7F8281F51CE68BB85A20D87DE90EBBF80538066D1C37513C0A58D70936D537B624F5500
    202A612B6CD30D448A82791A0B2E049ED512AFAEFB06E98AB3D6F931D7D50DB2DBD36A";

/// A.2: client WRITE request (session 0x100000000021).
const A2_WRITE_REQUEST: &str = "
    FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000
    21000000001000000000000000000000000000000000000031007000170000000000000000000000
    0500000004000000010000000400000000000000000000007000000000000000536D623320656E63
    72797074696F6E2074657374696E67";
const A2_WRITE_REQUEST_CIPHERTEXT: &str = "
    56A74778199A9D2B6E9C3A376FD88D27680694FED253A313BEB07381AE8689F973ACDB8D716E4477
    803BCE53A92E1B81FA3E965AD9AF2C89C08CE66A344664453B8FC88118EDC9814CF58E92AA465E6E
    FB09958A9FDAD96FBD55B36A710C30D5E7C64AD7B9449F9F17EDD024FE8BA79154F340A82740D1D5
    180C69B0A2DE6A4BA893BD55D3210E";
const A2_WRITE_RESPONSE_TRANSFORMED: &str = "
    FD534D42DD33EC41A927DD51476FE887C2D3C136D96831DD2E8EB7B4000000000000000050000000
    000001002100000000100000F783157E0F6F1C055D746753CA16D20C21088E2A67564E056C2F68A7
    F14F226C3BD809B7A2D52E5FE4ECF49821BC6001733430CF174E2764B3CCB213AAD8BB9FBAF6C15E
    13D9120965390E004A96A3F7";
const A2_WRITE_RESPONSE_PLAIN: &str = "
    FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000
    21000000001000000000000000000000000000000000000011000000170000000000000000000000";

/// Split a transformed message the way the protocol crate will: Signature
/// (bytes 4..20) is the tag, Nonce is 20..36, AAD is 20..52, payload 52...
fn split_transform(t: &[u8]) -> ([u8; 16], Vec<u8>, Vec<u8>, Vec<u8>) {
    assert_eq!(&t[..4], &[0xFD, b'S', b'M', b'B']);
    let tag: [u8; 16] = t[4..20].try_into().unwrap();
    (
        tag,
        t[20..36].to_vec(),
        t[20..52].to_vec(),
        t[52..].to_vec(),
    )
}

#[test]
fn gcm_server_decrypts_ms_a1_write_request_and_encrypts_write_response() {
    let keys = derive_session_keys(
        0x0311,
        &hex(A1_SESSION_KEY),
        Some(&hex64(A1_PREAUTH)),
        Some(Cipher::Aes128Gcm),
    );
    // --- client → server: the client encrypted its WRITE with the C2S key.
    let nonce = hex("C7D6822D269CAF48904C664C00000000");
    let aad = transform_aad(&nonce, 0x87, 0x1000_0000_0025);
    let mut ct = hex(A1_WRITE_REQUEST);
    let tag = encrypt(Cipher::Aes128Gcm, &keys.decryption, &nonce, &aad, &mut ct).unwrap();
    assert_eq!(tag, hex16("BD73D97D2BC9001BCAFAC0FDFF5FEEBC"));
    assert_eq!(
        ct,
        hex(
            "6ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02D14EF247F8BDE38ACF6256F8
             B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB44576545567C24D4C014D47C9
             FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E91AF013F00D17E3ABC2FC3D36
             C8C1B6B93973253852DBD442E46EE8"
        )
    );
    // The server decrypts it back.
    let server_in = CipherKey::new(Cipher::Aes128Gcm, &keys.decryption).unwrap();
    server_in
        .decrypt_in_place(&nonce, &aad, &mut ct, &tag)
        .unwrap();
    assert_eq!(ct, hex(A1_WRITE_REQUEST));

    // --- server → client: the server encrypts its WRITE and READ responses
    // with the S2C key and must produce exactly the published bytes.
    let server_out = CipherKey::new(Cipher::Aes128Gcm, &keys.encryption).unwrap();
    for (plain, wire) in [
        (A1_WRITE_RESPONSE_PLAIN, A1_WRITE_RESPONSE_TRANSFORMED),
        (A1_READ_RESPONSE, A1_READ_RESPONSE_TRANSFORMED),
    ] {
        let (want_tag, nonce, aad, want_ct) = split_transform(&hex(wire));
        let mut buf = hex(plain);
        let tag = server_out.encrypt_in_place(&nonce, &aad, &mut buf).unwrap();
        assert_eq!(tag, want_tag);
        assert_eq!(buf, want_ct);
    }
}

#[test]
fn ccm_server_handles_ms_a2_write_exchange() {
    let s2c = hex(A2_S2C_KEY);
    let c2s = hex(A2_C2S_KEY);
    // client → server: 11-byte CCM nonce, rest of the 16-byte field zero.
    let nonce = hex("9F6F1EAAD7E9F24AACD38F0000000000");
    let aad = transform_aad(&nonce, 0x87, 0x1000_0000_0021);
    let mut buf = hex(A2_WRITE_REQUEST_CIPHERTEXT);
    decrypt(
        Cipher::Aes128Ccm,
        &c2s,
        &nonce,
        &aad,
        &mut buf,
        &hex16("E89551D666DAB8993488F5A97103116C"),
    )
    .unwrap();
    assert_eq!(buf, hex(A2_WRITE_REQUEST));
    let tag = encrypt(Cipher::Aes128Ccm, &c2s, &nonce[..11], &aad, &mut buf).unwrap();
    assert_eq!(tag, hex16("E89551D666DAB8993488F5A97103116C"));
    assert_eq!(buf, hex(A2_WRITE_REQUEST_CIPHERTEXT));

    // server → client WRITE response.
    let (want_tag, nonce, aad, want_ct) = split_transform(&hex(A2_WRITE_RESPONSE_TRANSFORMED));
    let mut buf = hex(A2_WRITE_RESPONSE_PLAIN);
    let tag = encrypt(Cipher::Aes128Ccm, &s2c, &nonce, &aad, &mut buf).unwrap();
    assert_eq!((tag, buf), (want_tag, want_ct));
}

#[test]
fn ccm_smb30_write_request_from_ms_blog() {
    // "Encryption in SMB 3.0: a protocol perspective", session 0x8e40014000011.
    let keys = derive_session_keys(0x0300, &hex("B4546771B515F766A86735532DD6C4F0"), None, None);
    let aad = hex("66E69A111892584FB5ED524A744DA3EE87000000000001001100001400E40800");
    let nonce = &aad[..16];
    assert_eq!(aad, transform_aad(nonce, 0x87, 0x0008_E400_1400_0011));
    let plain = hex(
        "FE534D4240000100000000000900400008000000000000000400000000000000
         FFFE0000010000001100001400E4080000000000000000000000000000000000
         3100700017000000000000000000000015010000390000020100000039020000
         00000000000000007000000000000000536D623320656E6372797074696F6E20
         74657374696E67",
    );
    let want_ct = hex(
        "25C8FEE16605A437832D1CD52DA9F4645333482A175FE5384563F45FCDAFAEF3
         8BC62BA4D5C62897996625A44C29BE5658DE2E6117585779E7B59FFD971278D0
         8580D7FA899E410E910EABF5AA1DB43050B33B49182637759AC15D84BFCDF5B6
         B238993C0F4CF4D6012023F6C627297075D84B7803912D0A9639634453595EF3
         E33FFE4E7AC2AB",
    );
    let mut buf = want_ct.clone();
    let tag = hex16("81A286535415445DAE393921E44FA42E");
    decrypt(
        Cipher::Aes128Ccm,
        &keys.decryption,
        nonce,
        &aad,
        &mut buf,
        &tag,
    )
    .unwrap();
    assert_eq!(buf, plain);
}

#[test]
fn aes256_ccm_and_gcm_known_answers() {
    let s2c = hex("7330E611D89F8BD4D0EAF215A49FB02F13EECCC9237436EAAD62DFD1025C951C");
    let nonce = hex("000102030405060708090A0B0C0D0E0F");
    let aad = transform_aad(&nonce, 0x67, 0x1000_0000_0025);
    for (cipher, want_ct, want_tag) in [
        (
            Cipher::Aes256Gcm,
            "7726B2347FDAF8FFC9AE35B1AD26E374F3293585E5B156A8DE8FA351E78059A552942BF22EFE2885
             9057479909EFB770C26BE7F28A692E936A3A93B32AF349DE6F52A689B4984239B1F0AED8A76FD4D4
             DF86172C8F9C15FABCC8F198B6DE8F9CD1201EA6F5D0A7",
            "01B9433C2E13061595DCC2CEC494E467",
        ),
        (
            Cipher::Aes256Ccm,
            "1F88C74AD66952C4BE63A55E1DD7EF5A52D0754A5D906F2F476C0FDC12CFBC7F19383E04DC8E9543
             EEB4F404CF34FE279D2AEF224AF906CFABADD22722D6E59592B9629BDA0B81E0DABC7BBD462872CF
             79AD16BC7524A13A829D8F21150C83222760B30D2227B6",
            "3AA235F2115B8927A4EF1515AA6D859A",
        ),
    ] {
        let key = CipherKey::new(cipher, &s2c).unwrap();
        assert_eq!(key.cipher(), cipher);
        let mut buf = hex(A1_READ_RESPONSE);
        let tag = key.encrypt_in_place(&nonce, &aad, &mut buf).unwrap();
        assert_eq!(buf, hex(want_ct), "{cipher:?}");
        assert_eq!(tag, hex16(want_tag), "{cipher:?}");
        key.decrypt_in_place(&nonce, &aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, hex(A1_READ_RESPONSE));
    }
}

fn key_for(c: Cipher) -> Vec<u8> {
    (0..c.key_len() as u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(5))
        .collect()
}

const ALL: [Cipher; 4] = [
    Cipher::Aes128Ccm,
    Cipher::Aes128Gcm,
    Cipher::Aes256Ccm,
    Cipher::Aes256Gcm,
];

#[test]
fn round_trip_all_ciphers_including_empty_and_large() {
    let nonce = hex("A0A1A2A3A4A5A6A7A8A9AAAB00000000");
    for c in ALL {
        let key = key_for(c);
        for len in [0usize, 1, 15, 16, 17, 4096, 65_537] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let aad = transform_aad(&nonce, len as u32, 0x42);
            let mut buf = plain.clone();
            let tag = encrypt(c, &key, &nonce, &aad, &mut buf).unwrap();
            if len >= 16 {
                assert_ne!(buf, plain, "{c:?}: ciphertext equals plaintext");
            }
            decrypt(c, &key, &nonce, &aad, &mut buf, &tag).unwrap();
            assert_eq!(buf, plain, "{c:?} len {len}");
        }
    }
}

#[test]
fn tampering_fails_with_bad_tag_and_wipes_the_buffer() {
    let nonce = hex("B0B1B2B3B4B5B6B7B8B9BABB00000000");
    let plain = hex(A1_WRITE_REQUEST);
    for c in ALL {
        let key = CipherKey::new(c, &key_for(c)).unwrap();
        let aad = transform_aad(&nonce, plain.len() as u32, 0x1000_0000_0025);
        let mut ct = plain.clone();
        let tag = key.encrypt_in_place(&nonce, &aad, &mut ct).unwrap();

        // flipped ciphertext bit
        for pos in [0usize, 64, ct.len() - 1] {
            let mut bad = ct.clone();
            bad[pos] ^= 0x01;
            assert_eq!(
                key.decrypt_in_place(&nonce, &aad, &mut bad, &tag),
                Err(CryptoError::BadTag)
            );
            assert!(
                bad.iter().all(|&b| b == 0),
                "{c:?}: unauthenticated bytes left"
            );
        }
        // flipped AAD bit: OriginalMessageSize, Flags, SessionId
        for pos in [16usize, 22, 24, 31] {
            let mut bad_aad = aad.clone();
            bad_aad[pos] ^= 0x80;
            let mut buf = ct.clone();
            assert_eq!(
                key.decrypt_in_place(&nonce, &bad_aad, &mut buf, &tag),
                Err(CryptoError::BadTag)
            );
        }
        // flipped tag bit, wrong nonce
        let mut bad_tag = tag;
        bad_tag[15] ^= 0x01;
        let mut buf = ct.clone();
        assert_eq!(
            key.decrypt_in_place(&nonce, &aad, &mut buf, &bad_tag),
            Err(CryptoError::BadTag)
        );
        let mut other_nonce = nonce.clone();
        other_nonce[0] ^= 1;
        let mut buf = ct.clone();
        assert_eq!(
            key.decrypt_in_place(&other_nonce, &aad, &mut buf, &tag),
            Err(CryptoError::BadTag)
        );
        // Nonce bytes past nonce_len are not used by the cipher (they are
        // covered by the AAD, which the caller builds from the same field).
        let mut longer = nonce.clone();
        longer[15] ^= 0xFF;
        let mut buf = ct.clone();
        key.decrypt_in_place(&longer, &aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, plain);
    }
}

#[test]
fn wrong_key_and_nonce_lengths_are_errors_not_panics() {
    for c in ALL {
        for bad_len in [0usize, 15, 17, 24, 31, 33] {
            let key = vec![9u8; bad_len];
            assert_eq!(
                CipherKey::new(c, &key).err(),
                Some(CryptoError::InvalidKeyLength {
                    expected: c.key_len(),
                    got: bad_len
                })
            );
            let mut buf = vec![1u8; 10];
            assert!(matches!(
                encrypt(c, &key, &[0u8; 16], &[], &mut buf),
                Err(CryptoError::InvalidKeyLength { .. })
            ));
            assert!(matches!(
                decrypt(c, &key, &[0u8; 16], &[], &mut buf, &[0u8; 16]),
                Err(CryptoError::InvalidKeyLength { .. })
            ));
        }
        let key = key_for(c);
        let short = vec![0u8; c.nonce_len() - 1];
        let mut buf = vec![1u8; 10];
        assert_eq!(
            encrypt(c, &key, &short, &[], &mut buf),
            Err(CryptoError::InvalidNonceLength {
                expected: c.nonce_len(),
                got: short.len()
            })
        );
        assert_eq!(buf, vec![1u8; 10], "nothing encrypted on error");
        assert_eq!(
            decrypt(c, &key, &[], &[], &mut buf, &[0u8; 16]),
            Err(CryptoError::InvalidNonceLength {
                expected: c.nonce_len(),
                got: 0
            })
        );
    }
}
