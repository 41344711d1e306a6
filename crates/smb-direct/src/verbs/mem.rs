//! Memory the device reads and writes, and the data pool that lends it out.
//!
//! SMB2 READ and WRITE data should cross user space once: the file is read by io_uring
//! straight into memory the NIC then RDMA-writes from, and RDMA reads land where io_uring
//! writes the file from. So the data pool is not copied in and out of: it lends
//! [`RegBuf`]s, each an exclusive piece of one registered allocation ([`RegMem`]), that the
//! upper layer fills or reads in place and gives back by dropping.
//!
//! The rule that makes the raw memory sound: **a byte of a [`RegMem`] is touched by one
//! party at a time**. A `RegBuf` is the only handle to its bytes (the pool never lends a
//! unit twice). While the driver has work requests outstanding on a buffer it keeps the
//! buffer, so the upper layer cannot touch it; the device (or the emulation, its stand-in)
//! touches only the bytes a posted work request names. The allocation lives as long as any
//! `RegBuf` or registration refers to it (an `Arc`), so a buffer may outlive its
//! connection, e.g. while its data is still being written to a file.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Access, PoolStats, QueuePair, Region, Sge, VerbsError};

/// Page-aligned memory, zeroed when allocated, that never moves: what a memory region is
/// registered over.
pub struct RegMem {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: RegMem owns its allocation (no thread affinity); the bytes are only reached
// through raw pointers under the one-party-at-a-time rule of this module, never through a
// shared `&[u8]` that another thread could be writing.
unsafe impl Send for RegMem {}
// SAFETY: as above: `&RegMem` gives no access to the bytes by itself.
unsafe impl Sync for RegMem {}

impl std::fmt::Debug for RegMem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegMem")
            .field("addr", &self.ptr)
            .field("len", &self.layout.size())
            .finish()
    }
}

impl RegMem {
    /// Allocates `len` zeroed bytes, page aligned.
    pub fn zeroed(len: u64) -> Result<Arc<Self>, VerbsError> {
        let size = usize::try_from(len)
            .ok()
            .filter(|s| *s > 0)
            .ok_or(VerbsError::RegionTooLarge { len, max: 0 })?;
        let layout = Layout::from_size_align(size, 4096).map_err(|_| VerbsError::Provider {
            call: "alloc",
            reason: format!("bad layout for {size} bytes"),
        })?;
        // SAFETY: layout has a non-zero size (checked above).
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or_else(|| VerbsError::Provider {
            call: "alloc",
            reason: format!("out of memory for {size} bytes"),
        })?;
        Ok(Arc::new(RegMem { ptr, layout }))
    }

    pub fn len(&self) -> usize {
        self.layout.size()
    }

    pub fn is_empty(&self) -> bool {
        self.layout.size() == 0
    }

    /// The first byte (what a provider registers).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// `len` bytes from `start`, if they lie inside.
    ///
    /// # Safety
    /// Nothing may write these bytes while the slice lives (see [`RegMem::slice_mut`]).
    pub unsafe fn slice(&self, start: usize, len: usize) -> Option<&[u8]> {
        let end = start.checked_add(len)?;
        if end > self.len() {
            return None;
        }
        // SAFETY: start..end lies inside the allocation, which is initialized (zeroed at
        // allocation, only ever written since); no writer is the caller's contract.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(start), len) })
    }

    /// `len` bytes from `start`, as a mutable slice, if they lie inside.
    ///
    /// # Safety
    /// Nothing else may read or write these bytes while the slice lives: the caller is
    /// their one party (a [`RegBuf`] that owns them, or the device acting on a work request
    /// that names them).
    #[allow(clippy::mut_from_ref)] // the interior mutability is the point (device memory)
    pub unsafe fn slice_mut(&self, start: usize, len: usize) -> Option<&mut [u8]> {
        let end = start.checked_add(len)?;
        if end > self.len() {
            return None;
        }
        // SAFETY: start..end lies inside the allocation, which is initialized (zeroed at
        // allocation, only ever written since); exclusivity is the caller's contract.
        Some(unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(start), len) })
    }
}

impl Drop for RegMem {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with this layout; the last reference is gone, so
        // no registration (they hold an Arc) and no buffer refers to it.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

/// Which units of a data pool are lent out.
#[derive(Debug)]
struct Units {
    used: Vec<bool>,
    in_use: u32,
    high_water: u32,
    /// Set once the pool is released: nothing more is lent.
    closed: bool,
}

impl Units {
    /// First fit: the lowest `count` consecutive free units.
    fn take(&mut self, count: usize) -> Option<usize> {
        if self.closed || count == 0 || count > self.used.len() {
            return None;
        }
        let mut run = 0;
        for i in 0..self.used.len() {
            if self.used.get(i).copied().unwrap_or(true) {
                run = 0;
                continue;
            }
            run += 1;
            if run == count {
                let first = i + 1 - count;
                for u in self.used.iter_mut().skip(first).take(count) {
                    *u = true;
                }
                let n = u32::try_from(count).unwrap_or(u32::MAX);
                self.in_use = self.in_use.saturating_add(n);
                self.high_water = self.high_water.max(self.in_use);
                return Some(first);
            }
        }
        None
    }

    fn put(&mut self, first: usize, count: usize) {
        for u in self.used.iter_mut().skip(first).take(count) {
            *u = false;
        }
        let n = u32::try_from(count).unwrap_or(u32::MAX);
        self.in_use = self.in_use.saturating_sub(n);
    }
}

fn lock(units: &Mutex<Units>) -> MutexGuard<'_, Units> {
    // A panic while holding this lock cannot leave the map inconsistent in a way that
    // matters more than losing the process; keep going with what is there.
    units.lock().unwrap_or_else(|e| e.into_inner())
}

/// A registered allocation cut into units, lent out as contiguous [`RegBuf`]s.
#[derive(Debug)]
pub struct DataPool {
    mem: Arc<RegMem>,
    region: Region,
    unit: u32,
    units: Arc<Mutex<Units>>,
    released: bool,
}

impl DataPool {
    /// Allocates `count * unit` bytes and registers them on `qp` (once).
    pub fn register<Q: QueuePair + ?Sized>(
        qp: &mut Q,
        unit: u32,
        count: u32,
        access: Access,
    ) -> Result<Self, VerbsError> {
        let len = u64::from(unit).saturating_mul(u64::from(count));
        let max = qp.device_limits().max_mr_size;
        if len > max {
            return Err(VerbsError::RegionTooLarge { len, max });
        }
        let mem = RegMem::zeroed(len)?;
        let region = qp.register_mem(&mem, access)?;
        let units = Units {
            used: vec![false; count as usize],
            in_use: 0,
            high_water: 0,
            closed: false,
        };
        Ok(DataPool {
            mem,
            region,
            unit,
            units: Arc::new(Mutex::new(units)),
            released: false,
        })
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    pub fn unit(&self) -> u32 {
        self.unit
    }

    /// The largest buffer the pool can ever lend.
    pub fn capacity(&self) -> u64 {
        self.region.len
    }

    /// Lends a buffer of `len` bytes (rounded up to whole units; at least one), empty
    /// (length 0), if enough consecutive units are free.
    pub fn lease(&self, len: usize) -> Option<RegBuf> {
        let unit = self.unit as usize;
        let count = len.div_ceil(unit).max(1);
        let first = lock(&self.units).take(count)?;
        let start = first.checked_mul(unit)?;
        Some(RegBuf {
            mem: self.mem.clone(),
            units: self.units.clone(),
            first,
            count,
            start,
            cap: count.checked_mul(unit)?,
            len: 0,
            lkey: self.region.lkey,
            addr: self.region.addr.checked_add(start as u64)?,
        })
    }

    /// Whether `buf` is a piece of this pool.
    pub fn owns(&self, buf: &RegBuf) -> bool {
        Arc::ptr_eq(&self.mem, &buf.mem)
    }

    pub fn stats(&self) -> PoolStats {
        let u = lock(&self.units);
        PoolStats {
            chunks: u32::try_from(u.used.len()).unwrap_or(u32::MAX),
            chunk_size: self.unit,
            in_use: u.in_use,
            high_water: u.high_water,
        }
    }

    /// Deregisters the region (once) and lends nothing more. Call only when no work
    /// request uses it; buffers still lent keep the memory alive until they are dropped.
    pub fn release<Q: QueuePair + ?Sized>(&mut self, qp: &mut Q) {
        if !self.released {
            self.released = true;
            lock(&self.units).closed = true;
            qp.deregister(&self.region);
        }
    }

    pub fn is_released(&self) -> bool {
        self.released
    }
}

/// A piece of a data pool, lent to one owner: its bytes are the owner's alone until it is
/// dropped (which gives the units back). `len` bytes are valid; up to `capacity` may be
/// filled.
pub struct RegBuf {
    mem: Arc<RegMem>,
    units: Arc<Mutex<Units>>,
    first: usize,
    count: usize,
    /// Offset of the first byte in `mem`.
    start: usize,
    cap: usize,
    len: usize,
    lkey: u32,
    /// The first byte as work requests name it.
    addr: u64,
}

impl std::fmt::Debug for RegBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegBuf")
            .field("addr", &self.addr)
            .field("len", &self.len)
            .field("capacity", &self.cap)
            .finish()
    }
}

impl RegBuf {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Sets how many bytes are valid (at most the capacity). The memory is always
    /// initialized (zeroed once, then only written), so any length is safe to read; bytes
    /// not written since the buffer was lent hold earlier data of the same connection.
    pub fn set_len(&mut self, len: usize) {
        self.len = len.min(self.cap);
    }

    /// The valid bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: this buffer owns start..start+cap exclusively (the pool lends a unit
        // once) and no work request is outstanding on it while the owner holds it.
        unsafe { self.mem.slice(self.start, self.len) }.unwrap_or(&[])
    }

    /// The whole capacity, to fill.
    pub fn as_mut_capacity(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes this the only view.
        unsafe { self.mem.slice_mut(self.start, self.cap) }.unwrap_or(&mut [])
    }

    /// Copies `data` in after the valid bytes, as far as the capacity allows; returns how
    /// many bytes were taken.
    pub fn extend_from_slice(&mut self, data: &[u8]) -> usize {
        let at = self.len;
        let n = data.len().min(self.cap.saturating_sub(at));
        if let (Some(dst), Some(src)) = (self.as_mut_capacity().get_mut(at..at + n), data.get(..n))
        {
            dst.copy_from_slice(src);
        }
        self.len += n;
        n
    }

    /// The first byte, for a kernel operation that fills the buffer (io_uring); stable
    /// while the buffer lives.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.mem.as_ptr().wrapping_add(self.start)
    }

    pub fn as_ptr(&self) -> *const u8 {
        self.mem.as_ptr().wrapping_add(self.start).cast_const()
    }

    /// `len` bytes at `offset` of this buffer as a local SGE (for the driver's work
    /// requests); `None` if they do not fit the capacity.
    pub fn sge(&self, offset: usize, len: u32) -> Option<Sge> {
        let end = offset.checked_add(len as usize)?;
        if end > self.cap {
            return None;
        }
        Some(Sge {
            lkey: self.lkey,
            addr: self.addr.checked_add(offset as u64)?,
            len,
        })
    }
}

impl AsRef<[u8]> for RegBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for RegBuf {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for RegBuf {}

impl Drop for RegBuf {
    fn drop(&mut self) {
        lock(&self.units).put(self.first, self.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verbs::emu;

    fn pool(unit: u32, count: u32) -> (DataPool, emu::EmuQp) {
        let caps = crate::verbs::QpCaps {
            send_wr: 4,
            recv_wr: 4,
            cqe: 8,
            send_sge: 1,
            rd_atom: 1,
        };
        let mut qp = emu::EmuListener::new(crate::verbs::DeviceLimits::default()).connect(caps);
        let p = DataPool::register(&mut qp, unit, count, Access::LOCAL).expect("register");
        (p, qp)
    }

    #[test]
    fn leases_are_contiguous_first_fit_and_come_back_when_dropped() {
        let (p, _qp) = pool(4096, 8);
        let a = p.lease(1).expect("a");
        let b = p.lease(3 * 4096).expect("b");
        assert_eq!(a.capacity(), 4096);
        assert_eq!(b.capacity(), 3 * 4096);
        assert_eq!(b.sge(0, 1).map(|s| s.addr), Some(p.region().addr + 4096));
        assert_eq!(p.stats().in_use, 4);
        drop(a);
        // One unit free at the start, four at the end: five in a row do not fit.
        assert!(p.lease(5 * 4096).is_none());
        let c = p.lease(4096).expect("c reuses unit 0");
        assert_eq!(c.sge(0, 1).map(|s| s.addr), Some(p.region().addr));
        drop((b, c));
        assert_eq!(p.stats().in_use, 0);
        assert_eq!(p.stats().high_water, 4);
        assert!(
            p.lease(8 * 4096).is_some(),
            "the whole pool once everything is back"
        );
    }

    #[test]
    fn a_buffer_fills_up_to_its_capacity_and_bounds_its_sges() {
        let (p, _qp) = pool(16, 2);
        let mut b = p.lease(20).expect("lease");
        assert_eq!(b.extend_from_slice(&[7; 10]), 10);
        assert_eq!(b.extend_from_slice(&[8; 30]), 22, "only what fits");
        assert_eq!(b.len(), 32);
        assert_eq!(&b.as_slice()[..11], &[7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8]);
        b.set_len(100);
        assert_eq!(b.len(), 32, "never past the capacity");
        assert!(b.sge(16, 16).is_some());
        assert!(b.sge(17, 16).is_none());
        assert!(b.sge(usize::MAX, 1).is_none());
    }

    #[test]
    fn a_released_pool_lends_nothing_but_its_buffers_stay_readable() {
        let (mut p, mut qp) = pool(8, 2);
        let mut b = p.lease(8).expect("lease");
        b.extend_from_slice(b"survives");
        p.release(&mut qp);
        assert!(p.lease(8).is_none());
        drop(p);
        assert_eq!(b.as_slice(), b"survives");
    }
}
