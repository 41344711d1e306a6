#![no_main]
//! SMB Direct from the network, never a panic: the input is a script of driver events for a
//! server (or, with the first byte odd, a client) `smb_direct::Connection`: received
//! packets of arbitrary bytes, receive postings, transmits, upper-layer sends and time.
//! Whatever happens, the credit invariant (no credit granted without a posted receive)
//! holds and a closed connection stays closed.

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smb_direct::descriptor::{parse_descriptors, DescriptorLimits};
use smb_direct::negotiate::{NegotiateRequest, NegotiateResponse};
use smb_direct::{Config, Connection};

/// Takes `n` bytes off the front of the script (fewer at its end).
fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = data.split_at(n.min(data.len()));
    *data = tail;
    head
}

fn take_u16(data: &mut &[u8]) -> u16 {
    let b = take(data, 2);
    let lo = b.first().copied().unwrap_or(0);
    let hi = b.get(1).copied().unwrap_or(0);
    u16::from_le_bytes([lo, hi])
}

/// The channel information of an SMB2 READ/WRITE, straight from the network: parsed or
/// refused, and what is accepted stays within the limits.
fn check_descriptors(blob: &[u8]) {
    let limits = DescriptorLimits {
        max_count: 8,
        max_total_len: 8 * 1024 * 1024,
    };
    if let Ok(list) = parse_descriptors(blob, &limits) {
        assert!(!list.is_empty() && list.len() <= limits.max_count);
        let total: u64 = list.iter().map(|d| u64::from(d.length)).sum();
        assert!(total <= limits.max_total_len);
        assert!(list
            .iter()
            .all(|d| d.offset.checked_add(u64::from(d.length)).is_some()));
    }
}

fuzz_target!(|input: &[u8]| {
    check_descriptors(input);
    let mut data = input;
    let role = take(&mut data, 1).first().copied().unwrap_or(0);
    let cfg = Config {
        receive_credit_max: 8,
        send_credit_target: 8,
        ..Config::default()
    };
    let t0 = Instant::now();
    let mut now = t0;
    let Ok(mut conn) = (if role & 1 == 0 {
        Connection::server(cfg.clone(), now)
    } else {
        Connection::client(cfg.clone(), now)
    }) else {
        return;
    };
    let mut closed = None;
    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        let result = match op % 8 {
            // A received packet of arbitrary bytes.
            0 | 1 => {
                let len = usize::from(take_u16(&mut data) % 2048);
                let pkt = take(&mut data, len).to_vec();
                conn.handle_recv(now, &pkt)
            }
            // A well-formed negotiate message, to get past negotiation quickly.
            2 => {
                let pkt = if role & 1 == 0 {
                    NegotiateRequest::from_config(&cfg).encode()
                } else {
                    let params = NegotiateRequest::from_config(&cfg).accept(&cfg).ok();
                    match params {
                        Some(p) => NegotiateResponse::success(&p, 8).encode(),
                        None => Vec::new(),
                    }
                };
                conn.handle_recv(now, &pkt)
            }
            // The driver posts what is asked (or a scripted number).
            3 => {
                let n = conn.receives_to_post();
                conn.receive_posted(n);
                Ok(())
            }
            4 => {
                let n = u32::from(take(&mut data, 1).first().copied().unwrap_or(0) % 4);
                conn.receive_posted(n);
                Ok(())
            }
            // Everything the connection wants to send.
            5 => {
                let mut guard = 0;
                while conn.poll_transmit(now).is_some() {
                    guard += 1;
                    assert!(guard < 100_000, "poll_transmit never ran dry");
                }
                while conn.poll_event().is_some() {}
                Ok(())
            }
            // An upper-layer message.
            6 => {
                let len = usize::from(take_u16(&mut data)) * 16;
                let _ = conn.send_message(vec![0x5a; len]);
                Ok(())
            }
            // Time passes.
            _ => {
                let secs = u64::from(take(&mut data, 1).first().copied().unwrap_or(0));
                now += Duration::from_secs(secs);
                conn.handle_timeout(now)
            }
        };
        let c = conn.credits();
        assert!(
            c.granted() <= c.posted(),
            "granted without a posted receive: {c:?}"
        );
        if let Some(reason) = &closed {
            assert_eq!(conn.close_reason(), Some(reason));
        } else if let Err(e) = result {
            assert_eq!(conn.close_reason(), Some(&e));
            closed = Some(e);
        }
    }
});
