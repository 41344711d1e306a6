//! The case-insensitive lookup cache against changes made by another worker thread: two
//! `UringVfs` values (each thread has its own cache) on one share. The stale states are
//! produced without relying on timing: after thread B's change, thread A makes a change of
//! its own in the same directory, and the stamp A then takes covers B's change too.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use smb_vfs::{Handle, Resolved, UringVfs, Vfs};

fn found_as(r: Resolved) -> String {
    match r {
        Resolved::Found { path, .. } => path.as_str().to_string(),
        Resolved::Missing { name, .. } => panic!("{name} missing"),
    }
}

/// `vfs` creates `name`: its own change, so its cache takes the directory's new stamp.
async fn creates(vfs: &UringVfs, root: &smb_vfs::Root, name: &str) {
    let (h, created) = vfs.open(root, &p(name), &rw_create()).await.unwrap();
    assert!(created);
    h.close().await.unwrap();
}

#[test]
fn a_name_another_thread_removed_is_missing_not_an_error() {
    let share = Share::new("cache-removed");
    std::fs::write(share.share_dir().join("Report.txt"), b"x").unwrap();
    tokio_uring::start(async {
        let (a, b) = (UringVfs::new(), UringVfs::new());
        let root = &share.root;
        // A finds it by another spelling: the listing is cached.
        assert_eq!(
            found_as(a.resolve(root, &p("report.TXT")).await.unwrap()),
            "Report.txt"
        );
        // B deletes it; A then creates another file, so its cache's stamp is current
        // while its names still list Report.txt.
        b.unlink(root, &p("Report.txt")).await.unwrap();
        creates(&a, root, "other.txt").await;
        // Before: the cached spelling was looked up, ENOENT came back, and a CREATE of the
        // name failed with OBJECT_PATH_NOT_FOUND (smbtorture smb2.create.multi).
        match a.resolve(root, &p("report.TXT")).await.unwrap() {
            Resolved::Missing { name, .. } => assert_eq!(name, "report.TXT"),
            Resolved::Found { path, .. } => panic!("found {}", path.as_str()),
        }
    });
}

#[test]
fn a_name_another_thread_added_is_found_within_the_listing_ttl() {
    let share = Share::new("cache-added");
    tokio_uring::start(async {
        let (a, b) = (UringVfs::new(), UringVfs::new());
        let root = &share.root;
        // A looks for a name that is not there: the (empty) listing is cached.
        assert!(matches!(
            a.resolve(root, &p("notes.txt")).await.unwrap(),
            Resolved::Missing { .. }
        ));
        // B creates it with another spelling; A's own change makes the stamp current.
        creates(&b, root, "NOTES.txt").await;
        creates(&a, root, "other.txt").await;
        // The exact spelling is always looked up first.
        assert_eq!(
            found_as(a.resolve(root, &p("NOTES.txt")).await.unwrap()),
            "NOTES.txt"
        );
        // Another spelling goes through the cache, which may not know the name yet; once
        // the listing is older than its TTL (1 s) it is listed again.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(
            found_as(a.resolve(root, &p("notes.txt")).await.unwrap()),
            "NOTES.txt"
        );
    });
}
