//! Transcripts of the session rules beyond the first logon: re-authentication (MS-SMB2
//! 3.3.5.5.3), PreviousSessionId, and binding attempts from a second connection (3.3.5.5.2),
//! with two in-memory connections sharing one session registry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use smb_proto::{Config, Reply, SessionEvent};
use smb_test_support::mem::{MemServer, Registry, Shared, Users};
use smb_test_support::{ntlm, Client};
use smb_wire::header::Command;
use smb_wire::message::{Request, Response};
use smb_wire::misc::EchoRequest;
use smb_wire::tree::TreeConnectResponse;
use smb_wire::NtStatus;

const BINDING: u8 = 0x01;

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

fn server(registry: &Registry) -> Shared {
    server_with(registry, config())
}

fn server_with(registry: &Registry, cfg: Config) -> Shared {
    let users = Users(vec![
        ("alice".into(), ntlm::nt_hash("secret")),
        ("bob".into(), ntlm::nt_hash("hunter2")),
    ]);
    Shared::new(
        MemServer::new(
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
        )
        .with_registry(registry.clone()),
    )
}

fn logged_in(registry: &Registry, dialect: u16) -> (Client, Shared) {
    let s = server(registry);
    let mut c = Client::over(Box::new(s.clone()));
    assert_eq!(c.negotiate(&[dialect]).status, NtStatus::SUCCESS);
    assert_eq!(c.login("alice", "secret"), NtStatus::SUCCESS);
    (c, s)
}

fn echo(c: &mut Client) -> NtStatus {
    c.call(Command::ECHO, &Request::Echo(EchoRequest))
        .expect("echo reply")
        .status
}

#[test]
fn reauthentication_keeps_the_keys_and_signs_every_round() {
    for d in [0x0210, 0x0302, 0x0311] {
        let reg = Registry::default();
        let (mut c, s) = logged_in(&reg, d);
        let sid = c.session_id;
        let key = c.signing.clone();
        // login_with asserts that the interim and final answers verify with the old key.
        assert_eq!(c.login("alice", "secret"), NtStatus::SUCCESS, "{d:#x}");
        assert_eq!(c.session_id, sid);
        let last = c.last_setup().unwrap();
        assert!(last.hdr.is_signed());
        assert_eq!(format!("{:?}", c.signing), format!("{key:?}"));
        // Requests signed with the original key still work.
        assert_eq!(c.tree_connect("\\\\nas\\data"), NtStatus::SUCCESS);
        // The registry saw the session established twice, never ended.
        let ev = &s.0.borrow().events;
        assert_eq!(
            ev.iter()
                .filter(|e| matches!(e, SessionEvent::Established(x) if x.info.id == sid))
                .count(),
            2
        );
        assert!(!ev.iter().any(|e| matches!(e, SessionEvent::Ended(_))));
    }
}

#[test]
fn reauthentication_as_another_user_changes_who_the_session_is() {
    let reg = Registry::default();
    let (mut c, _s) = logged_in(&reg, 0x0311);
    assert_eq!(c.login("bob", "hunter2"), NtStatus::SUCCESS);
    let sid = c.session_id;
    assert_eq!(reg.0.borrow().get(&sid).unwrap().info.user, "bob");
    assert_eq!(echo(&mut c), NtStatus::SUCCESS);
}

#[test]
fn a_failed_reauthentication_is_signed_and_ends_the_session() {
    let reg = Registry::default();
    let (mut c, s) = logged_in(&reg, 0x0311);
    let sid = c.session_id;
    // login_with asserts the LOGON_FAILURE verifies with the session's key.
    assert_eq!(c.login("alice", "wrong"), NtStatus::LOGON_FAILURE);
    assert!(c.last_setup().unwrap().hdr.is_signed());
    assert_eq!(echo(&mut c), NtStatus::USER_SESSION_DELETED);
    assert!(reg.0.borrow().get(&sid).is_none());
    assert!(s
        .0
        .borrow()
        .events
        .iter()
        .any(|e| matches!(e, SessionEvent::Ended(x) if *x == sid)));
}

#[test]
fn a_malformed_ntlm_response_is_invalid_parameter() {
    let reg = Registry::default();
    let s = server(&reg);
    let mut c = Client::over(Box::new(s.clone()));
    c.negotiate(&[0x0311]);
    // NEGOTIATE, then an AUTHENTICATE whose NTLMv2 blob has AV pairs running past its end.
    let body = |token: Vec<u8>| {
        Request::SessionSetup(smb_wire::session::SessionSetupRequest {
            flags: 0,
            security_mode: 1,
            capabilities: 0,
            channel: 0,
            previous_session_id: 0,
            security_buffer: token,
        })
    };
    let m = c.build(Command::SESSION_SETUP, &body(ntlm::negotiate()), 1);
    c.send_framed(&m);
    let r = c.recv_reply().unwrap();
    assert_eq!(r.status, NtStatus::MORE_PROCESSING_REQUIRED);
    c.session_id = r.hdr.session_id;
    let Response::SessionSetup(ss) = r.body() else {
        panic!()
    };
    let ch = ntlm::parse_challenge(&ss.security_buffer);
    let mut auth = ntlm::authenticate(
        &ch,
        "alice",
        "",
        &ntlm::nt_hash("secret"),
        [1; 8],
        1,
        [2; 16],
    )
    .message;
    // The NT response starts at 88 + 24 (after the LM response); its blob header is 16 +
    // 28 bytes in: claim a huge first AV pair there.
    let av = 88 + 24 + 16 + 28;
    auth[av..av + 4].copy_from_slice(&[0x11, 0xa2, 0x08, 0x81]);
    let m = c.build(Command::SESSION_SETUP, &body(auth), 1);
    c.send_framed(&m);
    assert_eq!(c.recv_reply().unwrap().status, NtStatus::INVALID_PARAMETER);
}

#[test]
fn session_ids_are_unique_across_connections() {
    let reg = Registry::default();
    // Both connections draw the same "random" bytes; the second must skip the first's id.
    let (a, _sa) = logged_in(&reg, 0x0311);
    let (b, _sb) = logged_in(&reg, 0x0311);
    assert_ne!(a.session_id, b.session_id);
    assert_eq!(reg.0.borrow().len(), 2);
}

#[test]
fn a_setup_with_previous_session_id_asks_the_server_to_end_it() {
    let reg = Registry::default();
    let (a, _sa) = logged_in(&reg, 0x0311);
    let s = server(&reg);
    let seen = std::rc::Rc::new(std::cell::Cell::new(None));
    {
        // The stand-in server records the item's PreviousSessionId as the real one would
        // act on it.
        let seen = seen.clone();
        let mut srv = s.0.borrow_mut();
        srv.on_answered = Some(Box::new(move |item| {
            if let Some(p) = item.previous_session() {
                seen.set(Some((p, item.session.as_ref().map(|i| i.user.clone()))));
            }
        }));
    }
    let mut b = Client::over(Box::new(s.clone()));
    b.negotiate(&[0x0311]);
    assert_eq!(
        b.login_with("alice", "secret", 0, a.session_id),
        NtStatus::SUCCESS
    );
    assert_eq!(seen.take(), Some((a.session_id, Some("alice".to_string()))));
}

#[test]
fn binding_attempts_get_the_status_and_signature_the_client_needs() {
    // (session dialect, binding connection dialect, expected status)
    let cases = [
        // Signing algorithms differ with GMAC on the session's side / the new side.
        (0x0311, 0x0302, NtStatus::REQUEST_OUT_OF_SEQUENCE),
        (0x0302, 0x0311, NtStatus::NOT_SUPPORTED),
        // A 2.x connection cannot bind.
        (0x0302, 0x0210, NtStatus::REQUEST_NOT_ACCEPTED),
        (0x0210, 0x0210, NtStatus::REQUEST_NOT_ACCEPTED),
        // Same signing algorithm, another dialect.
        (0x0300, 0x0302, NtStatus::INVALID_PARAMETER),
    ];
    for (d1, d2, want) in cases {
        let reg = Registry::default();
        let (mut a, _sa) = logged_in(&reg, d1);
        let s2 = server(&reg);
        let mut b = Client::over(Box::new(s2.clone()));
        b.negotiate(&[d2]);
        // The second channel signs with the session's key (login_with verifies that a
        // signed answer verifies with it).
        b.session_id = a.session_id;
        b.signing = a.signing.clone();
        let st = b.login_with("alice", "secret", BINDING, 0);
        assert_eq!(st, want, "{d1:#x} → {d2:#x}");
        let r = b
            .last_setup()
            .unwrap_or_else(|| panic!("{d1:#x} → {d2:#x}"));
        assert!(
            r.hdr.is_signed(),
            "{d1:#x} → {d2:#x}: answer flagged signed"
        );
        if want == NtStatus::REQUEST_NOT_ACCEPTED {
            a.signing.as_ref().unwrap().verify(&r.msg).unwrap();
        }
        // The session is untouched on its own connection, and not usable on the new one.
        assert_eq!(echo(&mut a), NtStatus::SUCCESS);
        assert_eq!(echo(&mut b), NtStatus::USER_SESSION_DELETED);
        // Without the binding flag the session is unknown on the new connection.
        assert_eq!(
            b.login_with("alice", "secret", 0, 0),
            NtStatus::USER_SESSION_DELETED
        );
        assert!(b.last_setup().unwrap().hdr.is_signed());
    }
}

#[test]
fn binding_an_unknown_session_is_user_session_deleted() {
    let reg = Registry::default();
    let (a, _sa) = logged_in(&reg, 0x0311);
    let s2 = server(&reg);
    let mut b = Client::over(Box::new(s2.clone()));
    b.negotiate(&[0x0311]);
    b.session_id = a.session_id ^ 0x5a5a;
    b.signing = a.signing.clone();
    assert_eq!(
        b.login_with("alice", "secret", BINDING, 0),
        NtStatus::USER_SESSION_DELETED
    );
}

#[test]
fn a_second_connection_binds_and_signs_with_its_channel_key() {
    for d in [0x0300, 0x0302, 0x0311] {
        let reg = Registry::default();
        let (mut a, _sa) = logged_in(&reg, d);
        let s2 = server(&reg);
        let mut b = Client::over(Box::new(s2.clone()));
        b.negotiate(&[d]);
        b.session_id = a.session_id;
        b.signing = a.signing.clone();
        // login_with checks the interim answers with the session's key and the final one
        // with the channel key it derives.
        assert_eq!(
            b.login_with("alice", "secret", BINDING, 0),
            NtStatus::SUCCESS,
            "{d:#x}"
        );
        assert_eq!(b.session_id, a.session_id);
        assert!(s2
            .0
            .borrow()
            .events
            .iter()
            .any(|e| matches!(e, SessionEvent::Bound(x) if *x == a.session_id)));
        // Requests on the channel are signed with the channel key and handed to the server
        // under the session; the session still works on its first connection.
        assert_eq!(b.tree_connect("\\\\nas\\data"), NtStatus::SUCCESS, "{d:#x}");
        assert_eq!(echo(&mut a), NtStatus::SUCCESS);
        // The session's own key is not the channel's on the second connection (3.1.1: the
        // channel key comes from the channel's preauth hash; 3.0.x: from the binding's
        // session key, which this test client always draws the same).
        if d == 0x0311 {
            b.signing = a.signing.clone();
            assert_eq!(echo(&mut b), NtStatus::ACCESS_DENIED);
        }
    }
}

#[test]
fn without_multichannel_a_binding_is_request_not_accepted() {
    let reg = Registry::default();
    let mut cfg = config();
    cfg.multichannel = false;
    let s1 = server_with(&reg, cfg.clone());
    let mut a = Client::over(Box::new(s1.clone()));
    a.negotiate(&[0x0302]);
    assert_eq!(a.login("alice", "secret"), NtStatus::SUCCESS);
    let s2 = server_with(&reg, cfg);
    let mut b = Client::over(Box::new(s2.clone()));
    let r = b.negotiate(&[0x0302]);
    let Response::Negotiate(n) = r.body() else {
        panic!()
    };
    assert_eq!(n.capabilities & 0x08, 0, "no SMB2_GLOBAL_CAP_MULTI_CHANNEL");
    b.session_id = a.session_id;
    b.signing = a.signing.clone();
    assert_eq!(
        b.login_with("alice", "secret", BINDING, 0),
        NtStatus::REQUEST_NOT_ACCEPTED
    );
    a.signing
        .as_ref()
        .unwrap()
        .verify(&b.last_setup().unwrap().msg)
        .unwrap();
}

#[test]
fn a_bound_channel_refuses_the_session_key_and_a_second_binding() {
    let reg = Registry::default();
    let (a, _sa) = logged_in(&reg, 0x0311);
    let s2 = server(&reg);
    let mut b = Client::over(Box::new(s2.clone()));
    b.negotiate(&[0x0311]);
    b.session_id = a.session_id;
    b.signing = a.signing.clone();
    assert_eq!(
        b.login_with("alice", "secret", BINDING, 0),
        NtStatus::SUCCESS
    );
    // Signed with the session's key instead of the channel's: ACCESS_DENIED, for a new
    // binding as for a re-authentication (what Windows and Samba answer).
    b.signing = a.signing.clone();
    assert_eq!(
        b.login_with("alice", "secret", BINDING, 0),
        NtStatus::ACCESS_DENIED
    );
    assert_eq!(
        b.login_with("alice", "secret", 0, 0),
        NtStatus::ACCESS_DENIED
    );
}

#[test]
fn a_binding_by_another_user_is_access_denied() {
    let reg = Registry::default();
    let (a, _sa) = logged_in(&reg, 0x0311);
    let s2 = server(&reg);
    let mut b = Client::over(Box::new(s2.clone()));
    b.negotiate(&[0x0311]);
    b.session_id = a.session_id;
    b.signing = a.signing.clone();
    assert_eq!(
        b.login_with("bob", "hunter2", BINDING, 0),
        NtStatus::ACCESS_DENIED
    );
    assert!(!s2
        .0
        .borrow()
        .events
        .iter()
        .any(|e| matches!(e, SessionEvent::Bound(_))));
}

#[test]
fn a_failed_reauthentication_through_a_channel_revokes_the_session() {
    let reg = Registry::default();
    let (a, _sa) = logged_in(&reg, 0x0311);
    let s2 = server(&reg);
    let mut b = Client::over(Box::new(s2.clone()));
    b.negotiate(&[0x0311]);
    b.session_id = a.session_id;
    b.signing = a.signing.clone();
    assert_eq!(
        b.login_with("alice", "secret", BINDING, 0),
        NtStatus::SUCCESS
    );
    // A good re-authentication through the channel keeps it (answers signed with the
    // channel key, which login_with checks).
    assert_eq!(b.login("alice", "secret"), NtStatus::SUCCESS);
    assert_eq!(echo(&mut b), NtStatus::SUCCESS);
    // A bad one: LOGON_FAILURE signed with the channel key, and the session is revoked.
    assert_eq!(b.login("alice", "wrong"), NtStatus::LOGON_FAILURE);
    assert_eq!(echo(&mut b), NtStatus::USER_SESSION_DELETED);
    assert!(s2
        .0
        .borrow()
        .events
        .iter()
        .any(|e| matches!(e, SessionEvent::Revoked(x) if *x == a.session_id)));
}
