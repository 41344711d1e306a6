//! A peer that breaks the rules: malformed negotiate and data messages, credit abuse,
//! oversized and inconsistent fragments, silence. Each ends in a typed `Disconnect` (never a
//! panic), and a closed connection stays closed and quiet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests

mod util;

use std::time::{Duration, Instant};

use smb_direct::credits::CreditError;
use smb_direct::data::{DataError, DataMessage};
use smb_direct::negotiate::{NegotiateError, NegotiateRequest, NegotiateResponse};
use smb_direct::reassembly::ReassemblyError;
use smb_direct::{
    Config, ConfigError, Connection, Disconnect, Event, SendError, FLAG_RESPONSE_REQUESTED,
    STATUS_NOT_SUPPORTED,
};
use util::{data_packet, pattern, Pair, Side};

fn request() -> NegotiateRequest {
    NegotiateRequest::from_config(&Config::default())
}

/// A server that accepted `req` with `posted` receives and sent its response.
fn server_after(req: &NegotiateRequest, posted: u32) -> (Connection, Instant, NegotiateResponse) {
    let now = Instant::now();
    let mut s = Connection::server(Config::default(), now).unwrap();
    s.receive_posted(s.receives_to_post());
    s.handle_recv(now, &req.encode()).unwrap();
    s.receive_posted(posted);
    let resp = NegotiateResponse::decode(&s.poll_transmit(now).unwrap()).unwrap();
    assert!(s.is_established());
    (s, now, resp)
}

fn refused(s: &mut Connection, now: Instant, pkt: &[u8]) -> Disconnect {
    let e = s.handle_recv(now, pkt).unwrap_err();
    assert_eq!(s.close_reason(), Some(&e));
    e
}

// ---- negotiate request (3.1.5.6) ------------------------------------------------------------

#[test]
fn negotiate_request_shorter_than_20_bytes_disconnects() {
    let bytes = request().encode();
    for len in 0..20 {
        let now = Instant::now();
        let mut s = Connection::server(Config::default(), now).unwrap();
        s.receive_posted(1);
        assert_eq!(
            refused(&mut s, now, &bytes[..len]),
            Disconnect::Negotiate(NegotiateError::TooShort { len, need: 20 })
        );
        assert_eq!(s.poll_transmit(now), None, "no response to a runt");
    }
}

#[test]
fn version_range_without_0x0100_gets_not_supported_then_disconnect() {
    let now = Instant::now();
    let mut s = Connection::server(Config::default(), now).unwrap();
    s.receive_posted(1);
    let req = NegotiateRequest {
        min_version: 0x0200,
        max_version: 0x0300,
        ..request()
    };
    let e = refused(&mut s, now, &req.encode());
    assert_eq!(
        e.to_string(),
        "negotiate: version range 0x0200..=0x0300 does not include 0x0100"
    );
    // The failure response goes out, then nothing more.
    let resp = NegotiateResponse::decode(&s.poll_transmit(now).unwrap()).unwrap();
    assert_eq!(resp, NegotiateResponse::failure(STATUS_NOT_SUPPORTED));
    assert_eq!(resp.status, 0xC000_00BB);
    assert_eq!(s.poll_transmit(now), None);
    assert_eq!(s.poll_event(), None);
}

#[test]
fn negotiate_request_field_violations_disconnect_without_response() {
    let cases = [
        (
            NegotiateRequest {
                credits_requested: 0,
                ..request()
            },
            NegotiateError::ZeroCreditsRequested,
        ),
        (
            NegotiateRequest {
                max_receive_size: 127,
                ..request()
            },
            NegotiateError::MaxReceiveSizeTooSmall(127),
        ),
        (
            NegotiateRequest {
                max_fragmented_size: 131_071,
                ..request()
            },
            NegotiateError::MaxFragmentedSizeTooSmall(131_071),
        ),
    ];
    for (req, err) in cases {
        let now = Instant::now();
        let mut s = Connection::server(Config::default(), now).unwrap();
        s.receive_posted(1);
        assert_eq!(
            refused(&mut s, now, &req.encode()),
            Disconnect::Negotiate(err)
        );
        assert_eq!(s.poll_transmit(now), None);
    }
}

#[test]
fn negotiate_request_larger_than_a_receive_buffer_disconnects() {
    let now = Instant::now();
    let mut s = Connection::server(Config::default(), now).unwrap();
    s.receive_posted(1);
    let mut big = request().encode();
    big.resize(8193, 0);
    assert_eq!(
        refused(&mut s, now, &big),
        Disconnect::PacketTooLarge {
            len: 8193,
            max: 8192
        }
    );
}

#[test]
fn message_without_a_posted_receive_is_a_driver_error() {
    let now = Instant::now();
    let mut s = Connection::server(Config::default(), now).unwrap();
    assert_eq!(
        refused(&mut s, now, &request().encode()),
        Disconnect::Credits(CreditError::ReceiveNotPosted)
    );
}

// ---- negotiate response (3.1.5.7), client side ----------------------------------------------

#[test]
fn client_refuses_bad_negotiate_responses() {
    let good = NegotiateResponse::success(&request().accept(&Config::default()).unwrap(), 10);
    let cases = [
        (
            NegotiateResponse::failure(STATUS_NOT_SUPPORTED),
            NegotiateError::Status(STATUS_NOT_SUPPORTED),
        ),
        (
            NegotiateResponse {
                credits_granted: 0,
                ..good
            },
            NegotiateError::ZeroCreditsGranted,
        ),
        (
            NegotiateResponse {
                preferred_send_size: 9000,
                ..good
            },
            NegotiateError::PreferredSendSizeTooLarge {
                size: 9000,
                max: 8192,
            },
        ),
    ];
    for (resp, err) in cases {
        let now = Instant::now();
        let mut c = Connection::client(Config::default(), now).unwrap();
        c.receive_posted(c.receives_to_post());
        c.poll_transmit(now).unwrap();
        assert_eq!(
            refused(&mut c, now, &resp.encode()),
            Disconnect::Negotiate(err)
        );
    }
    // Every truncation of a good response.
    let bytes = good.encode();
    for len in 0..bytes.len() {
        let now = Instant::now();
        let mut c = Connection::client(Config::default(), now).unwrap();
        c.receive_posted(1);
        c.poll_transmit(now).unwrap();
        assert!(c.handle_recv(now, &bytes[..len]).is_err());
    }
}

#[test]
fn client_refuses_a_message_before_its_request() {
    let now = Instant::now();
    let mut c = Connection::client(Config::default(), now).unwrap();
    c.receive_posted(1);
    assert_eq!(
        refused(&mut c, now, &[0; 32]),
        Disconnect::UnexpectedMessage
    );
}

// ---- data transfer messages (3.1.5.8) -------------------------------------------------------

#[test]
fn data_before_the_negotiate_response_has_no_credit() {
    let now = Instant::now();
    let mut s = Connection::server(Config::default(), now).unwrap();
    s.receive_posted(1);
    s.handle_recv(now, &request().encode()).unwrap();
    s.receive_posted(10);
    // The response has not gone out: the client holds no credit yet.
    assert_eq!(
        refused(&mut s, now, &data_packet(10, 10, 0, 0, b"early")),
        Disconnect::Credits(CreditError::NoReceiveCredit)
    );
}

#[test]
fn peer_sending_more_messages_than_it_holds_credits_disconnects() {
    let (mut s, now, resp) = server_after(&request(), 4);
    assert_eq!(resp.credits_granted, 4);
    // The server's driver does not repost: the client holds exactly 4 credits.
    for i in 0..4 {
        s.handle_recv(now, &data_packet(255, 1, 0, 0, &[i]))
            .unwrap();
    }
    assert_eq!(
        refused(&mut s, now, &data_packet(255, 1, 0, 0, b"fifth")),
        Disconnect::Credits(CreditError::ReceiveNotPosted)
    );
    // With buffers posted but not granted, it is the credit that is missing.
    let (mut s, now, _) = server_after(&request(), 4);
    for i in 0..4 {
        s.handle_recv(now, &data_packet(255, 1, 0, 0, &[i]))
            .unwrap();
    }
    s.receive_posted(4);
    assert_eq!(
        refused(&mut s, now, &data_packet(255, 1, 0, 0, b"fifth")),
        Disconnect::Credits(CreditError::NoReceiveCredit)
    );
}

#[test]
fn structural_violations_disconnect() {
    let mut zero_req = data_packet(1, 1, 0, 0, b"x");
    zero_req[0] = 0;
    let mut misaligned = data_packet(1, 1, 0, 0, b"xxxxxxxx");
    misaligned[12] = 28;
    let mut in_header = data_packet(1, 1, 0, 0, b"xxxxxxxx");
    in_header[12] = 16;
    let mut past_end = data_packet(1, 1, 0, 0, b"xxxxxxxx");
    past_end[16] = 9;
    let cases = [
        (zero_req, DataError::ZeroCreditsRequested),
        (misaligned, DataError::MisalignedOffset(28)),
        (in_header, DataError::OffsetInHeader(16)),
        (
            past_end,
            DataError::OutOfBounds {
                offset: 24,
                length: 9,
                len: 32,
            },
        ),
    ];
    for (pkt, err) in cases {
        let (mut s, now, _) = server_after(&request(), 8);
        assert_eq!(refused(&mut s, now, &pkt), Disconnect::Data(err));
    }
}

#[test]
fn packet_larger_than_negotiated_receive_size_disconnects() {
    // The client prefers to send 1364, so the server expects at most 1364.
    let (mut s, now, resp) = server_after(&request(), 8);
    assert_eq!(resp.max_receive_size, 1364);
    let pkt = data_packet(1, 1, 0, 0, &[0; 1341]);
    assert_eq!(
        refused(&mut s, now, &pkt),
        Disconnect::PacketTooLarge {
            len: 1365,
            max: 1364
        }
    );
}

#[test]
fn fragment_announcing_more_than_max_fragmented_size_disconnects() {
    let (mut s, now, _) = server_after(&request(), 8);
    let pkt = data_packet(1, 1, 0, (1 << 20) - 99, &[0; 100]);
    assert_eq!(
        refused(&mut s, now, &pkt),
        Disconnect::Reassembly(ReassemblyError::TooLarge {
            total: (1 << 20) + 1,
            max: 1 << 20
        })
    );
}

#[test]
fn inconsistent_remaining_length_disconnects() {
    let (mut s, now, _) = server_after(&request(), 8);
    s.handle_recv(now, &data_packet(1, 1, 0, 1000, &[1; 100]))
        .unwrap();
    assert_eq!(
        refused(&mut s, now, &data_packet(1, 1, 0, 1000, &[2; 100])),
        Disconnect::Reassembly(ReassemblyError::Inconsistent {
            length: 100,
            remaining: 1000,
            expected: 1000
        })
    );
}

#[test]
fn grant_overflow_disconnects() {
    let (mut s, now, _) = server_after(&request(), 8);
    s.handle_recv(now, &data_packet(1, u16::MAX, 0, 0, b"a"))
        .unwrap();
    assert_eq!(
        refused(&mut s, now, &data_packet(1, 1, 0, 0, b"b")),
        Disconnect::Credits(CreditError::GrantOverflow {
            held: 65_535,
            granted: 1
        })
    );
}

/// The peer spends its last credit without granting any while we hold none: nobody can
/// ever send again. Better a clean disconnect now than a hang until the keepalive.
#[test]
fn peer_spending_its_last_credit_without_granting_is_a_deadlock() {
    let (mut s, now, _) = server_after(&request(), 1);
    assert_eq!(s.credits().send_credits(), 0);
    assert_eq!(
        refused(&mut s, now, &data_packet(255, 0, 0, 0, b"req")),
        Disconnect::Credits(CreditError::Deadlock)
    );
    // The same message with a grant is fine.
    let (mut s, now, _) = server_after(&request(), 1);
    s.handle_recv(now, &data_packet(255, 1, 0, 0, b"req"))
        .unwrap();
    assert!(matches!(s.poll_event(), Some(Event::Negotiated(_))));
    assert_eq!(s.poll_event(), Some(Event::Message(b"req".to_vec())));
}

/// A peer that takes our grants but never returns any: once a queued reply has waited a
/// whole keepalive interval for a send credit, the connection is closed.
#[test]
fn peer_that_never_grants_stalls_then_disconnects() {
    let (mut s, t0, _) = server_after(&request(), 8);
    s.handle_recv(t0, &data_packet(255, 1, 0, 0, b"req"))
        .unwrap();
    s.receive_posted(s.receives_to_post());
    // One credit: the reply goes out carrying a grant.
    s.send_message(b"reply".to_vec()).unwrap();
    s.send_message(b"more".to_vec()).unwrap();
    let pkt = s.poll_transmit(t0).unwrap();
    assert!(DataMessage::decode(&pkt)
        .unwrap()
        .header
        .response_requested());
    assert_eq!(s.poll_transmit(t0), None);
    assert_eq!(s.stats().credit_stalls, 1);
    // The peer keeps talking (so it is not idle) but grants nothing.
    let mut now = t0;
    for i in 0..5u8 {
        now += Duration::from_secs(20);
        s.handle_recv(now, &data_packet(255, 0, 0, 0, &[i]))
            .unwrap();
        s.receive_posted(s.receives_to_post());
        s.handle_timeout(now).unwrap();
        assert_eq!(s.poll_transmit(now), None);
    }
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    assert_eq!(
        s.handle_timeout(t0 + Duration::from_secs(120)),
        Err(Disconnect::SendStalled(Duration::from_secs(120)))
    );
}

// ---- timers ---------------------------------------------------------------------------------

#[test]
fn negotiate_must_complete_in_time() {
    let t0 = Instant::now();
    let mut s = Connection::server(Config::default(), t0).unwrap();
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(20)));
    s.handle_timeout(t0 + Duration::from_secs(19)).unwrap();
    assert_eq!(
        s.handle_timeout(t0 + Duration::from_secs(20)),
        Err(Disconnect::NegotiateTimeout(Duration::from_secs(20)))
    );
    assert_eq!(s.poll_timeout(), None);
    // The same for a client whose response never comes.
    let mut c = Connection::client(Config::default(), t0).unwrap();
    c.receive_posted(1);
    c.poll_transmit(t0).unwrap();
    assert!(c.handle_timeout(t0 + Duration::from_secs(20)).is_err());
}

#[test]
fn unanswered_keepalive_disconnects() {
    let mut p = Pair::established();
    p.advance(Duration::from_secs(120));
    p.server.handle_timeout(p.now).unwrap();
    assert_eq!(p.transmit(Side::Server), 1);
    // The client's answer is lost (a vanished peer).
    p.to_client.clear();
    p.advance(Duration::from_secs(4));
    p.server.handle_timeout(p.now).unwrap();
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.server.handle_timeout(p.now),
        Err(Disconnect::KeepaliveTimeout(Duration::from_secs(5)))
    );
}

#[test]
fn keepalive_that_cannot_be_sent_still_times_out() {
    // The server holds no send credit at all (the client never granted one).
    let (mut s, t0, _) = server_after(&request(), 8);
    let t = t0 + Duration::from_secs(120);
    s.handle_timeout(t).unwrap();
    assert_eq!(s.poll_transmit(t), None);
    assert_eq!(
        s.handle_timeout(t + Duration::from_secs(5)),
        Err(Disconnect::KeepaliveTimeout(Duration::from_secs(5)))
    );
}

// ---- closed is closed -----------------------------------------------------------------------

#[test]
fn a_closed_connection_stays_closed_and_quiet() {
    let mut p = Pair::established();
    p.server.send_message(pattern(10_000, 1)).unwrap();
    let bad = data_packet(0, 0, 0, 0, &[]);
    let e = p.server.handle_recv(p.now, &bad).unwrap_err();
    assert_eq!(e, Disconnect::Data(DataError::ZeroCreditsRequested));
    assert_eq!(p.server.handle_recv(p.now, &bad), Err(e.clone()));
    assert_eq!(
        p.server
            .handle_recv(p.now, &data_packet(1, 1, 0, 0, b"fine")),
        Err(e.clone())
    );
    assert_eq!(p.server.handle_timeout(p.now), Err(e.clone()));
    assert_eq!(
        p.server.poll_transmit(p.now),
        None,
        "queued data is dropped"
    );
    assert_eq!(p.server.receives_to_post(), 0);
    assert_eq!(p.server.poll_timeout(), None);
    assert_eq!(p.server.queued_send_bytes(), 0);
    assert_eq!(
        p.server.send_message(b"late".to_vec()),
        Err(SendError::Closed)
    );
    assert!(!p.server.is_established());
}

#[test]
fn caller_mistakes_are_send_errors_not_disconnects() {
    let now = Instant::now();
    let mut s = Connection::server(Config::default(), now).unwrap();
    assert_eq!(
        s.send_message(b"too early".to_vec()),
        Err(SendError::NotEstablished)
    );
    let mut p = Pair::established();
    assert_eq!(p.server.send_message(Vec::new()), Err(SendError::Empty));
    assert_eq!(
        p.server.send_message(vec![0; (1 << 20) + 1]),
        Err(SendError::TooLarge {
            len: (1 << 20) + 1,
            max: 1 << 20
        })
    );
    assert!(p.server.close_reason().is_none());
    assert_eq!(
        Connection::server(
            Config {
                max_receive_size: 64,
                ..Config::default()
            },
            now
        )
        .unwrap_err(),
        ConfigError::ReceiveSizeTooSmall(64)
    );
}

// ---- never a panic --------------------------------------------------------------------------

/// Every truncation of every packet the client sent in a real conversation, fed to a server
/// that has seen the conversation up to that packet, is refused: never accepted as
/// something else, never a panic.
#[test]
fn every_truncation_of_every_client_packet_is_an_error() {
    let mut p = Pair::established();
    p.client.send_message(pattern(4000, 3)).unwrap();
    p.client.send_message(b"small".to_vec()).unwrap();
    p.server.send_message(pattern(3000, 4)).unwrap();
    p.settle().unwrap();
    let client_packets: Vec<Vec<u8>> = p
        .wire
        .iter()
        .filter(|(s, _)| *s == Side::Client)
        .map(|(_, b)| b.clone())
        .collect();
    assert!(client_packets.len() >= 5);
    for (i, pkt) in client_packets.iter().enumerate() {
        for len in 0..pkt.len() {
            // Replay the conversation up to packet i on a fresh server.
            let now = p.now;
            let mut s = Connection::server(Config::default(), now).unwrap();
            for earlier in &client_packets[..i] {
                s.receive_posted(s.receives_to_post());
                while s.poll_transmit(now).is_some() {}
                s.handle_recv(now, earlier).unwrap();
                while s.poll_event().is_some() {}
            }
            s.receive_posted(s.receives_to_post());
            while s.poll_transmit(now).is_some() {}
            assert!(
                s.handle_recv(now, &pkt[..len]).is_err(),
                "packet {i} cut to {len} bytes was accepted"
            );
        }
    }
}

/// The same for the server's packets, fed to a client.
#[test]
fn every_truncation_of_every_server_packet_is_an_error() {
    let mut p = Pair::established();
    p.server.send_message(pattern(3000, 5)).unwrap();
    p.settle().unwrap();
    let server_packets: Vec<Vec<u8>> = p
        .wire
        .iter()
        .filter(|(s, _)| *s == Side::Server)
        .map(|(_, b)| b.clone())
        .collect();
    for (i, pkt) in server_packets.iter().enumerate() {
        for len in 0..pkt.len() {
            let now = p.now;
            let mut c = Connection::client(Config::default(), now).unwrap();
            for earlier in &server_packets[..i] {
                c.receive_posted(c.receives_to_post());
                while c.poll_transmit(now).is_some() {}
                c.handle_recv(now, earlier).unwrap();
            }
            c.receive_posted(c.receives_to_post());
            while c.poll_transmit(now).is_some() {}
            assert!(
                c.handle_recv(now, &pkt[..len]).is_err(),
                "server packet {i} cut to {len} bytes was accepted"
            );
        }
    }
}

/// Deterministic garbage at every stage of a connection: an error or acceptance, never a
/// panic, and the credit invariant holds whatever happens.
#[test]
fn garbage_never_panics() {
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..2000 {
        let now = Instant::now();
        let mut s = Connection::server(Config::default(), now).unwrap();
        // Sometimes start from a valid negotiation, sometimes not.
        if rnd() % 2 == 0 {
            s.receive_posted(1);
            s.handle_recv(now, &request().encode()).unwrap();
        }
        for _ in 0..(rnd() % 20) {
            s.receive_posted(s.receives_to_post());
            let len = (rnd() % 80) as usize;
            let mut pkt: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            // Make some of them plausible data messages.
            if len >= 20 && rnd() % 2 == 0 {
                pkt[0] = 1;
                pkt[12..16].copy_from_slice(&24u32.to_le_bytes());
                let dl = (len.saturating_sub(24)) as u32;
                pkt[16..20].copy_from_slice(&dl.to_le_bytes());
                pkt[8..12].copy_from_slice(&((rnd() % 3000) as u32).to_le_bytes());
                pkt[4] = (rnd() % 2) as u8 * FLAG_RESPONSE_REQUESTED as u8;
            }
            let r = s.handle_recv(now, &pkt);
            while s.poll_event().is_some() {}
            while s.poll_transmit(now).is_some() {}
            let _ = s.send_message(b"x".to_vec());
            let _ = s.handle_timeout(now + Duration::from_secs(rnd() % 300));
            let c = s.credits();
            assert!(c.granted() <= c.posted(), "{c:?}");
            if r.is_err() {
                break;
            }
        }
    }
}
