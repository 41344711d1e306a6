//! Oplocks and leases at the command level: the OPLOCK_BREAK acknowledgments
//! (MS-SMB2 3.3.5.22), the wait of a CREATE for the breaks it caused (3.3.5.9: the open
//! goes async with an interim response until the holder acknowledges, closes, or the break
//! times out), and the breaks of shared caching caused by writes and byte-range locks.
//! The decisions are made by [`crate::files::FileTable`]; this module sends what it says.

use std::rc::Rc;
use std::time::{Duration, Instant};

use smb_proto::{Item, Reply};
use smb_vfs::Vfs;
use smb_wire::create::lease::FLAG_PARENT_LEASE_KEY_SET;
use smb_wire::create::{oplock, CreateContext, CreateRequest};
use smb_wire::message::{OplockBreakAck, Response};
use smb_wire::misc::{LeaseBreakAck, OplockBreak};
use smb_wire::{FileId, NtStatus};
use tokio::sync::Notify;

use super::{Chain, R};
use crate::conn::Conn;
use crate::files::{FileKey, Holder, LeaseReq, OpenReq};

/// The oplock part of a CREATE: what it asks for and where its breaks would go.
pub(crate) fn open_req<V: Vfs>(
    c: &Conn<V>,
    item: &Item,
    req: &CreateRequest,
    uid: u64,
    access: u32,
    overwrite: bool,
) -> OpenReq {
    let (dialect, client_guid) = c
        .proto
        .borrow()
        .negotiated()
        .map_or((0, [0; 16]), |n| (n.dialect, n.client_guid));
    let lease = if req.requested_oplock_level == oplock::LEASE && dialect >= 0x0210 {
        req.contexts.iter().find_map(|ctx| match ctx {
            CreateContext::RequestLease {
                key,
                state,
                flags,
                parent_key,
                epoch,
                ..
            } => Some(LeaseReq {
                id: (client_guid, *key),
                state: *state,
                v2: epoch.filter(|_| dialect >= 0x0300).map(|e| {
                    let parent = parent_key.filter(|_| flags & FLAG_PARENT_LEASE_KEY_SET != 0);
                    (parent, e)
                }),
            }),
            _ => None,
        })
    } else {
        None
    };
    OpenReq {
        uid,
        // Truncating writes the file whatever the access asked for (so it is no stat
        // open, and it conflicts with opens that deny writing).
        access: if overwrite {
            access | smb_wire::fscc::access::FILE_WRITE_DATA
        } else {
            access
        },
        share: req.share_access & 0x7,
        overwrite,
        delete_on_close: req.create_options & super::create::FILE_DELETE_ON_CLOSE != 0,
        is_dir: false,
        oplock: req.requested_oplock_level,
        lease,
        holder: Holder {
            conn: c.id,
            session_id: item.hdr.session_id,
            file_id: FileId {
                persistent: uid,
                volatile: uid,
            },
            encrypt: item.wants_encryption(),
        },
    }
}

/// Break what an open of an existing file conflicts with and wait until the breaks are
/// acknowledged, the holders close, or the break timeout passes. The first wait sends an
/// interim response (outside a compound); a CANCEL then ends the wait with CANCELLED.
pub(crate) async fn wait_for_breaks<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    key: FileKey,
    req: &OpenReq,
) -> Result<(), NtStatus> {
    let files = &c.server.files;
    let timeout = c.server.break_timeout();
    let mut cancel: Option<Rc<Notify>> = None;
    loop {
        let mut out = Vec::new();
        let wait = files.break_for_open(key, req, Instant::now(), timeout, &mut out);
        c.server.deliver(out);
        let Some(w) = wait? else {
            return Ok(());
        };
        let changed = w.notify.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if files.generation(key) != Some(w.generation) {
            continue;
        }
        let hook = match &cancel {
            Some(h) => h.clone(),
            None => {
                let h = Rc::new(Notify::new());
                c.go_async(item, h.clone(), None);
                cancel = Some(h.clone());
                h
            }
        };
        tracing::debug!(?key, "open waits for an oplock break");
        tokio::select! {
            _ = &mut changed => {}
            _ = hook.notified() => return Err(NtStatus::CANCELLED),
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(w.deadline)) => {
                files.expire_breaks(key, Instant::now());
            }
        }
    }
}

/// Longest a refused open waits for cleanup it is racing (see [`wait_for_cleanup`]): a
/// teardown normally takes well under a millisecond, but waits for the dead connection's
/// requests in flight.
pub(crate) const CLEANUP_WAIT: Duration = Duration::from_secs(2);

/// An open of `key` was refused (SHARING_VIOLATION, DELETE_PENDING). When that is only
/// because of cleanup already under way, wait for it, until `deadline`: an open held by a
/// connection whose peer has gone (the client closed it before it sent this request, so
/// on Windows or Samba that open would be closed already; here its thread may not have
/// run the teardown yet), or the file's last close deleting it. True: the file's state
/// changed, go again. False: nothing to wait for (or no more time); the refusal stands.
pub(crate) async fn wait_for_cleanup<V: Vfs>(c: &Conn<V>, key: FileKey, deadline: Instant) -> bool {
    let files = &c.server.files;
    if Instant::now() >= deadline {
        return false;
    }
    let Some(cl) = files.cleanup(key) else {
        // Its last open went since the refusal.
        return true;
    };
    let racing = cl.deleting
        || cl
            .holders
            .iter()
            .any(|h| *h != c.id && c.server.connection_gone(*h));
    if !racing {
        return false;
    }
    let changed = cl.notify.notified();
    tokio::pin!(changed);
    changed.as_mut().enable();
    if files.generation(key) != Some(cl.generation) {
        return true;
    }
    tracing::debug!(?key, "refused open waits for a gone connection's cleanup");
    tokio::select! {
        _ = &mut changed => true,
        _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => false,
    }
}

/// A write or byte-range lock through open `id`: other opens lose their shared caching
/// (level II oplocks and read leases break to none, without waiting for anyone).
pub(crate) fn break_shared<V: Vfs>(c: &Conn<V>, item: &mut Item, fid: FileId, chain: &Chain) {
    let Ok(id) = super::file_id_of(c, item, fid, chain) else {
        return;
    };
    let Some(key) = c.st.borrow().opens.get(&id).map(|o| o.key) else {
        return;
    };
    let mut out = Vec::new();
    c.server
        .files
        .break_shared(key, id, Instant::now(), c.server.break_timeout(), &mut out);
    c.server.deliver(out);
}

/// OPLOCK_BREAK from the client: an oplock or a lease break acknowledgment.
pub(super) fn oplock_break<V: Vfs>(
    c: &Rc<Conn<V>>,
    item: &mut Item,
    ack: OplockBreakAck,
    chain: &mut Chain,
) -> R {
    match ack {
        OplockBreakAck::Oplock(b) => {
            let id = super::file_id_of(c, item, b.file_id, chain)?;
            let (key, file_id) = {
                let st = c.st.borrow();
                let o = st.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
                (o.key, o.file_id)
            };
            let level = c.server.files.ack_oplock(key, id, b.oplock_level)?;
            Ok(Reply::Ok(
                NtStatus::SUCCESS,
                Response::OplockBreak(OplockBreak {
                    oplock_level: level,
                    file_id,
                }),
            ))
        }
        OplockBreakAck::Lease(a) => {
            let (dialect, client_guid) = c
                .proto
                .borrow()
                .negotiated()
                .map_or((0, [0; 16]), |n| (n.dialect, n.client_guid));
            if dialect < 0x0210 {
                // SMB 2.0.2 has no leases.
                return Err(NtStatus::INVALID_PARAMETER);
            }
            let state = c
                .server
                .files
                .ack_lease((client_guid, a.lease_key), a.lease_state)?;
            Ok(Reply::Ok(
                NtStatus::SUCCESS,
                Response::LeaseBreak(LeaseBreakAck {
                    flags: 0,
                    lease_key: a.lease_key,
                    lease_state: state,
                }),
            ))
        }
    }
}
