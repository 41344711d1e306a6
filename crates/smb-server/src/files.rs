//! State shared by every open of one file across all connections and threads: share modes
//! (MS-FSA 2.1.5.1.2), delete-pending, byte-range locks, oplocks and leases (MS-FSA 2.1.4.12,
//! MS-SMB2 3.3.4.6/3.3.4.7/3.3.5.22). Keyed by (device, inode); leases by (ClientGuid,
//! LeaseKey).
//!
//! The table decides; it never sends. Operations that break an oplock or a lease append a
//! [`Delivery`] (which connection, which notification) to an output list that the caller
//! hands to [`crate::server::Server::deliver`]. A CREATE that must wait for a break gets a
//! [`Wait`] (a [`Notify`] woken on every state change, a generation to re-check, and the
//! break deadline) and calls again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smb_wire::create::{lease, oplock};
use smb_wire::fscc::access;
use smb_wire::misc::{LeaseBreakNotification, LEASE_BREAK_ACK_REQUIRED};
use smb_wire::{FileId, NtStatus};
use tokio::sync::Notify;

pub const SHARE_READ: u32 = 0x1;
pub const SHARE_WRITE: u32 = 0x2;
pub const SHARE_DELETE: u32 = 0x4;

/// The identity of a file on the server.
pub type FileKey = (u64, u64);

/// Where a break notification for an open goes: its connection, session and handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    /// Connection id (the key of its mailbox in the server).
    pub conn: u64,
    pub session_id: u64,
    pub file_id: FileId,
    /// The tree requires encryption.
    pub encrypt: bool,
}

/// An unsolicited message for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// OPLOCK_BREAK notification: break the open's oplock to `level`.
    OplockBreak {
        session_id: u64,
        encrypt: bool,
        file_id: FileId,
        level: u8,
    },
    /// LEASE_BREAK notification.
    LeaseBreak {
        session_id: u64,
        encrypt: bool,
        body: LeaseBreakNotification,
    },
}

/// A notice addressed to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub conn: u64,
    pub notice: Notice,
}

/// A lease's identity: (ClientGuid, LeaseKey).
pub type LeaseId = ([u8; 16], [u8; 16]);

/// What a CREATE asks for in oplock terms.
#[derive(Debug, Clone)]
pub struct OpenReq {
    pub uid: u64,
    pub access: u32,
    pub share: u32,
    /// SUPERSEDE / OVERWRITE / OVERWRITE_IF on an existing file.
    pub overwrite: bool,
    /// FILE_DELETE_ON_CLOSE: the opener means to delete the file, so handle caching of
    /// other leases is broken (the holders may close their cached handles).
    pub delete_on_close: bool,
    pub is_dir: bool,
    /// RequestedOplockLevel.
    pub oplock: u8,
    /// The RqLs context, when the level is LEASE and the dialect has leases.
    pub lease: Option<LeaseReq>,
    pub holder: Holder,
}

/// A lease request (RqLs v1 or v2).
#[derive(Debug, Clone, Copy)]
pub struct LeaseReq {
    pub id: LeaseId,
    pub state: u32,
    /// v2: ParentLeaseKey and Epoch.
    pub v2: Option<(Option<[u8; 16]>, u16)>,
}

/// What an open was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    /// OplockLevel for the CREATE response (LEASE when a lease context is answered).
    pub oplock: u8,
    pub lease: Option<LeaseGranted>,
}

/// The RqLs response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseGranted {
    pub key: [u8; 16],
    pub state: u32,
    pub breaking: bool,
    /// v2: ParentLeaseKey and the lease's epoch.
    pub v2: Option<(Option<[u8; 16]>, u16)>,
}

/// A CREATE must wait for a break before it can proceed.
#[derive(Debug, Clone)]
pub struct Wait {
    pub notify: Arc<Notify>,
    /// The file's state generation when the wait was decided: wait only while it is unchanged.
    pub generation: u64,
    /// When the earliest outstanding break times out.
    pub deadline: Instant,
}

/// See [`FileTable::cleanup`].
#[derive(Debug)]
pub struct Cleanup {
    /// Connections with an open of the file, each once.
    pub holders: Vec<u64>,
    /// Delete-pending with no open left: its last close is removing it.
    pub deleting: bool,
    pub notify: Arc<Notify>,
    /// Wait only while the file's generation is still this.
    pub generation: u64,
}

#[derive(Debug, Clone, Copy)]
struct Breaking {
    to: u8,
    deadline: Instant,
}

#[derive(Debug, Clone, Copy)]
struct OpenMode {
    uid: u64,
    access: u32,
    share: u32,
    /// Oplock level held (LEASE: see `lease`).
    oplock: u8,
    /// An oplock break notification was sent and awaits acknowledgment.
    breaking: Option<Breaking>,
    lease: Option<LeaseId>,
    holder: Holder,
}

#[derive(Debug, Clone, Copy)]
struct LeaseBreaking {
    to: u32,
    deadline: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Lease {
    file: FileKey,
    state: u32,
    breaking: Option<LeaseBreaking>,
    epoch: u16,
    v2: bool,
    parent: Option<[u8; 16]>,
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
    /// Bumped on every oplock/lease state change that a waiting CREATE cares about.
    generation: u64,
    /// Woken with the generation bump.
    changed: Arc<Notify>,
}

impl Shared {
    fn bump(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.changed.notify_waiters();
    }
}

#[derive(Debug, Default)]
struct Inner {
    files: HashMap<FileKey, Shared>,
    leases: HashMap<LeaseId, Lease>,
}

/// The table. Cheap operations under one mutex; never held across I/O.
#[derive(Debug, Default)]
pub struct FileTable {
    inner: Mutex<Inner>,
}

/// An open with only these access bits is a "stat open": it breaks no oplock, and gets
/// one only when it is the file's sole open.
const STAT_ACCESS: u32 =
    access::FILE_READ_ATTRIBUTES | access::FILE_WRITE_ATTRIBUTES | access::SYNCHRONIZE;

fn stat_open(access_mask: u32) -> bool {
    access_mask & !STAT_ACCESS == 0
}

/// For leases, reading the security descriptor does not count either.
fn lease_stat_open(access_mask: u32) -> bool {
    access_mask & !(STAT_ACCESS | access::READ_CONTROL) == 0
}

const R: u32 = lease::READ_CACHING;
const H: u32 = lease::HANDLE_CACHING;
const W: u32 = lease::WRITE_CACHING;

/// A lease state a client may be granted: none, R, RH, RW or RWH (Windows grants nothing
/// for H or W without R).
fn valid_lease_state(state: u32) -> u32 {
    let s = state & (R | H | W);
    if s & R == 0 {
        0
    } else {
        s
    }
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
    fn table(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked mid-update of plain data; the
        // table stays usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register an open with no oplock, or refuse it with SHARING_VIOLATION / DELETE_PENDING.
    #[cfg(test)]
    pub fn open(
        &self,
        key: FileKey,
        uid: u64,
        access_mask: u32,
        share: u32,
    ) -> Result<(), NtStatus> {
        let req = OpenReq {
            uid,
            access: access_mask,
            share,
            overwrite: false,
            delete_on_close: false,
            is_dir: false,
            oplock: oplock::NONE,
            lease: None,
            holder: Holder {
                conn: 0,
                session_id: 0,
                file_id: FileId {
                    persistent: uid,
                    volatile: uid,
                },
                encrypt: false,
            },
        };
        self.register(key, &req).map(|_| ())
    }

    /// Before opening an existing file: break the oplocks and leases of other opens that
    /// this open conflicts with (MS-FSA 2.1.4.12 for OPEN, MS-SMB2 3.3.5.9). Breaks that need
    /// no acknowledgment (level II and read leases) take effect at once; for the others a
    /// [`Wait`] is returned: wait on it (or until its deadline, then [`Self::expire_breaks`])
    /// and call again. Ok(None): nothing to wait for, go on and [`Self::register`].
    pub fn break_for_open(
        &self,
        key: FileKey,
        req: &OpenReq,
        now: Instant,
        timeout: Duration,
        out: &mut Vec<Delivery>,
    ) -> Result<Option<Wait>, NtStatus> {
        let mut t = self.table();
        let Inner { files, leases } = &mut *t;
        if let Some(l) = req.lease.as_ref().and_then(|l| leases.get(&l.id)) {
            if l.file != key {
                // One lease key names one file (3.3.5.9.8).
                return Err(NtStatus::INVALID_PARAMETER);
            }
        }
        let Some(s) = files.get_mut(&key) else {
            return Ok(None);
        };
        if s.delete_pending {
            // Refused before any break (the open cannot succeed anyway).
            return Err(NtStatus::DELETE_PENDING);
        }
        if stat_open(req.access) {
            return Ok(None);
        }
        let share_conflict = req.access & DATA_ACCESS != 0
            && s.opens
                .iter()
                .any(|o| o.uid != req.uid && conflicts(o, req.access, req.share));
        let mine = req.lease.map(|l| l.id);
        let mut deadline: Option<Instant> = None;
        let mut changed = false;
        let wait_until = |d: Instant, dl: &mut Option<Instant>| {
            *dl = Some(dl.map_or(d, |x| x.min(d)));
        };
        for o in s.opens.iter_mut().filter(|o| o.uid != req.uid) {
            if o.lease.is_some() {
                continue;
            }
            if let Some(b) = o.breaking {
                wait_until(b.deadline, &mut deadline);
                continue;
            }
            match o.oplock {
                oplock::BATCH | oplock::EXCLUSIVE => {
                    // A sharing violation is only worth a break when the holder may be
                    // caching the handle (batch): it can close it and let this open in.
                    if share_conflict && o.oplock != oplock::BATCH {
                        continue;
                    }
                    let to = if req.overwrite {
                        oplock::NONE
                    } else {
                        oplock::LEVEL_II
                    };
                    let d = now + timeout;
                    o.breaking = Some(Breaking { to, deadline: d });
                    wait_until(d, &mut deadline);
                    out.push(oplock_break(&o.holder, to));
                }
                oplock::LEVEL_II if req.overwrite => {
                    o.oplock = oplock::NONE;
                    changed = true;
                    out.push(oplock_break(&o.holder, oplock::NONE));
                }
                _ => {}
            }
        }
        let mut seen: Vec<LeaseId> = Vec::new();
        let skip_leases = lease_stat_open(req.access);
        for o in s.opens.iter().filter(|o| o.uid != req.uid && !skip_leases) {
            let Some(id) = o.lease else { continue };
            if Some(id) == mine || seen.contains(&id) {
                continue;
            }
            seen.push(id);
            let Some(l) = leases.get_mut(&id) else {
                continue;
            };
            if let Some(b) = l.breaking {
                wait_until(b.deadline, &mut deadline);
                continue;
            }
            // A sharing violation only asks the holder to give up its cached handle (it
            // keeps caching writes; the open fails anyway unless the handle is closed).
            // Otherwise another opener ends write caching, an overwrite ends all of it,
            // and a delete-on-close opener also asks for the cached handles.
            let to = if share_conflict {
                l.state & !H
            } else if req.overwrite {
                0
            } else if req.delete_on_close {
                l.state & !(W | H)
            } else {
                l.state & !W
            };
            if to == l.state {
                continue;
            }
            let ack = l.state & (W | H) != 0;
            out.push(lease_break(&o.holder, id, l, to, ack));
            if ack {
                let d = now + timeout;
                l.breaking = Some(LeaseBreaking { to, deadline: d });
                wait_until(d, &mut deadline);
            } else {
                l.state = to;
                changed = true;
            }
        }
        if changed {
            s.bump();
        }
        Ok(deadline.map(|deadline| Wait {
            notify: s.changed.clone(),
            generation: s.generation,
            deadline,
        }))
    }

    /// The file's state generation (see [`Wait`]).
    pub fn generation(&self, key: FileKey) -> Option<u64> {
        self.table().files.get(&key).map(|s| s.generation)
    }

    /// Breaks whose deadline passed complete without the holder: it loses its oplock or
    /// lease entirely (MS-SMB2 3.3.6.1, 3.3.6.5), whatever the break offered.
    pub fn expire_breaks(&self, key: FileKey, now: Instant) {
        let mut t = self.table();
        let Inner { files, leases } = &mut *t;
        let Some(s) = files.get_mut(&key) else {
            return;
        };
        let mut changed = false;
        for o in s.opens.iter_mut() {
            if o.breaking.is_some_and(|b| b.deadline <= now) {
                o.oplock = oplock::NONE;
                o.breaking = None;
                changed = true;
            }
            if let Some(l) = o.lease.and_then(|id| leases.get_mut(&id)) {
                if l.breaking.is_some_and(|b| b.deadline <= now) {
                    l.state = 0;
                    l.breaking = None;
                    changed = true;
                }
            }
        }
        if changed {
            tracing::debug!(?key, "oplock break timed out");
            s.bump();
        }
    }

    /// Register an open after the breaks it caused are resolved: share modes and
    /// delete-pending are checked (SHARING_VIOLATION / DELETE_PENDING), then the oplock or
    /// lease is granted (MS-SMB2 3.3.5.9, 3.3.5.9.8, 3.3.5.9.11).
    pub fn register(&self, key: FileKey, req: &OpenReq) -> Result<Granted, NtStatus> {
        let mut t = self.table();
        let Inner { files, leases } = &mut *t;
        if let Some(l) = req.lease.as_ref().and_then(|l| leases.get(&l.id)) {
            if l.file != key {
                return Err(NtStatus::INVALID_PARAMETER);
            }
        }
        let s = files.entry(key).or_default();
        if s.delete_pending {
            return Err(NtStatus::DELETE_PENDING);
        }
        if req.access & DATA_ACCESS != 0
            && s.opens.iter().any(|o| conflicts(o, req.access, req.share))
        {
            return Err(NtStatus::SHARING_VIOLATION);
        }
        let mine = req.lease.map(|l| l.id);
        // Stat opens without an oplock do not stand in the way of exclusive caching.
        let others: Vec<&OpenMode> = s
            .opens
            .iter()
            .filter(|o| o.uid != req.uid)
            .filter(|o| !(stat_open(o.access) && o.oplock == oplock::NONE && o.lease.is_none()))
            .collect();
        // Another open caching exclusively (batch/exclusive oplock, or a write lease of
        // another key) rules out shared caching for this one.
        let exclusive_elsewhere = others.iter().any(|o| match o.lease {
            Some(id) if Some(id) == mine => false,
            Some(id) => leases.get(&id).is_some_and(|l| l.state & W != 0),
            None => matches!(o.oplock, oplock::BATCH | oplock::EXCLUSIVE),
        });
        let foreign = others.iter().any(|o| o.lease.is_none() || o.lease != mine);
        // A level II oplock of another open rules out handle caching for a lease, and a
        // handle-caching lease rules out a level II oplock (as Windows grants them).
        let oplock_elsewhere = others
            .iter()
            .any(|o| o.lease.is_none() && o.oplock != oplock::NONE);
        let handle_lease_elsewhere = others.iter().any(|o| {
            o.lease
                .filter(|id| Some(*id) != mine)
                .and_then(|id| leases.get(&id))
                .is_some_and(|l| l.state & H != 0)
        });
        let may_cache = !req.is_dir && (others.is_empty() || !stat_open(req.access));
        let mut granted = Granted {
            oplock: oplock::NONE,
            lease: None,
        };
        let mut lease_ref = None;
        match (req.oplock, req.lease) {
            (oplock::LEASE, Some(lr)) if !req.is_dir => {
                let want = valid_lease_state(lr.state);
                let mut grantable = if may_cache && !exclusive_elsewhere {
                    R | H | W
                } else {
                    0
                };
                if foreign {
                    grantable &= !W;
                }
                if oplock_elsewhere {
                    grantable &= !H;
                }
                let fresh = !leases.contains_key(&lr.id);
                let l = leases.entry(lr.id).or_insert_with(|| Lease {
                    file: key,
                    state: 0,
                    breaking: None,
                    epoch: lr.v2.map_or(0, |(_, e)| e),
                    v2: lr.v2.is_some(),
                    parent: lr.v2.and_then(|(p, _)| p),
                });
                // A new lease gets what can be shared of the request. An existing one is
                // only ever upgraded, to exactly the state asked for, when that is a strict
                // superset that the other opens allow; never downgraded by a CREATE.
                let new = if fresh {
                    valid_lease_state(want & grantable)
                } else if l.breaking.is_none()
                    && want & !l.state != 0
                    && want & l.state == l.state
                    && want & !grantable == 0
                {
                    want
                } else {
                    l.state
                };
                if new != l.state {
                    l.state = new;
                    l.epoch = l.epoch.wrapping_add(1);
                }
                granted.oplock = oplock::LEASE;
                granted.lease = Some(LeaseGranted {
                    key: lr.id.1,
                    state: l.state,
                    breaking: l.breaking.is_some(),
                    v2: l.v2.then_some((l.parent, l.epoch)),
                });
                lease_ref = Some(lr.id);
            }
            (oplock::BATCH | oplock::EXCLUSIVE, _) if may_cache => {
                granted.oplock = if others.is_empty() {
                    req.oplock
                } else if !exclusive_elsewhere && !handle_lease_elsewhere && s.locks.is_empty() {
                    oplock::LEVEL_II
                } else {
                    oplock::NONE
                };
            }
            (oplock::LEVEL_II, _)
                if may_cache
                    && !exclusive_elsewhere
                    && !handle_lease_elsewhere
                    && s.locks.is_empty() =>
            {
                granted.oplock = oplock::LEVEL_II;
            }
            _ => {}
        }
        s.opens.push(OpenMode {
            uid: req.uid,
            access: req.access,
            share: req.share,
            oplock: if lease_ref.is_some() {
                oplock::NONE
            } else {
                granted.oplock
            },
            breaking: None,
            lease: lease_ref,
            holder: req.holder,
        });
        Ok(granted)
    }

    /// OPLOCK_BREAK acknowledgment of an oplock (MS-SMB2 3.3.5.22.1): the level now held.
    pub fn ack_oplock(&self, key: FileKey, uid: u64, level: u8) -> Result<u8, NtStatus> {
        let mut t = self.table();
        let s = t.files.get_mut(&key).ok_or(NtStatus::FILE_CLOSED)?;
        let o = s
            .opens
            .iter_mut()
            .find(|o| o.uid == uid)
            .ok_or(NtStatus::FILE_CLOSED)?;
        let Some(b) = o.breaking else {
            return Err(NtStatus::INVALID_OPLOCK_PROTOCOL);
        };
        let result = match level {
            oplock::LEASE => Err(NtStatus::INVALID_PARAMETER),
            oplock::NONE => Ok(oplock::NONE),
            // Level II was offered: taken; none was offered: none it is.
            oplock::LEVEL_II => Ok(b.to),
            _ => Err(NtStatus::INVALID_OPLOCK_PROTOCOL),
        };
        // Whatever the answer, the break is over (an invalid ack leaves no oplock).
        o.oplock = *result.as_ref().unwrap_or(&oplock::NONE);
        o.breaking = None;
        s.bump();
        result
    }

    /// LEASE_BREAK acknowledgment (MS-SMB2 3.3.5.22.2): the state now held.
    pub fn ack_lease(&self, id: LeaseId, state: u32) -> Result<u32, NtStatus> {
        let mut t = self.table();
        let Inner { files, leases } = &mut *t;
        let l = leases.get_mut(&id).ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
        let Some(b) = l.breaking else {
            return Err(NtStatus::UNSUCCESSFUL);
        };
        if state & !b.to != 0 {
            // More than the break allows: refused, and the break stays outstanding.
            return Err(NtStatus::REQUEST_NOT_ACCEPTED);
        }
        l.state = state;
        l.breaking = None;
        if let Some(s) = files.get_mut(&l.file) {
            s.bump();
        }
        Ok(state)
    }

    /// A write, size change or byte-range lock through `uid`: every level II oplock (the
    /// writer's own included) and every read lease of another key breaks to none without
    /// waiting for anyone.
    pub fn break_shared(
        &self,
        key: FileKey,
        uid: u64,
        now: Instant,
        timeout: Duration,
        out: &mut Vec<Delivery>,
    ) {
        let mut t = self.table();
        let Inner { files, leases } = &mut *t;
        let Some(s) = files.get_mut(&key) else {
            return;
        };
        let mine = s.opens.iter().find(|o| o.uid == uid).and_then(|o| o.lease);
        let mut changed = false;
        let mut seen: Vec<LeaseId> = Vec::new();
        for o in s.opens.iter_mut() {
            // The writer's own level II breaks too (Windows sends it the notification).
            if o.oplock == oplock::LEVEL_II && o.breaking.is_none() {
                o.oplock = oplock::NONE;
                changed = true;
                out.push(oplock_break(&o.holder, oplock::NONE));
            }
            let Some(id) = o.lease else { continue };
            if Some(id) == mine || seen.contains(&id) {
                continue;
            }
            seen.push(id);
            let Some(l) = leases.get_mut(&id) else {
                continue;
            };
            if l.breaking.is_some() || l.state & R == 0 || l.state & W != 0 {
                continue;
            }
            let ack = l.state & H != 0;
            out.push(lease_break(&o.holder, id, l, 0, ack));
            if ack {
                l.breaking = Some(LeaseBreaking {
                    to: 0,
                    deadline: now + timeout,
                });
            } else {
                l.state = 0;
            }
            changed = true;
        }
        if changed {
            s.bump();
        }
    }

    /// Whether any open other than `uid` exists for this file.
    pub fn others_open(&self, key: FileKey, uid: u64) -> bool {
        self.table()
            .files
            .get(&key)
            .is_some_and(|s| s.opens.iter().any(|o| o.uid != uid))
    }

    /// Whether the file may be renamed/deleted by `uid` given the other opens' share modes.
    pub fn may_delete(&self, key: FileKey, uid: u64) -> bool {
        self.table().files.get(&key).is_none_or(|s| {
            s.opens
                .iter()
                .filter(|o| o.uid != uid)
                .all(|o| o.share & SHARE_DELETE != 0)
        })
    }

    pub fn set_delete_pending(&self, key: FileKey, on: bool) {
        if let Some(s) = self.table().files.get_mut(&key) {
            s.delete_pending = on;
        }
    }

    pub fn delete_pending(&self, key: FileKey) -> bool {
        self.table()
            .files
            .get(&key)
            .is_some_and(|s| s.delete_pending)
    }

    /// Remove an open; returns true when it was the last one and the file is
    /// delete-pending: the caller then deletes it and calls [`Self::deleted`]. Until then
    /// the file stays delete-pending, so an open racing the delete from another connection
    /// is refused with DELETE_PENDING rather than finding a name about to vanish. Its
    /// oplock goes with it (a break waiting for it is over), and so does its lease once no
    /// open uses the lease any more.
    pub fn close(&self, key: FileKey, uid: u64) -> bool {
        let mut t = self.table();
        let Inner { files, leases } = &mut *t;
        let Some(s) = files.get_mut(&key) else {
            return false;
        };
        let lease = s.opens.iter().find(|o| o.uid == uid).and_then(|o| o.lease);
        s.opens.retain(|o| o.uid != uid);
        s.locks.retain(|l| l.uid != uid);
        if let Some(id) = lease {
            if !s.opens.iter().any(|o| o.lease == Some(id)) {
                leases.remove(&id);
            }
        }
        s.bump();
        if s.opens.is_empty() {
            if s.delete_pending {
                return true;
            }
            files.remove(&key);
        }
        false
    }

    /// After the delete that [`Self::close`] asked for (done or failed): the file's entry
    /// goes, unless an open came in meanwhile (then that open's state stays). An open
    /// waiting for the delete ([`Self::cleanup`]) is woken.
    pub fn deleted(&self, key: FileKey) {
        let mut t = self.table();
        let Some(s) = t.files.get_mut(&key) else {
            return;
        };
        s.bump();
        if s.opens.is_empty() {
            t.files.remove(&key);
        }
    }

    /// What an open refused with SHARING_VIOLATION or DELETE_PENDING may be racing: the
    /// connections holding the file's other opens (the caller asks whether they are
    /// going away), and whether its last close is deleting it right now. With the
    /// [`Wait`] to wait on (its deadline is the caller's to choose). None: the file has
    /// no state any more, go again.
    pub fn cleanup(&self, key: FileKey) -> Option<Cleanup> {
        let t = self.table();
        let s = t.files.get(&key)?;
        let mut holders: Vec<u64> = s.opens.iter().map(|o| o.holder.conn).collect();
        holders.sort_unstable();
        holders.dedup();
        Some(Cleanup {
            holders,
            deleting: s.delete_pending && s.opens.is_empty(),
            notify: s.changed.clone(),
            generation: s.generation,
        })
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
        let s = t.files.entry(key).or_default();
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
        let s = t.files.get_mut(&key).ok_or(NtStatus::RANGE_NOT_LOCKED)?;
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
        let Some(s) = t.files.get(&key) else {
            return false;
        };
        s.locks.iter().any(|l| {
            l.overlaps(offset, length)
                && if write {
                    l.uid != uid || !l.exclusive
                } else {
                    l.uid != uid && l.exclusive
                }
        })
    }

    /// Number of opens across all connections.
    pub fn count(&self) -> usize {
        self.table().files.values().map(|s| s.opens.len()).sum()
    }
}

fn oplock_break(h: &Holder, level: u8) -> Delivery {
    Delivery {
        conn: h.conn,
        notice: Notice::OplockBreak {
            session_id: h.session_id,
            encrypt: h.encrypt,
            file_id: h.file_id,
            level,
        },
    }
}

/// A lease break notification from the lease's state to `to` (the epoch moves on).
fn lease_break(h: &Holder, id: LeaseId, l: &mut Lease, to: u32, ack: bool) -> Delivery {
    l.epoch = l.epoch.wrapping_add(1);
    Delivery {
        conn: h.conn,
        notice: Notice::LeaseBreak {
            session_id: h.session_id,
            encrypt: h.encrypt,
            body: LeaseBreakNotification {
                new_epoch: if l.v2 { l.epoch } else { 0 },
                flags: if ack { LEASE_BREAK_ACK_REQUIRED } else { 0 },
                lease_key: id.1,
                current_state: l.state,
                new_state: to,
            },
        },
    }
}

/// Share-mode checks that register nothing (used by SET_INFO rename, which must open the
/// target's parent directory the way Windows does).
impl FileTable {
    /// Whether an open of `key` with this access and share mode would be refused with
    /// SHARING_VIOLATION by the opens already there.
    pub fn share_conflict(&self, key: FileKey, access_mask: u32, share: u32) -> bool {
        self.table()
            .files
            .get(&key)
            .is_some_and(|s| s.opens.iter().any(|o| conflicts(o, access_mask, share)))
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
        // While the closer deletes it, an open from elsewhere is refused, not let in to a
        // name about to vanish.
        assert_eq!(t.open((1, 2), 4, R, 7), Err(NtStatus::DELETE_PENDING));
        t.deleted((1, 2));
        // Gone: the same key (an inode number reused) opens afresh.
        t.open((1, 2), 5, R, 7).unwrap();
        assert_eq!(t.count(), 1);
    }

    #[test]
    fn cleanup_names_the_holders_and_says_when_the_last_close_is_deleting() {
        use std::future::Future;
        let t = FileTable::default();
        assert!(t.cleanup((1, 2)).is_none(), "no state, nothing to wait for");
        t.open((1, 2), 1, R | access::DELETE, 7).unwrap();
        t.open((1, 2), 2, R, 7).unwrap();
        let c = t.cleanup((1, 2)).unwrap();
        assert_eq!(
            c.holders,
            vec![0],
            "each connection once (both opens are on conn 0)"
        );
        assert!(!c.deleting);
        t.set_delete_pending((1, 2), true);
        assert!(!t.close((1, 2), 1));
        assert!(!t.cleanup((1, 2)).unwrap().deleting, "an open is left");
        assert!(t.close((1, 2), 2));
        let c = t.cleanup((1, 2)).unwrap();
        assert!(c.deleting && c.holders.is_empty());
        // The closer's delete is done: whoever waited on the file is told.
        let woken = c.notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        t.deleted((1, 2));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(woken.as_mut().poll(&mut cx).is_ready());
        assert!(t.cleanup((1, 2)).is_none());
    }

    fn req(uid: u64, conn: u64, level: u8) -> OpenReq {
        OpenReq {
            uid,
            access: R | W,
            share: SHARE_READ | SHARE_WRITE | SHARE_DELETE,
            overwrite: false,
            delete_on_close: false,
            is_dir: false,
            oplock: level,
            lease: None,
            holder: Holder {
                conn,
                session_id: 5,
                file_id: FileId {
                    persistent: uid,
                    volatile: uid,
                },
                encrypt: false,
            },
        }
    }

    fn lease_req(uid: u64, key: u8, state: u32) -> OpenReq {
        let mut r = req(uid, 1, oplock::LEASE);
        r.lease = Some(LeaseReq {
            id: ([1; 16], [key; 16]),
            state,
            v2: Some((None, 0)),
        });
        r
    }

    const K: FileKey = (3, 3);
    const T: Duration = Duration::from_secs(35);

    #[test]
    fn batch_alone_then_break_to_level_ii_with_ack() {
        let t = FileTable::default();
        let now = Instant::now();
        let g = t.register(K, &req(1, 10, oplock::BATCH)).unwrap();
        assert_eq!(g.oplock, oplock::BATCH);
        let mut out = Vec::new();
        let w = t.break_for_open(K, &req(2, 20, oplock::BATCH), now, T, &mut out);
        let w = w.unwrap().expect("must wait for the holder");
        assert_eq!(w.deadline, now + T);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].conn, 10);
        assert!(matches!(
            out[0].notice,
            Notice::OplockBreak {
                level: oplock::LEVEL_II,
                ..
            }
        ));
        // Asking again while the break is outstanding sends nothing new.
        out.clear();
        let again = t.break_for_open(K, &req(2, 20, oplock::BATCH), now, T, &mut out);
        assert!(again.unwrap().is_some() && out.is_empty());
        assert_eq!(t.ack_oplock(K, 1, oplock::LEVEL_II), Ok(oplock::LEVEL_II));
        assert_ne!(t.generation(K), Some(w.generation));
        let again = t.break_for_open(K, &req(2, 20, oplock::BATCH), now, T, &mut out);
        assert!(again.unwrap().is_none() && out.is_empty());
        let g = t.register(K, &req(2, 20, oplock::BATCH)).unwrap();
        assert_eq!(g.oplock, oplock::LEVEL_II);
        assert_eq!(
            t.ack_oplock(K, 1, oplock::LEVEL_II),
            Err(NtStatus::INVALID_OPLOCK_PROTOCOL)
        );
        // A write breaks both level II holders to none at once.
        t.break_shared(K, 2, now, T, &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn breaks_time_out_and_closes_resolve_them() {
        let t = FileTable::default();
        let now = Instant::now();
        t.register(K, &req(1, 10, oplock::EXCLUSIVE)).unwrap();
        let mut out = Vec::new();
        let mut over = req(2, 20, oplock::NONE);
        over.overwrite = true;
        let w = t
            .break_for_open(K, &over, now, T, &mut out)
            .unwrap()
            .unwrap();
        assert!(matches!(
            out[0].notice,
            Notice::OplockBreak {
                level: oplock::NONE,
                ..
            }
        ));
        t.expire_breaks(K, now);
        assert!(t
            .break_for_open(K, &over, now, T, &mut out)
            .unwrap()
            .is_some());
        t.expire_breaks(K, w.deadline);
        assert!(t
            .break_for_open(K, &over, now, T, &mut out)
            .unwrap()
            .is_none());
        // A close ends a pending break as well.
        let t = FileTable::default();
        t.register(K, &req(1, 10, oplock::BATCH)).unwrap();
        t.register((4, 4), &req(9, 10, oplock::BATCH)).unwrap();
        assert!(t
            .break_for_open(K, &req(2, 20, 0), now, T, &mut out)
            .unwrap()
            .is_some());
        t.close(K, 1);
        assert!(t
            .break_for_open(K, &req(2, 20, 0), now, T, &mut out)
            .unwrap()
            .is_none());
        assert_eq!(
            t.register(K, &req(2, 20, oplock::BATCH)).unwrap().oplock,
            oplock::BATCH
        );
    }

    #[test]
    fn stat_opens_neither_break_nor_share_caching() {
        let t = FileTable::default();
        let now = Instant::now();
        t.register(K, &req(1, 10, oplock::BATCH)).unwrap();
        let mut stat = req(2, 20, oplock::BATCH);
        stat.access = access::FILE_READ_ATTRIBUTES | access::SYNCHRONIZE;
        let mut out = Vec::new();
        assert!(t
            .break_for_open(K, &stat, now, T, &mut out)
            .unwrap()
            .is_none());
        assert!(out.is_empty());
        assert_eq!(t.register(K, &stat).unwrap().oplock, oplock::NONE);
        // Directories never get one.
        let mut dir = req(3, 30, oplock::BATCH);
        dir.is_dir = true;
        assert_eq!(t.register((8, 8), &dir).unwrap().oplock, oplock::NONE);
    }

    #[test]
    fn leases_share_by_key_break_and_upgrade_only_to_what_coexists() {
        const RWH: u32 = R_ | W_ | H_;
        const R_: u32 = lease::READ_CACHING;
        const W_: u32 = lease::WRITE_CACHING;
        const H_: u32 = lease::HANDLE_CACHING;
        let t = FileTable::default();
        let now = Instant::now();
        let g = t.register(K, &lease_req(1, 1, RWH)).unwrap();
        assert_eq!(g.oplock, oplock::LEASE);
        let l = g.lease.unwrap();
        assert_eq!((l.state, l.v2), (RWH, Some((None, 1))));
        // Same key: no break, same lease.
        let mut out = Vec::new();
        assert!(t
            .break_for_open(K, &lease_req(2, 1, RWH), now, T, &mut out)
            .unwrap()
            .is_none());
        assert_eq!(
            t.register(K, &lease_req(2, 1, RWH))
                .unwrap()
                .lease
                .unwrap()
                .state,
            RWH
        );
        // The same key on another file is refused.
        assert_eq!(
            t.register((9, 9), &lease_req(5, 1, RWH)),
            Err(NtStatus::INVALID_PARAMETER)
        );
        // Another key: RWH breaks to RH, with acknowledgment.
        let w = t
            .break_for_open(K, &lease_req(3, 2, RWH), now, T, &mut out)
            .unwrap();
        assert!(w.is_some());
        let Notice::LeaseBreak { body, .. } = out[0].notice else {
            panic!("not a lease break")
        };
        assert_eq!((body.current_state, body.new_state), (RWH, R_ | H_));
        assert_eq!(body.flags, LEASE_BREAK_ACK_REQUIRED);
        assert_eq!(body.new_epoch, 2);
        let id = ([1; 16], [1; 16]);
        assert_eq!(t.ack_lease(id, RWH), Err(NtStatus::REQUEST_NOT_ACCEPTED));
        assert_eq!(t.ack_lease(id, R_ | H_), Ok(R_ | H_));
        assert_eq!(t.ack_lease(id, R_ | H_), Err(NtStatus::UNSUCCESSFUL));
        assert_eq!(
            t.ack_lease(([1; 16], [7; 16]), 0),
            Err(NtStatus::OBJECT_NAME_NOT_FOUND)
        );
        let g = t.register(K, &lease_req(3, 2, RWH)).unwrap();
        assert_eq!(g.lease.unwrap().state, R_ | H_);
        // Upgrading key 1 to RWH cannot coexist with key 2: nothing changes.
        let g = t.register(K, &lease_req(4, 1, RWH)).unwrap();
        assert_eq!(g.lease.unwrap().state, R_ | H_);
        // H or W without R is not a lease state.
        assert_eq!(valid_lease_state(H_ | W_), 0);
    }
}
