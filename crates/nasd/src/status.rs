//! The running server's status, for `nasd status` (and anything else that reads JSON):
//! `nasd serve` writes it to a file whenever it changes (at most every
//! [`WRITE_INTERVAL`]), atomically (temporary file, then rename).
//!
//! What it holds: the process, the SMB Direct state and settings, every interface's RDMA
//! verdict, and every connection with its transport counters (on SMB Direct: sends,
//! receives, and the bytes RDMA read and write moved).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};
use smb_server::{ConnStatus, Server};

/// How often the server looks for a change to write.
pub const WRITE_INTERVAL: Duration = Duration::from_secs(1);

/// Where the status lives for the database `db`: `/run/nasd/status.json` when that
/// directory exists (systemd's RuntimeDirectory, a tmpfs), else beside the database.
pub fn default_path(db: &Path) -> PathBuf {
    path_for(Path::new("/run/nasd"), db)
}

fn path_for(run: &Path, db: &Path) -> PathBuf {
    if run.is_dir() {
        return run.join("status.json");
    }
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".status.json");
    db.with_file_name(name)
}

/// What the server knows at start and does not change while it runs.
#[derive(Debug, Clone)]
pub struct Fixed {
    pub listen: String,
    /// "listening on …", "off (setting smb_direct)", "no RDMA devices", or the error.
    pub smb_direct: String,
    pub smb_direct_credits: u16,
    pub max_io_size: u32,
    pub interfaces: Vec<Value>,
}

fn dialect_name(d: u16) -> String {
    match d {
        0 => "-".into(),
        0x0202 => "2.0.2".into(),
        0x0210 => "2.1".into(),
        0x0300 => "3.0".into(),
        0x0302 => "3.0.2".into(),
        0x0311 => "3.1.1".into(),
        other => format!("{other:#06x}"),
    }
}

fn connection(c: &ConnStatus) -> Value {
    let mut v = json!({
        "id": c.id,
        "peer": c.peer.to_string(),
        "transport": c.transport,
        "dialect": dialect_name(c.dialect),
        "users": c.users,
        "trees": c.trees,
        "opens": c.opens,
        "bytes_in": c.bytes_in,
        "bytes_out": c.bytes_out,
    });
    if let (Some(t), Some(obj)) = (c.transport_counters, v.as_object_mut()) {
        obj.insert(
            "smb_direct".into(),
            json!({
                "sends": t.sends,
                "recvs": t.recvs,
                "rdma_reads": t.rdma_reads,
                "rdma_writes": t.rdma_writes,
                "rdma_read_bytes": t.rdma_read_bytes,
                "rdma_write_bytes": t.rdma_write_bytes,
                "copied_bytes": t.copied_bytes,
            }),
        );
    }
    v
}

/// The status document now.
pub fn document(fixed: &Fixed, server: &Server) -> Value {
    json!({
        "pid": std::process::id(),
        "version": env!("CARGO_PKG_VERSION"),
        "listen": fixed.listen,
        "smb_direct": {
            "state": fixed.smb_direct,
            "credits": fixed.smb_direct_credits,
            "max_io_size": fixed.max_io_size,
        },
        "interfaces": fixed.interfaces,
        "connections": server.connections().iter().map(connection).collect::<Vec<_>>(),
    })
}

/// Writes `doc` to `path` atomically.
pub fn write(path: &Path, doc: &Value) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let text = serde_json::to_string_pretty(doc).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    match UNITS.get(u) {
        Some(unit) if u == 0 => format!("{n} {unit}"),
        Some(unit) => format!("{v:.1} {unit}"),
        None => format!("{n} B"),
    }
}

/// A member of a JSON object (Null when absent: the status file may be from another
/// version).
fn at<'a>(v: &'a Value, key: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    v.get(key).unwrap_or(&NULL)
}

/// `nasd status`: the running server's status file, as text (or as it is with `json`).
pub fn show(path: &Path, as_json: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "no status at {} (is `nasd serve` running with this database?)",
            path.display()
        )
    })?;
    if as_json {
        println!("{text}");
        return Ok(());
    }
    let doc: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a status document", path.display()))?;
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    println!(
        "nasd {} (pid {}), SMB on {}",
        s(at(&doc, "version")),
        n(at(&doc, "pid")),
        s(at(&doc, "listen"))
    );
    let d = at(&doc, "smb_direct");
    println!(
        "SMB Direct: {} (credits {}, max I/O {})",
        s(at(d, "state")),
        n(at(d, "credits")),
        human_bytes(n(at(d, "max_io_size")))
    );
    if let Some(ifs) = at(&doc, "interfaces").as_array() {
        println!("Interfaces:");
        for i in ifs {
            println!(
                "  {:<12} {:<12} {}",
                s(at(i, "name")),
                s(at(i, "speed")),
                s(at(i, "rdma"))
            );
        }
    }
    let conns = at(&doc, "connections")
        .as_array()
        .cloned()
        .unwrap_or_default();
    println!("Connections: {}", conns.len());
    for c in &conns {
        let users: Vec<String> = at(c, "users")
            .as_array()
            .map(|u| u.iter().map(s).collect())
            .unwrap_or_default();
        println!(
            "  #{} {} {} SMB {} users={} trees={} opens={} in={} out={}",
            n(at(c, "id")),
            s(at(c, "peer")),
            s(at(c, "transport")),
            s(at(c, "dialect")),
            users.join(","),
            n(at(c, "trees")),
            n(at(c, "opens")),
            human_bytes(n(at(c, "bytes_in"))),
            human_bytes(n(at(c, "bytes_out"))),
        );
        let t = at(c, "smb_direct");
        if t.is_object() {
            println!(
                "      SMB Direct: sends={} recvs={} rdma_reads={} ({}) rdma_writes={} ({}) copied={}",
                n(at(t, "sends")),
                n(at(t, "recvs")),
                n(at(t, "rdma_reads")),
                human_bytes(n(at(t, "rdma_read_bytes"))),
                n(at(t, "rdma_writes")),
                human_bytes(n(at(t, "rdma_write_bytes"))),
                human_bytes(n(at(t, "copied_bytes"))),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(8 * 1024 * 1024), "8.0 MiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }

    #[test]
    fn the_status_file_is_in_the_runtime_dir_else_beside_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = Path::new("/var/lib/nasd/nasd.db");
        assert_eq!(
            path_for(&dir.path().join("absent"), db),
            PathBuf::from("/var/lib/nasd/nasd.db.status.json")
        );
        assert_eq!(path_for(dir.path(), db), dir.path().join("status.json"));
    }
}
