//! `Handle::security_blob` / `set_security_blob` (the `user.nasd.sd` xattr) and
//! `Handle::eas` / `set_ea` (`user.nasd.ea.*`), on both `UringVfs` and `MemVfs`.

// Tests may unwrap and index (house rule).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::*;
use smb_vfs::{
    Handle, MemVfs, OpenHow, UringVfs, Vfs, MAX_EA_NAME, MAX_EA_VALUE, MAX_SECURITY_BLOB,
};

async fn round_trip<V: Vfs>(vfs: V, share: &Share, xattrs: bool) {
    let root = &share.root;
    put(&vfs, root, "f.txt", b"x").await;
    mkdir(&vfs, root, "d").await;
    let (h, _) = vfs
        .open(root, &p("f.txt"), &OpenHow::read_only())
        .await
        .unwrap();
    assert_eq!(h.security_blob().await.unwrap(), None, "nothing stored yet");
    if !xattrs {
        assert_eq!(
            errno(h.set_security_blob(vec![1, 2, 3]).await),
            libc::EOPNOTSUPP
        );
        eprintln!("skipping the rest: this filesystem refuses user xattrs");
        return;
    }
    h.set_security_blob(vec![1, 0, 4, 0x80]).await.unwrap();
    assert_eq!(h.security_blob().await.unwrap(), Some(vec![1, 0, 4, 0x80]));
    // Replaced, not appended.
    h.set_security_blob(vec![9; 100]).await.unwrap();
    assert_eq!(h.security_blob().await.unwrap(), Some(vec![9; 100]));
    // Too large is refused and the old value kept.
    assert_eq!(
        errno(h.set_security_blob(vec![0; MAX_SECURITY_BLOB + 1]).await),
        libc::E2BIG
    );
    assert_eq!(h.security_blob().await.unwrap(), Some(vec![9; 100]));
    h.close().await.unwrap();
    // It lives on the inode: a new handle sees it, a rename keeps it.
    vfs.rename(root, &p("f.txt"), &p("g.txt"), false)
        .await
        .unwrap();
    let (h, _) = vfs
        .open(root, &p("g.txt"), &OpenHow::read_only())
        .await
        .unwrap();
    assert_eq!(h.security_blob().await.unwrap(), Some(vec![9; 100]));
    h.close().await.unwrap();
    // Directories (opened read-only) carry one too.
    let (dh, _) = vfs.open(root, &p("d"), &dir_how()).await.unwrap();
    dh.set_security_blob(vec![7; 20]).await.unwrap();
    assert_eq!(dh.security_blob().await.unwrap(), Some(vec![7; 20]));
    dh.close().await.unwrap();
}

#[test]
fn round_trip_uring() {
    let share = Share::new("sd_uring");
    let xattrs = user_xattrs_supported(&share.outside_dir());
    tokio_uring::start(round_trip(UringVfs::new(), &share, xattrs));
}

#[test]
fn round_trip_mem() {
    let share = Share::new("sd_mem");
    tokio_uring::start(round_trip(MemVfs::new(), &share, true));
}

#[test]
fn mem_without_xattrs_refuses() {
    let share = Share::new("sd_mem_noxattr");
    let vfs = MemVfs::new();
    vfs.set_xattr_support(false);
    tokio_uring::start(round_trip(vfs, &share, false));
}

async fn extended_attributes<V: Vfs>(vfs: V, share: &Share, xattrs: bool) {
    let root = &share.root;
    put(&vfs, root, "e.txt", b"x").await;
    let (h, _) = vfs
        .open(root, &p("e.txt"), &OpenHow::read_only())
        .await
        .unwrap();
    assert!(h.eas().await.unwrap().is_empty());
    if !xattrs {
        assert_eq!(
            errno(h.set_ea(b"A".to_vec(), b"1".to_vec()).await),
            libc::EOPNOTSUPP
        );
        return;
    }
    h.set_ea(b"SECONDEA".to_vec(), b"ValueTwo".to_vec())
        .await
        .unwrap();
    h.set_ea(b"EAONE".to_vec(), b"VALUE1".to_vec())
        .await
        .unwrap();
    // The DOS and security xattrs are not EAs.
    h.set_dos(Some(0x20), None).await.unwrap();
    h.set_security_blob(vec![1]).await.unwrap();
    assert_eq!(
        h.eas().await.unwrap(),
        vec![
            (b"EAONE".to_vec(), b"VALUE1".to_vec()),
            (b"SECONDEA".to_vec(), b"ValueTwo".to_vec()),
        ]
    );
    // Empty value removes; removing again is fine.
    h.set_ea(b"EAONE".to_vec(), Vec::new()).await.unwrap();
    h.set_ea(b"EAONE".to_vec(), Vec::new()).await.unwrap();
    assert_eq!(h.eas().await.unwrap().len(), 1);
    // Bad names and values.
    assert_eq!(
        errno(h.set_ea(Vec::new(), b"v".to_vec()).await),
        libc::EINVAL
    );
    assert_eq!(
        errno(h.set_ea(b"A\0B".to_vec(), b"v".to_vec()).await),
        libc::EINVAL
    );
    assert_eq!(
        errno(h.set_ea(vec![b'N'; MAX_EA_NAME + 1], b"v".to_vec()).await),
        libc::EINVAL
    );
    assert_eq!(
        errno(h.set_ea(b"BIG".to_vec(), vec![0; MAX_EA_VALUE + 1]).await),
        libc::E2BIG
    );
    h.close().await.unwrap();
}

#[test]
fn extended_attributes_uring() {
    let share = Share::new("ea_uring");
    let xattrs = user_xattrs_supported(&share.outside_dir());
    tokio_uring::start(extended_attributes(UringVfs::new(), &share, xattrs));
}

#[test]
fn extended_attributes_mem() {
    let share = Share::new("ea_mem");
    tokio_uring::start(extended_attributes(MemVfs::new(), &share, true));
}
