//! LOCK: byte-range locks. A lock that conflicts and may wait (no FAIL_IMMEDIATELY) goes
//! async: the client gets STATUS_PENDING and the final reply when the range frees up, the
//! request is cancelled, or the open is closed.

use std::rc::Rc;
use std::time::Duration;

use smb_proto::{Item, Reply};
use smb_vfs::Vfs;
use smb_wire::file::{LockElement, LockRequest, LockResponse};
use smb_wire::message::Response;
use smb_wire::NtStatus;

use super::{Chain, R};
use crate::conn::Conn;
use crate::state::Pending;

const LOCKFLAG_SHARED: u32 = 0x01;
const LOCKFLAG_EXCLUSIVE: u32 = 0x02;
const LOCKFLAG_UNLOCK: u32 = 0x04;
const LOCKFLAG_FAIL_IMMEDIATELY: u32 = 0x10;
/// How often a waiting lock is retried.
const RETRY: Duration = Duration::from_millis(20);

pub(super) async fn lock<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    req: LockRequest,
    chain: &mut Chain,
) -> R {
    let id = super::file_id_of(c, item, req.file_id, chain)?;
    let key =
        c.st.borrow()
            .opens
            .get(&id)
            .map(|o| o.key)
            .ok_or(NtStatus::FILE_CLOSED)?;
    let els = &req.locks;
    let first = els.first().ok_or(NtStatus::INVALID_PARAMETER)?;
    if first.flags & LOCKFLAG_UNLOCK != 0 {
        // An unlock request: every element must be a plain unlock.
        for e in els {
            if e.flags != LOCKFLAG_UNLOCK {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            c.server.files.unlock(key, id, e.offset, e.length)?;
        }
        return Ok(ok());
    }
    for e in els {
        let kind = e.flags & !LOCKFLAG_FAIL_IMMEDIATELY;
        if kind != LOCKFLAG_SHARED && kind != LOCKFLAG_EXCLUSIVE {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        if els.len() > 1 && e.flags & LOCKFLAG_FAIL_IMMEDIATELY == 0 {
            // Only a single-element request may wait (MS-SMB2 3.3.5.14).
            return Err(NtStatus::INVALID_PARAMETER);
        }
    }
    match try_all(c, key, id, els) {
        Ok(()) => Ok(ok()),
        Err(NtStatus::LOCK_NOT_GRANTED) if first.flags & LOCKFLAG_FAIL_IMMEDIATELY == 0 => {
            let async_id = c.proto.borrow_mut().alloc_async_id();
            c.st.borrow_mut().pending.insert(
                async_id,
                Pending {
                    session_id: item.hdr.session_id,
                    message_id: item.hdr.message_id,
                    file_id: None,
                },
            );
            let el = *first;
            let conn = c.clone();
            tokio_uring::spawn(async move { wait_for_lock(conn, async_id, key, id, el).await });
            Ok(Reply::Pending { async_id })
        }
        Err(NtStatus::LOCK_NOT_GRANTED) if els.len() == 1 => Err(NtStatus::LOCK_NOT_GRANTED),
        Err(e) => Err(e),
    }
}

fn ok() -> Reply {
    Reply::Ok(NtStatus::SUCCESS, Response::Lock(LockResponse))
}

/// Take every lock or none.
fn try_all<V: Vfs>(
    c: &Conn<V>,
    key: (u64, u64),
    id: u64,
    els: &[LockElement],
) -> Result<(), NtStatus> {
    for (i, e) in els.iter().enumerate() {
        if let Err(s) = c.server.files.lock(
            key,
            id,
            e.offset,
            e.length,
            e.flags & LOCKFLAG_EXCLUSIVE != 0,
        ) {
            for done in els.iter().take(i) {
                let _ = c.server.files.unlock(key, id, done.offset, done.length);
            }
            return Err(s);
        }
    }
    Ok(())
}

async fn wait_for_lock<V: Vfs>(
    c: Rc<Conn<V>>,
    async_id: u64,
    key: (u64, u64),
    id: u64,
    el: LockElement,
) {
    loop {
        tokio::time::sleep(RETRY).await;
        if !c.st.borrow().pending.contains_key(&async_id) {
            return; // cancelled
        }
        if !c.st.borrow().opens.contains_key(&id) {
            c.complete_async(async_id, Reply::Err(NtStatus::RANGE_NOT_LOCKED));
            return;
        }
        if c.server
            .files
            .lock(
                key,
                id,
                el.offset,
                el.length,
                el.flags & LOCKFLAG_EXCLUSIVE != 0,
            )
            .is_ok()
        {
            c.complete_async(async_id, ok());
            return;
        }
    }
}
