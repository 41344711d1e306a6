//! The filesystem behind the SMB server: the [`Vfs`] and [`Handle`] traits (owned buffers,
//! tokio-uring style), [`RelPath`] (a validated path below a share root), and [`UringVfs`],
//! which moves file data through io_uring and confines every path under its share root with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`.
//!
//! Must not know: SMB messages or NTSTATUS. Errors carry the errno ([`VfsError`]); the
//! server maps them. DOS attributes and the creation time live in one xattr,
//! `user.nasd.dos`; filesystems without user xattrs fall back to derived values quietly.
//! [`MemVfs`] is an in-memory double of the same traits for tests, with fault injection.

mod fold;
mod mem;
mod path;
mod sys;
mod uring;

use std::fmt;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub use fold::fold_name;
pub use mem::{MemHandle, MemVfs};
pub use path::{PathError, RelPath};
pub use uring::{UringHandle, UringVfs};

/// A failed filesystem call: the errno and what was being done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VfsError {
    /// The `errno` value (`libc::ENOENT`, ...); the server maps it to an NTSTATUS.
    pub errno: i32,
    /// The operation that failed ("openat2", "rename", ...), for logs.
    pub context: &'static str,
}

impl VfsError {
    /// An error with this errno from this operation.
    pub fn new(errno: i32, context: &'static str) -> Self {
        Self { errno, context }
    }
    pub(crate) fn io(e: std::io::Error, context: &'static str) -> Self {
        Self {
            errno: e.raw_os_error().unwrap_or(libc::EIO),
            context,
        }
    }
}

impl fmt::Display for VfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.context,
            std::io::Error::from_raw_os_error(self.errno)
        )
    }
}

impl std::error::Error for VfsError {}

/// The result of every filesystem operation.
pub type VfsResult<T> = Result<T, VfsError>;

/// A share root, opened once (`O_PATH | O_DIRECTORY`); every operation is relative to it.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

impl Root {
    /// Open the share root directory `path` (`O_PATH | O_DIRECTORY`, following symlinks in
    /// the administrator-chosen path itself).
    pub fn open(path: &Path) -> VfsResult<Root> {
        let fd = sys::open_root(path)?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The path the root was opened from (for logs and for `MemVfs`, which keys its trees
    /// by it).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What kind of object a name refers to (never following symlinks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed; the server may report it as a reparse point).
    Symlink,
    /// A device, FIFO or socket.
    Other,
}

/// A point in time: seconds and nanoseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timespec {
    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    pub secs: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nanos: u32,
}

/// What `stat` knows about a file.
#[derive(Debug, Clone)]
pub struct FileAttr {
    /// File, directory, symlink or other.
    pub kind: FileKind,
    /// Size in bytes (for a symlink: the length of its target).
    pub size: u64,
    /// Bytes allocated on disk (`st_blocks * 512`).
    pub alloc_size: u64,
    /// Number of hard links.
    pub nlink: u64,
    /// Permission bits (`mode & 0o7777`, without the file type).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Inode number (the server's file id).
    pub ino: u64,
    /// Device number.
    pub dev: u64,
    /// Last access.
    pub atime: Timespec,
    /// Last data modification.
    pub mtime: Timespec,
    /// Last status change.
    pub ctime: Timespec,
    /// Creation time: from the xattr if set, else the filesystem's birth time, else mtime.
    pub btime: Timespec,
    /// DOS attributes from the xattr; 0 if none are stored (the server derives defaults).
    pub dos_attributes: u32,
}

/// One directory entry with its (lstat) attributes.
#[derive(Debug, Clone)]
pub struct DirEntry {
    /// The on-disk name (UTF-8; names that are not UTF-8 are not listed).
    pub name: String,
    /// Its attributes, DOS xattr included.
    pub attr: FileAttr,
}

/// Filesystem capacity (`statvfs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStat {
    /// Fundamental block size in bytes (the unit of the block counts).
    pub block_size: u64,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub blocks_free: u64,
    /// Free blocks available to unprivileged users.
    pub blocks_avail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub files_free: u64,
    /// Filesystem id.
    pub fsid: u64,
    /// Longest name in bytes.
    pub name_max: u64,
}

/// Whether `open` creates the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Open an existing object only (`ENOENT` if missing).
    No,
    /// Create it if missing, otherwise open it.
    IfMissing,
    /// Create it; `EEXIST` if it exists.
    Exclusive,
}

/// How to open. The final component is never followed if it is a symlink (`ELOOP`).
#[derive(Debug, Clone)]
pub struct OpenHow {
    /// Open for reading.
    pub read: bool,
    /// Open for writing (ignored for directories, which are always opened read-only).
    pub write: bool,
    /// Whether to create it.
    pub create: Create,
    /// Truncate an existing regular file to zero length.
    pub truncate: bool,
    /// Must be a directory (`ENOTDIR` otherwise); with `create`, the directory is made.
    pub directory: bool,
    /// Permission bits for a created object.
    pub mode: u32,
}

impl OpenHow {
    /// Open an existing file or directory read-only.
    pub fn read_only() -> Self {
        Self {
            read: true,
            write: false,
            create: Create::No,
            truncate: false,
            directory: false,
            mode: 0o644,
        }
    }
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
    /// Open (and maybe create) `path` exactly as spelled; returns the handle and whether
    /// this call created the object. A symlink anywhere on the path is `ELOOP`.
    async fn open(
        &self,
        root: &Root,
        path: &RelPath,
        how: &OpenHow,
    ) -> VfsResult<(Self::Handle, bool)>;
    /// Attributes of `path` (lstat semantics: a final symlink is reported, not followed).
    async fn stat(&self, root: &Root, path: &RelPath) -> VfsResult<FileAttr>;
    /// Remove a non-directory (`EISDIR` for a directory).
    async fn unlink(&self, root: &Root, path: &RelPath) -> VfsResult<()>;
    /// Remove an empty directory (`ENOTEMPTY`, `ENOTDIR`).
    async fn rmdir(&self, root: &Root, path: &RelPath) -> VfsResult<()>;
    /// Rename `from` to `to`; without `replace` an existing `to` is `EEXIST`.
    async fn rename(
        &self,
        root: &Root,
        from: &RelPath,
        to: &RelPath,
        replace: bool,
    ) -> VfsResult<()>;
    /// Make `to` a hard link to the non-directory `from` (`EEXIST` if `to` exists).
    async fn link(&self, root: &Root, from: &RelPath, to: &RelPath) -> VfsResult<()>;
    /// Capacity of the filesystem holding the share.
    async fn statfs(&self, root: &Root) -> VfsResult<FsStat>;
}

/// A buffer a [`Handle`] can write from: owned and stable in memory while the kernel
/// reads it (io_uring), and readable as bytes (the in-memory VFS).
pub trait WriteBuf: tokio_uring::buf::IoBuf + AsRef<[u8]> {}

impl<T: tokio_uring::buf::IoBuf + AsRef<[u8]>> WriteBuf for T {}

/// A buffer a [`Handle`] can read into: owned and stable in memory while the kernel fills
/// it (io_uring; `bytes_init` is what it holds, `bytes_total` its capacity), and
/// appendable by a backend that copies (the in-memory VFS). A `Vec`, or registered memory
/// an RDMA write then sends from, so READ data crosses user space once.
pub trait ReadBuf: tokio_uring::buf::IoBufMut {
    /// Appends as much of `data` as fits the capacity; returns how much that was.
    fn put(&mut self, data: &[u8]) -> usize;
}

impl ReadBuf for Vec<u8> {
    fn put(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.capacity() - self.len());
        self.extend_from_slice(data.get(..n).unwrap_or_default());
        n
    }
}

/// An open file or directory.
#[allow(async_fn_in_trait)]
pub trait Handle {
    /// One read of up to `buf.capacity()` bytes at `offset` into the start of `buf`;
    /// returns the count `n` (0 at EOF) and the buffer, whose first `n` bytes are the data.
    async fn read_at(&self, buf: Vec<u8>, offset: u64) -> (VfsResult<usize>, Vec<u8>);
    /// Reads into the spare capacity after `buf`'s current contents until the capacity is
    /// filled or EOF (looping on short reads); returns the bytes read. What `buf` held
    /// stays in front (room a caller reserves for headers, so the data needs no copy).
    async fn read_exact_at<B: ReadBuf>(&self, buf: B, offset: u64) -> (VfsResult<usize>, B);
    /// Write all of `buf` at `offset` (looping on short writes). `buf` may be a `Vec` or
    /// a view of a received message (`bytes::Bytes`), so WRITE data is never copied.
    async fn write_all_at<B: WriteBuf>(&self, buf: B, offset: u64) -> (VfsResult<()>, B);
    /// `fdatasync` when `data_only`, else `fsync`.
    async fn sync(&self, data_only: bool) -> VfsResult<()>;
    /// Attributes of the open object, DOS xattr included.
    async fn stat(&self) -> VfsResult<FileAttr>;
    /// Truncate or extend to `len` bytes (`EINVAL` if not open for writing).
    async fn set_len(&self, len: u64) -> VfsResult<()>;
    /// Reserve space up to `len` without changing the size (EOPNOTSUPP tolerated).
    async fn allocate(&self, len: u64) -> VfsResult<()>;
    /// Zero the bytes of `[offset, offset + len)` that lie inside the file; never changes
    /// the size. With `deallocate`, whole filesystem blocks in the range are released (a
    /// hole, `FALLOC_FL_PUNCH_HOLE`; the block holding end-of-file too when the range
    /// reaches it); without, the range stays allocated (`FALLOC_FL_ZERO_RANGE`). Where the
    /// filesystem can do neither, zeros are written. `EBADF` if not open for writing,
    /// `EISDIR` for a directory.
    async fn zero_range(&self, offset: u64, len: u64, deallocate: bool) -> VfsResult<()>;
    /// The data (non-hole) ranges of `[offset, offset + len)` clipped to the file size, as
    /// `(offset, length)` in ascending order, adjacent ranges merged, at most `max` of them
    /// (`SEEK_DATA` / `SEEK_HOLE`; a filesystem without holes reports all of it as data).
    /// `EISDIR` for a directory.
    async fn data_ranges(&self, offset: u64, len: u64, max: usize) -> VfsResult<Vec<(u64, u64)>>;
    /// Set access and/or modification time (`None` leaves it unchanged).
    async fn set_times(&self, atime: Option<Timespec>, mtime: Option<Timespec>) -> VfsResult<()>;
    /// Store DOS attributes and/or the creation time in the `user.nasd.dos` xattr (`None`
    /// keeps the stored value). Quietly does nothing where user xattrs are unsupported.
    async fn set_dos(&self, dos_attributes: Option<u32>, btime: Option<Timespec>) -> VfsResult<()>;
    /// Set the permission bits (`mode & 0o7777`).
    async fn set_mode(&self, mode: u32) -> VfsResult<()>;
    /// The whole directory without "." and "..", each entry lstat'ed with its DOS xattr.
    async fn read_dir(&self) -> VfsResult<Vec<DirEntry>>;
    /// Just the names in the directory (no "." and ".."): one getdents pass, no stat.
    async fn read_dir_names(&self) -> VfsResult<Vec<String>>;
    /// Close the handle, reporting a close error.
    async fn close(self) -> VfsResult<()>;
    /// The security descriptor blob stored with the object in the `user.nasd.sd` xattr
    /// (opaque here), `None` when there is none or user xattrs are unsupported.
    async fn security_blob(&self) -> VfsResult<Option<Vec<u8>>>;
    /// Store the security descriptor blob (at most [`MAX_SECURITY_BLOB`] bytes, else
    /// `E2BIG`). `EOPNOTSUPP` where user xattrs are unsupported.
    async fn set_security_blob(&self, blob: Vec<u8>) -> VfsResult<()>;
    /// The extended attributes stored with the object (xattrs `user.nasd.ea.<name>`) as
    /// `(name, value)` in name order; empty where user xattrs are unsupported.
    async fn eas(&self) -> VfsResult<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Store one extended attribute, or remove it when `value` is empty (removing one that
    /// is absent is not an error). `EINVAL` for a name that is empty, longer than
    /// [`MAX_EA_NAME`] or holds a NUL; `E2BIG` for a value over [`MAX_EA_VALUE`] bytes;
    /// `EOPNOTSUPP` where user xattrs are unsupported.
    async fn set_ea(&self, name: Vec<u8>, value: Vec<u8>) -> VfsResult<()>;
}

/// The longest extended attribute name [`Handle::set_ea`] accepts.
pub const MAX_EA_NAME: usize = 200;
/// The largest extended attribute value [`Handle::set_ea`] accepts.
pub const MAX_EA_VALUE: usize = 65_535;

/// Whether `name` is acceptable to [`Handle::set_ea`].
pub(crate) fn ea_name_ok(name: &[u8]) -> bool {
    !name.is_empty() && name.len() <= MAX_EA_NAME && !name.contains(&0)
}

/// The largest security descriptor blob [`Handle::set_security_blob`] stores.
pub const MAX_SECURITY_BLOB: usize = 64 * 1024;
