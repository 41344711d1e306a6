//! Whole SMB Direct conversations between a client and a server `Connection`, no RDMA:
//! negotiation, data exchange, fragmentation, credits and keepalives, one rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests

mod util;

use std::time::Duration;

use smb_direct::data::DataMessage;
use smb_direct::negotiate::{NegotiateRequest, NegotiateResponse};
use smb_direct::{Config, Event, SendError, FLAG_RESPONSE_REQUESTED};
use util::{pattern, Pair, Side};

#[test]
fn negotiate_then_exchange_messages() {
    let mut p = Pair::new(Config::default(), Config::default());

    // The client posts a receive for the response before it sends the request.
    assert_eq!(p.client.receives_to_post(), 1);
    assert_eq!(p.client.poll_transmit(p.now), None);
    p.post(Side::Client);
    assert_eq!(p.transmit(Side::Client), 1);
    let req = NegotiateRequest::decode(&p.wire[0].1).unwrap();
    assert_eq!(p.wire[0].1.len(), 20);
    assert_eq!(req, NegotiateRequest::from_config(&Config::default()));

    // The server has one receive posted for the request, then posts what the client asked.
    p.post(Side::Server);
    assert_eq!(p.server.credits().posted(), 1);
    p.deliver_one(Side::Server).unwrap().unwrap();
    let Some((Side::Server, Event::Negotiated(params))) = p.events.pop() else {
        panic!("no Negotiated event")
    };
    assert_eq!(params.receive_credit_target, 255);
    assert_eq!(params.max_send_size, 1364);
    assert_eq!(
        params.max_receive_size, 1364,
        "the client prefers to send 1364"
    );
    assert!(!p.server.is_established(), "response not sent yet");
    assert_eq!(p.server.receives_to_post(), 255);
    p.post(Side::Server);
    assert_eq!(p.transmit(Side::Server), 1);
    assert!(p.server.is_established());
    let resp = NegotiateResponse::decode(&p.wire[1].1).unwrap();
    assert_eq!(p.wire[1].1.len(), 32);
    assert_eq!(resp.status, 0);
    assert_eq!(resp.negotiated_version, 0x0100);
    assert_eq!(resp.credits_granted, 255, "every posted receive, no more");
    assert_eq!(resp.credits_requested, 255);
    assert_eq!(resp.max_read_write_size, 8 << 20);
    assert_eq!(resp.preferred_send_size, 1364);
    assert_eq!(resp.max_receive_size, 1364);
    assert_eq!(resp.max_fragmented_size, 1 << 20);

    p.deliver_one(Side::Client).unwrap().unwrap();
    assert!(p.client.is_established());
    assert!(matches!(
        p.events.pop(),
        Some((Side::Client, Event::Negotiated(_)))
    ));
    assert_eq!(p.client.credits().send_credits(), 255);

    // First data message: the client's SMB2 NEGOTIATE, granting the server its credits.
    p.post(Side::Client);
    p.client.send_message(b"SMB2 NEGOTIATE".to_vec()).unwrap();
    assert_eq!(p.transmit(Side::Client), 1);
    let first = DataMessage::decode(&p.wire[2].1).unwrap();
    assert_eq!(first.header.credits_granted, 255);
    assert_eq!(first.header.credits_requested, 255);
    assert_eq!(first.header.remaining_data_length, 0);
    assert_eq!(first.header.data_offset, 24);
    assert_eq!(first.payload, b"SMB2 NEGOTIATE");
    p.deliver_one(Side::Server).unwrap().unwrap();
    assert_eq!(p.server_got, [b"SMB2 NEGOTIATE".to_vec()]);
    assert_eq!(p.server.credits().send_credits(), 255);

    // And the answer.
    p.server
        .send_message(b"SMB2 NEGOTIATE response".to_vec())
        .unwrap();
    p.settle().unwrap();
    assert_eq!(p.client_got, [b"SMB2 NEGOTIATE response".to_vec()]);
    let s = p.server.stats();
    assert_eq!((s.messages_received, s.messages_sent), (1, 1));
}

#[test]
fn server_grants_only_receives_actually_posted_in_negotiate_response() {
    let mut p = Pair::new(Config::default(), Config::default());
    p.post(Side::Client);
    p.transmit(Side::Client);
    p.post(Side::Server);
    p.deliver_one(Side::Server).unwrap().unwrap();
    // Nothing posted yet: a response would have to grant 0, which 3.1.5.7 forbids.
    assert_eq!(p.server.poll_transmit(p.now), None);
    p.server.receive_posted(3);
    let resp = NegotiateResponse::decode(&p.server.poll_transmit(p.now).unwrap()).unwrap();
    assert_eq!(resp.credits_granted, 3);
}

#[test]
fn client_limits_are_respected_by_the_server() {
    let client = Config {
        max_receive_size: 512,
        max_send_size: 600,
        send_credit_target: 16,
        max_fragmented_size: 131_072,
        ..Config::default()
    };
    let mut p = Pair::new(client, Config::default());
    p.settle().unwrap();
    let s = *p.server.negotiated().unwrap();
    assert_eq!(s.max_send_size, 512);
    assert_eq!(s.max_receive_size, 600);
    assert_eq!(s.max_fragmented_send_size, 131_072);
    assert_eq!(s.receive_credit_target, 16);
    // A message of exactly the client's MaxFragmentedSize goes; one byte more does not.
    let big = pattern(131_072, 1);
    p.server.send_message(big.clone()).unwrap();
    assert_eq!(
        p.server.send_message(vec![0; 131_073]),
        Err(SendError::TooLarge {
            len: 131_073,
            max: 131_072
        })
    );
    p.settle().unwrap();
    assert!(p.client_got == [big], "reassembled as sent");
    for (h, payload) in p.data_packets(Side::Server) {
        assert!(payload.len() + 24 <= 512, "{h:?}");
    }
    // The client never held more than the 16 credits it asked for.
    assert!(p.client.credits().send_credits() <= 16);
}

#[test]
fn large_message_fragments_with_remaining_length_counting_down() {
    let mut p = Pair::established();
    let msg = pattern(1 << 20, 7);
    p.server.send_message(msg.clone()).unwrap();
    p.settle().unwrap();
    assert!(
        p.client_got.len() == 1 && p.client_got[0] == msg,
        "reassembled as sent"
    );
    let frags: Vec<_> = p
        .data_packets(Side::Server)
        .into_iter()
        .filter(|(_, pl)| !pl.is_empty())
        .collect();
    assert_eq!(frags.len(), (1usize << 20).div_ceil(1340));
    let mut expect = msg.len();
    for (h, payload) in &frags {
        expect -= payload.len();
        assert_eq!(h.remaining_data_length as usize, expect);
        assert_eq!(h.data_length as usize, payload.len());
    }
    assert_eq!(expect, 0);
    // 783 fragments with 255 credits: the credits had to flow back while sending.
    assert!(frags.len() > 255);
    assert_eq!(p.server.queued_send_bytes(), 0);
}

#[test]
fn both_directions_at_once_with_many_messages() {
    let mut p = Pair::established();
    let mut expect_client = Vec::new();
    let mut expect_server = Vec::new();
    for i in 0..300u32 {
        let a = pattern(1 + (i as usize * 997) % 9000, i as u8);
        let b = pattern(1 + (i as usize * 1301) % 7000, (i as u8).wrapping_add(100));
        p.server.send_message(a.clone()).unwrap();
        p.client.send_message(b.clone()).unwrap();
        expect_client.push(a);
        expect_server.push(b);
    }
    p.settle().unwrap();
    assert!(p.client_got == expect_client, "server -> client in order");
    assert!(p.server_got == expect_server, "client -> server in order");
    for side in [Side::Client, Side::Server] {
        let c = p.conn(side).credits().clone();
        assert!(c.granted() <= c.posted());
    }
}

#[test]
fn fragments_of_consecutive_messages_never_interleave() {
    let mut p = Pair::established();
    let a = pattern(5000, 1);
    let b = pattern(3000, 2);
    p.server.send_message(a.clone()).unwrap();
    p.server.send_message(b.clone()).unwrap();
    p.settle().unwrap();
    let remaining: Vec<u32> = p
        .data_packets(Side::Server)
        .iter()
        .filter(|(_, pl)| !pl.is_empty())
        .map(|(h, _)| h.remaining_data_length)
        .collect();
    assert_eq!(remaining, [3660, 2320, 980, 0, 1660, 320, 0]);
    assert!(p.client_got == [a, b]);
}

#[test]
fn response_requested_gets_a_prompt_answer_without_the_flag() {
    let mut p = Pair::established();
    let before = p.wire.len();
    // The client asks for a response (as a keepalive would).
    let pkt = util::data_packet(255, 0, FLAG_RESPONSE_REQUESTED, 0, &[]);
    p.to_server.push_back(pkt);
    p.deliver_one(Side::Server).unwrap().unwrap();
    let answer = p.server.poll_transmit(p.now).expect("prompt answer");
    let m = DataMessage::decode(&answer).unwrap();
    assert_eq!(
        m.header.flags, 0,
        "answering does not ask back (no ping-pong)"
    );
    assert!(m.payload.is_empty());
    assert_eq!(p.server.poll_transmit(p.now), None, "one answer only");
    assert_eq!(p.wire.len(), before);
}

#[test]
fn idle_connection_sends_keepalive_and_peer_answers() {
    let mut p = Pair::established();
    let t0 = p.now;
    assert_eq!(p.server.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    p.advance(Duration::from_secs(119));
    p.server.handle_timeout(p.now).unwrap();
    assert_eq!(p.server.poll_transmit(p.now), None, "not idle long enough");
    p.advance(Duration::from_secs(1));
    p.client.handle_timeout(t0).unwrap(); // the client's timer has not fired yet
    p.server.handle_timeout(p.now).unwrap();
    let n = p.wire.len();
    assert_eq!(p.transmit(Side::Server), 1);
    let ka = DataMessage::decode(&p.wire[n].1).unwrap();
    assert!(ka.header.response_requested());
    assert!(ka.payload.is_empty());
    assert_eq!(p.server.stats().keepalives_sent, 1);
    // Now the server waits 5 s for any message.
    assert_eq!(
        p.server.poll_timeout(),
        Some(p.now + Duration::from_secs(5))
    );
    p.deliver_one(Side::Client).unwrap().unwrap();
    assert_eq!(p.transmit(Side::Client), 1);
    let ans = DataMessage::decode(&p.wire[n + 1].1).unwrap();
    assert!(!ans.header.response_requested());
    p.advance(Duration::from_secs(1));
    p.deliver_one(Side::Server).unwrap().unwrap();
    // Answered: the idle timer restarts from the answer.
    assert_eq!(
        p.server.poll_timeout(),
        Some(p.now + Duration::from_secs(120))
    );
    p.advance(Duration::from_secs(10));
    p.server.handle_timeout(p.now).unwrap();
}

#[test]
fn keepalive_rides_on_data_when_data_is_queued() {
    let mut p = Pair::established();
    p.advance(Duration::from_secs(120));
    p.server.handle_timeout(p.now).unwrap();
    p.server.send_message(b"reply".to_vec()).unwrap();
    let n = p.wire.len();
    assert_eq!(p.transmit(Side::Server), 1);
    let m = DataMessage::decode(&p.wire[n].1).unwrap();
    assert!(m.header.response_requested());
    assert_eq!(m.payload, b"reply");
}

#[test]
fn messages_from_the_peer_keep_the_connection_alive() {
    let mut p = Pair::established();
    for _ in 0..10 {
        p.advance(Duration::from_secs(100));
        p.client.send_message(b"ping".to_vec()).unwrap();
        p.server.send_message(b"pong".to_vec()).unwrap();
        p.settle().unwrap();
        p.server.handle_timeout(p.now).unwrap();
        p.client.handle_timeout(p.now).unwrap();
    }
    assert_eq!(p.server.stats().keepalives_sent, 0);
}

#[test]
fn credit_refresh_without_traffic_in_the_other_direction() {
    // The client only sends; the server has nothing to say, yet grants flow back in
    // credit-only messages so the client never starves.
    let mut p = Pair::established();
    for i in 0..2000u32 {
        p.client.send_message(pattern(100, i as u8)).unwrap();
    }
    p.settle().unwrap();
    assert_eq!(p.server_got.len(), 2000);
    let empties = p
        .data_packets(Side::Server)
        .iter()
        .filter(|(h, pl)| pl.is_empty() && h.credits_granted > 0)
        .count();
    assert!(empties > 0);
    // Hysteresis: roughly one refresh per half-target of messages, not one per message.
    assert!(empties < 2000 / 64, "{empties} credit-only messages");
}

#[test]
fn idle_pair_goes_quiet() {
    let mut p = Pair::established();
    let n = p.wire.len();
    p.settle().unwrap();
    assert_eq!(p.wire.len(), n, "no empty-message ping-pong");
    p.client.send_message(b"x".to_vec()).unwrap();
    p.settle().unwrap();
    let m = p.wire.len();
    p.settle().unwrap();
    assert_eq!(p.wire.len(), m);
}

#[test]
fn tiny_credit_targets_still_make_progress() {
    let cfg = Config {
        receive_credit_max: 2,
        send_credit_target: 2,
        ..Config::default()
    };
    let mut p = Pair::new(cfg.clone(), cfg);
    p.settle().unwrap();
    let a = pattern(20_000, 3);
    let b = pattern(9_000, 4);
    p.server.send_message(a.clone()).unwrap();
    p.client.send_message(b.clone()).unwrap();
    p.settle().unwrap();
    assert!(p.client_got == [a]);
    assert!(p.server_got == [b]);
    // And it stops when there is nothing left to say.
    let n = p.wire.len();
    p.settle().unwrap();
    assert_eq!(p.wire.len(), n);
}

// ---- regressions modelled on the three 2026 ksmbd fixes -----------------------------------

/// The credit-granting race: the server's driver is slow to repost receives while the
/// client keeps sending. Every packet the server builds must grant only buffers that are
/// posted and unpromised at that moment; the RNR assertion in the harness would catch a
/// client sending into a missing buffer.
#[test]
fn regression_credit_granting_race() {
    let cfg = Config {
        receive_credit_max: 8,
        send_credit_target: 8,
        ..Config::default()
    };
    let mut p = Pair::new(cfg.clone(), cfg);
    p.settle().unwrap();
    for i in 0..50u32 {
        p.client.send_message(pattern(3000, i as u8)).unwrap();
        p.server.send_message(pattern(2000, i as u8)).unwrap();
    }
    // Alternate phases where the server's driver does and does not repost.
    for round in 0..400 {
        p.server_reposts = round % 3 == 0;
        p.post(Side::Client);
        if p.server_reposts {
            p.post(Side::Server);
        }
        p.transmit(Side::Client);
        p.transmit(Side::Server);
        let c = p.server.credits();
        assert!(c.granted() <= c.posted(), "round {round}: {c:?}");
        while let Some(r) = p.deliver_one(Side::Server) {
            r.unwrap();
        }
        while let Some(r) = p.deliver_one(Side::Client) {
            r.unwrap();
        }
    }
    p.server_reposts = true;
    p.settle().unwrap();
    assert_eq!(p.server_got.len(), 50);
    assert_eq!(p.client_got.len(), 50);
}

/// The last-send-credit deadlock: the server holds one send credit, has a reply queued and
/// no unpromised receive to grant. It must not send (that would leave the client unable to
/// ever answer); it asks its driver for one more receive and then sends, granting it and
/// requesting a response.
#[test]
fn regression_last_send_credit_deadlock() {
    let client = Config {
        receive_credit_max: 2,
        send_credit_target: 4,
        ..Config::default()
    };
    let server = Config {
        receive_credit_max: 4,
        ..Config::default()
    };
    let mut p = Pair::new(client, server);
    p.settle().unwrap();
    // The server holds what the client granted (2) and has all 4 receives posted, 3 of
    // them promised to the client. A first reply grants the fourth.
    assert_eq!(p.server.credits().send_credits(), 2);
    assert_eq!(
        (p.server.credits().posted(), p.server.credits().granted()),
        (4, 3)
    );
    p.server.send_message(b"first".to_vec()).unwrap();
    let first = p.server.poll_transmit(p.now).unwrap();
    assert_eq!(
        DataMessage::decode(&first).unwrap().header.credits_granted,
        1
    );
    assert_eq!(p.server.credits().send_credits(), 1);
    // Last credit, nothing to grant: the client holds every posted receive.
    p.server.send_message(b"second".to_vec()).unwrap();
    p.server.send_message(b"third".to_vec()).unwrap();
    assert_eq!(p.server.credits().available_to_grant(), 0);
    assert_eq!(
        p.server.poll_transmit(p.now),
        None,
        "must not spend the last credit"
    );
    assert_eq!(p.server.stats().credit_stalls, 1);
    // One more receive unblocks it, even past ReceiveCreditMax (4): the client is idle
    // and holds all four, so waiting for it would wait forever.
    assert_eq!(p.server.receives_to_post(), 1);
    p.server.receive_posted(1);
    let second = p.server.poll_transmit(p.now).unwrap();
    let m = DataMessage::decode(&second).unwrap();
    assert_eq!(m.header.credits_granted, 1);
    assert!(
        m.header.response_requested(),
        "last credit spent with more queued: ask for credits"
    );
    assert_eq!(m.payload, b"second");
    assert_eq!(p.server.credits().send_credits(), 0);
    assert_eq!(p.server.poll_transmit(p.now), None);
    // The client gets both, answers promptly, and the rest flows.
    p.to_client.push_back(first);
    p.to_client.push_back(second);
    p.client.send_message(b"more".to_vec()).unwrap();
    p.settle().unwrap();
    assert_eq!(
        p.client_got,
        [b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]
    );
    assert_eq!(p.server_got, [b"more".to_vec()]);
}

/// The multi-fragment send corruption: while the server sends a message in several
/// fragments, the client asks for a response and grants credits. Nothing may come between
/// the fragments: the answer and the grants ride on the next fragment, RemainingDataLength
/// counts down without a break, and the client reassembles exactly what was sent.
#[test]
fn regression_multi_fragment_send_is_not_interleaved() {
    let mut p = Pair::established();
    let msg = pattern(5 * 1340, 9);
    p.server.send_message(msg.clone()).unwrap();
    let first = p.server.poll_transmit(p.now).unwrap();
    let mut out = vec![first];
    // Mid-message: a keepalive request and a credit grant from the client.
    p.to_server
        .push_back(util::data_packet(255, 0, FLAG_RESPONSE_REQUESTED, 0, &[]));
    p.to_server.push_back(util::data_packet(255, 3, 0, 0, &[]));
    p.deliver_one(Side::Server).unwrap().unwrap();
    p.deliver_one(Side::Server).unwrap().unwrap();
    p.post(Side::Server);
    // A second message queued mid-send must wait for the first.
    p.server.send_message(b"next".to_vec()).unwrap();
    while let Some(pkt) = p.server.poll_transmit(p.now) {
        out.push(pkt);
    }
    let decoded: Vec<_> = out
        .iter()
        .map(|b| DataMessage::decode(b).unwrap())
        .collect();
    let shape: Vec<(usize, u32)> = decoded
        .iter()
        .map(|m| (m.payload.len(), m.header.remaining_data_length))
        .collect();
    assert_eq!(
        shape,
        [
            (1340, 5360),
            (1340, 4020),
            (1340, 2680),
            (1340, 1340),
            (1340, 0),
            (4, 0)
        ],
        "no empty message between fragments"
    );
    assert_eq!(
        decoded[1].header.flags, 0,
        "the answer is the next fragment"
    );
    let mut r = smb_direct::reassembly::Reassembler::new(1 << 20);
    let mut got = Vec::new();
    for m in &decoded {
        if let Some(done) = r.push(m.payload, m.header.remaining_data_length).unwrap() {
            got.push(done);
        }
    }
    assert_eq!(got, [msg, b"next".to_vec()]);
}
