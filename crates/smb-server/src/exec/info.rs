//! QUERY_INFO (MS-SMB2 3.3.5.20): file, file-system and security information.

use std::rc::Rc;

use smb_proto::{Item, Reply};
use smb_vfs::{FileAttr, FileKind, Handle, Vfs};
use smb_wire::fscc::{self, access, class, fs_class};
use smb_wire::info::{QueryInfoRequest, QueryInfoResponse};
use smb_wire::message::Response;
use smb_wire::NtStatus;

use super::{allocation, dos_attributes, filetime, Chain, R};
use crate::conn::Conn;
use crate::state::OpenKind;

pub(crate) const INFO_FILE: u8 = 1;
pub(crate) const INFO_FILESYSTEM: u8 = 2;
pub(crate) const INFO_SECURITY: u8 = 3;
pub(crate) const INFO_QUOTA: u8 = 4;

/// Smallest buffers accepted for the variable-size classes: Windows compares with the
/// padded C structure size (one name character included), so a shorter buffer is an
/// INFO_LENGTH_MISMATCH and a longer but insufficient one a BUFFER_OVERFLOW.
const FIXED_ALL: usize = 104;
const FIXED_STREAM: usize = 32;
const FIXED_NAME: usize = 8;
const FIXED_FS_VOLUME: usize = 24;
const FIXED_FS_ATTRIBUTE: usize = 16;

/// Security information bits a client may ask for (OWNER, GROUP, DACL, SACL, LABEL, ...).
const SECINFO_SACL: u32 = 0x8;

pub(crate) fn basic(a: &FileAttr) -> fscc::FileBasicInformation {
    fscc::FileBasicInformation {
        creation_time: filetime(a.btime),
        last_access_time: filetime(a.atime),
        last_write_time: filetime(a.mtime),
        change_time: filetime(a.ctime),
        file_attributes: dos_attributes(a),
    }
}

fn standard(a: &FileAttr, delete_pending: bool) -> fscc::FileStandardInformation {
    let dir = matches!(a.kind, FileKind::Dir);
    fscc::FileStandardInformation {
        allocation_size: allocation(a),
        end_of_file: if dir { 0 } else { a.size },
        number_of_links: u32::try_from(a.nlink).unwrap_or(u32::MAX),
        delete_pending,
        directory: dir,
    }
}

/// Fit `out` into the client's buffer: fixed-size classes that do not fit are an
/// INFO_LENGTH_MISMATCH; variable-size ones are cut with BUFFER_OVERFLOW (3.3.5.20.1).
fn fit(mut out: Vec<u8>, max: u32, fixed: usize) -> R {
    let max = max as usize;
    if max < fixed {
        return Err(NtStatus::INFO_LENGTH_MISMATCH);
    }
    if out.len() > max {
        out.truncate(max);
        return Ok(Reply::Ok(
            NtStatus::BUFFER_OVERFLOW,
            Response::QueryInfo(QueryInfoResponse { buffer: out }),
        ));
    }
    Ok(Reply::Ok(
        NtStatus::SUCCESS,
        Response::QueryInfo(QueryInfoResponse { buffer: out }),
    ))
}

pub(super) async fn query_info<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: QueryInfoRequest,
    chain: &mut Chain,
) -> R {
    let id = super::file_id_of(c, item, req.file_id, chain)?;
    let (kind, granted, path, key, position, mode, share, is_dir) = {
        let st = c.st.borrow();
        let o = st.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let kind = match &o.kind {
            OpenKind::File(h) => Some(h.clone()),
            OpenKind::Pipe(_) => None,
        };
        (
            kind,
            o.access,
            o.path.clone(),
            o.key,
            o.position,
            o.mode,
            o.share.clone(),
            o.is_dir,
        )
    };
    let Some(h) = kind else {
        return pipe_info(&req);
    };
    let share = share.ok_or(NtStatus::INVALID_DEVICE_REQUEST)?;
    let status = |e: smb_vfs::VfsError| crate::errno::status_of(&e);
    match req.info_type {
        INFO_FILE => {
            // Which classes need which right (MS-SMB2 3.3.5.20.1, as Windows checks them):
            // the full EA list needs FILE_READ_EA; the timestamp and attribute classes need
            // FILE_READ_ATTRIBUTES; the rest need no right at all.
            let need = match req.file_info_class {
                class::FileFullEaInformation => access::FILE_READ_EA,
                class::FileBasicInformation
                | class::FileAllInformation
                | class::FileNetworkOpenInformation
                | class::FileAttributeTagInformation => access::FILE_READ_ATTRIBUTES,
                _ => 0,
            };
            if granted & need != need {
                return Err(NtStatus::ACCESS_DENIED);
            }
            let a = h.stat().await.map_err(status)?;
            let pending = c.server.files.delete_pending(key);
            let mut out = Vec::new();
            let max = req.output_buffer_length;
            match req.file_info_class {
                class::FileBasicInformation => {
                    basic(&a).encode(&mut out);
                    fit(out, max, fscc::FileBasicInformation::SIZE)
                }
                class::FileStandardInformation => {
                    standard(&a, pending).encode(&mut out);
                    fit(out, max, fscc::FileStandardInformation::SIZE)
                }
                class::FileInternalInformation => {
                    fscc::FileInternalInformation {
                        index_number: a.ino,
                    }
                    .encode(&mut out);
                    fit(out, max, 8)
                }
                class::FileEaInformation => {
                    fscc::FileEaInformation {
                        ea_size: super::ea::size(&super::ea::list(&*h).await),
                    }
                    .encode(&mut out);
                    fit(out, max, 4)
                }
                class::FileAccessInformation => {
                    fscc::FileAccessInformation {
                        access_flags: granted,
                    }
                    .encode(&mut out);
                    fit(out, max, 4)
                }
                class::FilePositionInformation => {
                    fscc::FilePositionInformation {
                        current_byte_offset: i64::try_from(position).unwrap_or(i64::MAX),
                    }
                    .encode(&mut out);
                    fit(out, max, 8)
                }
                class::FileModeInformation => {
                    fscc::FileModeInformation { mode }.encode(&mut out);
                    fit(out, max, 4)
                }
                class::FileAlignmentInformation => {
                    fscc::FileAlignmentInformation {
                        alignment_requirement: 0,
                    }
                    .encode(&mut out);
                    fit(out, max, 4)
                }
                class::FileAllInformation => {
                    fscc::FileAllInformation {
                        basic: basic(&a),
                        standard: standard(&a, pending),
                        internal: fscc::FileInternalInformation {
                            index_number: a.ino,
                        },
                        ea: fscc::FileEaInformation {
                            ea_size: super::ea::size(&super::ea::list(&*h).await),
                        },
                        access: fscc::FileAccessInformation {
                            access_flags: granted,
                        },
                        position: fscc::FilePositionInformation {
                            current_byte_offset: i64::try_from(position).unwrap_or(i64::MAX),
                        },
                        mode: fscc::FileModeInformation { mode },
                        alignment: fscc::FileAlignmentInformation {
                            alignment_requirement: 0,
                        },
                        name: fscc::FileNameInformation {
                            file_name: format!("\\{}", path.as_str().replace('/', "\\")),
                        },
                    }
                    .encode(&mut out);
                    fit(out, max, FIXED_ALL)
                }
                class::FileNetworkOpenInformation => {
                    fscc::FileNetworkOpenInformation {
                        creation_time: filetime(a.btime),
                        last_access_time: filetime(a.atime),
                        last_write_time: filetime(a.mtime),
                        change_time: filetime(a.ctime),
                        allocation_size: allocation(&a),
                        end_of_file: if is_dir { 0 } else { a.size },
                        file_attributes: dos_attributes(&a),
                    }
                    .encode(&mut out);
                    fit(out, max, 56)
                }
                class::FileAttributeTagInformation => {
                    fscc::FileAttributeTagInformation {
                        file_attributes: dos_attributes(&a),
                        reparse_tag: 0,
                    }
                    .encode(&mut out);
                    fit(out, max, 8)
                }
                class::FileStreamInformation => {
                    if is_dir {
                        // Directories have no unnamed data stream.
                        return fit(out, max, 0);
                    }
                    fscc::FileStreamInformation::main_stream(a.size, allocation(&a))
                        .encode(&mut out);
                    fit(out, max, FIXED_STREAM)
                }
                class::FileCompressionInformation => {
                    fscc::FileCompressionInformation {
                        compressed_file_size: a.size,
                        compression_format: 0,
                        compression_unit_shift: 0,
                        chunk_shift: 0,
                        cluster_shift: 0,
                    }
                    .encode(&mut out);
                    fit(out, max, 16)
                }
                class::FileNormalizedNameInformation => {
                    if c.proto
                        .borrow()
                        .negotiated()
                        .is_none_or(|n| n.dialect < 0x0311)
                    {
                        return Err(NtStatus::NOT_SUPPORTED);
                    }
                    fscc::FileNameInformation {
                        file_name: path.as_str().replace('/', "\\"),
                    }
                    .encode(&mut out);
                    fit(out, max, FIXED_NAME)
                }
                class::FileFullEaInformation => {
                    let list = super::ea::list(&*h).await;
                    if list.is_empty() {
                        return Err(NtStatus::NO_EAS_ON_FILE);
                    }
                    fscc::encode_full_ea_list(&list, &mut out)
                        .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
                    if out.len() > max as usize {
                        // Whole entries only: the client retries with a larger buffer.
                        return Err(NtStatus::BUFFER_TOO_SMALL);
                    }
                    fit(out, max, 0)
                }
                class::FileAlternateNameInformation => {
                    let name = path.file_name().unwrap_or_default();
                    fscc::FileNameInformation {
                        file_name: short_name(name),
                    }
                    .encode(&mut out);
                    fit(out, max, FIXED_NAME)
                }
                _ => Err(NtStatus::INVALID_INFO_CLASS),
            }
        }
        INFO_FILESYSTEM => {
            let fs = c.vfs.statfs(&share.root).await.map_err(status)?;
            let mut out = Vec::new();
            let max = req.output_buffer_length;
            // Report in 4 KiB allocation units of 512-byte sectors, like NTFS.
            let bs = fs.block_size.max(512);
            let units = |blocks: u64| blocks.saturating_mul(bs) / 4096;
            match req.file_info_class {
                fs_class::FileFsVolumeInformation => {
                    let serial = (fs.fsid ^ (fs.fsid >> 32)) as u32;
                    fscc::FsVolumeInformation {
                        creation_time: c.server.catalog().proto.start_time,
                        serial_number: serial,
                        label: share.cfg.name.clone(),
                        supports_objects: false,
                    }
                    .encode(&mut out);
                    fit(out, max, FIXED_FS_VOLUME)
                }
                fs_class::FileFsSizeInformation => {
                    fscc::FsSizeInformation {
                        total_allocation_units: units(fs.blocks),
                        available_allocation_units: units(fs.blocks_avail),
                        sectors_per_allocation_unit: 8,
                        bytes_per_sector: 512,
                    }
                    .encode(&mut out);
                    fit(out, max, 24)
                }
                fs_class::FileFsFullSizeInformation => {
                    fscc::FsFullSizeInformation {
                        total_allocation_units: units(fs.blocks),
                        caller_available_allocation_units: units(fs.blocks_avail),
                        actual_available_allocation_units: units(fs.blocks_free),
                        sectors_per_allocation_unit: 8,
                        bytes_per_sector: 512,
                    }
                    .encode(&mut out);
                    fit(out, max, 32)
                }
                fs_class::FileFsDeviceInformation => {
                    fscc::FsDeviceInformation {
                        device_type: fscc::FILE_DEVICE_DISK,
                        characteristics: 0,
                    }
                    .encode(&mut out);
                    fit(out, max, 8)
                }
                fs_class::FileFsAttributeInformation => {
                    use fscc::fs_attr::*;
                    fscc::FsAttributeInformation {
                        attributes: FILE_CASE_PRESERVED_NAMES
                            | FILE_UNICODE_ON_DISK
                            | FILE_PERSISTENT_ACLS
                            | FILE_SUPPORTS_SPARSE_FILES,
                        max_component_name_length: u32::try_from(fs.name_max)
                            .unwrap_or(255)
                            .min(255),
                        fs_name: "NTFS".into(),
                    }
                    .encode(&mut out);
                    fit(out, max, FIXED_FS_ATTRIBUTE)
                }
                fs_class::FileFsSectorSizeInformation => {
                    fscc::FsSectorSizeInformation::typical().encode(&mut out);
                    fit(out, max, 28)
                }
                fs_class::FileFsObjectIdInformation => {
                    let mut oid = [0u8; 16];
                    oid[..8].copy_from_slice(&fs.fsid.to_le_bytes());
                    fscc::FsObjectIdInformation {
                        object_id: oid,
                        extended_info: [0; 48],
                    }
                    .encode(&mut out);
                    fit(out, max, 64)
                }
                fs_class::FileFsControlInformation => {
                    // No quotas are enforced: no thresholds, no limits, quotas off.
                    fscc::FsControlInformation {
                        default_quota_threshold: u64::MAX,
                        default_quota_limit: u64::MAX,
                        ..Default::default()
                    }
                    .encode(&mut out);
                    fit(out, max, 48)
                }
                _ => Err(NtStatus::INVALID_INFO_CLASS),
            }
        }
        INFO_SECURITY => {
            if granted & access::READ_CONTROL == 0 {
                return Err(NtStatus::ACCESS_DENIED);
            }
            if req.additional_information & SECINFO_SACL != 0
                && granted & access::ACCESS_SYSTEM_SECURITY == 0
            {
                return Err(NtStatus::PRIVILEGE_NOT_HELD);
            }
            let a = h.stat().await.map_err(status)?;
            let sd = super::acl::current(&*h, &a).await;
            let out = sd.to_self_relative(req.additional_information);
            if out.len() > req.output_buffer_length as usize {
                // The client retries with the size we report (3.3.5.20.3).
                return Err(NtStatus::BUFFER_TOO_SMALL);
            }
            Ok(Reply::Ok(
                NtStatus::SUCCESS,
                Response::QueryInfo(QueryInfoResponse { buffer: out }),
            ))
        }
        INFO_QUOTA => Err(NtStatus::NOT_SUPPORTED),
        _ => Err(NtStatus::INVALID_PARAMETER),
    }
}

/// The 8.3 name of a file: the name itself, upper-cased, when it already fits 8.3;
/// otherwise a stable mangled form `BASE~HH.EXT` (HH from a hash of the long name).
pub(crate) fn short_name(name: &str) -> String {
    let ok = |c: char| c.is_ascii_alphanumeric() || "!#$%&'()-@^_`{}~".contains(c);
    let (base, ext) = match name.rsplit_once('.') {
        Some((b, e)) if !b.is_empty() => (b, e),
        _ => (name, ""),
    };
    if !base.is_empty()
        && base.len() <= 8
        && ext.len() <= 3
        && base.chars().all(ok)
        && ext.chars().all(ok)
    {
        return name.to_ascii_uppercase();
    }
    let clean = |s: &str, n: usize| {
        s.chars()
            .filter(|c| ok(*c))
            .take(n)
            .collect::<String>()
            .to_ascii_uppercase()
    };
    let mut b = clean(base, 5);
    if b.is_empty() {
        b.push('_');
    }
    let h = name.bytes().fold(0x811c_9dc5u32, |h, c| {
        (h ^ u32::from(c)).wrapping_mul(0x0100_0193)
    });
    let e = clean(ext, 3);
    if e.is_empty() {
        format!("{b}~{:02X}", h & 0xff)
    } else {
        format!("{b}~{:02X}.{e}", h & 0xff)
    }
}

/// What a named pipe answers: FileStandardInformation and FilePipeLocal-ish basics.
fn pipe_info(req: &QueryInfoRequest) -> R {
    if req.info_type != INFO_FILE {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let mut out = Vec::new();
    match req.file_info_class {
        class::FileStandardInformation => {
            fscc::FileStandardInformation {
                allocation_size: 4096,
                end_of_file: 0,
                number_of_links: 1,
                delete_pending: true,
                directory: false,
            }
            .encode(&mut out);
            fit(
                out,
                req.output_buffer_length,
                fscc::FileStandardInformation::SIZE,
            )
        }
        _ => Err(NtStatus::INVALID_INFO_CLASS),
    }
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn short_names() {
        assert_eq!(short_name("readme.txt"), "README.TXT");
        assert_eq!(short_name("MAKEFILE"), "MAKEFILE");
        let m = short_name("a long file name.jpeg");
        assert!(m.starts_with("ALONG~") && m.ends_with(".JPE"), "{m}");
        assert_eq!(m, short_name("a long file name.jpeg"));
        assert!(short_name(".bashrc").starts_with("BASHR~"));
    }
}
