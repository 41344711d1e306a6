//! Whole SESSION_SETUP conversations: the test client (tests/common) against SpnegoServer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

mod common;

use common::*;
use smb_auth::flags::*;
use smb_auth::{
    server_neg_token_init, AuthError, AuthOutcome, NtlmServer, SpnegoServer, Step, OID_NTLMSSP,
};

#[test]
fn server_neg_token_init_offers_ntlmssp_only() {
    let t = server_neg_token_init();
    let (tag, gss, rest) = tlv(&t);
    assert_eq!((tag, rest.len()), (0x60, 0));
    let (tag, oid, rest) = tlv(gss);
    assert_eq!(tag, 0x06);
    assert_eq!(oid, smb_auth::OID_SPNEGO);
    let (tag, init, _) = tlv(rest);
    assert_eq!(tag, 0xa0);
    let (tag, seq, _) = tlv(init);
    assert_eq!(tag, 0x30);
    let (tag, mech_types, rest) = tlv(seq);
    assert_eq!(tag, 0xa0);
    assert_eq!(mech_types, mech_type_list(&[OID_NTLMSSP]));
    let (tag, hints, rest) = tlv(rest);
    assert_eq!((tag, rest.len()), (0xa3, 0));
    assert!(hints
        .windows(36)
        .any(|w| w == b"not_defined_in_RFC4178@please_ignore"));
}

#[test]
fn alice_logs_on_and_both_sides_agree_on_the_key() {
    let c = converse(NtlmClient::new("alice", "WORKGROUP", "Secret1"), false);
    let first = c.first_reply.unwrap();
    assert_eq!(first.state, Some(1), "accept-incomplete");
    assert_eq!(
        first.mech.as_deref(),
        Some(OID_NTLMSSP),
        "supportedMech NTLMSSP"
    );
    match c.result.unwrap() {
        AuthOutcome::User {
            user,
            domain,
            session_key,
        } => {
            assert_eq!(user, "alice");
            assert_eq!(domain, "WORKGROUP");
            assert_eq!(Some(session_key), c.client_key);
            assert_eq!(
                session_key, [0x42; 16],
                "the client's random session key (KEY_EXCH)"
            );
        }
        other => panic!("expected a user, got {other:?}"),
    }
    assert_eq!(
        c.server_mic_ok,
        Some(true),
        "server mechListMIC verified by the client"
    );
}

#[test]
fn user_lookup_is_case_insensitive_and_domain_free() {
    let c = converse(NtlmClient::new("ALICE", "", "Secret1"), false);
    assert!(matches!(c.result, Ok(AuthOutcome::User { ref user, .. }) if user == "ALICE"));
}

#[test]
fn wrong_password_and_unknown_user_are_told_apart() {
    let c = converse(NtlmClient::new("alice", "WORKGROUP", "secret1"), false);
    assert_eq!(c.result, Err(AuthError::WrongPassword));
    let c = converse(NtlmClient::new("mallory", "WORKGROUP", "x"), false);
    assert_eq!(c.result, Err(AuthError::UnknownUser("mallory".into())));
}

#[test]
fn ntlmv1_is_refused() {
    let mut client = NtlmClient::new("alice", "WORKGROUP", "Secret1");
    client.twist = Twist::NtlmV1;
    assert_eq!(
        converse(client, false).result,
        Err(AuthError::NtlmV1Refused)
    );
}

#[test]
fn tampered_authenticate_mic_is_refused() {
    let mut client = NtlmClient::new("alice", "WORKGROUP", "Secret1");
    client.twist = Twist::TamperMic;
    assert_eq!(converse(client, false).result, Err(AuthError::MicMismatch));
}

#[test]
fn tampered_or_missing_mech_list_mic_is_refused() {
    let mut client = NtlmClient::new("bob", "WORKGROUP", "hunter2");
    client.twist = Twist::TamperMechListMic;
    assert_eq!(converse(client, false).result, Err(AuthError::MicMismatch));
    let mut client = NtlmClient::new("bob", "WORKGROUP", "hunter2");
    client.twist = Twist::NoMechListMic;
    assert_eq!(
        converse(client, false).result,
        Err(AuthError::MissingMechListMic)
    );
}

#[test]
fn anonymous_logon() {
    let mut client = NtlmClient::new("", "", "");
    client.twist = Twist::Anonymous;
    let c = converse(client, false);
    assert_eq!(c.result, Ok(AuthOutcome::Anonymous));
    assert_eq!(c.server_mic_ok, None, "no keys, no mechListMIC");
}

#[test]
fn kerberos_first_with_optimistic_token_falls_back_to_ntlmssp() {
    let c = converse(NtlmClient::new("bob", "WORKGROUP", "hunter2"), true);
    let first = c.first_reply.unwrap();
    assert_eq!(
        first.state,
        Some(3),
        "request-mic: NTLMSSP was not the first choice"
    );
    assert_eq!(first.mech.as_deref(), Some(OID_NTLMSSP));
    assert!(matches!(c.result, Ok(AuthOutcome::User { ref user, .. }) if user == "bob"));
    assert_eq!(c.server_mic_ok, Some(true));
}

#[test]
fn no_ntlmssp_in_mech_types_is_refused() {
    let mut s = SpnegoServer::new(identity(), [7; 8], 0);
    let init = neg_token_init(&mech_type_list(&[OID_KRB5]), Some(b"krb5 ap-req"));
    assert_eq!(s.step(&init, &Users), Err(AuthError::NoCommonMechanism));
}

#[test]
fn raw_ntlmssp_without_spnego() {
    let mut s = SpnegoServer::new(identity(), [9; 8], 0x01d9_0000_0000_0000);
    let mut client = NtlmClient::new("alice", "WORKGROUP", "Secret1");
    let Step::Continue(challenge) = s.step(&client.negotiate(), &Users).unwrap() else {
        panic!("expected the CHALLENGE")
    };
    assert_eq!(&challenge[..12], b"NTLMSSP\0\x02\0\0\0");
    assert_eq!(&challenge[24..32], &[9; 8]);
    let auth = client.authenticate(&challenge);
    let step = s.step(&auth, &Users).unwrap();
    assert_eq!(
        step,
        Step::Done {
            token: Vec::new(),
            outcome: AuthOutcome::User {
                user: "alice".into(),
                domain: "WORKGROUP".into(),
                session_key: client.exported.unwrap()
            }
        }
    );
    // The exchange is over.
    assert_eq!(s.step(&auth, &Users), Err(AuthError::UnexpectedMessage));
}

#[test]
fn challenge_carries_the_target_info_pairs() {
    let mut s = NtlmServer::new(identity(), [3; 8], 0x0123_4567_89ab_cdef);
    let mut client = NtlmClient::new("alice", "WORKGROUP", "Secret1");
    client.flags &= !(NEGOTIATE_KEY_EXCH | NEGOTIATE_SEAL);
    let ch = s.challenge(&client.negotiate()).unwrap();
    let flags = u32::from_le_bytes(ch[20..24].try_into().unwrap());
    assert_eq!(flags & NEGOTIATE_KEY_EXCH, 0, "not offered, not granted");
    assert_eq!(flags & NEGOTIATE_SEAL, 0);
    for f in [
        NEGOTIATE_UNICODE,
        NEGOTIATE_NTLM,
        NEGOTIATE_EXTENDED_SESSIONSECURITY,
        NEGOTIATE_TARGET_INFO,
        TARGET_TYPE_SERVER,
        NEGOTIATE_SIGN,
        NEGOTIATE_128,
        NEGOTIATE_VERSION,
    ] {
        assert_ne!(flags & f, 0, "flag {f:#x}");
    }
    // TargetName = NetBIOS domain.
    let tn_len = u16::from_le_bytes([ch[12], ch[13]]) as usize;
    let tn_off = u32::from_le_bytes(ch[16..20].try_into().unwrap()) as usize;
    assert_eq!(
        &ch[tn_off..tn_off + tn_len],
        smb_auth::utf16le("WORKGROUP").as_slice()
    );
    // AV pairs.
    let ti_len = u16::from_le_bytes([ch[40], ch[41]]) as usize;
    let ti_off = u32::from_le_bytes(ch[44..48].try_into().unwrap()) as usize;
    assert_eq!(ti_off + ti_len, ch.len());
    let mut ti = &ch[ti_off..ti_off + ti_len];
    let mut seen = Vec::new();
    loop {
        let id = u16::from_le_bytes([ti[0], ti[1]]);
        let len = u16::from_le_bytes([ti[2], ti[3]]) as usize;
        seen.push((id, ti[4..4 + len].to_vec()));
        ti = &ti[4 + len..];
        if id == 0 {
            break;
        }
    }
    assert!(ti.is_empty());
    let u = smb_auth::utf16le;
    assert_eq!(
        seen,
        vec![
            (2, u("WORKGROUP")),
            (1, u("NAS")),
            (4, u("example.org")),
            (3, u("nas.example.org")),
            (7, 0x0123_4567_89ab_cdef_u64.to_le_bytes().to_vec()),
            (0, vec![]),
        ]
    );
    // Without KEY_EXCH the session key is the SessionBaseKey, and both sides agree.
    let auth = client.authenticate(&ch);
    let AuthOutcome::User { session_key, .. } = s.authenticate(&auth, &Users).unwrap() else {
        panic!("expected a user")
    };
    assert_eq!(Some(session_key), client.exported);
    assert_ne!(session_key, client.random_session_key);
    assert!(s.mic_verified());
}

#[test]
fn messages_out_of_order_are_unexpected() {
    let mut s = NtlmServer::new(identity(), [3; 8], 0);
    let mut client = NtlmClient::new("alice", "WORKGROUP", "Secret1");
    let neg = client.negotiate();
    // AUTHENTICATE before any CHALLENGE.
    assert_eq!(
        s.authenticate(&neg, &Users),
        Err(AuthError::UnexpectedMessage)
    );
    let ch = s.challenge(&neg).unwrap();
    // A second NEGOTIATE.
    assert_eq!(s.challenge(&neg), Err(AuthError::UnexpectedMessage));
    // A NEGOTIATE where the AUTHENTICATE belongs.
    assert_eq!(
        s.authenticate(&neg, &Users),
        Err(AuthError::UnexpectedMessage)
    );
    let _ = client.authenticate(&ch);

    // SPNEGO: a negTokenResp before any negTokenInit.
    let mut sp = SpnegoServer::new(identity(), [3; 8], 0);
    assert_eq!(
        sp.step(&neg_token_resp(&neg, None), &Users),
        Err(AuthError::UnexpectedMessage)
    );
}
