//! Bounds-checked little-endian reading and writing.
//!
//! Every decoder in this crate reads through [`Reader`], which never panics and never
//! indexes unchecked: running past the end is a [`WireError::Truncated`]. Offsets found in a
//! message are checked with [`Reader::slice_at`] against the whole message, so an attacker
//! chosen offset or length can never point outside it.

use crate::WireError;

/// A cursor over a byte slice that fails instead of panicking.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// A reader over `buf` positioned at `pos` (which may be past the end: the next read fails).
    pub fn at(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    /// The whole underlying buffer.
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }

    /// The current offset from the start of the buffer.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the current position.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Take the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// Take the next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Skip `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<(), WireError> {
        self.bytes(n).map(|_| ())
    }

    /// Move to an absolute offset (at most the buffer length).
    pub fn seek(&mut self, pos: usize) -> Result<(), WireError> {
        if pos > self.buf.len() {
            return Err(WireError::BadOffset);
        }
        self.pos = pos;
        Ok(())
    }

    /// Read one byte.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }
    /// Read a little-endian u16.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    /// Read a little-endian u32.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// Read a little-endian u64.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// Read a little-endian i64.
    pub fn i64(&mut self) -> Result<i64, WireError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    /// Read a big-endian u16.
    pub fn u16_be(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    /// Read a big-endian u32.
    pub fn u32_be(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// The `len` bytes at absolute `offset` of the buffer, without moving the cursor.
    /// A zero length yields an empty slice whatever the offset (as the protocol allows).
    pub fn slice_at(&self, offset: usize, len: usize) -> Result<&'a [u8], WireError> {
        if len == 0 {
            return Ok(&[]);
        }
        let end = offset.checked_add(len).ok_or(WireError::BadOffset)?;
        self.buf.get(offset..end).ok_or(WireError::BadOffset)
    }
}

/// Decode UTF-16LE bytes into a `String`; odd lengths and unpaired surrogates are errors.
pub fn utf16le_to_string(b: &[u8]) -> Result<String, WireError> {
    if b.len() % 2 != 0 {
        return Err(WireError::BadString);
    }
    let units = b.chunks_exact(2).map(|c| {
        let lo = c.first().copied().unwrap_or(0);
        let hi = c.get(1).copied().unwrap_or(0);
        u16::from_le_bytes([lo, hi])
    });
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| WireError::BadString)
}

/// Append `s` as UTF-16LE (no terminator).
pub fn put_utf16le(out: &mut Vec<u8>, s: &str) {
    for u in s.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

/// The UTF-16LE encoding of `s`.
pub fn utf16le(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() * 2);
    put_utf16le(&mut v, s);
    v
}

/// Little-endian writing helpers on `Vec<u8>`, with back-patching of offsets and lengths.
pub trait Writer {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_bytes(&mut self, b: &[u8]);
    fn put_zeros(&mut self, n: usize);
    /// Pad with zeros until the length is a multiple of `align`.
    fn align_to(&mut self, align: usize);
    /// Overwrite a u16 written earlier at `at` (no-op if out of range, which is a bug in the
    /// encoder, never reachable from input).
    fn patch_u16(&mut self, at: usize, v: u16);
    fn patch_u32(&mut self, at: usize, v: u32);
}

impl Writer for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_bytes(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
    fn put_zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
    fn align_to(&mut self, align: usize) {
        if align > 1 {
            let rem = self.len() % align;
            if rem != 0 {
                self.put_zeros(align - rem);
            }
        }
    }
    fn patch_u16(&mut self, at: usize, v: u16) {
        if let Some(s) = self.get_mut(at..at + 2) {
            s.copy_from_slice(&v.to_le_bytes());
        }
    }
    fn patch_u32(&mut self, at: usize, v: u32) {
        if let Some(s) = self.get_mut(at..at + 4) {
            s.copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// Size of the SMB2 header that precedes every body.
const HDR: usize = 64;

/// Start decoding a message body: checks that `msg` holds a full 64-byte header followed by
/// a StructureSize equal to `expected`, and returns a reader positioned just after it.
pub fn body_reader(msg: &[u8], expected: u16) -> Result<Reader<'_>, WireError> {
    let found = structure_size(msg)?;
    if found != expected {
        return Err(WireError::BadStructureSize);
    }
    Ok(Reader::at(msg, HDR + 2))
}

/// The StructureSize of the body of `msg` (the u16 right after the 64-byte header).
pub fn structure_size(msg: &[u8]) -> Result<u16, WireError> {
    if msg.len() < HDR {
        return Err(WireError::Truncated);
    }
    Reader::at(msg, HDR).u16()
}

/// The bytes at a header-relative `offset`/`len` pair read from a message, checked against
/// the whole message and against `max` (a cap on attacker-chosen lengths).
pub fn buffer_at(msg: &[u8], offset: u32, len: u32, max: usize) -> Result<&[u8], WireError> {
    let len = len as usize;
    if len > max {
        return Err(WireError::TooLarge);
    }
    if len != 0 && (offset as usize) < HDR {
        return Err(WireError::BadOffset);
    }
    Reader::new(msg).slice_at(offset as usize, len)
}

/// `v` as a u16 field, saturating (encoders only: lengths come from our own data, and a
/// saturated value makes the peer reject the message rather than read out of bounds).
pub fn sat16(v: usize) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

/// `v` as a u32 field, saturating (see [`sat16`]).
pub fn sat32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_never_reads_past_the_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16().unwrap(), 0x0201);
        assert_eq!(r.u16(), Err(WireError::Truncated));
        assert_eq!(r.u8().unwrap(), 3);
        assert_eq!(r.u8(), Err(WireError::Truncated));
    }

    #[test]
    fn slice_at_rejects_offsets_outside_and_overflowing() {
        let r = Reader::new(&[0u8; 8]);
        assert!(r.slice_at(4, 4).is_ok());
        assert_eq!(r.slice_at(5, 4), Err(WireError::BadOffset));
        assert_eq!(r.slice_at(usize::MAX, 2), Err(WireError::BadOffset));
        assert_eq!(r.slice_at(100, 0).unwrap(), &[] as &[u8]);
    }

    #[test]
    fn utf16_round_trip_and_errors() {
        assert_eq!(utf16le_to_string(&utf16le("Grüße/ß")).unwrap(), "Grüße/ß");
        assert_eq!(utf16le_to_string(&[0x41]), Err(WireError::BadString));
        assert_eq!(utf16le_to_string(&[0x00, 0xd8]), Err(WireError::BadString));
    }
}
