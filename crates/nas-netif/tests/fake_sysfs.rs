//! The RDMA verdict against fake sysfs trees laid out as the kernel lays them out:
//! `devices/<pci path>/net/<if>` and `devices/<pci path>/infiniband/<dev>`, reached through
//! `class/net` and `class/infiniband` symlinks, with relative `device`, `master`, `lower_*`
//! and `upper_*` links. Each test names the verdict and reason it expects.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use nas_netif::{scan, Error, How, Kind, Netdev, OperState, Rdma, Transport};

/// A fake `/sys` in a temporary directory.
struct Tree {
    dir: tempfile::TempDir,
    /// netdev or RDMA device name -> its real directory, relative to the root.
    real: RefCell<HashMap<String, String>>,
}

/// `../` enough times to climb from `from_dir` (relative to the root) to the root.
fn up(from_dir: &str) -> String {
    "../".repeat(from_dir.split('/').count())
}

impl Tree {
    fn new() -> Tree {
        let t = Tree {
            dir: tempfile::tempdir().unwrap(),
            real: RefCell::new(HashMap::new()),
        };
        t.mkdir("class/net");
        t
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn mkdir(&self, rel: &str) {
        std::fs::create_dir_all(self.root().join(rel)).unwrap();
    }

    /// Write a file (creating its directory).
    fn file(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// A symlink at `rel` with the literal (usually relative) `target`.
    fn link(&self, rel: &str, target: &str) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
    }

    fn real(&self, name: &str) -> String {
        self.real.borrow().get(name).unwrap().clone()
    }

    /// A netdev under `devices/<devpath>/net/<name>` (`devpath` "virtual" for software
    /// devices, else a PCI path whose last component is the function the `device` link
    /// points to), with `class/net/<name>` pointing at it and the given attributes.
    fn netdev(&self, devpath: &str, name: &str, ifindex: u32, attrs: &[(&str, &str)]) {
        let real = format!("devices/{devpath}/net/{name}");
        self.mkdir(&real);
        self.link(&format!("class/net/{name}"), &format!("../../{real}"));
        if devpath != "virtual" {
            let func = devpath.rsplit('/').next().unwrap();
            self.link(&format!("{real}/device"), &format!("../../../{func}"));
        }
        self.file(&format!("{real}/ifindex"), format!("{ifindex}\n"));
        self.file(
            &format!("{real}/uevent"),
            format!("INTERFACE={name}\nIFINDEX={ifindex}\n"),
        );
        for (k, v) in attrs {
            self.file(&format!("{real}/{k}"), format!("{v}\n"));
        }
        self.real.borrow_mut().insert(name.to_string(), real);
    }

    /// An Ethernet netdev, up, with the given MAC and speed (Mb/s).
    fn eth(&self, devpath: &str, name: &str, ifindex: u32, mac: &str, speed: &str) {
        self.netdev(
            devpath,
            name,
            ifindex,
            &[
                ("type", "1"),
                ("address", mac),
                ("operstate", "up"),
                ("speed", speed),
            ],
        );
    }

    /// Add `DEVTYPE=` to a netdev's uevent.
    fn devtype(&self, name: &str, devtype: &str) {
        let real = self.real(name);
        let p = self.root().join(format!("{real}/uevent"));
        let mut u = std::fs::read_to_string(&p).unwrap();
        u.push_str(&format!("DEVTYPE={devtype}\n"));
        std::fs::write(p, u).unwrap();
    }

    /// `lower` becomes a slave/port of `upper`: `master` (if `enslave`), `upper_*` and
    /// `lower_*` links, as the kernel makes them.
    fn stack(&self, upper: &str, lower: &str, enslave: bool) {
        let (ru, rl) = (self.real(upper), self.real(lower));
        let to_upper = format!("{}{ru}", up(&rl));
        let to_lower = format!("{}{rl}", up(&ru));
        if enslave {
            self.link(&format!("{rl}/master"), &to_upper);
        }
        self.link(&format!("{rl}/upper_{upper}"), &to_upper);
        self.link(&format!("{ru}/lower_{lower}"), &to_lower);
    }

    /// An RDMA device under `devices/<devpath>/infiniband/<name>` (with a `device` link
    /// unless `devpath` is "virtual").
    fn ibdev(&self, devpath: &str, name: &str, node_type: &str) {
        let real = format!("devices/{devpath}/infiniband/{name}");
        self.mkdir(&format!("{real}/ports"));
        self.link(
            &format!("class/infiniband/{name}"),
            &format!("../../{real}"),
        );
        if devpath != "virtual" {
            let func = devpath.rsplit('/').next().unwrap();
            self.link(&format!("{real}/device"), &format!("../../../{func}"));
        }
        self.file(&format!("{real}/node_type"), format!("{node_type}\n"));
        self.real.borrow_mut().insert(name.to_string(), real);
    }

    fn port(&self, dev: &str, n: u32, state: &str, link_layer: &str, rate: &str) {
        let p = format!("class/infiniband/{dev}/ports/{n}");
        self.file(&format!("{p}/state"), format!("{state}\n"));
        self.file(&format!("{p}/link_layer"), format!("{link_layer}\n"));
        self.file(&format!("{p}/rate"), format!("{rate}\n"));
        self.mkdir(&format!("{p}/gids"));
    }

    fn gid(&self, dev: &str, port: u32, idx: u32, text: &str) {
        self.file(
            &format!("class/infiniband/{dev}/ports/{port}/gids/{idx}"),
            format!("{text}\n"),
        );
    }

    fn ndev(&self, dev: &str, port: u32, idx: u32, netdev: &str) {
        self.file(
            &format!("class/infiniband/{dev}/ports/{port}/gid_attrs/ndevs/{idx}"),
            format!("{netdev}\n"),
        );
    }

    fn scan(&self) -> Vec<Netdev> {
        scan(self.root()).unwrap()
    }
}

fn find<'a>(list: &'a [Netdev], name: &str) -> &'a Netdev {
    list.iter()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("{name} not scanned: {list:#?}"))
}

fn reason(n: &Netdev) -> &str {
    match &n.rdma {
        Rdma::NotCapable { reason } => reason,
        Rdma::Capable { .. } => panic!("{} is capable, expected not: {n:#?}", n.name),
    }
}

fn capable(device: &str, port: u32, transport: Transport, how: How) -> Rdma {
    Rdma::Capable {
        device: device.to_string(),
        port,
        transport,
        how,
    }
}

const ZERO_GID: &str = "0000:0000:0000:0000:0000:0000:0000:0000";
const MLX4_PCI: &str = "pci0000:00/0000:00:03.0/0000:09:00.0";
const MLX5_PCI: &str = "pci0000:40/0000:40:01.1/0000:41:00.0";

/// A ConnectX-3 VPI card in InfiniBand mode: `mlx4_0` with port 1 ACTIVE at FDR and
/// port 2 DOWN; IPoIB netdevs `ib0` (port 1) and `ibp9s0` (port 2), whose `device` links
/// both lead to the same PCI function (so only the GID tells the ports apart). The IPoIB
/// drivers report no usable `speed`.
fn connectx3(t: &Tree) {
    t.ibdev(MLX4_PCI, "mlx4_0", "1: CA");
    t.port("mlx4_0", 1, "4: ACTIVE", "InfiniBand", "56 Gb/sec (4X FDR)");
    t.port("mlx4_0", 2, "1: DOWN", "InfiniBand", "10 Gb/sec (4X SDR)");
    t.gid("mlx4_0", 1, 0, "fe80:0000:0000:0000:0002:c903:00f1:8a41");
    t.gid("mlx4_0", 2, 0, "fe80:0000:0000:0000:0002:c903:00f1:8a42");
    for i in 1..4 {
        t.gid("mlx4_0", 1, i, ZERO_GID);
        t.gid("mlx4_0", 2, i, ZERO_GID);
    }
    // IB ports have gid_attrs too; their ndevs are never consulted.
    t.mkdir("class/infiniband/mlx4_0/ports/1/gid_attrs/ndevs");
    t.netdev(
        MLX4_PCI,
        "ib0",
        5,
        &[
            ("type", "32"),
            (
                "address",
                "80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:f1:8a:41",
            ),
            ("operstate", "up"),
            ("speed", "-1"),
        ],
    );
    t.netdev(
        MLX4_PCI,
        "ibp9s0",
        6,
        &[
            ("type", "32"),
            (
                "address",
                "80:00:02:09:fe:80:00:00:00:00:00:00:00:02:c9:03:00:f1:8a:42",
            ),
            ("operstate", "down"),
        ],
    );
}

/// ConnectX-3 in IB mode. ib0: Capable via mlx4_0 port 1, InfiniBand, matched by the
/// IPoIB GID, SMB Direct on 445, link speed from the port rate (56 Gb/s) because `speed`
/// is -1. ibp9s0: NotCapable, "matched mlx4_0 port 2 ..., but the port is DOWN".
#[test]
fn connectx3_ib_mode() {
    let t = Tree::new();
    connectx3(&t);
    let list = t.scan();
    let ib0 = find(&list, "ib0");
    assert_eq!(ib0.kind, Kind::Ipoib);
    assert_eq!(ib0.ifindex, Some(5));
    assert_eq!(ib0.operstate, Some(OperState::Up));
    assert_eq!(
        ib0.rdma,
        capable("mlx4_0", 1, Transport::InfiniBand, How::IpoibGid)
    );
    assert_eq!(ib0.rdma.smb_direct_port(), Some(445));
    assert_eq!(ib0.speed_bps, Some(56_000_000_000));

    let ibp = find(&list, "ibp9s0");
    assert_eq!(ibp.kind, Kind::Ipoib);
    assert_eq!(
        reason(ibp),
        "matched mlx4_0 port 2 (port GID in the IPoIB address), but the port is DOWN (no link)"
    );
    assert_eq!(ibp.speed_bps, None, "a DOWN port's rate is no link speed");
    // Sorted by ifindex.
    let names: Vec<&str> = list.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["ib0", "ibp9s0"]);
}

/// A real `speed` wins over the port rate.
#[test]
fn ipoib_speed_file_wins_when_sane() {
    let t = Tree::new();
    connectx3(&t);
    t.file(&format!("{}/speed", t.real("ib0")), "40000\n");
    assert_eq!(find(&t.scan(), "ib0").speed_bps, Some(40_000_000_000));
}

/// Port INIT (cabled back to back, no subnet manager): NotCapable, and the reason says
/// to run opensm.
#[test]
fn ib_port_init_without_subnet_manager() {
    let t = Tree::new();
    connectx3(&t);
    t.file("class/infiniband/mlx4_0/ports/1/state", "2: INIT\n");
    let list = t.scan();
    assert_eq!(
        reason(find(&list, "ib0")),
        "matched mlx4_0 port 1 (port GID in the IPoIB address), but the port is INIT \
         (no subnet manager has activated it: run opensm on one node)"
    );
}

/// A P_Key child (`ib0.8001`) carries its parent port's GID: Capable via mlx4_0 port 1.
/// A VLAN on ib0 (which the kernel refuses to create, but a tree can claim): NotCapable,
/// "vlan on ib0 (IPoIB): 802.1Q VLANs do not run over InfiniBand ...".
#[test]
fn pkey_child_and_vlan_over_ipoib() {
    let t = Tree::new();
    connectx3(&t);
    t.netdev(
        MLX4_PCI,
        "ib0.8001",
        7,
        &[
            ("type", "32"),
            (
                "address",
                "80:00:04:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:f1:8a:41",
            ),
            ("operstate", "up"),
        ],
    );
    t.netdev(
        "virtual",
        "ib0.100",
        8,
        &[
            ("type", "1"),
            ("address", "02:c9:03:f1:8a:41"),
            ("operstate", "up"),
        ],
    );
    t.devtype("ib0.100", "vlan");
    t.stack("ib0.100", "ib0", false);
    let list = t.scan();
    assert_eq!(
        find(&list, "ib0.8001").rdma,
        capable("mlx4_0", 1, Transport::InfiniBand, How::IpoibGid)
    );
    let vlan = find(&list, "ib0.100");
    assert_eq!(vlan.kind, Kind::Vlan);
    assert_eq!(vlan.lowers, ["ib0"]);
    assert_eq!(
        reason(vlan),
        "vlan on ib0 (IPoIB): 802.1Q VLANs do not run over InfiniBand; use a P_Key child of \
         ib0 instead"
    );
    // ib0 is not enslaved by a VLAN on top of it.
    assert!(find(&list, "ib0").rdma.is_capable());
}

/// A ConnectX-5 port in Ethernet mode: the GID table names `enp65s0f0np0` (entries for
/// RoCE v1 and v2, IPv4 and IPv6) and a VLAN on it. Both Capable via mlx5_0 port 1, RoCE,
/// GID ndev, port 445; speed from `speed`.
fn mlx5_roce(t: &Tree) {
    t.ibdev(MLX5_PCI, "mlx5_0", "1: CA");
    t.port("mlx5_0", 1, "4: ACTIVE", "Ethernet", "100 Gb/sec (4X EDR)");
    t.eth(MLX5_PCI, "enp65s0f0np0", 3, "b8:ce:f6:01:02:03", "100000");
    for i in 0..4 {
        t.ndev("mlx5_0", 1, i, "enp65s0f0np0");
    }
}

#[test]
fn roce_mlx5_and_its_vlan() {
    let t = Tree::new();
    mlx5_roce(&t);
    t.netdev(
        "virtual",
        "enp65s0f0np0.20",
        9,
        &[
            ("type", "1"),
            ("address", "b8:ce:f6:01:02:03"),
            ("operstate", "up"),
        ],
    );
    t.devtype("enp65s0f0np0.20", "vlan");
    t.stack("enp65s0f0np0.20", "enp65s0f0np0", false);
    t.ndev("mlx5_0", 1, 4, "enp65s0f0np0.20");
    let list = t.scan();
    let e = find(&list, "enp65s0f0np0");
    assert_eq!(e.kind, Kind::Ethernet);
    assert_eq!(
        e.rdma,
        capable("mlx5_0", 1, Transport::RoCE, How::RoceGidNdev)
    );
    assert_eq!(e.rdma.smb_direct_port(), Some(445));
    assert_eq!(e.speed_bps, Some(100_000_000_000));
    let v = find(&list, "enp65s0f0np0.20");
    assert_eq!(v.kind, Kind::Vlan);
    assert_eq!(
        v.rdma,
        capable("mlx5_0", 1, Transport::RoCE, How::RoceGidNdev)
    );
}

/// A macvlan on a RoCE port (no DEVTYPE, a `lower_*` link): kind Other; NotCapable,
/// "stacked on RDMA-capable enp65s0f0np0 via mlx5_0 port 1, but no RDMA port lists mv0 in
/// its GID table". The port lists mv0 among its uppers.
#[test]
fn macvlan_on_roce_port() {
    let t = Tree::new();
    mlx5_roce(&t);
    t.netdev(
        "virtual",
        "mv0",
        11,
        &[("type", "1"), ("address", "02:11:22:33:44:55")],
    );
    t.stack("mv0", "enp65s0f0np0", false);
    let list = t.scan();
    let mv = find(&list, "mv0");
    assert_eq!(mv.kind, Kind::Other);
    assert_eq!(
        reason(mv),
        "stacked on RDMA-capable enp65s0f0np0 via mlx5_0 port 1, but no RDMA port lists mv0 \
         in its GID table"
    );
    let port = find(&list, "enp65s0f0np0");
    assert_eq!(port.uppers, ["mv0"]);
    assert!(port.rdma.is_capable());
}

/// A VLAN the GID table does not list: NotCapable, "vlan on X: X is RDMA-capable via ...,
/// but no RDMA port lists X.30 in its GID table".
#[test]
fn vlan_not_in_gid_table() {
    let t = Tree::new();
    mlx5_roce(&t);
    t.netdev(
        "virtual",
        "enp65s0f0np0.30",
        10,
        &[("type", "1"), ("address", "b8:ce:f6:01:02:03")],
    );
    t.devtype("enp65s0f0np0.30", "vlan");
    t.stack("enp65s0f0np0.30", "enp65s0f0np0", false);
    assert_eq!(
        reason(find(&t.scan(), "enp65s0f0np0.30")),
        "vlan on enp65s0f0np0: enp65s0f0np0 is RDMA-capable via mlx5_0 port 1, but no RDMA \
         port lists enp65s0f0np0.30 in its GID table"
    );
}

/// Soft-RoCE (`rxe0` on eth1, no PCI parent, `parent`-less): Capable via rxe0 port 1,
/// RoCE, GID ndev. eth0 beside it: NotCapable, "no RDMA port lists eth0 ...".
#[test]
fn soft_roce_rxe() {
    let t = Tree::new();
    t.ibdev("virtual", "rxe0", "1: CA");
    t.port("rxe0", 1, "4: ACTIVE", "Ethernet", "10 Gb/sec (1X QDR)");
    t.ndev("rxe0", 1, 0, "eth1");
    t.ndev("rxe0", 1, 1, "eth1");
    t.eth(
        "pci0000:00/0000:00:03.0",
        "eth0",
        2,
        "52:54:00:12:34:56",
        "-1",
    );
    t.eth(
        "pci0000:00/0000:00:04.0",
        "eth1",
        3,
        "52:54:00:12:34:57",
        "-1",
    );
    let list = t.scan();
    assert_eq!(
        find(&list, "eth1").rdma,
        capable("rxe0", 1, Transport::RoCE, How::RoceGidNdev)
    );
    assert_eq!(find(&list, "eth1").speed_bps, None, "speed -1 is unknown");
    assert_eq!(
        reason(find(&list, "eth0")),
        "no RDMA port lists eth0 in its GID table and no iWARP device shares its PCI \
         function (RDMA devices: rxe0)"
    );
}

/// An Intel E810 in iWARP mode (`irdma0`, node type RNIC, on the netdev's PCI function):
/// Capable via irdma0 port 1, iWARP, PCI parent, SMB Direct on 5445.
#[test]
fn iwarp_irdma() {
    let t = Tree::new();
    let pci = "pci0000:17/0000:17:02.0/0000:18:00.0";
    t.ibdev(pci, "irdma0", "4: RNIC");
    t.port("irdma0", 1, "4: ACTIVE", "Ethernet", "25 Gb/sec (1X EDR)");
    t.eth(pci, "ens785f0", 4, "b4:96:91:aa:bb:cc", "25000");
    t.eth(
        "pci0000:17/0000:17:02.0/0000:18:00.1",
        "ens785f1",
        5,
        "b4:96:91:aa:bb:cd",
        "25000",
    );
    let list = t.scan();
    let e = find(&list, "ens785f0");
    assert_eq!(
        e.rdma,
        capable("irdma0", 1, Transport::IWarp, How::IWarpParent)
    );
    assert_eq!(e.rdma.smb_direct_port(), Some(5445));
    assert!(e.rdma.to_string().contains("SMB Direct port 5445"));
    // The other PCI function has no RDMA device of its own.
    assert_eq!(
        reason(find(&list, "ens785f1")),
        "no RDMA port lists ens785f1 in its GID table and no iWARP device shares its PCI \
         function (RDMA devices: irdma0)"
    );
}

/// A Chelsio T5 (`cxgb4_0`: one iWARP device, two ports, both netdevs on one PCI
/// function): the MAC-based GID picks the port. enp2s0f4d1: Capable via cxgb4_0 port 2.
/// With the GIDs gone: NotCapable, "iWARP device cxgb4_0 shares its PCI function but none
/// of its 2 ports names enp2s0f4".
#[test]
fn iwarp_multiport_by_mac_gid() {
    let t = Tree::new();
    let pci = "pci0000:00/0000:00:02.0/0000:02:00.4";
    t.ibdev(pci, "cxgb4_0", "4: RNIC");
    t.port("cxgb4_0", 1, "4: ACTIVE", "Ethernet", "40 Gb/sec (4X QDR)");
    t.port("cxgb4_0", 2, "4: ACTIVE", "Ethernet", "40 Gb/sec (4X QDR)");
    t.gid("cxgb4_0", 1, 0, "0007:4301:0203:0000:0000:0000:0000:0000");
    t.gid("cxgb4_0", 2, 0, "0007:4301:0204:0000:0000:0000:0000:0000");
    t.eth(pci, "enp2s0f4", 2, "00:07:43:01:02:03", "40000");
    t.eth(pci, "enp2s0f4d1", 3, "00:07:43:01:02:04", "40000");
    let list = t.scan();
    assert_eq!(
        find(&list, "enp2s0f4").rdma,
        capable("cxgb4_0", 1, Transport::IWarp, How::IWarpParent)
    );
    assert_eq!(
        find(&list, "enp2s0f4d1").rdma,
        capable("cxgb4_0", 2, Transport::IWarp, How::IWarpParent)
    );

    std::fs::remove_dir_all(t.root().join("class/infiniband/cxgb4_0/ports/1/gids")).unwrap();
    std::fs::remove_dir_all(t.root().join("class/infiniband/cxgb4_0/ports/2/gids")).unwrap();
    assert!(reason(find(&t.scan(), "enp2s0f4")).ends_with(
        "iWARP device cxgb4_0 shares its PCI function but none of its 2 ports names enp2s0f4"
    ));
}

/// A RoCE port enslaved to a bridge. br0: NotCapable, "bridge over RDMA-capable eth1 via
/// mlx5_0 port 1: RDMA does not pass through a Linux bridge ...". eth1: NotCapable,
/// "enslaved to bridge br0; clients use br0's addresses (eth1 itself is RDMA-capable via
/// mlx5_0 port 1)".
#[test]
fn bridge_with_rdma_capable_port() {
    let t = Tree::new();
    t.ibdev(MLX5_PCI, "mlx5_0", "1: CA");
    t.port("mlx5_0", 1, "4: ACTIVE", "Ethernet", "25 Gb/sec (1X EDR)");
    t.ndev("mlx5_0", 1, 0, "eth1");
    t.eth(MLX5_PCI, "eth1", 3, "b8:ce:f6:01:02:03", "25000");
    t.mkdir(&format!("{}/brport", t.real("eth1")));
    t.netdev(
        "virtual",
        "br0",
        4,
        &[
            ("type", "1"),
            ("address", "b8:ce:f6:01:02:03"),
            ("operstate", "up"),
            ("speed", ""),
        ],
    );
    t.devtype("br0", "bridge");
    t.mkdir(&format!("{}/bridge", t.real("br0")));
    t.stack("br0", "eth1", true);
    let list = t.scan();
    let br = find(&list, "br0");
    assert_eq!(br.kind, Kind::Bridge);
    assert_eq!(br.lowers, ["eth1"]);
    assert_eq!(br.speed_bps, None);
    assert_eq!(
        reason(br),
        "bridge over RDMA-capable eth1 via mlx5_0 port 1: RDMA does not pass through a Linux \
         bridge; put the address on the port itself"
    );
    let eth1 = find(&list, "eth1");
    assert_eq!(eth1.master.as_deref(), Some("br0"));
    assert_eq!(
        reason(eth1),
        "enslaved to bridge br0; clients use br0's addresses (eth1 itself is RDMA-capable via \
         mlx5_0 port 1)"
    );
}

/// A bridge over a NIC without RDMA: "bridge with no RDMA-capable port (eth0)".
#[test]
fn bridge_without_rdma() {
    let t = Tree::new();
    mlx5_roce(&t);
    t.eth(
        "pci0000:00/0000:00:03.0",
        "eth0",
        2,
        "52:54:00:12:34:56",
        "1000",
    );
    t.netdev(
        "virtual",
        "br0",
        4,
        &[("type", "1"), ("address", "52:54:00:12:34:56")],
    );
    t.mkdir(&format!("{}/bridge", t.real("br0")));
    t.stack("br0", "eth0", true);
    assert_eq!(
        reason(find(&t.scan(), "br0")),
        "bridge with no RDMA-capable port (eth0)"
    );
}

/// Two single-port ConnectX-4 Lx in a balance-xor bond whose GID tables name only the
/// slaves. bond0: NotCapable, "bond over RDMA ports (...) is not RDMA-capable for SMB
/// Direct ...". Each slave: NotCapable, "enslaved to bond bond0; ...".
#[test]
fn bond_over_roce_ports() {
    let t = Tree::new();
    let (pa, pb) = (
        "pci0000:00/0000:00:01.0/0000:01:00.0",
        "pci0000:00/0000:00:01.0/0000:01:00.1",
    );
    t.ibdev(pa, "mlx5_0", "1: CA");
    t.ibdev(pb, "mlx5_1", "1: CA");
    t.port("mlx5_0", 1, "4: ACTIVE", "Ethernet", "25 Gb/sec (1X EDR)");
    t.port("mlx5_1", 1, "4: ACTIVE", "Ethernet", "25 Gb/sec (1X EDR)");
    t.ndev("mlx5_0", 1, 0, "ens1f0");
    t.ndev("mlx5_1", 1, 0, "ens1f1");
    t.eth(pa, "ens1f0", 2, "b8:ce:f6:00:00:01", "25000");
    t.eth(pb, "ens1f1", 3, "b8:ce:f6:00:00:01", "25000");
    t.netdev(
        "virtual",
        "bond0",
        4,
        &[
            ("type", "1"),
            ("address", "b8:ce:f6:00:00:01"),
            ("speed", "50000"),
        ],
    );
    t.devtype("bond0", "bond");
    t.file(
        &format!("{}/bonding/mode", t.real("bond0")),
        "balance-xor 2\n",
    );
    t.stack("bond0", "ens1f0", true);
    t.stack("bond0", "ens1f1", true);
    // The bonding driver's class-level file is not a netdev.
    t.file("class/net/bonding_masters", "bond0\n");
    let list = t.scan();
    assert_eq!(list.len(), 3);
    let bond = find(&list, "bond0");
    assert_eq!(bond.kind, Kind::Bond);
    assert_eq!(bond.speed_bps, Some(50_000_000_000));
    assert_eq!(
        reason(bond),
        "bond over RDMA ports (ens1f0 via mlx5_0 port 1, ens1f1 via mlx5_1 port 1) is not \
         RDMA-capable for SMB Direct: no RDMA port lists bond0 in its GID table; give each \
         port its own address (SMB multichannel uses them together)"
    );
    assert_eq!(
        reason(find(&list, "ens1f1")),
        "enslaved to bond bond0; clients use bond0's addresses (ens1f1 itself is RDMA-capable \
         via mlx5_1 port 1)"
    );
}

/// RoCE LAG / active-backup: the kernel puts the bond's GIDs on the active slave's port
/// with the bond as netdev. bond0: Capable via mlx5_bond_0 port 1 (the kernel's word, not
/// a guess).
#[test]
fn roce_lag_bond_named_by_gid_table() {
    let t = Tree::new();
    let pa = "pci0000:00/0000:00:01.0/0000:01:00.0";
    t.ibdev(pa, "mlx5_bond_0", "1: CA");
    t.port(
        "mlx5_bond_0",
        1,
        "4: ACTIVE",
        "Ethernet",
        "50 Gb/sec (2X EDR)",
    );
    t.ndev("mlx5_bond_0", 1, 0, "bond0");
    t.eth(pa, "ens1f0", 2, "b8:ce:f6:00:00:01", "25000");
    t.netdev(
        "virtual",
        "bond0",
        4,
        &[("type", "1"), ("address", "b8:ce:f6:00:00:01")],
    );
    t.mkdir(&format!("{}/bonding", t.real("bond0")));
    t.stack("bond0", "ens1f0", true);
    let list = t.scan();
    assert_eq!(
        find(&list, "bond0").rdma,
        capable("mlx5_bond_0", 1, Transport::RoCE, How::RoceGidNdev)
    );
    assert_eq!(
        reason(find(&list, "ens1f0")),
        "enslaved to bond bond0; clients use bond0's addresses"
    );
}

/// A team over an IPoIB port without a GID match of its own: "team with no RDMA-capable
/// slave (...)" or, with a capable slave, the bond sentence.
#[test]
fn team_is_explained_like_a_bond() {
    let t = Tree::new();
    connectx3(&t);
    t.netdev(
        "virtual",
        "team0",
        9,
        &[("type", "1"), ("address", "02:00:00:00:00:09")],
    );
    t.devtype("team0", "team");
    t.stack("team0", "ib0", true);
    let list = t.scan();
    let team = find(&list, "team0");
    assert_eq!(team.kind, Kind::Team);
    assert!(reason(team).starts_with(
        "team over RDMA ports (ib0 via mlx4_0 port 1) is not RDMA-capable for SMB Direct"
    ));
    assert_eq!(
        reason(find(&list, "ib0")),
        "enslaved to team team0; clients use team0's addresses (ib0 itself is RDMA-capable \
         via mlx4_0 port 1)"
    );
}

/// A host with no RDMA at all (no `class/infiniband`): eth0 NotCapable, "no RDMA device
/// on this host"; lo NotCapable, "loopback interface".
#[test]
fn plain_ethernet_without_rdma() {
    let t = Tree::new();
    t.eth(
        "pci0000:00/0000:00:03.0/virtio2",
        "eth0",
        2,
        "02:fc:00:00:00:01",
        "-1",
    );
    t.netdev(
        "virtual",
        "lo",
        1,
        &[
            ("type", "772"),
            ("address", "00:00:00:00:00:00"),
            ("operstate", "unknown"),
        ],
    );
    let list = t.scan();
    let names: Vec<&str> = list.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["lo", "eth0"]);
    let lo = find(&list, "lo");
    assert_eq!(lo.kind, Kind::Loopback);
    assert_eq!(lo.operstate, Some(OperState::Unknown));
    assert_eq!(reason(lo), "loopback interface");
    let eth0 = find(&list, "eth0");
    assert_eq!(eth0.kind, Kind::Ethernet);
    assert_eq!(eth0.speed_bps, None);
    assert_eq!(reason(eth0), "no RDMA device on this host");
    assert_eq!(
        eth0.rdma.to_string(),
        "not RDMA-capable: no RDMA device on this host"
    );

    // An empty class/infiniband says the same.
    t.mkdir("class/infiniband");
    assert_eq!(
        reason(find(&t.scan(), "eth0")),
        "no RDMA device on this host"
    );
}

/// IPoIB with a 6-byte address: "IPoIB hardware address is 6 bytes, expected 20 ...".
/// With text that is not hex: "... is not colon-separated hex". Unreadable: "cannot read".
/// All-zero GID: "... carries an all-zero GID".
#[test]
fn malformed_ipoib_addresses() {
    let t = Tree::new();
    connectx3(&t);
    let ib0 = t.real("ib0");
    t.file(&format!("{ib0}/address"), "80:00:02:08:fe:80\n");
    assert_eq!(
        reason(find(&t.scan(), "ib0")),
        "IPoIB hardware address is 6 bytes, expected 20 (4-byte QPN + 16-byte port GID)"
    );
    t.file(&format!("{ib0}/address"), "not-an-address\n");
    assert_eq!(
        reason(find(&t.scan(), "ib0")),
        "IPoIB hardware address \"not-an-address\" is not colon-separated hex"
    );
    t.file(&format!("{ib0}/address"), "");
    assert!(reason(find(&t.scan(), "ib0")).contains("is not colon-separated hex"));
    t.file(
        &format!("{ib0}/address"),
        "80:00:02:08:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00\n",
    );
    assert_eq!(
        reason(find(&t.scan(), "ib0")),
        "IPoIB hardware address carries an all-zero GID"
    );
    std::fs::remove_file(t.root().join(format!("{ib0}/address"))).unwrap();
    assert!(reason(find(&t.scan(), "ib0")).starts_with("cannot read ib0/address: "));
}

/// Garbage in the GID table does not hide a good entry (ib0 stays Capable); a GID found
/// nowhere names the ports checked and counts the bad entries: "IPoIB GID ... is in no
/// port's GID table (checked mlx4_0 port 1, mlx4_0 port 2); 3 GID entries unreadable or
/// malformed".
#[test]
fn garbage_gids() {
    let t = Tree::new();
    connectx3(&t);
    t.gid("mlx4_0", 1, 1, "garbage");
    t.gid("mlx4_0", 1, 2, "fe80::2:c903:f1:8a41");
    t.file(
        "class/infiniband/mlx4_0/ports/2/gids/1",
        [0xffu8, 0xfe, 0x00, 0x80],
    );
    let list = t.scan();
    assert!(find(&list, "ib0").rdma.is_capable());

    t.netdev(
        MLX4_PCI,
        "ib1",
        9,
        &[
            ("type", "32"),
            (
                "address",
                "80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:f1:99:99",
            ),
        ],
    );
    assert_eq!(
        reason(find(&t.scan(), "ib1")),
        "IPoIB GID fe80:0000:0000:0000:0002:c903:00f1:9999 is in no port's GID table \
         (checked mlx4_0 port 1, mlx4_0 port 2); 3 GID entries unreadable or malformed"
    );
}

/// Unreadable or nonsensical port and device files become reasons.
#[test]
fn malformed_port_and_device_files() {
    let t = Tree::new();
    connectx3(&t);
    t.file("class/infiniband/mlx4_0/ports/1/state", "banana\n");
    assert_eq!(
        reason(find(&t.scan(), "ib0")),
        "matched mlx4_0 port 1 (port GID in the IPoIB address), but unrecognised state \
         \"banana\""
    );
    std::fs::remove_file(t.root().join("class/infiniband/mlx4_0/ports/1/state")).unwrap();
    assert!(reason(find(&t.scan(), "ib0")).starts_with(
        "matched mlx4_0 port 1 (port GID in the IPoIB address), but cannot read state: "
    ));
    t.file("class/infiniband/mlx4_0/ports/1/state", "4: ACTIVE\n");
    t.file(
        "class/infiniband/mlx4_0/ports/1/link_layer",
        "Fibre Channel\n",
    );
    // Not an InfiniBand port any more, so the GID is not looked up there.
    assert_eq!(
        reason(find(&t.scan(), "ib0")),
        "IPoIB GID fe80:0000:0000:0000:0002:c903:00f1:8a41 is in no port's GID table \
         (checked mlx4_0 port 2)"
    );
    t.file("class/infiniband/mlx4_0/ports/1/link_layer", "InfiniBand\n");
    t.file("class/infiniband/mlx4_0/node_type", "6: usNIC UDP\n");
    assert_eq!(
        reason(find(&t.scan(), "ib0")),
        "matched mlx4_0 port 1 (port GID in the IPoIB address), but node type 6 is not an \
         InfiniBand, RoCE or iWARP adapter"
    );
    t.file("class/infiniband/mlx4_0/node_type", "what\n");
    assert!(reason(find(&t.scan(), "ib0")).contains("mlx4_0: node_type \"what\""));
    t.file("class/infiniband/mlx4_0/node_type", "1: CA\n");
    t.file("class/infiniband/mlx4_0/ports/1/rate", "fast\n");
    t.file(&format!("{}/speed", t.real("ib0")), "fast\n");
    let ib0 = t.scan();
    let ib0 = find(&ib0, "ib0");
    assert!(ib0.rdma.is_capable());
    assert_eq!(ib0.speed_bps, None, "neither speed nor rate parses");
    // A stray entry under ports/ is reported, not trusted.
    t.mkdir("class/infiniband/mlx4_0/ports/power");
    t.netdev(
        MLX4_PCI,
        "eth9",
        12,
        &[("type", "1"), ("address", "00:02:c9:00:00:09")],
    );
    assert!(reason(find(&t.scan(), "eth9"))
        .ends_with("(unreadable: mlx4_0: unexpected port entry \"power\")"));
}

/// Netdev files that are missing or garbage give `None` fields, not errors.
#[test]
fn malformed_netdev_files() {
    let t = Tree::new();
    t.netdev(
        "virtual",
        "odd0",
        1,
        &[
            ("type", "x"),
            ("speed", "9999999999999999999999"),
            ("operstate", "sideways"),
        ],
    );
    t.file(&format!("{}/ifindex", t.real("odd0")), "-3\n");
    let list = t.scan();
    let odd = find(&list, "odd0");
    assert_eq!(odd.ifindex, None);
    assert_eq!(odd.kind, Kind::Other);
    assert_eq!(odd.speed_bps, None);
    assert_eq!(odd.operstate, Some(OperState::Other("sideways".into())));
    assert_eq!(reason(odd), "no RDMA device on this host");
}

/// No `class/net` at all is the one error.
#[test]
fn missing_class_net_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    match scan(dir.path()) {
        Err(Error::ListNetdevs { path, .. }) => assert!(path.ends_with("class/net")),
        other => panic!("expected ListNetdevs, got {other:?}"),
    }
}

/// Every file of a full tree overwritten with pseudo-random bytes (and then truncated
/// to random lengths): the scan never panics and never fails.
#[test]
fn random_file_contents_never_panic() {
    let t = Tree::new();
    connectx3(&t);
    mlx5_roce(&t);
    t.eth("virtual", "eth5", 20, "02:00:00:00:00:05", "1000");
    let mut files = Vec::new();
    let mut stack = vec![t.root().join("devices")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                files.push(e.path());
            }
        }
    }
    files.sort();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..40 {
        for f in &files {
            let len = (next() % 48) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let b = next() as u8;
                    // Half the rounds stay printable, to reach the parsers' inner paths.
                    if round % 2 == 0 {
                        b"0123456789abcdef: -.\nACTIVEGb/sec"[usize::from(b) % 32]
                    } else {
                        b
                    }
                })
                .collect();
            std::fs::write(f, bytes).unwrap();
        }
        let list = scan(t.root()).unwrap();
        assert_eq!(list.len(), 4);
    }
}

/// The real sysfs of this machine scans without error.
#[test]
fn real_sysfs_scans() {
    if !Path::new("/sys/class/net").is_dir() {
        return;
    }
    let list = scan(nas_netif::DEFAULT_ROOT).unwrap();
    for n in &list {
        // Every verdict renders.
        assert!(!n.rdma.to_string().is_empty());
    }
}
