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
