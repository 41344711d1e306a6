//! The network interfaces reported by FSCTL_QUERY_NETWORK_INTERFACE_INFO: every interface
//! that is up with an address, its index and link speed from sysfs.

use std::net::{IpAddr, SocketAddr};

use smb_wire::fsctl::NetworkInterfaceInfo;

const RSS_CAPABLE: u32 = 0x1;

/// Link speed in bit/s from `/sys/class/net/<if>/speed` (Mb/s); unknown → 1 Gb/s.
fn link_speed(name: &str) -> u64 {
    std::fs::read_to_string(format!("/sys/class/net/{name}/speed"))
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|v| *v > 0)
        .map(|mbps| mbps as u64 * 1_000_000)
        .unwrap_or(1_000_000_000)
}

/// Interfaces with their addresses. Loopback is listed only when nothing else is (so a
/// client on the same machine still gets a true answer).
pub(crate) fn interfaces() -> Vec<NetworkInterfaceInfo> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut lo = Vec::new();
    for a in addrs {
        let Some(addr) = a.address else { continue };
        let ip: IpAddr = if let Some(v4) = addr.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        let flags = a.flags;
        if !flags.contains(nix::net::if_::InterfaceFlags::IFF_UP) {
            continue;
        }
        let index = nix::net::if_::if_nametoindex(a.interface_name.as_str()).unwrap_or(0);
        let info = NetworkInterfaceInfo {
            if_index: index,
            capability: RSS_CAPABLE,
            link_speed: link_speed(&a.interface_name),
            addr: SocketAddr::new(ip, 0),
        };
        if flags.contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK) {
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
