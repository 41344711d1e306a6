//! Parsers for the text of single sysfs attributes. Each takes the file's content and
//! returns `None` for anything it does not recognise; none of them panics.

use std::fmt;

/// A colon-separated hex hardware address (`/sys/class/net/<if>/address`), e.g.
/// `02:fc:00:00:00:01` or the 20 bytes of an IPoIB address. Every byte must be exactly two
/// hex digits.
pub(crate) fn hw_addr(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    s.split(':')
        .map(|b| {
            if b.len() == 2 {
                u8::from_str_radix(b, 16).ok()
            } else {
                None
            }
        })
        .collect()
}

/// A GID as the kernel prints it in `ports/<n>/gids/<i>`: eight groups of four hex digits
/// (`fe80:0000:0000:0000:0002:c903:00f1:8a41`). Shorter groups are accepted; `::`
/// compression is not (the kernel never writes it).
pub(crate) fn gid(s: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut groups = s.trim().split(':');
    for pair in out.chunks_exact_mut(2) {
        let g = groups.next()?;
        if g.is_empty() || g.len() > 4 {
            return None;
        }
        let v = u16::from_str_radix(g, 16).ok()?;
        pair.copy_from_slice(&v.to_be_bytes());
    }
    if groups.next().is_some() {
        return None;
    }
    Some(out)
}

/// A GID in the kernel's notation, for messages.
pub(crate) struct GidText<'a>(pub(crate) &'a [u8; 16]);

impl fmt::Display for GidText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, pair) in self.0.chunks_exact(2).enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            for b in pair {
                write!(f, "{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// `/sys/class/net/<if>/speed` (Mb/s) in bit/s. The kernel writes -1 (or fails the read)
/// when the speed is unknown; zero, negative and the 32-bit "unknown" marker are refused.
pub(crate) fn speed_mbps(s: &str) -> Option<u64> {
    let v: i64 = s.trim().parse().ok()?;
    if v <= 0 || v == i64::from(u32::MAX) {
        return None;
    }
    u64::try_from(v).ok()?.checked_mul(1_000_000)
}

/// `ports/<n>/rate`, e.g. `56 Gb/sec (4X FDR)` or `2.5 Gb/sec (1X SDR)`, in bit/s.
pub(crate) fn rate(s: &str) -> Option<u64> {
    let mut words = s.split_whitespace();
    let number = words.next()?;
    let unit = words.next()?;
    let scale: u64 = match unit {
        "Gb/sec" => 1_000_000_000,
        "Mb/sec" => 1_000_000,
        _ => return None,
    };
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut bits = int.parse::<u64>().ok()?.checked_mul(scale)?;
    let mut unit_frac = scale;
    for d in frac.bytes() {
        unit_frac /= 10;
        bits = bits.checked_add(u64::from(d - b'0').checked_mul(unit_frac)?)?;
    }
    if bits == 0 {
        None
    } else {
        Some(bits)
    }
}

/// The state of an RDMA port (`ports/<n>/state`, e.g. `4: ACTIVE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortState {
    /// 0: NOP.
    Nop,
    /// 1: DOWN (no link).
    Down,
    /// 2: INIT (link up, not configured by a subnet manager).
    Init,
    /// 3: ARMED.
    Armed,
    /// 4: ACTIVE: the only state in which the port carries traffic.
    Active,
    /// 5: ACTIVE_DEFER.
    ActiveDefer,
    /// Any other number.
    Other(u32),
}

impl PortState {
    pub(crate) fn parse(s: &str) -> Option<PortState> {
        let (num, _name) = s.trim().split_once(':')?;
        Some(match num.trim().parse::<u32>().ok()? {
            0 => PortState::Nop,
            1 => PortState::Down,
            2 => PortState::Init,
            3 => PortState::Armed,
            4 => PortState::Active,
            5 => PortState::ActiveDefer,
            n => PortState::Other(n),
        })
    }
}

impl fmt::Display for PortState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortState::Nop => f.write_str("NOP"),
            PortState::Down => f.write_str("DOWN"),
            PortState::Init => f.write_str("INIT"),
            PortState::Armed => f.write_str("ARMED"),
            PortState::Active => f.write_str("ACTIVE"),
            PortState::ActiveDefer => f.write_str("ACTIVE_DEFER"),
            PortState::Other(n) => write!(f, "state {n}"),
        }
    }
}

/// `node_type` of an RDMA device (`1: CA`, `4: RNIC`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeType {
    /// 1: a channel adapter (InfiniBand or RoCE).
    Ca,
    /// 4: an RDMA NIC (iWARP).
    Rnic,
    /// Switches, routers, usNIC and the rest: not an SMB Direct endpoint.
    Other(u32),
}

impl NodeType {
    pub(crate) fn parse(s: &str) -> Option<NodeType> {
        let s = s.trim();
        let num = s.split_once(':').map_or(s, |(n, _)| n);
        Some(match num.trim().parse::<u32>().ok()? {
            1 => NodeType::Ca,
            4 => NodeType::Rnic,
            n => NodeType::Other(n),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hw_addr_forms() {
        assert_eq!(
            hw_addr("02:fc:00:00:00:01\n"),
            Some(vec![2, 0xfc, 0, 0, 0, 1])
        );
        assert_eq!(hw_addr(""), None);
        assert_eq!(hw_addr("2:fc"), None);
        assert_eq!(hw_addr("02:fc:"), None);
        assert_eq!(hw_addr("zz:00"), None);
        let ib = hw_addr("80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:f1:8a:41").unwrap();
        assert_eq!(ib.len(), 20);
    }

    #[test]
    fn gid_forms() {
        let g = gid("fe80:0000:0000:0000:0002:c903:00f1:8a41\n").unwrap();
        assert_eq!(g[0], 0xfe);
        assert_eq!(g[15], 0x41);
        assert_eq!(
            GidText(&g).to_string(),
            "fe80:0000:0000:0000:0002:c903:00f1:8a41"
        );
        assert_eq!(gid("fe80::2:c903:f1:8a41"), None);
        assert_eq!(gid("fe80:0:0:0:2:c903:f1"), None);
        assert_eq!(gid("fe80:0:0:0:2:c903:f1:8a41:1"), None);
        assert_eq!(gid("fe80:0:0:0:2:c903:f1:8a41x"), None);
        assert_eq!(gid("fe80:0:0:0:2:c903:f1:18a41"), None);
        assert_eq!(gid("garbage"), None);
        assert_eq!(gid(""), None);
    }

    #[test]
    fn speeds() {
        assert_eq!(speed_mbps("10000\n"), Some(10_000_000_000));
        assert_eq!(speed_mbps("-1\n"), None);
        assert_eq!(speed_mbps("0"), None);
        assert_eq!(speed_mbps("4294967295"), None);
        assert_eq!(speed_mbps("fast"), None);
    }

    #[test]
    fn rates() {
        assert_eq!(rate("56 Gb/sec (4X FDR)\n"), Some(56_000_000_000));
        assert_eq!(rate("40 Gb/sec (4X QDR)"), Some(40_000_000_000));
        assert_eq!(rate("2.5 Gb/sec (1X SDR)"), Some(2_500_000_000));
        assert_eq!(rate("13.64 Gb/sec (1X FDR)"), Some(13_640_000_000));
        assert_eq!(rate("100 Mb/sec"), Some(100_000_000));
        assert_eq!(rate("0 Gb/sec"), None);
        assert_eq!(rate("Gb/sec"), None);
        assert_eq!(rate("56"), None);
        assert_eq!(rate("-5 Gb/sec"), None);
        assert_eq!(rate("5. Gb/sec"), Some(5_000_000_000));
        assert_eq!(rate("99999999999999999999 Gb/sec"), None);
        assert_eq!(rate("1.0000000001 Gb/sec"), None);
    }

    #[test]
    fn states_and_node_types() {
        assert_eq!(PortState::parse("4: ACTIVE\n"), Some(PortState::Active));
        assert_eq!(PortState::parse("1: DOWN"), Some(PortState::Down));
        assert_eq!(PortState::parse("2: INIT"), Some(PortState::Init));
        assert_eq!(PortState::parse("9: WHAT"), Some(PortState::Other(9)));
        assert_eq!(PortState::parse("ACTIVE"), None);
        assert_eq!(NodeType::parse("1: CA\n"), Some(NodeType::Ca));
        assert_eq!(NodeType::parse("4: RNIC"), Some(NodeType::Rnic));
        assert_eq!(NodeType::parse("6: usNIC UDP"), Some(NodeType::Other(6)));
        assert_eq!(NodeType::parse("CA"), None);
    }
}
