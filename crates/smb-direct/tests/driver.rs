//! The SMB Direct stack over the in-memory verbs emulation: a server `Driver` and a client
//! `Driver`, transcript style. Negotiation over verbs, credits with few receive buffers,
//! fragmentation, multi-descriptor RDMA read (SMB2 WRITE) and write (SMB2 READ) checked byte
//! for byte, and every way a connection can break ending in a clean disconnect with every
//! pool chunk returned and every region deregistered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests

mod emu_util;

use std::time::Duration;

use emu_util::{
    assert_clean, blob, client_bytes, client_region, closed, desc, pattern, small_pool, Net,
};
use smb_direct::descriptor::{BufferDescriptorV1, DescriptorError};
use smb_direct::driver::qp_caps;
use smb_direct::negotiate::{NegotiateError, NegotiateRequest, NegotiateResponse};
use smb_direct::verbs::emu::{EmuListener, Fault};
use smb_direct::verbs::{
    Access, DeviceLimits, Listener, QpCaps, QpEvent, QueuePair, WcKind, WcStatus,
};
use smb_direct::{
    CloseReason, Config, Disconnect, Driver, DriverConfig, DriverEvent, TransferError,
    STATUS_NOT_SUPPORTED,
};

fn closed_reason(events: &[DriverEvent]) -> (CloseReason, Vec<u64>) {
    match closed(events) {
        Some(DriverEvent::Closed { reason, aborted }) => (reason.clone(), aborted.clone()),
        _ => panic!("no Closed event in {events:?}"),
    }
}

// ---- negotiation and messages ---------------------------------------------------------

#[test]
fn negotiate_over_verbs_then_exchange_messages() {
    let mut net = Net::new(
        Config::default(),
        Config::default(),
        small_pool(),
        DeviceLimits::default(),
    );
    // The QP is sized from the device limits and the configuration.
    assert_eq!(
        net.server.caps(),
        QpCaps {
            send_wr: 1024,
            recv_wr: 256,
            cqe: 1280,
            send_sge: 1,
            rd_atom: 8
        }
    );
    // Memory is registered once, at accept: receive, send and data pools, as much as
    // `registered_bytes` tells an administrator (for RLIMIT_MEMLOCK).
    assert_eq!(net.server.qp().regions_registered(), 3);
    assert_eq!(
        net.server.qp().registered_bytes(),
        smb_direct::driver::registered_bytes(&Config::default(), &small_pool())
    );
    // Before anything moved, the server has one receive posted, for the request.
    assert_eq!(net.server.qp().recvs_posted(), 1);

    net.run();
    let Some(DriverEvent::Negotiated(sp)) = net.server_events.first().cloned() else {
        panic!("server did not negotiate: {:?}", net.server_events)
    };
    let Some(DriverEvent::Negotiated(cp)) = net.client_events.first().cloned() else {
        panic!("client did not negotiate: {:?}", net.client_events)
    };
    assert_eq!(sp.max_read_write_size, 8 << 20);
    assert_eq!(cp.initial_send_credits, 255);
    assert!(net.server.connection().is_established());
    // The server keeps the client's target of receives posted, each one granted.
    assert_eq!(net.server.qp().recvs_posted(), 255);
    assert_eq!(net.server.connection().credits().posted(), 255);

    net.client.send_message(b"SMB2 NEGOTIATE".to_vec()).unwrap();
    net.run();
    assert_eq!(net.server_messages(), vec![b"SMB2 NEGOTIATE".to_vec()]);
    net.server
        .send_message(b"SMB2 NEGOTIATE reply".to_vec())
        .unwrap();
    net.run();
    assert_eq!(
        net.client_messages(),
        vec![b"SMB2 NEGOTIATE reply".to_vec()]
    );
    assert_eq!(net.server.pool_stats().data.in_use, 0);
    assert_eq!(net.server.pool_stats().send.in_use, 0);
    assert!(net.server.is_running() && net.client.is_running());
}

#[test]
fn queues_follow_small_device_limits() {
    let limits = DeviceLimits {
        max_qp_wr: 8,
        max_cqe: 64,
        max_send_sge: 1,
        max_qp_rd_atom: 2,
        max_mr_size: 1 << 30,
    };
    let (caps, cfg) = qp_caps(&limits, &Config::default(), &DriverConfig::default()).unwrap();
    assert_eq!(cfg.receive_credit_max, 7, "receive queue holds max + 1");
    assert_eq!(
        caps,
        QpCaps {
            send_wr: 8,
            recv_wr: 8,
            cqe: 16,
            send_sge: 1,
            rd_atom: 2
        }
    );
    let no_reads = DeviceLimits {
        max_qp_rd_atom: 0,
        ..limits
    };
    assert!(qp_caps(&no_reads, &Config::default(), &DriverConfig::default()).is_err());
}

#[test]
fn credits_with_few_receive_buffers() {
    // A tiny device: 8-deep queues, so ReceiveCreditMax is 7 on both sides; the client
    // also asks for only 3 send credits.
    let limits = DeviceLimits {
        max_qp_wr: 8,
        max_cqe: 64,
        max_send_sge: 1,
        max_qp_rd_atom: 2,
        max_mr_size: 1 << 30,
    };
    let client = Config {
        send_credit_target: 3,
        ..Config::default()
    };
    let mut net = Net::new(client, Config::default(), small_pool(), limits);
    net.run();
    assert!(net.server.connection().is_established());
    assert!(net.server.qp().recvs_posted() <= 8);

    // 40 requests of 3 fragments each, every one echoed: nothing is lost, nothing is sent
    // without a posted receive (the emulation would fail it with an RNR error), and the
    // send queue is never overfilled (it would refuse the post).
    let requests: Vec<Vec<u8>> = (0..40u8)
        .map(|i| pattern(3000 + usize::from(i), i))
        .collect();
    for r in &requests {
        net.client.send_message(r.clone()).unwrap();
    }
    let mut echoed = 0;
    for _ in 0..10_000 {
        net.step();
        let got = net.server_messages();
        while echoed < got.len() {
            let mut reply = got[echoed].clone();
            reply.reverse();
            net.server.send_message(reply).unwrap();
            echoed += 1;
        }
        if net.client_messages().len() == requests.len() {
            break;
        }
    }
    net.run();
    assert_eq!(net.server_messages(), requests);
    let replies: Vec<Vec<u8>> = requests
        .iter()
        .map(|r| r.iter().rev().copied().collect())
        .collect();
    assert_eq!(net.client_messages(), replies);
    assert!(net.server.is_running() && net.client.is_running());
    assert_eq!(net.server.qp().stats().errors, 0);
    assert_eq!(net.client.qp().stats().errors, 0);
    assert!(
        net.client.connection_stats().credit_stalls > 0,
        "credits were the bottleneck"
    );
}

#[test]
fn held_receives_stop_the_peer_once_its_credits_are_spent() {
    let mut net = Net::established();
    // The server's upper layer is behind: it holds receives. The client holds 255 credits
    // and queues 400 one-packet messages.
    net.server.hold_receives(true);
    let requests: Vec<Vec<u8>> = (0..400u32)
        .map(|i| format!("request {i}").into_bytes())
        .collect();
    for r in &requests {
        net.client.send_message(r.clone()).unwrap();
    }
    net.run();
    // What was already posted (and granted) arrives, nothing more: no receive was posted
    // again, so nothing was granted, and the client waits with the rest queued.
    assert_eq!(net.server_messages(), requests[..255].to_vec());
    assert_eq!(net.server.qp().recvs_posted(), 0);
    assert_eq!(net.client.connection().credits().send_credits(), 0);
    assert!(net.client.connection().queued_send_bytes() > 0);
    assert!(net.server.is_running() && net.client.is_running());
    assert_eq!(
        net.client.qp().stats().errors,
        0,
        "no send met a missing receive"
    );

    // Caught up: receives are posted and granted again, and the rest comes in order.
    net.server.hold_receives(false);
    net.run();
    assert_eq!(net.server_messages(), requests);
    assert_eq!(net.server.qp().recvs_posted(), 255);
    assert!(net.server.is_running() && net.client.is_running());
}

#[test]
fn fragmentation_of_messages_over_one_mib() {
    let cfg = Config {
        max_fragmented_size: 2 << 20,
        ..Config::default()
    };
    let mut net = Net::new(cfg.clone(), cfg, small_pool(), DeviceLimits::default());
    net.run();
    let up = pattern((3 << 19) + 3, 7); // 1.5 MiB + 3
    net.client.send_message(up.clone()).unwrap();
    net.run();
    assert_eq!(net.server_messages(), vec![up.clone()]);
    // Each fragment carries at most MaxSendSize - 24 = 1340 bytes.
    let fragments = up.len().div_ceil(1340) as u64;
    assert!(net.server.connection_stats().packets_received >= fragments);
    assert_eq!(
        net.server.connection_stats().bytes_received,
        up.len() as u64
    );

    let down = pattern((1 << 20) + 1, 9);
    let posts = net.server.qp().stats().send_posts;
    net.server.send_message(down.clone()).unwrap();
    net.run();
    assert_eq!(net.client_messages(), vec![down]);
    // ~780 fragments, posted in batches (as many as credits and send buffers allow at a
    // time: one doorbell each), not one post per fragment.
    let fragments = ((1 << 20) + 1usize).div_ceil(1340) as u64;
    let posts = net.server.qp().stats().send_posts - posts;
    assert!(
        posts * 20 < fragments,
        "{posts} posts for {fragments} fragments"
    );
    assert!(net.server.is_running() && net.client.is_running());
    assert_eq!(
        net.server.pool_stats().in_use(),
        net.server.qp().recvs_posted() as u32
    );
}

// ---- RDMA read and write --------------------------------------------------------------

#[test]
fn multi_descriptor_rdma_read_for_a_write() {
    let mut net = Net::established();
    let a = client_region(&mut net, &pattern(300_000, 1));
    let b = client_region(&mut net, &pattern((1 << 20) + 7, 2));
    let c = client_region(&mut net, &pattern(4097, 3));
    let list = [
        desc(&a, 100, 200_000),
        desc(&b, 0, (1 << 20) + 7),
        desc(&c, 1, 4096),
    ];
    let mut expect = client_bytes(&net, &a, 100, 200_000);
    expect.extend(client_bytes(&net, &b, 0, (1 << 20) + 7));
    expect.extend(client_bytes(&net, &c, 1, 4096));

    // The SMB2 WRITE arrives as a message; the server pulls its data.
    net.client.send_message(blob(&list)).unwrap();
    net.run();
    let channel_info = net.server_messages().pop().unwrap();
    let id = net.server.rdma_read(&channel_info).unwrap();
    net.run();
    let data = net
        .server_events
        .iter()
        .find_map(|e| match e {
            DriverEvent::ReadDone { id: got, data } if *got == id => Some(data.clone()),
            _ => None,
        })
        .expect("ReadDone");
    assert_eq!(data.len(), expect.len());
    assert!(data == expect, "RDMA-read bytes differ");

    // 64 KiB chunks: 4 + 17 + 1 work requests, at most 8 reads in flight (rd_atom), never
    // more than the 8-chunk data pool.
    let s = net.server.stats();
    assert_eq!(s.rdma_reads, 22);
    assert_eq!(s.rdma_read_bytes, expect.len() as u64);
    assert_eq!(s.reads_in_flight_high, 8);
    let pools = net.server.pool_stats();
    assert_eq!(pools.data.high_water, 8);
    assert_eq!(pools.data.in_use, 0);
    assert_eq!(net.server.qp().stats().rdma_read_bytes, expect.len() as u64);
    assert!(net.server.is_running());
}

#[test]
fn a_reply_sent_at_write_done_arrives_behind_the_data() {
    // 1 MiB + 5 through an 8 x 64 KiB pool: the last writes are posted only after earlier
    // ones completed and gave their chunks back. WriteDone comes when the last one is
    // posted, before it completes; the reply sent then must still reach the client only
    // after every byte is in its buffer.
    let mut net = Net::established();
    let len = (1 << 20) + 5;
    let a = client_region(&mut net, &vec![0; len]);
    let data = pattern(len, 9);
    let id = net
        .server
        .rdma_write(&blob(&[desc(&a, 0, len as u32)]), data.clone())
        .unwrap();
    let mut replied = false;
    for _ in 0..10_000 {
        net.step();
        if !replied
            && net
                .server_events
                .contains(&DriverEvent::WriteDone { id, len })
        {
            assert!(
                net.server.pool_stats().data.in_use > 0,
                "WriteDone comes with writes still outstanding"
            );
            net.server.send_message(b"READ response".to_vec()).unwrap();
            replied = true;
        }
        if !net.client_messages().is_empty() {
            // The moment the reply is there, so is all of the data.
            assert!(
                client_bytes(&net, &a, 0, len as u32) == data,
                "reply before data"
            );
            break;
        }
    }
    assert_eq!(net.client_messages(), vec![b"READ response".to_vec()]);
    net.run();
    assert_eq!(net.server.stats().rdma_write_bytes, len as u64);
    assert_eq!(net.server.pool_stats().data.in_use, 0);
    assert!(net.server.is_running() && net.client.is_running());
}

#[test]
fn multi_descriptor_rdma_write_for_a_read_with_invalidate() {
    let mut net = Net::established();
    let a = client_region(&mut net, &[0xEE; 128 * 1024]);
    let b = client_region(&mut net, &[0xEE; 70_000]);
    let list = [desc(&a, 0, 128 * 1024), desc(&b, 5, 60_000)];
    // A short read: less data than the descriptors could take.
    let data = pattern(128 * 1024 + 50_000, 4);
    let id = net.server.rdma_write(&blob(&list), data.clone()).unwrap();
    net.run();
    assert!(net.server_events.contains(&DriverEvent::WriteDone {
        id,
        len: data.len()
    }));
    // Then the READ response, sent with invalidate of the first descriptor's token.
    net.server
        .send_message_invalidate(b"READ response".to_vec(), a.rkey)
        .unwrap();
    net.run();
    assert_eq!(net.client_messages(), vec![b"READ response".to_vec()]);

    assert_eq!(client_bytes(&net, &a, 0, 128 * 1024), data[..128 * 1024]);
    assert_eq!(client_bytes(&net, &b, 0, 5), [0xEE; 5]);
    assert_eq!(client_bytes(&net, &b, 5, 50_000), data[128 * 1024..]);
    assert_eq!(
        client_bytes(&net, &b, 50_005, 19_995),
        vec![0xEE; 19_995],
        "bytes past the data untouched"
    );
    assert!(
        !net.client.qp().rkey_valid(a.rkey),
        "invalidated by the send"
    );
    assert!(net.client.qp().rkey_valid(b.rkey));
    assert_eq!(net.server.stats().rdma_write_bytes, data.len() as u64);
    // The data fits the pool: one buffer, one work request per descriptor.
    assert_eq!(net.server.stats().rdma_writes, 2);

    // The invalidated token no longer grants access: RDMA on it kills the connection.
    net.server
        .rdma_write(&blob(&[desc(&a, 0, 16)]), vec![1; 16])
        .unwrap();
    net.run();
    let (reason, _) = closed_reason(&net.server_events);
    assert_eq!(
        reason,
        CloseReason::WorkRequest {
            kind: WcKind::RdmaWrite,
            status: WcStatus::RemoteAccessError
        }
    );
    assert_clean(&net.server, 0);
    assert_clean(&net.client, 2);
}

#[test]
fn data_longer_than_the_descriptors_is_refused_and_the_connection_lives() {
    let mut net = Net::established();
    let a = client_region(&mut net, &[0; 100]);
    assert_eq!(
        net.server
            .rdma_write(&blob(&[desc(&a, 0, 100)]), vec![0; 101]),
        Err(TransferError::DataTooLong {
            len: 101,
            room: 100
        })
    );
    assert!(net.server.is_running());
    // A zero-byte read result completes at once.
    let id = net
        .server
        .rdma_write(&blob(&[desc(&a, 0, 100)]), Vec::new())
        .unwrap();
    net.run();
    assert!(net
        .server_events
        .contains(&DriverEvent::WriteDone { id, len: 0 }));
}

#[test]
fn transfers_before_negotiation_are_refused() {
    let mut net = Net::new(
        Config::default(),
        Config::default(),
        small_pool(),
        DeviceLimits::default(),
    );
    let d = blob(&[BufferDescriptorV1 {
        offset: 0,
        token: 1,
        length: 1,
    }]);
    assert_eq!(net.server.rdma_read(&d), Err(TransferError::NotEstablished));
}

// ---- failures: every one a clean disconnect -------------------------------------------

/// A server in the middle of pulling 1 MiB from the client.
fn mid_read() -> (Net, u64) {
    let mut net = Net::established();
    let a = client_region(&mut net, &pattern(1 << 20, 5));
    let id = net
        .server
        .rdma_read(&blob(&[desc(&a, 0, 1 << 20)]))
        .unwrap();
    net.run_until(100, |n| n.server.stats().rdma_reads >= 3);
    assert!(net.server.stats().rdma_reads < 16, "still mid-transfer");
    (net, id)
}

#[test]
fn injected_qp_error_mid_transfer() {
    let (mut net, id) = mid_read();
    net.server.qp().qp_error();
    net.run();
    let (reason, aborted) = closed_reason(&net.server_events);
    assert_eq!(reason, CloseReason::QpFatal);
    assert_eq!(aborted, vec![id]);
    assert_clean(&net.server, 0);
    // The client is told and tears down too.
    assert_eq!(
        closed_reason(&net.client_events).0,
        CloseReason::PeerDisconnected
    );
    assert_clean(&net.client, 1);
}

#[test]
fn injected_failure_of_the_nth_work_request() {
    let (mut net, id) = mid_read();
    net.server.qp().inject(Fault::FailNthWr {
        n: 2,
        status: WcStatus::LocalProtectionError,
    });
    net.run();
    let (reason, aborted) = closed_reason(&net.server_events);
    assert_eq!(
        reason,
        CloseReason::WorkRequest {
            kind: WcKind::RdmaRead,
            status: WcStatus::LocalProtectionError
        }
    );
    assert_eq!(aborted, vec![id]);
    assert_clean(&net.server, 0);
    assert_clean(&net.client, 1);
}

#[test]
fn injected_failure_of_a_send() {
    let mut net = Net::established();
    net.server.qp().inject(Fault::FailNthWr {
        n: 1,
        status: WcStatus::Other(0x99),
    });
    net.server.send_message(pattern(5000, 1)).unwrap();
    net.run();
    assert_eq!(
        closed_reason(&net.server_events).0,
        CloseReason::WorkRequest {
            kind: WcKind::Send,
            status: WcStatus::Other(0x99)
        }
    );
    assert_clean(&net.server, 0);
    assert_clean(&net.client, 0);
}

#[test]
fn peer_vanishes_mid_rdma_read() {
    let (mut net, id) = mid_read();
    net.server.qp().inject(Fault::PeerVanishesAfter { n: 2 });
    // Only the server runs on: the client's host is gone.
    for _ in 0..100 {
        net.server.process(net.now);
        net.drain();
    }
    let (reason, aborted) = closed_reason(&net.server_events);
    assert_eq!(
        reason,
        CloseReason::WorkRequest {
            kind: WcKind::RdmaRead,
            status: WcStatus::RetryExceeded
        }
    );
    assert_eq!(aborted, vec![id]);
    assert_clean(&net.server, 0);
}

#[test]
fn peer_vanishes_mid_rdma_write() {
    let mut net = Net::established();
    let a = client_region(&mut net, &[0; 1 << 20]);
    let id = net
        .server
        .rdma_write(&blob(&[desc(&a, 0, 1 << 20)]), pattern(1 << 20, 6))
        .unwrap();
    net.run_until(100, |n| n.server.stats().rdma_writes >= 2);
    // Half of it is posted (the 8-chunk pool is full), the rest waits for chunks: the
    // transfer is not done yet.
    assert!(!net
        .server_events
        .iter()
        .any(|e| matches!(e, DriverEvent::WriteDone { .. })));
    // The client's host dies: no disconnect, nothing.
    net.client.qp().vanish();
    for _ in 0..100 {
        net.server.process(net.now);
        net.drain();
    }
    let (reason, aborted) = closed_reason(&net.server_events);
    assert_eq!(
        reason,
        CloseReason::WorkRequest {
            kind: WcKind::RdmaWrite,
            status: WcStatus::RetryExceeded
        }
    );
    assert_eq!(aborted, vec![id]);
    assert_clean(&net.server, 0);
}

#[test]
fn idle_peer_that_vanished_is_found_by_the_keepalive() {
    let mut net = Net::established();
    net.client.qp().vanish();
    let idle = Config::default().keepalive_interval;
    net.advance(idle);
    let mut now = net.now;
    for _ in 0..10 {
        net.server.handle_timeout(now);
        net.server.process(now);
        now += Duration::from_secs(1);
    }
    net.drain();
    // The keepalive send finds nobody there (or the timeout fires first): either way a
    // clean close.
    let (reason, _) = closed_reason(&net.server_events);
    assert!(
        matches!(
            reason,
            CloseReason::WorkRequest {
                kind: WcKind::Send,
                status: WcStatus::RetryExceeded
            } | CloseReason::Protocol(Disconnect::KeepaliveTimeout(_))
        ),
        "{reason:?}"
    );
    assert_clean(&net.server, 0);
}

#[test]
fn descriptor_outside_the_peers_registered_memory() {
    let cases: Vec<fn(&smb_direct::verbs::Region) -> BufferDescriptorV1> = vec![
        // past the end of the region
        |a| desc(a, 4000, 200),
        // before its start
        |a| BufferDescriptorV1 {
            offset: a.addr - 1,
            token: a.rkey,
            length: 16,
        },
        // the lkey is not an rkey
        |a| BufferDescriptorV1 {
            offset: a.addr,
            token: a.lkey,
            length: 16,
        },
        // a token that names nothing
        |a| BufferDescriptorV1 {
            offset: a.addr,
            token: 0xDEAD_BEEF,
            length: 16,
        },
    ];
    for (i, make) in cases.into_iter().enumerate() {
        for read in [true, false] {
            let mut net = Net::established();
            let a = client_region(&mut net, &[7; 4096]);
            let good = desc(&a, 0, 1024);
            let bad = make(&a);
            let list = blob(&[good, bad]);
            let id = if read {
                net.server.rdma_read(&list).unwrap()
            } else {
                let len = 1024 + bad.length as usize;
                net.server.rdma_write(&list, vec![1; len]).unwrap()
            };
            net.run();
            let (reason, aborted) = closed_reason(&net.server_events);
            let kind = if read {
                WcKind::RdmaRead
            } else {
                WcKind::RdmaWrite
            };
            assert_eq!(
                reason,
                CloseReason::WorkRequest {
                    kind,
                    status: WcStatus::RemoteAccessError
                },
                "case {i} read {read}"
            );
            if read {
                assert_eq!(aborted, vec![id]);
            } else {
                // A write transfer is done once posted; its failure ends the connection.
                let done = DriverEvent::WriteDone {
                    id,
                    len: 1024 + bad.length as usize,
                };
                assert!(net.server_events.contains(&done), "case {i}");
                assert_eq!(aborted, Vec::<u64>::new());
            }
            assert_clean(&net.server, 0);
            assert_eq!(
                closed_reason(&net.client_events).0,
                CloseReason::PeerDisconnected
            );
            assert_clean(&net.client, 1);
        }
    }
}

#[test]
fn descriptors_too_long_or_malformed() {
    let five_mib = 5 << 20;
    let too_long = blob(&[
        BufferDescriptorV1 {
            offset: 0x1000,
            token: 1,
            length: five_mib,
        },
        BufferDescriptorV1 {
            offset: 0x1000_0000,
            token: 1,
            length: five_mib,
        },
    ]);
    let too_many = blob(&vec![
        BufferDescriptorV1 {
            offset: 0,
            token: 1,
            length: 1
        };
        65
    ]);
    let cases: Vec<(Vec<u8>, DescriptorError)> = vec![
        (
            too_long,
            DescriptorError::TooLong {
                total: 10 << 20,
                max: 8 << 20,
            },
        ),
        (too_many, DescriptorError::TooMany { count: 65, max: 64 }),
        (vec![0; 17], DescriptorError::Ragged(17)),
        (Vec::new(), DescriptorError::Empty),
    ];
    for (channel_info, err) in cases {
        let mut net = Net::established();
        assert_eq!(
            net.server.rdma_read(&channel_info),
            Err(TransferError::Descriptor(err))
        );
        assert!(!net.server.is_running());
        assert_eq!(
            net.server.rdma_read(&channel_info),
            Err(TransferError::Closed)
        );
        net.run();
        assert_eq!(
            closed_reason(&net.server_events).0,
            CloseReason::Descriptor(err)
        );
        assert_clean(&net.server, 0);
        assert_clean(&net.client, 0);
    }
}

#[test]
fn local_close_with_transfers_in_flight() {
    let (mut net, id) = mid_read();
    net.server.close();
    assert_eq!(
        net.server.send_message(b"late".to_vec()),
        Err(smb_direct::SendError::Closed)
    );
    net.run();
    assert_eq!(
        closed_reason(&net.server_events),
        (CloseReason::Local, vec![id])
    );
    assert_clean(&net.server, 0);
    assert_clean(&net.client, 1);
}

#[test]
fn negotiate_failure_response_is_sent_before_the_disconnect() {
    // A raw client on the emulation offering only version 2.0.
    let limits = DeviceLimits::default();
    let mut listener = EmuListener::new(limits);
    let (caps, _) = qp_caps(&limits, &Config::default(), &DriverConfig::default()).unwrap();
    let mut client = listener.connect(caps);
    let req = listener.poll_request().unwrap().unwrap();
    let now = std::time::Instant::now();
    let mut server = Driver::accept(req, Config::default(), small_pool(), now).unwrap();

    let mem = client.register(4096, Access::LOCAL).unwrap();
    let recv = mem.sge(0, 1024).unwrap();
    let send = mem.sge(1024, 20).unwrap();
    client.post_recv(1, recv).unwrap();
    let bad = NegotiateRequest {
        min_version: 0x0200,
        max_version: 0x0200,
        ..NegotiateRequest::from_config(&Config::default())
    };
    client.write_local(send, &bad.encode()).unwrap();
    client.post_send(2, send, None).unwrap();

    let mut completions = Vec::new();
    let mut events = Vec::new();
    for _ in 0..10 {
        client.poll_cq(&mut completions, 16).unwrap();
        server.process(now);
        while let Some(e) = server.poll_event() {
            events.push(e);
        }
    }
    let recv_done = completions
        .iter()
        .find(|c| c.wr_id == 1 && c.status == WcStatus::Success)
        .expect("the failure response arrived");
    let mut resp = vec![0; recv_done.byte_len as usize];
    client
        .read_local(mem.sge(0, recv_done.byte_len).unwrap(), &mut resp)
        .unwrap();
    let resp = NegotiateResponse::decode(&resp).unwrap();
    assert_eq!(resp.status, STATUS_NOT_SUPPORTED);
    assert_eq!(client.poll_event(), Some(QpEvent::Disconnected));
    assert_eq!(
        closed_reason(&events).0,
        CloseReason::Protocol(Disconnect::Negotiate(NegotiateError::VersionNotSupported {
            min: 0x0200,
            max: 0x0200
        }))
    );
    assert_clean(&server, 0);
}

#[test]
fn idle_connection_keepalive_over_verbs() {
    let mut net = Net::established();
    net.advance(Config::default().keepalive_interval);
    let now = net.now;
    net.server.handle_timeout(now);
    net.client.handle_timeout(now);
    net.run();
    assert!(net.server.connection_stats().keepalives_sent >= 1);
    assert!(net.server.is_running() && net.client.is_running());
    // Well past the keepalive timeout: still alive, the keepalive was answered.
    net.advance(Duration::from_secs(10));
    let now = net.now;
    net.server.handle_timeout(now);
    net.run();
    assert!(net.server.is_running(), "{:?}", net.server_events);
}

#[test]
fn eight_mib_write_and_read_with_the_default_pool() {
    let mut net = Net::new(
        Config::default(),
        Config::default(),
        DriverConfig::default(),
        DeviceLimits::default(),
    );
    net.run();
    let data = pattern(8 << 20, 11);
    let a = client_region(&mut net, &data[..5 << 20]);
    let b = client_region(&mut net, &data[5 << 20..]);
    let list = blob(&[desc(&a, 0, 5 << 20), desc(&b, 0, 3 << 20)]);
    let id = net.server.rdma_read(&list).unwrap();
    net.run();
    let got = net.server_events.iter().find_map(|e| match e {
        DriverEvent::ReadDone { id: got, data } if *got == id => Some(data.clone()),
        _ => None,
    });
    assert!(got.as_deref() == Some(&data[..]), "8 MiB read back intact");
    // And back the other way, reversed, over the same buffers.
    let back: Vec<u8> = data.iter().rev().copied().collect();
    let id = net.server.rdma_write(&list, back.clone()).unwrap();
    net.run();
    assert!(net
        .server_events
        .contains(&DriverEvent::WriteDone { id, len: 8 << 20 }));
    let mut written = client_bytes(&net, &a, 0, 5 << 20);
    written.extend(client_bytes(&net, &b, 0, 3 << 20));
    assert!(written == back, "8 MiB written intact");
    // 8 MiB fits the 16 MiB default pool: in place, in 1 MiB work requests (5 + 3); the
    // read's bytes were still held while the write had its own 8 MiB: the whole pool.
    assert_eq!(net.server.stats().rdma_reads, 8);
    assert_eq!(net.server.stats().rdma_writes, 8);
    assert_eq!(net.server.pool_stats().data.high_water, 256);
    drop(got);
    net.server_events.clear();
    assert_eq!(net.server.pool_stats().data.in_use, 0);
}

/// The ReadDone bytes of `id`, taken out of the events.
fn take_read_done(net: &mut Net, id: u64) -> Option<bytes::Bytes> {
    let at = net
        .server_events
        .iter()
        .position(|e| matches!(e, DriverEvent::ReadDone { id: got, .. } if *got == id))?;
    match net.server_events.remove(at) {
        DriverEvent::ReadDone { data, .. } => Some(data),
        _ => None,
    }
}

#[test]
fn rdma_read_data_stays_in_the_pool_until_the_upper_layer_drops_it() {
    // 8 x 64 KiB pool. A 400 KB WRITE's data lands in 7 units and stays there, lent to
    // the upper layer, while it writes the file; a 200 KB WRITE behind it must wait for
    // room (4 units) and moves nothing until the first one's bytes are dropped.
    let mut net = Net::established();
    let a = client_region(&mut net, &pattern(400_000, 1));
    let b = client_region(&mut net, &pattern(200_000, 2));
    let first = net
        .server
        .rdma_read(&blob(&[desc(&a, 0, 400_000)]))
        .unwrap();
    net.run();
    let held = take_read_done(&mut net, first).expect("first read done");
    assert!(held == pattern(400_000, 1));
    assert_eq!(net.server.pool_stats().data.in_use, 7);
    assert_eq!(
        net.server.stats().rdma_reads,
        1,
        "in place: one work request"
    );

    let second = net
        .server
        .rdma_read(&blob(&[desc(&b, 0, 200_000)]))
        .unwrap();
    net.run();
    assert!(take_read_done(&mut net, second).is_none(), "no room yet");
    assert_eq!(net.server.stats().rdma_reads, 1);

    let copy = held.clone(); // a clone keeps the buffer too
    drop(held);
    net.run();
    assert_eq!(net.server.stats().rdma_reads, 1, "still held by the clone");
    drop(copy);
    net.run();
    let got = take_read_done(&mut net, second).expect("second read done");
    assert!(got == pattern(200_000, 2));
    drop(got);
    assert_eq!(net.server.pool_stats().data.in_use, 0);
    assert!(net.server.is_running());
}

#[test]
fn a_leased_buffer_is_rdma_written_in_place_and_comes_back_after_completion() {
    let mut net = Net::established();
    let a = client_region(&mut net, &[0; 100_000]);
    let mut buf = net.server.lease(100_000).expect("room in the pool");
    assert_eq!(buf.capacity(), 2 * 64 * 1024);
    assert_eq!(buf.extend_from_slice(&pattern(100_000, 7)), 100_000);
    assert_eq!(net.server.pool_stats().data.in_use, 2);
    let id = net
        .server
        .rdma_write_buf(&blob(&[desc(&a, 0, 100_000)]), buf)
        .unwrap();
    net.run();
    assert!(net
        .server_events
        .contains(&DriverEvent::WriteDone { id, len: 100_000 }));
    assert!(client_bytes(&net, &a, 0, 100_000) == pattern(100_000, 7));
    assert_eq!(net.server.stats().rdma_writes, 1);
    assert_eq!(net.server.pool_stats().data.in_use, 0);

    // More than the descriptors take is refused, and the buffer simply goes back.
    let mut big = net.server.lease(10).unwrap();
    big.extend_from_slice(&[1; 10]);
    assert_eq!(
        net.server.rdma_write_buf(&blob(&[desc(&a, 0, 9)]), big),
        Err(TransferError::DataTooLong { len: 10, room: 9 })
    );
    assert_eq!(net.server.pool_stats().data.in_use, 0);
    // The whole pool is 8 units: a larger lease is not there.
    assert!(net.server.lease(9 * 64 * 1024).is_none());
}

#[test]
fn a_transfer_waiting_for_room_does_not_hold_back_those_that_have_their_memory() {
    // The whole 8-unit pool is lent to the upper layer (two READs' file data); a third
    // READ, handed over in a Vec, waits for room. The two leased ones are queued behind it
    // and must still go: their completions are what makes the room.
    let mut net = Net::established();
    let a = client_region(&mut net, &[0; 3 * 65536]);
    let mut first = net.server.lease(4 * 65536).expect("first half");
    let mut second = net.server.lease(4 * 65536).expect("second half");
    assert!(net.server.lease(1).is_none(), "pool lent out");
    first.extend_from_slice(&pattern(65536, 1));
    second.extend_from_slice(&pattern(65536, 2));
    let info = |at: u64| blob(&[desc(&a, at, 65536)]);
    let waiting = net.server.rdma_write(&info(0), pattern(65536, 3)).unwrap();
    let one = net.server.rdma_write_buf(&info(65536), first).unwrap();
    let two = net.server.rdma_write_buf(&info(2 * 65536), second).unwrap();
    net.run();
    for id in [waiting, one, two] {
        assert!(
            net.server_events
                .contains(&DriverEvent::WriteDone { id, len: 65536 }),
            "transfer {id} done"
        );
    }
    assert!(client_bytes(&net, &a, 0, 65536) == pattern(65536, 3));
    assert!(client_bytes(&net, &a, 65536, 65536) == pattern(65536, 1));
    assert!(client_bytes(&net, &a, 2 * 65536, 65536) == pattern(65536, 2));
    assert_eq!(
        net.server.stats().copied_bytes,
        65536,
        "only the Vec's bytes"
    );
    assert_eq!(net.server.pool_stats().data.in_use, 0);
}

#[test]
fn flush_posts_a_write_at_once_and_its_write_done_can_be_taken_there() {
    // The upper layer posts from its own task and takes its WriteDone without a round
    // trip through process(); the data still arrives ahead of the reply sent next.
    let mut net = Net::established();
    let a = client_region(&mut net, &[0; 4096]);
    let mut buf = net.server.lease(4096).unwrap();
    buf.extend_from_slice(&pattern(4096, 5));
    let id = net
        .server
        .rdma_write_buf(&blob(&[desc(&a, 0, 4096)]), buf)
        .unwrap();
    assert_eq!(net.server.take_write_done(id), None, "not posted yet");
    net.server.flush(net.now);
    assert_eq!(net.server.stats().rdma_writes, 1, "posted by flush");
    assert_eq!(net.server.take_write_done(id), Some(4096));
    assert!(!net.server.has_events(), "taken, not left for poll_event");
    net.server.send_message(b"READ response".to_vec()).unwrap();
    net.server.flush(net.now);
    net.run();
    assert_eq!(net.client_messages(), vec![b"READ response".to_vec()]);
    assert!(client_bytes(&net, &a, 0, 4096) == pattern(4096, 5));
    assert!(!net
        .server_events
        .iter()
        .any(|e| matches!(e, DriverEvent::WriteDone { .. })));
    assert_eq!(net.server.pool_stats().data.in_use, 0);
}
