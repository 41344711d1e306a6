//! Hostile input against the real server over TCP: each malformed message gets the right
//! NTSTATUS or a closed connection — never a panic — and the server keeps serving others.
//! Paths that try to leave the share are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

use smb_test_support::Client;
use smb_wire::header::Command;
use smb_wire::message::Request;
use smb_wire::misc::EchoRequest;
use smb_wire::NtStatus;

mod common;
use common::Running;

fn start(tag: &str) -> Running {
    common::start(&format!("hostile-{tag}"), &[("alice", "secret")])
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

fn still_serving(r: &Running) {
    let mut c = session(r);
    let reply = c
        .call(Command::ECHO, &Request::Echo(EchoRequest))
        .expect("echo reply");
    assert_eq!(reply.status, NtStatus::SUCCESS);
}

#[test]
fn framing_violations_close_the_connection() {
    let r = start("framing");
    // A NetBIOS length beyond what the server accepts.
    let mut c = Client::connect(r.addr);
    c.send_bytes(&[0x00, 0xff, 0xff, 0xff]);
    assert!(c.is_closed(), "oversized NetBIOS length");
    // A NetBIOS session request (type 0x81) is not SMB direct hosting.
    let mut c = Client::connect(r.addr);
    c.send_bytes(&[0x81, 0, 0, 4, 1, 2, 3, 4]);
    assert!(c.is_closed(), "NetBIOS session request");
    // A truncated SMB2 header.
    let mut c = Client::connect(r.addr);
    c.send_framed(&[0xfe, b'S', b'M', b'B', 64, 0, 0, 0, 0, 0]);
    assert!(c.is_closed(), "truncated header");
    // Not SMB at all.
    let mut c = Client::connect(r.addr);
    c.send_framed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(c.is_closed(), "HTTP");
    still_serving(&r);
}

#[test]
fn requests_out_of_order_are_refused() {
    let r = start("order");
    // Before NEGOTIATE: disconnect.
    let mut c = Client::connect(r.addr);
    let m = c.build(Command::TREE_CONNECT, &Request::Echo(EchoRequest), 1);
    c.send_framed(&m);
    assert!(c.is_closed());
    // After NEGOTIATE, before SESSION_SETUP: no such session.
    let mut c = Client::connect(r.addr);
    c.negotiate(&[0x0311]);
    c.session_id = 0x1234;
    let reply = c.call(Command::ECHO, &Request::Echo(EchoRequest)).unwrap();
    assert_eq!(reply.status, NtStatus::USER_SESSION_DELETED);
    still_serving(&r);
}

#[test]
fn compound_loops_and_bad_offsets() {
    let r = start("compound");
    let mut c = session(&r);
    // A compound whose NextCommand points back at itself.
    let mut m = c.build(Command::ECHO, &Request::Echo(EchoRequest), 1);
    m.resize(72, 0);
    m[20..24].copy_from_slice(&0u32.to_le_bytes());
    let mut two = m.clone();
    two[20..24].copy_from_slice(&72u32.to_le_bytes());
    two.extend_from_slice(&m);
    let len = two.len();
    two[72 + 20..72 + 24].copy_from_slice(&((len as u32).wrapping_sub(72) + 8).to_le_bytes());
    c.send_framed(&two);
    assert!(c.is_closed(), "NextCommand beyond the message");

    // A CREATE whose name offset points past the end of the message.
    let mut c = session(&r);
    let mut m = c.build(Command::CREATE, &Client::create_body("x.txt", 3, 0), 1);
    m[64 + 44..64 + 46].copy_from_slice(&0xfff0u16.to_le_bytes());
    c.sign(&mut m);
    c.send_framed(&m);
    assert_eq!(c.recv_reply().unwrap().status, NtStatus::INVALID_PARAMETER);
    still_serving(&r);
}

#[test]
fn unknown_commands_and_credit_abuse() {
    let r = start("credits");
    let mut c = session(&r);
    let mut m = c.build(Command::ECHO, &Request::Echo(EchoRequest), 1);
    m[12..14].copy_from_slice(&0x0099u16.to_le_bytes());
    c.sign(&mut m);
    c.send_framed(&m);
    assert_eq!(c.recv_reply().unwrap().status, NtStatus::INVALID_PARAMETER);
    // A credit charge far beyond anything granted.
    let mut m = c.build(Command::ECHO, &Request::Echo(EchoRequest), 60_000);
    c.sign(&mut m);
    c.send_framed(&m);
    assert!(c.is_closed(), "huge credit charge");
    still_serving(&r);
}

#[test]
fn paths_cannot_leave_the_share() {
    let r = start("escape");
    std::os::unix::fs::symlink("/etc", r.share.join("etc-link")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", r.share.join("up-link")).unwrap();
    std::fs::create_dir(r.share.join("sub")).unwrap();
    let mut c = session(&r);
    for (name, expect) in [
        ("..\\secret.txt", NtStatus::OBJECT_PATH_SYNTAX_BAD),
        ("sub\\..\\..\\secret.txt", NtStatus::OBJECT_PATH_SYNTAX_BAD),
        ("etc-link\\passwd", NtStatus::OBJECT_PATH_NOT_FOUND),
        ("up-link", NtStatus::ACCESS_DENIED),
        ("C:\\Windows\\win.ini", NtStatus::OBJECT_NAME_INVALID),
    ] {
        assert_eq!(c.create(name, 1, 0).err(), Some(expect), "{name}");
    }
    // A leading backslash is a client error (MS-SMB2 3.3.5.9).
    assert_eq!(
        c.create("\\secret.txt", 1, 0).err(),
        Some(NtStatus::INVALID_PARAMETER)
    );
    // Creating through an escaping link does not create anything outside.
    let _ = c.create("etc-link\\nasd-owned", 2, 0);
    assert!(!Path::new("/etc/nasd-owned").exists());
    still_serving(&r);
}

#[test]
fn the_server_survives_many_connections_dropping_mid_request() {
    let r = start("drops");
    for i in 0..50 {
        let mut c = session(&r);
        let fid = c.create(&format!("f{i}"), 2, 0x40).unwrap();
        let w = Request::Write(smb_wire::file::WriteRequest {
            offset: 0,
            file_id: fid,
            channel: 0,
            remaining_bytes: 0,
            write_channel_info: vec![],
            flags: 0,
            data: vec![7u8; 100_000].into(),
        });
        let mut m = c.build(Command::WRITE, &w, 2);
        c.sign(&mut m);
        // Send only half of the frame, then vanish.
        let mut f = smb_wire::netbios::frame_header(m.len()).to_vec();
        f.extend_from_slice(&m[..m.len() / 2]);
        c.send_bytes(&f);
    }
    still_serving(&r);
}

#[test]
fn rdma_channels_on_a_tcp_connection_are_invalid_parameter() {
    let r = start("rdma-on-tcp");
    let mut c = session(&r);
    let fid = c.create("plain.bin", 2, 0x40).unwrap();
    // A buffer descriptor (offset, token, length) as an SMB Direct client would send it.
    let mut desc = Vec::new();
    desc.extend_from_slice(&0x1000u64.to_le_bytes());
    desc.extend_from_slice(&0xabcdu32.to_le_bytes());
    desc.extend_from_slice(&4096u32.to_le_bytes());
    for ch in [1u32, 2, 3, 77] {
        let w = Request::Write(smb_wire::file::WriteRequest {
            offset: 0,
            file_id: fid,
            channel: ch,
            remaining_bytes: 4096,
            write_channel_info: desc.clone(),
            flags: 0,
            data: Default::default(),
        });
        let reply = c.call(Command::WRITE, &w).unwrap();
        assert_eq!(
            reply.status,
            NtStatus::INVALID_PARAMETER,
            "WRITE channel {ch}"
        );
        let rd = Request::Read(smb_wire::file::ReadRequest {
            padding: 0x50,
            flags: 0,
            length: 4096,
            offset: 0,
            file_id: fid,
            minimum_count: 0,
            channel: ch,
            remaining_bytes: 0,
            read_channel_info: desc.clone(),
        });
        let reply = c.call(Command::READ, &rd).unwrap();
        assert_eq!(
            reply.status,
            NtStatus::INVALID_PARAMETER,
            "READ channel {ch}"
        );
    }
    still_serving(&r);
}
