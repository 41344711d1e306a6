//! NTSTATUS codes (MS-ERREF 2.3) that an SMB2 server sends or a client may send back.

use std::fmt;

/// A 32-bit NTSTATUS value. The top two bits are the severity: 0 success, 1 informational,
/// 2 warning, 3 error.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NtStatus(pub u32);

macro_rules! statuses {
    ($($(#[$m:meta])* $name:ident = $val:expr;)*) => {
        impl NtStatus {
            $($(#[$m])* #[doc = concat!("`STATUS_", stringify!($name), "`")]
            pub const $name: NtStatus = NtStatus($val);)*
        }
        fn status_name(v: u32) -> Option<&'static str> {
            match v {
                $($val => Some(concat!("STATUS_", stringify!($name))),)*
                _ => None,
            }
        }
    };
}

statuses! {
    SUCCESS = 0x0000_0000;
    PENDING = 0x0000_0103;
    REPARSE = 0x0000_0104;
    SOME_NOT_MAPPED = 0x0000_0107;
    NOTIFY_CLEANUP = 0x0000_010B;
    NOTIFY_ENUM_DIR = 0x0000_010C;
    OBJECT_NAME_EXISTS = 0x4000_0000;
    BUFFER_OVERFLOW = 0x8000_0005;
    NO_MORE_FILES = 0x8000_0006;
    INVALID_EA_NAME = 0x8000_0013;
    STOPPED_ON_SYMLINK = 0x8000_002D;
    UNSUCCESSFUL = 0xC000_0001;
    NOT_IMPLEMENTED = 0xC000_0002;
    INVALID_INFO_CLASS = 0xC000_0003;
    INFO_LENGTH_MISMATCH = 0xC000_0004;
    ACCESS_VIOLATION = 0xC000_0005;
    INVALID_HANDLE = 0xC000_0008;
    INVALID_PARAMETER = 0xC000_000D;
    NO_SUCH_DEVICE = 0xC000_000E;
    NO_SUCH_FILE = 0xC000_000F;
    INVALID_VIEW_SIZE = 0xC000_001F;
    INVALID_DEVICE_REQUEST = 0xC000_0010;
    END_OF_FILE = 0xC000_0011;
    MORE_PROCESSING_REQUIRED = 0xC000_0016;
    NO_MEMORY = 0xC000_0017;
    ACCESS_DENIED = 0xC000_0022;
    BUFFER_TOO_SMALL = 0xC000_0023;
    OBJECT_TYPE_MISMATCH = 0xC000_0024;
    OBJECT_NAME_INVALID = 0xC000_0033;
    OBJECT_NAME_NOT_FOUND = 0xC000_0034;
    OBJECT_NAME_COLLISION = 0xC000_0035;
    OBJECT_PATH_INVALID = 0xC000_0039;
    OBJECT_PATH_NOT_FOUND = 0xC000_003A;
    OBJECT_PATH_SYNTAX_BAD = 0xC000_003B;
    DATA_ERROR = 0xC000_003E;
    SHARING_VIOLATION = 0xC000_0043;
    EAS_NOT_SUPPORTED = 0xC000_004F;
    EA_TOO_LARGE = 0xC000_0050;
    NONEXISTENT_EA_ENTRY = 0xC000_0051;
    NO_EAS_ON_FILE = 0xC000_0052;
    FILE_LOCK_CONFLICT = 0xC000_0054;
    LOCK_NOT_GRANTED = 0xC000_0055;
    DELETE_PENDING = 0xC000_0056;
    PRIVILEGE_NOT_HELD = 0xC000_0061;
    NO_SUCH_USER = 0xC000_0064;
    WRONG_PASSWORD = 0xC000_006A;
    LOGON_FAILURE = 0xC000_006D;
    ACCOUNT_RESTRICTION = 0xC000_006E;
    INVALID_LOGON_HOURS = 0xC000_006F;
    PASSWORD_EXPIRED = 0xC000_0071;
    ACCOUNT_DISABLED = 0xC000_0072;
    NONE_MAPPED = 0xC000_0073;
    INVALID_SECURITY_DESCR = 0xC000_0079;
    RANGE_NOT_LOCKED = 0xC000_007E;
    DISK_FULL = 0xC000_007F;
    INSUFFICIENT_RESOURCES = 0xC000_009A;
    MEDIA_WRITE_PROTECTED = 0xC000_00A2;
    BAD_IMPERSONATION_LEVEL = 0xC000_00A5;
    PIPE_NOT_AVAILABLE = 0xC000_00AC;
    INVALID_PIPE_STATE = 0xC000_00AD;
    PIPE_BUSY = 0xC000_00AE;
    PIPE_DISCONNECTED = 0xC000_00B0;
    PIPE_CLOSING = 0xC000_00B1;
    IO_TIMEOUT = 0xC000_00B5;
    FILE_IS_A_DIRECTORY = 0xC000_00BA;
    NOT_SUPPORTED = 0xC000_00BB;
    BAD_NETWORK_PATH = 0xC000_00BE;
    INVALID_NETWORK_RESPONSE = 0xC000_00C3;
    NETWORK_NAME_DELETED = 0xC000_00C9;
    NETWORK_ACCESS_DENIED = 0xC000_00CA;
    BAD_NETWORK_NAME = 0xC000_00CC;
    REQUEST_NOT_ACCEPTED = 0xC000_00D0;
    NOT_SAME_DEVICE = 0xC000_00D4;
    FILE_RENAMED = 0xC000_00D5;
    PIPE_EMPTY = 0xC000_00D9;
    OPLOCK_NOT_GRANTED = 0xC000_00E2;
    INVALID_OPLOCK_PROTOCOL = 0xC000_00E3;
    INTERNAL_ERROR = 0xC000_00E5;
    INVALID_USER_BUFFER = 0xC000_00E8;
    DIRECTORY_NOT_EMPTY = 0xC000_0101;
    NOT_A_DIRECTORY = 0xC000_0103;
    TOO_MANY_OPENED_FILES = 0xC000_011F;
    CANCELLED = 0xC000_0120;
    CANNOT_DELETE = 0xC000_0121;
    FILE_CLOSED = 0xC000_0128;
    INVALID_LEVEL = 0xC000_0148;
    PIPE_BROKEN = 0xC000_014B;
    LOGON_TYPE_NOT_GRANTED = 0xC000_015B;
    INVALID_DEVICE_STATE = 0xC000_0184;
    FS_DRIVER_REQUIRED = 0xC000_019C;
    INVALID_LOCK_RANGE = 0xC000_01A1;
    NO_USER_SESSION_KEY = 0xC000_0202;
    USER_SESSION_DELETED = 0xC000_0203;
    CONNECTION_DISCONNECTED = 0xC000_020C;
    NOT_FOUND = 0xC000_0225;
    DUPLICATE_OBJECTID = 0xC000_022A;
    PATH_NOT_COVERED = 0xC000_0257;
    NOT_A_REPARSE_POINT = 0xC000_0275;
    IO_REPARSE_TAG_NOT_HANDLED = 0xC000_0279;
    NETWORK_SESSION_EXPIRED = 0xC000_035C;
    FILE_SYSTEM_LIMITATION = 0xC000_0427;
    REQUEST_OUT_OF_SEQUENCE = 0xC000_042A;
    SERVER_UNAVAILABLE = 0xC000_0466;
    FILE_NOT_AVAILABLE = 0xC000_0467;
    FILE_TOO_LARGE = 0xC000_0904;
    SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP = 0xC05D_0000;
}

impl NtStatus {
    /// Alias of [`NtStatus::NETWORK_NAME_DELETED`] (the tree connect is gone).
    pub const NETNAME_DELETED: NtStatus = NtStatus::NETWORK_NAME_DELETED;

    /// Severity "error" (top two bits 0b11).
    pub fn is_error(self) -> bool {
        self.0 >> 30 == 3
    }

    /// Severity "success" or "informational" (top bit clear). Warnings such as
    /// `STATUS_BUFFER_OVERFLOW` are neither success nor error.
    pub fn is_success(self) -> bool {
        self.0 >> 31 == 0
    }

    /// Severity "warning" (top two bits 0b10).
    pub fn is_warning(self) -> bool {
        self.0 >> 30 == 2
    }

    /// The symbolic name (`"STATUS_ACCESS_DENIED"`), if this crate knows it.
    pub fn name(self) -> Option<&'static str> {
        status_name(self.0)
    }
}

impl fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "NTSTATUS(0x{:08X})", self.0),
        }
    }
}

impl fmt::Display for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<u32> for NtStatus {
    fn from(v: u32) -> Self {
        NtStatus(v)
    }
}

impl From<NtStatus> for u32 {
    fn from(s: NtStatus) -> u32 {
        s.0
    }
}
