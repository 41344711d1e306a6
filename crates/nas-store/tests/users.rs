//! Users: creation, hashing, lookups, validation.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

use nas_store::{nt_hash, Store, StoreError};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn assert_invalid(r: Result<impl std::fmt::Debug, StoreError>, field: &str, msg_part: &str) {
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

#[test]
fn nt_hash_matches_ms_nlmp_known_answer() {
    // MS-NLMP 4.2.2.1.2: NTOWFv1("Password").
    assert_eq!(
        hex(&nt_hash("Password")),
        "a4f49c406510bdcab6824ee7c30fd852"
    );
    // The well-known NT hash of the empty string.
    assert_eq!(hex(&nt_hash("")), "31d6cfe0d16ae931b73c59d7e0c089c0");
}

#[tokio::test]
async fn add_user_stores_nt_hash_and_verifies_password() {
    let store = Store::open_memory().await.unwrap();
    let u = store.add_user("Alice", "Password").await.unwrap();
    assert_eq!(u.name, "Alice");
    assert!(u.enabled);
    assert_eq!(hex(&u.nt_hash), "a4f49c406510bdcab6824ee7c30fd852");
    assert_eq!(u.created_at.len(), "2026-01-01T00:00:00Z".len());
    assert!(u.created_at.ends_with('Z'));
    // Debug output never leaks the hash.
    assert!(!format!("{u:?}").contains("a4f49c"));

    assert!(store.verify_password("alice", "Password").await.unwrap());
    assert!(!store.verify_password("alice", "password").await.unwrap());
    assert!(!store.verify_password("nobody", "Password").await.unwrap());
    assert!(!store.verify_password("alice", "").await.unwrap());
}

#[tokio::test]
async fn lookups_ignore_case_and_names_are_unique_case_insensitively() {
    let store = Store::open_memory().await.unwrap();
    store.add_user("Bob", "pw1").await.unwrap();
    let found = store.user("BOB").await.unwrap().unwrap();
    assert_eq!(found.name, "Bob");
    assert!(store.user("bobby").await.unwrap().is_none());

    let err = store.add_user("bOb", "pw2").await.unwrap_err();
    assert!(matches!(
        err,
        StoreError::AlreadyExists { what: "user", .. }
    ));
    assert_eq!(err.to_string(), "user 'bOb' already exists");
}

#[tokio::test]
async fn users_are_listed_sorted_case_insensitively() {
    let store = Store::open_memory().await.unwrap();
    for n in ["carol", "Alice", "bob"] {
        store.add_user(n, "x").await.unwrap();
    }
    let names: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["Alice", "bob", "carol"]);
}

#[tokio::test]
async fn set_password_changes_both_hashes() {
    let store = Store::open_memory().await.unwrap();
    store.add_user("dave", "old").await.unwrap();
    store.set_password("DAVE", "Password").await.unwrap();
    let u = store.user("dave").await.unwrap().unwrap();
    assert_eq!(u.nt_hash, nt_hash("Password"));
    assert!(store.verify_password("dave", "Password").await.unwrap());
    assert!(!store.verify_password("dave", "old").await.unwrap());

    let err = store.set_password("ghost", "x").await.unwrap_err();
    assert_eq!(err.to_string(), "user 'ghost' does not exist");
    assert_invalid(
        store.set_password("dave", "").await,
        "password",
        "must not be empty",
    );
}

#[tokio::test]
async fn disabled_users_cannot_log_in() {
    let store = Store::open_memory().await.unwrap();
    store.add_user("erin", "pw").await.unwrap();
    store.set_user_enabled("Erin", false).await.unwrap();
    assert!(!store.user("erin").await.unwrap().unwrap().enabled);
    assert!(!store.verify_password("erin", "pw").await.unwrap());
    store.set_user_enabled("erin", true).await.unwrap();
    assert!(store.verify_password("erin", "pw").await.unwrap());
    assert!(matches!(
        store.set_user_enabled("ghost", true).await,
        Err(StoreError::NotFound { what: "user", .. })
    ));
}

#[tokio::test]
async fn delete_user() {
    let store = Store::open_memory().await.unwrap();
    store.add_user("frank", "pw").await.unwrap();
    store.delete_user("FRANK").await.unwrap();
    assert!(store.user("frank").await.unwrap().is_none());
    let err = store.delete_user("frank").await.unwrap_err();
    assert_eq!(err.to_string(), "user 'frank' does not exist");
}

#[tokio::test]
async fn user_name_rules() {
    let store = Store::open_memory().await.unwrap();
    assert_invalid(
        store.add_user("", "pw").await,
        "user name",
        "must not be empty",
    );
    let long = "a".repeat(65);
    assert_invalid(
        store.add_user(&long, "pw").await,
        "user name",
        "at most 64 characters",
    );
    store.add_user(&"a".repeat(64), "pw").await.unwrap();
    for bad in ["a b", "a/b", "a\\b", "jo@x", "a$", "é", "a\nb"] {
        assert_invalid(
            store.add_user(bad, "pw").await,
            "user name",
            "is not allowed",
        );
    }
    assert_invalid(
        store.add_user("-x", "pw").await,
        "user name",
        "must start with",
    );
    assert_invalid(
        store.add_user(".x", "pw").await,
        "user name",
        "must start with",
    );
    store.add_user("_svc.backup-1", "pw").await.unwrap();
}

#[tokio::test]
async fn password_rules() {
    let store = Store::open_memory().await.unwrap();
    assert_invalid(
        store.add_user("u1", "").await,
        "password",
        "must not be empty",
    );
    let long = "p".repeat(257);
    assert_invalid(
        store.add_user("u1", &long).await,
        "password",
        "at most 256 characters",
    );
    // 256 multi-byte characters are fine (the limit counts characters).
    let ok = "é".repeat(256);
    let u = store.add_user("u1", &ok).await.unwrap();
    assert_eq!(u.nt_hash, nt_hash(&ok));
    assert!(store.verify_password("u1", &ok).await.unwrap());
}
