//! SP800-108 key derivation and SMB session key derivation.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Cipher, SigningAlgorithm};

type HmacSha256 = Hmac<Sha256>;

/// Largest output [`kdf`] produces, in bytes; longer requests are truncated
/// to this. SMB never needs more than 32 bytes.
pub const KDF_MAX_OUTPUT: usize = 1024;

/// SP800-108 KDF in counter mode with HMAC-SHA256 (MS-SMB2 3.1.4.2):
/// `r` = 32, `L` = `out_len * 8` bits. Block `i` (from 1) is
/// `HMAC-SHA256(key, be32(i) || label || 0x00 || context || be32(L))`; the
/// blocks are concatenated and cut to `out_len` bytes.
///
/// `label` and `context` are used exactly as given: SMB labels carry their
/// own trailing NUL (for example `b"SMBSigningKey\0"`), and the 0x00
/// separator is added here. `out_len` is capped at [`KDF_MAX_OUTPUT`].
pub fn kdf(key: &[u8], label: &[u8], context: &[u8], out_len: usize) -> Vec<u8> {
    let out_len = out_len.min(KDF_MAX_OUTPUT);
    // HMAC accepts keys of any length, so this never fails; be total anyway.
    let Ok(base) = HmacSha256::new_from_slice(key) else {
        return Vec::new();
    };
    // out_len <= KDF_MAX_OUTPUT, so the bit count fits in a u32.
    let l_bits = u32::try_from(out_len.saturating_mul(8)).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(out_len);
    let mut counter: u32 = 1;
    while out.len() < out_len {
        let mut mac = base.clone();
        mac.update(&counter.to_be_bytes());
        mac.update(label);
        mac.update(&[0u8]);
        mac.update(context);
        mac.update(&l_bits.to_be_bytes());
        let block = mac.finalize().into_bytes();
        let take = (out_len - out.len()).min(block.len());
        out.extend(block.iter().take(take));
        counter = counter.wrapping_add(1);
    }
    out
}

/// The keys of one session (for signing: of one channel), as the **server**
/// sees them (MS-SMB2 3.3.5.5.3; the client mirror is 3.2.5.3.1).
///
/// `Debug` prints lengths only, never key bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// Session.SigningKey (or Channel.SigningKey): always 16 bytes.
    pub signing: Vec<u8>,
    /// Session.EncryptionKey = ServerOutKey: server→client messages are
    /// encrypted with it. Empty for 2.x dialects.
    pub encryption: Vec<u8>,
    /// Session.DecryptionKey = ServerInKey: client→server messages are
    /// decrypted with it. Empty for 2.x dialects.
    pub decryption: Vec<u8>,
    /// Session.ApplicationKey (handed to RPC / named pipes): 16 bytes.
    pub application: Vec<u8>,
}

impl core::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("signing_len", &self.signing.len())
            .field("encryption_len", &self.encryption.len())
            .field("decryption_len", &self.decryption.len())
            .field("application_len", &self.application.len())
            .finish()
    }
}

/// Session.SessionKey: the first 16 bytes of the GSS key, right-padded with
/// zeros if it is shorter (MS-SMB2 3.3.1.8).
fn session_key_16(key: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (d, s) in out.iter_mut().zip(key.iter()) {
        *d = *s;
    }
    out
}

/// Derive the server-side keys of a session.
///
/// `session_key` is the full key returned by the GSS layer (NTLM: 16 bytes;
/// Kerberos: up to 32). The exact rules implemented:
///
/// * `SessionKey` = first 16 bytes of `session_key`, zero-padded.
/// * **3.1.1** (`0x0311`): context = `preauth` (the session's final
///   PreauthIntegrityHashValue; an all-zero hash if `None`, which is a caller
///   bug). Labels (with trailing NUL): signing `"SMBSigningKey"`,
///   decryption/ServerIn `"SMBC2SCipherKey"`, encryption/ServerOut
///   `"SMBS2CCipherKey"`, application `"SMBAppKey"`.
///   Signing and application keys: KDF key = SessionKey, 16 bytes (L = 128).
///   Encryption/decryption keys: if `cipher` is AES-256-CCM/GCM, KDF key =
///   the full `session_key` and 32 bytes (L = 256); otherwise KDF key =
///   SessionKey and 16 bytes (L = 128). `cipher` = `None` means AES-128.
/// * **3.0 / 3.0.2** (`0x0300`, `0x0302`): label/context pairs
///   `"SMB2AESCMAC"`/`"SmbSign"`, `"SMB2AESCCM"`/`"ServerIn "` (decryption;
///   note the space), `"SMB2AESCCM"`/`"ServerOut"` (encryption),
///   `"SMB2APP"`/`"SmbRpc"`, all with trailing NUL, KDF key = SessionKey,
///   16 bytes each. `cipher` and `preauth` are ignored (3.0.x only has
///   AES-128-CCM).
/// * **anything else** (2.0.2, 2.1, unknown): signing key = application key
///   = SessionKey; no encryption/decryption keys (empty vectors).
pub fn derive_session_keys(
    dialect: u16,
    session_key: &[u8],
    preauth: Option<&[u8; 64]>,
    cipher: Option<Cipher>,
) -> SessionKeys {
    let sk = session_key_16(session_key);
    match dialect {
        0x0311 => {
            let zero = [0u8; 64];
            let ctx: &[u8] = preauth.map_or(&zero[..], |p| &p[..]);
            let cipher_len = cipher.map_or(16, Cipher::key_len);
            let cipher_kdk: &[u8] = if cipher_len == 32 { session_key } else { &sk };
            SessionKeys {
                signing: kdf(&sk, b"SMBSigningKey\0", ctx, 16),
                encryption: kdf(cipher_kdk, b"SMBS2CCipherKey\0", ctx, cipher_len),
                decryption: kdf(cipher_kdk, b"SMBC2SCipherKey\0", ctx, cipher_len),
                application: kdf(&sk, b"SMBAppKey\0", ctx, 16),
            }
        }
        0x0300 | 0x0302 => SessionKeys {
            signing: kdf(&sk, b"SMB2AESCMAC\0", b"SmbSign\0", 16),
            encryption: kdf(&sk, b"SMB2AESCCM\0", b"ServerOut\0", 16),
            decryption: kdf(&sk, b"SMB2AESCCM\0", b"ServerIn \0", 16),
            application: kdf(&sk, b"SMB2APP\0", b"SmbRpc\0", 16),
        },
        _ => SessionKeys {
            signing: sk.to_vec(),
            encryption: Vec::new(),
            decryption: Vec::new(),
            application: sk.to_vec(),
        },
    }
}

/// The signing algorithm a connection uses (MS-SMB2 3.1.4.1):
/// 2.0.2/2.1 (and any unknown dialect, as in [`derive_session_keys`]) →
/// HMAC-SHA256;
/// 3.0/3.0.2 → AES-CMAC; 3.1.1 → the algorithm negotiated with
/// SMB2_SIGNING_CAPABILITIES, or AES-CMAC if none was negotiated.
/// `negotiated` is ignored for dialects other than 3.1.1.
pub fn signing_algorithm_for(
    dialect: u16,
    negotiated: Option<SigningAlgorithm>,
) -> SigningAlgorithm {
    match dialect {
        0x0311 => negotiated.unwrap_or(SigningAlgorithm::AesCmac),
        0x0300 | 0x0302 => SigningAlgorithm::AesCmac,
        _ => SigningAlgorithm::HmacSha256,
    }
}
