//! The process-wide server object: the current catalog, the cross-connection file table and
//! live status. `Send + Sync`; every worker thread holds an `Arc` of it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::catalog::Catalog;
use crate::files::FileTable;

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
}

/// The server shared by all worker threads.
pub struct Server {
    catalog: RwLock<Arc<Catalog>>,
    pub(crate) files: FileTable,
    next_id: AtomicU64,
    status: Mutex<Vec<ConnStatus>>,
}

impl Server {
    pub fn new(catalog: Catalog) -> Arc<Self> {
        Arc::new(Self {
            catalog: RwLock::new(Arc::new(catalog)),
            files: FileTable::default(),
            next_id: AtomicU64::new(1),
            status: Mutex::new(Vec::new()),
        })
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
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn update_status(&self, st: ConnStatus) {
        let mut v = self.status.lock().unwrap_or_else(|p| p.into_inner());
        match v.iter_mut().find(|c| c.id == st.id) {
            Some(c) => *c = st,
            None => v.push(st),
        }
    }

    pub(crate) fn remove_status(&self, id: u64) {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|c| c.id != id);
    }

    /// Number of opens across all connections.
    pub fn open_count(&self) -> usize {
        self.files.count()
    }
}
