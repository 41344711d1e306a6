//! The verbs emulation on its own: the RC queue-pair semantics the driver relies on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests

use smb_direct::verbs::emu::{EmuListener, EmuQp, Fault};
use smb_direct::verbs::{
    Access, Completion, ConnectRequest, DeviceLimits, Listener, QpCaps, QpEvent, QueuePair, Region,
    RemoteBuf, VerbsError, WcKind, WcStatus,
};

const CAPS: QpCaps = QpCaps {
    send_wr: 4,
    recv_wr: 4,
    cqe: 8,
    send_sge: 1,
    rd_atom: 4,
};

/// (client, server), connected.
fn pair() -> (EmuQp, EmuQp) {
    let mut l = EmuListener::new(DeviceLimits::default());
    let c = l.connect(CAPS);
    let s = l.poll_request().unwrap().unwrap().accept(CAPS).unwrap();
    (c, s)
}

fn poll(qp: &mut EmuQp) -> Vec<Completion> {
    let mut out = Vec::new();
    qp.poll_cq(&mut out, 64).unwrap();
    out
}

fn filled(qp: &mut EmuQp, bytes: &[u8], access: Access) -> Region {
    let r = qp.register(bytes.len() as u64, access).unwrap();
    qp.write_local(r.sge(0, bytes.len() as u32).unwrap(), bytes)
        .unwrap();
    r
}

fn remote(r: &Region, offset: u64, len: u32) -> RemoteBuf {
    RemoteBuf {
        addr: r.addr + offset,
        rkey: r.rkey,
        len,
    }
}

#[test]
fn send_lands_in_the_oldest_posted_receive() {
    let (mut c, mut s) = pair();
    let rbuf = s.register(256, Access::LOCAL).unwrap();
    s.post_recv(10, rbuf.sge(0, 128).unwrap()).unwrap();
    s.post_recv(11, rbuf.sge(128, 128).unwrap()).unwrap();
    let m = filled(&mut c, b"hello world", Access::LOCAL);
    c.post_send(1, m.sge(0, 5).unwrap(), None).unwrap();
    c.post_send(2, m.sge(6, 5).unwrap(), None).unwrap();
    assert_eq!(poll(&mut s), vec![], "nothing moves before the sender runs");
    let sent = poll(&mut c);
    assert_eq!(
        sent.iter().map(|c| (c.wr_id, c.status)).collect::<Vec<_>>(),
        vec![(1, WcStatus::Success), (2, WcStatus::Success)],
        "in posting order"
    );
    let got = poll(&mut s);
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].wr_id, got[0].byte_len), (10, 5));
    assert_eq!((got[1].wr_id, got[1].byte_len), (11, 5));
    let mut buf = [0; 5];
    s.read_local(rbuf.sge(128, 5).unwrap(), &mut buf).unwrap();
    assert_eq!(&buf, b"world");
}

#[test]
fn send_without_a_posted_receive_is_an_rnr_error() {
    let (mut c, mut s) = pair();
    let m = filled(&mut c, b"x", Access::LOCAL);
    let rbuf = c.register(64, Access::LOCAL).unwrap();
    c.post_recv(7, rbuf.sge(0, 64).unwrap()).unwrap();
    c.post_send(1, m.sge(0, 1).unwrap(), None).unwrap();
    c.post_send(2, m.sge(0, 1).unwrap(), None).unwrap();
    let done = poll(&mut c);
    assert_eq!(done[0].status, WcStatus::RnrRetryExceeded);
    assert!(c.in_error());
    // Everything else outstanding is flushed, exactly once.
    let mut rest: Vec<_> = done[1..].iter().map(|c| (c.wr_id, c.status)).collect();
    rest.sort_by_key(|(id, _)| *id);
    assert_eq!(
        rest,
        vec![(2, WcStatus::WrFlushError), (7, WcStatus::WrFlushError)]
    );
    // Later work requests flush too.
    c.post_send(3, m.sge(0, 1).unwrap(), None).unwrap();
    assert_eq!(poll(&mut c)[0].status, WcStatus::WrFlushError);
    assert!(poll(&mut s).is_empty());
}

#[test]
fn message_longer_than_the_receive_buffer_fails_both_ends() {
    let (mut c, mut s) = pair();
    let rbuf = s.register(16, Access::LOCAL).unwrap();
    s.post_recv(1, rbuf.sge(0, 16).unwrap()).unwrap();
    let m = filled(&mut c, &[1; 17], Access::LOCAL);
    c.post_send(2, m.sge(0, 17).unwrap(), None).unwrap();
    assert_eq!(poll(&mut c)[0].status, WcStatus::RemoteInvalidRequest);
    assert_eq!(poll(&mut s)[0].status, WcStatus::LocalLengthError);
}

#[test]
fn rdma_read_and_write_check_rkey_bounds_and_access() {
    let (mut c, mut s) = pair();
    let peer = filled(&mut c, &(0..=255).collect::<Vec<u8>>(), Access::REMOTE_RW);
    let ro = filled(
        &mut c,
        &[9; 16],
        Access {
            remote_read: true,
            remote_write: false,
        },
    );
    let local = s.register(256, Access::LOCAL).unwrap();

    s.rdma_read(1, local.sge(0, 16).unwrap(), remote(&peer, 100, 16))
        .unwrap();
    s.rdma_write(2, local.sge(0, 16).unwrap(), remote(&peer, 0, 16))
        .unwrap();
    let done = poll(&mut s);
    assert!(done.iter().all(|c| c.status == WcStatus::Success));
    assert_eq!(
        done.iter().map(|c| c.kind).collect::<Vec<_>>(),
        [WcKind::RdmaRead, WcKind::RdmaWrite]
    );
    let mut buf = [0; 16];
    c.read_local(peer.sge(0, 16).unwrap(), &mut buf).unwrap();
    assert_eq!(buf.to_vec(), (100..116).collect::<Vec<u8>>());

    let bad = [
        remote(&peer, 250, 7), // past the end
        remote(&ro, 0, 16),    // no remote write
        RemoteBuf {
            addr: peer.addr,
            rkey: peer.lkey, // an lkey is not an rkey
            len: 4,
        },
    ];
    for r in bad {
        let (mut c2, mut s2) = pair();
        let peer2 = filled(&mut c2, &[0; 256], Access::REMOTE_RW);
        let ro2 = filled(
            &mut c2,
            &[0; 16],
            Access {
                remote_read: true,
                remote_write: false,
            },
        );
        assert_eq!((peer2.rkey, ro2.rkey), (peer.rkey, ro.rkey), "same layout");
        let local2 = s2.register(256, Access::LOCAL).unwrap();
        s2.rdma_write(1, local2.sge(0, r.len).unwrap(), r).unwrap();
        let done = poll(&mut s2);
        assert_eq!(done[0].status, WcStatus::RemoteAccessError, "{r:?}");
        assert!(s2.in_error());
    }
}

#[test]
fn send_with_invalidate_revokes_the_rkey() {
    let (mut c, mut s) = pair();
    let exposed = filled(&mut c, &[5; 64], Access::REMOTE_RW);
    let rbuf = c.register(64, Access::LOCAL).unwrap();
    c.post_recv(1, rbuf.sge(0, 64).unwrap()).unwrap();
    let m = filled(&mut s, b"done", Access::LOCAL);
    s.post_send(2, m.sge(0, 4).unwrap(), Some(exposed.rkey))
        .unwrap();
    assert_eq!(poll(&mut s)[0].status, WcStatus::Success);
    let got = poll(&mut c);
    assert_eq!(got[0].invalidated_rkey, Some(exposed.rkey));
    assert!(!c.rkey_valid(exposed.rkey));
    let local = s.register(64, Access::LOCAL).unwrap();
    s.rdma_read(3, local.sge(0, 8).unwrap(), remote(&exposed, 0, 8))
        .unwrap();
    assert_eq!(poll(&mut s)[0].status, WcStatus::RemoteAccessError);
}

#[test]
fn queue_depths_are_enforced() {
    let (mut c, _s) = pair();
    let m = c.register(64, Access::LOCAL).unwrap();
    for i in 0..4 {
        c.post_recv(i, m.sge(0, 8).unwrap()).unwrap();
    }
    assert!(matches!(
        c.post_recv(9, m.sge(0, 8).unwrap()),
        Err(VerbsError::QueueFull {
            queue: "receive",
            depth: 4
        })
    ));
    // Four sends outstanding (RNR'd or not, until polled) fill the send queue.
    for i in 10..14 {
        c.post_send(i, m.sge(0, 8).unwrap(), None).unwrap();
    }
    assert!(matches!(
        c.post_send(20, m.sge(0, 8).unwrap(), None),
        Err(VerbsError::QueueFull { queue: "send", .. })
    ));
    assert_eq!(
        c.register(2 << 32, Access::LOCAL),
        Err(VerbsError::RegionTooLarge {
            len: 2 << 32,
            max: 1 << 32
        })
    );
}

#[test]
fn disconnect_flushes_both_ends_and_tells_the_peer() {
    let (mut c, mut s) = pair();
    let m = s.register(64, Access::LOCAL).unwrap();
    s.post_recv(1, m.sge(0, 64).unwrap()).unwrap();
    let cm = c.register(64, Access::LOCAL).unwrap();
    c.post_recv(2, cm.sge(0, 64).unwrap()).unwrap();
    c.disconnect();
    c.disconnect(); // idempotent
    assert_eq!(poll(&mut c)[0].status, WcStatus::WrFlushError);
    assert_eq!(s.poll_event(), Some(QpEvent::Disconnected));
    assert_eq!(s.poll_event(), None);
    assert_eq!(poll(&mut s)[0].status, WcStatus::WrFlushError);
}

#[test]
fn qp_error_and_vanishing() {
    let (mut c, s) = pair();
    c.qp_error();
    assert_eq!(c.poll_event(), Some(QpEvent::Fatal));
    assert!(c.in_error());
    assert!(
        !s.in_error(),
        "the peer learns only by disconnect or silence"
    );

    let (mut c, mut s) = pair();
    let m = s.register(64, Access::LOCAL).unwrap();
    s.inject(Fault::PeerVanishesAfter { n: 1 });
    let cm = c.register(64, Access::LOCAL).unwrap();
    c.post_recv(1, cm.sge(0, 64).unwrap()).unwrap();
    c.post_recv(2, cm.sge(0, 64).unwrap()).unwrap();
    s.post_send(10, m.sge(0, 4).unwrap(), None).unwrap();
    s.post_send(11, m.sge(0, 4).unwrap(), None).unwrap();
    let done = poll(&mut s);
    assert_eq!(done[0].status, WcStatus::Success);
    assert_eq!(done[1].status, WcStatus::RetryExceeded);

    // Dropping an endpoint is vanishing too.
    let (c, mut s) = pair();
    drop(c);
    let m = s.register(64, Access::LOCAL).unwrap();
    s.post_send(1, m.sge(0, 4).unwrap(), None).unwrap();
    assert_eq!(poll(&mut s)[0].status, WcStatus::RetryExceeded);
}

#[test]
fn rejected_and_unaccepted_connections() {
    let mut l = EmuListener::new(DeviceLimits::default());
    let mut c = l.connect(CAPS);
    let m = c.register(64, Access::LOCAL).unwrap();
    c.post_send(1, m.sge(0, 4).unwrap(), None).unwrap();
    assert!(poll(&mut c).is_empty(), "waits for the accept");
    let req = l.poll_request().unwrap().unwrap();
    assert_eq!(req.peer(), "emu-client-1");
    req.reject();
    assert_eq!(c.poll_event(), Some(QpEvent::Disconnected));
    assert_eq!(poll(&mut c)[0].status, WcStatus::WrFlushError);

    // Caps beyond the device are refused at accept.
    let mut l = EmuListener::new(DeviceLimits {
        max_qp_wr: 2,
        ..DeviceLimits::default()
    });
    let _c = l.connect(CAPS);
    let req = l.poll_request().unwrap().unwrap();
    assert!(req.accept(CAPS).is_err());
}
