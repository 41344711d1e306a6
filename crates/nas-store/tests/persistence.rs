//! On-disk database: reopening keeps the data, migrations are idempotent, WAL is on, and
//! the snapshot is one consistent view.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

use std::path::Path;

use nas_store::{NewShare, Store};

#[tokio::test]
async fn data_survives_reopen_and_migrations_rerun_harmlessly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nasd.db");
    {
        let store = Store::open(&db).await.unwrap();
        store.add_user("alice", "Password").await.unwrap();
        let mut s = NewShare::new("home", "/srv/home");
        s.valid_users = vec!["alice".into()];
        store.add_share(&s).await.unwrap();
        store.set_setting("server_name", "BOX").await.unwrap();
        store.audit("test", "setup", "").await.unwrap();
        store.close().await;
    }
    assert!(db.exists());
    // WAL mode leaves its marker in the header (file format bytes 18/19 = 2).
    let header = std::fs::read(&db).unwrap();
    assert_eq!(&header[..16], b"SQLite format 3\0");
    assert_eq!((header[18], header[19]), (2, 2), "journal mode is WAL");

    for _ in 0..2 {
        let store = Store::open(&db).await.unwrap();
        assert!(store.verify_password("ALICE", "Password").await.unwrap());
        let share = store.share("HOME").await.unwrap().unwrap();
        assert_eq!(share.valid_users, ["alice"]);
        assert_eq!(store.settings().await.unwrap().server_name, "BOX");
        assert_eq!(store.audit_log(10).await.unwrap().len(), 1);
        store.close().await;
    }
}

#[tokio::test]
async fn open_fails_cleanly_when_the_directory_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("no/such/dir/nasd.db");
    let err = Store::open(&db).await.unwrap_err();
    assert!(err.to_string().starts_with("database error"), "{err}");
}

#[tokio::test]
async fn memory_stores_are_independent() {
    let a = Store::open_memory().await.unwrap();
    let b = Store::open_memory().await.unwrap();
    a.add_user("alice", "x").await.unwrap();
    assert!(b.user("alice").await.unwrap().is_none());
    // A clone shares the same database.
    assert!(a.clone().user("alice").await.unwrap().is_some());
}

#[tokio::test]
async fn snapshot_has_users_shares_and_settings() {
    let store = Store::open_memory().await.unwrap();
    store.add_user("bob", "Password").await.unwrap();
    store.add_user("alice", "pw").await.unwrap();
    store.set_user_enabled("alice", false).await.unwrap();
    let mut s = NewShare::new("team", "/srv/team");
    s.valid_users = vec!["bob".into()];
    store.add_share(&s).await.unwrap();
    store.set_setting("encryption", "desired").await.unwrap();

    let snap = store.snapshot().await.unwrap();
    let names: Vec<&str> = snap.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        ["alice", "bob"],
        "disabled users are included, flagged"
    );
    assert!(!snap.users[0].enabled);
    assert_eq!(snap.users[1].nt_hash, nas_store::nt_hash("Password"));
    assert_eq!(snap.shares.len(), 1);
    assert_eq!(snap.shares[0].valid_users, ["bob"]);
    assert_eq!(
        snap.settings.encryption,
        nas_store::EncryptionPolicy::Desired
    );
    assert_eq!(snap.users, store.users().await.unwrap());
    assert_eq!(snap.shares, store.shares().await.unwrap());
}

#[tokio::test]
async fn snapshot_is_consistent_while_writers_run() {
    // Writers add a user and a share granted to that user in one step each; every snapshot
    // must see each share's users among its own users.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).await.unwrap();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..15 {
                let name = format!("u{i}");
                store.add_user(&name, "pw").await.unwrap();
                let mut s = NewShare::new(format!("s{i}"), Path::new("/srv").join(&name));
                s.valid_users = vec![name.clone()];
                store.add_share(&s).await.unwrap();
                if i % 3 == 0 {
                    store.delete_user(&name).await.unwrap();
                }
            }
        })
    };
    for _ in 0..30 {
        let snap = store.snapshot().await.unwrap();
        for share in &snap.shares {
            for u in &share.valid_users {
                assert!(snap.users.iter().any(|x| &x.name == u), "{u} missing");
            }
        }
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    let snap = store.snapshot().await.unwrap();
    assert_eq!(snap.shares.len(), 15);
    assert_eq!(snap.users.len(), 10);
}
