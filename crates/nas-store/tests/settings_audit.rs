//! Settings (defaults, validation, canonical values) and the audit log.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

use nas_store::{EncryptionPolicy, Settings, Store, StoreError};

fn assert_invalid(r: Result<(), StoreError>, field: &str, msg_part: &str) {
    match r {
        Err(e @ StoreError::Invalid { .. }) => {
            let text = e.to_string();
            let StoreError::Invalid { field: f, .. } = e else {
                unreachable!()
            };
            assert_eq!(f, field, "{text}");
            assert!(
                text.contains(msg_part),
                "message {text:?} lacks {msg_part:?}"
            );
        }
        other => panic!("expected Invalid({field}), got {other:?}"),
    }
}

#[tokio::test]
async fn defaults_when_nothing_is_set() {
    let store = Store::open_memory().await.unwrap();
    let s = store.settings().await.unwrap();
    assert_eq!(s, Settings::default());
    assert_eq!(s.server_name, "NAS");
    assert_eq!(s.workgroup, "WORKGROUP");
    assert_eq!(s.server_comment, "");
    assert!(s.signing_required);
    assert_eq!(s.encryption, EncryptionPolicy::Off);
    assert_eq!(s.min_dialect, "2.0.2");
    assert_eq!(s.max_dialect, "3.1.1");
    assert!(s.smb_direct);
    assert_eq!(s.max_io_size, 8 * 1024 * 1024);
    assert_eq!(s.smb_direct_credits, 255);
    assert!(!s.guest_account_enabled);
    assert!(s.multichannel);
}

#[tokio::test]
async fn set_and_read_back_with_canonical_values() {
    let store = Store::open_memory().await.unwrap();
    store.set_setting("server_name", "FILER-1").await.unwrap();
    store.set_setting("workgroup", "HOME").await.unwrap();
    store
        .set_setting("server_comment", "Basement NAS")
        .await
        .unwrap();
    store.set_setting("signing_required", "no").await.unwrap();
    store.set_setting("encryption", "Required").await.unwrap();
    store.set_setting("min_dialect", "3.0").await.unwrap();
    store.set_setting("smb_direct", "0").await.unwrap();
    store.set_setting("max_io_size", "1048576").await.unwrap();
    store.set_setting("smb_direct_credits", "64").await.unwrap();
    store.set_setting("multichannel", "no").await.unwrap();
    store
        .set_setting("guest_account_enabled", "on")
        .await
        .unwrap();
    let s = store.settings().await.unwrap();
    assert_eq!(s.server_name, "FILER-1");
    assert_eq!(s.workgroup, "HOME");
    assert_eq!(s.server_comment, "Basement NAS");
    assert!(!s.signing_required);
    assert_eq!(s.encryption, EncryptionPolicy::Required);
    assert_eq!(s.min_dialect, "3.0");
    assert!(!s.smb_direct);
    assert_eq!(s.max_io_size, 1_048_576);
    assert_eq!(s.smb_direct_credits, 64);
    assert!(!s.multichannel);
    assert!(s.guest_account_enabled);
    assert_eq!(s.get("signing_required").as_deref(), Some("false"));
    assert_eq!(s.get("encryption").as_deref(), Some("required"));
    assert_eq!(s.get("nope"), None);
    for k in Settings::KEYS {
        assert!(s.get(k).is_some(), "{k}");
    }
}

#[tokio::test]
async fn invalid_settings_are_rejected_with_messages() {
    let store = Store::open_memory().await.unwrap();
    let set = |k: &'static str, v: &'static str| {
        let store = store.clone();
        async move { store.set_setting(k, v).await }
    };
    assert_invalid(
        set("colour", "blue").await,
        "key",
        "unknown setting 'colour'",
    );
    assert_invalid(
        set("server_name", "").await,
        "server_name",
        "must not be empty",
    );
    assert_invalid(
        set("server_name", "ABCDEFGHIJKLMNOP").await,
        "server_name",
        "at most 15",
    );
    assert_invalid(
        set("server_name", "my nas").await,
        "server_name",
        "is not allowed",
    );
    assert_invalid(
        set("server_name", "12345").await,
        "server_name",
        "all digits",
    );
    assert_invalid(set("workgroup", "A.B").await, "workgroup", "is not allowed");
    assert_invalid(
        set("signing_required", "maybe").await,
        "signing_required",
        "not a boolean",
    );
    assert_invalid(
        set("encryption", "always").await,
        "encryption",
        "off, desired, required",
    );
    assert_invalid(
        set("min_dialect", "1.0").await,
        "min_dialect",
        "2.0.2, 2.1, 3.0, 3.0.2, 3.1.1",
    );
    assert_invalid(
        set("max_io_size", "lots").await,
        "max_io_size",
        "not a number",
    );
    assert_invalid(
        set("max_io_size", "1024").await,
        "max_io_size",
        "between 65536 and 8388608",
    );
    assert_invalid(
        set("max_io_size", "8388609").await,
        "max_io_size",
        "between",
    );
    for bad in ["0", "15", "1025", "-1", "many"] {
        assert_invalid(
            set("smb_direct_credits", bad).await,
            "smb_direct_credits",
            "is not a number from 16 to 1024",
        );
    }
    assert_invalid(
        set("server_comment", "a\u{7}").await,
        "server_comment",
        "control",
    );
    // The dialect range may not be inverted, from either end.
    store.set_setting("max_dialect", "3.0").await.unwrap();
    assert_invalid(
        set("min_dialect", "3.1.1").await,
        "dialect",
        "newer than max_dialect",
    );
    store.set_setting("min_dialect", "2.1").await.unwrap();
    assert_invalid(
        set("max_dialect", "2.0.2").await,
        "dialect",
        "newer than max_dialect",
    );
    // Nothing invalid was stored.
    let s = store.settings().await.unwrap();
    assert_eq!(
        (s.min_dialect.as_str(), s.max_dialect.as_str()),
        ("2.1", "3.0")
    );
    assert_eq!(s.server_name, "NAS");
}

#[tokio::test]
async fn audit_log_is_newest_first_and_limited() {
    let store = Store::open_memory().await.unwrap();
    store.audit("cli", "user.add", "alice").await.unwrap();
    store
        .audit("admin", "share.add", "media -> /srv/media")
        .await
        .unwrap();
    store.audit("cli", "user.del", "alice").await.unwrap();
    let log = store.audit_log(2).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[0].actor.as_str(), log[0].action.as_str()),
        ("cli", "user.del")
    );
    assert_eq!(log[1].detail, "media -> /srv/media");
    assert!(log[0].id > log[1].id);
    assert!(log[0].at.ends_with('Z'));
    assert_eq!(store.audit_log(100).await.unwrap().len(), 3);

    store.audit("cli", "x", &"d".repeat(5000)).await.unwrap();
    let long = &store.audit_log(1).await.unwrap()[0].detail;
    assert_eq!(long.chars().count(), nas_store::MAX_AUDIT_FIELD + 1);
    assert!(long.ends_with('…'));
}
