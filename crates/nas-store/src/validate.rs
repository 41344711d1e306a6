//! Input validation rules. Every function returns a [`StoreError::Invalid`] whose text can be
//! shown to an administrator.

use std::path::{Component, Path, PathBuf};

use crate::StoreError;

/// Longest accepted user name, in characters.
pub const MAX_USER_NAME: usize = 64;
/// Longest accepted share name, in characters.
pub const MAX_SHARE_NAME: usize = 80;
/// Longest accepted password, in characters.
pub const MAX_PASSWORD: usize = 256;
/// Longest accepted share comment, in characters.
pub const MAX_COMMENT: usize = 256;
/// Longest accepted share path, in bytes.
pub const MAX_PATH: usize = 4096;

/// Characters that may not appear in a share name.
pub const SHARE_NAME_FORBIDDEN: &str = "\\/:*?\"<>|[];=+,";

/// User names: 1–64 characters of `A–Z a–z 0–9 . _ -`, starting with a letter, digit or `_`.
pub fn user_name(name: &str) -> Result<(), StoreError> {
    const F: &str = "user name";
    if name.is_empty() {
        return Err(StoreError::invalid(F, "must not be empty"));
    }
    if name.chars().count() > MAX_USER_NAME {
        return Err(StoreError::invalid(
            F,
            format!("must be at most {MAX_USER_NAME} characters"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(StoreError::invalid(
            F,
            format!("character {c:?} is not allowed (use letters A-Z, digits, '.', '_' or '-')"),
        ));
    }
    if name.starts_with(['.', '-']) {
        return Err(StoreError::invalid(
            F,
            "must start with a letter, a digit or '_'",
        ));
    }
    Ok(())
}

/// Passwords: 1–256 characters, anything else goes.
pub fn password(password: &str) -> Result<(), StoreError> {
    const F: &str = "password";
    if password.is_empty() {
        return Err(StoreError::invalid(F, "must not be empty"));
    }
    if password.chars().count() > MAX_PASSWORD {
        return Err(StoreError::invalid(
            F,
            format!("must be at most {MAX_PASSWORD} characters"),
        ));
    }
    Ok(())
}

/// Share names: 1–80 characters, none of `\ / : * ? " < > | [ ] ; = + ,` nor control
/// characters, no leading/trailing space, and not the reserved `IPC$`.
///
/// A trailing `$` is allowed: by Windows convention such a share is "hidden", but whether
/// it is listed is decided by the share's `browseable` flag alone.
pub fn share_name(name: &str) -> Result<(), StoreError> {
    const F: &str = "share name";
    if name.is_empty() {
        return Err(StoreError::invalid(F, "must not be empty"));
    }
    if name.chars().count() > MAX_SHARE_NAME {
        return Err(StoreError::invalid(
            F,
            format!("must be at most {MAX_SHARE_NAME} characters"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || SHARE_NAME_FORBIDDEN.contains(*c))
    {
        return Err(StoreError::invalid(
            F,
            format!("character {c:?} is not allowed (forbidden: \\ / : * ? \" < > | [ ] ; = + , and control characters)"),
        ));
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return Err(StoreError::invalid(F, "must not start or end with a space"));
    }
    if name == "." || name == ".." {
        return Err(StoreError::invalid(F, "'.' and '..' are not share names"));
    }
    if name.eq_ignore_ascii_case("IPC$") {
        return Err(StoreError::invalid(
            F,
            "IPC$ is reserved for the server's named pipes",
        ));
    }
    Ok(())
}

/// Share paths: absolute, UTF-8, no `.` or `..` components, no control characters, not `/`
/// itself. Returns the normalised form (duplicate and trailing slashes removed).
pub fn share_path(path: &Path) -> Result<PathBuf, StoreError> {
    const F: &str = "path";
    let Some(s) = path.to_str() else {
        return Err(StoreError::invalid(F, "must be valid UTF-8"));
    };
    if s.len() > MAX_PATH {
        return Err(StoreError::invalid(
            F,
            format!("must be at most {MAX_PATH} bytes"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            F,
            "must not contain control characters",
        ));
    }
    if !s.starts_with('/') {
        return Err(StoreError::invalid(
            F,
            format!("'{s}' is not absolute (it must start with '/')"),
        ));
    }
    // Check the raw segments: std's `components()` silently drops interior "." segments.
    if s.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(StoreError::invalid(
            F,
            format!("'{s}' must not contain '.' or '..' components"),
        ));
    }
    let mut out = PathBuf::from("/");
    for c in path.components() {
        if let Component::Normal(seg) = c {
            out.push(seg);
        }
    }
    if out == Path::new("/") {
        return Err(StoreError::invalid(
            F,
            "refusing to share the root directory '/'",
        ));
    }
    Ok(out)
}

/// Share comments: at most 256 characters, no control characters.
pub fn comment(comment: &str) -> Result<(), StoreError> {
    const F: &str = "comment";
    if comment.chars().count() > MAX_COMMENT {
        return Err(StoreError::invalid(
            F,
            format!("must be at most {MAX_COMMENT} characters"),
        ));
    }
    if comment.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            F,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// NetBIOS-style names (server name, workgroup): 1–15 characters of `A–Z a–z 0–9 - _`,
/// not starting with `-`, not all digits.
pub fn netbios_name(field: &'static str, name: &str) -> Result<(), StoreError> {
    if name.is_empty() {
        return Err(StoreError::invalid(field, "must not be empty"));
    }
    if name.len() > 15 {
        return Err(StoreError::invalid(
            field,
            "must be at most 15 characters (NetBIOS limit)",
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
    {
        return Err(StoreError::invalid(
            field,
            format!("character {c:?} is not allowed (use letters A-Z, digits, '-' or '_')"),
        ));
    }
    if name.starts_with('-') {
        return Err(StoreError::invalid(field, "must not start with '-'"));
    }
    if name.chars().all(|c| c.is_ascii_digit()) {
        return Err(StoreError::invalid(field, "must not be all digits"));
    }
    Ok(())
}
