//! errno → NTSTATUS, the one place the server translates filesystem errors.

use smb_vfs::VfsError;
use smb_wire::NtStatus;

/// The NTSTATUS a client should see for a failed filesystem call.
pub fn status_of(e: &VfsError) -> NtStatus {
    match e.errno {
        libc::ENOENT => NtStatus::OBJECT_NAME_NOT_FOUND,
        libc::ENOTDIR => NtStatus::OBJECT_PATH_NOT_FOUND,
        libc::EEXIST => NtStatus::OBJECT_NAME_COLLISION,
        libc::EACCES | libc::EPERM => NtStatus::ACCESS_DENIED,
        libc::EROFS => NtStatus::MEDIA_WRITE_PROTECTED,
        libc::ENOSPC | libc::EDQUOT => NtStatus::DISK_FULL,
        libc::EISDIR => NtStatus::FILE_IS_A_DIRECTORY,
        libc::ENOTEMPTY => NtStatus::DIRECTORY_NOT_EMPTY,
        // RESOLVE_BENEATH refuses an escape from the share root with EXDEV (rename maps
        // its own cross-device EXDEV before calling this).
        libc::EXDEV => NtStatus::ACCESS_DENIED,
        libc::ENAMETOOLONG => NtStatus::OBJECT_NAME_INVALID,
        libc::EINVAL => NtStatus::INVALID_PARAMETER,
        libc::ELOOP => NtStatus::OBJECT_PATH_NOT_FOUND,
        libc::EFBIG => NtStatus::DISK_FULL,
        libc::EMFILE | libc::ENFILE | libc::ENOMEM => NtStatus::INSUFFICIENT_RESOURCES,
        libc::EOPNOTSUPP => NtStatus::NOT_SUPPORTED,
        libc::EBADF => NtStatus::INVALID_HANDLE,
        libc::EAGAIN => NtStatus::SHARING_VIOLATION,
        libc::EMLINK => NtStatus::INSUFFICIENT_RESOURCES,
        _ => NtStatus::UNSUCCESSFUL,
    }
}

/// The NTSTATUS for a client path that cannot be used.
pub fn path_status(e: smb_vfs::PathError) -> NtStatus {
    match e {
        smb_vfs::PathError::DotDot => NtStatus::OBJECT_PATH_SYNTAX_BAD,
        _ => NtStatus::OBJECT_NAME_INVALID,
    }
}
