//! TREE_CONNECT, TREE_DISCONNECT and LOGOFF.

use std::rc::Rc;

use smb_proto::{Item, Reply};
use smb_vfs::Vfs;
use smb_wire::message::Response;
use smb_wire::session::LogoffResponse;
use smb_wire::tree::{TreeConnectRequest, TreeConnectResponse, TreeDisconnectResponse};
use smb_wire::NtStatus;

use super::{Chain, R};
use crate::catalog::ShareAccess;
use crate::conn::Conn;
use crate::state::Tree;

const SHARE_TYPE_DISK: u8 = 0x01;
const SHARE_TYPE_PIPE: u8 = 0x02;
const SHAREFLAG_ENCRYPT_DATA: u32 = 0x0000_8000;
const SHAREFLAG_NO_CACHING: u32 = 0x0000_0030;
/// FILE_ALL_ACCESS.
const ACCESS_ALL: u32 = 0x001F_01FF;
/// FILE_GENERIC_READ | FILE_GENERIC_EXECUTE.
const ACCESS_READ: u32 = 0x0012_00A9;

/// The share name of a tree connect path: "\\server\share" → "share".
fn share_name(path: &str) -> Option<&str> {
    let p = path.strip_prefix("\\\\")?;
    let (_server, share) = p.split_once('\\')?;
    if share.is_empty() || share.contains('\\') {
        return None;
    }
    Some(share)
}

pub(super) fn connect<V: Vfs>(c: &Rc<Conn<V>>, item: &mut Item, req: TreeConnectRequest) -> R {
    let session = item.session.clone().ok_or(NtStatus::USER_SESSION_DELETED)?;
    let name = share_name(&req.path).ok_or(NtStatus::BAD_NETWORK_NAME)?;
    let catalog = c.server.catalog();
    let (tree, share_type, flags, access) = if name.eq_ignore_ascii_case("IPC$") {
        (
            Tree {
                session_id: session.id,
                share: None,
                writable: false,
                encrypt: false,
            },
            SHARE_TYPE_PIPE,
            SHAREFLAG_NO_CACHING,
            ACCESS_ALL,
        )
    } else {
        let share = catalog
            .share(name)
            .ok_or(NtStatus::BAD_NETWORK_NAME)?
            .clone();
        let writable = match share
            .cfg
            .access_for(&session.user, session.guest, session.anonymous)
        {
            ShareAccess::Denied => return Err(NtStatus::ACCESS_DENIED),
            ShareAccess::ReadOnly => false,
            ShareAccess::ReadWrite => true,
        };
        let encrypt = share.cfg.encrypt;
        if encrypt && !session.can_encrypt {
            // The client cannot encrypt (SMB 2.x or a guest session): refuse rather than
            // serve an encrypted share in the clear.
            return Err(NtStatus::ACCESS_DENIED);
        }
        let mut flags = 0;
        if encrypt || session.encrypt_data {
            flags |= SHAREFLAG_ENCRYPT_DATA;
        }
        let access = if writable { ACCESS_ALL } else { ACCESS_READ };
        (
            Tree {
                session_id: session.id,
                share: Some(share),
                writable,
                encrypt,
            },
            SHARE_TYPE_DISK,
            flags,
            access,
        )
    };
    if tree.encrypt {
        item.encrypt_reply = true;
    }
    let id = c.st.borrow_mut().add_tree(tree);
    item.hdr.tree_id = id;
    Ok(Reply::Ok(
        NtStatus::SUCCESS,
        Response::TreeConnect(TreeConnectResponse {
            share_type,
            share_flags: flags,
            capabilities: 0,
            maximal_access: access,
        }),
    ))
}

pub(super) async fn disconnect<V: Vfs>(c: &Rc<Conn<V>>, item: &mut Item) -> R {
    let tid = item.hdr.tree_id;
    super::tree_of(c, item)?;
    let opens: Vec<u64> =
        c.st.borrow()
            .opens
            .iter()
            .filter(|(_, o)| o.tree_id == tid && o.session_id == item.hdr.session_id)
            .map(|(k, _)| *k)
            .collect();
    for id in opens {
        super::close::close_open(c, id).await;
    }
    c.st.borrow_mut().trees.remove(&tid);
    Ok(Reply::Ok(
        NtStatus::SUCCESS,
        Response::TreeDisconnect(TreeDisconnectResponse),
    ))
}

pub(super) async fn logoff<V: Vfs>(c: &Rc<Conn<V>>, item: &mut Item, chain: &mut Chain) -> R {
    let sid = item.hdr.session_id;
    let opens: Vec<u64> =
        c.st.borrow()
            .opens
            .iter()
            .filter(|(_, o)| o.session_id == sid)
            .map(|(k, _)| *k)
            .collect();
    for id in opens {
        super::close::close_open(c, id).await;
    }
    c.st.borrow_mut().trees.retain(|_, t| t.session_id != sid);
    chain.logoffs.push(sid);
    Ok(Reply::Ok(
        NtStatus::SUCCESS,
        Response::Logoff(LogoffResponse),
    ))
}

#[cfg(test)]
mod tests {
    use super::share_name;

    #[test]
    fn share_names_come_from_unc_paths() {
        assert_eq!(share_name("\\\\127.0.0.1\\data"), Some("data"));
        assert_eq!(share_name("\\\\srv\\IPC$"), Some("IPC$"));
        assert_eq!(share_name("\\\\srv\\"), None);
        assert_eq!(share_name("\\\\srv"), None);
        assert_eq!(share_name("data"), None);
        assert_eq!(share_name("\\\\srv\\a\\b"), None);
    }
}
