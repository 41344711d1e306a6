//! `RelPath`: a validated path below a share root.

use std::fmt;

/// Why an SMB path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// A `..` component: the path tries to climb (clients get OBJECT_PATH_SYNTAX_BAD).
    DotDot,
    /// A `.` component, an empty component (`a\\b`), or a drive letter.
    NotBeneath,
    /// A character Windows does not allow in names, or NUL / control characters.
    BadCharacter,
    /// A component longer than 255 bytes or a path longer than 4096 bytes.
    TooLong,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::DotDot => "path climbs with '..'",
            PathError::NotBeneath => "path would leave the share",
            PathError::BadCharacter => "invalid character in name",
            PathError::TooLong => "name too long",
        })
    }
}

impl std::error::Error for PathError {}

/// A path relative to a share root: non-empty components that are not `.` or `..` and
/// contain no `/`, `\` or NUL. The empty path is the root itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RelPath {
    parts: Vec<String>,
    joined: String,
}

const MAX_COMPONENT: usize = 255;
const MAX_PATH: usize = 4096;

fn check_component(c: &str) -> Result<(), PathError> {
    if c == ".." {
        return Err(PathError::DotDot);
    }
    if c.is_empty() || c == "." {
        return Err(PathError::NotBeneath);
    }
    if c.len() > MAX_COMPONENT {
        return Err(PathError::TooLong);
    }
    if c.chars().any(|ch| {
        (ch as u32) < 0x20 || matches!(ch, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
    }) {
        return Err(PathError::BadCharacter);
    }
    Ok(())
}

impl RelPath {
    /// The share root itself.
    pub fn root() -> Self {
        Self::default()
    }

    /// Parse an SMB path (`dir\sub\file.txt`; one leading backslash tolerated). Refuses
    /// `..` and `.` components, empty components, drive letters (`C:`), NUL and the
    /// characters Windows forbids in names.
    pub fn from_smb(s: &str) -> Result<Self, PathError> {
        let s = s.strip_prefix('\\').unwrap_or(s);
        let s = s.strip_suffix('\\').unwrap_or(s);
        if s.is_empty() {
            return Ok(Self::root());
        }
        if s.len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        if s.contains('/') {
            return Err(PathError::BadCharacter);
        }
        let mut p = Self::root();
        for c in s.split('\\') {
            if c.len() == 2 && c.ends_with(':') {
                return Err(PathError::NotBeneath);
            }
            check_component(c)?;
            p = p.join(c);
        }
        Ok(p)
    }

    /// Append one component that is already known to be a valid name (e.g. read from the
    /// directory itself).
    pub fn join(&self, name: &str) -> Self {
        let mut parts = self.parts.clone();
        parts.push(name.to_string());
        let joined = parts.join("/");
        Self { parts, joined }
    }

    /// Append a client-supplied relative SMB path, validating it.
    pub fn join_checked(&self, rest: &str) -> Result<Self, PathError> {
        let tail = Self::from_smb(rest)?;
        let mut p = self.clone();
        for c in tail.parts {
            p = p.join(&c);
        }
        if p.joined.len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        Ok(p)
    }

    /// The components, outermost first.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().map(String::as_str)
    }

    /// Whether this is the share root itself (no components).
    pub fn is_root(&self) -> bool {
        self.parts.is_empty()
    }

    /// The last component (None for the root).
    pub fn file_name(&self) -> Option<&str> {
        self.parts.last().map(String::as_str)
    }

    /// The containing directory (None for the root).
    pub fn parent(&self) -> Option<RelPath> {
        let (_, init) = self.parts.split_last()?;
        let parts = init.to_vec();
        let joined = parts.join("/");
        Some(Self { parts, joined })
    }

    /// The path with `/` separators, relative to the root ("" for the root).
    pub fn as_str(&self) -> &str {
        &self.joined
    }

    /// The path as given to `openat2` ("." for the root).
    pub(crate) fn os(&self) -> &str {
        if self.joined.is_empty() {
            "."
        } else {
            &self.joined
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smb_paths_parse_and_escapes_are_refused() {
        assert_eq!(
            RelPath::from_smb("a\\b\\c.txt").unwrap().as_str(),
            "a/b/c.txt"
        );
        assert_eq!(RelPath::from_smb("\\a").unwrap().as_str(), "a");
        assert!(RelPath::from_smb("").unwrap().is_root());
        for bad in [
            "..",
            "a\\..\\..\\x",
            ".",
            "a\\\\b",
            "C:\\x",
            "a/b",
            "a\u{0}b",
            "a*",
            "x\\\\",
        ] {
            assert!(RelPath::from_smb(bad).is_err(), "{bad:?}");
        }
        assert_eq!(RelPath::from_smb(&"x".repeat(256)), Err(PathError::TooLong));
        let p = RelPath::from_smb("d\\e").unwrap();
        assert_eq!(p.parent().unwrap().as_str(), "d");
        assert_eq!(p.file_name(), Some("e"));
        assert_eq!(p.join_checked("f\\g").unwrap().as_str(), "d/e/f/g");
        assert!(p.join_checked("..").is_err());
    }
}
