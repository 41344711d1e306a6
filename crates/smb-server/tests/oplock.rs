//! Oplocks and leases against the real server over TCP, as transcripts between two clients:
//! a grant on the first open, a break notification (MessageId 0xFFFFFFFFFFFFFFFF) to the
//! holder when a second open conflicts, the second open pending (interim STATUS_PENDING)
//! until the holder acknowledges, closes, or the break times out; level II breaks on write;
//! lease grant, break and acknowledgment; malformed acknowledgments get their NTSTATUS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smb_server::{Catalog, Server, ShareConfig, UserConfig};
use smb_test_support::{ntlm, Client};
use smb_wire::create::{lease, oplock, CreateContext, CreateContextResponse, CreateRequest};
use smb_wire::file::{CloseRequest, WriteRequest};
use smb_wire::header::{Command, Header};
use smb_wire::message::{OplockBreakAck, Request, Response};
use smb_wire::misc::{LeaseBreakAck, OplockBreak, LEASE_BREAK_ACK_REQUIRED};
use smb_wire::{FileId, NtStatus};

struct Running {
    addr: SocketAddr,
    server: Arc<Server>,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            t.join()
                .expect("server thread panicked")
                .expect("server failed");
        }
    }
}

fn start(tag: &str) -> Running {
    let base: PathBuf =
        std::env::temp_dir().join(format!("nasd-oplock-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let share = base.join("share");
    std::fs::create_dir_all(&share).unwrap();
    let identity = smb_auth::ServerIdentity {
        netbios_name: "NAS".into(),
        netbios_domain: "WORKGROUP".into(),
        dns_name: "nas".into(),
        dns_domain: String::new(),
    };
    let cfg = smb_proto::Config::new([3; 16], identity);
    let catalog = Catalog::new(
        vec![ShareConfig {
            name: "data".into(),
            path: share,
            comment: String::new(),
            read_only: false,
            guest_ok: false,
            browseable: true,
            encrypt: false,
            valid_users: vec![],
            write_users: vec![],
        }],
        vec![UserConfig {
            name: "alice".into(),
            nt_hash: ntlm::nt_hash("secret"),
            enabled: true,
        }],
        "NAS".into(),
        "WORKGROUP".into(),
        String::new(),
        cfg,
    );
    let server = Server::new(catalog);
    // Two worker threads on one port: the two clients may well land on different ones.
    let first = smb_server::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = first.local_addr().unwrap();
    let second = smb_server::bind_tcp(addr).unwrap();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let s = server.clone();
    let thread = std::thread::spawn(move || {
        smb_server::serve_tcp(s, vec![first, second], smb_vfs::UringVfs::new, rx)
    });
    Running {
        addr,
        server,
        stop,
        thread: Some(thread),
    }
}

fn session(r: &Running) -> Client {
    let mut c = Client::connect(r.addr);
    c.negotiate(&[0x0302]);
    assert_eq!(c.login("alice", "secret"), NtStatus::SUCCESS);
    assert_eq!(
        c.tree_connect(&format!("\\\\{}\\data", r.addr.ip())),
        NtStatus::SUCCESS
    );
    c
}

const SHARE_ALL: u32 = 7;
const OPEN_IF: u32 = 3;

fn create_body(name: &str, level: u8, share: u32, contexts: Vec<CreateContext>) -> Request {
    Request::Create(CreateRequest {
        security_flags: 0,
        requested_oplock_level: level,
        impersonation_level: 2,
        smb_create_flags: 0,
        desired_access: 0x0012_019F,
        file_attributes: 0x80,
        share_access: share,
        create_disposition: OPEN_IF,
        create_options: 0,
        name: name.into(),
        contexts,
    })
}

fn lease_ctx(key: u8, state: u32) -> CreateContext {
    CreateContext::RequestLease {
        key: [key; 16],
        state,
        flags: 0,
        duration: 0,
        parent_key: Some([0; 16]),
        epoch: Some(0),
    }
}

/// One message from the server, decoded.
struct Msg {
    hdr: Header,
    status: NtStatus,
    body: Option<Response>,
}

fn send(c: &mut Client, cmd: Command, body: &Request) {
    let mut m = c.build(cmd, body, 1);
    c.sign(&mut m);
    c.send_framed(&m);
}

fn recv(c: &mut Client) -> Msg {
    let raw = c.recv_frame().expect("a message from the server");
    let hdr = Header::decode(&raw).expect("header");
    if hdr.is_signed() {
        // Final replies (async ones included) are signed with the session's key.
        let key = c.signing.as_ref().expect("a signing key");
        key.verify(&raw).expect("a valid signature");
    }
    let status = NtStatus(hdr.status);
    let body = Response::decode(&hdr, &raw).ok();
    Msg { hdr, status, body }
}

fn create_reply(m: &Msg) -> smb_wire::create::CreateResponse {
    match &m.body {
        Some(Response::Create(c)) => c.clone(),
        _ => panic!("not a CREATE response: {:?}", m.status),
    }
}

fn open(c: &mut Client, name: &str, level: u8, ctx: Vec<CreateContext>) -> (FileId, u8) {
    send(
        c,
        Command::CREATE,
        &create_body(name, level, SHARE_ALL, ctx),
    );
    let m = recv(c);
    assert_eq!(m.status, NtStatus::SUCCESS);
    let r = create_reply(&m);
    (r.file_id, r.oplock_level)
}

/// An unsolicited OPLOCK_BREAK notification.
fn expect_break(c: &mut Client) -> Response {
    let m = recv(c);
    assert_eq!(m.hdr.command, Command::OPLOCK_BREAK);
    assert_eq!(m.hdr.message_id, u64::MAX, "notifications use MessageId -1");
    assert_eq!(m.hdr.session_id, 0);
    assert!(!m.hdr.is_signed(), "notifications are never signed");
    m.body.expect("notification body")
}

fn expect_interim(c: &mut Client) {
    let m = recv(c);
    assert_eq!(m.status, NtStatus::PENDING);
    assert!(m.hdr.is_async(), "interim responses are async");
}

fn ack(c: &mut Client, file_id: FileId, level: u8) -> Msg {
    send(
        c,
        Command::OPLOCK_BREAK,
        &Request::OplockBreak(OplockBreakAck::Oplock(OplockBreak {
            oplock_level: level,
            file_id,
        })),
    );
    recv(c)
}

fn close(c: &mut Client, file_id: FileId) {
    send(
        c,
        Command::CLOSE,
        &Request::Close(CloseRequest { flags: 0, file_id }),
    );
    assert_eq!(recv(c).status, NtStatus::SUCCESS);
}

#[test]
fn batch_is_granted_then_broken_to_level_ii_on_a_second_open() {
    let r = start("ack");
    let mut a = session(&r);
    let mut b = session(&r);
    let (fa, level) = open(&mut a, "f.txt", oplock::BATCH, vec![]);
    assert_eq!(level, oplock::BATCH);

    // A conflicting open from another connection: the holder is told, the opener waits.
    send(
        &mut b,
        Command::CREATE,
        &create_body("f.txt", oplock::BATCH, SHARE_ALL, vec![]),
    );
    let Response::OplockBreak(n) = expect_break(&mut a) else {
        panic!("not an oplock break")
    };
    assert_eq!(n.file_id, fa);
    assert_eq!(n.oplock_level, oplock::LEVEL_II);
    expect_interim(&mut b);

    // Acknowledging resolves the break and lets the second open complete.
    let m = ack(&mut a, fa, oplock::LEVEL_II);
    assert_eq!(m.status, NtStatus::SUCCESS);
    let Some(Response::OplockBreak(resp)) = m.body else {
        panic!("not an oplock break response")
    };
    assert_eq!(resp.oplock_level, oplock::LEVEL_II);
    let m = recv(&mut b);
    assert!(m.hdr.is_async(), "the final reply carries the async id");
    assert!(
        m.hdr.is_signed(),
        "the final reply is signed like any other"
    );
    assert_eq!(m.status, NtStatus::SUCCESS);
    let rb = create_reply(&m);
    assert_eq!(rb.oplock_level, oplock::LEVEL_II);

    // No break is outstanding any more.
    assert_eq!(
        ack(&mut a, fa, oplock::LEVEL_II).status,
        NtStatus::INVALID_OPLOCK_PROTOCOL
    );

    // A write breaks every level II oplock to none, without waiting for anyone.
    send(
        &mut b,
        Command::WRITE,
        &Request::Write(WriteRequest {
            offset: 0,
            file_id: rb.file_id,
            channel: 0,
            remaining_bytes: 0,
            flags: 0,
            data: b"x".to_vec().into(),
            write_channel_info: Vec::new(),
        }),
    );
    let Response::OplockBreak(n) = expect_break(&mut a) else {
        panic!("not an oplock break")
    };
    assert_eq!((n.file_id, n.oplock_level), (fa, oplock::NONE));
    let mut got_write = false;
    let mut got_break = false;
    for _ in 0..2 {
        let m = recv(&mut b);
        match m.hdr.command {
            Command::WRITE => got_write = m.status == NtStatus::SUCCESS,
            Command::OPLOCK_BREAK => {
                got_break = matches!(m.body, Some(Response::OplockBreak(o))
                    if o.file_id == rb.file_id && o.oplock_level == oplock::NONE)
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(got_write && got_break);
    // A level II to none break is not acknowledged (MS-SMB2 2.2.24.1).
    assert_eq!(
        ack(&mut a, fa, oplock::NONE).status,
        NtStatus::INVALID_OPLOCK_PROTOCOL
    );
    close(&mut a, fa);
    close(&mut b, rb.file_id);
}

#[test]
fn closing_instead_of_acknowledging_releases_the_oplock() {
    let r = start("close");
    let mut a = session(&r);
    let mut b = session(&r);
    let (fa, level) = open(&mut a, "g.txt", oplock::EXCLUSIVE, vec![]);
    assert_eq!(level, oplock::EXCLUSIVE);
    send(
        &mut b,
        Command::CREATE,
        &create_body("g.txt", oplock::BATCH, SHARE_ALL, vec![]),
    );
    let Response::OplockBreak(n) = expect_break(&mut a) else {
        panic!("not an oplock break")
    };
    assert_eq!(n.file_id, fa);
    expect_interim(&mut b);
    close(&mut a, fa);
    let m = recv(&mut b);
    assert_eq!(m.status, NtStatus::SUCCESS);
    // The holder is gone: the second open is alone and gets what it asked for.
    assert_eq!(create_reply(&m).oplock_level, oplock::BATCH);
    assert_eq!(r.server.open_count(), 1);
}

#[test]
fn an_unacknowledged_break_times_out() {
    let r = start("timeout");
    r.server.set_break_timeout(Duration::from_millis(300));
    let mut a = session(&r);
    let mut b = session(&r);
    let (fa, _) = open(&mut a, "h.txt", oplock::BATCH, vec![]);
    let t0 = Instant::now();
    send(
        &mut b,
        Command::CREATE,
        &create_body("h.txt", oplock::BATCH, SHARE_ALL, vec![]),
    );
    let _ = expect_break(&mut a);
    expect_interim(&mut b);
    // Nobody acknowledges: the open completes once the break timeout passes, and the
    // holder loses its oplock.
    let m = recv(&mut b);
    assert_eq!(m.status, NtStatus::SUCCESS);
    assert_eq!(create_reply(&m).oplock_level, oplock::LEVEL_II);
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // A late acknowledgment finds no break outstanding.
    assert_eq!(
        ack(&mut a, fa, oplock::LEVEL_II).status,
        NtStatus::INVALID_OPLOCK_PROTOCOL
    );
}

#[test]
fn a_sharing_violation_breaks_only_a_batch_oplock_and_still_fails() {
    let r = start("share");
    let mut a = session(&r);
    let mut b = session(&r);
    send(
        &mut a,
        Command::CREATE,
        &create_body("s.txt", oplock::BATCH, 0, vec![]),
    );
    let fa = create_reply(&recv(&mut a)).file_id;
    send(
        &mut b,
        Command::CREATE,
        &create_body("s.txt", oplock::NONE, SHARE_ALL, vec![]),
    );
    let _ = expect_break(&mut a);
    expect_interim(&mut b);
    assert_eq!(ack(&mut a, fa, oplock::LEVEL_II).status, NtStatus::SUCCESS);
    // The holder kept its handle: the share modes are checked after the break.
    assert_eq!(recv(&mut b).status, NtStatus::SHARING_VIOLATION);
}

#[test]
fn malformed_acknowledgments_get_their_status() {
    let r = start("malformed");
    let mut a = session(&r);
    let mut b = session(&r);
    let (fa, _) = open(&mut a, "m.txt", oplock::BATCH, vec![]);
    // Unknown handle.
    let bogus = FileId {
        persistent: 77,
        volatile: 77,
    };
    assert_eq!(
        ack(&mut a, bogus, oplock::NONE).status,
        NtStatus::FILE_CLOSED
    );
    // No break outstanding.
    assert_eq!(
        ack(&mut a, fa, oplock::NONE).status,
        NtStatus::INVALID_OPLOCK_PROTOCOL
    );
    // A lease acknowledgment for a lease that does not exist.
    send(
        &mut a,
        Command::OPLOCK_BREAK,
        &Request::OplockBreak(OplockBreakAck::Lease(LeaseBreakAck {
            flags: 0,
            lease_key: [9; 16],
            lease_state: 0,
        })),
    );
    assert_eq!(recv(&mut a).status, NtStatus::OBJECT_NAME_NOT_FOUND);
    // A body of neither size.
    let mut m = a.build(
        Command::OPLOCK_BREAK,
        &Request::OplockBreak(OplockBreakAck::Oplock(OplockBreak {
            oplock_level: 0,
            file_id: fa,
        })),
        1,
    );
    m[64] = 30;
    a.sign(&mut m);
    a.send_framed(&m);
    assert_eq!(recv(&mut a).status, NtStatus::INVALID_PARAMETER);
    // While a break is outstanding: acknowledging with LEASE or a higher level is refused,
    // and the oplock is gone either way.
    send(
        &mut b,
        Command::CREATE,
        &create_body("m.txt", oplock::NONE, SHARE_ALL, vec![]),
    );
    let _ = expect_break(&mut a);
    expect_interim(&mut b);
    assert_eq!(
        ack(&mut a, fa, oplock::LEASE).status,
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(recv(&mut b).status, NtStatus::SUCCESS);
    assert_eq!(
        ack(&mut a, fa, oplock::BATCH).status,
        NtStatus::INVALID_OPLOCK_PROTOCOL
    );
}

#[test]
fn leases_are_granted_broken_and_acknowledged() {
    const RWH: u32 = lease::READ_CACHING | lease::WRITE_CACHING | lease::HANDLE_CACHING;
    const RH: u32 = lease::READ_CACHING | lease::HANDLE_CACHING;
    let r = start("lease");
    let mut a = session(&r);
    let mut b = session(&r);
    send(
        &mut a,
        Command::CREATE,
        &create_body("l.txt", oplock::LEASE, SHARE_ALL, vec![lease_ctx(1, RWH)]),
    );
    let ra = create_reply(&recv(&mut a));
    assert_eq!(ra.oplock_level, oplock::LEASE);
    let granted = ra
        .contexts
        .iter()
        .find_map(|c| match c {
            CreateContextResponse::Lease(l) => Some(*l),
            _ => None,
        })
        .expect("a lease context");
    assert_eq!(granted.key, [1; 16]);
    assert_eq!(granted.state, RWH);
    assert_eq!(granted.epoch, Some(1), "a new v2 lease's epoch moves on");

    // Another lease key wants the file: RWH breaks to RH, acknowledgment required.
    send(
        &mut b,
        Command::CREATE,
        &create_body("l.txt", oplock::LEASE, SHARE_ALL, vec![lease_ctx(2, RWH)]),
    );
    let Response::LeaseBreakNotification(n) = expect_break(&mut a) else {
        panic!("not a lease break")
    };
    assert_eq!(n.lease_key, [1; 16]);
    assert_eq!((n.current_state, n.new_state), (RWH, RH));
    assert_eq!(n.flags, LEASE_BREAK_ACK_REQUIRED);
    assert_eq!(n.new_epoch, 2);
    expect_interim(&mut b);

    // More than offered is refused and the break stays outstanding.
    let lease_ack = |state| {
        Request::OplockBreak(OplockBreakAck::Lease(LeaseBreakAck {
            flags: 0,
            lease_key: [1; 16],
            lease_state: state,
        }))
    };
    send(&mut a, Command::OPLOCK_BREAK, &lease_ack(RWH));
    assert_eq!(recv(&mut a).status, NtStatus::REQUEST_NOT_ACCEPTED);
    send(&mut a, Command::OPLOCK_BREAK, &lease_ack(RH));
    let m = recv(&mut a);
    assert_eq!(m.status, NtStatus::SUCCESS);
    let Some(Response::LeaseBreak(resp)) = m.body else {
        panic!("not a lease break response")
    };
    assert_eq!((resp.lease_key, resp.lease_state), ([1; 16], RH));
    let rb = create_reply(&recv(&mut b));
    let state_b = rb.contexts.iter().find_map(|c| match c {
        CreateContextResponse::Lease(l) => Some(l.state),
        _ => None,
    });
    assert_eq!(state_b, Some(RH));
    // Nothing is breaking now.
    send(&mut a, Command::OPLOCK_BREAK, &lease_ack(RH));
    assert_eq!(recv(&mut a).status, NtStatus::UNSUCCESSFUL);
    close(&mut a, ra.file_id);
    close(&mut b, rb.file_id);
}

/// A client that dropped its connection while the server cannot tear it down yet: its
/// open of `x.txt` (share modes `share`) stays while its CREATE of `held.txt` waits for
/// `holder`'s batch oplock to break. Returns the holder's handle, whose break notification
/// the holder has received and not acknowledged.
fn gone_client_holding_x(r: &Running, holder: &mut Client, share: u32) -> FileId {
    let (held, level) = open(holder, "held.txt", oplock::BATCH, vec![]);
    assert_eq!(level, oplock::BATCH);
    let mut gone = session(r);
    send(
        &mut gone,
        Command::CREATE,
        &create_body("x.txt", oplock::NONE, share, vec![]),
    );
    assert_eq!(recv(&mut gone).status, NtStatus::SUCCESS);
    send(
        &mut gone,
        Command::CREATE,
        &create_body("held.txt", oplock::NONE, SHARE_ALL, vec![]),
    );
    expect_interim(&mut gone);
    let _ = expect_break(holder);
    drop(gone);
    held
}

/// `b` opens x.txt; then the holder lets go, so the gone client's CREATE ends, its
/// teardown runs and closes x.txt. `b`'s open must succeed: its CreateAction.
fn open_x_while_the_holder_lets_go(b: &mut Client, holder: &mut Client, held: FileId) -> u32 {
    send(
        b,
        Command::CREATE,
        &create_body("x.txt", oplock::NONE, SHARE_ALL, vec![]),
    );
    // Give the server time to take up that request before the teardown can run (if it
    // ran first, the request would simply find nothing in its way).
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        ack(holder, held, oplock::LEVEL_II).status,
        NtStatus::SUCCESS
    );
    let m = recv(b);
    assert_eq!(m.status, NtStatus::SUCCESS, "not refused for the gone open");
    create_reply(&m).create_action
}

#[test]
fn a_delete_pending_left_by_a_client_that_has_gone_is_waited_out() {
    let r = start("gone-delete");
    let mut holder = session(&r);
    let held = gone_client_holding_x(&r, &mut holder, SHARE_ALL);
    // Another client deletes x.txt (smbtorture's smb2_util_unlink between subtests): the
    // gone client's open is still there, so it is only delete-pending.
    let mut b = session(&r);
    let mut unlink = create_body("x.txt", oplock::NONE, SHARE_ALL, vec![]);
    if let Request::Create(c) = &mut unlink {
        c.desired_access |= 0x0001_0000; // DELETE
        c.create_disposition = 1; // FILE_OPEN
        c.create_options = 0x0000_1000; // FILE_DELETE_ON_CLOSE
    }
    send(&mut b, Command::CREATE, &unlink);
    let doc = recv(&mut b);
    assert_eq!(doc.status, NtStatus::SUCCESS);
    close(&mut b, create_reply(&doc).file_id);
    // It creates the name afresh. The client closed its first connection before it opened
    // this one, so the answer is the one Windows gives once that connection is cleaned up
    // (a new file), not DELETE_PENDING.
    let action = open_x_while_the_holder_lets_go(&mut b, &mut holder, held);
    assert_eq!(action, 2, "FILE_CREATED: the old file was deleted");
}

#[test]
fn a_sharing_violation_with_a_client_that_has_gone_is_waited_out() {
    let r = start("gone-share");
    let mut holder = session(&r);
    // The gone client's open denies every sharing.
    let held = gone_client_holding_x(&r, &mut holder, 0);
    let mut b = session(&r);
    let action = open_x_while_the_holder_lets_go(&mut b, &mut holder, held);
    assert_eq!(action, 1, "FILE_OPENED");
}
