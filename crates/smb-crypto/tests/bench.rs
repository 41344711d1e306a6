//! Throughput figures (not a correctness test). Run in release:
//! `cargo test -p smb-crypto --release -- --ignored --nocapture`

// Test helpers outside #[test] fns: same allowance clippy.toml gives tests.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::time::Instant;

use smb_crypto::{Cipher, CipherKey, SigningAlgorithm, SigningKey};

fn mb_per_s(bytes: usize, iters: usize, secs: f64) -> f64 {
    (bytes * iters) as f64 / secs / (1024.0 * 1024.0)
}

#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn throughput() {
    let nonce = [7u8; 16];
    let aad = [3u8; 32];
    let mut buf = vec![0x5Au8; 8 << 20];
    for c in [
        Cipher::Aes128Gcm,
        Cipher::Aes256Gcm,
        Cipher::Aes128Ccm,
        Cipher::Aes256Ccm,
    ] {
        let key = CipherKey::new(c, &vec![1u8; c.key_len()]).unwrap();
        let iters = 16;
        key.encrypt_in_place(&nonce, &aad, &mut buf).unwrap(); // warm-up
        let t = Instant::now();
        let mut tag = [0u8; 16];
        for _ in 0..iters {
            tag = key.encrypt_in_place(&nonce, &aad, &mut buf).unwrap();
        }
        let enc = t.elapsed().as_secs_f64();
        let t = Instant::now();
        key.decrypt_in_place(&nonce, &aad, &mut buf, &tag).unwrap();
        let dec = t.elapsed().as_secs_f64();
        println!(
            "{c:?}: encrypt 8 MiB {:.0} MB/s, decrypt 8 MiB {:.0} MB/s",
            mb_per_s(buf.len(), iters, enc),
            mb_per_s(buf.len(), 1, dec)
        );
    }
    let mut msg = vec![0x33u8; 1 << 20];
    for alg in [
        SigningAlgorithm::HmacSha256,
        SigningAlgorithm::AesCmac,
        SigningAlgorithm::AesGmac,
    ] {
        let key = SigningKey::new(alg, &[2u8; 16]).unwrap();
        let iters = 64;
        key.sign(&mut msg).unwrap();
        let t = Instant::now();
        for _ in 0..iters {
            key.sign(&mut msg).unwrap();
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{alg:?}: sign 1 MiB {:.0} MB/s",
            mb_per_s(msg.len(), iters, s)
        );
        key.verify(&msg).unwrap();
    }
    println!(
        "cpu: aes={} pclmulqdq={} avx2={}",
        std::is_x86_feature_detected!("aes"),
        std::is_x86_feature_detected!("pclmulqdq"),
        std::is_x86_feature_detected!("avx2")
    );
}
