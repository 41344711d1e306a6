//! Shared helpers: a self-removing temporary directory and small conversations with a Vfs.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use smb_vfs::{Create, Handle, OpenHow, RelPath, Root, Vfs, VfsResult};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A directory under the system temp dir, removed (recursively) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("smb-vfs-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A share root `share` inside a fresh temp dir (so tests can put things "outside" it).
pub struct Share {
    pub tmp: TempDir,
    pub root: Root,
}

impl Share {
    pub fn new(tag: &str) -> Self {
        let tmp = TempDir::new(tag);
        std::fs::create_dir(tmp.path().join("share")).unwrap();
        let root = Root::open(&tmp.path().join("share")).unwrap();
        Share { tmp, root }
    }

    pub fn share_dir(&self) -> PathBuf {
        self.tmp.path().join("share")
    }

    pub fn outside_dir(&self) -> PathBuf {
        self.tmp.path().to_path_buf()
    }
}

/// An SMB path, which must be valid.
pub fn p(s: &str) -> RelPath {
    RelPath::from_smb(s).unwrap()
}

/// The errno of a result that must be an error.
pub fn errno<T>(r: VfsResult<T>) -> i32 {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.errno,
    }
}

pub fn rw_create() -> OpenHow {
    OpenHow {
        read: true,
        write: true,
        create: Create::IfMissing,
        truncate: false,
        directory: false,
        mode: 0o644,
    }
}

pub fn mkdir_how() -> OpenHow {
    OpenHow {
        read: true,
        write: false,
        create: Create::Exclusive,
        truncate: false,
        directory: true,
        mode: 0o755,
    }
}

pub fn dir_how() -> OpenHow {
    OpenHow {
        read: true,
        write: false,
        create: Create::No,
        truncate: false,
        directory: true,
        mode: 0,
    }
}

/// Create (or overwrite) a file with `data`.
pub async fn put<V: Vfs>(vfs: &V, root: &Root, path: &str, data: &[u8]) {
    let how = OpenHow {
        truncate: true,
        ..rw_create()
    };
    let (h, _) = vfs.open(root, &p(path), &how).await.unwrap();
    let (r, _) = h.write_all_at(data.to_vec(), 0).await;
    r.unwrap();
    h.close().await.unwrap();
}

/// Make a directory.
pub async fn mkdir<V: Vfs>(vfs: &V, root: &Root, path: &str) {
    let (h, created) = vfs.open(root, &p(path), &mkdir_how()).await.unwrap();
    assert!(created);
    h.close().await.unwrap();
}

/// The whole content of a file (up to 16 MiB).
pub async fn get<V: Vfs>(vfs: &V, root: &Root, path: &str) -> Vec<u8> {
    let (h, _) = vfs
        .open(root, &p(path), &OpenHow::read_only())
        .await
        .unwrap();
    let (n, buf) = h.read_exact_at(Vec::with_capacity(16 << 20), 0).await;
    assert_eq!(n.unwrap(), buf.len());
    h.close().await.unwrap();
    buf
}

/// Whether the filesystem under `dir` accepts user xattrs (tmpfs without user_xattr and
/// some overlay setups do not).
pub fn user_xattrs_supported(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let f = dir.join(".xattr-probe");
    std::fs::write(&f, b"").unwrap();
    let path = std::ffi::CString::new(f.as_os_str().as_bytes()).unwrap();
    let name = std::ffi::CString::new("user.nasd.probe").unwrap();
    // SAFETY: both strings are NUL-terminated and the value pointer is valid for 1 byte.
    let r = unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), b"x".as_ptr().cast(), 1, 0) };
    let ok = r == 0;
    if !ok {
        eprintln!(
            "user xattrs refused here: {}",
            std::io::Error::last_os_error()
        );
    }
    std::fs::remove_file(&f).unwrap();
    ok
}
