//! QUERY_DIRECTORY (MS-SMB2 3.3.5.18): enumerate a directory with Windows wildcard rules,
//! keeping the place across calls; restart, reopen and single-entry flags; never more than
//! the client's output buffer.

use std::rc::Rc;

use smb_proto::{Item, Reply};
use smb_vfs::{DirEntry, FileAttr, Handle, Resolved, Vfs};
use smb_wire::dir::{QueryDirectoryRequest, QueryDirectoryResponse};
use smb_wire::fscc::{self, access, class, DirEntryInfo, DirListWriter};
use smb_wire::message::Response;
use smb_wire::NtStatus;

use super::{allocation, dos_attributes, filetime, Chain, R};
use crate::conn::Conn;
use crate::state::DirCursor;

const RESTART_SCANS: u8 = 0x01;
const RETURN_SINGLE_ENTRY: u8 = 0x02;
const REOPEN: u8 = 0x10;

const CLASSES: [u8; 7] = [
    class::FileDirectoryInformation,
    class::FileFullDirectoryInformation,
    class::FileBothDirectoryInformation,
    class::FileNamesInformation,
    class::FileIdBothDirectoryInformation,
    class::FileIdFullDirectoryInformation,
    class::FileIdExtdDirectoryInformation,
];

fn has_wildcards(p: &str) -> bool {
    p.contains(['*', '?', '<', '>', '"'])
}

pub(crate) fn entry_info(name: &str, a: &FileAttr) -> DirEntryInfo {
    DirEntryInfo {
        file_index: 0,
        creation_time: filetime(a.btime),
        last_access_time: filetime(a.atime),
        last_write_time: filetime(a.mtime),
        change_time: filetime(a.ctime),
        end_of_file: if matches!(a.kind, smb_vfs::FileKind::Dir) {
            0
        } else {
            a.size
        },
        allocation_size: allocation(a),
        attributes: dos_attributes(a),
        ea_size: 0,
        file_id: a.ino,
        short_name: String::new(),
        name: name.to_string(),
    }
}

/// Continuing an enumeration: when the directory changed since it was listed, drop the
/// entries not yet returned that no longer exist (Windows never returns a name deleted
/// before the call that would have returned it). Costs one fstat when nothing changed.
async fn forget_deleted<V: Vfs>(c: &Rc<Conn<V>>, id: u64) -> Result<(), NtStatus> {
    let h = super::handle_of(c, id)?;
    let now = h.stat().await.map_err(|e| crate::errno::status_of(&e))?;
    let stamp = (now.mtime, now.ctime);
    let changed =
        c.st.borrow()
            .opens
            .get(&id)
            .and_then(|o| o.dir.as_ref())
            .is_some_and(|d| d.stamp != stamp);
    if !changed {
        return Ok(());
    }
    // Names only: a changing directory must not cost a stat of every entry per call.
    let present: std::collections::HashSet<String> = h
        .read_dir_names()
        .await
        .map_err(|e| crate::errno::status_of(&e))?
        .into_iter()
        .collect();
    if let Some(d) =
        c.st.borrow_mut()
            .opens
            .get_mut(&id)
            .and_then(|o| o.dir.as_mut())
    {
        let pos = d.pos.min(d.entries.len());
        let rest = d.entries.split_off(pos);
        d.entries.extend(
            rest.into_iter()
                .filter(|e| e.name == "." || e.name == ".." || present.contains(&e.name)),
        );
        d.stamp = stamp;
    }
    Ok(())
}

pub(super) async fn query_directory<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: QueryDirectoryRequest,
    chain: &mut Chain,
) -> R {
    let id = super::file_id_of(c, item, req.file_id, chain)?;
    if !CLASSES.contains(&req.info_class) {
        return Err(NtStatus::INVALID_INFO_CLASS);
    }
    let (is_dir, granted, path, share) = {
        let st = c.st.borrow();
        let o = st.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        (o.is_dir, o.access, o.path.clone(), o.share.clone())
    };
    if !is_dir {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if granted & access::FILE_LIST_DIRECTORY == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let share = share.ok_or(NtStatus::INVALID_DEVICE_REQUEST)?;
    if req.output_buffer_length < 1 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let restart = req.flags & (RESTART_SCANS | REOPEN) != 0;
    let mut local: Option<DirCursor> = None;
    let have_cursor =
        c.st.borrow()
            .opens
            .get(&id)
            .is_some_and(|o| o.dir.is_some());
    if restart || !have_cursor {
        let pattern = if req.pattern.is_empty() {
            "*".to_string()
        } else {
            req.pattern.clone()
        };
        if req.pattern.contains('\\') || req.pattern.contains('/') {
            return Err(NtStatus::OBJECT_NAME_INVALID);
        }
        let h = super::handle_of(c, id)?;
        let self_attr = h.stat().await.map_err(|e| crate::errno::status_of(&e))?;
        let stamp = (self_attr.mtime, self_attr.ctime);
        let mut entries = vec![
            DirEntry {
                name: ".".into(),
                attr: self_attr.clone(),
            },
            DirEntry {
                name: "..".into(),
                attr: self_attr,
            },
        ];
        if has_wildcards(&pattern) {
            entries.extend(
                h.read_dir()
                    .await
                    .map_err(|e| crate::errno::status_of(&e))?,
            );
        } else {
            // An exact name: look just that one up (case-insensitively) instead of
            // listing what may be a very large directory.
            entries.clear();
            if pattern == "." || pattern == ".." {
                let a = h.stat().await.map_err(|e| crate::errno::status_of(&e))?;
                entries.push(DirEntry {
                    name: pattern.clone(),
                    attr: a,
                });
            } else if let Ok(rel) = path.join_checked(&pattern) {
                if let Ok(Resolved::Found { path: found, attr }) =
                    c.vfs.resolve(&share.root, &rel).await
                {
                    entries.push(DirEntry {
                        name: found.file_name().unwrap_or_default().to_string(),
                        attr,
                    });
                }
            }
        }
        let cursor = DirCursor {
            pattern,
            entries,
            pos: 0,
            stamp,
        };
        match c.st.borrow_mut().opens.get_mut(&id) {
            Some(o) => o.dir = Some(cursor),
            // Closed while we listed: answer from what we read (requests on one handle
            // complete in order, as on Windows).
            None => local = Some(cursor),
        }
    }
    if local.is_none() && !restart && have_cursor {
        forget_deleted(c, id).await?;
    }
    let single = req.flags & RETURN_SINGLE_ENTRY != 0;
    let max = (req.output_buffer_length as usize).min(
        c.proto
            .borrow()
            .negotiated()
            .map(|_| 8 << 20)
            .unwrap_or(65536),
    );
    let mut st = c.st.borrow_mut();
    let cur = match local.as_mut() {
        Some(l) => l,
        None => st
            .opens
            .get_mut(&id)
            .ok_or(NtStatus::FILE_CLOSED)?
            .dir
            .as_mut()
            .ok_or(NtStatus::INVALID_PARAMETER)?,
    };
    let started_fresh = cur.pos == 0;
    let mut w = DirListWriter::new(max);
    let mut any_matched = false;
    while let Some(e) = cur.entries.get(cur.pos) {
        if !fscc::wildcard_match(&cur.pattern, &e.name) {
            cur.pos += 1;
            continue;
        }
        any_matched = true;
        let info = entry_info(&e.name, &e.attr);
        match w.push(req.info_class, &info) {
            Ok(true) => cur.pos += 1,
            Ok(false) => break,
            Err(_) => return Err(NtStatus::INVALID_INFO_CLASS),
        }
        if single {
            break;
        }
    }
    if w.is_empty() {
        if any_matched {
            // Even one entry does not fit the client's buffer.
            return Err(NtStatus::INFO_LENGTH_MISMATCH);
        }
        return Err(if started_fresh {
            NtStatus::NO_SUCH_FILE
        } else {
            NtStatus::NO_MORE_FILES
        });
    }
    Ok(Reply::Ok(
        NtStatus::SUCCESS,
        Response::QueryDirectory(QueryDirectoryResponse {
            buffer: w.into_bytes(),
        }),
    ))
}
