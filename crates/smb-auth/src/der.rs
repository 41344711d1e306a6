//! A minimal, strict DER reader and writer for SPNEGO: single-byte tags, definite lengths
//! only (at most 3 length bytes), whole token at most 64 KiB, nesting depth bounded.

use crate::AuthError;

/// Largest SPNEGO token accepted.
pub(crate) const MAX_TOKEN: usize = 64 * 1024;
/// Deepest nesting of constructed elements accepted (SPNEGO needs 6).
pub(crate) const MAX_DEPTH: usize = 10;

/// One DER element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// The contents octets.
    pub contents: &'a [u8],
    /// The whole encoding: identifier, length and contents.
    pub whole: &'a [u8],
}

/// Reads one element from the front of `b`; returns it and what follows.
pub(crate) fn read(b: &[u8]) -> Result<(Tlv<'_>, &[u8]), AuthError> {
    let truncated = AuthError::Malformed("DER element runs past the end");
    let tag = *b.first().ok_or(truncated.clone())?;
    if tag & 0x1f == 0x1f {
        return Err(AuthError::Malformed("DER high tag numbers not supported"));
    }
    let l0 = *b.get(1).ok_or(truncated.clone())?;
    let (len, hdr) = if l0 < 0x80 {
        (usize::from(l0), 2usize)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 {
            return Err(AuthError::Malformed("DER indefinite length"));
        }
        if n > 3 {
            return Err(AuthError::Malformed("DER length too large"));
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + i).ok_or(truncated.clone())?);
        }
        (len, 2 + n)
    };
    if len > MAX_TOKEN {
        return Err(AuthError::Malformed("DER length too large"));
    }
    let end = hdr.checked_add(len).ok_or(truncated.clone())?;
    let contents = b.get(hdr..end).ok_or(truncated.clone())?;
    let whole = b.get(..end).ok_or(truncated)?;
    let rest = b.get(end..).unwrap_or(&[]);
    Ok((
        Tlv {
            tag,
            contents,
            whole,
        },
        rest,
    ))
}

/// Reads exactly one element of tag `tag` filling all of `b`.
pub(crate) fn read_only<'a>(
    b: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<Tlv<'a>, AuthError> {
    let (t, rest) = read(b)?;
    if t.tag != tag {
        return Err(AuthError::Malformed(what));
    }
    if !rest.is_empty() {
        return Err(AuthError::Malformed("trailing bytes after a DER element"));
    }
    Ok(t)
}

/// The elements of a constructed element's contents, in order.
pub(crate) fn children(mut b: &[u8]) -> impl Iterator<Item = Result<Tlv<'_>, AuthError>> {
    std::iter::from_fn(move || {
        if b.is_empty() {
            return None;
        }
        match read(b) {
            Ok((t, rest)) => {
                b = rest;
                Some(Ok(t))
            }
            Err(e) => {
                b = &[];
                Some(Err(e))
            }
        }
    })
}

/// Checks that `b` is a sequence of well-formed elements, descending into constructed ones
/// no deeper than [`MAX_DEPTH`].
pub(crate) fn validate(b: &[u8], depth: usize) -> Result<(), AuthError> {
    if depth > MAX_DEPTH {
        return Err(AuthError::Malformed("DER nested too deeply"));
    }
    for t in children(b) {
        let t = t?;
        if t.tag & 0x20 != 0 {
            validate(t.contents, depth + 1)?;
        }
    }
    Ok(())
}

/// Encodes an element (definite length, minimal form).
pub(crate) fn encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let n = contents.len();
    let len_bytes = n.to_be_bytes();
    let significant = len_bytes
        .iter()
        .skip_while(|b| **b == 0)
        .copied()
        .collect::<Vec<u8>>();
    let mut out = Vec::with_capacity(n + 6);
    out.push(tag);
    if n < 0x80 {
        out.extend_from_slice(&significant);
        if significant.is_empty() {
            out.push(0);
        }
    } else {
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(&significant);
    }
    out.extend_from_slice(contents);
    out
}
