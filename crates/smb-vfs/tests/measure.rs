//! Measurements behind two design choices (ignored by default; run with
//! `cargo test -p smb-vfs --test measure -- --ignored --nocapture`):
//! 1. metadata syscalls inline on the io_uring thread vs. on tokio's blocking pool;
//! 2. case-insensitive lookups in a 10,000-file directory with the per-directory cache.

// Tests may unwrap and index (house rule); the helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::*;
use smb_vfs::{Handle, OpenHow, Resolved, UringVfs, Vfs};

const N: u32 = 20_000;

fn per_op(d: Duration, n: u32) -> f64 {
    d.as_secs_f64() * 1e9 / f64::from(n)
}

/// openat + fstat + close of one file, the work of a metadata-only CREATE.
fn open_stat_close(dirfd: i32, name: &CString) {
    // SAFETY: `name` is NUL-terminated; the descriptor is checked and closed.
    unsafe {
        let fd = libc::openat(
            dirfd,
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        );
        assert!(fd >= 0);
        let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
        assert_eq!(libc::fstat(fd, st.as_mut_ptr()), 0);
        libc::close(fd);
    }
}

#[test]
#[ignore = "measurement, prints timings"]
fn inline_vs_blocking_pool_for_stat_and_open() {
    let share = Share::new("measure");
    std::fs::write(share.share_dir().join("f"), b"data").unwrap();
    let dir = std::fs::File::open(share.share_dir()).unwrap();
    tokio_uring::start(async {
        let dirfd = dir.as_raw_fd();
        let name = CString::new("f").unwrap();
        // Warm up.
        for _ in 0..1000 {
            open_stat_close(dirfd, &name);
        }
        let t = Instant::now();
        for _ in 0..N {
            open_stat_close(dirfd, &name);
        }
        let inline = t.elapsed();

        let t = Instant::now();
        for _ in 0..N {
            let name = name.clone();
            tokio::task::spawn_blocking(move || open_stat_close(dirfd, &name))
                .await
                .unwrap();
        }
        let pooled = t.elapsed();

        // The same through the Vfs, as the server calls it.
        let vfs = UringVfs::new();
        let root = &share.root;
        let path = p("f");
        let t = Instant::now();
        for _ in 0..N {
            vfs.stat(root, &path).await.unwrap();
        }
        let vfs_stat = t.elapsed();
        let t = Instant::now();
        for _ in 0..N {
            let (h, _) = vfs.open(root, &path, &OpenHow::read_only()).await.unwrap();
            h.close().await.unwrap();
        }
        let vfs_open = t.elapsed();

        println!(
            "open+fstat+close inline:          {:8.0} ns/op",
            per_op(inline, N)
        );
        println!(
            "open+fstat+close spawn_blocking:  {:8.0} ns/op",
            per_op(pooled, N)
        );
        println!(
            "UringVfs::stat (openat2+statx+xattr): {:8.0} ns/op",
            per_op(vfs_stat, N)
        );
        println!(
            "UringVfs::open + close:           {:8.0} ns/op",
            per_op(vfs_open, N)
        );
    });
}

#[test]
#[ignore = "measurement, prints timings"]
fn case_insensitive_lookup_in_10000_files() {
    let share = Share::new("measure-ci");
    let big = share.share_dir().join("Big");
    std::fs::create_dir(&big).unwrap();
    for i in 0..10_000 {
        std::fs::write(big.join(format!("Document-{i:05}.Txt")), b"").unwrap();
    }
    tokio_uring::start(async {
        let vfs = UringVfs::new();
        let root = &share.root;
        let t = Instant::now();
        match vfs
            .resolve(root, &p("big\\DOCUMENT-00000.TXT"))
            .await
            .unwrap()
        {
            Resolved::Found { path, .. } => assert_eq!(path.as_str(), "Big/Document-00000.Txt"),
            other => panic!("{other:?}"),
        }
        let first = t.elapsed();
        let t = Instant::now();
        for i in 0..10_000 {
            let r = vfs
                .resolve(root, &p(&format!("big\\DOCUMENT-{i:05}.TXT")))
                .await
                .unwrap();
            assert!(matches!(r, Resolved::Found { .. }));
        }
        let hits = t.elapsed();
        // CREATE of new names: each one is a miss that must consult the whole directory.
        let t = Instant::now();
        for i in 0..1_000 {
            let r = vfs
                .resolve(root, &p(&format!("big\\new-{i}.txt")))
                .await
                .unwrap();
            assert!(matches!(r, Resolved::Missing { .. }));
            put(&vfs, root, &format!("Big\\new-{i}.txt"), b"").await;
        }
        let creates = t.elapsed();
        println!("first case-insensitive lookup (scan 10,000): {:?}", first);
        println!(
            "case-insensitive hit, cached:   {:8.0} ns/op",
            per_op(hits, 10_000)
        );
        println!(
            "miss + create, cache kept true: {:8.0} ns/op",
            per_op(creates, 1_000)
        );
    });
}
