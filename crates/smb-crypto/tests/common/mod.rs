//! Shared helpers and the Microsoft-published messages used by several tests.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

/// Decode a hex string (whitespace ignored).
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len() % 2 == 0, "odd hex length");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

pub fn hex64(s: &str) -> [u8; 64] {
    hex(s).try_into().unwrap()
}

pub fn hex16(s: &str) -> [u8; 16] {
    hex(s).try_into().unwrap()
}

/// Build TRANSFORM_HEADER bytes 20..52 (the AEAD AAD): Nonce(16) ||
/// OriginalMessageSize(4) || Reserved(2) || Flags(2) = Encrypted || SessionId(8).
pub fn transform_aad(nonce16: &[u8], original_size: u32, session_id: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32);
    aad.extend_from_slice(nonce16);
    aad.extend_from_slice(&original_size.to_le_bytes());
    aad.extend_from_slice(&0u16.to_le_bytes());
    aad.extend_from_slice(&1u16.to_le_bytes());
    aad.extend_from_slice(&session_id.to_le_bytes());
    assert_eq!(aad.len(), 32);
    aad
}

/// "SMB 3.1.1 Encryption in Windows 10", appendix A.1 (AES-128-GCM session
/// 0x100000000025): the final SESSION_SETUP response, signed (AES-CMAC) with
/// SigningKey 8765949D…; signature 6B85A451… in bytes 48..64.
pub const A1_FINAL_SESSION_SETUP_RESPONSE: &str = "
    FE534D4240000100000000000100800009000000000000000200000000000000FFFE000000000000
    25000000001000006B85A4519A0F3EEA35BA946DD3AFE6B80900000048001D00A11B3019A0030A01
    00A3120410010000003932A87523AB660100000000";
pub const A1_SESSION_KEY: &str = "419FDDF34C1E001909D362AE7FB6AF79";
pub const A1_PREAUTH: &str = "
    B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDBA7DB256BA2EA30E9
    77F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770";
pub const A1_SIGNING_KEY: &str = "8765949DFEAEE105CE9118B45BE988F0";
/// The client's EncryptionKey = the server's DecryptionKey (ServerIn, C2S).
pub const A1_C2S_KEY: &str = "A2F5E80E5D59103034F32E52F698E5EC";
/// The client's DecryptionKey = the server's EncryptionKey (ServerOut, S2C).
pub const A1_S2C_KEY: &str = "748C50868C90F302962A5C35F5F9A8BF";
pub const A1_APP_KEY: &str = "099D610789FBE82055B313601C3E8CC4";

/// Appendix A.2 (AES-128-CCM session 0x100000000021) final SESSION_SETUP
/// response, signed with SigningKey 3DCC82C5…; signature 3676196A….
pub const A2_FINAL_SESSION_SETUP_RESPONSE: &str = "
    FE534D4240000100000000000100800009000000000000000200000000000000FFFE000000000000
    21000000001000003676196AEE8CA17E5D50A53642EF2BE40900000048001D00A11B3019A0030A01
    00A3120410010000000F57444342A2717E00000000";
pub const A2_SESSION_KEY: &str = "07B7F69C1E2581662DF6987E88F9E891";
pub const A2_SIGNING_KEY: &str = "3DCC82C5795AE27F383242761078C59B";
pub const A2_C2S_KEY: &str = "DFAAA31AAE40A2485D47AC4DF09FDA1D";
pub const A2_S2C_KEY: &str = "95C544AEF6072680DA1CE49A68A97FA6";
pub const A2_APP_KEY: &str = "7A2F0F73EC2D530879B2913BBFCE242F";
