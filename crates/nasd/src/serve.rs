//! `nasd serve`: the SMB server on the store's shares and users.
//!
//! Threads: the main thread runs a small tokio runtime for the store (sqlx) and signals;
//! the SMB data path runs on `threads` worker threads, each with its own tokio-uring
//! runtime and SO_REUSEPORT listener (thread-per-core). SIGTERM/SIGINT stop accepting,
//! close every connection (releasing opens, honouring delete-on-close) and exit 0.
//! SIGHUP reloads shares, users and settings from the store without dropping connections.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use nas_store::{EncryptionPolicy, Snapshot, Store};
use smb_server::{Catalog, Server, ShareConfig, UserConfig};

/// Options for `nasd serve`, parsed by the CLI.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on, e.g. `0.0.0.0:445` or `127.0.0.1:4450`.
    pub listen: SocketAddr,
    /// Number of worker threads (thread-per-core); 0 means one per CPU.
    pub threads: usize,
    /// Where the status for `nasd status` is kept.
    pub status_file: std::path::PathBuf,
}

fn dialect_code(s: &str) -> Option<u16> {
    Some(match s {
        "2.0.2" => 0x0202,
        "2.1" | "2.1.0" => 0x0210,
        "3.0" | "3.0.0" => 0x0300,
        "3.0.2" => 0x0302,
        "3.1.1" => 0x0311,
        _ => return None,
    })
}

/// A stable server GUID for this database (so clients see the same server across restarts).
fn server_guid(path: &Path, name: &str) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"nasd server guid\0");
    h.update(path.as_os_str().as_encoded_bytes());
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut g = [0u8; 16];
    for (g, d) in g.iter_mut().zip(d.iter()) {
        *g = *d;
    }
    g
}

/// Turn the store's snapshot into the server's catalog.
pub fn catalog_from(snap: Snapshot, db_path: &Path) -> anyhow::Result<Catalog> {
    let s = &snap.settings;
    let identity = smb_auth::ServerIdentity {
        netbios_name: s.server_name.to_uppercase(),
        netbios_domain: s.workgroup.to_uppercase(),
        dns_name: s.server_name.to_lowercase(),
        dns_domain: String::new(),
    };
    let mut proto = smb_proto::Config::new(server_guid(db_path, &s.server_name), identity);
    let lo = dialect_code(&s.min_dialect)
        .with_context(|| format!("bad min_dialect {:?}", s.min_dialect))?;
    let hi = dialect_code(&s.max_dialect)
        .with_context(|| format!("bad max_dialect {:?}", s.max_dialect))?;
    proto.dialects.retain(|d| *d >= lo && *d <= hi);
    anyhow::ensure!(
        !proto.dialects.is_empty(),
        "min_dialect {} is above max_dialect {}",
        s.min_dialect,
        s.max_dialect
    );
    proto.signing_required = s.signing_required;
    proto.encryption = match s.encryption {
        EncryptionPolicy::Off => smb_proto::EncryptionPolicy::Off,
        EncryptionPolicy::Desired => smb_proto::EncryptionPolicy::Desired,
        EncryptionPolicy::Required => smb_proto::EncryptionPolicy::Required,
    };
    proto.max_io = s.max_io_size.clamp(64 * 1024, 8 * 1024 * 1024);
    proto.map_to_guest = s.guest_account_enabled;
    proto.multichannel = s.multichannel;
    proto.start_time = smb_server::filetime_now();
    let shares = snap
        .shares
        .into_iter()
        .map(|sh| ShareConfig {
            name: sh.name,
            path: sh.path,
            comment: sh.comment,
            read_only: sh.read_only,
            guest_ok: sh.guest_ok,
            browseable: sh.browseable,
            encrypt: sh.encrypt,
            valid_users: sh.valid_users,
            write_users: sh.write_users,
        })
        .collect();
    let users = snap
        .users
        .into_iter()
        .map(|u| UserConfig {
            name: u.name,
            nt_hash: u.nt_hash,
            enabled: u.enabled,
        })
        .collect();
    Ok(Catalog::new(
        shares,
        users,
        s.server_name.clone(),
        s.workgroup.clone(),
        s.server_comment.clone(),
        proto,
    ))
}

/// Log to journald when started by systemd with a journal stream, else to stderr.
/// `RUST_LOG` filters (default `info`).
fn init_logging() {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let journald = std::env::var_os("JOURNAL_STREAM").and_then(|_| tracing_journald::layer().ok());
    let registry = tracing_subscriber::registry().with(filter);
    let res = match journald {
        Some(j) => registry.with(j).try_init(),
        None => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    // Colour only on a terminal (and never with NO_COLOR): log files and
                    // serial consoles get plain text.
                    .with_ansi(
                        std::io::IsTerminal::is_terminal(&std::io::stderr())
                            && std::env::var_os("NO_COLOR").is_none(),
                    ),
            )
            .try_init(),
    };
    if res.is_err() {
        eprintln!("nasd: logging was already initialised");
    }
}

/// One line per network interface with its RDMA verdict: how an administrator learns
/// which interfaces Windows may use for SMB Direct, and why the others stay on TCP.
/// Returns the same for the status file.
fn log_netdevs() -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    match nas_netif::scan(nas_netif::DEFAULT_ROOT) {
        Ok(list) => {
            for n in list {
                let speed = n.speed_bps.map_or_else(
                    || "unknown".to_string(),
                    |b| format!("{} Mb/s", b / 1_000_000),
                );
                let state = n
                    .operstate
                    .as_ref()
                    .map_or_else(|| "unreadable".to_string(), ToString::to_string);
                tracing::info!(
                    netdev = %n.name,
                    kind = %n.kind,
                    state = %state,
                    speed = %speed,
                    "{}: {}",
                    n.name,
                    n.rdma
                );
                out.push(serde_json::json!({
                    "name": n.name,
                    "kind": n.kind.to_string(),
                    "state": state,
                    "speed": speed,
                    "rdma": n.rdma.to_string(),
                }));
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot list network interfaces; no RDMA advertised"),
    }
    out
}

/// Every client open is a descriptor, and every TCP connection two (its socket and the
/// duplicate other threads poll to learn the peer has gone): lift the soft RLIMIT_NOFILE
/// (1024 for most services) to the hard limit, as a file server must.
fn raise_nofile_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    if soft >= hard {
        return;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => tracing::debug!(from = soft, to = hard, "raised the open files limit"),
        Err(e) => tracing::warn!(error = %e, soft, "cannot raise the open files limit"),
    }
}

/// Each SMB Direct connection pins `per_connection` bytes (its registered pools): says so
/// when RLIMIT_MEMLOCK would refuse that for a handful of connections and the process
/// lacks CAP_IPC_LOCK, which lifts the limit.
fn memlock_warning(per_connection: u64) -> Option<String> {
    use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
    let (soft, _) = getrlimit(Resource::RLIMIT_MEMLOCK).ok()?;
    let limit = (soft != RLIM_INFINITY).then_some(soft);
    memlock_verdict(limit, per_connection, has_cap_ipc_lock())
}

/// [`memlock_warning`] for a soft limit (`None`: unlimited): room for at least eight
/// connections, or CAP_IPC_LOCK, is enough.
fn memlock_verdict(limit: Option<u64>, per_connection: u64, cap_ipc_lock: bool) -> Option<String> {
    let soft = limit?;
    if cap_ipc_lock || soft >= per_connection.saturating_mul(8) {
        return None;
    }
    Some(format!(
        "RLIMIT_MEMLOCK is {} KiB and each connection registers about {} MiB: connections \
         beyond the limit will be refused; set LimitMEMLOCK=infinity (systemd) or ulimit -l \
         unlimited",
        soft / 1024,
        per_connection.div_ceil(1 << 20)
    ))
}

/// Whether the effective capabilities include CAP_IPC_LOCK (bit 14 of CapEff).
fn has_cap_ipc_lock() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 14) != 0)
}

/// Starts SMB Direct when the settings and the host allow; says why not otherwise.
fn start_smb_direct(
    server: &std::sync::Arc<Server>,
    listen: SocketAddr,
    settings: &nas_store::Settings,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> (String, Option<std::thread::JoinHandle<()>>) {
    if !settings.smb_direct {
        return ("off (setting smb_direct)".into(), None);
    }
    if listen.ip().is_loopback() {
        return ("off (listening on loopback only)".into(), None);
    }
    let opts = smb_server::direct::DirectOptions {
        credits: settings.smb_direct_credits,
        max_io: settings.max_io_size.clamp(64 * 1024, 8 * 1024 * 1024),
    };
    match smb_server::direct::rdma::serve(
        server.clone(),
        listen.ip(),
        opts,
        smb_vfs::UringVfs::new,
        shutdown,
    ) {
        Ok(Some(h)) => {
            let ports = smb_server::direct::rdma::ports()
                .unwrap_or_default()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let state = format!("listening on {} port {ports}", listen.ip());
            let pinned = opts.registered_bytes();
            tracing::info!(
                registered_per_connection_mib = pinned.div_ceil(1 << 20),
                "SMB Direct {state}"
            );
            if let Some(warning) = memlock_warning(pinned) {
                tracing::warn!("SMB Direct: {warning}");
            }
            (state, Some(h))
        }
        Ok(None) => {
            tracing::info!("SMB Direct: no RDMA devices on this host");
            ("no RDMA devices".into(), None)
        }
        Err(e) => {
            tracing::error!(error = %e, "SMB Direct unavailable");
            (format!("unavailable: {e}"), None)
        }
    }
}

/// SMB Direct's listeners and per-connection resources are set up at start: a reload
/// cannot change them, so say which changed settings wait for a restart.
fn warn_restart_needed(running: &nas_store::Settings, stored: &nas_store::Settings) {
    let changed = restart_needed(running, stored);
    if !changed.is_empty() {
        tracing::warn!(
            settings = %changed.join(", "),
            "changed settings apply to SMB Direct after a restart (systemctl restart nasd)"
        );
    }
}

fn restart_needed(
    running: &nas_store::Settings,
    stored: &nas_store::Settings,
) -> Vec<&'static str> {
    [
        ("smb_direct", running.smb_direct != stored.smb_direct),
        (
            "smb_direct_credits",
            running.smb_direct_credits != stored.smb_direct_credits,
        ),
        ("max_io_size", running.max_io_size != stored.max_io_size),
    ]
    .into_iter()
    .filter_map(|(name, differs)| differs.then_some(name))
    .collect()
}

/// Serve until SIGTERM/SIGINT.
pub fn run(store_path: &Path, opts: ServeOptions) -> anyhow::Result<()> {
    init_logging();
    raise_nofile_limit();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let store = rt
        .block_on(Store::open(store_path))
        .with_context(|| format!("opening {}", store_path.display()))?;
    let snap = rt.block_on(store.snapshot())?;
    let settings = snap.settings.clone();
    let catalog = catalog_from(snap, store_path)?;
    for s in &catalog.shares {
        tracing::info!(share = %s.cfg.name, path = %s.cfg.path.display(), "serving share");
    }
    let interfaces = log_netdevs();
    let server = Server::new(catalog);
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        opts.threads
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let rx2 = rx.clone();
    let listen = opts.listen;
    // Bind every worker's socket here, so a busy port or a missing privilege is reported
    // at once with a clear message.
    let listeners = (0..threads)
        .map(|_| smb_server::bind_tcp(listen))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("cannot listen on {listen}"))?;
    let srv = server.clone();
    let workers = std::thread::Builder::new()
        .name("smb-listen".into())
        .spawn(move || smb_server::serve_tcp(srv, listeners, smb_vfs::UringVfs::new, rx))?;
    tracing::info!(%listen, threads, "nasd listening");
    let (direct_state, direct) = start_smb_direct(&server, listen, &settings, rx2);
    let fixed = crate::status::Fixed {
        listen: listen.to_string(),
        smb_direct: direct_state,
        smb_direct_credits: settings.smb_direct_credits,
        max_io_size: settings.max_io_size,
        interfaces,
    };
    let status_file = opts.status_file.clone();
    notify_ready();
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let mut tick = tokio::time::interval(crate::status::WRITE_INTERVAL);
        let mut last = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let doc = crate::status::document(&fixed, &server);
                    if last.as_ref() != Some(&doc) {
                        if let Err(e) = crate::status::write(&status_file, &doc) {
                            tracing::warn!(path = %status_file.display(), error = %e, "cannot write the status file");
                        }
                        last = Some(doc);
                    }
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    match store.snapshot().await.map_err(anyhow::Error::from).and_then(|s| {
                        warn_restart_needed(&settings, &s.settings);
                        catalog_from(s, store_path)
                    }) {
                        Ok(cat) => { server.reload(cat); tracing::info!("configuration reloaded"); }
                        Err(e) => tracing::error!(error = %e, "reload failed; keeping the old configuration"),
                    }
                }
            }
            if workers.is_finished() {
                break;
            }
        }
        anyhow::Ok(())
    })?;
    tracing::info!("shutting down");
    let _ = tx.send(true);
    match workers.join() {
        Ok(r) => r.context("SMB listener")?,
        Err(_) => anyhow::bail!("SMB worker panicked"),
    }
    if let Some(d) = direct {
        if d.join().is_err() {
            anyhow::bail!("SMB Direct thread panicked");
        }
    }
    let _ = std::fs::remove_file(&opts.status_file);
    tracing::info!("stopped");
    Ok(())
}

/// Tell systemd we are ready (Type=notify), if it is listening.
fn notify_ready() {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sock = match std::os::unix::net::UnixDatagram::unbound() {
        Ok(s) => s,
        Err(_) => return,
    };
    let _ = sock.send_to(b"READY=1", path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memlock_is_enough_for_eight_connections_or_with_cap_ipc_lock() {
        let per = 18 << 20;
        assert_eq!(memlock_verdict(None, per, false), None, "unlimited");
        assert_eq!(memlock_verdict(Some(8 * per), per, false), None);
        assert_eq!(
            memlock_verdict(Some(8 << 20), per, true),
            None,
            "CAP_IPC_LOCK"
        );
        let w = memlock_verdict(Some(8 << 20), per, false).expect("a warning");
        assert!(w.contains("8192 KiB") && w.contains("about 18 MiB"), "{w}");
        assert!(w.contains("LimitMEMLOCK=infinity"), "{w}");
    }

    #[test]
    fn smb_direct_settings_changed_by_a_reload_wait_for_a_restart() {
        let running = nas_store::Settings::default();
        assert!(restart_needed(&running, &running.clone()).is_empty());
        let stored = nas_store::Settings {
            smb_direct: !running.smb_direct,
            max_io_size: 1 << 20,
            signing_required: !running.signing_required,
            ..running.clone()
        };
        assert_eq!(
            restart_needed(&running, &stored),
            vec!["smb_direct", "max_io_size"]
        );
    }
}
