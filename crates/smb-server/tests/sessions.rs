//! Sessions across connections over TCP: a SESSION_SETUP naming a PreviousSessionId ends
//! that session on the connection that holds it (MS-SMB2 3.3.5.5.3) — its requests get
//! USER_SESSION_DELETED and its opens are closed — but only when the user is the same.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use smb_test_support::Client;
use smb_wire::header::Command;
use smb_wire::message::{Request, Response};
use smb_wire::misc::EchoRequest;
use smb_wire::NtStatus;

mod common;
use common::Running;

fn start(tag: &str) -> Running {
    common::start(
        &format!("sessions-{tag}"),
        &[("alice", "secret"), ("bob", "hunter2")],
    )
}

fn logged_in(r: &Running, user: &str, password: &str, previous: u64) -> Client {
    let mut c = Client::connect(r.addr);
    c.negotiate(&[0x0311]);
    assert_eq!(c.login_with(user, password, 0, previous), NtStatus::SUCCESS);
    assert_eq!(
        c.tree_connect(&format!("\\\\{}\\data", r.addr.ip())),
        NtStatus::SUCCESS
    );
    c
}

fn echo(c: &mut Client) -> NtStatus {
    c.call(Command::ECHO, &Request::Echo(EchoRequest))
        .expect("echo reply")
        .status
}

/// Create `name` exclusively (no sharing) with delete-on-close.
fn create_exclusive(c: &mut Client, name: &str) -> NtStatus {
    let mut body = Client::create_body(name, 2, 0x1000);
    if let Request::Create(ref mut cr) = body {
        cr.desired_access |= 0x0001_0000;
        cr.share_access = 0;
    }
    let r = c.call(Command::CREATE, &body).expect("create reply");
    if let Response::Create(_) = r.body() {
        assert_eq!(r.status, NtStatus::SUCCESS);
    }
    r.status
}

#[test]
fn a_reconnect_ends_the_previous_session_of_the_same_user() {
    let r = start("reconnect");
    let mut old = logged_in(&r, "alice", "secret", 0);
    assert_eq!(create_exclusive(&mut old, "held.dat"), NtStatus::SUCCESS);
    assert!(r.share.join("held.dat").exists());
    let mut new = logged_in(&r, "alice", "secret", old.session_id);
    // By the time the new session's reply arrived, the old one was gone...
    assert_eq!(echo(&mut old), NtStatus::USER_SESSION_DELETED);
    // ... with its open closed (delete-on-close ran), so the name is free again.
    assert!(!r.share.join("held.dat").exists());
    assert_eq!(create_exclusive(&mut new, "held.dat"), NtStatus::SUCCESS);
    assert_eq!(echo(&mut new), NtStatus::SUCCESS);
}

#[test]
fn a_reconnect_on_the_same_connection_ends_the_previous_session() {
    let r = start("reconnect-same");
    let mut c = logged_in(&r, "alice", "secret", 0);
    let first = c.session_id;
    assert_eq!(create_exclusive(&mut c, "mine.dat"), NtStatus::SUCCESS);
    let first_key = c.signing.take();
    c.session_id = 0;
    assert_eq!(c.login_with("alice", "secret", 0, first), NtStatus::SUCCESS);
    assert_ne!(c.session_id, first);
    assert!(!r.share.join("mine.dat").exists());
    let second = (c.session_id, c.signing.take());
    c.session_id = first;
    c.signing = first_key;
    assert_eq!(echo(&mut c), NtStatus::USER_SESSION_DELETED);
    (c.session_id, c.signing) = second;
    assert_eq!(echo(&mut c), NtStatus::SUCCESS);
}

#[test]
fn a_reconnect_by_another_user_leaves_the_session_alone() {
    let r = start("reconnect-other");
    let mut alice = logged_in(&r, "alice", "secret", 0);
    let mut bob = logged_in(&r, "bob", "hunter2", alice.session_id);
    assert_eq!(echo(&mut alice), NtStatus::SUCCESS);
    assert_eq!(echo(&mut bob), NtStatus::SUCCESS);
}

fn close(c: &mut Client, file_id: smb_wire::FileId) -> NtStatus {
    c.call(
        Command::CLOSE,
        &Request::Close(smb_wire::file::CloseRequest { flags: 0, file_id }),
    )
    .expect("close reply")
    .status
}

#[test]
fn a_bound_channel_reaches_the_session_opens_on_the_first_connection() {
    let r = start("bind");
    let mut first = logged_in(&r, "alice", "secret", 0);
    let fid = first
        .create("shared.dat", 2, 0)
        .expect("create on the first connection");
    // The second connection becomes a channel of the session (3.1.1: its own key).
    let mut channel = Client::connect(r.addr);
    let neg = channel.negotiate(&[0x0311]);
    let Response::Negotiate(n) = neg.body() else {
        panic!()
    };
    assert_ne!(n.capabilities & 0x08, 0, "SMB2_GLOBAL_CAP_MULTI_CHANNEL");
    channel.session_id = first.session_id;
    channel.signing = first.signing.clone();
    assert_eq!(
        channel.login_with("alice", "secret", 0x01, 0),
        NtStatus::SUCCESS
    );
    channel.tree_id = first.tree_id;
    // The open made on the first connection is closed through the channel ...
    assert_eq!(close(&mut channel, fid), NtStatus::SUCCESS);
    // ... so it is gone on the first connection too.
    assert_eq!(close(&mut first, fid), NtStatus::FILE_CLOSED);
    // A logoff at home ends the channel as well.
    let r = first
        .call(
            Command::LOGOFF,
            &Request::Logoff(smb_wire::session::LogoffRequest),
        )
        .expect("logoff reply");
    assert_eq!(r.status, NtStatus::SUCCESS);
    let mut gone = false;
    for _ in 0..100 {
        if echo(&mut channel) == NtStatus::USER_SESSION_DELETED {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(gone, "the channel outlived its session");
}

#[test]
fn a_failed_reauthentication_through_a_channel_ends_the_session_everywhere() {
    let r = start("bind-reauth");
    let mut first = logged_in(&r, "alice", "secret", 0);
    let mut channel = Client::connect(r.addr);
    channel.negotiate(&[0x0311]);
    channel.session_id = first.session_id;
    channel.signing = first.signing.clone();
    assert_eq!(
        channel.login_with("alice", "secret", 0x01, 0),
        NtStatus::SUCCESS
    );
    assert_eq!(echo(&mut channel), NtStatus::SUCCESS);
    assert_eq!(channel.login("alice", "wrong"), NtStatus::LOGON_FAILURE);
    // The home ended the session before the failure was answered.
    assert_eq!(echo(&mut first), NtStatus::USER_SESSION_DELETED);
    assert_eq!(echo(&mut channel), NtStatus::USER_SESSION_DELETED);
}
