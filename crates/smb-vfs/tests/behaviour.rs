//! The behaviour every `Vfs` must show, written once over the trait and run against both
//! `UringVfs` (on a temp dir, under `tokio_uring::start`) and `MemVfs`.

// Tests may unwrap and index (house rule); the helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;

use common::*;
use smb_vfs::{Create, FileKind, Handle, MemVfs, OpenHow, Resolved, Timespec, UringVfs, Vfs};

/// Each behaviour `async fn name<V: Vfs>(vfs: V, share: &Share, xattrs: bool)` becomes two
/// tests, `name::uring` and `name::mem`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[test]
            fn uring() {
                let share = Share::new(stringify!($name));
                let xattrs = user_xattrs_supported(&share.outside_dir());
                tokio_uring::start(super::$name(UringVfs::new(), &share, xattrs));
            }
            #[test]
            fn mem() {
                let share = Share::new(stringify!($name));
                tokio_uring::start(super::$name(MemVfs::new(), &share, true));
            }
        }
    )*};
}

both!(
    case_insensitive_lookup,
    open_create_semantics,
    data_round_trip_8mib,
    size_allocation_sync_and_times,
    dos_xattr_round_trip,
    read_dir_of_1000_files,
    rename_with_and_without_replace,
    hard_links,
    remove_files_and_directories,
    statfs_reports_capacity,
    unlinked_file_stays_readable_while_open,
    holes_zeroing_and_data_ranges,
);

async fn case_insensitive_lookup<V: Vfs>(vfs: V, share: &Share, _: bool) {
    let root = &share.root;
    put(&vfs, root, "ReadMe.txt", b"hello").await;
    mkdir(&vfs, root, "Docs").await;
    mkdir(&vfs, root, "Docs\\Sub").await;
    put(&vfs, root, "Report.doc", b"one").await;
    put(&vfs, root, "REPORT.doc", b"two").await;

    // Another case finds the on-disk spelling.
    match vfs.resolve(root, &p("README.TXT")).await.unwrap() {
        Resolved::Found { path, attr } => {
            assert_eq!(path.as_str(), "ReadMe.txt");
            assert_eq!(attr.kind, FileKind::File);
            assert_eq!(attr.size, 5);
        }
        other => panic!("{other:?}"),
    }
    // Every component is matched ignoring case.
    match vfs.resolve(root, &p("\\docs\\SUB")).await.unwrap() {
        Resolved::Found { path, attr } => {
            assert_eq!(path.as_str(), "Docs/Sub");
            assert_eq!(attr.kind, FileKind::Dir);
        }
        other => panic!("{other:?}"),
    }
    // An exact match wins over another case variant.
    for exact in ["REPORT.doc", "Report.doc"] {
        match vfs.resolve(root, &p(exact)).await.unwrap() {
            Resolved::Found { path, .. } => assert_eq!(path.as_str(), exact),
            other => panic!("{other:?}"),
        }
    }
    // Missing: the parent in its on-disk spelling, the name as asked.
    match vfs
        .resolve(root, &p("DOCS\\sub\\New File.txt"))
        .await
        .unwrap()
    {
        Resolved::Missing { parent, name } => {
            assert_eq!(parent.as_str(), "Docs/Sub");
            assert_eq!(name, "New File.txt");
        }
        other => panic!("{other:?}"),
    }
    // A missing parent is ENOENT, a file used as a directory ENOTDIR.
    assert_eq!(
        errno(vfs.resolve(root, &p("nothere\\x.txt")).await),
        libc::ENOENT
    );
    assert_eq!(
        errno(vfs.resolve(root, &p("readme.txt\\x.txt")).await),
        libc::ENOTDIR
    );
    // The root itself.
    match vfs.resolve(root, &p("")).await.unwrap() {
        Resolved::Found { path, attr } => {
            assert!(path.is_root());
            assert_eq!(attr.kind, FileKind::Dir);
        }
        other => panic!("{other:?}"),
    }
    // A name created after the directory was scanned is found too (cache stays true).
    put(&vfs, root, "Docs\\Later.TXT", b"x").await;
    match vfs.resolve(root, &p("docs\\later.txt")).await.unwrap() {
        Resolved::Found { path, .. } => assert_eq!(path.as_str(), "Docs/Later.TXT"),
        other => panic!("{other:?}"),
    }
    // And a removed one is gone.
    vfs.unlink(root, &p("Docs\\Later.TXT")).await.unwrap();
    assert!(matches!(
        vfs.resolve(root, &p("docs\\later.txt")).await.unwrap(),
        Resolved::Missing { .. }
    ));
    // Non-ASCII names fold too.
    put(&vfs, root, "Straße-ÄÖÜ.txt", b"u").await;
    match vfs.resolve(root, &p("STRASSE-äöü.txt")).await.unwrap() {
        // "ß" has no single-character upper/lower pair with "SS": not the same name.
        Resolved::Missing { .. } => {}
        other => panic!("{other:?}"),
    }
    match vfs.resolve(root, &p("straße-äöü.TXT")).await.unwrap() {
        Resolved::Found { path, .. } => assert_eq!(path.as_str(), "Straße-ÄÖÜ.txt"),
        other => panic!("{other:?}"),
    }
}

async fn open_create_semantics<V: Vfs>(vfs: V, share: &Share, _: bool) {
    let root = &share.root;
    let how_no = OpenHow {
        create: Create::No,
        ..rw_create()
    };
    assert_eq!(
        errno(vfs.open(root, &p("a.txt"), &how_no).await),
        libc::ENOENT
    );

    let (h, created) = vfs.open(root, &p("a.txt"), &rw_create()).await.unwrap();
    assert!(created, "IfMissing on a missing file creates it");
    h.close().await.unwrap();
    let (h, created) = vfs.open(root, &p("a.txt"), &rw_create()).await.unwrap();
    assert!(!created, "IfMissing on an existing file opens it");
    let (r, _) = h.write_all_at(b"0123456789".to_vec(), 0).await;
    r.unwrap();
    h.close().await.unwrap();

    let excl = OpenHow {
        create: Create::Exclusive,
        ..rw_create()
    };
    assert_eq!(
        errno(vfs.open(root, &p("a.txt"), &excl).await),
        libc::EEXIST
    );
    let (h, created) = vfs.open(root, &p("b.txt"), &excl).await.unwrap();
    assert!(created);
    h.close().await.unwrap();

    // Truncate on open.
    let trunc = OpenHow {
        truncate: true,
        create: Create::No,
        ..rw_create()
    };
    let (h, _) = vfs.open(root, &p("a.txt"), &trunc).await.unwrap();
    assert_eq!(h.stat().await.unwrap().size, 0);
    h.close().await.unwrap();

    // Directories: create, open again, refuse a file as a directory and vice versa.
    let (h, created) = vfs.open(root, &p("d"), &mkdir_how()).await.unwrap();
    assert!(created);
    assert_eq!(h.stat().await.unwrap().kind, FileKind::Dir);
    h.close().await.unwrap();
    assert_eq!(
        errno(vfs.open(root, &p("d"), &mkdir_how()).await),
        libc::EEXIST
    );
    let dir_if_missing = OpenHow {
        create: Create::IfMissing,
        ..mkdir_how()
    };
    let (h, created) = vfs.open(root, &p("d"), &dir_if_missing).await.unwrap();
    assert!(!created);
    h.close().await.unwrap();
    let (h, created) = vfs.open(root, &p(""), &dir_if_missing).await.unwrap();
    assert!(!created, "the share root always exists");
    h.close().await.unwrap();
    assert_eq!(
        errno(vfs.open(root, &p("a.txt"), &dir_how()).await),
        libc::ENOTDIR
    );
    assert_eq!(
        errno(vfs.open(root, &p("a.txt"), &dir_if_missing).await),
        libc::ENOTDIR
    );
    let write_only = OpenHow {
        read: false,
        write: true,
        create: Create::No,
        ..rw_create()
    };
    assert_eq!(
        errno(vfs.open(root, &p("d"), &write_only).await),
        libc::EISDIR
    );
    // A directory opened without the directory flag is readable as a directory.
    let (h, _) = vfs
        .open(root, &p("d"), &OpenHow::read_only())
        .await
        .unwrap();
    assert!(h.read_dir().await.unwrap().is_empty());
    let (r, _) = h.read_at(Vec::with_capacity(10), 0).await;
    assert_eq!(errno(r), libc::EISDIR);
    h.close().await.unwrap();

    // Missing parent, file as parent.
    assert_eq!(
        errno(vfs.open(root, &p("nodir\\x"), &rw_create()).await),
        libc::ENOENT
    );
    assert_eq!(
        errno(vfs.open(root, &p("a.txt\\x"), &rw_create()).await),
        libc::ENOTDIR
    );
    assert_eq!(
        errno(vfs.open(root, &p("nodir\\x"), &mkdir_how()).await),
        libc::ENOENT
    );

    // Access modes are enforced on the handle.
    let (h, _) = vfs
        .open(root, &p("a.txt"), &OpenHow::read_only())
        .await
        .unwrap();
    let (r, _) = h.write_all_at(b"x".to_vec(), 0).await;
    assert_eq!(errno(r), libc::EBADF);
    assert_eq!(errno(h.set_len(3).await), libc::EINVAL);
    h.close().await.unwrap();
    let (h, _) = vfs.open(root, &p("a.txt"), &write_only).await.unwrap();
    let (r, _) = h.read_at(Vec::with_capacity(4), 0).await;
    assert_eq!(errno(r), libc::EBADF);
    h.close().await.unwrap();
}

async fn data_round_trip_8mib<V: Vfs>(vfs: V, share: &Share, _: bool) {
    let root = &share.root;
    const MIB: usize = 1 << 20;
    let data: Vec<u8> = (0..8 * MIB).map(|i| (i * 31 + i / 4099) as u8).collect();
    let (h, created) = vfs.open(root, &p("big.bin"), &rw_create()).await.unwrap();
    assert!(created);
    // Write the eight MiB chunks out of order.
    for chunk in [5usize, 0, 7, 2, 1, 6, 3, 4] {
        let part = data[chunk * MIB..(chunk + 1) * MIB].to_vec();
        let (r, back) = h.write_all_at(part, (chunk * MIB) as u64).await;
        r.unwrap();
        assert_eq!(back.len(), MIB, "the buffer comes back");
    }
    assert_eq!(h.stat().await.unwrap().size, (8 * MIB) as u64);
    // Whole file back.
    let (n, buf) = h.read_exact_at(Vec::with_capacity(8 * MIB), 0).await;
    assert_eq!(n.unwrap(), 8 * MIB);
    assert!(buf == data, "8 MiB read back differs");
    // An unaligned read in the middle.
    let (n, buf) = h
        .read_exact_at(Vec::with_capacity(70_000), 3 * MIB as u64 + 12_345)
        .await;
    assert_eq!(n.unwrap(), 70_000);
    assert_eq!(buf[..], data[3 * MIB + 12_345..3 * MIB + 82_345]);
    // Bytes already in the buffer stay in front (header room): data lands after them.
    let mut room = Vec::with_capacity(136 + 70_000);
    room.resize(136, 0xAB);
    let (n, buf) = h.read_exact_at(room, MIB as u64).await;
    assert_eq!(n.unwrap(), 70_000);
    assert!(buf[..136].iter().all(|b| *b == 0xAB), "the room is kept");
    assert_eq!(buf[136..], data[MIB..MIB + 70_000]);
    // A write from a view of a larger buffer (how WRITE data arrives) writes just the view.
    let frame = bytes::Bytes::from(data[..2 * MIB].to_vec());
    let (r, _) = h.write_all_at(frame.slice(MIB..MIB + 4096), 0).await;
    r.unwrap();
    let (_, buf) = h.read_exact_at(Vec::with_capacity(4096), 0).await;
    assert_eq!(buf[..], data[MIB..MIB + 4096]);
    let (r, _) = h.write_all_at(data[..4096].to_vec(), 0).await;
    r.unwrap();
    // Short read at EOF, then nothing past it.
    let (n, buf) = h
        .read_exact_at(Vec::with_capacity(4096), (8 * MIB - 100) as u64)
        .await;
    assert_eq!(n.unwrap(), 100);
    assert_eq!(buf[..], data[8 * MIB - 100..]);
    let (n, _) = h
        .read_at(Vec::with_capacity(4096), (8 * MIB - 10) as u64)
        .await;
    assert_eq!(n.unwrap(), 10);
    let (n, buf) = h.read_at(Vec::with_capacity(4096), (9 * MIB) as u64).await;
    assert_eq!(n.unwrap(), 0);
    assert!(buf.is_empty());
    // Writing past the end leaves a hole of zeros.
    let (r, _) = h.write_all_at(b"tail".to_vec(), (9 * MIB) as u64).await;
    r.unwrap();
    let (n, buf) = h
        .read_exact_at(Vec::with_capacity(8), (9 * MIB - 4) as u64)
        .await;
    assert_eq!(n.unwrap(), 8);
    assert_eq!(buf, b"\0\0\0\0tail");
    h.close().await.unwrap();
    assert_eq!(
        vfs.stat(root, &p("big.bin")).await.unwrap().size,
        (9 * MIB + 4) as u64
    );
}

async fn size_allocation_sync_and_times<V: Vfs>(vfs: V, share: &Share, _: bool) {
    let root = &share.root;
    put(&vfs, root, "f", b"0123456789abcdef").await;
    let (h, _) = vfs.open(root, &p("f"), &rw_create()).await.unwrap();
    h.set_len(10).await.unwrap();
    assert_eq!(h.stat().await.unwrap().size, 10);
    h.set_len(5000).await.unwrap();
    let (n, buf) = h.read_exact_at(Vec::with_capacity(6000), 0).await;
    assert_eq!(n.unwrap(), 5000);
    assert_eq!(&buf[..10], b"0123456789");
    assert!(
        buf[10..].iter().all(|&b| b == 0),
        "extension reads as zeros"
    );

    // Reserve 1 MiB without changing the size.
    h.allocate(1 << 20).await.unwrap();
    let st = h.stat().await.unwrap();
    assert_eq!(st.size, 5000);
    assert!(st.alloc_size >= 1 << 20, "allocated {}", st.alloc_size);

    h.sync(true).await.unwrap();
    h.sync(false).await.unwrap();

    let atime = Timespec {
        secs: 1_000_000_000,
        nanos: 123_456_789,
    };
    let mtime = Timespec {
        secs: 1_234_567_890,
        nanos: 500,
    };
    h.set_times(Some(atime), Some(mtime)).await.unwrap();
    let st = h.stat().await.unwrap();
    assert_eq!((st.atime, st.mtime), (atime, mtime));
    // None leaves a time alone.
    let mtime2 = Timespec {
        secs: 1_300_000_000,
        nanos: 0,
    };
    h.set_times(None, Some(mtime2)).await.unwrap();
    let st = vfs.stat(root, &p("f")).await.unwrap();
    assert_eq!((st.atime, st.mtime), (atime, mtime2));

    h.set_mode(0o600).await.unwrap();
    assert_eq!(h.stat().await.unwrap().mode, 0o600);
    h.close().await.unwrap();
}

async fn dos_xattr_round_trip<V: Vfs>(vfs: V, share: &Share, xattrs: bool) {
    let root = &share.root;
    if !xattrs {
        eprintln!("skipping the DOS xattr round trip: this filesystem refuses user xattrs");
        return;
    }
    put(&vfs, root, "f.txt", b"x").await;
    mkdir(&vfs, root, "d").await;
    let before = vfs.stat(root, &p("f.txt")).await.unwrap();
    assert_eq!(before.dos_attributes, 0, "nothing stored yet");

    let btime = Timespec {
        secs: 946_684_800,
        nanos: 42,
    };
    let (h, _) = vfs
        .open(root, &p("f.txt"), &OpenHow::read_only())
        .await
        .unwrap();
    h.set_dos(Some(0x21), Some(btime)).await.unwrap(); // READONLY | ARCHIVE
    let st = h.stat().await.unwrap();
    assert_eq!((st.dos_attributes, st.btime), (0x21, btime));
    // Only the attributes: the creation time is kept.
    h.set_dos(Some(0x02), None).await.unwrap(); // HIDDEN
    let st = h.stat().await.unwrap();
    assert_eq!((st.dos_attributes, st.btime), (0x02, btime));
    // Only the creation time: the attributes are kept.
    let btime2 = Timespec {
        secs: 1_600_000_000,
        nanos: 999_999_999,
    };
    h.set_dos(None, Some(btime2)).await.unwrap();
    h.close().await.unwrap();

    // Seen by path stat, resolve and read_dir as well.
    let st = vfs.stat(root, &p("f.txt")).await.unwrap();
    assert_eq!((st.dos_attributes, st.btime), (0x02, btime2));
    match vfs.resolve(root, &p("F.TXT")).await.unwrap() {
        Resolved::Found { attr, .. } => {
            assert_eq!((attr.dos_attributes, attr.btime), (0x02, btime2))
        }
        other => panic!("{other:?}"),
    }
    // Directories carry it too.
    let (dh, _) = vfs.open(root, &p("d"), &dir_how()).await.unwrap();
    dh.set_dos(Some(0x10 | 0x04), None).await.unwrap(); // DIRECTORY | SYSTEM
    dh.close().await.unwrap();
    let (rh, _) = vfs.open(root, &p(""), &dir_how()).await.unwrap();
    let list = rh.read_dir().await.unwrap();
    rh.close().await.unwrap();
    let f = list.iter().find(|e| e.name == "f.txt").unwrap();
    assert_eq!((f.attr.dos_attributes, f.attr.btime), (0x02, btime2));
    let d = list.iter().find(|e| e.name == "d").unwrap();
    assert_eq!(d.attr.dos_attributes, 0x14);
    // Survives a rename (it lives on the inode).
    vfs.rename(root, &p("f.txt"), &p("g.txt"), false)
        .await
        .unwrap();
    assert_eq!(
        vfs.stat(root, &p("g.txt")).await.unwrap().dos_attributes,
        0x02
    );
}

async fn read_dir_of_1000_files<V: Vfs>(vfs: V, share: &Share, _: bool) {
    let root = &share.root;
    mkdir(&vfs, root, "many").await;
    mkdir(&vfs, root, "many\\sub").await;
    let mut want = BTreeSet::new();
    for i in 0..1000usize {
        let name = format!("file-{i:04}.dat");
        put(&vfs, root, &format!("many\\{name}"), &vec![b'z'; i % 97]).await;
        want.insert(name);
    }
    want.insert("sub".to_string());
    let (h, _) = vfs.open(root, &p("many"), &dir_how()).await.unwrap();
    let list = h.read_dir().await.unwrap();
    // A second listing from the same handle is complete again.
    let again = h.read_dir().await.unwrap();
    // The names-only listing has the same names.
    let names: BTreeSet<String> = h.read_dir_names().await.unwrap().into_iter().collect();
    h.close().await.unwrap();
    assert_eq!(
        names, want,
        "read_dir_names: no '.', no '..', nothing missing"
    );
    assert_eq!(list.len(), 1001);
    assert_eq!(again.len(), 1001);
    let got: BTreeSet<String> = list.iter().map(|e| e.name.clone()).collect();
    assert_eq!(got, want, "no '.', no '..', nothing missing");
    for e in &list {
        if e.name == "sub" {
            assert_eq!(e.attr.kind, FileKind::Dir);
        } else {
            let i: usize = e.name[5..9].parse().unwrap();
            assert_eq!(e.attr.kind, FileKind::File);
            assert_eq!(e.attr.size, (i % 97) as u64, "{}", e.name);
        }
    }
    // Listing a file is refused.
    let (f, _) = vfs
        .open(root, &p("many\\file-0001.dat"), &OpenHow::read_only())
        .await
        .unwrap();
    assert_eq!(errno(f.read_dir().await), libc::ENOTDIR);
    assert_eq!(errno(f.read_dir_names().await), libc::ENOTDIR);
    f.close().await.unwrap();
}

async fn rename_with_and_without_replace<V: Vfs>(vfs: V, share: &Share, _: bool) {
    let root = &share.root;
    put(&vfs, root, "a", b"AAA").await;
    put(&vfs, root, "b", b"B").await;
    assert_eq!(
        errno(vfs.rename(root, &p("a"), &p("b"), false).await),
        libc::EEXIST
    );
    assert_eq!(get(&vfs, root, "b").await, b"B", "nothing changed");
    vfs.rename(root, &p("a"), &p("b"), true).await.unwrap();
    assert_eq!(get(&vfs, root, "b").await, b"AAA");
    assert_eq!(errno(vfs.stat(root, &p("a")).await), libc::ENOENT);
    // To a new name in another directory.
    mkdir(&vfs, root, "d").await;
    vfs.rename(root, &p("b"), &p("d\\c"), false).await.unwrap();
    assert_eq!(get(&vfs, root, "d\\c").await, b"AAA");
    // A case-only rename.
    vfs.rename(root, &p("d\\c"), &p("d\\C"), false)
        .await
        .unwrap();
    match vfs.resolve(root, &p("d\\c")).await.unwrap() {
        Resolved::Found { path, .. } => assert_eq!(path.as_str(), "d/C"),
        other => panic!("{other:?}"),
    }
    // Errors: missing source, a directory into itself, file over directory and back.
    assert_eq!(
        errno(vfs.rename(root, &p("nope"), &p("x"), false).await),
        libc::ENOENT
    );
    mkdir(&vfs, root, "d\\inner").await;
    assert_eq!(
        errno(vfs.rename(root, &p("d"), &p("d\\inner\\d"), false).await),
        libc::EINVAL
    );
    put(&vfs, root, "f", b"f").await;
    assert_eq!(
        errno(vfs.rename(root, &p("f"), &p("d"), true).await),
        libc::EISDIR
    );
    assert_eq!(
        errno(vfs.rename(root, &p("d"), &p("f"), true).await),
        libc::ENOTDIR
    );
    // A directory replaces an empty directory only.
    mkdir(&vfs, root, "empty").await;
    assert_eq!(
        errno(vfs.rename(root, &p("empty"), &p("d"), true).await),
        libc::ENOTEMPTY
    );
    vfs.rename(root, &p("d"), &p("empty"), true).await.unwrap();
    assert_eq!(get(&vfs, root, "empty\\C").await, b"AAA");
    // The share root cannot be renamed.
    assert_eq!(
        errno(vfs.rename(root, &p(""), &p("x"), false).await),
        libc::EINVAL
    );
}

async fn hard_links<V: Vfs>(vfs: V, share: &Share, _: bool) {
    let root = &share.root;
    put(&vfs, root, "a", b"linked").await;
    vfs.link(root, &p("a"), &p("c")).await.unwrap();
    let (sa, sc) = (
        vfs.stat(root, &p("a")).await.unwrap(),
        vfs.stat(root, &p("c")).await.unwrap(),
    );
    assert_eq!(sa.ino, sc.ino);
    assert_eq!((sa.nlink, sc.nlink), (2, 2));
    assert_eq!(errno(vfs.link(root, &p("a"), &p("c")).await), libc::EEXIST);
    assert_eq!(
        errno(vfs.link(root, &p("missing"), &p("e")).await),
        libc::ENOENT
    );
    mkdir(&vfs, root, "d").await;
    assert_eq!(errno(vfs.link(root, &p("d"), &p("d2")).await), libc::EPERM);
    vfs.unlink(root, &p("a")).await.unwrap();
    assert_eq!(get(&vfs, root, "c").await, b"linked");
    assert_eq!(vfs.stat(root, &p("c")).await.unwrap().nlink, 1);
}

async fn remove_files_and_directories<V: Vfs>(vfs: V, share: &Share, _: bool) {
    let root = &share.root;
    mkdir(&vfs, root, "d").await;
    put(&vfs, root, "d\\f", b"x").await;
    assert_eq!(errno(vfs.rmdir(root, &p("d")).await), libc::ENOTEMPTY);
    assert_eq!(errno(vfs.rmdir(root, &p("d\\f")).await), libc::ENOTDIR);
    assert_eq!(errno(vfs.unlink(root, &p("d")).await), libc::EISDIR);
    assert_eq!(errno(vfs.unlink(root, &p("d\\nope")).await), libc::ENOENT);
    assert_eq!(errno(vfs.rmdir(root, &p("")).await), libc::EINVAL);
    vfs.unlink(root, &p("d\\f")).await.unwrap();
    vfs.rmdir(root, &p("d")).await.unwrap();
    assert_eq!(errno(vfs.stat(root, &p("d")).await), libc::ENOENT);
    assert!(matches!(
        vfs.resolve(root, &p("D")).await.unwrap(),
        Resolved::Missing { .. }
    ));
}

async fn statfs_reports_capacity<V: Vfs>(vfs: V, share: &Share, _: bool) {
    let root = &share.root;
    let s = vfs.statfs(root).await.unwrap();
    assert!(
        s.block_size >= 512 && s.block_size.is_power_of_two(),
        "{s:?}"
    );
    assert!(
        s.blocks > 0 && s.blocks_free <= s.blocks && s.blocks_avail <= s.blocks_free,
        "{s:?}"
    );
    assert!(s.files_free <= s.files, "{s:?}");
    assert!(s.name_max >= 255, "{s:?}");
}

async fn unlinked_file_stays_readable_while_open<V: Vfs>(vfs: V, share: &Share, _: bool) {
    let root = &share.root;
    put(&vfs, root, "tmp", b"still here").await;
    let (h, _) = vfs
        .open(root, &p("tmp"), &OpenHow::read_only())
        .await
        .unwrap();
    vfs.unlink(root, &p("tmp")).await.unwrap();
    assert_eq!(errno(vfs.stat(root, &p("tmp")).await), libc::ENOENT);
    let (n, buf) = h.read_exact_at(Vec::with_capacity(64), 0).await;
    assert_eq!(n.unwrap(), 10);
    assert_eq!(buf, b"still here");
    assert_eq!(h.stat().await.unwrap().nlink, 0);
    h.close().await.unwrap();
}

/// A recognisable pattern: byte `i` of the file is `i * 7 + i / 251`.
fn pattern(from: usize, len: usize) -> Vec<u8> {
    (from..from + len)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect()
}

async fn read_all<H: Handle>(h: &H, size: usize) -> Vec<u8> {
    let (n, buf) = h.read_exact_at(Vec::with_capacity(size), 0).await;
    assert_eq!(n.unwrap(), size);
    buf
}

async fn holes_zeroing_and_data_ranges<V: Vfs>(vfs: V, share: &Share, _: bool) {
    let root = &share.root;
    const K64: u64 = 65_536;
    let (h, _) = vfs
        .open(root, &p("sparse.bin"), &rw_create())
        .await
        .unwrap();

    // Data only at 64 KiB: the start is a hole where the filesystem keeps holes.
    let (r, _) = h.write_all_at(pattern(65_536, 1024), K64).await;
    r.unwrap();
    let all = h.data_ranges(0, u64::MAX, 16).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    let holes = all[0].0 == K64;
    assert!(holes || all[0] == (0, K64 + 1024), "{all:?}");
    assert_eq!(all[0].0 + all[0].1, K64 + 1024, "clipped to the size");
    if !holes {
        eprintln!("this filesystem reports no holes; checking the rest loosely");
    }
    // Empty and out-of-file queries, a query inside the data, and the `max` bound.
    assert!(h.data_ranges(0, 0, 16).await.unwrap().is_empty());
    assert!(h
        .data_ranges(K64 + 1024, 4096, 16)
        .await
        .unwrap()
        .is_empty());
    assert!(h
        .data_ranges(u64::MAX - 1, 10, 16)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        h.data_ranges(K64 + 1, 10, 16).await.unwrap(),
        [(K64 + 1, 10)]
    );
    assert!(h.data_ranges(0, u64::MAX, 0).await.unwrap().is_empty());

    // Zeroing without deallocation: zeros read back, the rest and the size unchanged.
    h.zero_range(K64 + 8, 16, false).await.unwrap();
    let mut want = vec![0u8; 65_536];
    want.extend(pattern(65_536, 1024));
    want[65_544..65_560].fill(0);
    assert_eq!(read_all(&h, 66_560).await, want);
    assert_eq!(h.stat().await.unwrap().size, K64 + 1024);
    let again = h.data_ranges(0, u64::MAX, 16).await.unwrap();
    assert_eq!(again, all, "zeroing keeps the data allocated");

    // Fill 128 KiB, punch the first 64 KiB.
    let (r, _) = h.write_all_at(pattern(0, 131_072), 0).await;
    r.unwrap();
    assert_eq!(
        h.data_ranges(0, u64::MAX, 16).await.unwrap(),
        [(0, 2 * K64)]
    );
    h.zero_range(0, K64, true).await.unwrap();
    let mut want = vec![0u8; 65_536];
    want.extend(pattern(65_536, 65_536));
    assert_eq!(read_all(&h, 131_072).await, want);
    if holes {
        assert_eq!(h.data_ranges(0, u64::MAX, 16).await.unwrap(), [(K64, K64)]);
        assert_eq!(h.data_ranges(1, K64, 16).await.unwrap(), [(K64, 1)]);
    }
    // Past end-of-file nothing changes, not even the size.
    h.zero_range(200_000, 100, true).await.unwrap();
    h.zero_range(200_000, 100, false).await.unwrap();
    h.zero_range(u64::MAX - 5, 100, true).await.unwrap();
    assert_eq!(h.stat().await.unwrap().size, 2 * K64);
    // A punch reaching end-of-file: partial first block zeroed, the rest released.
    h.zero_range(K64 + 100, u64::MAX, true).await.unwrap();
    assert_eq!(h.stat().await.unwrap().size, 2 * K64);
    let mut want = vec![0u8; 131_072];
    want[65_536..65_636].copy_from_slice(&pattern(65_536, 100));
    assert_eq!(read_all(&h, 131_072).await, want);
    if holes {
        let r = h.data_ranges(0, u64::MAX, 16).await.unwrap();
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].0, K64);
        assert!(r[0].1 >= 100 && r[0].1 < K64, "{r:?}");
    }
    h.close().await.unwrap();

    // A read-only handle cannot zero; a directory has no data ranges.
    let (ro, _) = vfs
        .open(root, &p("sparse.bin"), &OpenHow::read_only())
        .await
        .unwrap();
    assert_eq!(errno(ro.zero_range(0, 10, true).await), libc::EBADF);
    assert_eq!(errno(ro.zero_range(0, 10, false).await), libc::EBADF);
    ro.close().await.unwrap();
    mkdir(&vfs, root, "d").await;
    let how = OpenHow {
        directory: true,
        ..OpenHow::read_only()
    };
    let (d, _) = vfs.open(root, &p("d"), &how).await.unwrap();
    assert_eq!(errno(d.data_ranges(0, 10, 4).await), libc::EISDIR);
    assert_eq!(errno(d.zero_range(0, 10, true).await), libc::EISDIR);
    d.close().await.unwrap();
}
