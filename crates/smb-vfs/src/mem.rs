//! `MemVfs`: an in-memory filesystem behind the same [`Vfs`] / [`Handle`] traits, for tests
//! of the server. It mirrors `UringVfs`'s errno behaviour (symlinks never followed, `ELOOP`
//! for one on the way, `ENOTDIR` for a file on the way, and so on), keeps one tree per share
//! root (keyed by [`Root::path`]), uses a logical clock instead of the system clock, and
//! can be told to fail any operation with a chosen errno after N calls.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::rc::Rc;

use crate::{
    Create, DirEntry, FileAttr, FileKind, FsStat, Handle, OpenHow, RelPath, Resolved, Root,
    Timespec, Vfs, VfsError, VfsResult,
};

const BLOCK: u64 = 4096;
const DEV: u64 = 0x4d56;
/// The logical clock starts here (2023-11-14T22:13:20Z) and advances one second per change.
const BASE_SECS: i64 = 1_700_000_000;
const DEFAULT_MAX_FILE: u64 = 1 << 30;
const DEFAULT_CAPACITY: u64 = 4 << 30;
const MAX_INODES: u64 = 1 << 20;

#[derive(Debug)]
struct Node {
    kind: FileKind,
    data: Vec<u8>,
    children: BTreeMap<String, u64>,
    target: String,
    mode: u32,
    nlink: u64,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
    birth: Timespec,
    dos: Option<(u32, Option<Timespec>)>,
    /// The security descriptor blob (`user.nasd.sd` on disk).
    sd: Option<Vec<u8>>,
    /// Extended attributes (`user.nasd.ea.*` on disk).
    eas: BTreeMap<Vec<u8>, Vec<u8>>,
    reserved: u64,
    /// Where data is stored, as sorted, disjoint, non-adjacent block-aligned byte ranges
    /// `[start, end)`; the rest of the file is holes (read as zeros).
    data_blocks: Vec<(u64, u64)>,
    open: u32,
}

#[derive(Debug)]
struct Fault {
    op: Option<&'static str>,
    remaining: u64,
    errno: i32,
}

#[derive(Debug)]
struct MemFs {
    nodes: HashMap<u64, Node>,
    roots: HashMap<PathBuf, u64>,
    next_ino: u64,
    tick: i64,
    calls: u64,
    faults: Vec<Fault>,
    xattrs: bool,
    max_file: u64,
    capacity: u64,
    used: u64,
}

fn err(errno: i32, ctx: &'static str) -> VfsError {
    VfsError::new(errno, ctx)
}

fn round_up(n: u64) -> u64 {
    n.div_ceil(BLOCK).saturating_mul(BLOCK)
}

fn round_down(n: u64) -> u64 {
    n - n % BLOCK
}

/// Add `[start, end)` to a sorted set of disjoint ranges, merging what touches it.
fn ranges_add(set: &mut Vec<(u64, u64)>, start: u64, end: u64) {
    if start >= end {
        return;
    }
    let (mut s, mut e) = (start, end);
    set.retain(|&(a, b)| {
        if b < s || a > e {
            return true;
        }
        s = s.min(a);
        e = e.max(b);
        false
    });
    let at = set.partition_point(|&(a, _)| a < s);
    set.insert(at, (s, e));
}

/// Remove `[start, end)` from a sorted set of disjoint ranges.
fn ranges_remove(set: &mut Vec<(u64, u64)>, start: u64, end: u64) {
    if start >= end {
        return;
    }
    let mut out = Vec::with_capacity(set.len() + 1);
    for &(a, b) in set.iter() {
        if b <= start || a >= end {
            out.push((a, b));
            continue;
        }
        if a < start {
            out.push((a, start));
        }
        if b > end {
            out.push((end, b));
        }
    }
    *set = out;
}

impl MemFs {
    fn new() -> Self {
        Self {
            nodes: HashMap::new(),
            roots: HashMap::new(),
            next_ino: 2,
            tick: 0,
            calls: 0,
            faults: Vec::new(),
            xattrs: true,
            max_file: DEFAULT_MAX_FILE,
            capacity: DEFAULT_CAPACITY,
            used: 0,
        }
    }

    /// Count a call to `op` and fail it if an armed fault says so.
    fn enter(&mut self, op: &'static str) -> VfsResult<()> {
        self.calls = self.calls.saturating_add(1);
        for f in &mut self.faults {
            if f.op.is_some_and(|o| o != op) {
                continue;
            }
            if f.remaining == 0 {
                return Err(err(f.errno, op));
            }
            f.remaining -= 1;
        }
        Ok(())
    }

    fn now(&mut self) -> Timespec {
        self.tick = self.tick.saturating_add(1);
        Timespec {
            secs: BASE_SECS.saturating_add(self.tick),
            nanos: 0,
        }
    }

    fn alloc(&mut self, kind: FileKind, mode: u32, ctx: &'static str) -> VfsResult<u64> {
        if u64::try_from(self.nodes.len()).unwrap_or(u64::MAX) >= MAX_INODES {
            return Err(err(libc::ENOSPC, ctx));
        }
        let ino = self.next_ino;
        self.next_ino = self.next_ino.saturating_add(1);
        let t = self.now();
        self.nodes.insert(
            ino,
            Node {
                kind,
                data: Vec::new(),
                children: BTreeMap::new(),
                target: String::new(),
                mode: mode & 0o7777,
                nlink: 1,
                atime: t,
                mtime: t,
                ctime: t,
                birth: t,
                dos: None,
                sd: None,
                eas: BTreeMap::new(),
                reserved: 0,
                data_blocks: Vec::new(),
                open: 0,
            },
        );
        Ok(ino)
    }

    fn root_ino(&mut self, root: &Root) -> VfsResult<u64> {
        if let Some(&ino) = self.roots.get(root.path()) {
            return Ok(ino);
        }
        let ino = self.alloc(FileKind::Dir, 0o755, "open share root")?;
        self.roots.insert(root.path().to_path_buf(), ino);
        Ok(ino)
    }

    fn node(&self, ino: u64) -> VfsResult<&Node> {
        self.nodes.get(&ino).ok_or(err(libc::ESTALE, "inode"))
    }

    fn node_mut(&mut self, ino: u64) -> VfsResult<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(err(libc::ESTALE, "inode"))
    }

    fn child(&self, dir: u64, name: &str) -> VfsResult<Option<u64>> {
        Ok(self.node(dir)?.children.get(name).copied())
    }

    /// Walk directories by exact name, like openat2 with RESOLVE_NO_SYMLINKS.
    fn walk<'a>(
        &self,
        mut cur: u64,
        comps: impl Iterator<Item = &'a str>,
        ctx: &'static str,
    ) -> VfsResult<u64> {
        for c in comps {
            let next = self.child(cur, c)?.ok_or(err(libc::ENOENT, ctx))?;
            match self.node(next)?.kind {
                FileKind::Dir => cur = next,
                FileKind::Symlink => return Err(err(libc::ELOOP, ctx)),
                _ => return Err(err(libc::ENOTDIR, ctx)),
            }
        }
        Ok(cur)
    }

    /// The directory holding `path` and the final name (`EINVAL` for the root itself).
    fn parent_of(&self, root: u64, path: &RelPath, ctx: &'static str) -> VfsResult<(u64, String)> {
        let name = path
            .file_name()
            .ok_or(err(libc::EINVAL, "operation on the share root"))?;
        let parent = path.parent().unwrap_or_default();
        Ok((self.walk(root, parent.components(), ctx)?, name.to_string()))
    }

    /// The inode of `path`, or `None` when only the final component is missing.
    fn lookup_opt(&self, root: u64, path: &RelPath, ctx: &'static str) -> VfsResult<Option<u64>> {
        if path.is_root() {
            return Ok(Some(root));
        }
        let (dir, name) = self.parent_of(root, path, ctx)?;
        self.child(dir, &name)
    }

    fn lookup(&self, root: u64, path: &RelPath, ctx: &'static str) -> VfsResult<u64> {
        self.lookup_opt(root, path, ctx)?
            .ok_or(err(libc::ENOENT, ctx))
    }

    fn touch_dir(&mut self, dir: u64) -> VfsResult<()> {
        let t = self.now();
        let d = self.node_mut(dir)?;
        d.mtime = t;
        d.ctime = t;
        Ok(())
    }

    fn make(
        &mut self,
        dir: u64,
        name: &str,
        kind: FileKind,
        mode: u32,
        ctx: &'static str,
    ) -> VfsResult<u64> {
        if self.node(dir)?.kind != FileKind::Dir {
            return Err(err(libc::ENOTDIR, ctx));
        }
        let ino = self.alloc(kind, mode, ctx)?;
        self.node_mut(dir)?.children.insert(name.to_string(), ino);
        self.touch_dir(dir)?;
        Ok(ino)
    }

    fn charged(n: &Node) -> u64 {
        (n.data.len() as u64).max(n.reserved)
    }

    /// Change a file's charged size from `old` to `new` bytes, refusing to exceed capacity.
    fn charge(&mut self, old: u64, new: u64, ctx: &'static str) -> VfsResult<()> {
        if new > self.max_file {
            return Err(err(libc::EFBIG, ctx));
        }
        let used = self.used.saturating_sub(old);
        let after = used.checked_add(new).ok_or(err(libc::ENOSPC, ctx))?;
        if after > self.capacity {
            return Err(err(libc::ENOSPC, ctx));
        }
        self.used = after;
        Ok(())
    }

    /// Free an inode nobody links to or holds open.
    fn reclaim(&mut self, ino: u64) {
        let gone = self
            .nodes
            .get(&ino)
            .is_some_and(|n| n.nlink == 0 && n.open == 0);
        if gone {
            if let Some(n) = self.nodes.remove(&ino) {
                self.used = self.used.saturating_sub(Self::charged(&n));
            }
        }
    }

    fn attr(&self, ino: u64) -> VfsResult<FileAttr> {
        let n = self.node(ino)?;
        let (size, alloc_size, nlink) = match n.kind {
            FileKind::Dir => {
                let subdirs = n
                    .children
                    .values()
                    .filter(|c| self.nodes.get(c).is_some_and(|c| c.kind == FileKind::Dir))
                    .count();
                let links = if n.nlink == 0 { 0 } else { 2 + subdirs as u64 };
                (BLOCK, BLOCK, links)
            }
            FileKind::Symlink => (n.target.len() as u64, 0, n.nlink),
            _ => (n.data.len() as u64, round_up(Self::charged(n)), n.nlink),
        };
        let (dos_attributes, bt) = n.dos.unwrap_or((0, None));
        Ok(FileAttr {
            kind: n.kind,
            size,
            alloc_size,
            nlink,
            mode: n.mode,
            uid: 0,
            gid: 0,
            ino,
            dev: DEV,
            atime: n.atime,
            mtime: n.mtime,
            ctime: n.ctime,
            btime: bt.unwrap_or(n.birth),
            dos_attributes,
        })
    }

    /// Whether `dir` is `top` or lies anywhere beneath it.
    fn is_within(&self, dir: u64, top: u64) -> bool {
        let mut stack = vec![top];
        while let Some(d) = stack.pop() {
            if d == dir {
                return true;
            }
            if let Some(n) = self.nodes.get(&d) {
                stack.extend(
                    n.children
                        .values()
                        .filter(|c| self.nodes.get(c).is_some_and(|c| c.kind == FileKind::Dir)),
                );
            }
        }
        false
    }

    /// Drop the directory entry `name` in `dir` that points to `ino`.
    fn unlink_entry(&mut self, dir: u64, name: &str, ino: u64) -> VfsResult<()> {
        self.node_mut(dir)?.children.remove(name);
        self.touch_dir(dir)?;
        let t = self.now();
        let n = self.node_mut(ino)?;
        n.ctime = t;
        n.nlink = if n.kind == FileKind::Dir {
            0
        } else {
            n.nlink.saturating_sub(1)
        };
        self.reclaim(ino);
        Ok(())
    }
}

/// The in-memory filesystem. Clones share one state.
#[derive(Clone)]
pub struct MemVfs {
    fs: Rc<RefCell<MemFs>>,
}

impl Default for MemVfs {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemVfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemVfs").finish_non_exhaustive()
    }
}

impl MemVfs {
    /// An empty filesystem with user xattrs, 1 GiB files at most and 4 GiB capacity.
    pub fn new() -> Self {
        Self {
            fs: Rc::new(RefCell::new(MemFs::new())),
        }
    }

    /// From now on, let `calls` more operations (of any kind) succeed, then fail every
    /// operation with `errno` until [`MemVfs::clear_faults`].
    pub fn fail_after(&self, calls: u64, errno: i32) {
        self.fs.borrow_mut().faults.push(Fault {
            op: None,
            remaining: calls,
            errno,
        });
    }

    /// Like [`MemVfs::fail_after`] but counting and failing only the operation named `op`,
    /// which is the context its errors carry: "resolve", "open", "stat", "unlink", "rmdir",
    /// "rename", "link", "statfs" (the [`Vfs`] calls) and "read", "write", "fsync",
    /// "fstat", "truncate", "fallocate" (also `zero_range`), "lseek" (`data_ranges`),
    /// "utimens", "setxattr", "chmod", "readdir", "close" (the [`Handle`] calls).
    pub fn fail_op_after(&self, op: &'static str, calls: u64, errno: i32) {
        self.fs.borrow_mut().faults.push(Fault {
            op: Some(op),
            remaining: calls,
            errno,
        });
    }

    /// Disarm every fault.
    pub fn clear_faults(&self) {
        self.fs.borrow_mut().faults.clear();
    }

    /// How many operations have been called so far (failed ones included).
    pub fn calls(&self) -> u64 {
        self.fs.borrow().calls
    }

    /// Pretend the filesystem has (or lacks) user xattrs; without them `set_dos` is a
    /// quiet no-op, as on tmpfs without `user_xattr`.
    pub fn set_xattr_support(&self, on: bool) {
        self.fs.borrow_mut().xattrs = on;
    }

    /// Limit the size of one file (`EFBIG` beyond) and of all data (`ENOSPC` beyond).
    pub fn set_limits(&self, max_file: u64, capacity: u64) {
        let mut fs = self.fs.borrow_mut();
        fs.max_file = max_file;
        fs.capacity = capacity;
    }

    /// Test fixture: make `path` a symlink to `target` (which is stored, never followed).
    pub fn symlink(&self, root: &Root, path: &RelPath, target: &str) -> VfsResult<()> {
        let mut fs = self.fs.borrow_mut();
        let r = fs.root_ino(root)?;
        let (dir, name) = fs.parent_of(r, path, "symlink")?;
        if fs.child(dir, &name)?.is_some() {
            return Err(err(libc::EEXIST, "symlink"));
        }
        let ino = fs.make(dir, &name, FileKind::Symlink, 0o777, "symlink")?;
        fs.node_mut(ino)?.target = target.to_string();
        Ok(())
    }

    fn open_sync(
        &self,
        root: &Root,
        path: &RelPath,
        how: &OpenHow,
    ) -> VfsResult<(MemHandle, bool)> {
        const CTX: &str = "open";
        let mut fs = self.fs.borrow_mut();
        fs.enter(CTX)?;
        let r = fs.root_ino(root)?;
        let mut created = false;
        if how.directory && how.create != Create::No {
            if path.is_root() {
                if how.create == Create::Exclusive {
                    return Err(err(libc::EEXIST, "mkdir"));
                }
            } else {
                let (dir, name) = fs.parent_of(r, path, "mkdir")?;
                match fs.child(dir, &name)? {
                    Some(_) if how.create == Create::Exclusive => {
                        return Err(err(libc::EEXIST, "mkdir"))
                    }
                    Some(_) => {}
                    None => {
                        fs.make(dir, &name, FileKind::Dir, how.mode | 0o111, "mkdir")?;
                        created = true;
                    }
                }
            }
        }
        let ino = match fs.lookup_opt(r, path, CTX)? {
            Some(_) if !how.directory && how.create == Create::Exclusive => {
                return Err(err(libc::EEXIST, CTX))
            }
            Some(ino) => ino,
            None if how.directory || how.create == Create::No => {
                return Err(err(libc::ENOENT, CTX))
            }
            None => {
                let (dir, name) = fs.parent_of(r, path, CTX)?;
                created = true;
                fs.make(dir, &name, FileKind::File, how.mode, CTX)?
            }
        };
        let kind = fs.node(ino)?.kind;
        let write = how.write && !how.directory;
        match kind {
            // Like the kernel: O_DIRECTORY on a symlink is ENOTDIR, O_NOFOLLOW is ELOOP.
            FileKind::Symlink if how.directory => return Err(err(libc::ENOTDIR, CTX)),
            FileKind::Symlink => return Err(err(libc::ELOOP, CTX)),
            FileKind::Dir if write || (how.truncate && !how.directory) => {
                return Err(err(libc::EISDIR, CTX))
            }
            FileKind::Dir => {}
            _ if how.directory => return Err(err(libc::ENOTDIR, CTX)),
            _ => {}
        }
        if how.truncate && kind == FileKind::File && !created {
            let old = MemFs::charged(fs.node(ino)?);
            let reserved = fs.node(ino)?.reserved;
            fs.charge(old, reserved, CTX)?;
            let t = fs.now();
            let n = fs.node_mut(ino)?;
            n.data = Vec::new();
            n.data_blocks.clear();
            n.mtime = t;
            n.ctime = t;
        }
        fs.node_mut(ino)?.open += 1;
        let handle = MemHandle {
            fs: Rc::clone(&self.fs),
            ino,
            read: how.read || !write,
            write,
            is_dir: kind == FileKind::Dir,
        };
        Ok((handle, created))
    }

    fn resolve_sync(&self, root: &Root, path: &RelPath) -> VfsResult<Resolved> {
        const CTX: &str = "resolve";
        let mut fs = self.fs.borrow_mut();
        fs.enter(CTX)?;
        let mut cur = fs.root_ino(root)?;
        let mut cur_path = RelPath::root();
        let comps: Vec<&str> = path.components().collect();
        let last = comps.len().saturating_sub(1);
        for (i, comp) in comps.iter().enumerate() {
            let dir = fs.node(cur)?;
            let hit = match dir.children.get_key_value(*comp) {
                Some((n, &ino)) => Some((n.clone(), ino)),
                None => {
                    let want = crate::fold_name(comp);
                    dir.children
                        .iter()
                        .find(|(n, _)| crate::fold_name(n) == want)
                        .map(|(n, &ino)| (n.clone(), ino))
                }
            };
            let Some((name, ino)) = hit else {
                if i == last {
                    return Ok(Resolved::Missing {
                        parent: cur_path,
                        name: (*comp).to_string(),
                    });
                }
                return Err(err(libc::ENOENT, CTX));
            };
            cur_path = cur_path.join(&name);
            if i == last {
                return Ok(Resolved::Found {
                    path: cur_path,
                    attr: fs.attr(ino)?,
                });
            }
            match fs.node(ino)?.kind {
                FileKind::Dir => cur = ino,
                FileKind::Symlink => return Err(err(libc::ELOOP, CTX)),
                _ => return Err(err(libc::ENOTDIR, CTX)),
            }
        }
        Ok(Resolved::Found {
            path: cur_path,
            attr: fs.attr(cur)?,
        })
    }

    fn rename_sync(
        &self,
        root: &Root,
        from: &RelPath,
        to: &RelPath,
        replace: bool,
    ) -> VfsResult<()> {
        const CTX: &str = "rename";
        let mut fs = self.fs.borrow_mut();
        fs.enter(CTX)?;
        let r = fs.root_ino(root)?;
        let (fdir, fname) = fs.parent_of(r, from, CTX)?;
        let (tdir, tname) = fs.parent_of(r, to, CTX)?;
        let src = fs.child(fdir, &fname)?.ok_or(err(libc::ENOENT, CTX))?;
        let src_dir = fs.node(src)?.kind == FileKind::Dir;
        let dst = fs.child(tdir, &tname)?;
        if let Some(dst) = dst {
            if !replace {
                return Err(err(libc::EEXIST, CTX));
            }
            if dst == src {
                return Ok(());
            }
            let d = fs.node(dst)?;
            match (src_dir, d.kind == FileKind::Dir) {
                (true, false) => return Err(err(libc::ENOTDIR, CTX)),
                (false, true) => return Err(err(libc::EISDIR, CTX)),
                (true, true) if !d.children.is_empty() => return Err(err(libc::ENOTEMPTY, CTX)),
                _ => {}
            }
        }
        if src_dir && fs.is_within(tdir, src) {
            return Err(err(libc::EINVAL, CTX));
        }
        if let Some(dst) = dst {
            fs.unlink_entry(tdir, &tname, dst)?;
        }
        fs.node_mut(fdir)?.children.remove(&fname);
        fs.touch_dir(fdir)?;
        fs.node_mut(tdir)?.children.insert(tname, src);
        fs.touch_dir(tdir)?;
        let t = fs.now();
        fs.node_mut(src)?.ctime = t;
        Ok(())
    }

    fn link_sync(&self, root: &Root, from: &RelPath, to: &RelPath) -> VfsResult<()> {
        const CTX: &str = "link";
        let mut fs = self.fs.borrow_mut();
        fs.enter(CTX)?;
        let r = fs.root_ino(root)?;
        let (fdir, fname) = fs.parent_of(r, from, CTX)?;
        let (tdir, tname) = fs.parent_of(r, to, CTX)?;
        let src = fs.child(fdir, &fname)?.ok_or(err(libc::ENOENT, CTX))?;
        if fs.node(src)?.kind == FileKind::Dir {
            return Err(err(libc::EPERM, CTX));
        }
        if fs.child(tdir, &tname)?.is_some() {
            return Err(err(libc::EEXIST, CTX));
        }
        fs.node_mut(tdir)?.children.insert(tname, src);
        fs.touch_dir(tdir)?;
        let t = fs.now();
        let n = fs.node_mut(src)?;
        n.nlink = n.nlink.saturating_add(1);
        n.ctime = t;
        Ok(())
    }

    fn remove_sync(&self, root: &Root, path: &RelPath, dir: bool) -> VfsResult<()> {
        let ctx = if dir { "rmdir" } else { "unlink" };
        let mut fs = self.fs.borrow_mut();
        fs.enter(ctx)?;
        let r = fs.root_ino(root)?;
        let (parent, name) = fs.parent_of(r, path, ctx)?;
        let ino = fs.child(parent, &name)?.ok_or(err(libc::ENOENT, ctx))?;
        let n = fs.node(ino)?;
        match (dir, n.kind == FileKind::Dir) {
            (false, true) => return Err(err(libc::EISDIR, ctx)),
            (true, false) => return Err(err(libc::ENOTDIR, ctx)),
            (true, true) if !n.children.is_empty() => return Err(err(libc::ENOTEMPTY, ctx)),
            _ => {}
        }
        fs.unlink_entry(parent, &name, ino)
    }

    fn statfs_sync(&self, root: &Root) -> VfsResult<FsStat> {
        let mut fs = self.fs.borrow_mut();
        fs.enter("statfs")?;
        fs.root_ino(root)?;
        let blocks = fs.capacity / BLOCK;
        let free = fs.capacity.saturating_sub(fs.used) / BLOCK;
        let files_used = u64::try_from(fs.nodes.len()).unwrap_or(MAX_INODES);
        Ok(FsStat {
            block_size: BLOCK,
            blocks,
            blocks_free: free,
            blocks_avail: free,
            files: MAX_INODES,
            files_free: MAX_INODES.saturating_sub(files_used),
            fsid: DEV,
            name_max: 255,
        })
    }
}

impl Vfs for MemVfs {
    type Handle = MemHandle;

    async fn resolve(&self, root: &Root, path: &RelPath) -> VfsResult<Resolved> {
        self.resolve_sync(root, path)
    }

    async fn open(
        &self,
        root: &Root,
        path: &RelPath,
        how: &OpenHow,
    ) -> VfsResult<(MemHandle, bool)> {
        self.open_sync(root, path, how)
    }

    async fn stat(&self, root: &Root, path: &RelPath) -> VfsResult<FileAttr> {
        let mut fs = self.fs.borrow_mut();
        fs.enter("stat")?;
        let r = fs.root_ino(root)?;
        let ino = fs.lookup(r, path, "stat")?;
        fs.attr(ino)
    }

    async fn unlink(&self, root: &Root, path: &RelPath) -> VfsResult<()> {
        self.remove_sync(root, path, false)
    }

    async fn rmdir(&self, root: &Root, path: &RelPath) -> VfsResult<()> {
        self.remove_sync(root, path, true)
    }

    async fn rename(
        &self,
        root: &Root,
        from: &RelPath,
        to: &RelPath,
        replace: bool,
    ) -> VfsResult<()> {
        self.rename_sync(root, from, to, replace)
    }

    async fn link(&self, root: &Root, from: &RelPath, to: &RelPath) -> VfsResult<()> {
        self.link_sync(root, from, to)
    }

    async fn statfs(&self, root: &Root) -> VfsResult<FsStat> {
        self.statfs_sync(root)
    }
}

/// An open object of a [`MemVfs`]. Dropping it (or `close`) releases the inode, which is
/// freed once it is also unlinked.
pub struct MemHandle {
    fs: Rc<RefCell<MemFs>>,
    ino: u64,
    read: bool,
    write: bool,
    is_dir: bool,
}

impl std::fmt::Debug for MemHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemHandle")
            .field("ino", &self.ino)
            .field("read", &self.read)
            .field("write", &self.write)
            .finish()
    }
}

impl Drop for MemHandle {
    fn drop(&mut self) {
        if let Ok(mut fs) = self.fs.try_borrow_mut() {
            if let Some(n) = fs.nodes.get_mut(&self.ino) {
                n.open = n.open.saturating_sub(1);
            }
            fs.reclaim(self.ino);
        }
    }
}

impl MemHandle {
    /// Enter `op` and check the handle's access: `EISDIR` for reading a directory, `EBADF`
    /// without the needed access mode (directories are never open for writing).
    fn enter(
        &self,
        op: &'static str,
        need_read: bool,
        need_write: bool,
    ) -> VfsResult<std::cell::RefMut<'_, MemFs>> {
        let mut fs = self.fs.borrow_mut();
        fs.enter(op)?;
        if need_read && self.is_dir {
            return Err(err(libc::EISDIR, op));
        }
        if (need_read && !self.read) || (need_write && !self.write) {
            return Err(err(libc::EBADF, op));
        }
        Ok(fs)
    }

    fn read_sync(&self, buf: &mut Vec<u8>, offset: u64, whole: bool) -> VfsResult<usize> {
        let fs = self.enter("read", true, false)?;
        let data = &fs.node(self.ino)?.data;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let avail = data.get(start..).unwrap_or_default();
        let n = avail.len().min(buf.capacity());
        let src = avail.get(..n).unwrap_or_default();
        if whole || buf.len() <= n {
            buf.clear();
            buf.extend_from_slice(src);
        } else if let Some(dst) = buf.get_mut(..n) {
            dst.copy_from_slice(src);
        }
        Ok(n)
    }

    fn write_sync(&self, buf: &[u8], offset: u64) -> VfsResult<()> {
        const CTX: &str = "write";
        let mut fs = self.enter(CTX, false, true)?;
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or(err(libc::EFBIG, CTX))?;
        let node = fs.node(self.ino)?;
        let (old, reserved) = (MemFs::charged(node), node.reserved);
        let new_len = end.max(node.data.len() as u64);
        fs.charge(old, new_len.max(reserved), CTX)?;
        let start = usize::try_from(offset).map_err(|_| err(libc::EFBIG, CTX))?;
        let end = usize::try_from(end).map_err(|_| err(libc::EFBIG, CTX))?;
        let new_len = usize::try_from(new_len).map_err(|_| err(libc::EFBIG, CTX))?;
        let t = fs.now();
        let n = fs.node_mut(self.ino)?;
        n.data.resize(new_len, 0);
        n.data
            .get_mut(start..end)
            .ok_or(err(libc::EFBIG, CTX))?
            .copy_from_slice(buf);
        if !buf.is_empty() {
            ranges_add(
                &mut n.data_blocks,
                round_down(offset),
                round_up(offset.saturating_add(buf.len() as u64)),
            );
        }
        n.mtime = t;
        n.ctime = t;
        Ok(())
    }
}

impl Handle for MemHandle {
    async fn read_at(&self, mut buf: Vec<u8>, offset: u64) -> (VfsResult<usize>, Vec<u8>) {
        let r = self.read_sync(&mut buf, offset, false);
        (r, buf)
    }

    async fn read_exact_at<B: crate::ReadBuf>(
        &self,
        mut buf: B,
        offset: u64,
    ) -> (VfsResult<usize>, B) {
        // Read into the spare capacity, keeping what `buf` holds in front.
        let mut tail = Vec::with_capacity(buf.bytes_total() - buf.bytes_init());
        let r = self.read_sync(&mut tail, offset, true);
        buf.put(&tail);
        (r, buf)
    }

    async fn write_all_at<B: crate::WriteBuf>(&self, buf: B, offset: u64) -> (VfsResult<()>, B) {
        let r = self.write_sync(buf.as_ref(), offset);
        (r, buf)
    }

    async fn sync(&self, _data_only: bool) -> VfsResult<()> {
        self.enter("fsync", false, false).map(drop)
    }

    async fn stat(&self) -> VfsResult<FileAttr> {
        self.enter("fstat", false, false)?.attr(self.ino)
    }

    async fn set_len(&self, len: u64) -> VfsResult<()> {
        const CTX: &str = "truncate";
        let mut fs = self.enter(CTX, false, false)?;
        if !self.write || self.is_dir {
            return Err(err(libc::EINVAL, CTX));
        }
        let node = fs.node(self.ino)?;
        let (old, reserved) = (MemFs::charged(node), node.reserved);
        fs.charge(old, len.max(reserved), CTX)?;
        let blocks_end = round_up(len);
        let len = usize::try_from(len).map_err(|_| err(libc::EFBIG, CTX))?;
        let t = fs.now();
        let n = fs.node_mut(self.ino)?;
        n.data.resize(len, 0);
        // Growing leaves a hole; shrinking drops the blocks past the new end.
        ranges_remove(&mut n.data_blocks, blocks_end, u64::MAX);
        n.mtime = t;
        n.ctime = t;
        Ok(())
    }

    async fn allocate(&self, len: u64) -> VfsResult<()> {
        const CTX: &str = "fallocate";
        let mut fs = self.enter(CTX, false, true)?;
        if self.is_dir {
            return Err(err(libc::EISDIR, CTX));
        }
        let node = fs.node(self.ino)?;
        let (old, reserved, size) = (
            MemFs::charged(node),
            len.max(node.reserved),
            node.data.len() as u64,
        );
        fs.charge(old, reserved.max(size), CTX)?;
        fs.node_mut(self.ino)?.reserved = reserved;
        Ok(())
    }

    async fn zero_range(&self, offset: u64, len: u64, deallocate: bool) -> VfsResult<()> {
        const CTX: &str = "fallocate";
        let mut fs = self.enter(CTX, false, false)?;
        if self.is_dir {
            return Err(err(libc::EISDIR, CTX));
        }
        if !self.write {
            return Err(err(libc::EBADF, CTX));
        }
        let t = fs.now();
        let n = fs.node_mut(self.ino)?;
        let size = n.data.len() as u64;
        let asked_end = offset.saturating_add(len);
        let end = asked_end.min(size);
        if offset >= end {
            return Ok(());
        }
        let (s, e) = (
            usize::try_from(offset).map_err(|_| err(libc::EFBIG, CTX))?,
            usize::try_from(end).map_err(|_| err(libc::EFBIG, CTX))?,
        );
        n.data.get_mut(s..e).ok_or(err(libc::EINVAL, CTX))?.fill(0);
        if deallocate {
            // Like a punch with KEEP_SIZE: only whole blocks go, and a range reaching
            // end-of-file takes the block holding it.
            let hole_end = if asked_end >= size {
                round_up(size)
            } else {
                round_down(asked_end)
            };
            ranges_remove(&mut n.data_blocks, round_up(offset), hole_end);
        }
        n.mtime = t;
        n.ctime = t;
        Ok(())
    }

    async fn data_ranges(&self, offset: u64, len: u64, max: usize) -> VfsResult<Vec<(u64, u64)>> {
        let fs = self.enter("lseek", false, false)?;
        if self.is_dir {
            return Err(err(libc::EISDIR, "lseek"));
        }
        let n = fs.node(self.ino)?;
        let end = offset.saturating_add(len).min(n.data.len() as u64);
        Ok(n.data_blocks
            .iter()
            .map(|&(a, b)| (a.max(offset), b.min(end)))
            .filter(|&(a, b)| a < b)
            .map(|(a, b)| (a, b - a))
            .take(max)
            .collect())
    }

    async fn set_times(&self, atime: Option<Timespec>, mtime: Option<Timespec>) -> VfsResult<()> {
        let mut fs = self.enter("utimens", false, false)?;
        let t = fs.now();
        let n = fs.node_mut(self.ino)?;
        if let Some(a) = atime {
            n.atime = a;
        }
        if let Some(m) = mtime {
            n.mtime = m;
        }
        n.ctime = t;
        Ok(())
    }

    async fn set_dos(&self, dos_attributes: Option<u32>, btime: Option<Timespec>) -> VfsResult<()> {
        let mut fs = self.enter("setxattr", false, false)?;
        if !fs.xattrs {
            return Ok(());
        }
        let t = fs.now();
        let n = fs.node_mut(self.ino)?;
        let attrs = dos_attributes.or(n.dos.map(|d| d.0)).unwrap_or(0);
        let bt = btime.or(n.dos.and_then(|d| d.1));
        n.dos = Some((attrs, bt));
        n.ctime = t;
        Ok(())
    }

    async fn set_mode(&self, mode: u32) -> VfsResult<()> {
        let mut fs = self.enter("chmod", false, false)?;
        let t = fs.now();
        let n = fs.node_mut(self.ino)?;
        n.mode = mode & 0o7777;
        n.ctime = t;
        Ok(())
    }

    async fn read_dir_names(&self) -> VfsResult<Vec<String>> {
        let fs = self.enter("readdir", false, false)?;
        if !self.is_dir {
            return Err(err(libc::ENOTDIR, "readdir"));
        }
        Ok(fs.node(self.ino)?.children.keys().cloned().collect())
    }

    async fn read_dir(&self) -> VfsResult<Vec<DirEntry>> {
        let fs = self.enter("readdir", false, false)?;
        if !self.is_dir {
            return Err(err(libc::ENOTDIR, "readdir"));
        }
        let node = fs.node(self.ino)?;
        node.children
            .iter()
            .map(|(name, &ino)| {
                Ok(DirEntry {
                    name: name.clone(),
                    attr: fs.attr(ino)?,
                })
            })
            .collect()
    }

    async fn close(self) -> VfsResult<()> {
        // The inode is released by Drop whether or not an injected fault fails the close.
        self.fs.borrow_mut().enter("close")
    }

    async fn security_blob(&self) -> VfsResult<Option<Vec<u8>>> {
        let fs = self.enter("getxattr", false, false)?;
        if !fs.xattrs {
            return Ok(None);
        }
        Ok(fs.node(self.ino)?.sd.clone())
    }

    async fn set_security_blob(&self, blob: Vec<u8>) -> VfsResult<()> {
        let mut fs = self.enter("setxattr", false, false)?;
        if !fs.xattrs {
            return Err(err(libc::EOPNOTSUPP, "setxattr"));
        }
        if blob.len() > crate::MAX_SECURITY_BLOB {
            return Err(err(libc::E2BIG, "setxattr"));
        }
        let t = fs.now();
        let n = fs.node_mut(self.ino)?;
        n.sd = Some(blob);
        n.ctime = t;
        Ok(())
    }

    async fn eas(&self) -> VfsResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let fs = self.enter("listxattr", false, false)?;
        if !fs.xattrs {
            return Ok(Vec::new());
        }
        Ok(fs
            .node(self.ino)?
            .eas
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn set_ea(&self, name: Vec<u8>, value: Vec<u8>) -> VfsResult<()> {
        let mut fs = self.enter("setxattr", false, false)?;
        if !fs.xattrs {
            return Err(err(libc::EOPNOTSUPP, "setxattr"));
        }
        if !crate::ea_name_ok(&name) {
            return Err(err(libc::EINVAL, "setxattr"));
        }
        if value.len() > crate::MAX_EA_VALUE {
            return Err(err(libc::E2BIG, "setxattr"));
        }
        let t = fs.now();
        let n = fs.node_mut(self.ino)?;
        if value.is_empty() {
            n.eas.remove(&name);
        } else {
            n.eas.insert(name, value);
        }
        n.ctime = t;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fire_after_n_calls_and_only_for_their_op() {
        let mut fs = MemFs::new();
        fs.faults.push(Fault {
            op: Some("write"),
            remaining: 2,
            errno: libc::ENOSPC,
        });
        assert!(fs.enter("read").is_ok());
        assert!(fs.enter("write").is_ok());
        assert!(fs.enter("write").is_ok());
        assert_eq!(fs.enter("write"), Err(err(libc::ENOSPC, "write")));
        assert!(fs.enter("read").is_ok());
        assert_eq!(fs.calls, 5);
    }

    #[test]
    fn range_sets_merge_and_split() {
        let mut set = Vec::new();
        ranges_add(&mut set, 8, 12);
        ranges_add(&mut set, 0, 4);
        ranges_add(&mut set, 20, 24);
        assert_eq!(set, [(0, 4), (8, 12), (20, 24)]);
        // Touching ranges merge; one spanning several swallows them.
        ranges_add(&mut set, 4, 8);
        assert_eq!(set, [(0, 12), (20, 24)]);
        ranges_add(&mut set, 10, 30);
        assert_eq!(set, [(0, 30)]);
        ranges_add(&mut set, 5, 5);
        assert_eq!(set, [(0, 30)]);
        // Removing splits, trims and drops.
        ranges_remove(&mut set, 10, 20);
        assert_eq!(set, [(0, 10), (20, 30)]);
        ranges_remove(&mut set, 5, 25);
        assert_eq!(set, [(0, 5), (25, 30)]);
        ranges_remove(&mut set, 0, u64::MAX);
        assert!(set.is_empty());
        assert_eq!((round_down(4097), round_up(4097)), (4096, 8192));
    }

    #[test]
    fn charge_refuses_big_files_and_full_disks() {
        let mut fs = MemFs::new();
        fs.max_file = 100;
        fs.capacity = 150;
        assert_eq!(fs.charge(0, 101, "write"), Err(err(libc::EFBIG, "write")));
        assert!(fs.charge(0, 100, "write").is_ok());
        assert_eq!(fs.charge(0, 60, "write"), Err(err(libc::ENOSPC, "write")));
        assert!(fs.charge(100, 10, "write").is_ok());
        assert_eq!(fs.used, 10);
    }
}
