//! The system calls tokio-uring does not offer: openat2 with RESOLVE_BENEATH, statx,
//! xattrs, *at metadata calls, getdents. Every path handed to the kernel here is either a
//! single validated component relative to a directory descriptor, or a `RelPath` resolved
//! with RESOLVE_BENEATH, so nothing escapes a share root.

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use crate::{FileAttr, FileKind, Timespec, VfsError, VfsResult};

/// The xattr holding DOS attributes and creation time.
pub(crate) const DOS_XATTR: &str = "user.nasd.dos";
const DOS_VERSION: u8 = 1;

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn cstr(s: &str, ctx: &'static str) -> VfsResult<CString> {
    CString::new(s).map_err(|_| VfsError::new(libc::EINVAL, ctx))
}

pub(crate) fn open_root(path: &Path) -> VfsResult<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let p = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| VfsError::new(libc::EINVAL, "share root"))?;
    // SAFETY: `p` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe {
        libc::open(
            p.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(VfsError::new(errno(), "open share root"));
    }
    // SAFETY: `fd` was just returned by open(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// openat2(dirfd, path, flags, mode) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, plus
/// RESOLVE_NO_SYMLINKS when `no_symlinks`.
pub(crate) fn openat2(
    dirfd: RawFd,
    path: &str,
    flags: i32,
    mode: u32,
    no_symlinks: bool,
) -> VfsResult<OwnedFd> {
    let p = cstr(path, "openat2")?;
    let mut resolve = libc::RESOLVE_BENEATH | 0x02 /* RESOLVE_NO_MAGICLINKS */;
    if no_symlinks {
        resolve |= libc::RESOLVE_NO_SYMLINKS;
    }
    // SAFETY: open_how is plain integers; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = if flags & libc::O_CREAT != 0 {
        u64::from(mode)
    } else {
        0
    };
    how.resolve = resolve;
    loop {
        // SAFETY: `p` and `how` outlive the call; the size passed is the size of `how`.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                p.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            let fd = i32::try_from(fd).map_err(|_| VfsError::new(libc::EBADF, "openat2"))?;
            // SAFETY: the kernel returned a new descriptor that nobody else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = errno();
        if e != libc::EAGAIN && e != libc::EINTR {
            return Err(VfsError::new(e, "openat2"));
        }
    }
}

fn ts(sec: i64, nsec: u32) -> Timespec {
    Timespec {
        secs: sec,
        nanos: nsec,
    }
}

/// statx(dirfd, name, AT_SYMLINK_NOFOLLOW) — or of `dirfd` itself when `name` is None.
pub(crate) fn statx(dirfd: RawFd, name: Option<&str>) -> VfsResult<FileAttr> {
    let (p, flags) = match name {
        Some(n) => (cstr(n, "statx")?, libc::AT_SYMLINK_NOFOLLOW),
        None => (
            cstr("", "statx")?,
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        ),
    };
    let mut st = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: `p` is NUL-terminated and `st` points to writable memory of the right size.
    let r = unsafe {
        libc::statx(
            dirfd,
            p.as_ptr(),
            flags,
            libc::STATX_BASIC_STATS | libc::STATX_BTIME,
            st.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(VfsError::new(errno(), "statx"));
    }
    // SAFETY: statx succeeded, so the structure is initialised (it was zeroed before, too).
    let st = unsafe { st.assume_init() };
    let kind = match u32::from(st.stx_mode) & libc::S_IFMT {
        libc::S_IFREG => FileKind::File,
        libc::S_IFDIR => FileKind::Dir,
        libc::S_IFLNK => FileKind::Symlink,
        _ => FileKind::Other,
    };
    let mtime = ts(st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec);
    let btime = if st.stx_mask & libc::STATX_BTIME != 0 {
        ts(st.stx_btime.tv_sec, st.stx_btime.tv_nsec)
    } else {
        mtime
    };
    Ok(FileAttr {
        kind,
        size: st.stx_size,
        alloc_size: st.stx_blocks.saturating_mul(512),
        nlink: u64::from(st.stx_nlink),
        mode: u32::from(st.stx_mode) & 0o7777,
        uid: st.stx_uid,
        gid: st.stx_gid,
        ino: st.stx_ino,
        dev: libc::makedev(st.stx_dev_major, st.stx_dev_minor),
        atime: ts(st.stx_atime.tv_sec, st.stx_atime.tv_nsec),
        mtime,
        ctime: ts(st.stx_ctime.tv_sec, st.stx_ctime.tv_nsec),
        btime,
        dos_attributes: 0,
    })
}

/// The stored DOS record: (attributes, creation time).
pub(crate) fn decode_dos(b: &[u8]) -> Option<(u32, Option<Timespec>)> {
    if b.len() < 18 || b.first() != Some(&DOS_VERSION) {
        return None;
    }
    let attrs = u32::from_le_bytes(b.get(1..5)?.try_into().ok()?);
    let has = *b.get(5)? == 1;
    let secs = i64::from_le_bytes(b.get(6..14)?.try_into().ok()?);
    let nanos = u32::from_le_bytes(b.get(14..18)?.try_into().ok()?);
    Some((attrs, has.then_some(Timespec { secs, nanos })))
}

pub(crate) fn encode_dos(attrs: u32, btime: Option<Timespec>) -> [u8; 18] {
    let mut b = [0u8; 18];
    b[0] = DOS_VERSION;
    b[1..5].copy_from_slice(&attrs.to_le_bytes());
    if let Some(t) = btime {
        b[5] = 1;
        b[6..14].copy_from_slice(&t.secs.to_le_bytes());
        b[14..18].copy_from_slice(&t.nanos.to_le_bytes());
    }
    b
}

/// Read the DOS xattr of an open descriptor (None when absent or unsupported).
pub(crate) fn get_dos_fd(fd: RawFd) -> Option<(u32, Option<Timespec>)> {
    let name = CString::new(DOS_XATTR).ok()?;
    let mut buf = [0u8; 64];
    // SAFETY: `name` is NUL-terminated; `buf` is writable for its full length.
    let n = unsafe { libc::fgetxattr(fd, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).ok()?;
    decode_dos(buf.get(..n)?)
}

/// Read the DOS xattr of `name` inside directory `dirfd` without following a final symlink.
pub(crate) fn get_dos_at(dirfd: RawFd, name: &str) -> Option<(u32, Option<Timespec>)> {
    let p = CString::new(format!("/proc/self/fd/{dirfd}/{name}")).ok()?;
    let xname = CString::new(DOS_XATTR).ok()?;
    let mut buf = [0u8; 64];
    // SAFETY: both strings are NUL-terminated; `buf` is writable for its full length.
    let n = unsafe {
        libc::lgetxattr(
            p.as_ptr(),
            xname.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let n = usize::try_from(n).ok()?;
    decode_dos(buf.get(..n)?)
}

pub(crate) fn set_dos_fd(fd: RawFd, rec: &[u8]) -> VfsResult<()> {
    let name = cstr(DOS_XATTR, "setxattr")?;
    // SAFETY: `name` is NUL-terminated; `rec` is readable for its full length.
    let r = unsafe { libc::fsetxattr(fd, name.as_ptr(), rec.as_ptr().cast(), rec.len(), 0) };
    if r != 0 {
        return Err(VfsError::new(errno(), "setxattr"));
    }
    Ok(())
}

/// The xattr holding a security descriptor blob.
pub(crate) const SD_XATTR: &str = "user.nasd.sd";

/// Read the security descriptor xattr of an open descriptor (None when absent or
/// unsupported).
pub(crate) fn get_sd_fd(fd: RawFd) -> VfsResult<Option<Vec<u8>>> {
    let name = cstr(SD_XATTR, "getxattr")?;
    get_xattr_fd(fd, &name, crate::MAX_SECURITY_BLOB)
}

/// One xattr of an open descriptor, at most `max` bytes: its size is asked first (the
/// common absent case costs one syscall and no buffer). None when absent or unsupported.
fn get_xattr_fd(fd: RawFd, name: &CString, max: usize) -> VfsResult<Option<Vec<u8>>> {
    for _ in 0..3 {
        // SAFETY: `name` is NUL-terminated; a NULL buffer of length 0 only asks the size.
        let size = unsafe { libc::fgetxattr(fd, name.as_ptr(), std::ptr::null_mut(), 0) };
        if size < 0 {
            return match errno() {
                libc::ENODATA | libc::EOPNOTSUPP => Ok(None),
                e => Err(VfsError::new(e, "getxattr")),
            };
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > max {
            return Err(VfsError::new(libc::E2BIG, "getxattr"));
        }
        let mut buf = vec![0u8; size];
        // SAFETY: `name` is NUL-terminated; `buf` is writable for its full length.
        let n = unsafe { libc::fgetxattr(fd, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            match errno() {
                // Grown since we asked: ask again.
                libc::ERANGE => continue,
                libc::ENODATA => return Ok(None),
                e => return Err(VfsError::new(e, "getxattr")),
            }
        }
        buf.truncate(usize::try_from(n).unwrap_or(0));
        return Ok(Some(buf));
    }
    Err(VfsError::new(libc::ERANGE, "getxattr"))
}

/// Store the security descriptor xattr of an open descriptor.
pub(crate) fn set_sd_fd(fd: RawFd, blob: &[u8]) -> VfsResult<()> {
    if blob.len() > crate::MAX_SECURITY_BLOB {
        return Err(VfsError::new(libc::E2BIG, "setxattr"));
    }
    let name = cstr(SD_XATTR, "setxattr")?;
    // SAFETY: `name` is NUL-terminated; `blob` is readable for its full length.
    let r = unsafe { libc::fsetxattr(fd, name.as_ptr(), blob.as_ptr().cast(), blob.len(), 0) };
    if r != 0 {
        return Err(VfsError::new(errno(), "setxattr"));
    }
    Ok(())
}

/// The prefix of the xattrs holding extended attributes.
pub(crate) const EA_PREFIX: &[u8] = b"user.nasd.ea.";

/// The extended attributes of an open descriptor, in name order.
pub(crate) fn list_eas_fd(fd: RawFd) -> VfsResult<Vec<(Vec<u8>, Vec<u8>)>> {
    // SAFETY: a NULL buffer of length 0 only asks for the size of the name list.
    let n = unsafe { libc::flistxattr(fd, std::ptr::null_mut(), 0) };
    if n < 0 {
        return match errno() {
            libc::EOPNOTSUPP => Ok(Vec::new()),
            e => Err(VfsError::new(e, "listxattr")),
        };
    }
    // Room for names added in between; a list that still outgrows it is ERANGE.
    let mut names = vec![0u8; usize::try_from(n).unwrap_or(0) + 4096];
    // SAFETY: `names` is writable for its full length.
    let n = unsafe { libc::flistxattr(fd, names.as_mut_ptr().cast(), names.len()) };
    if n < 0 {
        return Err(VfsError::new(errno(), "listxattr"));
    }
    names.truncate(usize::try_from(n).unwrap_or(0));
    let mut out = Vec::new();
    for full in names.split(|b| *b == 0) {
        let Some(name) = full.strip_prefix(EA_PREFIX) else {
            continue;
        };
        let Ok(c) = CString::new(full) else {
            continue;
        };
        // None: removed since the listing.
        if let Some(value) = get_xattr_fd(fd, &c, crate::MAX_EA_VALUE)? {
            out.push((name.to_vec(), value));
        }
    }
    out.sort();
    Ok(out)
}

/// Store (non-empty value) or remove (empty value) one extended attribute.
pub(crate) fn set_ea_fd(fd: RawFd, name: &[u8], value: &[u8]) -> VfsResult<()> {
    if !crate::ea_name_ok(name) {
        return Err(VfsError::new(libc::EINVAL, "setxattr"));
    }
    if value.len() > crate::MAX_EA_VALUE {
        return Err(VfsError::new(libc::E2BIG, "setxattr"));
    }
    let mut full = EA_PREFIX.to_vec();
    full.extend_from_slice(name);
    let c = CString::new(full).map_err(|_| VfsError::new(libc::EINVAL, "setxattr"))?;
    if value.is_empty() {
        // SAFETY: `c` is NUL-terminated.
        let r = unsafe { libc::fremovexattr(fd, c.as_ptr()) };
        if r != 0 && errno() != libc::ENODATA {
            return Err(VfsError::new(errno(), "removexattr"));
        }
        return Ok(());
    }
    // SAFETY: `c` is NUL-terminated; `value` is readable for its full length.
    let r = unsafe { libc::fsetxattr(fd, c.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    if r != 0 {
        return Err(VfsError::new(errno(), "setxattr"));
    }
    Ok(())
}

/// Apply the DOS xattr to an attribute record.
pub(crate) fn with_dos(mut a: FileAttr, dos: Option<(u32, Option<Timespec>)>) -> FileAttr {
    if let Some((attrs, bt)) = dos {
        a.dos_attributes = attrs;
        if let Some(t) = bt {
            a.btime = t;
        }
    }
    a
}

fn check(r: i32, ctx: &'static str) -> VfsResult<()> {
    if r != 0 {
        Err(VfsError::new(errno(), ctx))
    } else {
        Ok(())
    }
}

/// Clear O_NONBLOCK on a descriptor.
pub(crate) fn clear_nonblock(fd: RawFd) -> VfsResult<()> {
    // SAFETY: fcntl(F_GETFL) on a descriptor we own takes no pointer.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 {
        return Err(VfsError::new(errno(), "fcntl"));
    }
    if fl & libc::O_NONBLOCK == 0 {
        return Ok(());
    }
    // SAFETY: fcntl(F_SETFL) on a descriptor we own takes an integer argument.
    check(
        unsafe { libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK) },
        "fcntl",
    )
}

pub(crate) fn mkdirat(dirfd: RawFd, name: &str, mode: u32) -> VfsResult<()> {
    let p = cstr(name, "mkdir")?;
    // SAFETY: `p` is NUL-terminated and `name` is a single component.
    check(unsafe { libc::mkdirat(dirfd, p.as_ptr(), mode) }, "mkdir")
}

pub(crate) fn unlinkat(dirfd: RawFd, name: &str, dir: bool) -> VfsResult<()> {
    let p = cstr(name, "unlink")?;
    // SAFETY: `p` is NUL-terminated; unlinkat never follows a final symlink.
    check(
        unsafe { libc::unlinkat(dirfd, p.as_ptr(), if dir { libc::AT_REMOVEDIR } else { 0 }) },
        if dir { "rmdir" } else { "unlink" },
    )
}

pub(crate) fn renameat2(
    from_dir: RawFd,
    from: &str,
    to_dir: RawFd,
    to: &str,
    replace: bool,
) -> VfsResult<()> {
    let a = cstr(from, "rename")?;
    let b = cstr(to, "rename")?;
    let flags = if replace { 0 } else { libc::RENAME_NOREPLACE };
    // SAFETY: both names are NUL-terminated single components relative to their dirfds.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            from_dir,
            a.as_ptr(),
            to_dir,
            b.as_ptr(),
            flags,
        )
    };
    if r != 0 {
        return Err(VfsError::new(errno(), "rename"));
    }
    Ok(())
}

pub(crate) fn linkat(from_dir: RawFd, from: &str, to_dir: RawFd, to: &str) -> VfsResult<()> {
    let a = cstr(from, "link")?;
    let b = cstr(to, "link")?;
    // SAFETY: both names are NUL-terminated single components; flags 0 = no symlink follow.
    check(
        unsafe { libc::linkat(from_dir, a.as_ptr(), to_dir, b.as_ptr(), 0) },
        "link",
    )
}

pub(crate) fn ftruncate(fd: RawFd, len: u64) -> VfsResult<()> {
    let len = i64::try_from(len).map_err(|_| VfsError::new(libc::EFBIG, "truncate"))?;
    // SAFETY: plain syscall on a descriptor we own.
    check(unsafe { libc::ftruncate(fd, len) }, "truncate")
}

/// `lseek(fd, pos, SEEK_DATA)` (or `SEEK_HOLE` when `hole`): the next data (hole) offset at
/// or after `pos`, or `None` when there is none before end-of-file (`ENXIO`). Moves the
/// descriptor's file offset, which nothing else uses (all I/O is positional).
pub(crate) fn seek_data_or_hole(fd: RawFd, pos: u64, hole: bool) -> VfsResult<Option<u64>> {
    use nix::unistd::{lseek, Whence};
    let pos = i64::try_from(pos).map_err(|_| VfsError::new(libc::EINVAL, "lseek"))?;
    let whence = if hole {
        Whence::SeekHole
    } else {
        Whence::SeekData
    };
    match lseek(fd, pos, whence) {
        Ok(off) => u64::try_from(off)
            .map(Some)
            .map_err(|_| VfsError::new(libc::EINVAL, "lseek")),
        Err(nix::errno::Errno::ENXIO) => Ok(None),
        Err(e) => Err(VfsError::new(e as i32, "lseek")),
    }
}

pub(crate) fn futimens(
    fd: RawFd,
    atime: Option<Timespec>,
    mtime: Option<Timespec>,
) -> VfsResult<()> {
    let conv = |t: Option<Timespec>| match t {
        Some(t) => libc::timespec {
            tv_sec: t.secs,
            tv_nsec: i64::from(t.nanos),
        },
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
    };
    let times = [conv(atime), conv(mtime)];
    // SAFETY: `times` is an array of two timespecs as futimens requires.
    check(unsafe { libc::futimens(fd, times.as_ptr()) }, "utimens")
}

pub(crate) fn fchmod(fd: RawFd, mode: u32) -> VfsResult<()> {
    // SAFETY: plain syscall on a descriptor we own.
    check(unsafe { libc::fchmod(fd, mode & 0o7777) }, "chmod")
}

pub(crate) fn fstatvfs(fd: RawFd) -> VfsResult<crate::FsStat> {
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `s` is writable memory of the right size.
    check(unsafe { libc::fstatvfs(fd, s.as_mut_ptr()) }, "statvfs")?;
    // SAFETY: fstatvfs succeeded and initialised the structure.
    let s = unsafe { s.assume_init() };
    Ok(crate::FsStat {
        block_size: s.f_frsize,
        blocks: s.f_blocks,
        blocks_free: s.f_bfree,
        blocks_avail: s.f_bavail,
        files: s.f_files,
        files_free: s.f_ffree,
        fsid: s.f_fsid,
        name_max: s.f_namemax,
    })
}

/// Names in directory `fd` (without "." and ".."), via a fresh descriptor so the caller's
/// offset is untouched.
pub(crate) fn list_names(fd: RawFd) -> VfsResult<Vec<String>> {
    let dot = cstr(".", "readdir")?;
    // SAFETY: `dot` is NUL-terminated; the result is checked.
    let dfd = unsafe {
        libc::openat(
            fd,
            dot.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dfd < 0 {
        return Err(VfsError::new(errno(), "opendir"));
    }
    // SAFETY: `dfd` is a new descriptor we own; fdopendir takes it over.
    let dir = unsafe { libc::fdopendir(dfd) };
    if dir.is_null() {
        // SAFETY: fdopendir failed, so `dfd` is still ours to close.
        unsafe { libc::close(dfd) };
        return Err(VfsError::new(errno(), "opendir"));
    }
    let mut out = Vec::new();
    loop {
        // SAFETY: `dir` is a valid DIR* until closedir below.
        let ent = unsafe { libc::readdir64(dir) };
        if ent.is_null() {
            break;
        }
        // SAFETY: readdir64 returned a valid dirent whose d_name is NUL-terminated.
        let name = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) };
        let Ok(name) = name.to_str() else { continue }; // names that are not UTF-8 are not served
        if name != "." && name != ".." {
            out.push(name.to_string());
        }
    }
    // SAFETY: `dir` is valid and closed exactly once.
    unsafe { libc::closedir(dir) };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_record_layout_is_versioned_little_endian() {
        let t = Timespec {
            secs: 0x0102_0304_0506_0708,
            nanos: 0x0a0b_0c0d,
        };
        let rec = encode_dos(0x0000_0021, Some(t));
        assert_eq!(
            rec,
            [
                1, // version
                0x21, 0, 0, 0, // attributes
                1, // creation time present
                0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // secs
                0x0d, 0x0c, 0x0b, 0x0a, // nanos
            ]
        );
        assert_eq!(decode_dos(&rec), Some((0x21, Some(t))));
        assert_eq!(decode_dos(&encode_dos(0x02, None)), Some((0x02, None)));
        // Unknown versions and short records are ignored, not trusted.
        let mut v2 = rec;
        v2[0] = 2;
        assert_eq!(decode_dos(&v2), None);
        assert_eq!(decode_dos(&rec[..17]), None);
        assert_eq!(decode_dos(&[]), None);
    }
}
