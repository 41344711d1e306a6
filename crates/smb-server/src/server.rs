//! The process-wide server object: the current catalog, the cross-connection file table and
//! live status. `Send + Sync`; every worker thread holds an `Arc` of it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use smb_proto::{SessionInfo, SessionTable, SharedSession};
use tokio::sync::mpsc::UnboundedSender;

use crate::catalog::Catalog;
use crate::conn::PeerProbe;
use crate::files::{Delivery, FileTable, Notice};

/// What a connection's mailbox carries (see [`Server::register_mailbox`]).
#[derive(Debug)]
pub(crate) enum Mail {
    /// An oplock or lease break to send.
    Notice(Notice),
    /// End this session of the connection (a reconnect named it as PreviousSessionId):
    /// close its opens and trees, forget it, then answer on `done`.
    EndSession {
        session_id: u64,
        done: tokio::sync::oneshot::Sender<()>,
    },
    /// Requests that arrived on a bound channel of one of this connection's sessions:
    /// execute them here (where the trees and opens are) and hand them back with their
    /// replies, in order, to be signed and sent on the channel.
    Execute {
        items: Vec<Forwarded>,
        done: tokio::sync::oneshot::Sender<Vec<Forwarded>>,
    },
    /// A session this connection is a channel of has ended at its home: forget it here.
    ChannelGone { session_id: u64 },
}

/// A request of a bound channel on its way to the session's home connection and back with
/// its reply. A READ whose data goes out by RDMA write carries the channel's registered
/// buffer: the home reads the file straight into it and sends it back filled, so the data
/// is not copied between the two connections.
#[derive(Debug)]
pub(crate) struct Forwarded {
    pub item: smb_proto::Item,
    pub buf: Option<crate::conn::RdmaBuf>,
}

/// A live connection's mailbox, and its transport's way to tell whether the peer has gone
/// (see [`PeerProbe`]), for the transports that have one.
struct Mailbox {
    tx: UnboundedSender<Mail>,
    probe: Option<Arc<dyn PeerProbe>>,
}

/// A valid session in the server-wide registry, and the connection it lives on.
struct Registered {
    conn: u64,
    shared: SharedSession,
    /// Other connections bound to it as channels.
    channels: Vec<u64>,
}

/// How long a CREATE waits for an oplock or lease break acknowledgment before the break
/// completes without it (Windows and Samba: 35 s).
pub const DEFAULT_BREAK_TIMEOUT: Duration = Duration::from_secs(35);

/// Live status of one connection, for the control channel and the admin UI.
#[derive(Debug, Clone)]
pub struct ConnStatus {
    pub id: u64,
    pub peer: SocketAddr,
    pub transport: &'static str,
    pub dialect: u16,
    pub users: Vec<String>,
    pub trees: usize,
    pub opens: usize,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The transport's own counters (SMB Direct: sends, receives, RDMA reads/writes).
    pub transport_counters: Option<crate::conn::TransportCounters>,
}

/// One connection's live status, written by the connection's own thread (its lock is
/// shared only with whoever reads the status), listed in [`Server::connections`].
pub(crate) type StatusSlot = Arc<Mutex<ConnStatus>>;

/// The server shared by all worker threads.
pub struct Server {
    catalog: RwLock<Arc<Catalog>>,
    pub(crate) files: FileTable,
    next_id: AtomicU64,
    /// Every connection's status slot, by connection id; a connection updates its own slot
    /// after each batch without touching this list.
    status: Mutex<Vec<(u64, StatusSlot)>>,
    /// Each live connection's mailbox for unsolicited messages (oplock and lease breaks),
    /// by connection id. The receiving end runs on the connection's own thread.
    mailboxes: Mutex<HashMap<u64, Mailbox>>,
    /// The session registry (MS-SMB2 GlobalSessionTable): every valid session of every
    /// connection by SessionId, which is unique server-wide. Connections publish theirs
    /// (`smb_proto::SessionEvent`) and read the others' through [`SessionTable`].
    sessions: Mutex<HashMap<u64, Registered>>,
    break_timeout_ms: AtomicU64,
    /// SMB Direct listeners are up (FSCTL_QUERY_NETWORK_INTERFACE_INFO may say RDMA).
    smb_direct: std::sync::atomic::AtomicBool,
}

impl Server {
    pub fn new(catalog: Catalog) -> Arc<Self> {
        Arc::new(Self {
            catalog: RwLock::new(Arc::new(catalog)),
            files: FileTable::default(),
            next_id: AtomicU64::new(1),
            status: Mutex::new(Vec::new()),
            mailboxes: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            break_timeout_ms: AtomicU64::new(DEFAULT_BREAK_TIMEOUT.as_millis() as u64),
            smb_direct: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Whether SMB Direct is being served (set by the SMB Direct listener).
    pub fn smb_direct_serving(&self) -> bool {
        self.smb_direct.load(Ordering::Relaxed)
    }

    pub(crate) fn set_smb_direct_serving(&self, on: bool) {
        self.smb_direct.store(on, Ordering::Relaxed);
    }

    /// Set how long a conflicting open waits for an oplock/lease break acknowledgment.
    pub fn set_break_timeout(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.break_timeout_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn break_timeout(&self) -> Duration {
        Duration::from_millis(self.break_timeout_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn register_mailbox(
        &self,
        conn: u64,
        tx: UnboundedSender<Mail>,
        probe: Option<Arc<dyn PeerProbe>>,
    ) {
        self.mailboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(conn, Mailbox { tx, probe });
    }

    /// The connection is being torn down: from now on [`Self::connection_gone`] says so.
    pub(crate) fn remove_mailbox(&self, conn: u64) {
        self.mailboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&conn);
    }

    /// Whether connection `conn` is going away: its teardown has begun, or its transport
    /// knows the peer has closed it while the connection's own thread has not yet seen
    /// that (any thread may ask).
    pub(crate) fn connection_gone(&self, conn: u64) -> bool {
        let probe = match self
            .mailboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&conn)
        {
            None => return true,
            Some(m) => m.probe.clone(),
        };
        probe.is_some_and(|p| p.peer_gone())
    }

    /// Hand unsolicited messages to their connections (any thread). A connection that is
    /// gone is skipped: its opens are being closed, which resolves the break.
    pub(crate) fn deliver(&self, out: Vec<Delivery>) {
        if out.is_empty() {
            return;
        }
        let boxes = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner());
        for d in out {
            match boxes.get(&d.conn).map(|m| &m.tx) {
                Some(tx) => {
                    let _ = tx.send(Mail::Notice(d.notice));
                }
                None => tracing::debug!(conn = d.conn, "break for a connection that is gone"),
            }
        }
    }

    /// Ask connection `conn` to end one of its sessions; the receiver answers once it is
    /// gone (or at once, when the connection is gone).
    pub(crate) fn end_session_on(
        &self,
        conn: u64,
        session_id: u64,
    ) -> tokio::sync::oneshot::Receiver<()> {
        let (done, rx) = tokio::sync::oneshot::channel();
        let boxes = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = boxes.get(&conn).map(|m| &m.tx) {
            // A closed mailbox drops `done`, which answers the receiver too.
            let _ = tx.send(Mail::EndSession { session_id, done });
        }
        rx
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Registered>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publish a session of connection `conn` that became valid (or was re-authenticated).
    pub(crate) fn register_session(&self, conn: u64, shared: SharedSession) {
        let mut reg = self.registry();
        let id = shared.info.id;
        match reg.get_mut(&id) {
            Some(r) if r.conn == conn => r.shared = shared,
            Some(_) => {}
            None => {
                reg.insert(
                    id,
                    Registered {
                        conn,
                        shared,
                        channels: Vec::new(),
                    },
                );
            }
        }
    }

    /// Connection `conn` became a channel of a session (binding).
    pub(crate) fn add_channel(&self, session_id: u64, conn: u64) {
        if let Some(r) = self.registry().get_mut(&session_id) {
            if r.conn != conn && !r.channels.contains(&conn) {
                r.channels.push(conn);
            }
        }
    }

    /// Forget a session of connection `conn` (another connection's entry is left alone);
    /// its channels are told to forget it too.
    pub(crate) fn unregister_session(&self, conn: u64, session_id: u64) {
        let channels = {
            let mut reg = self.registry();
            match reg.get_mut(&session_id) {
                Some(r) if r.conn == conn => reg.remove(&session_id).map(|r| r.channels),
                // A channel that goes away on its own.
                Some(r) => {
                    r.channels.retain(|c| *c != conn);
                    None
                }
                None => None,
            }
        };
        self.tell_channels(session_id, channels.unwrap_or_default());
    }

    fn tell_channels(&self, session_id: u64, channels: Vec<u64>) {
        if channels.is_empty() {
            return;
        }
        let boxes = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner());
        for c in channels {
            if let Some(tx) = boxes.get(&c).map(|m| &m.tx) {
                let _ = tx.send(Mail::ChannelGone { session_id });
            }
        }
    }

    /// Forget every session (and channel) of a connection that is going away.
    pub(crate) fn unregister_connection(&self, conn: u64) {
        let gone: Vec<(u64, Vec<u64>)> = {
            let mut reg = self.registry();
            for r in reg.values_mut() {
                r.channels.retain(|c| *c != conn);
            }
            let ids: Vec<u64> = reg
                .iter()
                .filter(|(_, r)| r.conn == conn)
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter()
                .filter_map(|id| reg.remove(&id).map(|r| (id, r.channels)))
                .collect()
        };
        for (id, channels) in gone {
            self.tell_channels(id, channels);
        }
    }

    /// Hand requests of a bound channel to the session's home connection. The receiver
    /// fails when that connection is gone.
    pub(crate) fn execute_on(
        &self,
        conn: u64,
        items: Vec<Forwarded>,
    ) -> tokio::sync::oneshot::Receiver<Vec<Forwarded>> {
        let (done, rx) = tokio::sync::oneshot::channel();
        let boxes = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = boxes.get(&conn).map(|m| &m.tx) {
            let _ = tx.send(Mail::Execute { items, done });
        }
        rx
    }

    /// Which connection holds a session, and who it belongs to.
    pub(crate) fn session_owner(&self, session_id: u64) -> Option<(u64, Arc<SessionInfo>)> {
        self.registry()
            .get(&session_id)
            .map(|r| (r.conn, r.shared.info.clone()))
    }

    /// Number of valid sessions across all connections.
    pub fn session_count(&self) -> usize {
        self.registry().len()
    }

    /// The catalog in force now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Swap in a new catalog (shares and users reloaded): connections keep working; new tree
    /// connects and session setups see the new one.
    pub fn reload(&self, catalog: Catalog) {
        *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(catalog);
    }

    /// A process-unique id (connections, opens).
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A snapshot of every live connection.
    pub fn connections(&self) -> Vec<ConnStatus> {
        let slots: Vec<StatusSlot> = self
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(_, slot)| slot.clone())
            .collect();
        slots
            .iter()
            .map(|slot| slot.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }

    /// Lists a connection's status; it keeps the slot and updates it from then on.
    pub(crate) fn add_status(&self, st: ConnStatus) -> StatusSlot {
        let id = st.id;
        let slot = Arc::new(Mutex::new(st));
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, slot.clone()));
        slot
    }

    pub(crate) fn remove_status(&self, id: u64) {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(c, _)| *c != id);
    }

    /// Number of opens across all connections.
    pub fn open_count(&self) -> usize {
        self.files.count()
    }
}

impl SessionTable for Server {
    fn lookup(&self, session_id: u64) -> Option<SharedSession> {
        self.registry().get(&session_id).map(|r| r.shared.clone())
    }
}
