//! The server's view of its configuration: shares, users and policy, swapped as a whole
//! when the control plane reloads it (connections keep the catalog they started a request
//! with; new tree connects see the new one).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use smb_auth::Credentials;
use smb_vfs::Root;

/// One disk share as configured.
#[derive(Debug, Clone)]
pub struct ShareConfig {
    pub name: String,
    pub path: PathBuf,
    pub comment: String,
    pub read_only: bool,
    pub guest_ok: bool,
    pub browseable: bool,
    /// Require SMB3 encryption for this share (ShareFlags ENCRYPT_DATA).
    pub encrypt: bool,
    /// Users allowed to connect; empty means every authenticated user.
    pub valid_users: Vec<String>,
    /// Users who may write even though the share is read-only.
    pub write_users: Vec<String>,
}

/// One account.
#[derive(Debug, Clone)]
pub struct UserConfig {
    pub name: String,
    pub nt_hash: [u8; 16],
    pub enabled: bool,
}

/// A share ready to serve: its configuration and its opened root directory.
#[derive(Debug)]
pub struct Share {
    pub cfg: ShareConfig,
    pub root: Root,
}

/// Everything a connection needs to know about the configuration.
pub struct Catalog {
    pub shares: Vec<Arc<Share>>,
    /// Shares whose root could not be opened, with the reason (reported in status and log).
    pub broken_shares: Vec<(String, String)>,
    users: HashMap<String, UserConfig>,
    pub server_name: String,
    pub workgroup: String,
    pub comment: String,
    pub proto: Arc<smb_proto::Config>,
}

impl Catalog {
    /// Build a catalog, opening every share root. A share whose directory is missing is kept
    /// out (and listed in `broken_shares`) instead of failing the whole server.
    pub fn new(
        shares: Vec<ShareConfig>,
        users: Vec<UserConfig>,
        server_name: String,
        workgroup: String,
        comment: String,
        proto: smb_proto::Config,
    ) -> Self {
        let mut ok = Vec::new();
        let mut broken = Vec::new();
        for cfg in shares {
            match Root::open(&cfg.path) {
                Ok(root) => ok.push(Arc::new(Share { cfg, root })),
                Err(e) => {
                    tracing::warn!(share = %cfg.name, path = %cfg.path.display(), error = %e, "share root unavailable");
                    broken.push((cfg.name.clone(), e.to_string()));
                }
            }
        }
        let users = users
            .into_iter()
            .map(|u| (u.name.to_lowercase(), u))
            .collect();
        Self {
            shares: ok,
            broken_shares: broken,
            users,
            server_name,
            workgroup,
            comment,
            proto: Arc::new(proto),
        }
    }

    /// The share with this name (case-insensitive).
    pub fn share(&self, name: &str) -> Option<&Arc<Share>> {
        self.shares.iter().find(|s| {
            s.cfg.name.eq_ignore_ascii_case(name)
                || s.cfg.name.to_lowercase() == name.to_lowercase()
        })
    }

    /// Whether a user exists and is enabled.
    pub fn user_enabled(&self, name: &str) -> bool {
        self.users
            .get(&name.to_lowercase())
            .is_some_and(|u| u.enabled)
    }
}

impl Credentials for Catalog {
    fn nt_hash(&self, user: &str, _domain: &str) -> Option<[u8; 16]> {
        self.users
            .get(&user.to_lowercase())
            .filter(|u| u.enabled)
            .map(|u| u.nt_hash)
    }
}

/// Whether `user` may connect to `share`, and whether it may write there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareAccess {
    Denied,
    ReadOnly,
    ReadWrite,
}

impl ShareConfig {
    /// The access a session gets on this share.
    pub fn access_for(&self, user: &str, guest: bool, anonymous: bool) -> ShareAccess {
        if anonymous {
            return ShareAccess::Denied;
        }
        if guest {
            if !self.guest_ok {
                return ShareAccess::Denied;
            }
            return if self.read_only {
                ShareAccess::ReadOnly
            } else {
                ShareAccess::ReadWrite
            };
        }
        let listed = |l: &[String]| l.iter().any(|u| u.eq_ignore_ascii_case(user));
        if !self.valid_users.is_empty() && !listed(&self.valid_users) {
            return ShareAccess::Denied;
        }
        if self.read_only && !listed(&self.write_users) {
            ShareAccess::ReadOnly
        } else {
            ShareAccess::ReadWrite
        }
    }
}
