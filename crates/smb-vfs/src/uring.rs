//! `UringVfs`: file data through io_uring (tokio-uring), metadata through the calls in
//! `sys` made inline on the worker thread.
//!
//! Inline or on tokio's blocking pool? Measured (`tests/measure.rs`, 2-vCPU VM, ext4):
//! openat + fstat + close costs about 3.6 µs inline and 18 µs through `spawn_blocking`
//! (the hop, wake-up and hand-back dominate). Metadata calls on a local filesystem are
//! short, so they run inline; only a directory listing, which stats every entry and can
//! take milliseconds, goes to the blocking pool so other connections keep being served.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio_uring::buf::BoundedBuf;

use crate::sys;
use crate::{
    Create, DirEntry, FileAttr, FileKind, FsStat, Handle, OpenHow, RelPath, Resolved, Root,
    Timespec, Vfs, VfsError, VfsResult,
};

/// Lower-cased names of one directory, valid while its mtime/ctime are unchanged and for
/// at most [`LISTING_TTL`] after they were listed.
struct DirNames {
    stamp: (Timespec, Timespec),
    listed: Instant,
    names: HashMap<String, String>,
}

/// How long a listing is trusted. The stamp alone cannot tell every change: another
/// thread's change within the directory's timestamp tick leaves it as it was, and a stamp
/// this thread takes after its own change ([`UringVfs::note_change`]) covers any other
/// change made meanwhile. A name found that way but gone is caught at once (it is looked
/// up again, see [`UringVfs::lookup_ci`]); a name another thread added and the cache
/// missed is seen at the next listing, at most this long after.
const LISTING_TTL: Duration = Duration::from_secs(1);

/// Per-thread cache for case-insensitive lookups (a NAS directory can hold many thousand
/// files; scanning it for every CREATE of a new name would be quadratic).
#[derive(Default)]
struct CaseCache {
    dirs: HashMap<(u64, u64), DirNames>,
}

const CACHE_DIRS: usize = 256;

/// The io_uring filesystem. Create one per worker thread (`!Send`: its case-insensitive
/// lookup cache, keyed by directory (dev, ino) and checked against mtime/ctime, is per
/// thread); clones share the cache. Symlinks are never followed anywhere on a path.
#[derive(Clone, Default)]
pub struct UringVfs {
    cache: Rc<RefCell<CaseCache>>,
}

impl UringVfs {
    /// A filesystem with an empty lookup cache. Must be used inside `tokio_uring::start`.
    pub fn new() -> Self {
        Self::default()
    }

    fn dir_stamp(fd: RawFd) -> VfsResult<((u64, u64), (Timespec, Timespec))> {
        let a = sys::statx(fd, None)?;
        Ok(((a.dev, a.ino), (a.mtime, a.ctime)))
    }

    /// Find `name` in directory `fd` ignoring case; the on-disk spelling.
    fn find_ci(&self, fd: RawFd, name: &str) -> VfsResult<Option<String>> {
        let (key, stamp) = Self::dir_stamp(fd)?;
        let mut c = self.cache.borrow_mut();
        let fresh = c
            .dirs
            .get(&key)
            .is_some_and(|d| d.stamp == stamp && d.listed.elapsed() < LISTING_TTL);
        if !fresh {
            let names = sys::list_names(fd)?;
            if c.dirs.len() >= CACHE_DIRS {
                c.dirs.clear();
            }
            let map = names
                .into_iter()
                .map(|n| (crate::fold_name(&n), n))
                .collect();
            c.dirs.insert(
                key,
                DirNames {
                    stamp,
                    listed: Instant::now(),
                    names: map,
                },
            );
        }
        Ok(c.dirs
            .get(&key)
            .and_then(|d| d.names.get(&crate::fold_name(name)).cloned()))
    }

    /// [`Self::find_ci`], and the attributes of what it found. A name the cache lists but
    /// that is gone (removed by another thread, see [`LISTING_TTL`]) makes it list the
    /// directory again, once; still gone then, it is missing.
    fn lookup_ci(&self, fd: RawFd, name: &str) -> VfsResult<Option<(String, FileAttr)>> {
        for _ in 0..2 {
            let Some(n) = self.find_ci(fd, name)? else {
                return Ok(None);
            };
            match sys::statx(fd, Some(&n)) {
                Ok(a) => return Ok(Some((n, a))),
                Err(e) if e.errno == libc::ENOENT => self.forget(fd),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Drop the cached listing of directory `fd`.
    fn forget(&self, fd: RawFd) {
        if let Ok((key, _)) = Self::dir_stamp(fd) {
            self.cache.borrow_mut().dirs.remove(&key);
        }
    }

    /// Keep the cache of directory `fd` true after our own change to it.
    fn note_change(&self, fd: RawFd, added: Option<&str>, removed: Option<&str>) {
        let Ok((key, stamp)) = Self::dir_stamp(fd) else {
            return;
        };
        let mut c = self.cache.borrow_mut();
        if let Some(d) = c.dirs.get_mut(&key) {
            if let Some(r) = removed {
                d.names.remove(&crate::fold_name(r));
            }
            if let Some(a) = added {
                d.names.insert(crate::fold_name(a), a.to_string());
            }
            d.stamp = stamp;
        }
    }

    /// Open the parent directory of `path` (O_PATH, beneath the root, no symlinks).
    fn parent_fd(root: &Root, path: &RelPath) -> VfsResult<(OwnedFd, String)> {
        let name = path
            .file_name()
            .ok_or(VfsError::new(libc::EINVAL, "operation on the share root"))?
            .to_string();
        let parent = path.parent().unwrap_or_default();
        let fd = sys::openat2(
            root.fd.as_raw_fd(),
            parent.os(),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            true,
        )?;
        Ok((fd, name))
    }
}

fn attr_of_fd(fd: RawFd) -> VfsResult<FileAttr> {
    let a = sys::statx(fd, None)?;
    Ok(sys::with_dos(a, sys::get_dos_fd(fd)))
}

impl Vfs for UringVfs {
    type Handle = UringHandle;

    async fn resolve(&self, root: &Root, path: &RelPath) -> VfsResult<Resolved> {
        let rfd = root.fd.as_raw_fd();
        if path.is_root() {
            return Ok(Resolved::Found {
                path: RelPath::root(),
                attr: sys::statx(rfd, None)?,
            });
        }
        // Fast path: the exact spelling exists and no symlink is on the way.
        match sys::openat2(rfd, path.os(), libc::O_PATH | libc::O_NOFOLLOW, 0, true) {
            Ok(fd) => {
                let a = sys::statx(fd.as_raw_fd(), None)?;
                let parent = path.parent().unwrap_or_default();
                let name = path.file_name().unwrap_or_default();
                let pfd =
                    sys::openat2(rfd, parent.os(), libc::O_PATH | libc::O_DIRECTORY, 0, true)?;
                let dos = sys::get_dos_at(pfd.as_raw_fd(), name);
                return Ok(Resolved::Found {
                    path: path.clone(),
                    attr: sys::with_dos(a, dos),
                });
            }
            Err(e) if matches!(e.errno, libc::ENOENT | libc::ELOOP | libc::ENOTDIR) => {}
            Err(e) => return Err(e),
        }
        // Component by component, ignoring case where the exact name is missing.
        let mut cur = sys::openat2(rfd, ".", libc::O_PATH | libc::O_DIRECTORY, 0, true)?;
        let mut cur_path = RelPath::root();
        let comps: Vec<&str> = path.components().collect();
        let last = comps.len().saturating_sub(1);
        for (i, comp) in comps.iter().enumerate() {
            let fd = cur.as_raw_fd();
            let (name, attr) = match sys::statx(fd, Some(comp)) {
                Ok(a) => ((*comp).to_string(), a),
                Err(e) if e.errno == libc::ENOENT => match self.lookup_ci(fd, comp)? {
                    Some(found) => found,
                    None if i == last => {
                        return Ok(Resolved::Missing {
                            parent: cur_path,
                            name: (*comp).to_string(),
                        })
                    }
                    None => return Err(VfsError::new(libc::ENOENT, "resolve")),
                },
                Err(e) => return Err(e),
            };
            if i == last {
                let dos = sys::get_dos_at(fd, &name);
                return Ok(Resolved::Found {
                    path: cur_path.join(&name),
                    attr: sys::with_dos(attr, dos),
                });
            }
            match attr.kind {
                FileKind::Dir => {}
                FileKind::Symlink => return Err(VfsError::new(libc::ELOOP, "resolve")),
                _ => return Err(VfsError::new(libc::ENOTDIR, "resolve")),
            }
            cur = sys::openat2(
                fd,
                &name,
                libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
                true,
            )?;
            cur_path = cur_path.join(&name);
        }
        Ok(Resolved::Found {
            path: cur_path,
            attr: sys::statx(cur.as_raw_fd(), None)?,
        })
    }

    async fn open(
        &self,
        root: &Root,
        path: &RelPath,
        how: &OpenHow,
    ) -> VfsResult<(UringHandle, bool)> {
        let rfd = root.fd.as_raw_fd();
        let mut created = false;
        if how.directory && how.create != Create::No {
            if path.is_root() {
                if how.create == Create::Exclusive {
                    return Err(VfsError::new(libc::EEXIST, "mkdir"));
                }
            } else {
                let (pfd, name) = Self::parent_fd(root, path)?;
                match sys::mkdirat(pfd.as_raw_fd(), &name, how.mode | 0o111) {
                    Ok(()) => {
                        created = true;
                        self.note_change(pfd.as_raw_fd(), Some(&name), None);
                    }
                    Err(e) if e.errno == libc::EEXIST && how.create == Create::IfMissing => {}
                    Err(e) => return Err(e),
                }
            }
        }
        // O_NONBLOCK so that opening a FIFO someone left in the share cannot hang the
        // worker; it is cleared again below because io_uring honours it on reads.
        let mut flags = libc::O_NOFOLLOW | libc::O_NONBLOCK;
        flags |= match (how.read, how.write && !how.directory) {
            (true, true) => libc::O_RDWR,
            (false, true) => libc::O_WRONLY,
            _ => libc::O_RDONLY,
        };
        let fd = if how.directory {
            sys::openat2(rfd, path.os(), flags | libc::O_DIRECTORY, 0, true)?
        } else {
            if how.truncate {
                flags |= libc::O_TRUNC;
            }
            match how.create {
                Create::No => sys::openat2(rfd, path.os(), flags, 0, true)?,
                Create::Exclusive => {
                    let fd = sys::openat2(
                        rfd,
                        path.os(),
                        flags | libc::O_CREAT | libc::O_EXCL,
                        how.mode,
                        true,
                    )?;
                    created = true;
                    fd
                }
                // Open first, create exclusively when missing, so `created` is exact even
                // when another client creates the same name in between.
                Create::IfMissing => {
                    let mut opened = None;
                    // Bounded: a local process flipping the name forever gets EAGAIN.
                    for _ in 0..8 {
                        match sys::openat2(rfd, path.os(), flags, 0, true) {
                            Ok(fd) => {
                                opened = Some(fd);
                                break;
                            }
                            Err(e) if e.errno == libc::ENOENT => {}
                            Err(e) => return Err(e),
                        }
                        let excl = flags | libc::O_CREAT | libc::O_EXCL;
                        match sys::openat2(rfd, path.os(), excl, how.mode, true) {
                            Ok(fd) => {
                                created = true;
                                opened = Some(fd);
                                break;
                            }
                            Err(e) if e.errno == libc::EEXIST => {}
                            Err(e) => return Err(e),
                        }
                    }
                    opened.ok_or(VfsError::new(libc::EAGAIN, "openat2"))?
                }
            }
        };
        sys::clear_nonblock(fd.as_raw_fd())?;
        if created && !how.directory {
            if let Ok((pfd, name)) = Self::parent_fd(root, path) {
                self.note_change(pfd.as_raw_fd(), Some(&name), None);
            }
        }
        let is_dir = how.directory
            || sys::statx(fd.as_raw_fd(), None).is_ok_and(|a| a.kind == FileKind::Dir);
        let file = tokio_uring::fs::File::from_std(std::fs::File::from(fd));
        Ok((UringHandle { file, is_dir }, created))
    }

    async fn stat(&self, root: &Root, path: &RelPath) -> VfsResult<FileAttr> {
        if path.is_root() {
            return sys::statx(root.fd.as_raw_fd(), None);
        }
        let (pfd, name) = Self::parent_fd(root, path)?;
        let a = sys::statx(pfd.as_raw_fd(), Some(&name))?;
        Ok(sys::with_dos(a, sys::get_dos_at(pfd.as_raw_fd(), &name)))
    }

    async fn unlink(&self, root: &Root, path: &RelPath) -> VfsResult<()> {
        let (pfd, name) = Self::parent_fd(root, path)?;
        sys::unlinkat(pfd.as_raw_fd(), &name, false)?;
        self.note_change(pfd.as_raw_fd(), None, Some(&name));
        Ok(())
    }

    async fn rmdir(&self, root: &Root, path: &RelPath) -> VfsResult<()> {
        let (pfd, name) = Self::parent_fd(root, path)?;
        sys::unlinkat(pfd.as_raw_fd(), &name, true)?;
        self.note_change(pfd.as_raw_fd(), None, Some(&name));
        Ok(())
    }

    async fn rename(
        &self,
        root: &Root,
        from: &RelPath,
        to: &RelPath,
        replace: bool,
    ) -> VfsResult<()> {
        let (fd1, n1) = Self::parent_fd(root, from)?;
        let (fd2, n2) = Self::parent_fd(root, to)?;
        sys::renameat2(fd1.as_raw_fd(), &n1, fd2.as_raw_fd(), &n2, replace)?;
        self.note_change(fd1.as_raw_fd(), None, Some(&n1));
        self.note_change(fd2.as_raw_fd(), Some(&n2), None);
        Ok(())
    }

    async fn link(&self, root: &Root, from: &RelPath, to: &RelPath) -> VfsResult<()> {
        let (fd1, n1) = Self::parent_fd(root, from)?;
        let (fd2, n2) = Self::parent_fd(root, to)?;
        sys::linkat(fd1.as_raw_fd(), &n1, fd2.as_raw_fd(), &n2)?;
        self.note_change(fd2.as_raw_fd(), Some(&n2), None);
        Ok(())
    }

    async fn statfs(&self, root: &Root) -> VfsResult<FsStat> {
        // fstatvfs works on the O_PATH root descriptor itself.
        sys::fstatvfs(root.fd.as_raw_fd())
    }
}

/// An open file or directory: a tokio-uring `File` over the descriptor.
pub struct UringHandle {
    file: tokio_uring::fs::File,
    is_dir: bool,
}

impl UringHandle {
    fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl Handle for UringHandle {
    async fn read_at(&self, buf: Vec<u8>, offset: u64) -> (VfsResult<usize>, Vec<u8>) {
        let (r, b) = self.file.read_at(buf, offset).await;
        (r.map_err(|e| VfsError::io(e, "read")), b)
    }

    async fn read_exact_at<B: crate::ReadBuf>(
        &self,
        mut buf: B,
        offset: u64,
    ) -> (VfsResult<usize>, B) {
        let want = buf.bytes_total();
        let base = buf.bytes_init();
        while buf.bytes_init() < want {
            let filled = buf.bytes_init();
            let Some(at) = offset.checked_add((filled - base) as u64) else {
                return (Err(VfsError::new(libc::EINVAL, "read")), buf);
            };
            let (r, slice) = self.file.read_at(buf.slice(filled..want), at).await;
            buf = slice.into_inner();
            match r {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return (Err(VfsError::io(e, "read")), buf),
            }
        }
        (Ok(buf.bytes_init() - base), buf)
    }

    async fn write_all_at<B: crate::WriteBuf>(&self, buf: B, offset: u64) -> (VfsResult<()>, B) {
        let (r, b) = self.file.write_all_at(buf, offset).await;
        (r.map_err(|e| VfsError::io(e, "write")), b)
    }

    async fn sync(&self, data_only: bool) -> VfsResult<()> {
        let r = if data_only {
            self.file.sync_data().await
        } else {
            self.file.sync_all().await
        };
        r.map_err(|e| VfsError::io(e, "fsync"))
    }

    async fn stat(&self) -> VfsResult<FileAttr> {
        attr_of_fd(self.fd())
    }

    async fn set_len(&self, len: u64) -> VfsResult<()> {
        sys::ftruncate(self.fd(), len)
    }

    async fn allocate(&self, len: u64) -> VfsResult<()> {
        match self.file.fallocate(0, len, libc::FALLOC_FL_KEEP_SIZE).await {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(()),
            Err(e) => Err(VfsError::io(e, "fallocate")),
        }
    }

    async fn zero_range(&self, offset: u64, len: u64, deallocate: bool) -> VfsResult<()> {
        const CTX: &str = "fallocate";
        if self.is_dir {
            return Err(VfsError::new(libc::EISDIR, CTX));
        }
        let size = sys::statx(self.fd(), None)?.size;
        // Offsets are signed in the kernel; nothing lies beyond i64::MAX.
        let limit = i64::MAX as u64;
        let start = offset.min(limit);
        let asked_end = offset.saturating_add(len).min(limit);
        let end = asked_end.min(size);
        if start >= end {
            return Ok(());
        }
        let keep = libc::FALLOC_FL_KEEP_SIZE;
        // A punch that reaches end-of-file goes on past it to a 64 KiB boundary (KEEP_SIZE
        // keeps the size), so the block holding end-of-file is released too; not further,
        // as the kernel refuses ends beyond the filesystem's largest file (EFBIG).
        let (mode, span) = if deallocate {
            let punch_end = if asked_end >= size {
                size.div_ceil(1 << 16)
                    .saturating_mul(1 << 16)
                    .max(end)
                    .min(asked_end)
            } else {
                asked_end
            };
            (libc::FALLOC_FL_PUNCH_HOLE | keep, punch_end - start)
        } else {
            (libc::FALLOC_FL_ZERO_RANGE | keep, end - start)
        };
        match self.file.fallocate(start, span, mode).await {
            Ok(()) => return Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EINVAL)) => {}
            Err(e) => return Err(VfsError::io(e, CTX)),
        }
        // The filesystem cannot: write the zeros.
        const CHUNK: u64 = 1 << 20;
        let mut at = start;
        while at < end {
            let n = (end - at).min(CHUNK);
            let buf = vec![0u8; usize::try_from(n).unwrap_or(1 << 20)];
            let (r, _) = self.file.write_all_at(buf, at).await;
            r.map_err(|e| VfsError::io(e, "write"))?;
            at += n;
        }
        Ok(())
    }

    async fn data_ranges(&self, offset: u64, len: u64, max: usize) -> VfsResult<Vec<(u64, u64)>> {
        if self.is_dir {
            return Err(VfsError::new(libc::EISDIR, "lseek"));
        }
        let fd = self.fd();
        let end = offset.saturating_add(len).min(sys::statx(fd, None)?.size);
        let mut out: Vec<(u64, u64)> = Vec::new();
        let mut pos = offset;
        while pos < end && out.len() < max {
            let Some(data) = sys::seek_data_or_hole(fd, pos, false)? else {
                break;
            };
            if data >= end {
                break;
            }
            // The file may shrink in between: no hole after `data` means data to the end.
            let hole = sys::seek_data_or_hole(fd, data, true)?.unwrap_or(end);
            let stop = hole.max(data).min(end);
            if stop == data {
                break;
            }
            out.push((data, stop - data));
            pos = stop;
        }
        Ok(out)
    }

    async fn set_times(&self, atime: Option<Timespec>, mtime: Option<Timespec>) -> VfsResult<()> {
        sys::futimens(self.fd(), atime, mtime)
    }

    async fn set_dos(&self, dos_attributes: Option<u32>, btime: Option<Timespec>) -> VfsResult<()> {
        let cur = sys::get_dos_fd(self.fd());
        let attrs = dos_attributes.or(cur.map(|c| c.0)).unwrap_or(0);
        let bt = btime.or(cur.and_then(|c| c.1));
        match sys::set_dos_fd(self.fd(), &sys::encode_dos(attrs, bt)) {
            Ok(()) => Ok(()),
            // No user xattrs here (e.g. tmpfs without user_xattr): attributes stay derived.
            Err(e) if e.errno == libc::EOPNOTSUPP => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn set_mode(&self, mode: u32) -> VfsResult<()> {
        sys::fchmod(self.fd(), mode)
    }

    async fn read_dir_names(&self) -> VfsResult<Vec<String>> {
        if !self.is_dir {
            return Err(VfsError::new(libc::ENOTDIR, "readdir"));
        }
        let own = sys::openat2(
            self.file.as_raw_fd(),
            ".",
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
            true,
        )?;
        let res = tokio::task::spawn_blocking(move || sys::list_names(own.as_raw_fd())).await;
        res.map_err(|_| VfsError::new(libc::EIO, "readdir"))?
    }

    async fn read_dir(&self) -> VfsResult<Vec<DirEntry>> {
        if !self.is_dir {
            return Err(VfsError::new(libc::ENOTDIR, "readdir"));
        }
        let dup = self.file.as_raw_fd();
        // The listing may be long: do it on the blocking pool with our own descriptor.
        let own = sys::openat2(dup, ".", libc::O_RDONLY | libc::O_DIRECTORY, 0, true)?;
        let res = tokio::task::spawn_blocking(move || {
            let fd = own.as_raw_fd();
            let names = sys::list_names(fd)?;
            let mut out = Vec::with_capacity(names.len());
            for name in names {
                match sys::statx(fd, Some(&name)) {
                    Ok(a) => {
                        let dos = sys::get_dos_at(fd, &name);
                        out.push(DirEntry {
                            attr: sys::with_dos(a, dos),
                            name,
                        });
                    }
                    // Removed between listing and stat: skip it.
                    Err(e) if e.errno == libc::ENOENT => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
        .await;
        res.map_err(|_| VfsError::new(libc::EIO, "readdir"))?
    }

    async fn close(self) -> VfsResult<()> {
        self.file
            .close()
            .await
            .map_err(|e| VfsError::io(e, "close"))
    }

    async fn security_blob(&self) -> VfsResult<Option<Vec<u8>>> {
        sys::get_sd_fd(self.fd())
    }

    async fn set_security_blob(&self, blob: Vec<u8>) -> VfsResult<()> {
        sys::set_sd_fd(self.fd(), &blob)
    }

    async fn eas(&self) -> VfsResult<Vec<(Vec<u8>, Vec<u8>)>> {
        sys::list_eas_fd(self.fd())
    }

    async fn set_ea(&self, name: Vec<u8>, value: Vec<u8>) -> VfsResult<()> {
        sys::set_ea_fd(self.fd(), &name, &value)
    }
}
