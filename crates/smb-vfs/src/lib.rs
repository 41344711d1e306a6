//! The filesystem behind the SMB server: the [`Vfs`] and [`Handle`] traits (owned buffers,
//! tokio-uring style), [`RelPath`] (a validated path below a share root), and [`UringVfs`],
//! which moves file data through io_uring and confines every path under its share root with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`.
//!
//! Must not know: SMB messages or NTSTATUS. Errors carry the errno ([`VfsError`]); the
//! server maps them. DOS attributes and the creation time live in one xattr,
//! `user.nasd.dos`; filesystems without user xattrs fall back to derived values quietly.

mod path;
mod sys;
mod uring;

use std::fmt;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub use path::{PathError, RelPath};
pub use uring::{UringHandle, UringVfs};

/// A failed filesystem call: the errno and what was being done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VfsError {
    pub errno: i32,
    pub context: &'static str,
}

impl VfsError {
    pub fn new(errno: i32, context: &'static str) -> Self {
        Self { errno, context }
    }
    pub(crate) fn io(e: std::io::Error, context: &'static str) -> Self {
        Self { errno: e.raw_os_error().unwrap_or(libc::EIO), context }
    }
}

impl fmt::Display for VfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, std::io::Error::from_raw_os_error(self.errno))
    }
}

impl std::error::Error for VfsError {}

pub type VfsResult<T> = Result<T, VfsError>;

/// A share root, opened once (`O_PATH | O_DIRECTORY`); every operation is relative to it.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

impl Root {
    pub fn open(path: &Path) -> VfsResult<Root> {
        let fd = sys::open_root(path)?;
        Ok(Root { fd, path: path.to_path_buf() })
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timespec {
    pub secs: i64,
    pub nanos: u32,
}

/// What `stat` knows about a file.
#[derive(Debug, Clone)]
pub struct FileAttr {
    pub kind: FileKind,
    pub size: u64,
    pub alloc_size: u64,
    pub nlink: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub ino: u64,
    pub dev: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
    /// Creation time: from the xattr if set, else the filesystem's birth time, else mtime.
    pub btime: Timespec,
    /// DOS attributes from the xattr; 0 if none are stored (the server derives defaults).
    pub dos_attributes: u32,
}

#[derive(Debug, Clone)]
pub struct DirEntry {
    pub name: String,
    pub attr: FileAttr,
}

#[derive(Debug, Clone, Copy)]
pub struct FsStat {
    pub block_size: u64,
    pub blocks: u64,
    pub blocks_free: u64,
    pub blocks_avail: u64,
    pub files: u64,
    pub files_free: u64,
    pub fsid: u64,
    pub name_max: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    No,
    IfMissing,
    Exclusive,
}

/// How to open.
#[derive(Debug, Clone)]
pub struct OpenHow {
    pub read: bool,
    pub write: bool,
    pub create: Create,
    pub truncate: bool,
    /// Must be a directory; with `create`, the directory is made first.
    pub directory: bool,
    pub mode: u32,
}

/// The result of a case-insensitive lookup.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// It exists; `path` has the on-disk spelling.
    Found { path: RelPath, attr: FileAttr },
    /// The parent exists (on-disk spelling), the last component does not.
    Missing { parent: RelPath, name: String },
}

/// The filesystem. Futures are not `Send` (tokio-uring runs one runtime per thread).
#[allow(async_fn_in_trait)]
pub trait Vfs: Clone + 'static {
    type Handle: Handle;
    /// Case-insensitive resolution that preserves on-disk case: an exact match wins,
    /// otherwise the directory is searched for a name equal ignoring case. A missing or
    /// non-directory parent is `ENOENT`/`ENOTDIR`; symlinks are never followed.
    async fn resolve(&self, root: &Root, path: &RelPath) -> VfsResult<Resolved>;
    async fn open(&self, root: &Root, path: &RelPath, how: &OpenHow) -> VfsResult<(Self::Handle, bool)>;
    /// lstat semantics.
    async fn stat(&self, root: &Root, path: &RelPath) -> VfsResult<FileAttr>;
    async fn unlink(&self, root: &Root, path: &RelPath) -> VfsResult<()>;
    async fn rmdir(&self, root: &Root, path: &RelPath) -> VfsResult<()>;
    async fn rename(&self, root: &Root, from: &RelPath, to: &RelPath, replace: bool) -> VfsResult<()>;
    async fn link(&self, root: &Root, from: &RelPath, to: &RelPath) -> VfsResult<()>;
    async fn statfs(&self, root: &Root) -> VfsResult<FsStat>;
}

/// An open file or directory.
#[allow(async_fn_in_trait)]
pub trait Handle {
    async fn read_at(&self, buf: Vec<u8>, offset: u64) -> (VfsResult<usize>, Vec<u8>);
    /// Reads until the buffer's capacity is filled or EOF; returns the bytes read.
    async fn read_exact_at(&self, buf: Vec<u8>, offset: u64) -> (VfsResult<usize>, Vec<u8>);
    async fn write_all_at(&self, buf: Vec<u8>, offset: u64) -> (VfsResult<()>, Vec<u8>);
    async fn sync(&self, data_only: bool) -> VfsResult<()>;
    async fn stat(&self) -> VfsResult<FileAttr>;
    async fn set_len(&self, len: u64) -> VfsResult<()>;
    /// Reserve space up to `len` without changing the size (EOPNOTSUPP tolerated).
    async fn allocate(&self, len: u64) -> VfsResult<()>;
    async fn set_times(&self, atime: Option<Timespec>, mtime: Option<Timespec>) -> VfsResult<()>;
    async fn set_dos(&self, dos_attributes: Option<u32>, btime: Option<Timespec>) -> VfsResult<()>;
    async fn set_mode(&self, mode: u32) -> VfsResult<()>;
    /// The whole directory without "." and "..", each entry lstat'ed with its DOS xattr.
    async fn read_dir(&self) -> VfsResult<Vec<DirEntry>>;
    async fn close(self) -> VfsResult<()>;
}
