//! CHANGE_NOTIFY on a directory: the request goes async and stays pending until it is
//! cancelled or its handle closed (then STATUS_NOTIFY_CLEANUP). Delivering actual change
//! records (inotify) is not done yet: clients see no events, as with a server that has
//! change notification disabled, but their requests are answered correctly.

use std::rc::Rc;

use smb_proto::{Item, Reply};
use smb_vfs::Vfs;
use smb_wire::dir::ChangeNotifyRequest;
use smb_wire::fscc::access;
use smb_wire::NtStatus;

use super::{Chain, R};
use crate::conn::Conn;
use crate::state::Pending;

pub(super) fn change_notify<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: ChangeNotifyRequest,
    chain: &mut Chain,
) -> R {
    let id = super::file_id_of(c, item, req.file_id, chain)?;
    let async_id = {
        let st = c.st.borrow();
        let o = st.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        if !o.is_dir {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        if o.access & access::FILE_LIST_DIRECTORY == 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        drop(st);
        c.proto.borrow_mut().alloc_async_id()
    };
    let mut st = c.st.borrow_mut();
    let fid = st.opens.get(&id).map(|o| o.file_id);
    st.pending.insert(
        async_id,
        Pending {
            session_id: item.hdr.session_id,
            message_id: item.hdr.message_id,
            file_id: fid,
        },
    );
    if let Some(o) = st.opens.get_mut(&id) {
        o.notify = Some(async_id);
    }
    Ok(Reply::Pending { async_id })
}
