//! Typed server settings, stored as validated key/value text rows.

use std::fmt;
use std::str::FromStr;

use crate::{validate, StoreError};

/// SMB dialects the settings may name, oldest first.
pub const DIALECTS: [&str; 5] = ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"];

/// Smallest accepted `max_io_size` (64 KiB).
pub const MIN_IO_SIZE: u32 = 64 * 1024;
/// Largest accepted `max_io_size` (8 MiB), which is also the default.
pub const MAX_IO_SIZE: u32 = 8 * 1024 * 1024;

/// Default SMB Direct receive credits (MS-SMBD ReceiveCreditMax, as Windows uses it).
pub const DEFAULT_SMB_DIRECT_CREDITS: u16 = 255;
/// Accepted range for `smb_direct_credits`.
pub const SMB_DIRECT_CREDITS: std::ops::RangeInclusive<u16> = 16..=1024;

/// Server-wide encryption policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncryptionPolicy {
    /// The server does not ask for encryption (a client may still request it itself, and a
    /// share with `encrypt` set still requires it).
    #[default]
    Off,
    /// Encrypt sessions whose client supports SMB3 encryption; others stay in clear.
    Desired,
    /// Refuse clients that cannot encrypt.
    Required,
}

impl EncryptionPolicy {
    /// The text stored and shown for this policy: `off`, `desired` or `required`.
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptionPolicy::Off => "off",
            EncryptionPolicy::Desired => "desired",
            EncryptionPolicy::Required => "required",
        }
    }
}

impl fmt::Display for EncryptionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EncryptionPolicy {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s.to_ascii_lowercase().as_str() {
            "off" => Ok(EncryptionPolicy::Off),
            "desired" => Ok(EncryptionPolicy::Desired),
            "required" => Ok(EncryptionPolicy::Required),
            _ => Err(StoreError::invalid(
                "encryption",
                format!("'{s}' is not one of: off, desired, required"),
            )),
        }
    }
}

/// The server-wide settings, with defaults for everything never set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// NetBIOS-valid server name, ≤ 15 characters. Default `NAS`.
    pub server_name: String,
    /// Workgroup / domain name shown to clients. Default `WORKGROUP`.
    pub workgroup: String,
    /// Free-text server comment. Default empty.
    pub server_comment: String,
    /// Whether SMB signing is required. Default `true`.
    pub signing_required: bool,
    /// Server encryption policy. Default [`EncryptionPolicy::Off`].
    pub encryption: EncryptionPolicy,
    /// Lowest dialect offered, one of [`DIALECTS`]. Default `2.0.2`.
    pub min_dialect: String,
    /// Highest dialect offered, one of [`DIALECTS`]. Default `3.1.1`.
    pub max_dialect: String,
    /// Whether the SMB Direct (RDMA) transport is enabled. Default `true`.
    pub smb_direct: bool,
    /// Largest read/write size offered to clients, in bytes, over TCP and SMB Direct
    /// alike. Default 8 MiB.
    pub max_io_size: u32,
    /// Receive credits an SMB Direct connection offers (pre-posted receive buffers, MS-SMBD
    /// ReceiveCreditMax). Default 255; 16 to 1024.
    pub smb_direct_credits: u16,
    /// Whether unauthenticated (guest) sessions are accepted at all. Default `false`.
    pub guest_account_enabled: bool,
    /// Whether SMB3 multichannel is offered (clients may bind extra connections, TCP or
    /// RDMA, to a session; Windows reaches SMB Direct only this way). Default `true`, as
    /// in Samba. Requests arriving on a bound channel are run by the session's first
    /// connection; CHANGE_NOTIFY and byte-range locks that must wait are refused there.
    pub multichannel: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server_name: "NAS".to_owned(),
            workgroup: "WORKGROUP".to_owned(),
            server_comment: String::new(),
            signing_required: true,
            encryption: EncryptionPolicy::Off,
            min_dialect: "2.0.2".to_owned(),
            max_dialect: "3.1.1".to_owned(),
            smb_direct: true,
            max_io_size: MAX_IO_SIZE,
            smb_direct_credits: DEFAULT_SMB_DIRECT_CREDITS,
            guest_account_enabled: false,
            multichannel: true,
        }
    }
}

fn parse_bool(field: &'static str, v: &str) -> Result<bool, StoreError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(StoreError::invalid(
            field,
            format!("'{v}' is not a boolean (use true/false, yes/no, on/off or 1/0)"),
        )),
    }
}

fn parse_dialect(field: &'static str, v: &str) -> Result<String, StoreError> {
    if DIALECTS.contains(&v) {
        Ok(v.to_owned())
    } else {
        Err(StoreError::invalid(
            field,
            format!("'{v}' is not one of: {}", DIALECTS.join(", ")),
        ))
    }
}

/// Position of a dialect in [`DIALECTS`] (unknown ones sort last).
pub fn dialect_rank(d: &str) -> usize {
    DIALECTS
        .iter()
        .position(|x| *x == d)
        .unwrap_or(DIALECTS.len())
}

impl Settings {
    /// Every setting key, in display order.
    pub const KEYS: [&'static str; 12] = [
        "server_name",
        "workgroup",
        "server_comment",
        "signing_required",
        "encryption",
        "min_dialect",
        "max_dialect",
        "smb_direct",
        "max_io_size",
        "smb_direct_credits",
        "guest_account_enabled",
        "multichannel",
    ];

    /// The value of `key` in its canonical text form, or `None` for an unknown key.
    pub fn get(&self, key: &str) -> Option<String> {
        Some(match key {
            "server_name" => self.server_name.clone(),
            "workgroup" => self.workgroup.clone(),
            "server_comment" => self.server_comment.clone(),
            "signing_required" => self.signing_required.to_string(),
            "encryption" => self.encryption.to_string(),
            "min_dialect" => self.min_dialect.clone(),
            "max_dialect" => self.max_dialect.clone(),
            "smb_direct" => self.smb_direct.to_string(),
            "max_io_size" => self.max_io_size.to_string(),
            "smb_direct_credits" => self.smb_direct_credits.to_string(),
            "guest_account_enabled" => self.guest_account_enabled.to_string(),
            "multichannel" => self.multichannel.to_string(),
            _ => return None,
        })
    }

    /// Validates `value` for `key` and stores it in `self` (no cross-field checks).
    pub(crate) fn apply(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        match key {
            "server_name" => {
                validate::netbios_name("server_name", value)?;
                self.server_name = value.to_owned();
            }
            "workgroup" => {
                validate::netbios_name("workgroup", value)?;
                self.workgroup = value.to_owned();
            }
            "server_comment" => {
                if value.chars().count() > 256 || value.chars().any(char::is_control) {
                    return Err(StoreError::invalid(
                        "server_comment",
                        "must be at most 256 characters without control characters",
                    ));
                }
                self.server_comment = value.to_owned();
            }
            "signing_required" => self.signing_required = parse_bool("signing_required", value)?,
            "encryption" => self.encryption = value.parse()?,
            "min_dialect" => self.min_dialect = parse_dialect("min_dialect", value)?,
            "max_dialect" => self.max_dialect = parse_dialect("max_dialect", value)?,
            "smb_direct" => self.smb_direct = parse_bool("smb_direct", value)?,
            "max_io_size" => {
                let n: u32 = value.parse().map_err(|_| {
                    StoreError::invalid(
                        "max_io_size",
                        format!("'{value}' is not a number of bytes"),
                    )
                })?;
                if !(MIN_IO_SIZE..=MAX_IO_SIZE).contains(&n) {
                    return Err(StoreError::invalid(
                        "max_io_size",
                        format!("must be between {MIN_IO_SIZE} and {MAX_IO_SIZE} bytes"),
                    ));
                }
                self.max_io_size = n;
            }
            "smb_direct_credits" => {
                let n: u16 = value
                    .parse()
                    .ok()
                    .filter(|n| SMB_DIRECT_CREDITS.contains(n))
                    .ok_or_else(|| {
                        StoreError::invalid(
                            "smb_direct_credits",
                            format!(
                                "'{value}' is not a number from {} to {}",
                                SMB_DIRECT_CREDITS.start(),
                                SMB_DIRECT_CREDITS.end()
                            ),
                        )
                    })?;
                self.smb_direct_credits = n;
            }
            "guest_account_enabled" => {
                self.guest_account_enabled = parse_bool("guest_account_enabled", value)?;
            }
            "multichannel" => self.multichannel = parse_bool("multichannel", value)?,
            _ => {
                return Err(StoreError::invalid(
                    "key",
                    format!("unknown setting '{key}' (known: {})", Self::KEYS.join(", ")),
                ))
            }
        }
        Ok(())
    }

    /// Cross-field rules: `min_dialect` must not be newer than `max_dialect`.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if dialect_rank(&self.min_dialect) > dialect_rank(&self.max_dialect) {
            return Err(StoreError::invalid(
                "dialect",
                format!(
                    "min_dialect {} is newer than max_dialect {}",
                    self.min_dialect, self.max_dialect
                ),
            ));
        }
        Ok(())
    }
}
