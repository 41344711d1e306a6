//! A server `Driver` and a client `Driver` over the in-memory verbs emulation, pumped by
//! hand: the whole SMB Direct stack (negotiation, credits, fragmentation, RDMA read and
//! write, teardown) with no hardware.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    dead_code
)] // test helpers outside #[test] fns

use std::time::{Duration, Instant};

use smb_direct::descriptor::{encode_descriptors, BufferDescriptorV1};
use smb_direct::driver::{qp_caps, Pools};
use smb_direct::verbs::emu::{EmuListener, EmuQp};
use smb_direct::verbs::{Access, DeviceLimits, Listener, QueuePair, Region};
use smb_direct::{Config, Driver, DriverConfig, DriverEvent, Role};

pub struct Net {
    pub now: Instant,
    pub server: Driver<EmuQp>,
    pub client: Driver<EmuQp>,
    pub server_events: Vec<DriverEvent>,
    pub client_events: Vec<DriverEvent>,
    /// Rounds `run` went through, all calls together.
    pub rounds: usize,
}

/// A driver configuration with a small data pool, so transfers cycle through it.
pub fn small_pool() -> DriverConfig {
    DriverConfig {
        data_chunk_size: 64 * 1024,
        data_chunks: 8,
        ..DriverConfig::default()
    }
}

impl Net {
    pub fn new(client: Config, server: Config, dc: DriverConfig, limits: DeviceLimits) -> Self {
        let now = Instant::now();
        let mut listener = EmuListener::new(limits);
        let (caps, client) = qp_caps(&limits, &client, &dc).unwrap();
        let cqp = listener.connect(caps);
        let req = listener.poll_request().unwrap().unwrap();
        let server = Driver::accept(req, server, dc.clone(), now).unwrap();
        let client = Driver::new(cqp, Role::Client, client, dc, now).unwrap();
        Net {
            now,
            server,
            client,
            server_events: Vec::new(),
            client_events: Vec::new(),
            rounds: 0,
        }
    }

    /// Default configurations, a small data pool, a ConnectX-3-like device; negotiated.
    pub fn established() -> Self {
        let mut n = Net::new(
            Config::default(),
            Config::default(),
            small_pool(),
            DeviceLimits::default(),
        );
        n.run();
        assert!(matches!(
            n.server_events.first(),
            Some(DriverEvent::Negotiated(_))
        ));
        assert!(matches!(
            n.client_events.first(),
            Some(DriverEvent::Negotiated(_))
        ));
        n.server_events.clear();
        n.client_events.clear();
        n
    }

    fn fingerprint(&self) -> String {
        format!(
            "{:?}{:?}{:?}{:?}{}{}{}{}{}{}",
            self.server.stats(),
            self.client.stats(),
            self.server.connection_stats(),
            self.client.connection_stats(),
            self.server_events.len(),
            self.client_events.len(),
            self.server.is_closed(),
            self.client.is_closed(),
            self.server.outstanding_wrs(),
            self.client.outstanding_wrs(),
        )
    }

    /// One round: the client, then the server, process; events collected.
    pub fn step(&mut self) {
        self.rounds += 1;
        self.client.process(self.now);
        self.drain();
        self.server.process(self.now);
        self.drain();
    }

    pub fn drain(&mut self) {
        while let Some(ev) = self.client.poll_event() {
            self.client_events.push(ev);
        }
        while let Some(ev) = self.server.poll_event() {
            self.server_events.push(ev);
        }
    }

    /// Steps until two rounds in a row change nothing.
    pub fn run(&mut self) {
        let mut quiet = 0;
        for _ in 0..100_000 {
            let before = self.fingerprint();
            self.step();
            if self.fingerprint() == before {
                quiet += 1;
                if quiet == 2 {
                    return;
                }
            } else {
                quiet = 0;
            }
        }
        panic!("the network never settled");
    }

    /// Steps until `f` holds (at most `max` rounds).
    pub fn run_until(&mut self, max: usize, mut f: impl FnMut(&Net) -> bool) {
        for _ in 0..max {
            if f(self) {
                return;
            }
            self.step();
        }
        assert!(f(self), "condition not reached in {max} rounds");
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Messages the server received (in order).
    pub fn server_messages(&self) -> Vec<Vec<u8>> {
        messages(&self.server_events)
    }

    pub fn client_messages(&self) -> Vec<Vec<u8>> {
        messages(&self.client_events)
    }
}

pub fn messages(events: &[DriverEvent]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            DriverEvent::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// The `Closed` event among `events`, if any; and asserts nothing follows it.
pub fn closed(events: &[DriverEvent]) -> Option<&DriverEvent> {
    let pos = events
        .iter()
        .position(|e| matches!(e, DriverEvent::Closed { .. }))?;
    assert_eq!(pos + 1, events.len(), "events after Closed: {events:?}");
    events.get(pos)
}

/// Every chunk back in its pool, every region but `test_regions` (the test's own)
/// deregistered, nothing outstanding.
pub fn assert_clean(d: &Driver<EmuQp>, test_regions: usize) {
    assert!(d.is_closed(), "not closed");
    let pools: Pools = d.pool_stats();
    assert_eq!(pools.in_use(), 0, "chunks leaked: {pools:?}");
    assert_eq!(d.outstanding_wrs(), 0);
    assert_eq!(
        d.qp().regions_registered(),
        test_regions,
        "regions left registered"
    );
    assert_eq!(d.qp().recvs_posted(), 0);
}

/// A client buffer the server may RDMA-read and -write, filled with `fill`.
pub fn client_region(net: &mut Net, fill: &[u8]) -> Region {
    let qp = net.client.qp_mut();
    let r = qp.register(fill.len() as u64, Access::REMOTE_RW).unwrap();
    let sge = r.sge(0, u32::try_from(fill.len()).unwrap()).unwrap();
    qp.write_local(sge, fill).unwrap();
    r
}

/// The client's bytes of `r` at `offset..offset+len`.
pub fn client_bytes(net: &Net, r: &Region, offset: u64, len: u32) -> Vec<u8> {
    let mut out = vec![0; len as usize];
    net.client
        .qp()
        .read_local(r.sge(offset, len).unwrap(), &mut out)
        .unwrap();
    out
}

pub fn desc(r: &Region, offset: u64, length: u32) -> BufferDescriptorV1 {
    BufferDescriptorV1 {
        offset: r.addr + offset,
        token: r.rkey,
        length,
    }
}

pub fn blob(list: &[BufferDescriptorV1]) -> Vec<u8> {
    encode_descriptors(list)
}

/// Deterministic bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 8) as u8))
        .collect()
}
