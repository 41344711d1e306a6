//! Registered memory as a pool of fixed-size chunks: one region registered once when the
//! pool is made, chunks handed out and returned per work request, never a registration on
//! the request path.

use super::{Access, QueuePair, Region, Sge, VerbsError};

/// One chunk of a pool, owned by whoever took it until it is given back with
/// [`Pool::put`]. Deliberately not `Clone`: a chunk is in one place at a time.
#[derive(Debug, PartialEq, Eq)]
pub struct Chunk {
    index: u32,
    sge: Sge,
}

impl Chunk {
    /// The whole chunk as a local SGE.
    pub fn sge(&self) -> Sge {
        self.sge
    }

    /// The first `len` bytes of the chunk (`None` if longer than the chunk).
    pub fn prefix(&self, len: u32) -> Option<Sge> {
        (len <= self.sge.len).then_some(Sge { len, ..self.sge })
    }

    pub fn len(&self) -> u32 {
        self.sge.len
    }

    pub fn is_empty(&self) -> bool {
        self.sge.len == 0
    }
}

/// Counters of a pool, to prove nothing leaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub chunks: u32,
    pub chunk_size: u32,
    pub in_use: u32,
    /// The most chunks ever in use at once.
    pub high_water: u32,
}

/// A registered region cut into `count` chunks of `chunk_size` bytes.
#[derive(Debug)]
pub struct Pool {
    region: Region,
    chunk_size: u32,
    count: u32,
    free: Vec<u32>,
    high_water: u32,
    released: bool,
}

impl Pool {
    /// Registers `count * chunk_size` bytes on `qp` (once) and cuts them into chunks.
    pub fn register<Q: QueuePair + ?Sized>(
        qp: &mut Q,
        chunk_size: u32,
        count: u32,
        access: Access,
    ) -> Result<Self, VerbsError> {
        let len = u64::from(chunk_size).saturating_mul(u64::from(count));
        let max = qp.device_limits().max_mr_size;
        if len > max {
            return Err(VerbsError::RegionTooLarge { len, max });
        }
        let region = qp.register(len, access)?;
        Ok(Pool {
            region,
            chunk_size,
            count,
            // Popped from the end: chunk 0 first.
            free: (0..count).rev().collect(),
            high_water: 0,
            released: false,
        })
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Chunks free now.
    pub fn available(&self) -> u32 {
        u32::try_from(self.free.len()).unwrap_or(u32::MAX)
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            chunks: self.count,
            chunk_size: self.chunk_size,
            in_use: self.count.saturating_sub(self.available()),
            high_water: self.high_water,
        }
    }

    /// Takes a free chunk.
    pub fn take(&mut self) -> Option<Chunk> {
        if self.released {
            return None;
        }
        let index = self.free.pop()?;
        let offset = u64::from(index).saturating_mul(u64::from(self.chunk_size));
        let Some(sge) = self.region.sge(offset, self.chunk_size) else {
            // Cannot happen (the region holds count * chunk_size bytes); keep the index.
            self.free.push(index);
            return None;
        };
        let in_use = self.count.saturating_sub(self.available());
        self.high_water = self.high_water.max(in_use);
        Some(Chunk { index, sge })
    }

    /// Gives a chunk back. A chunk of another pool is ignored (and reported false).
    pub fn put(&mut self, chunk: Chunk) -> bool {
        let own = chunk.sge.lkey == self.region.lkey
            && chunk.index < self.count
            && !self.free.contains(&chunk.index);
        if own {
            self.free.push(chunk.index);
        }
        own
    }

    /// Deregisters the region (once; later calls do nothing). Call only when no work
    /// request uses it any more; no chunk can be taken afterwards.
    pub fn release<Q: QueuePair + ?Sized>(&mut self, qp: &mut Q) {
        if !self.released {
            self.released = true;
            qp.deregister(&self.region);
        }
    }

    /// Whether [`Pool::release`] ran.
    pub fn is_released(&self) -> bool {
        self.released
    }
}
