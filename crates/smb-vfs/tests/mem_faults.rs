//! What only the in-memory double does: fault injection, a filesystem without user
//! xattrs, size limits, and symlink fixtures behaving like the real ones.

// Tests may unwrap and index (house rule); the helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::*;
use smb_vfs::{FileKind, Handle, MemVfs, OpenHow, Resolved, Vfs};

#[test]
fn any_operation_fails_with_the_chosen_errno_after_n_calls() {
    let share = Share::new("fault-any");
    tokio_uring::start(async {
        let vfs = MemVfs::new();
        let root = &share.root;
        put(&vfs, root, "a", b"x").await; // open, write, close
        assert_eq!(vfs.calls(), 3);
        vfs.fail_after(2, libc::EIO);
        vfs.stat(root, &p("a")).await.unwrap();
        let (h, _) = vfs
            .open(root, &p("a"), &OpenHow::read_only())
            .await
            .unwrap();
        let (r, _) = h.read_at(Vec::with_capacity(4), 0).await;
        let e = r.unwrap_err();
        assert_eq!((e.errno, e.context), (libc::EIO, "read"));
        assert_eq!(
            e.to_string(),
            format!("read: {}", std::io::Error::from_raw_os_error(libc::EIO))
        );
        assert_eq!(errno(vfs.statfs(root).await), libc::EIO, "it stays failed");
        assert_eq!(errno(h.close().await), libc::EIO);
        vfs.clear_faults();
        assert_eq!(get(&vfs, root, "a").await, b"x");
    });
}

#[test]
fn one_operation_fails_while_others_go_on() {
    let share = Share::new("fault-op");
    tokio_uring::start(async {
        let vfs = MemVfs::new();
        let root = &share.root;
        vfs.fail_op_after("write", 1, libc::ENOSPC);
        let (h, created) = vfs.open(root, &p("log"), &rw_create()).await.unwrap();
        assert!(created);
        let (r, _) = h.write_all_at(b"first".to_vec(), 0).await;
        r.unwrap();
        let (r, back) = h.write_all_at(b"second".to_vec(), 5).await;
        assert_eq!(errno(r), libc::ENOSPC);
        assert_eq!(back, b"second", "the buffer comes back on failure too");
        let (n, buf) = h.read_exact_at(Vec::with_capacity(64), 0).await;
        assert_eq!((n.unwrap(), &buf[..]), (5, &b"first"[..]));
        h.close().await.unwrap();
        // A failing rename leaves both names as they were.
        vfs.fail_op_after("rename", 0, libc::EACCES);
        assert_eq!(
            errno(vfs.rename(root, &p("log"), &p("log.1"), false).await),
            libc::EACCES
        );
        assert_eq!(vfs.stat(root, &p("log")).await.unwrap().size, 5);
        assert_eq!(errno(vfs.stat(root, &p("log.1")).await), libc::ENOENT);
    });
}

#[test]
fn without_user_xattrs_set_dos_is_a_quiet_no_op() {
    let share = Share::new("noxattr");
    tokio_uring::start(async {
        let vfs = MemVfs::new();
        vfs.set_xattr_support(false);
        let root = &share.root;
        put(&vfs, root, "f", b"").await;
        let (h, _) = vfs
            .open(root, &p("f"), &OpenHow::read_only())
            .await
            .unwrap();
        let before = h.stat().await.unwrap();
        h.set_dos(Some(0x01), Some(smb_vfs::Timespec { secs: 5, nanos: 0 }))
            .await
            .unwrap();
        let after = h.stat().await.unwrap();
        assert_eq!(after.dos_attributes, 0, "derived by the server");
        assert_eq!(after.btime, before.btime);
        h.close().await.unwrap();
    });
}

#[test]
fn limits_bound_memory_against_huge_offsets() {
    let share = Share::new("limits");
    tokio_uring::start(async {
        let vfs = MemVfs::new();
        vfs.set_limits(1 << 20, 3 << 20);
        let root = &share.root;
        let (h, _) = vfs.open(root, &p("f"), &rw_create()).await.unwrap();
        let (r, _) = h.write_all_at(b"x".to_vec(), u64::MAX - 1).await;
        assert_eq!(errno(r), libc::EFBIG);
        let (r, _) = h.write_all_at(b"x".to_vec(), 1 << 40).await;
        assert_eq!(errno(r), libc::EFBIG);
        assert_eq!(errno(h.set_len(u64::MAX).await), libc::EFBIG);
        assert_eq!(errno(h.allocate(2 << 20).await), libc::EFBIG);
        h.set_len(1 << 20).await.unwrap();
        h.close().await.unwrap();
        for name in ["g", "h"] {
            let (h, _) = vfs.open(root, &p(name), &rw_create()).await.unwrap();
            h.set_len(1 << 20).await.unwrap();
            h.close().await.unwrap();
        }
        let (h, _) = vfs.open(root, &p("i"), &rw_create()).await.unwrap();
        let (r, _) = h.write_all_at(vec![1; 10], 0).await;
        assert_eq!(errno(r), libc::ENOSPC);
        h.close().await.unwrap();
        let s = vfs.statfs(root).await.unwrap();
        assert_eq!((s.blocks, s.blocks_free), (768, 0));
        // Deleting gives the space back.
        vfs.unlink(root, &p("g")).await.unwrap();
        assert_eq!(vfs.statfs(root).await.unwrap().blocks_free, 256);
    });
}

#[test]
fn symlink_fixtures_are_never_followed() {
    let share = Share::new("memlink");
    tokio_uring::start(async {
        let vfs = MemVfs::new();
        let root = &share.root;
        mkdir(&vfs, root, "real").await;
        put(&vfs, root, "real\\f", b"in").await;
        vfs.symlink(root, &p("alias"), "real").unwrap();
        vfs.symlink(root, &p("etc"), "/etc").unwrap();
        assert_eq!(
            errno(vfs.open(root, &p("alias\\f"), &OpenHow::read_only()).await),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.open(root, &p("etc"), &OpenHow::read_only()).await),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.open(root, &p("etc"), &dir_how()).await),
            libc::ENOTDIR
        );
        assert_eq!(
            errno(vfs.resolve(root, &p("ETC\\passwd")).await),
            libc::ELOOP
        );
        let st = vfs.stat(root, &p("etc")).await.unwrap();
        assert_eq!((st.kind, st.size), (FileKind::Symlink, 4));
        match vfs.resolve(root, &p("ALIAS")).await.unwrap() {
            Resolved::Found { path, attr } => {
                assert_eq!((path.as_str(), attr.kind), ("alias", FileKind::Symlink))
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn two_shares_are_two_trees() {
    let a = Share::new("tree-a");
    let b = Share::new("tree-b");
    tokio_uring::start(async {
        let vfs = MemVfs::new();
        put(&vfs, &a.root, "only-in-a", b"a").await;
        assert!(vfs.stat(&a.root, &p("only-in-a")).await.is_ok());
        assert_eq!(
            errno(vfs.stat(&b.root, &p("only-in-a")).await),
            libc::ENOENT
        );
    });
}
