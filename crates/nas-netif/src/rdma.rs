//! The RDMA side of sysfs: `<root>/class/infiniband/<dev>` with its node type, parent
//! device and, per port, state, link layer, rate, GID table and GID netdevs.

use std::path::{Path, PathBuf};

use crate::parse::{self, NodeType, PortState};
use crate::sysfs::{list_dir, read_attr};

/// One RDMA port as read from sysfs. Fields that could not be read hold the reason.
#[derive(Debug)]
pub(crate) struct Port {
    pub(crate) num: u32,
    pub(crate) state: Result<PortState, String>,
    pub(crate) link_layer: Result<String, String>,
    pub(crate) rate_bps: Option<u64>,
    /// Non-zero GIDs, read for InfiniBand ports and iWARP devices only.
    pub(crate) gids: Vec<[u8; 16]>,
    /// GID entries that could not be read or parsed (IB ports and iWARP devices only).
    pub(crate) bad_gids: usize,
    /// Netdev names from `gid_attrs/ndevs/*` (non-InfiniBand ports only; unused entries,
    /// which the kernel fails to read, are skipped).
    pub(crate) ndevs: Vec<String>,
}

/// One RDMA device.
#[derive(Debug)]
pub(crate) struct Device {
    pub(crate) name: String,
    pub(crate) node_type: Result<NodeType, String>,
    /// The canonical path of its `device` link (the PCI function), if it has one.
    pub(crate) parent: Option<PathBuf>,
    pub(crate) ports: Vec<Port>,
}

/// All RDMA devices of the host, or why they could not be listed.
#[derive(Debug)]
pub(crate) enum Table {
    /// `<root>/class/infiniband` does not exist or is empty.
    Absent,
    /// It exists but could not be listed.
    Unreadable(String),
    /// The devices (sorted by name) and what could not be read about them.
    Devices {
        devices: Vec<Device>,
        problems: Vec<String>,
    },
}

impl Device {
    pub(crate) fn is_iwarp(&self) -> bool {
        matches!(self.node_type, Ok(NodeType::Rnic))
    }
}

impl Port {
    pub(crate) fn is_infiniband(&self) -> bool {
        matches!(&self.link_layer, Ok(l) if l == "InfiniBand")
    }
}

pub(crate) fn read_table(root: &Path) -> Table {
    let dir = root.join("class/infiniband");
    let names = match list_dir(&dir) {
        Ok(Some(n)) => n,
        Ok(None) => return Table::Absent,
        Err(e) => return Table::Unreadable(format!("cannot list {}: {e}", dir.display())),
    };
    if names.is_empty() {
        return Table::Absent;
    }
    let mut devices = Vec::new();
    let mut problems = Vec::new();
    for name in names {
        let dev = dir.join(&name);
        let node_type = match read_attr(&dev.join("node_type")) {
            Ok(s) => NodeType::parse(&s).ok_or_else(|| format!("{name}: node_type {:?}", s.trim())),
            Err(e) => Err(format!("{name}: cannot read node_type: {e}")),
        };
        if let Err(e) = &node_type {
            problems.push(e.clone());
        }
        let parent = std::fs::canonicalize(dev.join("device")).ok();
        let iwarp = matches!(node_type, Ok(NodeType::Rnic));
        let ports_dir = dev.join("ports");
        let port_names = match list_dir(&ports_dir) {
            Ok(Some(p)) => p,
            Ok(None) => {
                problems.push(format!("{name}: no ports directory"));
                Vec::new()
            }
            Err(e) => {
                problems.push(format!("{name}: cannot list ports: {e}"));
                Vec::new()
            }
        };
        let mut ports = Vec::new();
        for p in port_names {
            let Ok(num) = p.parse::<u32>() else {
                problems.push(format!("{name}: unexpected port entry {p:?}"));
                continue;
            };
            ports.push(read_port(&ports_dir.join(&p), num, iwarp));
        }
        ports.sort_by_key(|p| p.num);
        devices.push(Device {
            name,
            node_type,
            parent,
            ports,
        });
    }
    Table::Devices { devices, problems }
}

fn read_port(dir: &Path, num: u32, iwarp: bool) -> Port {
    let state = match read_attr(&dir.join("state")) {
        Ok(s) => PortState::parse(&s).ok_or_else(|| format!("unrecognised state {:?}", s.trim())),
        Err(e) => Err(format!("cannot read state: {e}")),
    };
    let link_layer = read_attr(&dir.join("link_layer"))
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("cannot read link_layer: {e}"));
    let rate_bps = read_attr(&dir.join("rate"))
        .ok()
        .and_then(|s| parse::rate(&s));
    let infiniband = matches!(&link_layer, Ok(l) if l == "InfiniBand");
    let mut gids = Vec::new();
    let mut bad_gids = 0;
    if infiniband || iwarp {
        if let Ok(Some(entries)) = list_dir(&dir.join("gids")) {
            for e in entries {
                match read_attr(&dir.join("gids").join(&e))
                    .ok()
                    .and_then(|s| parse::gid(&s))
                {
                    Some(g) if g != [0u8; 16] => gids.push(g),
                    Some(_) => {}
                    None => bad_gids += 1,
                }
            }
        }
    }
    let mut ndevs = Vec::new();
    if !infiniband {
        let nd = dir.join("gid_attrs/ndevs");
        if let Ok(Some(entries)) = list_dir(&nd) {
            for e in entries {
                if let Ok(s) = read_attr(&nd.join(&e)) {
                    let s = s.trim();
                    if !s.is_empty() && !ndevs.iter().any(|n| n == s) {
                        ndevs.push(s.to_string());
                    }
                }
            }
        }
    }
    Port {
        num,
        state,
        link_layer,
        rate_bps,
        gids,
        bad_gids,
        ndevs,
    }
}
