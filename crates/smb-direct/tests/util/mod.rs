//! A client and a server `Connection` joined by two in-order queues: the smallest stand-in
//! for RDMA. Each delivery checks what the hardware would: the receiver has a buffer
//! posted (an RDMA send into a queue pair without a posted receive is an RNR error).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    dead_code
)] // test helpers outside #[test] fns

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use smb_direct::data::{DataHeader, DataMessage};
use smb_direct::{Config, Connection, Disconnect, Event};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

pub struct Pair {
    pub now: Instant,
    pub client: Connection,
    pub server: Connection,
    /// Packets in flight towards the server / the client.
    pub to_server: VecDeque<Vec<u8>>,
    pub to_client: VecDeque<Vec<u8>>,
    /// Every packet ever sent, in order, with its sender.
    pub wire: Vec<(Side, Vec<u8>)>,
    /// Every event either side produced, in order.
    pub events: Vec<(Side, Event)>,
    /// Upper-layer messages each side received.
    pub client_got: Vec<Vec<u8>>,
    pub server_got: Vec<Vec<u8>>,
    /// When false, `settle` does not post receives on that side (the driver is slow).
    pub client_reposts: bool,
    pub server_reposts: bool,
}

impl Pair {
    pub fn new(client: Config, server: Config) -> Self {
        let now = Instant::now();
        Pair {
            now,
            client: Connection::client(client, now).unwrap(),
            server: Connection::server(server, now).unwrap(),
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            wire: Vec::new(),
            events: Vec::new(),
            client_got: Vec::new(),
            server_got: Vec::new(),
            client_reposts: true,
            server_reposts: true,
        }
    }

    /// A pair that has negotiated with default configurations.
    pub fn established() -> Self {
        let mut p = Pair::new(Config::default(), Config::default());
        p.settle().unwrap();
        assert!(p.client.is_established() && p.server.is_established());
        p
    }

    pub fn conn(&mut self, side: Side) -> &mut Connection {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// The driver of `side` posts every receive the connection asks for.
    pub fn post(&mut self, side: Side) {
        let c = self.conn(side);
        let n = c.receives_to_post();
        c.receive_posted(n);
    }

    /// `side` transmits everything it may; returns how many packets.
    pub fn transmit(&mut self, side: Side) -> usize {
        let now = self.now;
        let mut n = 0;
        while let Some(pkt) = self.conn(side).poll_transmit(now) {
            self.wire.push((side, pkt.clone()));
            match side {
                Side::Client => self.to_server.push_back(pkt),
                Side::Server => self.to_client.push_back(pkt),
            }
            n += 1;
        }
        n
    }

    /// Delivers the oldest packet in flight towards `to`.
    pub fn deliver_one(&mut self, to: Side) -> Option<Result<(), Disconnect>> {
        let now = self.now;
        let pkt = match to {
            Side::Client => self.to_client.pop_front(),
            Side::Server => self.to_server.pop_front(),
        }?;
        let conn = self.conn(to);
        assert!(
            conn.credits().posted() > 0,
            "{to:?} received a packet with no receive posted (RNR)"
        );
        let r = conn.handle_recv(now, &pkt);
        self.drain_events(to);
        Some(r)
    }

    pub fn drain_events(&mut self, side: Side) {
        while let Some(ev) = self.conn(side).poll_event() {
            if let Event::Message(m) = &ev {
                match side {
                    Side::Client => self.client_got.push(m.clone()),
                    Side::Server => self.server_got.push(m.clone()),
                }
            }
            self.events.push((side, ev));
        }
    }

    /// Runs both ends until nothing moves: post, transmit, deliver, repeat.
    pub fn settle(&mut self) -> Result<(), (Side, Disconnect)> {
        for _ in 0..1_000_000 {
            if self.client_reposts {
                self.post(Side::Client);
            }
            if self.server_reposts {
                self.post(Side::Server);
            }
            let sent = self.transmit(Side::Client) + self.transmit(Side::Server);
            let mut delivered = 0;
            while let Some(r) = self.deliver_one(Side::Server) {
                r.map_err(|e| (Side::Server, e))?;
                delivered += 1;
            }
            while let Some(r) = self.deliver_one(Side::Client) {
                r.map_err(|e| (Side::Client, e))?;
                delivered += 1;
            }
            if sent == 0 && delivered == 0 {
                return Ok(());
            }
        }
        panic!("the pair never settled");
    }

    /// One line per packet on the wire, for debugging a failing transcript.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for (i, (side, p)) in self.wire.iter().enumerate() {
            let line = match DataMessage::decode(p) {
                Ok(m) if i > 1 => format!(
                    "{i:4} {side:?}: req {} grant {} flags {} remaining {} len {}\n",
                    m.header.credits_requested,
                    m.header.credits_granted,
                    m.header.flags,
                    m.header.remaining_data_length,
                    m.payload.len()
                ),
                _ => format!("{i:4} {side:?}: negotiate {} bytes\n", p.len()),
            };
            out.push_str(&line);
        }
        out
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Packets sent by `side`, decoded as data transfer messages (after negotiation).
    pub fn data_packets(&self, side: Side) -> Vec<(DataHeader, Vec<u8>)> {
        self.wire
            .iter()
            .filter(|(s, _)| *s == side)
            .skip(1) // the negotiate message
            .map(|(_, p)| {
                let m = DataMessage::decode(p).unwrap();
                (m.header, m.payload.to_vec())
            })
            .collect()
    }
}

/// Deterministic bytes for test messages.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A data transfer message built by hand (a misbehaving or scripted peer).
pub fn data_packet(
    requested: u16,
    granted: u16,
    flags: u16,
    remaining: u32,
    payload: &[u8],
) -> Vec<u8> {
    DataHeader {
        credits_requested: requested,
        credits_granted: granted,
        flags,
        remaining_data_length: remaining,
        ..DataHeader::default()
    }
    .encode(payload)
}
