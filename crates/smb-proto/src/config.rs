//! What the connection state machine is told by the server: policy, limits, identity.

use smb_auth::ServerIdentity;

/// Whether sessions are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptionPolicy {
    /// Encrypt only what the client asks to be encrypted (and shares marked `encrypt`).
    Off,
    /// Encrypt every session whose client can (SMB 3.x); older clients still connect.
    Desired,
    /// Refuse sessions that cannot be encrypted; encrypt all others.
    Required,
}

/// Connection policy, shared by every connection of a server (reloaded as a whole).
#[derive(Debug, Clone)]
pub struct Config {
    /// ServerGuid in the NEGOTIATE response.
    pub server_guid: [u8; 16],
    /// Dialects this server speaks (subset of 0x0202, 0x0210, 0x0300, 0x0302, 0x0311).
    pub dialects: Vec<u16>,
    /// Require signing of every session that is not guest or anonymous.
    pub signing_required: bool,
    pub encryption: EncryptionPolicy,
    /// MaxReadSize / MaxWriteSize / MaxTransactSize for dialects above 2.0.2.
    pub max_io: u32,
    /// Most credits a client may hold at once.
    pub max_credits: u16,
    /// Advertise SMB2_GLOBAL_CAP_MULTI_CHANNEL (3.x).
    pub multichannel: bool,
    /// Map logons by unknown users to a guest session (never for wrong passwords).
    pub map_to_guest: bool,
    /// Allow anonymous (null) sessions; they can reach only IPC$.
    pub allow_anonymous: bool,
    /// Names in NTLM's target info.
    pub identity: ServerIdentity,
    /// ServerStartTime (FILETIME) reported in NEGOTIATE.
    pub start_time: u64,
}

impl Config {
    /// Defaults a NAS would use: SMB 2.0.2–3.1.1, signing required, 8 MiB I/O.
    pub fn new(server_guid: [u8; 16], identity: ServerIdentity) -> Self {
        Self {
            server_guid,
            dialects: vec![0x0202, 0x0210, 0x0300, 0x0302, 0x0311],
            signing_required: true,
            encryption: EncryptionPolicy::Off,
            max_io: 8 * 1024 * 1024,
            max_credits: 8192,
            multichannel: true,
            map_to_guest: false,
            allow_anonymous: true,
            identity,
            start_time: 0,
        }
    }
}
