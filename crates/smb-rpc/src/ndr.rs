//! A small NDR20 (transfer syntax 8a885d04-1ceb-11c9-9fe8-08002b104860 v2)
//! writer and reader, little-endian only.
//!
//! Alignment is relative to the start of the stub data, which is what NDR
//! requires (the stub starts 8-aligned inside every request/response PDU).
//! Deferred pointer referents are the caller's business: marshal the scalars
//! of a construct first, then its deferred referents, in the same order.

/// Why decoding stub data failed. Every variant becomes a
/// `nca_s_fault_ndr` fault on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdrError {
    /// The stub ended before the value was complete.
    Truncated,
    /// A conformance/variance value is inconsistent or out of bounds.
    BadLength,
    /// A UTF-16 string is not valid UTF-16.
    BadString,
    /// A value that has a fixed meaning held something else.
    BadValue,
}

/// First referent id handed out by [`NdrWriter::referent`]; same style as the
/// Windows stubs (any non-zero value is valid).
const FIRST_REFERENT: u32 = 0x0002_0000;

/// Writes NDR20 stub data.
#[derive(Debug)]
pub struct NdrWriter {
    buf: Vec<u8>,
    next_referent: u32,
}

impl Default for NdrWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl NdrWriter {
    /// An empty stub.
    pub fn new() -> Self {
        NdrWriter {
            buf: Vec::new(),
            next_referent: FIRST_REFERENT,
        }
    }

    /// Pads with zero bytes to a multiple of `n` (a power of two).
    pub fn align(&mut self, n: usize) {
        while self.buf.len() % n != 0 {
            self.buf.push(0);
        }
    }

    /// A `u16`, 2-aligned.
    pub fn u16(&mut self, v: u16) {
        self.align(2);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A `u32` / DWORD / WERROR, 4-aligned.
    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// The representation of a unique or full pointer: a fresh non-zero
    /// referent id when `present`, else 0 (NULL). The caller marshals the
    /// referent later (deferred) when present.
    pub fn referent(&mut self, present: bool) {
        if present {
            let id = self.next_referent;
            self.next_referent = self.next_referent.wrapping_add(4);
            self.u32(id);
        } else {
            self.u32(0);
        }
    }

    /// A `[string] wchar_t*` referent: conformant varying array of UTF-16
    /// code units, terminated by a NUL that is counted in both max_count
    /// and actual_count; offset is 0.
    pub fn string(&mut self, s: &str) {
        let units: Vec<u16> = s.encode_utf16().chain(std::iter::once(0)).collect();
        let n = u32::try_from(units.len()).unwrap_or(u32::MAX);
        self.u32(n); // max_count
        self.u32(0); // offset
        self.u32(n); // actual_count
        for u in units {
            self.buf.extend_from_slice(&u.to_le_bytes());
        }
    }

    /// Current length of the stub.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The finished stub.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads NDR20 stub data; every read is bounds-checked.
#[derive(Debug)]
pub struct NdrReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> NdrReader<'a> {
    /// Reads `data` from its start (offset 0 is the alignment origin).
    pub fn new(data: &'a [u8]) -> Self {
        NdrReader { data, pos: 0 }
    }

    /// Skips padding to a multiple of `n`.
    pub fn align(&mut self, n: usize) -> Result<(), NdrError> {
        let rem = self.pos % n;
        if rem != 0 {
            self.take(n - rem)?;
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], NdrError> {
        let end = self.pos.checked_add(n).ok_or(NdrError::Truncated)?;
        let s = self.data.get(self.pos..end).ok_or(NdrError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// A 2-aligned `u16`.
    pub fn u16(&mut self) -> Result<u16, NdrError> {
        self.align(2)?;
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([
            *b.first().ok_or(NdrError::Truncated)?,
            *b.get(1).ok_or(NdrError::Truncated)?,
        ]))
    }

    /// A 4-aligned `u32`.
    pub fn u32(&mut self) -> Result<u32, NdrError> {
        self.align(4)?;
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    /// A unique pointer's representation: `Some(referent_id)` or `None` for
    /// NULL.
    pub fn referent(&mut self) -> Result<Option<u32>, NdrError> {
        let id = self.u32()?;
        Ok((id != 0).then_some(id))
    }

    /// A `[string] wchar_t*` referent (conformant varying, NUL-terminated).
    /// The counts are checked against the bytes actually present before
    /// anything is allocated; a trailing NUL is stripped.
    pub fn string(&mut self) -> Result<String, NdrError> {
        let max = self.u32()?;
        let offset = self.u32()?;
        let actual = self.u32()?;
        if offset != 0 || actual > max {
            return Err(NdrError::BadLength);
        }
        let n = usize::try_from(actual).map_err(|_| NdrError::BadLength)?;
        let bytes_len = n.checked_mul(2).ok_or(NdrError::BadLength)?;
        if bytes_len > self.remaining() {
            return Err(NdrError::Truncated);
        }
        let raw = self.take(bytes_len)?;
        let mut units: Vec<u16> = raw
            .chunks_exact(2)
            .map(|c| match c {
                [lo, hi] => u16::from_le_bytes([*lo, *hi]),
                _ => 0,
            })
            .collect();
        if units.last() == Some(&0) {
            units.pop();
        }
        String::from_utf16(&units).map_err(|_| NdrError::BadString)
    }

    /// An optional `[unique, string] wchar_t*` (pointer then referent).
    pub fn unique_string(&mut self) -> Result<Option<String>, NdrError> {
        match self.referent()? {
            Some(_) => Ok(Some(self.string()?)),
            None => Ok(None),
        }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_layout_matches_ndr_conformant_varying() {
        let mut w = NdrWriter::new();
        w.u16(7);
        w.string("ab");
        let b = w.into_bytes();
        // u16, 2 pad, max=3, offset=0, actual=3, 'a' 'b' NUL
        assert_eq!(
            b,
            [7, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, b'a', 0, b'b', 0, 0, 0]
        );
        let mut r = NdrReader::new(&b);
        assert_eq!(r.u16().unwrap(), 7);
        assert_eq!(r.string().unwrap(), "ab");
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn referents_are_distinct_and_null_is_zero() {
        let mut w = NdrWriter::new();
        w.referent(true);
        w.referent(false);
        w.referent(true);
        let b = w.into_bytes();
        let mut r = NdrReader::new(&b);
        let a = r.referent().unwrap();
        assert_eq!(r.referent().unwrap(), None);
        let c = r.referent().unwrap();
        assert!(a.is_some() && c.is_some() && a != c);
    }

    #[test]
    fn hostile_counts_are_rejected_without_allocation() {
        // actual_count 0x7fffffff with 4 bytes of data.
        let b = [
            0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, b'a', 0, 0, 0,
        ];
        assert_eq!(NdrReader::new(&b).string(), Err(NdrError::Truncated));
        // actual > max
        let b = [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'a', 0, 0, 0];
        assert_eq!(NdrReader::new(&b).string(), Err(NdrError::BadLength));
        // non-zero offset
        let b = [2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(NdrReader::new(&b).string(), Err(NdrError::BadLength));
        // lone surrogate
        let b = [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x00, 0xd8];
        assert_eq!(NdrReader::new(&b).string(), Err(NdrError::BadString));
        assert_eq!(NdrReader::new(&[1, 2]).u32(), Err(NdrError::Truncated));
    }
}
