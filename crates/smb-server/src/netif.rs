//! The network interfaces reported by FSCTL_QUERY_NETWORK_INTERFACE_INFO: every address of
//! every interface that is up (getifaddrs), with the index, link speed and RDMA verdict
//! nas-netif reads from sysfs. RDMA_CAPABLE is set exactly when nas-netif says `Capable`
//! and this server is serving SMB Direct; that is what makes a Windows client open SMB
//! Direct channels (advertised without a listener, it would try and fall back).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nas_netif::Netdev;
use smb_wire::fsctl::{NetworkInterfaceInfo, RDMA_CAPABLE, RSS_CAPABLE};

/// What we advertise when sysfs knows no speed: clients need a number to rank interfaces.
const UNKNOWN_LINK_SPEED: u64 = 1_000_000_000;
/// How long one sysfs scan is reused (clients ask every few minutes per session; several
/// sessions at once need not rescan).
const SCAN_TTL: Duration = Duration::from_secs(5);

type Scan = Arc<Vec<Netdev>>;
static CACHE: Mutex<Option<(Instant, Scan)>> = Mutex::new(None);

/// The netdevs of this host as nas-netif sees them, rescanned at most every [`SCAN_TTL`].
/// A failed scan (no `/sys/class/net`) gives an empty list: no RDMA claimed, speeds unknown.
fn netdevs() -> Scan {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((at, scan)) = cache.as_ref() {
        if at.elapsed() < SCAN_TTL {
            return scan.clone();
        }
    }
    let scan: Scan = Arc::new(match nas_netif::scan(nas_netif::DEFAULT_ROOT) {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read network interfaces from sysfs");
            Vec::new()
        }
    });
    *cache = Some((Instant::now(), scan.clone()));
    scan
}

/// One address as getifaddrs reports it.
struct Addr {
    /// The interface name, possibly with an IPv4 label (`eth0:1`).
    name: String,
    ip: IpAddr,
    loopback: bool,
}

/// Interfaces with their addresses. Loopback is listed only when nothing else is (so a
/// client on the same machine still gets a true answer).
pub(crate) fn interfaces(smb_direct: bool) -> Vec<NetworkInterfaceInfo> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut list = Vec::new();
    for a in addrs {
        let Some(addr) = a.address else { continue };
        let ip: IpAddr = if let Some(v4) = addr.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        if !a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP) {
            continue;
        }
        list.push(Addr {
            name: a.interface_name,
            ip,
            loopback: a
                .flags
                .contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK),
        });
    }
    build(&list, &netdevs(), smb_direct)
}

/// The entries for `addrs`, each interface looked up in `netdevs` by name; RDMA_CAPABLE
/// only with `smb_direct` (SMB Direct is being served). MS-SMB2 3.3.5.15.11: an interface
/// without an index (0) is not listed.
fn build(addrs: &[Addr], netdevs: &[Netdev], smb_direct: bool) -> Vec<NetworkInterfaceInfo> {
    let mut out = Vec::new();
    let mut lo = Vec::new();
    for a in addrs {
        // An IPv4 label (`eth0:1`) belongs to its netdev.
        let dev = a.name.split(':').next().unwrap_or(&a.name);
        let nd = netdevs.iter().find(|n| n.name == dev);
        let if_index = nd
            .and_then(|n| n.ifindex)
            .or_else(|| nix::net::if_::if_nametoindex(dev).ok())
            .unwrap_or(0);
        if if_index == 0 {
            continue;
        }
        let mut capability = RSS_CAPABLE;
        if smb_direct && nd.is_some_and(|n| n.rdma.is_capable()) {
            capability |= RDMA_CAPABLE;
        }
        let info = NetworkInterfaceInfo {
            if_index,
            capability,
            link_speed: nd.and_then(|n| n.speed_bps).unwrap_or(UNKNOWN_LINK_SPEED),
            addr: SocketAddr::new(a.ip, 0),
        };
        if a.loopback {
            lo.push(info);
        } else {
            out.push(info);
        }
    }
    if out.is_empty() {
        out = lo;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nas_netif::{How, Kind, Rdma, Transport};

    fn nd(name: &str, ifindex: u32, speed: Option<u64>, rdma: Rdma) -> Netdev {
        Netdev {
            name: name.into(),
            ifindex: Some(ifindex),
            kind: Kind::Ethernet,
            operstate: None,
            speed_bps: speed,
            master: None,
            lowers: Vec::new(),
            uppers: Vec::new(),
            rdma,
        }
    }

    fn addr(name: &str, ip: &str, loopback: bool) -> Addr {
        Addr {
            name: name.into(),
            ip: ip.parse().unwrap(),
            loopback,
        }
    }

    #[test]
    fn rdma_capable_exactly_when_nas_netif_says_so() {
        let netdevs = [
            nd(
                "ib0",
                5,
                Some(56_000_000_000),
                Rdma::Capable {
                    device: "mlx4_0".into(),
                    port: 1,
                    transport: Transport::InfiniBand,
                    how: How::IpoibGid,
                },
            ),
            nd(
                "eth0",
                2,
                None,
                Rdma::NotCapable {
                    reason: "no RDMA device on this host".into(),
                },
            ),
        ];
        let addrs = [
            addr("ib0", "10.0.0.1", false),
            addr("ib0", "fe80::202:c903:f1:8a41", false),
            addr("eth0", "192.168.1.2", false),
            addr("eth0:1", "192.168.1.3", false),
            addr("lo", "127.0.0.1", true),
        ];
        let got = |smb_direct| -> Vec<(u32, u32, u64)> {
            build(&addrs, &netdevs, smb_direct)
                .iter()
                .map(|i| (i.if_index, i.capability, i.link_speed))
                .collect()
        };
        assert_eq!(
            got(true),
            [
                (5, RSS_CAPABLE | RDMA_CAPABLE, 56_000_000_000),
                (5, RSS_CAPABLE | RDMA_CAPABLE, 56_000_000_000),
                (2, RSS_CAPABLE, UNKNOWN_LINK_SPEED),
                (2, RSS_CAPABLE, UNKNOWN_LINK_SPEED),
            ]
        );
        // SMB Direct off (setting, or no listener): nothing is RDMA_CAPABLE.
        assert_eq!(
            got(false),
            [
                (5, RSS_CAPABLE, 56_000_000_000),
                (5, RSS_CAPABLE, 56_000_000_000),
                (2, RSS_CAPABLE, UNKNOWN_LINK_SPEED),
                (2, RSS_CAPABLE, UNKNOWN_LINK_SPEED),
            ]
        );
    }

    #[test]
    fn loopback_only_when_alone() {
        let lo = nd(
            "lo",
            1,
            None,
            Rdma::NotCapable {
                reason: "loopback interface".into(),
            },
        );
        let list = build(&[addr("lo", "127.0.0.1", true)], &[lo], true);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].capability, RSS_CAPABLE);
    }
}
