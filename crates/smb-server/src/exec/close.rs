//! CLOSE, and the shared teardown of an open (also used by TREE_DISCONNECT, LOGOFF and a
//! lost connection): delete-on-close, pending CHANGE_NOTIFY, share-mode release.

use std::rc::Rc;

use smb_proto::{Item, Reply};
use smb_vfs::{Handle, Vfs};
use smb_wire::file::{CloseRequest, CloseResponse};
use smb_wire::message::Response;
use smb_wire::NtStatus;

use super::{allocation, dos_attributes, filetime, Chain, R};
use crate::conn::Conn;
use crate::state::OpenKind;

const CLOSE_FLAG_POSTQUERY_ATTRIB: u16 = 0x0001;

pub(super) async fn close<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: CloseRequest,
    chain: &mut Chain,
) -> R {
    let id = super::file_id_of(c, item, req.file_id, chain)?;
    let mut resp = CloseResponse::default();
    if req.flags & CLOSE_FLAG_POSTQUERY_ATTRIB != 0 {
        if let Ok(h) = super::handle_of(c, id) {
            if let Ok(st) = h.stat().await {
                resp.flags = CLOSE_FLAG_POSTQUERY_ATTRIB;
                resp.creation_time = filetime(st.btime);
                resp.last_access_time = filetime(st.atime);
                resp.last_write_time = filetime(st.mtime);
                resp.change_time = filetime(st.ctime);
                resp.allocation_size = allocation(&st);
                resp.end_of_file = if matches!(st.kind, smb_vfs::FileKind::Dir) {
                    0
                } else {
                    st.size
                };
                resp.file_attributes = dos_attributes(&st);
            }
        }
    }
    close_open(c, id).await;
    Ok(Reply::Ok(NtStatus::SUCCESS, Response::Close(resp)))
}

/// Tear down one open: it disappears from the table at once (later requests see
/// FILE_CLOSED), then the handle is closed and a delete-pending file removed on last close.
pub(crate) async fn close_open<V: Vfs>(c: &Rc<Conn<V>>, id: u64) {
    let Some(open) = c.st.borrow_mut().opens.remove(&id) else {
        return;
    };
    if let Some(aid) = open.notify {
        c.complete_async(aid, Reply::Err(NtStatus::NOTIFY_CLEANUP));
    }
    let OpenKind::File(handle) = open.kind else {
        return;
    };
    if open.delete_on_close {
        c.server.files.set_delete_pending(open.key, true);
    }
    let last_and_pending = c.server.files.close(open.key, id);
    // Close the descriptor if no request still uses it; otherwise the last user drops it.
    if let Ok(h) = Rc::try_unwrap(handle) {
        if let Err(e) = h.close().await {
            tracing::debug!(error = %e, "close failed");
        }
    }
    if last_and_pending {
        if let Some(share) = &open.share {
            let r = if open.is_dir {
                c.vfs.rmdir(&share.root, &open.path).await
            } else {
                c.vfs.unlink(&share.root, &open.path).await
            };
            if let Err(e) = r {
                tracing::warn!(path = %open.path.as_str(), error = %e, "delete on close failed");
            }
        }
        c.server.files.deleted(open.key);
    }
}
