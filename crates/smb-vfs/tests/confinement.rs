//! Escapes from the share root, tried against the real filesystem: `..` never gets past
//! `RelPath`, and symlinks — to /etc, to `../outside`, to a directory inside the share, or
//! swapped in between resolve and open — are refused by openat2 with `ELOOP`.

// Tests may unwrap and index (house rule); the helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::os::unix::fs::symlink;

use common::*;
use smb_vfs::{Create, FileKind, Handle, OpenHow, PathError, RelPath, Resolved, UringVfs, Vfs};

#[test]
fn dot_dot_absolute_and_drive_paths_never_become_relpaths() {
    let cases: [(&str, PathError); 9] = [
        ("..", PathError::DotDot),
        ("a\\..\\..\\etc", PathError::DotDot),
        ("\\..\\etc\\passwd", PathError::DotDot),
        ("a\\.\\b", PathError::NotBeneath),
        ("\\\\server\\share\\x", PathError::NotBeneath),
        ("C:\\Windows", PathError::NotBeneath),
        ("/etc/passwd", PathError::BadCharacter),
        ("a\u{0}b", PathError::BadCharacter),
        ("name:stream", PathError::BadCharacter),
    ];
    for (s, want) in cases {
        assert_eq!(RelPath::from_smb(s), Err(want), "{s:?}");
    }
    assert_eq!(RelPath::from_smb(&"n".repeat(256)), Err(PathError::TooLong));
    let long = vec!["d".repeat(200); 21].join("\\"); // 4220 bytes
    assert_eq!(RelPath::from_smb(&long), Err(PathError::TooLong));
    // The longest legal component and a leading backslash are fine.
    assert_eq!(
        RelPath::from_smb(&format!("\\{}", "n".repeat(255)))
            .unwrap()
            .as_str()
            .len(),
        255
    );
}

fn escapes_are_refused(link_target: &str) {
    let share = Share::new("escape");
    std::fs::write(share.outside_dir().join("secret"), b"outside").unwrap();
    symlink(link_target, share.share_dir().join("esc")).unwrap();
    std::fs::write(share.share_dir().join("f"), b"inside").unwrap();
    tokio_uring::start(async {
        let vfs = UringVfs::new();
        let root = &share.root;
        // Through the link: every operation stops at the symlink.
        assert_eq!(
            errno(
                vfs.open(root, &p("esc\\secret"), &OpenHow::read_only())
                    .await
            ),
            libc::ELOOP
        );
        assert_eq!(
            errno(
                vfs.open(root, &p("esc\\passwd"), &OpenHow::read_only())
                    .await
            ),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.open(root, &p("esc\\new"), &rw_create()).await),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.open(root, &p("esc\\newdir"), &mkdir_how()).await),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.resolve(root, &p("esc\\secret")).await),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.resolve(root, &p("ESC\\secret")).await),
            libc::ELOOP
        );
        assert_eq!(errno(vfs.stat(root, &p("esc\\secret")).await), libc::ELOOP);
        assert_eq!(
            errno(vfs.unlink(root, &p("esc\\secret")).await),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.rename(root, &p("f"), &p("esc\\f"), false).await),
            libc::ELOOP
        );
        assert_eq!(
            errno(
                vfs.rename(root, &p("esc\\secret"), &p("stolen"), false)
                    .await
            ),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.link(root, &p("esc\\secret"), &p("stolen"),).await),
            libc::ELOOP
        );
        // The link itself: visible (lstat), never opened.
        assert_eq!(
            vfs.stat(root, &p("esc")).await.unwrap().kind,
            FileKind::Symlink
        );
        match vfs.resolve(root, &p("ESC")).await.unwrap() {
            Resolved::Found { path, attr } => {
                assert_eq!((path.as_str(), attr.kind), ("esc", FileKind::Symlink))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            errno(vfs.open(root, &p("esc"), &OpenHow::read_only()).await),
            libc::ELOOP
        );
        // As a directory, the kernel says "not a directory" first (O_DIRECTORY on a link).
        assert_eq!(
            errno(vfs.open(root, &p("esc"), &dir_how()).await),
            libc::ENOTDIR
        );
        let trunc = OpenHow {
            truncate: true,
            create: Create::IfMissing,
            ..rw_create()
        };
        assert_eq!(errno(vfs.open(root, &p("esc"), &trunc).await), libc::ELOOP);
        // The listing shows it as a symlink, not as its target.
        let (h, _) = vfs.open(root, &p(""), &dir_how()).await.unwrap();
        let list = h.read_dir().await.unwrap();
        h.close().await.unwrap();
        assert_eq!(
            list.iter().find(|e| e.name == "esc").unwrap().attr.kind,
            FileKind::Symlink
        );
        // Removing the link removes the link only.
        vfs.unlink(root, &p("esc")).await.unwrap();
    });
    assert_eq!(
        std::fs::read(share.outside_dir().join("secret")).unwrap(),
        b"outside"
    );
    assert!(!share.outside_dir().join("f").exists());
    assert!(!share.outside_dir().join("new").exists());
}

#[test]
fn symlink_to_etc_is_refused() {
    escapes_are_refused("/etc");
}

#[test]
fn symlink_to_parent_outside_is_refused() {
    escapes_are_refused("..");
}

#[test]
fn symlink_to_dot_dot_slash_outside_is_refused() {
    let share = Share::new("outside");
    std::fs::create_dir(share.outside_dir().join("outside")).unwrap();
    std::fs::write(
        share.outside_dir().join("outside").join("secret"),
        b"outside",
    )
    .unwrap();
    symlink("../outside", share.share_dir().join("esc")).unwrap();
    tokio_uring::start(async {
        let vfs = UringVfs::new();
        let root = &share.root;
        assert_eq!(
            errno(
                vfs.open(root, &p("esc\\secret"), &OpenHow::read_only())
                    .await
            ),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.open(root, &p("esc\\secret"), &rw_create()).await),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.resolve(root, &p("esc\\secret")).await),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.open(root, &p("esc"), &dir_how()).await),
            libc::ENOTDIR
        );
    });
}

#[test]
fn symlink_to_a_directory_inside_the_share_is_not_followed_either() {
    let share = Share::new("inside");
    std::fs::create_dir(share.share_dir().join("real")).unwrap();
    std::fs::write(share.share_dir().join("real").join("f.txt"), b"in").unwrap();
    symlink("real", share.share_dir().join("alias")).unwrap();
    tokio_uring::start(async {
        let vfs = UringVfs::new();
        let root = &share.root;
        // The real path works; the alias does not.
        assert_eq!(get(&vfs, root, "real\\f.txt").await, b"in");
        assert_eq!(
            errno(
                vfs.open(root, &p("alias\\f.txt"), &OpenHow::read_only())
                    .await
            ),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.resolve(root, &p("Alias\\F.TXT")).await),
            libc::ELOOP
        );
        assert_eq!(
            errno(vfs.open(root, &p("alias"), &dir_how()).await),
            libc::ENOTDIR
        );
    });
}

#[test]
fn symlink_swapped_in_between_resolve_and_open_is_refused() {
    let share = Share::new("swap");
    std::fs::create_dir(share.share_dir().join("sub")).unwrap();
    std::fs::write(share.share_dir().join("sub").join("f.txt"), b"inside").unwrap();
    std::fs::create_dir(share.outside_dir().join("evil")).unwrap();
    std::fs::write(share.outside_dir().join("evil").join("f.txt"), b"outside").unwrap();
    tokio_uring::start(async {
        let vfs = UringVfs::new();
        let root = &share.root;
        let path = match vfs.resolve(root, &p("SUB\\F.txt")).await.unwrap() {
            Resolved::Found { path, .. } => path,
            other => panic!("{other:?}"),
        };
        assert_eq!(path.as_str(), "sub/f.txt");
        // The race: another local process replaces the directory with a symlink out.
        std::fs::rename(
            share.share_dir().join("sub"),
            share.share_dir().join("sub.orig"),
        )
        .unwrap();
        symlink(
            share.outside_dir().join("evil"),
            share.share_dir().join("sub"),
        )
        .unwrap();
        assert_eq!(
            errno(vfs.open(root, &path, &OpenHow::read_only()).await),
            libc::ELOOP
        );
        let w = OpenHow {
            truncate: true,
            ..rw_create()
        };
        assert_eq!(errno(vfs.open(root, &path, &w).await), libc::ELOOP);
        assert_eq!(errno(vfs.stat(root, &path).await), libc::ELOOP);
        assert_eq!(errno(vfs.unlink(root, &path).await), libc::ELOOP);
        // The same race with a relative link that climbs out.
        std::fs::remove_file(share.share_dir().join("sub")).unwrap();
        symlink("../evil", share.share_dir().join("sub")).unwrap();
        assert_eq!(
            errno(vfs.open(root, &path, &OpenHow::read_only()).await),
            libc::ELOOP
        );
    });
    assert_eq!(
        std::fs::read(share.outside_dir().join("evil").join("f.txt")).unwrap(),
        b"outside"
    );
}

#[test]
fn a_fifo_in_the_share_does_not_hang_open() {
    use std::os::unix::ffi::OsStrExt;
    let share = Share::new("fifo");
    let fifo =
        std::ffi::CString::new(share.share_dir().join("pipe").as_os_str().as_bytes()).unwrap();
    // SAFETY: `fifo` is a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    tokio_uring::start(async {
        let vfs = UringVfs::new();
        let root = &share.root;
        // Without O_NONBLOCK this open would wait for a writer forever.
        let (h, _) = vfs
            .open(root, &p("pipe"), &OpenHow::read_only())
            .await
            .unwrap();
        assert_eq!(h.stat().await.unwrap().kind, FileKind::Other);
        h.close().await.unwrap();
        assert_eq!(
            vfs.stat(root, &p("pipe")).await.unwrap().kind,
            FileKind::Other
        );
    });
}
