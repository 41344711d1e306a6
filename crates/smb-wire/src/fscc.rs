//! File system information classes (MS-FSCC section 2.4 and 2.5) as carried by SMB2
//! QUERY_INFO, SET_INFO and QUERY_DIRECTORY, plus the Windows wildcard matcher used to filter
//! directory listings (MS-FSA 2.1.4.4).
//!
//! Query-side structures only encode (the server produces them); set-side structures only
//! decode (the client produces them). Every decoder is bounds-checked: a buffer shorter than
//! the fixed part of the structure, or whose embedded length points past its end, yields
//! [`WireError::Truncated`], which the server maps to `STATUS_INFO_LENGTH_MISMATCH`. Trailing
//! bytes after a complete fixed-size structure are accepted and ignored, as Windows does.

use crate::codec::{sat32, utf16le, utf16le_to_string, Reader, Writer};
use crate::WireError;

/// File attributes (MS-FSCC 2.6).
pub mod attr {
    /// The file is read-only.
    pub const READONLY: u32 = 0x0000_0001;
    /// The file is hidden.
    pub const HIDDEN: u32 = 0x0000_0002;
    /// The file is part of the operating system.
    pub const SYSTEM: u32 = 0x0000_0004;
    /// The file is a directory.
    pub const DIRECTORY: u32 = 0x0000_0010;
    /// The file should be archived.
    pub const ARCHIVE: u32 = 0x0000_0020;
    /// No other attribute is set (only valid alone).
    pub const NORMAL: u32 = 0x0000_0080;
    /// The file is temporary.
    pub const TEMPORARY: u32 = 0x0000_0100;
    /// The file is sparse.
    pub const SPARSE_FILE: u32 = 0x0000_0200;
    /// The file has a reparse point.
    pub const REPARSE_POINT: u32 = 0x0000_0400;
    /// The file is compressed.
    pub const COMPRESSED: u32 = 0x0000_0800;
    /// The file data is not immediately available.
    pub const OFFLINE: u32 = 0x0000_1000;
    /// The file is not to be indexed.
    pub const NOT_CONTENT_INDEXED: u32 = 0x0000_2000;
    /// The file is encrypted.
    pub const ENCRYPTED: u32 = 0x0000_4000;
    /// The file has integrity support (ReFS).
    pub const INTEGRITY_STREAM: u32 = 0x0000_8000;
    /// The file is excluded from the data integrity scanner.
    pub const NO_SCRUB_DATA: u32 = 0x0002_0000;
}

/// Access mask bits (MS-SMB2 2.2.13.1, MS-DTYP 2.4.3) and the NTFS generic mapping.
pub mod access {
    /// Read file data / list a directory.
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    /// Same bit as [`FILE_READ_DATA`] on a directory.
    pub const FILE_LIST_DIRECTORY: u32 = 0x0000_0001;
    /// Write file data / create a file in a directory.
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    /// Same bit as [`FILE_WRITE_DATA`] on a directory.
    pub const FILE_ADD_FILE: u32 = 0x0000_0002;
    /// Append file data / create a subdirectory.
    pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
    /// Same bit as [`FILE_APPEND_DATA`] on a directory.
    pub const FILE_ADD_SUBDIRECTORY: u32 = 0x0000_0004;
    /// Read extended attributes.
    pub const FILE_READ_EA: u32 = 0x0000_0008;
    /// Write extended attributes.
    pub const FILE_WRITE_EA: u32 = 0x0000_0010;
    /// Execute a file / traverse a directory.
    pub const FILE_EXECUTE: u32 = 0x0000_0020;
    /// Same bit as [`FILE_EXECUTE`] on a directory.
    pub const FILE_TRAVERSE: u32 = 0x0000_0020;
    /// Delete entries of a directory.
    pub const FILE_DELETE_CHILD: u32 = 0x0000_0040;
    /// Read attributes.
    pub const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    /// Write attributes.
    pub const FILE_WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    /// Delete the object.
    pub const DELETE: u32 = 0x0001_0000;
    /// Read the security descriptor (not the SACL).
    pub const READ_CONTROL: u32 = 0x0002_0000;
    /// Change the DACL.
    pub const WRITE_DAC: u32 = 0x0004_0000;
    /// Change the owner.
    pub const WRITE_OWNER: u32 = 0x0008_0000;
    /// Wait on the handle.
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    /// Read or write the SACL.
    pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
    /// Ask for every right the caller could be granted.
    pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    /// Generic all.
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    /// Generic execute.
    pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
    /// Generic write.
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    /// Generic read.
    pub const GENERIC_READ: u32 = 0x8000_0000;

    /// NTFS mapping of [`GENERIC_READ`] (0x00120089).
    pub const FILE_GENERIC_READ: u32 =
        READ_CONTROL | SYNCHRONIZE | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA;
    /// NTFS mapping of [`GENERIC_WRITE`] (0x00120116).
    pub const FILE_GENERIC_WRITE: u32 = READ_CONTROL
        | SYNCHRONIZE
        | FILE_WRITE_DATA
        | FILE_APPEND_DATA
        | FILE_WRITE_ATTRIBUTES
        | FILE_WRITE_EA;
    /// NTFS mapping of [`GENERIC_EXECUTE`] (0x001200A0).
    pub const FILE_GENERIC_EXECUTE: u32 =
        READ_CONTROL | SYNCHRONIZE | FILE_EXECUTE | FILE_READ_ATTRIBUTES;
    /// NTFS mapping of [`GENERIC_ALL`] (0x001F01FF).
    pub const FILE_ALL_ACCESS: u32 = 0x001F_01FF;

    /// Replace the four GENERIC_* bits of `mask` by the file rights they stand for.
    ///
    /// NTFS uses one generic mapping for files and directories (the directory rights share
    /// their bits with the file rights: LIST_DIRECTORY = READ_DATA, ADD_FILE = WRITE_DATA…),
    /// so `is_dir` does not change the result today; it is part of the signature so callers
    /// never have to special-case it should a directory-specific mapping be introduced.
    /// [`MAXIMUM_ALLOWED`] and [`ACCESS_SYSTEM_SECURITY`] are left for the caller to resolve.
    pub fn map_generic(mask: u32, is_dir: bool) -> u32 {
        let _same_mapping_for_directories = is_dir;
        let mut out = mask & !(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL);
        if mask & GENERIC_READ != 0 {
            out |= FILE_GENERIC_READ;
        }
        if mask & GENERIC_WRITE != 0 {
            out |= FILE_GENERIC_WRITE;
        }
        if mask & GENERIC_EXECUTE != 0 {
            out |= FILE_GENERIC_EXECUTE;
        }
        if mask & GENERIC_ALL != 0 {
            out |= FILE_ALL_ACCESS;
        }
        out
    }
}

/// File information classes (MS-FSCC 2.4), the `FileInfoClass` of SMB2 QUERY/SET_INFO with
/// InfoType SMB2_0_INFO_FILE and of QUERY_DIRECTORY.
pub mod class {
    #![allow(non_upper_case_globals, missing_docs)]
    pub const FileDirectoryInformation: u8 = 1;
    pub const FileFullDirectoryInformation: u8 = 2;
    pub const FileBothDirectoryInformation: u8 = 3;
    pub const FileBasicInformation: u8 = 4;
    pub const FileStandardInformation: u8 = 5;
    pub const FileInternalInformation: u8 = 6;
    pub const FileEaInformation: u8 = 7;
    pub const FileAccessInformation: u8 = 8;
    pub const FileNameInformation: u8 = 9;
    pub const FileRenameInformation: u8 = 10;
    pub const FileLinkInformation: u8 = 11;
    pub const FileNamesInformation: u8 = 12;
    pub const FileDispositionInformation: u8 = 13;
    pub const FilePositionInformation: u8 = 14;
    pub const FileFullEaInformation: u8 = 15;
    pub const FileModeInformation: u8 = 16;
    pub const FileAlignmentInformation: u8 = 17;
    pub const FileAllInformation: u8 = 18;
    pub const FileAllocationInformation: u8 = 19;
    pub const FileEndOfFileInformation: u8 = 20;
    pub const FileAlternateNameInformation: u8 = 21;
    pub const FileStreamInformation: u8 = 22;
    pub const FilePipeInformation: u8 = 23;
    pub const FilePipeLocalInformation: u8 = 24;
    pub const FilePipeRemoteInformation: u8 = 25;
    pub const FileMailslotQueryInformation: u8 = 26;
    pub const FileMailslotSetInformation: u8 = 27;
    pub const FileCompressionInformation: u8 = 28;
    pub const FileObjectIdInformation: u8 = 29;
    pub const FileMoveClusterInformation: u8 = 31;
    pub const FileQuotaInformation: u8 = 32;
    pub const FileReparsePointInformation: u8 = 33;
    pub const FileNetworkOpenInformation: u8 = 34;
    pub const FileAttributeTagInformation: u8 = 35;
    pub const FileTrackingInformation: u8 = 36;
    pub const FileIdBothDirectoryInformation: u8 = 37;
    pub const FileIdFullDirectoryInformation: u8 = 38;
    pub const FileValidDataLengthInformation: u8 = 39;
    pub const FileShortNameInformation: u8 = 40;
    pub const FileSfioReserveInformation: u8 = 44;
    pub const FileSfioVolumeInformation: u8 = 45;
    pub const FileHardLinkInformation: u8 = 46;
    pub const FileNormalizedNameInformation: u8 = 48;
    pub const FileIdGlobalTxDirectoryInformation: u8 = 50;
    pub const FileStandardLinkInformation: u8 = 54;
    pub const FileIdInformation: u8 = 59;
    pub const FileIdExtdDirectoryInformation: u8 = 60;
    pub const FileDispositionInformationEx: u8 = 64;
    pub const FileRenameInformationEx: u8 = 65;
    pub const FileStatInformation: u8 = 68;
    pub const FileStatLxInformation: u8 = 70;
    pub const FileCaseSensitiveInformation: u8 = 71;
}

/// File system information classes (MS-FSCC 2.5), InfoType SMB2_0_INFO_FILESYSTEM.
pub mod fs_class {
    #![allow(non_upper_case_globals, missing_docs)]
    pub const FileFsVolumeInformation: u8 = 1;
    pub const FileFsLabelInformation: u8 = 2;
    pub const FileFsSizeInformation: u8 = 3;
    pub const FileFsDeviceInformation: u8 = 4;
    pub const FileFsAttributeInformation: u8 = 5;
    pub const FileFsControlInformation: u8 = 6;
    pub const FileFsFullSizeInformation: u8 = 7;
    pub const FileFsObjectIdInformation: u8 = 8;
    pub const FileFsSectorSizeInformation: u8 = 11;
}

/// File system attribute flags of [`FsAttributeInformation`] (MS-FSCC 2.5.1).
pub mod fs_attr {
    /// Case-sensitive file names are supported.
    pub const FILE_CASE_SENSITIVE_SEARCH: u32 = 0x0000_0001;
    /// The case of file names is preserved.
    pub const FILE_CASE_PRESERVED_NAMES: u32 = 0x0000_0002;
    /// Names are stored in Unicode.
    pub const FILE_UNICODE_ON_DISK: u32 = 0x0000_0004;
    /// ACLs are enforced.
    pub const FILE_PERSISTENT_ACLS: u32 = 0x0000_0008;
    /// Per-file compression is supported.
    pub const FILE_FILE_COMPRESSION: u32 = 0x0000_0010;
    /// Disk quotas are supported.
    pub const FILE_VOLUME_QUOTAS: u32 = 0x0000_0020;
    /// Sparse files are supported.
    pub const FILE_SUPPORTS_SPARSE_FILES: u32 = 0x0000_0040;
    /// Reparse points are supported.
    pub const FILE_SUPPORTS_REPARSE_POINTS: u32 = 0x0000_0080;
    /// Remote storage is supported.
    pub const FILE_SUPPORTS_REMOTE_STORAGE: u32 = 0x0000_0100;
    /// POSIX-style unlink and rename are supported.
    pub const FILE_SUPPORTS_POSIX_UNLINK_RENAME: u32 = 0x0000_0400;
    /// The volume is compressed.
    pub const FILE_VOLUME_IS_COMPRESSED: u32 = 0x0000_8000;
    /// Object identifiers are supported.
    pub const FILE_SUPPORTS_OBJECT_IDS: u32 = 0x0001_0000;
    /// EFS encryption is supported.
    pub const FILE_SUPPORTS_ENCRYPTION: u32 = 0x0002_0000;
    /// Named streams are supported.
    pub const FILE_NAMED_STREAMS: u32 = 0x0004_0000;
    /// The volume is read-only.
    pub const FILE_READ_ONLY_VOLUME: u32 = 0x0008_0000;
    /// The volume is write-once.
    pub const FILE_SEQUENTIAL_WRITE_ONCE: u32 = 0x0010_0000;
    /// Transactions are supported.
    pub const FILE_SUPPORTS_TRANSACTIONS: u32 = 0x0020_0000;
    /// Hard links are supported.
    pub const FILE_SUPPORTS_HARD_LINKS: u32 = 0x0040_0000;
    /// Extended attributes are supported.
    pub const FILE_SUPPORTS_EXTENDED_ATTRIBUTES: u32 = 0x0080_0000;
    /// Open by file id is supported.
    pub const FILE_SUPPORTS_OPEN_BY_FILE_ID: u32 = 0x0100_0000;
    /// An update sequence number journal is kept.
    pub const FILE_SUPPORTS_USN_JOURNAL: u32 = 0x0200_0000;
    /// Integrity streams are supported.
    pub const FILE_SUPPORT_INTEGRITY_STREAMS: u32 = 0x0400_0000;
    /// Block cloning is supported.
    pub const FILE_SUPPORTS_BLOCK_REFCOUNTING: u32 = 0x0800_0000;
    /// Sparse valid data length is supported.
    pub const FILE_SUPPORTS_SPARSE_VDL: u32 = 0x1000_0000;
}

/// `DeviceType` of [`FsDeviceInformation`] for a disk (MS-FSCC 2.5.10).
pub const FILE_DEVICE_DISK: u32 = 0x0000_0007;

/// `Characteristics` of [`FsDeviceInformation`] (MS-FSCC 2.5.10).
pub mod device {
    /// Removable media.
    pub const FILE_REMOVABLE_MEDIA: u32 = 0x0000_0001;
    /// Read-only device.
    pub const FILE_READ_ONLY_DEVICE: u32 = 0x0000_0002;
    /// Remote device (what a network file system reports).
    pub const FILE_REMOTE_DEVICE: u32 = 0x0000_0010;
    /// The device is mounted.
    pub const FILE_DEVICE_IS_MOUNTED: u32 = 0x0000_0020;
    /// Virtual volume.
    pub const FILE_VIRTUAL_VOLUME: u32 = 0x0000_0040;
    /// Opens are checked against the device's security descriptor.
    pub const FILE_DEVICE_SECURE_OPEN: u32 = 0x0000_0100;
}

/// Flags of [`FsSectorSizeInformation`] (MS-FSCC 2.5.7).
pub mod ssinfo {
    /// The first physical sector is aligned with the first logical sector.
    pub const SSINFO_FLAGS_ALIGNED_DEVICE: u32 = 0x0000_0001;
    /// The partition is aligned to physical sector boundaries.
    pub const SSINFO_FLAGS_PARTITION_ALIGNED_ON_DEVICE: u32 = 0x0000_0002;
    /// The device has no seek penalty (SSD).
    pub const SSINFO_FLAGS_NO_SEEK_PENALTY: u32 = 0x0000_0004;
    /// The device supports TRIM.
    pub const SSINFO_FLAGS_TRIM_ENABLED: u32 = 0x0000_0008;
    /// Value of the offsets when alignment is unknown.
    pub const SSINFO_OFFSET_UNKNOWN: u32 = 0xFFFF_FFFF;
}

// ---------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------

/// Seconds between 1601-01-01 and 1970-01-01.
const EPOCH_DIFF_SECS: i64 = 11_644_473_600;
const TICKS_PER_SEC: u64 = 10_000_000;

/// A Unix time (seconds and nanoseconds since 1970) as a FILETIME (100 ns ticks since 1601).
///
/// Saturates: times before 1601 give 0, times past the year 30828 give `u64::MAX`; `nanos`
/// above 999 999 999 are clamped.
pub fn unix_to_filetime(secs: i64, nanos: u32) -> u64 {
    let nanos = nanos.min(999_999_999);
    let Some(since_1601) = secs.checked_add(EPOCH_DIFF_SECS) else {
        return u64::MAX;
    };
    let Ok(since_1601) = u64::try_from(since_1601) else {
        return 0;
    };
    since_1601
        .checked_mul(TICKS_PER_SEC)
        .and_then(|t| t.checked_add(u64::from(nanos / 100)))
        .unwrap_or(u64::MAX)
}

/// The inverse of [`unix_to_filetime`]: (seconds, nanoseconds) since 1970. Exact for every
/// FILETIME (the result always fits).
pub fn filetime_to_unix(ft: u64) -> (i64, u32) {
    let secs = i64::try_from(ft / TICKS_PER_SEC).unwrap_or(i64::MAX) - EPOCH_DIFF_SECS;
    // < 10^7 * 100 < 2^32
    let nanos = u32::try_from((ft % TICKS_PER_SEC) * 100).unwrap_or(0);
    (secs, nanos)
}

// ---------------------------------------------------------------------------------------
// Query side: encoders
// ---------------------------------------------------------------------------------------

/// FileBasicInformation (MS-FSCC 2.4.7), 40 bytes, as returned by QUERY_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileBasicInformation {
    /// FILETIME of creation.
    pub creation_time: u64,
    /// FILETIME of last access.
    pub last_access_time: u64,
    /// FILETIME of last data write.
    pub last_write_time: u64,
    /// FILETIME of last change (data or metadata).
    pub change_time: u64,
    /// [`attr`] bits.
    pub file_attributes: u32,
}

impl FileBasicInformation {
    /// Encoded size.
    pub const SIZE: usize = 40;
    /// Append the 40-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.creation_time);
        out.put_u64(self.last_access_time);
        out.put_u64(self.last_write_time);
        out.put_u64(self.change_time);
        out.put_u32(self.file_attributes);
        out.put_u32(0);
    }
}

/// FileStandardInformation (MS-FSCC 2.4.41), 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStandardInformation {
    /// Bytes allocated on disk.
    pub allocation_size: u64,
    /// File size.
    pub end_of_file: u64,
    /// Hard link count.
    pub number_of_links: u32,
    /// A delete is pending on close.
    pub delete_pending: bool,
    /// The file is a directory.
    pub directory: bool,
}

impl FileStandardInformation {
    /// Encoded size.
    pub const SIZE: usize = 24;
    /// Append the 24-byte encoding (2 reserved bytes included).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.allocation_size);
        out.put_u64(self.end_of_file);
        out.put_u32(self.number_of_links);
        out.put_u8(u8::from(self.delete_pending));
        out.put_u8(u8::from(self.directory));
        out.put_u16(0);
    }
}

/// FileInternalInformation (MS-FSCC 2.4.22): the 64-bit file id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileInternalInformation {
    /// The file id (inode number).
    pub index_number: u64,
}

impl FileInternalInformation {
    /// Append the 8-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.index_number);
    }
}

/// FileEaInformation (MS-FSCC 2.4.13): size of the file's extended attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileEaInformation {
    /// Bytes needed to hold the EAs as FILE_FULL_EA_INFORMATION.
    pub ea_size: u32,
}

impl FileEaInformation {
    /// Append the 4-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.ea_size);
    }
}

/// FileAccessInformation (MS-FSCC 2.4.1): the rights granted to the open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileAccessInformation {
    /// Granted access mask.
    pub access_flags: u32,
}

impl FileAccessInformation {
    /// Append the 4-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.access_flags);
    }
}

/// FilePositionInformation (MS-FSCC 2.4.35): the open's current byte offset. Used both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FilePositionInformation {
    /// Current byte offset.
    pub current_byte_offset: i64,
}

impl FilePositionInformation {
    /// Append the 8-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_bytes(&self.current_byte_offset.to_le_bytes());
    }
    /// Decode a SET_INFO buffer; negative offsets are a [`WireError::BadValue`].
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let v = Reader::new(buf).i64()?;
        if v < 0 {
            return Err(WireError::BadValue);
        }
        Ok(Self {
            current_byte_offset: v,
        })
    }
}

/// FileModeInformation (MS-FSCC 2.4.26). Used both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileModeInformation {
    /// FILE_WRITE_THROUGH 0x2, FILE_SEQUENTIAL_ONLY 0x4, FILE_NO_INTERMEDIATE_BUFFERING 0x8,
    /// FILE_SYNCHRONOUS_IO_ALERT 0x10, FILE_SYNCHRONOUS_IO_NONALERT 0x20,
    /// FILE_DELETE_ON_CLOSE 0x1000.
    pub mode: u32,
}

impl FileModeInformation {
    /// Append the 4-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.mode);
    }
    /// Decode a SET_INFO buffer.
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            mode: Reader::new(buf).u32()?,
        })
    }
}

/// FileAlignmentInformation (MS-FSCC 2.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileAlignmentInformation {
    /// FILE_BYTE_ALIGNMENT is 0.
    pub alignment_requirement: u32,
}

impl FileAlignmentInformation {
    /// Append the 4-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.alignment_requirement);
    }
}

/// FileNameInformation (MS-FSCC 2.4.27): a length-prefixed UTF-16 name. Also the layout of
/// FileNormalizedNameInformation, FileAlternateNameInformation and the set-side
/// FileShortNameInformation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileNameInformation {
    /// The name (a share-relative path with a leading backslash for the All class).
    pub file_name: String,
}

impl FileNameInformation {
    /// Append FileNameLength + UTF-16 name.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let name = utf16le(&self.file_name);
        out.put_u32(sat32(name.len()));
        out.put_bytes(&name);
    }
    /// Decode a name buffer (SET_INFO FileShortNameInformation, or a test).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let len = r.u32()? as usize;
        let name = r.bytes(len)?;
        Ok(Self {
            file_name: utf16le_to_string(name)?,
        })
    }
}

/// FileNormalizedNameInformation (MS-FSCC 2.4.30) has the FileNameInformation layout.
pub type FileNormalizedNameInformation = FileNameInformation;

/// FileAllInformation (MS-FSCC 2.4.2): Basic, Standard, Internal, Ea, Access, Position,
/// Mode, Alignment and Name, in that order, 100 fixed bytes then the name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileAllInformation {
    /// Times and attributes.
    pub basic: FileBasicInformation,
    /// Sizes, link count, flags.
    pub standard: FileStandardInformation,
    /// File id.
    pub internal: FileInternalInformation,
    /// EA size.
    pub ea: FileEaInformation,
    /// Granted access.
    pub access: FileAccessInformation,
    /// Current offset.
    pub position: FilePositionInformation,
    /// Mode flags.
    pub mode: FileModeInformation,
    /// Alignment requirement.
    pub alignment: FileAlignmentInformation,
    /// The name.
    pub name: FileNameInformation,
}

impl FileAllInformation {
    /// Size of the part before the name characters.
    pub const FIXED_SIZE: usize = 100;
    /// Append the whole structure.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.basic.encode(out);
        self.standard.encode(out);
        self.internal.encode(out);
        self.ea.encode(out);
        self.access.encode(out);
        self.position.encode(out);
        self.mode.encode(out);
        self.alignment.encode(out);
        self.name.encode(out);
    }
}

/// FileNetworkOpenInformation (MS-FSCC 2.4.29), 56 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileNetworkOpenInformation {
    /// FILETIME of creation.
    pub creation_time: u64,
    /// FILETIME of last access.
    pub last_access_time: u64,
    /// FILETIME of last write.
    pub last_write_time: u64,
    /// FILETIME of last change.
    pub change_time: u64,
    /// Bytes allocated.
    pub allocation_size: u64,
    /// File size.
    pub end_of_file: u64,
    /// [`attr`] bits.
    pub file_attributes: u32,
}

impl FileNetworkOpenInformation {
    /// Append the 56-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.creation_time);
        out.put_u64(self.last_access_time);
        out.put_u64(self.last_write_time);
        out.put_u64(self.change_time);
        out.put_u64(self.allocation_size);
        out.put_u64(self.end_of_file);
        out.put_u32(self.file_attributes);
        out.put_u32(0);
    }
}

/// FileAttributeTagInformation (MS-FSCC 2.4.6), 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileAttributeTagInformation {
    /// [`attr`] bits.
    pub file_attributes: u32,
    /// Reparse tag if [`attr::REPARSE_POINT`] is set, else 0.
    pub reparse_tag: u32,
}

impl FileAttributeTagInformation {
    /// Append the 8-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.file_attributes);
        out.put_u32(self.reparse_tag);
    }
}

/// One entry of FileStreamInformation (MS-FSCC 2.4.43).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamEntry {
    /// Stream name as Windows shows it: `::$DATA` for the unnamed data stream,
    /// `:name:$DATA` for a named one.
    pub name: String,
    /// Stream size.
    pub size: u64,
    /// Bytes allocated to the stream.
    pub allocation_size: u64,
}

/// FileStreamInformation: a chain of [`StreamEntry`], each 8-byte aligned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileStreamInformation {
    /// The streams; a plain file has one entry named `::$DATA`, a directory none.
    pub streams: Vec<StreamEntry>,
}

impl FileStreamInformation {
    /// The main data stream of a file of `size` bytes occupying `allocation_size`.
    pub fn main_stream(size: u64, allocation_size: u64) -> Self {
        Self {
            streams: vec![StreamEntry {
                name: "::$DATA".into(),
                size,
                allocation_size,
            }],
        }
    }
    /// Append the chain; NextEntryOffset of the last entry is 0 and it is not padded.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let base = out.len();
        let mut prev: Option<usize> = None;
        for s in &self.streams {
            if prev.is_some() {
                let rel = out.len() - base;
                out.put_zeros((8 - rel % 8) % 8);
            }
            let start = out.len();
            if let Some(p) = prev {
                out.patch_u32(p, sat32(start - p));
            }
            let name = utf16le(&s.name);
            out.put_u32(0);
            out.put_u32(sat32(name.len()));
            out.put_u64(s.size);
            out.put_u64(s.allocation_size);
            out.put_bytes(&name);
            prev = Some(start);
        }
    }
}

/// FileCompressionInformation (MS-FSCC 2.4.9), 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileCompressionInformation {
    /// Compressed size (the file size for an uncompressed file).
    pub compressed_file_size: u64,
    /// COMPRESSION_FORMAT_NONE is 0, LZNT1 is 2.
    pub compression_format: u16,
    /// log2 of the compression unit.
    pub compression_unit_shift: u8,
    /// log2 of the chunk size.
    pub chunk_shift: u8,
    /// log2 of the cluster size.
    pub cluster_shift: u8,
}

impl FileCompressionInformation {
    /// Append the 16-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.compressed_file_size);
        out.put_u16(self.compression_format);
        out.put_u8(self.compression_unit_shift);
        out.put_u8(self.chunk_shift);
        out.put_u8(self.cluster_shift);
        out.put_zeros(3);
    }
}

/// FileIdInformation (MS-FSCC 2.4.21), 24 bytes: volume serial and 128-bit file id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileIdInformation {
    /// Volume serial number (as in [`FsVolumeInformation`], widened).
    pub volume_serial_number: u64,
    /// The file id; a 64-bit inode number goes in the low half.
    pub file_id: u128,
}

impl FileIdInformation {
    /// Append the 24-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.volume_serial_number);
        out.put_bytes(&self.file_id.to_le_bytes());
    }
}

/// FileStatInformation (MS-FSCC 2.4.47), 72 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStatInformation {
    /// File id (inode number).
    pub file_id: u64,
    /// FILETIME of creation.
    pub creation_time: u64,
    /// FILETIME of last access.
    pub last_access_time: u64,
    /// FILETIME of last write.
    pub last_write_time: u64,
    /// FILETIME of last change.
    pub change_time: u64,
    /// Bytes allocated.
    pub allocation_size: u64,
    /// File size.
    pub end_of_file: u64,
    /// [`attr`] bits.
    pub file_attributes: u32,
    /// Reparse tag, or 0.
    pub reparse_tag: u32,
    /// Hard link count.
    pub number_of_links: u32,
    /// The open's granted access.
    pub effective_access: u32,
}

impl FileStatInformation {
    /// Append the 72-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.file_id);
        out.put_u64(self.creation_time);
        out.put_u64(self.last_access_time);
        out.put_u64(self.last_write_time);
        out.put_u64(self.change_time);
        out.put_u64(self.allocation_size);
        out.put_u64(self.end_of_file);
        out.put_u32(self.file_attributes);
        out.put_u32(self.reparse_tag);
        out.put_u32(self.number_of_links);
        out.put_u32(self.effective_access);
    }
}

// ----- file system classes -----

/// FileFsVolumeInformation (MS-FSCC 2.5.9).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FsVolumeInformation {
    /// FILETIME of volume creation.
    pub creation_time: u64,
    /// Volume serial number.
    pub serial_number: u32,
    /// The volume label (the share name, typically).
    pub label: String,
    /// Whether object ids are supported.
    pub supports_objects: bool,
}

impl FsVolumeInformation {
    /// Append the 18 fixed bytes and the label.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let label = utf16le(&self.label);
        out.put_u64(self.creation_time);
        out.put_u32(self.serial_number);
        out.put_u32(sat32(label.len()));
        out.put_u8(u8::from(self.supports_objects));
        out.put_u8(0);
        out.put_bytes(&label);
    }
}

/// FileFsSizeInformation (MS-FSCC 2.5.8), 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsSizeInformation {
    /// Total allocation units.
    pub total_allocation_units: u64,
    /// Allocation units available to the caller.
    pub available_allocation_units: u64,
    /// Sectors per allocation unit.
    pub sectors_per_allocation_unit: u32,
    /// Bytes per sector.
    pub bytes_per_sector: u32,
}

impl FsSizeInformation {
    /// Append the 24-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.total_allocation_units);
        out.put_u64(self.available_allocation_units);
        out.put_u32(self.sectors_per_allocation_unit);
        out.put_u32(self.bytes_per_sector);
    }
}

/// FileFsFullSizeInformation (MS-FSCC 2.5.4), 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsFullSizeInformation {
    /// Total allocation units.
    pub total_allocation_units: u64,
    /// Units available to the caller (quota applied).
    pub caller_available_allocation_units: u64,
    /// Units free on the volume.
    pub actual_available_allocation_units: u64,
    /// Sectors per allocation unit.
    pub sectors_per_allocation_unit: u32,
    /// Bytes per sector.
    pub bytes_per_sector: u32,
}

impl FsFullSizeInformation {
    /// Append the 32-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.total_allocation_units);
        out.put_u64(self.caller_available_allocation_units);
        out.put_u64(self.actual_available_allocation_units);
        out.put_u32(self.sectors_per_allocation_unit);
        out.put_u32(self.bytes_per_sector);
    }
}

/// FileFsDeviceInformation (MS-FSCC 2.5.10), 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsDeviceInformation {
    /// [`FILE_DEVICE_DISK`] for a share.
    pub device_type: u32,
    /// [`device`] bits.
    pub characteristics: u32,
}

impl Default for FsDeviceInformation {
    fn default() -> Self {
        Self {
            device_type: FILE_DEVICE_DISK,
            characteristics: device::FILE_DEVICE_IS_MOUNTED,
        }
    }
}

impl FsDeviceInformation {
    /// Append the 8-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.device_type);
        out.put_u32(self.characteristics);
    }
}

/// FileFsAttributeInformation (MS-FSCC 2.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsAttributeInformation {
    /// [`fs_attr`] bits.
    pub attributes: u32,
    /// Longest file name component (255).
    pub max_component_name_length: u32,
    /// File system name; Windows clients enable features for "NTFS".
    pub fs_name: String,
}

impl Default for FsAttributeInformation {
    /// What a POSIX file system shared over SMB honestly offers (0x0040004F): case-sensitive
    /// search and preserved case, Unicode names, ACLs (synthesised from modes), sparse files
    /// and hard links; no named streams, EAs, object ids or reparse points. Name "NTFS", as
    /// Windows clients enable features by it.
    fn default() -> Self {
        Self {
            attributes: fs_attr::FILE_CASE_SENSITIVE_SEARCH
                | fs_attr::FILE_CASE_PRESERVED_NAMES
                | fs_attr::FILE_UNICODE_ON_DISK
                | fs_attr::FILE_PERSISTENT_ACLS
                | fs_attr::FILE_SUPPORTS_SPARSE_FILES
                | fs_attr::FILE_SUPPORTS_HARD_LINKS,
            max_component_name_length: 255,
            fs_name: "NTFS".into(),
        }
    }
}

impl FsAttributeInformation {
    /// Append the 12 fixed bytes and the name.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let name = utf16le(&self.fs_name);
        out.put_u32(self.attributes);
        out.put_u32(self.max_component_name_length);
        out.put_u32(sat32(name.len()));
        out.put_bytes(&name);
    }
}

/// FileFsSectorSizeInformation (MS-FSCC 2.5.7): seven u32 fields, 28 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsSectorSizeInformation {
    /// Logical sector size.
    pub logical_bytes_per_sector: u32,
    /// Physical sector size for atomic writes.
    pub physical_bytes_per_sector_for_atomicity: u32,
    /// Physical sector size for best performance.
    pub physical_bytes_per_sector_for_performance: u32,
    /// What the file system treats as the atomic unit.
    pub fs_effective_physical_bytes_per_sector_for_atomicity: u32,
    /// [`ssinfo`] flags.
    pub flags: u32,
    /// Offset of the first aligned sector, or [`ssinfo::SSINFO_OFFSET_UNKNOWN`].
    pub byte_offset_for_sector_alignment: u32,
    /// Offset of the partition, or [`ssinfo::SSINFO_OFFSET_UNKNOWN`].
    pub byte_offset_for_partition_alignment: u32,
}

impl FsSectorSizeInformation {
    /// 512-byte logical, 4096-byte physical sectors, aligned, offsets 0.
    pub fn typical() -> Self {
        Self {
            logical_bytes_per_sector: 512,
            physical_bytes_per_sector_for_atomicity: 4096,
            physical_bytes_per_sector_for_performance: 4096,
            fs_effective_physical_bytes_per_sector_for_atomicity: 4096,
            flags: ssinfo::SSINFO_FLAGS_ALIGNED_DEVICE
                | ssinfo::SSINFO_FLAGS_PARTITION_ALIGNED_ON_DEVICE,
            byte_offset_for_sector_alignment: 0,
            byte_offset_for_partition_alignment: 0,
        }
    }
    /// Append the 28-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.logical_bytes_per_sector);
        out.put_u32(self.physical_bytes_per_sector_for_atomicity);
        out.put_u32(self.physical_bytes_per_sector_for_performance);
        out.put_u32(self.fs_effective_physical_bytes_per_sector_for_atomicity);
        out.put_u32(self.flags);
        out.put_u32(self.byte_offset_for_sector_alignment);
        out.put_u32(self.byte_offset_for_partition_alignment);
    }
}

/// FileFsObjectIdInformation (MS-FSCC 2.5.6), 64 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsObjectIdInformation {
    /// The volume's object id (a GUID).
    pub object_id: [u8; 16],
    /// Opaque extended information.
    pub extended_info: [u8; 48],
}

impl FsObjectIdInformation {
    /// Append the 64-byte encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_bytes(&self.object_id);
        out.put_bytes(&self.extended_info);
    }
}

// ---------------------------------------------------------------------------------------
// Set side: decoders
// ---------------------------------------------------------------------------------------

/// What a time field of a SET_INFO FileBasicInformation asks for (MS-FSCC 2.4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUpdate {
    /// 0: leave the time as it is.
    Unchanged,
    /// A FILETIME to set.
    Set(u64),
    /// -1: stop updating this time automatically for this handle.
    StopUpdating,
    /// -2: resume automatic updates for this handle.
    ResumeUpdating,
}

impl TimeUpdate {
    fn from_raw(v: i64) -> Result<Self, WireError> {
        match v {
            0 => Ok(Self::Unchanged),
            -1 => Ok(Self::StopUpdating),
            -2 => Ok(Self::ResumeUpdating),
            v if v > 0 => Ok(Self::Set(v.unsigned_abs())),
            _ => Err(WireError::BadValue),
        }
    }
}

/// A SET_INFO FileBasicInformation: which times and attributes to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetBasicInformation {
    /// Creation time update.
    pub creation_time: TimeUpdate,
    /// Last access time update.
    pub last_access_time: TimeUpdate,
    /// Last write time update.
    pub last_write_time: TimeUpdate,
    /// Change time update.
    pub change_time: TimeUpdate,
    /// New attributes; 0 means leave them unchanged.
    pub file_attributes: u32,
}

impl SetBasicInformation {
    /// Decode (at least 36 bytes; the trailing reserved u32 may be absent). Times below -2
    /// are [`WireError::BadValue`].
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let creation_time = r.i64()?;
        let last_access_time = r.i64()?;
        let last_write_time = r.i64()?;
        let change_time = r.i64()?;
        let file_attributes = r.u32()?;
        Ok(Self {
            creation_time: TimeUpdate::from_raw(creation_time)?,
            last_access_time: TimeUpdate::from_raw(last_access_time)?,
            last_write_time: TimeUpdate::from_raw(last_write_time)?,
            change_time: TimeUpdate::from_raw(change_time)?,
            file_attributes,
        })
    }
}

/// Flags of FileRenameInformationEx (MS-FSCC 2.4.38.2).
pub mod rename_flags {
    /// Replace an existing target.
    pub const FILE_RENAME_REPLACE_IF_EXISTS: u32 = 0x0000_0001;
    /// POSIX semantics (replace an open target).
    pub const FILE_RENAME_POSIX_SEMANTICS: u32 = 0x0000_0002;
    /// Do not inherit the pin state.
    pub const FILE_RENAME_SUPPRESS_PIN_STATE_INHERITANCE: u32 = 0x0000_0004;
    /// Do not inherit the storage reserve.
    pub const FILE_RENAME_SUPPRESS_STORAGE_RESERVE_INHERITANCE: u32 = 0x0000_0008;
    /// No increase of available space.
    pub const FILE_RENAME_NO_INCREASE_AVAILABLE_SPACE: u32 = 0x0000_0010;
    /// No decrease of available space.
    pub const FILE_RENAME_NO_DECREASE_AVAILABLE_SPACE: u32 = 0x0000_0020;
    /// Replace a read-only target.
    pub const FILE_RENAME_IGNORE_READONLY_ATTRIBUTE: u32 = 0x0000_0040;
}

/// Upper bound on a target name in bytes (32767 UTF-16 units, the NT path limit).
pub const MAX_NAME_BYTES: usize = 65_534;

/// A SET_INFO FileRenameInformation / FileRenameInformationEx / FileLinkInformation (SMB2
/// form, MS-FSCC 2.4.38.2 and 2.4.24.2): 20 fixed bytes then the UTF-16 target name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameInformation {
    /// [`rename_flags`]; for the non-Ex classes only `FILE_RENAME_REPLACE_IF_EXISTS`, set
    /// when ReplaceIfExists is non-zero.
    pub flags: u32,
    /// RootDirectory; MUST be 0 over SMB2 (the server rejects anything else).
    pub root_directory: u64,
    /// The target, relative to the share root.
    pub file_name: String,
}

impl RenameInformation {
    /// Decode the FileRenameInformation / FileLinkInformation form (ReplaceIfExists u8 and
    /// 7 reserved bytes).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let replace = r.u8()?;
        r.skip(7)?;
        let flags = if replace != 0 {
            rename_flags::FILE_RENAME_REPLACE_IF_EXISTS
        } else {
            0
        };
        Self::rest(r, flags)
    }
    /// Decode the FileRenameInformationEx form (Flags u32 and 4 reserved bytes).
    pub fn decode_ex(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let flags = r.u32()?;
        r.skip(4)?;
        Self::rest(r, flags)
    }
    fn rest(mut r: Reader<'_>, flags: u32) -> Result<Self, WireError> {
        let root_directory = r.u64()?;
        let len = r.u32()? as usize;
        if len > MAX_NAME_BYTES {
            return Err(WireError::TooLarge);
        }
        let name = r.bytes(len)?;
        Ok(Self {
            flags,
            root_directory,
            file_name: utf16le_to_string(name)?,
        })
    }
    /// ReplaceIfExists (non-Ex) or FILE_RENAME_REPLACE_IF_EXISTS (Ex).
    pub fn replace_if_exists(&self) -> bool {
        self.flags & rename_flags::FILE_RENAME_REPLACE_IF_EXISTS != 0
    }
}

/// FileLinkInformation has the same SMB2 layout as FileRenameInformation.
pub type LinkInformation = RenameInformation;

/// SET_INFO FileDispositionInformation (MS-FSCC 2.4.11): one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispositionInformation {
    /// Delete on close (true) or cancel a pending delete (false).
    pub delete_pending: bool,
}

impl DispositionInformation {
    /// Decode (1 byte or more).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            delete_pending: Reader::new(buf).u8()? != 0,
        })
    }
}

/// Flags of FileDispositionInformationEx (MS-FSCC 2.4.12).
pub mod disposition_flags {
    /// Cancel a pending delete.
    pub const FILE_DISPOSITION_DO_NOT_DELETE: u32 = 0x0000_0000;
    /// Mark for deletion.
    pub const FILE_DISPOSITION_DELETE: u32 = 0x0000_0001;
    /// Unlink the name immediately when the handle closes, even if other handles are open.
    pub const FILE_DISPOSITION_POSIX_SEMANTICS: u32 = 0x0000_0002;
    /// Check image sections.
    pub const FILE_DISPOSITION_FORCE_IMAGE_SECTION_CHECK: u32 = 0x0000_0004;
    /// Apply the delete-on-close state of the open.
    pub const FILE_DISPOSITION_ON_CLOSE: u32 = 0x0000_0008;
    /// Allow deleting a read-only file.
    pub const FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE: u32 = 0x0000_0010;
    /// Every flag this crate knows.
    pub const ALL: u32 = 0x1F;
}

/// SET_INFO FileDispositionInformationEx: a u32 of [`disposition_flags`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispositionInformationEx {
    /// The flags (unknown bits are a [`WireError::BadValue`]).
    pub flags: u32,
}

impl DispositionInformationEx {
    /// Decode (4 bytes or more).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let flags = Reader::new(buf).u32()?;
        if flags & !disposition_flags::ALL != 0 {
            return Err(WireError::BadValue);
        }
        Ok(Self { flags })
    }
    /// Whether the file is to be deleted.
    pub fn delete(&self) -> bool {
        self.flags & disposition_flags::FILE_DISPOSITION_DELETE != 0
    }
}

fn decode_nonneg_i64(buf: &[u8]) -> Result<u64, WireError> {
    let v = Reader::new(buf).i64()?;
    u64::try_from(v).map_err(|_| WireError::BadValue)
}

/// SET_INFO FileEndOfFileInformation (MS-FSCC 2.4.14): the new size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndOfFileInformation {
    /// New file size (negative sizes are a [`WireError::BadValue`]).
    pub end_of_file: u64,
}

impl EndOfFileInformation {
    /// Decode (8 bytes or more).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            end_of_file: decode_nonneg_i64(buf)?,
        })
    }
}

/// SET_INFO FileAllocationInformation (MS-FSCC 2.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocationInformation {
    /// New allocation size.
    pub allocation_size: u64,
}

impl AllocationInformation {
    /// Decode (8 bytes or more).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            allocation_size: decode_nonneg_i64(buf)?,
        })
    }
}

/// SET_INFO FileValidDataLengthInformation (MS-FSCC 2.4.49).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidDataLengthInformation {
    /// New valid data length.
    pub valid_data_length: u64,
}

impl ValidDataLengthInformation {
    /// Decode (8 bytes or more).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        Ok(Self {
            valid_data_length: decode_nonneg_i64(buf)?,
        })
    }
}

/// SET_INFO FileShortNameInformation (MS-FSCC 2.4.40), FileNameInformation layout.
pub type ShortNameInformation = FileNameInformation;

/// One FILE_FULL_EA_INFORMATION entry (MS-FSCC 2.4.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullEa {
    /// FILE_NEED_EA 0x80 or 0.
    pub flags: u8,
    /// The EA name (8-bit characters, no NUL).
    pub name: Vec<u8>,
    /// The value; empty in a SET means delete the EA.
    pub value: Vec<u8>,
}

/// Parse a FILE_FULL_EA_INFORMATION chain (SET_INFO FileFullEaInformation, or CREATE's EA
/// context). Each NextEntryOffset must be a multiple of 4, move forward, and cover the
/// entry; names must be NUL-terminated; nothing may point outside `buf`.
pub fn decode_full_ea_list(buf: &[u8]) -> Result<Vec<FullEa>, WireError> {
    let mut out = Vec::new();
    let mut off = 0usize;
    loop {
        let mut r = Reader::at(buf, off);
        let next = r.u32()? as usize;
        let flags = r.u8()?;
        let name_len = usize::from(r.u8()?);
        let value_len = usize::from(r.u16()?);
        let name = r.bytes(name_len)?.to_vec();
        if r.u8()? != 0 {
            return Err(WireError::BadValue);
        }
        let value = r.bytes(value_len)?.to_vec();
        out.push(FullEa { flags, name, value });
        if next == 0 {
            return Ok(out);
        }
        if next % 4 != 0 || next < r.pos() - off {
            return Err(WireError::BadOffset);
        }
        off = off.checked_add(next).ok_or(WireError::BadOffset)?;
        if off >= buf.len() {
            return Err(WireError::BadOffset);
        }
    }
}

/// Encode a FILE_FULL_EA_INFORMATION chain (QUERY_INFO FileFullEaInformation), entries
/// 4-byte aligned, the last with NextEntryOffset 0. Names longer than 255 bytes or values
/// longer than 65535 bytes are a [`WireError::TooLarge`].
pub fn encode_full_ea_list(list: &[FullEa], out: &mut Vec<u8>) -> Result<(), WireError> {
    let base = out.len();
    let mut prev: Option<usize> = None;
    for ea in list {
        let name_len = u8::try_from(ea.name.len()).map_err(|_| WireError::TooLarge)?;
        let value_len = u16::try_from(ea.value.len()).map_err(|_| WireError::TooLarge)?;
        if prev.is_some() {
            let rel = out.len() - base;
            out.put_zeros((4 - rel % 4) % 4);
        }
        let start = out.len();
        if let Some(p) = prev {
            out.patch_u32(p, sat32(start - p));
        }
        out.put_u32(0);
        out.put_u8(ea.flags);
        out.put_u8(name_len);
        out.put_u16(value_len);
        out.put_bytes(&ea.name);
        out.put_u8(0);
        out.put_bytes(&ea.value);
        prev = Some(start);
    }
    Ok(())
}

/// SET_INFO FileFsControlInformation (MS-FSCC 2.5.2), 48 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsControlInformation {
    /// Free space below which content indexing starts filtering.
    pub free_space_start_filtering: i64,
    /// Free space threshold.
    pub free_space_threshold: i64,
    /// Free space at which filtering stops.
    pub free_space_stop_filtering: i64,
    /// Default per-user quota warning threshold.
    pub default_quota_threshold: u64,
    /// Default per-user quota limit.
    pub default_quota_limit: u64,
    /// FILE_VC_* flags.
    pub file_system_control_flags: u32,
}

impl FsControlInformation {
    /// Decode (at least 44 bytes; the trailing padding may be absent).
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        Ok(Self {
            free_space_start_filtering: r.i64()?,
            free_space_threshold: r.i64()?,
            free_space_stop_filtering: r.i64()?,
            default_quota_threshold: r.u64()?,
            default_quota_limit: r.u64()?,
            file_system_control_flags: r.u32()?,
        })
    }
    /// Append the 48-byte encoding (QUERY_INFO).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_bytes(&self.free_space_start_filtering.to_le_bytes());
        out.put_bytes(&self.free_space_threshold.to_le_bytes());
        out.put_bytes(&self.free_space_stop_filtering.to_le_bytes());
        out.put_u64(self.default_quota_threshold);
        out.put_u64(self.default_quota_limit);
        out.put_u32(self.file_system_control_flags);
        out.put_u32(0);
    }
}

/// SET_INFO FileFsLabelInformation (MS-FSCC 2.5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsLabelInformation {
    /// The new label.
    pub label: String,
}

impl FsLabelInformation {
    /// Decode VolumeLabelLength + UTF-16 label.
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let len = r.u32()? as usize;
        let label = r.bytes(len)?;
        Ok(Self {
            label: utf16le_to_string(label)?,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Directory enumeration
// ---------------------------------------------------------------------------------------

/// Everything any directory information class may need about one directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirEntryInfo {
    /// FileIndex: 0 on file systems without a stable position (all of ours).
    pub file_index: u32,
    /// FILETIME of creation.
    pub creation_time: u64,
    /// FILETIME of last access.
    pub last_access_time: u64,
    /// FILETIME of last write.
    pub last_write_time: u64,
    /// FILETIME of last change.
    pub change_time: u64,
    /// File size.
    pub end_of_file: u64,
    /// Bytes allocated.
    pub allocation_size: u64,
    /// [`attr`] bits.
    pub attributes: u32,
    /// EA size (the reparse tag for reparse points, per MS-FSCC).
    pub ea_size: u32,
    /// File id (inode number).
    pub file_id: u64,
    /// 8.3 name for the Both classes; may be empty, at most 12 UTF-16 units.
    pub short_name: String,
    /// The entry's name.
    pub name: String,
}

/// Append one directory entry of information class `class` at the end of `out`, with
/// NextEntryOffset 0 and no trailing padding, and return the number of bytes written.
///
/// Supported classes: FileDirectory, FileFullDirectory, FileBothDirectory,
/// FileIdBothDirectory, FileIdFullDirectory, FileNames, FileIdExtdDirectory. Any other
/// class is a [`WireError::BadValue`] (the server answers STATUS_INVALID_INFO_CLASS); a
/// short name longer than 12 UTF-16 units is a [`WireError::BadValue`] too.
pub fn encode_dir_entry(
    class: u8,
    e: &DirEntryInfo,
    out: &mut Vec<u8>,
) -> Result<usize, WireError> {
    use self::class as c;
    let name = utf16le(&e.name);
    let start = out.len();
    let times = |out: &mut Vec<u8>| {
        out.put_u64(e.creation_time);
        out.put_u64(e.last_access_time);
        out.put_u64(e.last_write_time);
        out.put_u64(e.change_time);
        out.put_u64(e.end_of_file);
        out.put_u64(e.allocation_size);
        out.put_u32(e.attributes);
        out.put_u32(sat32(name.len()));
    };
    let short = |out: &mut Vec<u8>| -> Result<(), WireError> {
        let s = utf16le(&e.short_name);
        if s.len() > 24 {
            return Err(WireError::BadValue);
        }
        out.put_u8(u8::try_from(s.len()).map_err(|_| WireError::BadValue)?);
        out.put_u8(0);
        out.put_bytes(&s);
        out.put_zeros(24 - s.len());
        Ok(())
    };
    match class {
        c::FileDirectoryInformation
        | c::FileFullDirectoryInformation
        | c::FileBothDirectoryInformation
        | c::FileIdBothDirectoryInformation
        | c::FileIdFullDirectoryInformation
        | c::FileIdExtdDirectoryInformation
        | c::FileNamesInformation => {}
        _ => return Err(WireError::BadValue),
    }
    // Validate the short name before writing anything.
    if matches!(
        class,
        c::FileBothDirectoryInformation | c::FileIdBothDirectoryInformation
    ) && e.short_name.encode_utf16().count() > 12
    {
        return Err(WireError::BadValue);
    }
    out.put_u32(0);
    out.put_u32(e.file_index);
    match class {
        c::FileNamesInformation => {
            out.put_u32(sat32(name.len()));
        }
        c::FileDirectoryInformation => times(out),
        c::FileFullDirectoryInformation => {
            times(out);
            out.put_u32(e.ea_size);
        }
        c::FileIdFullDirectoryInformation => {
            times(out);
            out.put_u32(e.ea_size);
            out.put_u32(0);
            out.put_u64(e.file_id);
        }
        c::FileBothDirectoryInformation => {
            times(out);
            out.put_u32(e.ea_size);
            short(out)?;
        }
        c::FileIdBothDirectoryInformation => {
            times(out);
            out.put_u32(e.ea_size);
            short(out)?;
            out.put_u16(0);
            out.put_u64(e.file_id);
        }
        _ => {
            // FileIdExtdDirectoryInformation: EaSize, ReparsePointTag, 128-bit FileId.
            times(out);
            out.put_u32(e.ea_size);
            out.put_u32(0);
            out.put_u64(e.file_id);
            out.put_u64(0);
        }
    }
    out.put_bytes(&name);
    Ok(out.len() - start)
}

/// Builds the output buffer of one QUERY_DIRECTORY response: entries 8-byte aligned,
/// NextEntryOffset chained, the last entry 0 and unpadded, never longer than the client's
/// OutputBufferLength.
#[derive(Debug, Clone)]
pub struct DirListWriter {
    /// The client's OutputBufferLength.
    pub max_len: usize,
    buf: Vec<u8>,
    last: Option<usize>,
    count: usize,
}

impl DirListWriter {
    /// An empty list bounded by `max_len` bytes.
    pub fn new(max_len: usize) -> Self {
        Self {
            max_len,
            buf: Vec::new(),
            last: None,
            count: 0,
        }
    }

    /// Append `e` encoded as `class`. `Ok(false)` means it does not fit: nothing was added,
    /// and the server keeps the entry for the next QUERY_DIRECTORY (or, if the list is
    /// still empty, answers STATUS_BUFFER_OVERFLOW / INFO_LENGTH_MISMATCH).
    pub fn push(&mut self, class: u8, e: &DirEntryInfo) -> Result<bool, WireError> {
        let before = self.buf.len();
        let start = if self.last.is_some() {
            before.div_ceil(8) * 8
        } else {
            0
        };
        self.buf.resize(start, 0);
        let written = match encode_dir_entry(class, e, &mut self.buf) {
            Ok(n) => n,
            Err(err) => {
                self.buf.truncate(before);
                return Err(err);
            }
        };
        if start + written > self.max_len {
            self.buf.truncate(before);
            return Ok(false);
        }
        if let Some(prev) = self.last {
            self.buf.patch_u32(prev, sat32(start - prev));
        }
        self.last = Some(start);
        self.count += 1;
        Ok(true)
    }

    /// Number of entries accepted.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no entry was accepted.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The encoded entries so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The finished buffer.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

// ---------------------------------------------------------------------------------------
// Wildcards
// ---------------------------------------------------------------------------------------

const DOS_STAR: char = '<';
const DOS_QM: char = '>';
const DOS_DOT: char = '"';

/// Simple one-to-one upper-casing, like the NTFS upcase table (characters whose upper case
/// is several characters, such as 'ß', stay as they are).
fn fold(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn is_wild(c: char) -> bool {
    matches!(c, '*' | '?' | DOS_STAR | DOS_QM | DOS_DOT)
}

/// Whether `name` matches the Windows search `pattern`, case-insensitively (MS-FSA 2.1.4.4,
/// the FsRtlIsNameInExpression rules):
///
/// * `*` matches any run of characters, `?` exactly one;
/// * `<` (DOS_STAR) matches any run that does not go past the name's last `.`;
/// * `>` (DOS_QM) matches one character, or nothing at a `.` or at the end of the name;
/// * `"` (DOS_DOT) matches a `.`, or nothing at the end of the name.
///
/// `*` and `*.*` match every non-empty name; an empty pattern matches only an empty name and
/// an empty name matches only an empty pattern. Runs in O(pattern × name) time with
/// O(pattern) memory, whatever the pattern.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    if pattern.is_empty() || name.is_empty() {
        return pattern.is_empty() && name.is_empty();
    }
    if pattern == "*" || pattern == "*.*" {
        return true;
    }
    let pat: Vec<char> = pattern.chars().map(fold).collect();
    let nm: Vec<char> = name.chars().map(fold).collect();
    // Fast path: "*literal" compares the tail.
    if let Some((first, rest)) = pat.split_first() {
        if *first == '*' && !rest.iter().any(|c| is_wild(*c)) {
            return nm.ends_with(rest);
        }
    }
    let last_dot = nm.iter().rposition(|c| *c == '.');
    let p = pat.len();
    // active[i]: the pattern prefix before position i has matched the name so far.
    let mut active = vec![false; p + 1];
    let mut next = vec![false; p + 1];
    if let Some(a) = active.first_mut() {
        *a = true;
    }
    for n in 0..=nm.len() {
        let cur = nm.get(n).copied();
        // Zero-width moves, left to right (they only go forward).
        for i in 0..p {
            if !active.get(i).copied().unwrap_or(false) {
                continue;
            }
            let skip = match pat.get(i).copied() {
                Some('*') | Some(DOS_STAR) => true,
                Some(DOS_QM) => cur.is_none() || cur == Some('.'),
                Some(DOS_DOT) => cur.is_none(),
                _ => false,
            };
            if skip {
                if let Some(s) = active.get_mut(i + 1) {
                    *s = true;
                }
            }
        }
        let Some(c) = cur else {
            return active.get(p).copied().unwrap_or(false);
        };
        next.iter_mut().for_each(|s| *s = false);
        let later_dot = last_dot.is_some_and(|d| d > n);
        for i in 0..p {
            if !active.get(i).copied().unwrap_or(false) {
                continue;
            }
            let Some(pc) = pat.get(i).copied() else {
                continue;
            };
            let target = match pc {
                '*' => Some(i),
                DOS_STAR => (c != '.' || later_dot).then_some(i),
                '?' => Some(i + 1),
                DOS_QM => (c != '.').then_some(i + 1),
                DOS_DOT => (c == '.').then_some(i + 1),
                lit => (lit == c).then_some(i + 1),
            };
            if let Some(t) = target.and_then(|t| next.get_mut(t)) {
                *t = true;
            }
        }
        std::mem::swap(&mut active, &mut next);
        if !active.iter().any(|s| *s) {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_epoch_and_saturation() {
        assert_eq!(unix_to_filetime(0, 0), 116_444_736_000_000_000);
        assert_eq!(filetime_to_unix(116_444_736_000_000_000), (0, 0));
        assert_eq!(unix_to_filetime(i64::MIN, 0), 0);
        assert_eq!(unix_to_filetime(i64::MAX, 0), u64::MAX);
        assert_eq!(unix_to_filetime(1, 1_500), 116_444_736_010_000_015);
        let (s, ns) = filetime_to_unix(u64::MAX);
        assert_eq!(unix_to_filetime(s, ns), u64::MAX);
        assert_eq!(filetime_to_unix(0), (-11_644_473_600, 0));
    }
}
