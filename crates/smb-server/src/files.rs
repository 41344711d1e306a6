//! State shared by every open of one file across all connections and threads: share modes
//! (MS-FSA 2.1.5.1.2) and delete-pending. Keyed by (device, inode).

use std::collections::HashMap;
use std::sync::Mutex;

use smb_wire::fscc::access;
use smb_wire::NtStatus;

pub const SHARE_READ: u32 = 0x1;
pub const SHARE_WRITE: u32 = 0x2;
pub const SHARE_DELETE: u32 = 0x4;

/// The identity of a file on the server.
pub type FileKey = (u64, u64);

#[derive(Debug, Clone, Copy)]
struct OpenMode {
    uid: u64,
    access: u32,
    share: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteLock {
    uid: u64,
    offset: u64,
    length: u64,
    exclusive: bool,
}

impl ByteLock {
    fn overlaps(&self, offset: u64, length: u64) -> bool {
        // Zero-length ranges lock nothing.
        length != 0
            && self.length != 0
            && offset < self.offset.saturating_add(self.length)
            && self.offset < offset.saturating_add(length)
    }
}

#[derive(Debug, Default)]
struct Shared {
    opens: Vec<OpenMode>,
    delete_pending: bool,
    locks: Vec<ByteLock>,
}

/// The table. Cheap operations under one mutex; never held across I/O.
#[derive(Debug, Default)]
pub struct FileTable {
    inner: Mutex<HashMap<FileKey, Shared>>,
}

const DATA_ACCESS: u32 = access::FILE_READ_DATA
    | access::FILE_WRITE_DATA
    | access::FILE_APPEND_DATA
    | access::FILE_EXECUTE
    | access::DELETE;

fn conflicts(existing: &OpenMode, access_mask: u32, share: u32) -> bool {
    let reads = |a: u32| a & (access::FILE_READ_DATA | access::FILE_EXECUTE) != 0;
    let writes = |a: u32| a & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) != 0;
    let deletes = |a: u32| a & access::DELETE != 0;
    if existing.access & DATA_ACCESS == 0 {
        return false;
    }
    (reads(access_mask) && existing.share & SHARE_READ == 0)
        || (writes(access_mask) && existing.share & SHARE_WRITE == 0)
        || (deletes(access_mask) && existing.share & SHARE_DELETE == 0)
        || (reads(existing.access) && share & SHARE_READ == 0)
        || (writes(existing.access) && share & SHARE_WRITE == 0)
        || (deletes(existing.access) && share & SHARE_DELETE == 0)
}

impl FileTable {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<FileKey, Shared>> {
        // A poisoned lock only means another thread panicked mid-update of plain data; the
        // table stays usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register an open, or refuse it with SHARING_VIOLATION / DELETE_PENDING.
    pub fn open(
        &self,
        key: FileKey,
        uid: u64,
        access_mask: u32,
        share: u32,
    ) -> Result<(), NtStatus> {
        let mut t = self.table();
        let s = t.entry(key).or_default();
        if s.delete_pending {
            return Err(NtStatus::DELETE_PENDING);
        }
        if access_mask & DATA_ACCESS != 0
            && s.opens.iter().any(|o| conflicts(o, access_mask, share))
        {
            return Err(NtStatus::SHARING_VIOLATION);
        }
        s.opens.push(OpenMode {
            uid,
            access: access_mask,
            share,
        });
        Ok(())
    }

    /// Whether any open other than `uid` exists for this file.
    pub fn others_open(&self, key: FileKey, uid: u64) -> bool {
        self.table()
            .get(&key)
            .is_some_and(|s| s.opens.iter().any(|o| o.uid != uid))
    }

    /// Whether the file may be renamed/deleted by `uid` given the other opens' share modes.
    pub fn may_delete(&self, key: FileKey, uid: u64) -> bool {
        self.table().get(&key).is_none_or(|s| {
            s.opens
                .iter()
                .filter(|o| o.uid != uid)
                .all(|o| o.share & SHARE_DELETE != 0)
        })
    }

    pub fn set_delete_pending(&self, key: FileKey, on: bool) {
        if let Some(s) = self.table().get_mut(&key) {
            s.delete_pending = on;
        }
    }

    pub fn delete_pending(&self, key: FileKey) -> bool {
        self.table().get(&key).is_some_and(|s| s.delete_pending)
    }

    /// Remove an open; returns true when it was the last one and the file is
    /// delete-pending (the caller then deletes it).
    pub fn close(&self, key: FileKey, uid: u64) -> bool {
        let mut t = self.table();
        let Some(s) = t.get_mut(&key) else {
            return false;
        };
        s.opens.retain(|o| o.uid != uid);
        s.locks.retain(|l| l.uid != uid);
        if s.opens.is_empty() {
            let pending = s.delete_pending;
            t.remove(&key);
            return pending;
        }
        false
    }

    /// Take a byte-range lock for open `uid` (MS-FSA 2.1.5.7): an exclusive lock conflicts
    /// with every overlapping lock, a shared one with overlapping exclusive locks.
    pub fn lock(
        &self,
        key: FileKey,
        uid: u64,
        offset: u64,
        length: u64,
        exclusive: bool,
    ) -> Result<(), NtStatus> {
        if length != 0 && offset.checked_add(length - 1).is_none() {
            return Err(NtStatus::INVALID_LOCK_RANGE);
        }
        let mut t = self.table();
        let s = t.entry(key).or_default();
        let conflict = s
            .locks
            .iter()
            .any(|l| l.overlaps(offset, length) && (exclusive || l.exclusive));
        if conflict {
            return Err(NtStatus::LOCK_NOT_GRANTED);
        }
        s.locks.push(ByteLock {
            uid,
            offset,
            length,
            exclusive,
        });
        Ok(())
    }

    /// Release exactly the range `uid` locked.
    pub fn unlock(&self, key: FileKey, uid: u64, offset: u64, length: u64) -> Result<(), NtStatus> {
        let mut t = self.table();
        let s = t.get_mut(&key).ok_or(NtStatus::RANGE_NOT_LOCKED)?;
        let pos = s
            .locks
            .iter()
            .position(|l| l.uid == uid && l.offset == offset && l.length == length)
            .ok_or(NtStatus::RANGE_NOT_LOCKED)?;
        s.locks.remove(pos);
        Ok(())
    }

    /// Whether I/O by `uid` on a range is blocked by locks: reads by other opens' exclusive
    /// locks, writes by any other open's lock and by the opener's own shared locks.
    pub fn io_conflict(
        &self,
        key: FileKey,
        uid: u64,
        offset: u64,
        length: u64,
        write: bool,
    ) -> bool {
        let t = self.table();
        let Some(s) = t.get(&key) else { return false };
        s.locks.iter().any(|l| {
            l.overlaps(offset, length)
                && if write {
                    l.uid != uid || !l.exclusive
                } else {
                    l.uid != uid && l.exclusive
                }
        })
    }

    /// The file moved to a new key (never happens for renames on one filesystem; kept for
    /// completeness of the API).
    pub fn count(&self) -> usize {
        self.table().values().map(|s| s.opens.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: u32 = access::FILE_READ_DATA;
    const W: u32 = access::FILE_WRITE_DATA;

    #[test]
    fn readers_share_with_readers_but_not_with_a_writer_who_denies_them() {
        let t = FileTable::default();
        t.open((1, 1), 1, R, SHARE_READ).unwrap();
        t.open((1, 1), 2, R, SHARE_READ | SHARE_WRITE).unwrap();
        assert_eq!(
            t.open((1, 1), 3, W, SHARE_READ | SHARE_WRITE),
            Err(NtStatus::SHARING_VIOLATION)
        );
        // An attribute-only open never conflicts.
        t.open((1, 1), 4, access::FILE_READ_ATTRIBUTES, 0).unwrap();
    }

    #[test]
    fn byte_range_locks_conflict_as_windows_does() {
        let t = FileTable::default();
        let k = (9, 9);
        t.lock(k, 1, 0, 100, false).unwrap();
        t.lock(k, 2, 50, 100, false).unwrap();
        assert_eq!(t.lock(k, 3, 90, 1, true), Err(NtStatus::LOCK_NOT_GRANTED));
        t.lock(k, 3, 150, 10, true).unwrap();
        assert!(t.io_conflict(k, 1, 155, 1, false));
        assert!(!t.io_conflict(k, 3, 155, 1, true));
        assert!(t.io_conflict(k, 1, 10, 1, true));
        assert_eq!(t.unlock(k, 1, 0, 99), Err(NtStatus::RANGE_NOT_LOCKED));
        t.unlock(k, 1, 0, 100).unwrap();
        assert_eq!(
            t.lock(k, 1, u64::MAX, 2, true),
            Err(NtStatus::INVALID_LOCK_RANGE)
        );
        // Zero-length locks never conflict.
        t.lock(k, 4, 155, 0, true).unwrap();
    }

    #[test]
    fn last_close_of_a_delete_pending_file_says_delete() {
        let t = FileTable::default();
        t.open((1, 2), 1, R | access::DELETE, SHARE_READ | SHARE_DELETE)
            .unwrap();
        t.open((1, 2), 2, R, SHARE_READ | SHARE_DELETE).unwrap();
        t.set_delete_pending((1, 2), true);
        assert_eq!(t.open((1, 2), 3, R, 7), Err(NtStatus::DELETE_PENDING));
        assert!(!t.close((1, 2), 1));
        assert!(t.close((1, 2), 2));
        assert_eq!(t.count(), 0);
    }
}
