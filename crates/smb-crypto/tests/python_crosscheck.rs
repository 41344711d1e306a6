//! If python3 with the `cryptography` package is present, re-run the
//! independent generator and check that (a) it re-derives every transcribed
//! Microsoft value and (b) the generated values it prints are the ones
//! embedded in the other tests. Skipped (passes vacuously, with a note) when
//! python3/cryptography is missing.

// Test helpers outside #[test] fns: same allowance clippy.toml gives tests.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::process::Command;

#[test]
fn independent_python_implementation_agrees() {
    let have = Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !have {
        eprintln!("python3 + cryptography not available: cross-check skipped");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/gen_vectors.py");
    let out = Command::new("python3").arg(script).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "generator failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.matches("\nok   ").count() + usize::from(stdout.starts_with("ok   ")),
        22
    );
    for embedded in [
        "HMAC_SIG = D8C247758E49FA2F7A607D5DC10EE48A",
        "GMAC_RESP nonce = 020000000000000001000000 sig = 42FE89B1890DE0AADF2117AC042B355B",
        "GMAC_CANCEL nonce = 070000000000000002000000 sig = F4980F9577F860D9495B9581BBEA8498",
        "AES256 signing (L=128, first 16 of session key) = A91BB5D9670E1F3818E25366C6DC3415",
        "AES256 S2C (server encryption) = 7330E611D89F8BD4D0EAF215A49FB02F13EECCC9237436EAAD62DFD1025C951C",
        "AES256 C2S (server decryption) = 3334A9F25E7DBDB8A342C07EBFBB2D26CC2FD6C04058EC2083CBA7D217A76848",
        "AES256 app = 8168F74D42C0727EDA97DC6FA103C023",
        "tag = 01B9433C2E13061595DCC2CEC494E467",
        "tag = 3AA235F2115B8927A4EF1515AA6D859A",
    ] {
        assert!(stdout.contains(embedded), "generator output lacks {embedded:?}:\n{stdout}");
    }
}
