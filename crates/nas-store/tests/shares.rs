//! Shares: creation, validation, access lists, cascade on user deletion.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};

use nas_store::{NewShare, Store, StoreError};

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

async fn store_with_users(names: &[&str]) -> Store {
    let store = Store::open_memory().await.unwrap();
    for n in names {
        store.add_user(n, "pw").await.unwrap();
    }
    store
}

#[tokio::test]
async fn add_and_read_back_a_share() {
    let store = store_with_users(&["alice", "Bob"]).await;
    let mut s = NewShare::new("Media", "/srv/nas//media/");
    s.comment = "Films and music".into();
    s.read_only = true;
    s.encrypt = true;
    s.valid_users = vec!["bob".into(), "alice".into()];
    s.write_users = vec!["ALICE".into()];
    let got = store.add_share(&s).await.unwrap();
    assert_eq!(got.name, "Media");
    assert_eq!(
        got.path,
        PathBuf::from("/srv/nas/media"),
        "path is normalised"
    );
    assert_eq!(got.comment, "Films and music");
    assert!(got.read_only && got.encrypt && got.browseable && !got.guest_ok);
    // Names come back as stored, sorted case-insensitively.
    assert_eq!(got.valid_users, ["alice", "Bob"]);
    assert_eq!(got.write_users, ["alice"]);

    let again = store.share("MEDIA").await.unwrap().unwrap();
    assert_eq!(again, got);
    assert!(store.share("medi").await.unwrap().is_none());
    assert_eq!(store.shares().await.unwrap(), vec![got]);
}

#[tokio::test]
async fn share_names_are_unique_case_insensitively() {
    let store = store_with_users(&[]).await;
    store
        .add_share(&NewShare::new("Docs", "/srv/docs"))
        .await
        .unwrap();
    let err = store
        .add_share(&NewShare::new("DOCS", "/srv/other"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "share 'DOCS' already exists");
}

#[tokio::test]
async fn share_name_rules() {
    let store = store_with_users(&[]).await;
    let add = |name: &str| {
        let store = store.clone();
        let s = NewShare::new(name, "/srv/x");
        async move { store.add_share(&s).await }
    };
    assert_invalid(add("").await, "share name", "must not be empty");
    assert_invalid(
        add(&"s".repeat(81)).await,
        "share name",
        "at most 80 characters",
    );
    for c in [
        "\\", "/", ":", "*", "?", "\"", "<", ">", "|", "[", "]", ";", "=", "+", ",", "\t",
    ] {
        assert_invalid(add(&format!("a{c}b")).await, "share name", "is not allowed");
    }
    assert_invalid(add("IPC$").await, "share name", "reserved");
    assert_invalid(add("ipc$").await, "share name", "reserved");
    assert_invalid(add(" lead").await, "share name", "space");
    assert_invalid(add("..").await, "share name", "not share names");
    // Hidden shares (trailing '$') and 80-character names are allowed.
    add("backup$").await.unwrap();
    add(&"s".repeat(80)).await.unwrap();
    add("My Files").await.unwrap();
}

#[tokio::test]
async fn share_path_rules() {
    let store = store_with_users(&[]).await;
    let add = |path: &str| {
        let store = store.clone();
        let s = NewShare::new("p", path);
        async move { store.add_share(&s).await }
    };
    assert_invalid(add("srv/x").await, "path", "is not absolute");
    assert_invalid(add("").await, "path", "is not absolute");
    assert_invalid(add("/srv/../etc").await, "path", "'.' or '..'");
    assert_invalid(add("/srv/./x").await, "path", "'.' or '..'");
    assert_invalid(add("/srv/x/..").await, "path", "'.' or '..'");
    assert_invalid(add("/").await, "path", "root directory");
    assert_invalid(add("//").await, "path", "root directory");
    assert_invalid(add("/srv/a\nb").await, "path", "control characters");
    let s = add("/srv//x///").await.unwrap();
    assert_eq!(s.path, Path::new("/srv/x"));
}

#[tokio::test]
async fn comment_rules() {
    let store = store_with_users(&[]).await;
    let mut s = NewShare::new("c", "/srv/c");
    s.comment = "x".repeat(257);
    assert_invalid(store.add_share(&s).await, "comment", "at most 256");
    s.comment = "two\nlines".into();
    assert_invalid(store.add_share(&s).await, "comment", "control characters");
}

#[tokio::test]
async fn user_lists_must_name_existing_users() {
    let store = store_with_users(&["alice"]).await;
    let mut s = NewShare::new("s", "/srv/s");
    s.valid_users = vec!["alice".into(), "mallory".into()];
    let err = store.add_share(&s).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid valid_users: user 'mallory' does not exist"
    );
    // Nothing was half-written.
    assert!(store.share("s").await.unwrap().is_none());

    s.valid_users = vec![];
    s.write_users = vec!["trent".into()];
    assert_invalid(
        store.add_share(&s).await,
        "write_users",
        "user 'trent' does not exist",
    );
}

#[tokio::test]
async fn write_users_must_be_valid_users_when_the_list_is_restricted() {
    let store = store_with_users(&["alice", "bob"]).await;
    let mut s = NewShare::new("s", "/srv/s");
    s.read_only = true;
    s.valid_users = vec!["alice".into()];
    s.write_users = vec!["bob".into()];
    assert_invalid(
        store.add_share(&s).await,
        "write_users",
        "'bob' is not in valid_users",
    );
    // With an open list, any existing user may be a writer; duplicates collapse.
    s.valid_users = vec![];
    s.write_users = vec!["bob".into(), "BOB".into()];
    let got = store.add_share(&s).await.unwrap();
    assert_eq!(got.write_users, ["bob"]);
}

#[tokio::test]
async fn update_share_replaces_fields_and_can_rename() {
    let store = store_with_users(&["alice", "bob"]).await;
    let mut s = NewShare::new("old", "/srv/a");
    s.valid_users = vec!["alice".into()];
    let first = store.add_share(&s).await.unwrap();
    store
        .add_share(&NewShare::new("taken", "/srv/t"))
        .await
        .unwrap();

    let mut n = NewShare::new("New", "/srv/b");
    n.browseable = false;
    n.valid_users = vec!["bob".into()];
    let got = store.update_share("OLD", &n).await.unwrap();
    assert_eq!(got.id, first.id);
    assert_eq!(got.name, "New");
    assert_eq!(got.path, Path::new("/srv/b"));
    assert!(!got.browseable);
    assert_eq!(got.valid_users, ["bob"]);
    assert!(store.share("old").await.unwrap().is_none());

    let err = store
        .update_share("new", &NewShare::new("Taken", "/srv/b"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "share 'Taken' already exists");
    let err = store.update_share("ghost", &n).await.unwrap_err();
    assert_eq!(err.to_string(), "share 'ghost' does not exist");
    // A failed update leaves the share as it was.
    assert_eq!(store.share("new").await.unwrap().unwrap(), got);
}

#[tokio::test]
async fn delete_share() {
    let store = store_with_users(&["alice"]).await;
    let mut s = NewShare::new("gone", "/srv/g");
    s.valid_users = vec!["alice".into()];
    store.add_share(&s).await.unwrap();
    store.delete_share("GONE").await.unwrap();
    assert!(store.shares().await.unwrap().is_empty());
    let err = store.delete_share("gone").await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { what: "share", .. }));
    // The user is untouched.
    assert!(store.user("alice").await.unwrap().is_some());
}

#[tokio::test]
async fn deleting_a_user_removes_it_from_share_lists() {
    let store = store_with_users(&["alice", "bob"]).await;
    let mut s = NewShare::new("team", "/srv/team");
    s.read_only = true;
    s.valid_users = vec!["alice".into(), "bob".into()];
    s.write_users = vec!["bob".into()];
    store.add_share(&s).await.unwrap();

    store.delete_user("Bob").await.unwrap();
    let got = store.share("team").await.unwrap().unwrap();
    assert_eq!(got.valid_users, ["alice"]);
    assert!(got.write_users.is_empty());

    // Re-creating "bob" does not resurrect the old grants.
    store.add_user("bob", "pw").await.unwrap();
    let got = store.share("team").await.unwrap().unwrap();
    assert_eq!(got.valid_users, ["alice"]);
}
