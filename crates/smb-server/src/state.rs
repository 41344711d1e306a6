//! Per-connection tables: tree connects, opens and pending (async) requests.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use smb_vfs::{DirEntry, RelPath, Vfs};
use smb_wire::FileId;

use crate::catalog::Share;
use crate::conn::PendingMap;
use crate::files::FileKey;

/// A tree connect.
pub(crate) struct Tree {
    pub session_id: u64,
    /// None for IPC$.
    pub share: Option<Arc<Share>>,
    pub writable: bool,
    pub encrypt: bool,
}

/// A directory enumeration in progress (QUERY_DIRECTORY keeps its place across calls).
pub(crate) struct DirCursor {
    pub pattern: String,
    pub entries: Vec<DirEntry>,
    /// Next entry to return; "." and ".." come first as positions 0 and 1.
    pub pos: usize,
    /// The directory's (mtime, ctime) when `entries` was read: when it has changed, entries
    /// deleted since are dropped before more are returned.
    pub stamp: (smb_vfs::Timespec, smb_vfs::Timespec),
}

/// What an open refers to.
pub(crate) enum OpenKind<V: Vfs> {
    File(Rc<V::Handle>),
    Pipe(Rc<std::cell::RefCell<smb_rpc::Pipe>>),
}

/// One open (one FileId).
pub(crate) struct Open<V: Vfs> {
    pub file_id: FileId,
    pub session_id: u64,
    pub tree_id: u32,
    pub kind: OpenKind<V>,
    pub share: Option<Arc<Share>>,
    /// Path from the share root, in on-disk spelling (updated by rename).
    pub path: RelPath,
    pub key: FileKey,
    pub is_dir: bool,
    /// Granted access mask.
    pub access: u32,
    pub create_options: u32,
    pub delete_on_close: bool,
    pub dir: Option<DirCursor>,
    /// FilePositionInformation (kept for the client; reads/writes carry offsets).
    pub position: u64,
    pub mode: u32,
    /// A CHANGE_NOTIFY waiting on this open.
    pub notify: Option<u64>,
}

/// A request answered with STATUS_PENDING whose final reply is still owed.
pub(crate) struct Pending {
    pub session_id: u64,
    pub message_id: u64,
    pub file_id: Option<FileId>,
}

pub(crate) struct ConnState<V: Vfs> {
    pub trees: HashMap<u32, Tree>,
    pub opens: HashMap<u64, Open<V>>,
    pub pending: PendingMap,
    /// Requests waiting inside their handler after an interim response (an open waiting
    /// for an oplock break), by async id: woken when a CANCEL answers them.
    pub cancel_hooks: HashMap<u64, Rc<tokio::sync::Notify>>,
    next_tree: u32,
}

impl<V: Vfs> ConnState<V> {
    pub fn new() -> Self {
        Self {
            trees: HashMap::new(),
            opens: HashMap::new(),
            pending: HashMap::new(),
            cancel_hooks: HashMap::new(),
            next_tree: 1,
        }
    }

    pub fn add_tree(&mut self, t: Tree) -> u32 {
        loop {
            let id = self.next_tree;
            self.next_tree = self.next_tree.wrapping_add(1).max(1);
            if id != u32::MAX && !self.trees.contains_key(&id) {
                self.trees.insert(id, t);
                return id;
            }
        }
    }

    pub fn forget_pending(&mut self, async_id: u64) {
        if let Some(hook) = self.cancel_hooks.remove(&async_id) {
            hook.notify_one();
        }
        if let Some(p) = self.pending.remove(&async_id) {
            if let Some(fid) = p.file_id {
                if let Some(o) = self.opens.get_mut(&fid.volatile) {
                    if o.notify == Some(async_id) {
                        o.notify = None;
                    }
                }
            }
        }
    }
}
