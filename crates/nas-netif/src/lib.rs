//! Network interfaces as sysfs describes them, with an explained RDMA verdict per netdev.
//!
//! [`scan`] reads `<root>/class/net` and `<root>/class/infiniband` (root `/sys` on a real
//! host, a temporary directory in tests) and returns, for every netdev, its name, index,
//! kind, operational state, link speed and an [`Rdma`] verdict: either the RDMA device and
//! port that serve it, how they were matched and the transport (which decides the SMB
//! Direct port, 445 or 5445), or the reason it is not RDMA-capable.
//!
//! The matching rules, evidence first:
//! - **IPoIB** (`type` 32): the 20-byte hardware address is 4 bytes of QPN and flags then
//!   the 16-byte port GID; bytes 4..20 are looked up in `ports/<n>/gids/*` of every
//!   InfiniBand port. This is the link a naive check misses (ConnectX-3 in IB mode).
//! - **RoCE**: `ports/<n>/gid_attrs/ndevs/*` of an Ethernet port names the netdev. The
//!   kernel also lists VLANs and the bond an active RoCE slave belongs to there, so those
//!   are capable too, on the kernel's word.
//! - **iWARP** (`node_type` 4: RNIC): the RDMA device's `device` link and the netdev's lead
//!   to the same PCI function; with several ports, the port whose GID netdev or MAC-based
//!   GID names the netdev.
//! - A match counts only when the port's `state` is `4: ACTIVE`.
//! - With no match, bridges, bonds, teams, VLANs and enslaved netdevs are explained
//!   from the `bridge/`, `bonding/`, `uevent` DEVTYPE, `master` and `lower_*` entries.
//!
//! Nothing is guessed: a file that cannot be read or parsed makes the verdict
//! `NotCapable` with a reason that says which file and why. Only sysfs is read; no verbs
//! library is named here.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

mod parse;
mod rdma;
mod sysfs;

pub use parse::PortState;

use parse::{GidText, NodeType};
use rdma::{Device, Port, Table};
use sysfs::{link_name, list_dir, read_attr};

/// Where sysfs is mounted on a real host.
pub const DEFAULT_ROOT: &str = "/sys";

/// ARPHRD_ETHER.
const ARPHRD_ETHER: u16 = 1;
/// ARPHRD_INFINIBAND: an IPoIB netdev.
const ARPHRD_INFINIBAND: u16 = 32;
/// ARPHRD_LOOPBACK.
const ARPHRD_LOOPBACK: u16 = 772;

/// The one failure of a scan: the netdev directory cannot be listed. Everything below it
/// that cannot be read ends up in a netdev's fields or its RDMA reason instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `<root>/class/net` is missing or unreadable.
    #[error("cannot list network interfaces in {path}: {source}")]
    ListNetdevs {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What kind of netdev this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An Ethernet-type netdev with no DEVTYPE and nothing below it (a NIC port, veth, ...).
    Ethernet,
    /// IP over InfiniBand (`type` 32).
    Ipoib,
    /// A Linux bridge (`bridge/` or DEVTYPE=bridge).
    Bridge,
    /// A bonding master (`bonding/` or DEVTYPE=bond).
    Bond,
    /// A team master (DEVTYPE=team).
    Team,
    /// An 802.1Q VLAN (DEVTYPE=vlan).
    Vlan,
    /// The loopback device (`type` 772).
    Loopback,
    /// Anything else: tunnels, wireless, devices stacked on another without a DEVTYPE we
    /// know (macvlan, ipvlan, ...), an unreadable `type`.
    Other,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Ethernet => "ethernet",
            Kind::Ipoib => "ipoib",
            Kind::Bridge => "bridge",
            Kind::Bond => "bond",
            Kind::Team => "team",
            Kind::Vlan => "vlan",
            Kind::Loopback => "loopback",
            Kind::Other => "other",
        })
    }
}

/// `operstate` (RFC 2863).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperState {
    /// `up`.
    Up,
    /// `down`.
    Down,
    /// `dormant`.
    Dormant,
    /// `lowerlayerdown`.
    LowerLayerDown,
    /// `notpresent`.
    NotPresent,
    /// `testing`.
    Testing,
    /// `unknown` (what loopback and many virtual devices report).
    Unknown,
    /// Any other text.
    Other(String),
}

impl OperState {
    fn parse(s: &str) -> OperState {
        match s.trim() {
            "up" => OperState::Up,
            "down" => OperState::Down,
            "dormant" => OperState::Dormant,
            "lowerlayerdown" => OperState::LowerLayerDown,
            "notpresent" => OperState::NotPresent,
            "testing" => OperState::Testing,
            "unknown" => OperState::Unknown,
            other => OperState::Other(other.to_string()),
        }
    }
}

impl fmt::Display for OperState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OperState::Up => "up",
            OperState::Down => "down",
            OperState::Dormant => "dormant",
            OperState::LowerLayerDown => "lowerlayerdown",
            OperState::NotPresent => "notpresent",
            OperState::Testing => "testing",
            OperState::Unknown => "unknown",
            OperState::Other(s) => s,
        })
    }
}

/// The RDMA transport of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Native InfiniBand (the netdev is IPoIB).
    InfiniBand,
    /// RDMA over Converged Ethernet.
    RoCE,
    /// iWARP (RDMA over TCP).
    IWarp,
}

impl Transport {
    /// The port SMB Direct listens on for this transport: 445 on InfiniBand and RoCE
    /// (their port space is separate from TCP's), 5445 on iWARP (which shares TCP's).
    pub fn smb_direct_port(self) -> u16 {
        match self {
            Transport::InfiniBand | Transport::RoCE => 445,
            Transport::IWarp => 5445,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::InfiniBand => "InfiniBand",
            Transport::RoCE => "RoCE",
            Transport::IWarp => "iWARP",
        })
    }
}

/// How a netdev was tied to its RDMA port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum How {
    /// The GID in the IPoIB hardware address is in the port's GID table.
    IpoibGid,
    /// The port's GID table names the netdev (`gid_attrs/ndevs`).
    RoceGidNdev,
    /// An iWARP device sits on the netdev's PCI function.
    IWarpParent,
}

impl fmt::Display for How {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            How::IpoibGid => "port GID in the IPoIB address",
            How::RoceGidNdev => "GID table names the netdev",
            How::IWarpParent => "iWARP device on the same PCI function",
        })
    }
}

/// The RDMA verdict for one netdev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdma {
    /// SMB Direct can serve this netdev's addresses.
    Capable {
        /// The RDMA device (`mlx4_0`).
        device: String,
        /// Its port number (from 1).
        port: u32,
        /// The port's transport.
        transport: Transport,
        /// The evidence.
        how: How,
    },
    /// It cannot, and why.
    NotCapable {
        /// A sentence for the administrator.
        reason: String,
    },
}

impl Rdma {
    /// Whether FSCTL_QUERY_NETWORK_INTERFACE_INFO may set RDMA_CAPABLE.
    pub fn is_capable(&self) -> bool {
        matches!(self, Rdma::Capable { .. })
    }

    /// The SMB Direct port for a capable netdev.
    pub fn smb_direct_port(&self) -> Option<u16> {
        match self {
            Rdma::Capable { transport, .. } => Some(transport.smb_direct_port()),
            Rdma::NotCapable { .. } => None,
        }
    }
}

impl fmt::Display for Rdma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rdma::Capable {
                device,
                port,
                transport,
                how,
            } => write!(
                f,
                "RDMA-capable via {device} port {port} ({transport}, {how}); \
                 SMB Direct port {}",
                transport.smb_direct_port()
            ),
            Rdma::NotCapable { reason } => write!(f, "not RDMA-capable: {reason}"),
        }
    }
}

/// One netdev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netdev {
    /// Interface name (`ib0`).
    pub name: String,
    /// `ifindex`, if readable.
    pub ifindex: Option<u32>,
    /// What it is.
    pub kind: Kind,
    /// `operstate`, if readable.
    pub operstate: Option<OperState>,
    /// Link speed in bit/s: `speed` (Mb/s) when the driver knows it; for IPoIB without a
    /// usable `speed`, the `rate` of its active RDMA port; otherwise `None`.
    pub speed_bps: Option<u64>,
    /// The bridge/bond/team it is enslaved to (`master`).
    pub master: Option<String>,
    /// The netdevs below it (`lower_*`: bridge ports, bond slaves, a VLAN's parent).
    pub lowers: Vec<String>,
    /// The netdevs above it (`upper_*`: its bridge or bond, VLANs on it).
    pub uppers: Vec<String>,
    /// The RDMA verdict.
    pub rdma: Rdma,
}

/// Read every netdev below `<root>/class/net`, sorted by ifindex (unknown last), then
/// name.
pub fn scan(root: impl AsRef<Path>) -> Result<Vec<Netdev>, Error> {
    let root = root.as_ref();
    let dir = root.join("class/net");
    let names = match list_dir(&dir) {
        Ok(Some(n)) => n,
        Ok(None) => {
            return Err(Error::ListNetdevs {
                path: dir,
                source: std::io::ErrorKind::NotFound.into(),
            })
        }
        Err(source) => return Err(Error::ListNetdevs { path: dir, source }),
    };
    // `bonding_masters` and other plain files live here too: netdevs are directories.
    let raws: Vec<Raw> = names
        .into_iter()
        .filter(|n| dir.join(n).is_dir())
        .map(|n| Raw::read(&dir, n))
        .collect();
    let table = rdma::read_table(root);
    let own: HashMap<&str, Own> = raws
        .iter()
        .map(|r| (r.name.as_str(), own_evidence(r, &table)))
        .collect();
    let kinds: HashMap<&str, Kind> = raws.iter().map(|r| (r.name.as_str(), r.kind)).collect();
    let mut out: Vec<Netdev> = raws
        .iter()
        .map(|r| {
            let rdma = verdict(r, &table, &own, &kinds);
            let speed_bps = r.speed_bps.or_else(|| match own.get(r.name.as_str()) {
                Some(Own::Capable(c)) if r.arp_type == Some(ARPHRD_INFINIBAND) => c.rate_bps,
                _ => None,
            });
            Netdev {
                name: r.name.clone(),
                ifindex: r.ifindex,
                kind: r.kind,
                operstate: r.operstate.clone(),
                speed_bps,
                master: r.master.clone(),
                lowers: r.lowers.clone(),
                uppers: r.uppers.clone(),
                rdma,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (a.ifindex.is_none(), a.ifindex, &a.name).cmp(&(b.ifindex.is_none(), b.ifindex, &b.name))
    });
    Ok(out)
}

/// What sysfs says about one netdev, before the verdict.
struct Raw {
    name: String,
    ifindex: Option<u32>,
    arp_type: Option<u16>,
    kind: Kind,
    operstate: Option<OperState>,
    speed_bps: Option<u64>,
    /// The `address` text, or why it could not be read.
    address: Result<String, String>,
    /// The canonical path of the `device` link.
    parent: Option<PathBuf>,
    master: Option<String>,
    lowers: Vec<String>,
    uppers: Vec<String>,
}

impl Raw {
    fn read(class_net: &Path, name: String) -> Raw {
        let dir = class_net.join(&name);
        let attr = |f: &str| read_attr(&dir.join(f)).ok();
        let ifindex = attr("ifindex").and_then(|s| s.trim().parse().ok());
        let arp_type: Option<u16> = attr("type").and_then(|s| s.trim().parse().ok());
        let devtype = attr("uevent").and_then(|u| {
            u.lines()
                .find_map(|l| l.strip_prefix("DEVTYPE="))
                .map(|s| s.trim().to_string())
        });
        let entries = list_dir(&dir).ok().flatten().unwrap_or_default();
        let linked = |prefix: &str| -> Vec<String> {
            entries
                .iter()
                .filter_map(|e| e.strip_prefix(prefix).map(str::to_string))
                .collect()
        };
        let lowers = linked("lower_");
        let uppers = linked("upper_");
        let kind = if arp_type == Some(ARPHRD_LOOPBACK) {
            Kind::Loopback
        } else if dir.join("bridge").is_dir() || devtype.as_deref() == Some("bridge") {
            Kind::Bridge
        } else if dir.join("bonding").is_dir() || devtype.as_deref() == Some("bond") {
            Kind::Bond
        } else if devtype.as_deref() == Some("team") {
            Kind::Team
        } else if devtype.as_deref() == Some("vlan") {
            Kind::Vlan
        } else if arp_type == Some(ARPHRD_INFINIBAND) {
            Kind::Ipoib
        } else if arp_type == Some(ARPHRD_ETHER) && devtype.is_none() && lowers.is_empty() {
            Kind::Ethernet
        } else {
            Kind::Other
        };
        let operstate = attr("operstate").map(|s| OperState::parse(&s));
        let speed_bps = attr("speed").and_then(|s| parse::speed_mbps(&s));
        let address = read_attr(&dir.join("address"))
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("cannot read {name}/address: {e}"));
        let parent = std::fs::canonicalize(dir.join("device")).ok();
        let master = link_name(&dir.join("master"));
        Raw {
            name,
            ifindex,
            arp_type,
            kind,
            operstate,
            speed_bps,
            address,
            parent,
            master,
            lowers,
            uppers,
        }
    }
}

/// A usable match.
struct Cap {
    device: String,
    port: u32,
    transport: Transport,
    how: How,
    rate_bps: Option<u64>,
}

/// What the netdev's own sysfs entries prove, ignoring bridges and bonds above it.
enum Own {
    Capable(Cap),
    /// Tied to an RDMA port that cannot serve (not ACTIVE, unreadable, not IB/RoCE/iWARP).
    Inactive(String),
    /// Tied to no RDMA port.
    Unmatched(String),
}

struct Candidate<'a> {
    dev: &'a Device,
    port: &'a Port,
    how: How,
}

fn transport(dev: &Device, port: &Port) -> Result<Transport, String> {
    match &dev.node_type {
        Ok(NodeType::Rnic) => Ok(Transport::IWarp),
        Ok(NodeType::Ca) => match &port.link_layer {
            Ok(l) if l == "InfiniBand" => Ok(Transport::InfiniBand),
            Ok(l) if l == "Ethernet" => Ok(Transport::RoCE),
            Ok(l) => Err(format!("unknown link layer {l:?}")),
            Err(e) => Err(e.clone()),
        },
        Ok(NodeType::Other(n)) => Err(format!(
            "node type {n} is not an InfiniBand, RoCE or iWARP adapter"
        )),
        Err(e) => Err(e.clone()),
    }
}

fn ipoib_gid(raw: &Raw) -> Result<[u8; 16], String> {
    let text = raw.address.as_ref().map_err(Clone::clone)?;
    let bytes = parse::hw_addr(text)
        .ok_or_else(|| format!("IPoIB hardware address {text:?} is not colon-separated hex"))?;
    let gid: [u8; 16] = match bytes.get(4..20) {
        Some(g) if bytes.len() == 20 => g
            .try_into()
            .map_err(|_| "IPoIB hardware address is malformed".to_string())?,
        _ => {
            return Err(format!(
                "IPoIB hardware address is {} bytes, expected 20 (4-byte QPN + 16-byte port GID)",
                bytes.len()
            ))
        }
    };
    if gid == [0u8; 16] {
        return Err("IPoIB hardware address carries an all-zero GID".to_string());
    }
    Ok(gid)
}

fn with_problems(mut reason: String, problems: &[String]) -> String {
    if !problems.is_empty() {
        reason.push_str(&format!(" (unreadable: {})", problems.join("; ")));
    }
    reason
}

fn own_evidence(raw: &Raw, table: &Table) -> Own {
    let (devices, problems) = match table {
        Table::Absent => return Own::Unmatched("no RDMA device on this host".to_string()),
        Table::Unreadable(e) => return Own::Unmatched(e.clone()),
        Table::Devices { devices, problems } => (devices, problems),
    };
    let mut cands: Vec<Candidate<'_>> = Vec::new();
    let unmatched = if raw.arp_type == Some(ARPHRD_INFINIBAND) {
        let gid = match ipoib_gid(raw) {
            Ok(g) => g,
            Err(reason) => return Own::Unmatched(reason),
        };
        let mut checked = Vec::new();
        let mut bad = 0usize;
        for dev in devices {
            for port in &dev.ports {
                if !port.is_infiniband() {
                    continue;
                }
                checked.push(format!("{} port {}", dev.name, port.num));
                bad += port.bad_gids;
                if port.gids.contains(&gid) {
                    cands.push(Candidate {
                        dev,
                        port,
                        how: How::IpoibGid,
                    });
                }
            }
        }
        let gid = GidText(&gid);
        let mut r = if checked.is_empty() {
            format!("IPoIB GID {gid}, but this host has no InfiniBand port")
        } else {
            format!(
                "IPoIB GID {gid} is in no port's GID table (checked {})",
                checked.join(", ")
            )
        };
        if bad > 0 {
            r.push_str(&format!("; {bad} GID entries unreadable or malformed"));
        }
        with_problems(r, problems)
    } else {
        for dev in devices.iter().filter(|d| !d.is_iwarp()) {
            for port in &dev.ports {
                if !port.is_infiniband() && port.ndevs.contains(&raw.name) {
                    cands.push(Candidate {
                        dev,
                        port,
                        how: How::RoceGidNdev,
                    });
                }
            }
        }
        let mut notes = Vec::new();
        if let Some(parent) = &raw.parent {
            for dev in devices.iter().filter(|d| d.is_iwarp()) {
                if dev.parent.as_ref() != Some(parent) {
                    continue;
                }
                match iwarp_port(dev, raw) {
                    Ok(port) => cands.push(Candidate {
                        dev,
                        port,
                        how: How::IWarpParent,
                    }),
                    Err(n) => notes.push(n),
                }
            }
        }
        let names: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
        let mut r = format!(
            "no RDMA port lists {} in its GID table and no iWARP device shares its PCI function \
             (RDMA devices: {})",
            raw.name,
            names.join(", ")
        );
        for n in notes {
            r.push_str("; ");
            r.push_str(&n);
        }
        with_problems(r, problems)
    };
    if cands.is_empty() {
        return Own::Unmatched(unmatched);
    }
    resolve(&cands)
}

/// The port of a multi-port iWARP device that carries `raw`: by GID netdev, else by the
/// MAC-based GID iWARP drivers publish.
fn iwarp_port<'a>(dev: &'a Device, raw: &Raw) -> Result<&'a Port, String> {
    if let [only] = dev.ports.as_slice() {
        return Ok(only);
    }
    if let Some(p) = dev.ports.iter().find(|p| p.ndevs.contains(&raw.name)) {
        return Ok(p);
    }
    let mac = raw
        .address
        .as_ref()
        .ok()
        .and_then(|a| parse::hw_addr(a))
        .filter(|m| m.len() == 6);
    if let Some(mac) = mac {
        if let Some(p) = dev
            .ports
            .iter()
            .find(|p| p.gids.iter().any(|g| g.get(..6) == Some(mac.as_slice())))
        {
            return Ok(p);
        }
    }
    Err(format!(
        "iWARP device {} shares its PCI function but none of its {} ports names {}",
        dev.name,
        dev.ports.len(),
        raw.name
    ))
}

fn resolve(cands: &[Candidate<'_>]) -> Own {
    let mut reasons: Vec<String> = Vec::new();
    for c in cands {
        let at = format!("{} port {} ({})", c.dev.name, c.port.num, c.how);
        let t = match transport(c.dev, c.port) {
            Ok(t) => t,
            Err(e) => {
                reasons.push(format!("matched {at}, but {e}"));
                continue;
            }
        };
        match &c.port.state {
            Ok(PortState::Active) => {
                return Own::Capable(Cap {
                    device: c.dev.name.clone(),
                    port: c.port.num,
                    transport: t,
                    how: c.how,
                    rate_bps: c.port.rate_bps,
                })
            }
            Ok(s) => {
                let hint = match (s, t) {
                    (PortState::Init | PortState::Armed, Transport::InfiniBand) => {
                        " (no subnet manager has activated it: run opensm on one node)"
                    }
                    (PortState::Down, _) => " (no link)",
                    _ => "",
                };
                reasons.push(format!("matched {at}, but the port is {s}{hint}"));
            }
            Err(e) => reasons.push(format!("matched {at}, but {e}")),
        }
    }
    let mut seen = Vec::new();
    reasons.retain(|r| {
        let new = !seen.contains(r);
        if new {
            seen.push(r.clone());
        }
        new
    });
    Own::Inactive(reasons.join("; "))
}

fn capable_desc(own: Option<&Own>) -> Option<String> {
    match own {
        Some(Own::Capable(c)) => Some(format!("{} port {}", c.device, c.port)),
        _ => None,
    }
}

fn verdict(
    raw: &Raw,
    table: &Table,
    own: &HashMap<&str, Own>,
    kinds: &HashMap<&str, Kind>,
) -> Rdma {
    let not = |reason: String| Rdma::NotCapable { reason };
    if raw.kind == Kind::Loopback {
        return not("loopback interface".to_string());
    }
    match table {
        Table::Absent => return not("no RDMA device on this host".to_string()),
        Table::Unreadable(e) => return not(e.clone()),
        Table::Devices { .. } => {}
    }
    let mine = own.get(raw.name.as_str());
    if let Some(m) = &raw.master {
        let what = match kinds.get(m.as_str()) {
            Some(Kind::Bridge) => "bridge ",
            Some(Kind::Bond) => "bond ",
            Some(Kind::Team) => "team ",
            _ => "",
        };
        let mut r = format!("enslaved to {what}{m}; clients use {m}'s addresses");
        if let Some(c) = capable_desc(mine) {
            r.push_str(&format!(" ({} itself is RDMA-capable via {c})", raw.name));
        }
        return not(r);
    }
    let unmatched = match mine {
        Some(Own::Capable(c)) => {
            return Rdma::Capable {
                device: c.device.clone(),
                port: c.port,
                transport: c.transport,
                how: c.how,
            }
        }
        Some(Own::Inactive(r)) => return not(r.clone()),
        Some(Own::Unmatched(r)) => r.clone(),
        None => "not scanned".to_string(),
    };
    let capable_lowers: Vec<String> = raw
        .lowers
        .iter()
        .filter_map(|l| capable_desc(own.get(l.as_str())).map(|c| format!("{l} via {c}")))
        .collect();
    let lowers = if raw.lowers.is_empty() {
        "no ports".to_string()
    } else {
        raw.lowers.join(", ")
    };
    match raw.kind {
        Kind::Bridge if !capable_lowers.is_empty() => not(format!(
            "bridge over RDMA-capable {}: RDMA does not pass through a Linux bridge; \
             put the address on the port itself",
            capable_lowers.join(", ")
        )),
        Kind::Bridge => not(format!("bridge with no RDMA-capable port ({lowers})")),
        Kind::Bond | Kind::Team if !capable_lowers.is_empty() => not(format!(
            "{} over RDMA ports ({}) is not RDMA-capable for SMB Direct: no RDMA port lists {} \
             in its GID table; give each port its own address (SMB multichannel uses them \
             together)",
            raw.kind,
            capable_lowers.join(", "),
            raw.name
        )),
        Kind::Bond | Kind::Team => not(format!(
            "{} with no RDMA-capable slave ({lowers})",
            raw.kind
        )),
        Kind::Vlan => match raw.lowers.first() {
            None => not(format!("vlan with no lower device; {unmatched}")),
            Some(l) if kinds.get(l.as_str()) == Some(&Kind::Ipoib) => not(format!(
                "vlan on {l} (IPoIB): 802.1Q VLANs do not run over InfiniBand; \
                 use a P_Key child of {l} instead"
            )),
            Some(l) => match capable_desc(own.get(l.as_str())) {
                Some(c) => not(format!(
                    "vlan on {l}: {l} is RDMA-capable via {c}, but no RDMA port lists {} \
                     in its GID table",
                    raw.name
                )),
                None => not(format!("vlan on {l}, which is not RDMA-capable")),
            },
        },
        Kind::Other if !capable_lowers.is_empty() => not(format!(
            "stacked on RDMA-capable {}, but no RDMA port lists {} in its GID table",
            capable_lowers.join(", "),
            raw.name
        )),
        _ => not(unmatched),
    }
}
