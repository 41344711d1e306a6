//! SMB over TCP (direct hosting, port 445): thread-per-core listeners with SO_REUSEPORT,
//! NetBIOS session framing, one reader loop and one writer task per connection.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;

use smb_vfs::Vfs;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_uring::buf::BoundedBuf;
use tokio_uring::net::{TcpListener, TcpStream};

use crate::conn::{Conn, PeerProbe, Sink};
use crate::server::Server;

/// Most requests of one connection executing at once; further input waits. Bounds the
/// memory a client can pin with pipelined large writes.
const MAX_INFLIGHT: usize = 64;

/// Bind a listening socket with SO_REUSEPORT so each worker thread accepts on its own.
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nodelay(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s.into())
}

/// Run one worker thread per listener (see [`bind`]) serving SMB until `shutdown` turns
/// true; returns when every worker has finished (connections closed, opens released).
pub fn serve<V, F>(
    server: Arc<Server>,
    listeners: Vec<std::net::TcpListener>,
    make_vfs: F,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()>
where
    V: Vfs,
    F: Fn() -> V + Send + Sync + 'static,
{
    let make_vfs = Arc::new(make_vfs);
    let mut handles = Vec::new();
    for (n, listener) in listeners.into_iter().enumerate() {
        let server = server.clone();
        let make_vfs = make_vfs.clone();
        let shutdown = shutdown.clone();
        handles.push(
            std::thread::Builder::new()
                .name(format!("smb-worker-{n}"))
                .spawn(move || {
                    tokio_uring::start(async move {
                        let vfs = make_vfs();
                        if let Err(e) = accept_loop(server, listener, vfs, shutdown).await {
                            tracing::error!(error = %e, "listener failed");
                        }
                    })
                })?,
        );
    }
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}

async fn accept_loop<V: Vfs>(
    server: Arc<Server>,
    listener: std::net::TcpListener,
    vfs: V,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let listener = TcpListener::from_std(listener);
    let mut conns = Vec::new();
    loop {
        tokio::select! {
            r = listener.accept() => {
                match r {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let server = server.clone();
                        let vfs = vfs.clone();
                        let sd = shutdown.clone();
                        conns.push(tokio_uring::spawn(async move { connection(server, vfs, stream, peer, sd).await }));
                        conns.retain(|h: &tokio::task::JoinHandle<()>| !h.is_finished());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                    }
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    for c in conns {
        let _ = c.await;
    }
    Ok(())
}

struct TcpSink {
    tx: mpsc::UnboundedSender<Option<Vec<u8>>>,
    probe: Option<Arc<TcpProbe>>,
}

impl Sink for TcpSink {
    fn send(&self, frame: Vec<u8>) {
        let _ = self.tx.send(Some(frame));
    }
    fn close(&self) {
        let _ = self.tx.send(None);
    }
    fn peer_probe(&self) -> Option<Arc<dyn PeerProbe>> {
        self.probe.clone().map(|p| p as Arc<dyn PeerProbe>)
    }
}

/// The peer has gone once its FIN (POLLRDHUP) or a reset (POLLHUP, POLLERR) is queued on
/// the socket, whatever data comes before it. Polls a duplicate of the connection's
/// descriptor, so it never names a descriptor that was closed and reused.
struct TcpProbe(OwnedFd);

impl TcpProbe {
    fn new(stream: &impl AsRawFd) -> Option<Self> {
        // SAFETY: `stream` owns this descriptor and is alive for the whole statement; the
        // borrow only lives long enough to duplicate it.
        let fd = unsafe { BorrowedFd::borrow_raw(stream.as_raw_fd()) };
        fd.try_clone_to_owned().ok().map(Self)
    }
}

impl PeerProbe for TcpProbe {
    fn peer_gone(&self) -> bool {
        // nix's poll wrapper drops revents it has no flag for, POLLRDHUP among them.
        let mut fd = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid, initialised pollfd for the duration of the call, which does
        // not block (timeout 0); the descriptor is owned by `self`.
        let n = unsafe { libc::poll(&mut fd, 1, 0) };
        n > 0 && fd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
    }
}

async fn read_exact(
    stream: &TcpStream,
    mut buf: Vec<u8>,
    len: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    buf.clear();
    buf.reserve(len);
    let mut filled = 0;
    while filled < len {
        let cap = buf.capacity();
        let slice = buf.slice(filled..len.min(cap));
        let (res, slice) = {
            // Read into the spare capacity between `filled` and `len`.
            let s = slice;
            stream.read(s).await
        };
        buf = slice.into_inner();
        let n = res?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        filled += n;
    }
    Ok(Some(buf))
}

async fn connection<V: Vfs>(
    server: Arc<Server>,
    vfs: V,
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let stream = Rc::new(stream);
    let (tx, mut rx) = mpsc::unbounded_channel::<Option<Vec<u8>>>();
    let wstream = stream.clone();
    let writer = tokio_uring::spawn(async move {
        while let Some(Some(frame)) = rx.recv().await {
            let (res, _) = wstream.write_all(frame).await;
            if res.is_err() {
                break;
            }
        }
        let _ = wstream.shutdown(std::net::Shutdown::Both);
    });
    let conn = Conn::new(
        server,
        vfs,
        peer,
        "tcp",
        Box::new(TcpSink {
            tx: tx.clone(),
            probe: TcpProbe::new(&*stream).map(Arc::new),
        }),
    );
    tracing::debug!(peer = %peer, "connection");
    let inflight = Arc::new(Semaphore::new(MAX_INFLIGHT));
    let mut hdr = Vec::with_capacity(4);
    loop {
        let read = tokio::select! {
            r = read_exact(&stream, std::mem::take(&mut hdr), 4) => r,
            _ = shutdown.changed() => break,
        };
        let h = match read {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(peer = %peer, error = %e, "read failed");
                break;
            }
        };
        let Some(head) = h.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
            break;
        };
        hdr = h;
        if head[0] == 0x85 {
            // NetBIOS session keepalive: nothing to do.
            continue;
        }
        let len = match smb_wire::netbios::frame_len(head) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(peer = %peer, error = %e, "closing connection: bad framing");
                break;
            }
        };
        let body = match read_exact(&stream, Vec::new(), len).await {
            Ok(Some(b)) => b,
            _ => break,
        };
        let Ok(permit) = inflight.clone().acquire_owned().await else {
            break;
        };
        if !conn.receive_with_permit(body, permit) {
            break;
        }
    }
    let _ = tx.send(None);
    // Let in-flight requests finish before releasing opens.
    let _ = inflight.acquire_many(MAX_INFLIGHT as u32).await;
    conn.shutdown().await;
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};

    use super::{PeerProbe, TcpProbe};

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        (client, server)
    }

    /// Wait (bounded) for the kernel to deliver what the peer did; the probe itself never
    /// blocks.
    fn settles(probe: &TcpProbe, want: bool) -> bool {
        for _ in 0..200 {
            if probe.peer_gone() == want {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn a_connected_peer_is_not_gone_even_with_data_waiting() {
        let (mut client, server) = pair();
        let probe = TcpProbe::new(&server).unwrap();
        assert!(!probe.peer_gone());
        client.write_all(b"request").unwrap();
        // Data to read is not a hang-up.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!probe.peer_gone());
    }

    #[test]
    fn a_peer_that_closed_is_gone_before_anyone_reads_its_last_bytes() {
        let (mut client, server) = pair();
        let probe = TcpProbe::new(&server).unwrap();
        client.write_all(b"last words").unwrap();
        drop(client);
        assert!(settles(&probe, true));
        // The connection's own reader still gets the data, then the end of the stream.
        let mut got = Vec::new();
        (&server).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"last words");
    }

    #[test]
    fn the_probe_outlives_the_connections_own_descriptor() {
        let (client, server) = pair();
        let probe = TcpProbe::new(&server).unwrap();
        server.shutdown(Shutdown::Both).unwrap();
        drop(server);
        // Its own duplicate still names the same socket: shut down, so gone.
        assert!(settles(&probe, true));
        drop(client);
    }
}
