//! The server the TCP transcript tests talk to: a real `smb_server` on an ephemeral
//! loopback port with one share `data` (beside a `secret.txt` outside it) and the given
//! users, stopped (and its directory removed) when the handle drops.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use smb_server::{Catalog, Server, ShareConfig, UserConfig};
use smb_test_support::ntlm;

pub struct Running {
    pub addr: SocketAddr,
    pub share: PathBuf,
    base: PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            t.join()
                .expect("server thread panicked")
                .expect("server failed");
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// A fresh directory `nasd-<tag>-<pid>` under the system temp dir.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nasd-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Serve `data` (io_uring VFS) to `users` (name, password) in `tempdir(tag)`.
pub fn start(tag: &str, users: &[(&str, &str)]) -> Running {
    start_with(tag, users, smb_vfs::UringVfs::new)
}

/// A server (not yet serving) with one share `data` in `tempdir(tag)/share` for `users`;
/// returns it with the base directory and the share's path.
pub fn server(tag: &str, users: &[(&str, &str)]) -> (std::sync::Arc<Server>, PathBuf, PathBuf) {
    let base = tempdir(tag);
    let share = base.join("share");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(base.join("secret.txt"), "outside the share").unwrap();
    let identity = smb_auth::ServerIdentity {
        netbios_name: "NAS".into(),
        netbios_domain: "WORKGROUP".into(),
        dns_name: "nas".into(),
        dns_domain: String::new(),
    };
    let cfg = smb_proto::Config::new([3; 16], identity);
    let catalog = Catalog::new(
        vec![ShareConfig {
            name: "data".into(),
            path: share.clone(),
            comment: String::new(),
            read_only: false,
            guest_ok: false,
            browseable: true,
            encrypt: false,
            valid_users: vec![],
            write_users: vec![],
        }],
        users
            .iter()
            .map(|(name, password)| UserConfig {
                name: (*name).into(),
                nt_hash: ntlm::nt_hash(password),
                enabled: true,
            })
            .collect(),
        "NAS".into(),
        "WORKGROUP".into(),
        String::new(),
        cfg,
    );
    (Server::new(catalog), base, share)
}

/// Like [`start`], with the VFS `make_vfs` builds on each worker thread.
pub fn start_with<V: smb_vfs::Vfs>(
    tag: &str,
    users: &[(&str, &str)],
    make_vfs: impl Fn() -> V + Send + Sync + 'static,
) -> Running {
    let (server, base, share) = server(tag, users);
    let listener = smb_server::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let thread =
        std::thread::spawn(move || smb_server::serve_tcp(server, vec![listener], make_vfs, rx));
    Running {
        addr,
        share,
        base,
        stop,
        thread: Some(thread),
    }
}
