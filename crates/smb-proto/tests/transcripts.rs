//! Transcripts of whole conversations with the sans-IO connection: a test client (its own
//! NTLMv2 and signing code) on one side, `Connection` and a stand-in server on the other.

use smb_proto::{Config, Reply};
use smb_test_support::mem::{MemServer, Shared, Users};
use smb_test_support::{ntlm, Client};
use smb_wire::header::Command;
use smb_wire::message::{Request, Response};
use smb_wire::misc::EchoRequest;
use smb_wire::tree::TreeConnectResponse;
use smb_wire::NtStatus;

fn config() -> Config {
    Config::new(
        [9; 16],
        smb_auth::ServerIdentity {
            netbios_name: "NAS".into(),
            netbios_domain: "WORKGROUP".into(),
            dns_name: "nas".into(),
            dns_domain: String::new(),
        },
    )
}

/// A server whose only command is TREE_CONNECT (always tree 7) and ECHO.
fn server(cfg: Config) -> Shared {
    let users = Users(vec![("alice".into(), ntlm::nt_hash("secret"))]);
    Shared::new(MemServer::new(
        cfg,
        users,
        Box::new(|item, req| match req {
            Request::TreeConnect(_) => {
                item.hdr.tree_id = 7;
                Reply::Ok(
                    NtStatus::SUCCESS,
                    Response::TreeConnect(TreeConnectResponse {
                        share_type: 1,
                        share_flags: 0,
                        capabilities: 0,
                        maximal_access: 0x1f01ff,
                    }),
                )
            }
            _ => Reply::Err(NtStatus::NOT_SUPPORTED),
        }),
    ))
}

fn logged_in(dialect: u16) -> (Client, Shared) {
    let s = server(config());
    let mut c = Client::over(Box::new(s.clone()));
    let r = c.negotiate(&[dialect]);
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(c.login("alice", "secret"), NtStatus::SUCCESS);
    (c, s)
}

#[test]
fn every_dialect_negotiates_logs_on_and_signs() {
    for d in [0x0202, 0x0210, 0x0300, 0x0302, 0x0311] {
        let (mut c, s) = logged_in(d);
        assert_eq!(c.dialect, d);
        assert_eq!(
            c.tree_connect("\\\\nas\\data"),
            NtStatus::SUCCESS,
            "dialect {d:#x}"
        );
        assert_eq!(c.tree_id, 7);
        assert!(s.0.borrow().closed.is_none());
    }
}

#[test]
fn the_311_negotiate_response_carries_preauth_and_the_client_cipher() {
    let s = server(config());
    let mut c = Client::over(Box::new(s.clone()));
    let r = c.negotiate(&[0x0202, 0x0311]);
    let Response::Negotiate(n) = r.body() else {
        panic!()
    };
    assert_eq!(n.dialect, 0x0311);
    assert_eq!(n.security_mode & 2, 2, "signing required by default");
    use smb_wire::negotiate::NegotiateContext as C;
    assert!(n.contexts.iter().any(|c| matches!(c, C::PreauthIntegrity { hash_algorithms, salt } if hash_algorithms == &vec![1] && salt.len() == 32)));
    assert!(n
        .contexts
        .iter()
        .any(|c| matches!(c, C::Encryption { ciphers } if ciphers == &vec![2])));
    assert!(n
        .contexts
        .iter()
        .any(|c| matches!(c, C::SigningCapabilities { algorithms } if algorithms == &vec![2])));
}

#[test]
fn wrong_password_and_unknown_user_are_logon_failure() {
    for (user, pw) in [("alice", "wrong"), ("mallory", "secret")] {
        let s = server(config());
        let mut c = Client::over(Box::new(s.clone()));
        c.negotiate(&[0x0311]);
        assert_eq!(c.login(user, pw), NtStatus::LOGON_FAILURE);
    }
}

#[test]
fn unsigned_and_badly_signed_requests_are_access_denied() {
    let (mut c, _s) = logged_in(0x0311);
    let body = Request::TreeConnect(smb_wire::tree::TreeConnectRequest {
        flags: 0,
        path: "\\\\nas\\data".into(),
        contexts: vec![],
    });
    // Unsigned although the session requires signing.
    let m = c.build(Command::TREE_CONNECT, &body, 1);
    c.send_framed(&m);
    assert_eq!(c.recv_reply().unwrap().status, NtStatus::ACCESS_DENIED);
    // Signed, then one body byte changed.
    let mut m = c.build(Command::TREE_CONNECT, &body, 1);
    c.sign(&mut m);
    let last = m.len() - 1;
    m[last] ^= 1;
    c.send_framed(&m);
    assert_eq!(c.recv_reply().unwrap().status, NtStatus::ACCESS_DENIED);
    // A correct one still works afterwards.
    assert_eq!(c.tree_connect("\\\\nas\\data"), NtStatus::SUCCESS);
}

#[test]
fn a_request_before_negotiate_closes_the_connection() {
    let s = server(config());
    let mut c = Client::over(Box::new(s.clone()));
    let m = c.build(Command::ECHO, &Request::Echo(EchoRequest), 1);
    c.send_framed(&m);
    assert!(c.recv_frame().is_none());
    assert!(s.0.borrow().closed.is_some());
}

#[test]
fn reusing_a_message_id_closes_the_connection() {
    let (mut c, s) = logged_in(0x0302);
    c.next_message_id -= 1;
    let body = Request::Echo(EchoRequest);
    let mut m = c.build(Command::ECHO, &body, 1);
    c.sign(&mut m);
    c.send_framed(&m);
    assert!(c.recv_frame().is_none());
    assert!(matches!(
        s.0.borrow().closed,
        Some(smb_proto::Disconnect::Credits(_))
    ));
}

#[test]
fn a_message_id_beyond_the_granted_credits_closes_the_connection() {
    let (mut c, s) = logged_in(0x0302);
    c.next_message_id += 10_000;
    let mut m = c.build(Command::ECHO, &Request::Echo(EchoRequest), 1);
    c.sign(&mut m);
    c.send_framed(&m);
    assert!(c.recv_frame().is_none());
    assert!(s.0.borrow().closed.is_some());
}

#[test]
fn a_second_negotiate_closes_the_connection() {
    let (mut c, s) = logged_in(0x0311);
    c.negotiate_raw(&[0x0311]);
    assert!(c.recv_frame().is_none());
    assert!(matches!(
        s.0.borrow().closed,
        Some(smb_proto::Disconnect::Renegotiate)
    ));
}

#[test]
fn a_session_that_does_not_exist_is_user_session_deleted() {
    let (mut c, _s) = logged_in(0x0311);
    c.session_id ^= 0x5555;
    let m = c.build(Command::ECHO, &Request::Echo(EchoRequest), 1);
    c.send_framed(&m);
    assert_eq!(
        c.recv_reply().unwrap().status,
        NtStatus::USER_SESSION_DELETED
    );
}

#[test]
fn large_requests_must_be_charged_per_64k() {
    let (mut c, _s) = logged_in(0x0311);
    c.tree_connect("\\\\nas\\data");
    let read = Request::Read(smb_wire::file::ReadRequest {
        padding: 0x50,
        flags: 0,
        length: 1024 * 1024,
        offset: 0,
        file_id: smb_wire::FileId {
            persistent: 1,
            volatile: 1,
        },
        minimum_count: 0,
        channel: 0,
        remaining_bytes: 0,
        read_channel_info: vec![],
    });
    // 1 MiB needs a charge of 16; charging 1 is refused.
    let mut m = c.build(Command::READ, &read, 1);
    c.sign(&mut m);
    c.send_framed(&m);
    assert_eq!(c.recv_reply().unwrap().status, NtStatus::INVALID_PARAMETER);
}

/// A server that answers READ the way `smb-server` does: the data lands after
/// `Item::read_headroom()` bytes and goes back as `Reply::ReadData`, no copy.
fn reading_server() -> Shared {
    let users = Users(vec![("alice".into(), ntlm::nt_hash("secret"))]);
    Shared::new(MemServer::new(
        config(),
        users,
        Box::new(|item, req| match req {
            Request::TreeConnect(_) => {
                item.hdr.tree_id = 7;
                Reply::Ok(
                    NtStatus::SUCCESS,
                    Response::TreeConnect(TreeConnectResponse {
                        share_type: 1,
                        share_flags: 0,
                        capabilities: 0,
                        maximal_access: 0x1f01ff,
                    }),
                )
            }
            Request::Read(r) => {
                let headroom = item.read_headroom();
                let mut buf = vec![0u8; headroom];
                buf.extend((0..r.length).map(|i| (r.offset as u32 + i) as u8));
                Reply::ReadData(smb_proto::ReadData {
                    status: NtStatus::SUCCESS,
                    buf,
                    headroom,
                    data_remaining: 0,
                })
            }
            _ => Reply::Err(NtStatus::NOT_SUPPORTED),
        }),
    ))
}

fn read_body(offset: u64, length: u32) -> Request {
    Request::Read(smb_wire::file::ReadRequest {
        padding: 0x50,
        flags: 0,
        length,
        offset,
        file_id: smb_wire::FileId {
            persistent: 1,
            volatile: 2,
        },
        minimum_count: 0,
        channel: 0,
        remaining_bytes: 0,
        read_channel_info: Vec::new(),
    })
}

fn expect_data(msg: &[u8], offset: u64, length: u32) {
    let Ok(hdr) = smb_wire::header::Header::decode(msg) else {
        panic!("the reply header does not decode");
    };
    assert_eq!(NtStatus(hdr.status), NtStatus::SUCCESS);
    let Ok(Response::Read(r)) = Response::decode(&hdr, msg) else {
        panic!("not a READ response");
    };
    let want: Vec<u8> = (0..length).map(|i| (offset as u32 + i) as u8).collect();
    assert!(r.data == want, "READ data differs");
}

#[test]
fn a_read_reply_built_around_its_data_is_signed_and_intact() {
    for d in [0x0210, 0x0300, 0x0311] {
        let s = reading_server();
        let mut c = Client::over(Box::new(s.clone()));
        c.negotiate(&[d]);
        assert_eq!(c.login("alice", "secret"), NtStatus::SUCCESS);
        assert_eq!(c.tree_connect("\\\\nas\\data"), NtStatus::SUCCESS);
        // Client: READ 1 MiB at 4096. Server: the data, the header written in front of it.
        let mut m = c.build(Command::READ, &read_body(4096, 1 << 20), 16);
        c.sign(&mut m);
        c.send_framed(&m);
        let r = c.recv_reply().unwrap();
        expect_data(&r.msg, 4096, 1 << 20);
        let key = c.signing.as_ref().unwrap();
        assert!(r.hdr.is_signed(), "dialect {d:#x}: the reply is signed");
        key.verify(&r.msg)
            .expect("the signature covers header and data");
    }
}

#[test]
fn a_read_that_is_not_first_in_a_compound_is_copied_and_still_right() {
    let s = reading_server();
    let mut c = Client::over(Box::new(s.clone()));
    c.negotiate(&[0x0311]);
    assert_eq!(c.login("alice", "secret"), NtStatus::SUCCESS);
    assert_eq!(c.tree_connect("\\\\nas\\data"), NtStatus::SUCCESS);
    // Client: a compound of two unrelated READs, each signed.
    let mut first = c.build(Command::READ, &read_body(0, 1000), 1);
    let second_len = 70_000;
    let mut second = c.build(Command::READ, &read_body(5, second_len), 2);
    first.resize(first.len().div_ceil(8) * 8, 0);
    let next = first.len() as u32;
    first[20..24].copy_from_slice(&next.to_le_bytes());
    c.sign(&mut first);
    c.sign(&mut second);
    let mut frame = first;
    frame.extend_from_slice(&second);
    c.send_framed(&frame);
    // Server: one frame with both replies, each signed over its own bytes.
    let out = c.recv_frame().unwrap();
    let parts = smb_wire::split_compound(&out).unwrap();
    assert_eq!(parts.len(), 2);
    let key = c.signing.as_ref().unwrap();
    let (a, b) = (parts[0], parts[1]);
    let m1 = &out[a.0..a.0 + a.1];
    let m2 = &out[b.0..b.0 + b.1];
    key.verify(m1).expect("first reply signed");
    key.verify(m2).expect("second reply signed");
    expect_data(m1, 0, 1000);
    expect_data(m2, 5, second_len);
}
