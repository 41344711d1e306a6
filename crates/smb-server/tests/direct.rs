//! SMB over SMB Direct, the whole stack in one process: the real server (`Conn`, the
//! command handlers, io_uring VFS) behind `smb_server::direct::connection`, the MS-SMBD
//! driver on both sides, and smb-direct's in-memory verbs emulation in between. The client
//! is the test client of the TCP transcripts, riding an SMBD client driver; it registers
//! its own memory for RDMA READ/WRITE, as a Windows or Linux client does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use smb_direct::descriptor::{encode_descriptors, BufferDescriptorV1};
use smb_direct::driver::qp_caps;
use smb_direct::verbs::emu::{EmuFaults, EmuListener, EmuQp, Fault};
use smb_direct::verbs::{Access, DeviceLimits, Listener, QueuePair, Region, WcStatus};
use smb_direct::{Config, Driver, DriverConfig, DriverEvent, Role};
use smb_server::direct::{DirectOptions, NotifyWakeup};
use smb_server::Server;
use smb_test_support::client::{Client, Reply, Transport};
use smb_wire::file::{channel, CloseRequest, ReadRequest, WriteRequest};
use smb_wire::header::Command;
use smb_wire::message::{Request, Response};
use smb_wire::misc::EchoRequest;
use smb_wire::NtStatus;

const USER: (&str, &str) = ("alice", "wonderland");

/// A doorbell the test thread sleeps on.
#[derive(Default)]
struct Bell {
    rung: Mutex<bool>,
    cv: Condvar,
}

impl Bell {
    fn ring(&self) {
        *self.rung.lock().unwrap() = true;
        self.cv.notify_all();
    }

    fn wait(&self, timeout: Duration) {
        let g = self.rung.lock().unwrap();
        let (mut g, _) = self.cv.wait_timeout_while(g, timeout, |r| !*r).unwrap();
        *g = false;
    }
}

/// The client end: an SMBD client driver on an emulated QP.
struct Smbd {
    driver: Driver<EmuQp>,
    bell: Arc<Bell>,
    closed: bool,
}

impl Smbd {
    /// Pumps the driver until `want` takes an event, or 10 s pass.
    fn pump<T>(&mut self, mut want: impl FnMut(DriverEvent) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            self.driver.process(Instant::now());
            while let Some(ev) = self.driver.poll_event() {
                if let DriverEvent::Closed { .. } = ev {
                    self.closed = true;
                    return None;
                }
                if let Some(t) = want(ev) {
                    return Some(t);
                }
            }
            self.bell.wait(Duration::from_millis(50));
        }
        None
    }

    /// Pumps the driver until `done` holds (or 10 s pass); false on timeout.
    fn pump_until(&mut self, done: impl Fn(&Driver<EmuQp>) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            self.driver.process(Instant::now());
            if done(&self.driver) {
                return true;
            }
            self.bell.wait(Duration::from_millis(50));
        }
        false
    }

    /// Memory the server may RDMA-read and -write, filled with `data`.
    fn buffer(&mut self, data: &[u8]) -> Region {
        let r = self
            .driver
            .qp_mut()
            .register(data.len() as u64, Access::REMOTE_RW)
            .unwrap();
        let sge = r.sge(0, data.len() as u32).unwrap();
        self.driver.qp_mut().write_local(sge, data).unwrap();
        r
    }

    fn read_buffer(&self, r: &Region, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        let sge = r.sge(0, len as u32).unwrap();
        self.driver.qp().read_local(sge, &mut out).unwrap();
        out
    }
}

/// The test client's transport: frames in and out as SMBD messages (no NetBIOS header).
struct SmbdTransport(Arc<Mutex<Smbd>>);

impl Transport for SmbdTransport {
    fn send(&mut self, frame: &[u8]) {
        let mut s = self.0.lock().unwrap();
        let msg = frame[4..].to_vec();
        if s.driver.send_message(msg).is_err() {
            s.closed = true;
        }
        // Post the fragments, then let the emulation execute what was posted.
        s.driver.process(Instant::now());
        s.driver.process(Instant::now());
    }

    fn recv(&mut self) -> Option<Vec<u8>> {
        let mut s = self.0.lock().unwrap();
        s.pump(|ev| match ev {
            DriverEvent::Message(m) => Some(m),
            _ => None,
        })
    }
}

/// The server side: the real server on a worker thread, serving each emulated
/// connection request it is handed.
struct Rig {
    server: Arc<Server>,
    share: std::path::PathBuf,
    base: std::path::PathBuf,
    /// Accepted connections for the server thread to serve.
    requests: std::sync::mpsc::Sender<Driver<EmuQp>>,
    listener: EmuListener,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The same server on TCP, when a test asked for it.
    tcp: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let (tx, _) = std::sync::mpsc::channel();
        self.requests = tx;
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread panicked");
        }
        if let Some(t) = self.tcp.take() {
            t.join()
                .expect("TCP server thread panicked")
                .expect("TCP server failed");
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn rig(tag: &str) -> Rig {
    let (server, base, share) = common::server(tag, &[USER]);
    let (requests, rx) = std::sync::mpsc::channel::<Driver<EmuQp>>();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let srv = server.clone();
    let thread = std::thread::spawn(move || {
        tokio_uring::start(async move {
            let vfs = smb_vfs::UringVfs::new();
            let mut tasks = Vec::new();
            loop {
                match rx.try_recv() {
                    Ok(driver) => {
                        let notify = Arc::new(tokio::sync::Notify::new());
                        let n = notify.clone();
                        driver.qp().set_doorbell(Arc::new(move || n.notify_one()));
                        tasks.push(tokio_uring::spawn(smb_server::direct::connection(
                            srv.clone(),
                            vfs.clone(),
                            driver,
                            NotifyWakeup(notify),
                            stop_rx.clone(),
                        )));
                    }
                    Err(std::sync::mpsc::TryRecvError::Empty) => {
                        if *stop_rx.borrow() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                }
            }
            for t in tasks {
                t.await.expect("connection task");
            }
        });
    });
    Rig {
        server,
        share,
        base,
        requests,
        listener: EmuListener::new(DeviceLimits::default()),
        stop,
        thread: Some(thread),
        tcp: None,
    }
}

impl Rig {
    /// A new SMB Direct connection, negotiated.
    fn connect(&mut self) -> (Client, Arc<Mutex<Smbd>>) {
        let (c, s, _) = self.connect_with_faults();
        (c, s)
    }

    /// [`Rig::connect`], with a handle for injecting faults into the server's QP.
    fn connect_with_faults(&mut self) -> (Client, Arc<Mutex<Smbd>>, EmuFaults) {
        let limits = DeviceLimits::default();
        let dc = DriverConfig::default();
        let (caps, cfg) = qp_caps(&limits, &Config::default(), &dc).unwrap();
        let qp = self.listener.connect(caps);
        let bell = Arc::new(Bell::default());
        let b = bell.clone();
        qp.set_doorbell(Arc::new(move || b.ring()));
        // Accepted here, before the client's first send can race the server's first
        // posted receive (the emulation has no RNR retries).
        let req = self.listener.poll_request().unwrap().unwrap();
        let opts = DirectOptions::default();
        // A short idle timer, so a peer that vanished is noticed within seconds even when
        // the server had nothing left to send it (real default: 120 s).
        let smbd = Config {
            keepalive_interval: Duration::from_secs(1),
            keepalive_timeout: Duration::from_secs(1),
            ..opts.smbd_config()
        };
        let server =
            Driver::accept(req, smbd, opts.driver_config(), Instant::now()).expect("accept");
        let faults = server.qp().faults();
        self.requests.send(server).unwrap();
        let driver = Driver::new(qp, Role::Client, cfg, dc, Instant::now()).unwrap();
        let mut smbd = Smbd {
            driver,
            bell,
            closed: false,
        };
        let n = smbd
            .pump(|ev| match ev {
                DriverEvent::Negotiated(n) => Some(n),
                _ => None,
            })
            .expect("SMB Direct negotiation");
        assert_eq!(n.max_read_write_size, 8 * 1024 * 1024);
        let smbd = Arc::new(Mutex::new(smbd));
        let client = Client::over(Box::new(SmbdTransport(smbd.clone())));
        (client, smbd, faults)
    }

    /// Serves the same server on TCP too (loopback, ephemeral port), as a NAS does.
    fn with_tcp(&mut self) -> std::net::SocketAddr {
        let listener = smb_server::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = self.server.clone();
        let stop = self.stop.subscribe();
        self.tcp = Some(std::thread::spawn(move || {
            smb_server::serve_tcp(server, vec![listener], smb_vfs::UringVfs::new, stop)
        }));
        addr
    }

    /// Waits until the server has no connection left (every open released).
    fn wait_idle(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.server.connections().is_empty() && self.server.open_count() == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "server still has {} connections, {} opens",
            self.server.connections().len(),
            self.server.open_count()
        );
    }
}

fn logged_in(rig: &mut Rig) -> (Client, Arc<Mutex<Smbd>>) {
    let (mut c, smbd) = rig.connect();
    let r = c.negotiate(&[0x0311, 0x0302, 0x0300]);
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(c.login(USER.0, USER.1), NtStatus::SUCCESS);
    assert_eq!(c.tree_connect("\\\\nas\\data"), NtStatus::SUCCESS);
    (c, smbd)
}

/// Credit charge of a READ/WRITE of `len` bytes (one per 64 KiB).
fn charge(len: usize) -> u16 {
    len.div_ceil(65536).max(1) as u16
}

fn send(c: &mut Client, cmd: Command, body: &Request, len: usize) -> Reply {
    let mut m = c.build(cmd, body, charge(len));
    c.sign(&mut m);
    c.send_framed(&m);
    c.recv_reply().expect("a reply")
}

fn descriptors(r: &Region, pieces: &[(u64, u32)]) -> Vec<u8> {
    let list: Vec<BufferDescriptorV1> = pieces
        .iter()
        .map(|(off, len)| BufferDescriptorV1 {
            offset: r.addr + off,
            token: r.rkey,
            length: *len,
        })
        .collect();
    encode_descriptors(&list)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
        .collect()
}

fn write_req(
    file_id: smb_wire::FileId,
    offset: u64,
    ch: u32,
    info: Vec<u8>,
    remaining: u32,
    data: Vec<u8>,
) -> Request {
    Request::Write(WriteRequest {
        offset,
        file_id,
        channel: ch,
        remaining_bytes: remaining,
        write_channel_info: info,
        flags: 0,
        data: data.into(),
    })
}

fn read_req(
    file_id: smb_wire::FileId,
    offset: u64,
    length: u32,
    ch: u32,
    info: Vec<u8>,
) -> Request {
    Request::Read(ReadRequest {
        padding: 0x50,
        flags: 0,
        length,
        offset,
        file_id,
        minimum_count: 0,
        channel: ch,
        remaining_bytes: 0,
        read_channel_info: info,
    })
}

/// READ `len` bytes at offset 0 with channel `ch` into a fresh client buffer of one
/// descriptor; the bytes the server RDMA-wrote there.
fn read_by_rdma(
    c: &mut Client,
    smbd: &Mutex<Smbd>,
    file_id: smb_wire::FileId,
    len: usize,
    ch: u32,
) -> Vec<u8> {
    let target = smbd.lock().unwrap().buffer(&vec![0u8; len]);
    let info = descriptors(&target, &[(0, len as u32)]);
    let r = send(
        c,
        Command::READ,
        &read_req(file_id, 0, len as u32, ch, info),
        len,
    );
    assert_eq!(r.status, NtStatus::SUCCESS);
    smbd.lock().unwrap().read_buffer(&target, len)
}

#[test]
fn a_session_over_smb_direct_reads_and_writes_by_rdma_and_inline() {
    let mut rig = rig("smbd-io");
    let (mut c, smbd) = logged_in(&mut rig);
    let fid = c.create("big.bin", 5, 0).expect("create");

    // An inline WRITE of 600 KiB: one SMB2 message in ~470 SMBD fragments, reassembled.
    let inline = pattern(600 * 1024, 1);
    let r = send(
        &mut c,
        Command::WRITE,
        &write_req(fid, 0, channel::NONE, Vec::new(), 0, inline.clone()),
        inline.len(),
    );
    assert_eq!(r.status, NtStatus::SUCCESS);

    // A 3 MiB WRITE by RDMA read from three separate pieces of the client's memory
    // (multi-descriptor), at offset 1 MiB.
    let big = pattern(3 * 1024 * 1024, 7);
    let buf = smbd.lock().unwrap().buffer(&big);
    let mib = 1024 * 1024;
    let info = descriptors(
        &buf,
        &[(0, mib as u32), (mib, mib as u32), (2 * mib, mib as u32)],
    );
    let r = send(
        &mut c,
        Command::WRITE,
        &write_req(
            fid,
            mib,
            channel::RDMA_V1,
            info,
            big.len() as u32,
            Vec::new(),
        ),
        big.len(),
    );
    assert_eq!(r.status, NtStatus::SUCCESS);
    match r.body() {
        Response::Write(w) => assert_eq!(w.count as usize, big.len()),
        other => panic!("{other:?}"),
    }
    let on_disk = std::fs::read(rig.share.join("big.bin")).unwrap();
    assert_eq!(&on_disk[..inline.len()], &inline[..]);
    assert_eq!(&on_disk[mib as usize..], &big[..]);

    // Read it back by RDMA write into four descriptors, with invalidation of the buffer.
    let target = smbd.lock().unwrap().buffer(&vec![0u8; big.len()]);
    let q = big.len() as u64 / 4;
    let info = descriptors(
        &target,
        &[
            (0, q as u32),
            (q, q as u32),
            (2 * q, q as u32),
            (3 * q, q as u32),
        ],
    );
    let r = send(
        &mut c,
        Command::READ,
        &read_req(
            fid,
            mib,
            big.len() as u32,
            channel::RDMA_V1_INVALIDATE,
            info,
        ),
        big.len(),
    );
    assert_eq!(r.status, NtStatus::SUCCESS);
    match r.body() {
        Response::Read(rd) => {
            assert!(rd.data.is_empty(), "RDMA READ carries no inline data");
            assert_eq!(rd.data_remaining as usize, big.len());
            assert_eq!(r.msg.len(), 0x50, "and ends at DataOffset (no pad byte)");
        }
        other => panic!("{other:?}"),
    }
    {
        let s = smbd.lock().unwrap();
        assert_eq!(s.read_buffer(&target, big.len()), big);
        assert!(
            !s.driver.qp().rkey_valid(target.rkey),
            "the reply invalidated the buffer"
        );
        assert!(s.driver.qp().rkey_valid(buf.rkey));
    }

    // An inline READ of 200 KiB comes back fragmented in the reply.
    let r = send(
        &mut c,
        Command::READ,
        &read_req(fid, 0, 200 * 1024, channel::NONE, Vec::new()),
        200 * 1024,
    );
    match r.body() {
        Response::Read(rd) => assert_eq!(rd.data, inline[..200 * 1024]),
        other => panic!("{other:?}"),
    }

    // The server's own counters for this channel saw the RDMA traffic.
    let st = rig.server.connections();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].transport, "smbdirect");
    let t = st[0].transport_counters.expect("SMB Direct counters");
    assert_eq!(t.rdma_read_bytes, big.len() as u64);
    assert_eq!(t.rdma_write_bytes, big.len() as u64);
    // Both went in place: RDMA read into registered memory the file was written from, the
    // file read into registered memory the RDMA write sent from.
    assert_eq!(t.copied_bytes, 0, "{t:?}");
    // ~460 fragments of the inline WRITE alone (the client sends 1364-byte messages).
    assert!(t.recvs > 450 && t.sends > 5, "{t:?}");

    let r = c
        .call(
            Command::CLOSE,
            &Request::Close(CloseRequest {
                flags: 0,
                file_id: fid,
            }),
        )
        .unwrap();
    assert_eq!(r.status, NtStatus::SUCCESS);
    smbd.lock().unwrap().driver.close();
    drop(c);
    rig.wait_idle();
}

#[test]
fn credits_keep_flowing_past_the_initial_grant() {
    // 600 round trips: far more SMBD messages than one grant of 255 credits.
    let mut rig = rig("smbd-credits");
    let (mut c, smbd) = logged_in(&mut rig);
    for _ in 0..600 {
        let r = c.call(Command::ECHO, &Request::Echo(EchoRequest)).unwrap();
        assert_eq!(r.status, NtStatus::SUCCESS);
    }
    assert!(!smbd.lock().unwrap().closed);
}

#[test]
fn rdma_channels_are_checked_before_any_transfer() {
    let mut rig = rig("smbd-channels");
    let (mut c, smbd) = logged_in(&mut rig);
    let fid = c.create("f.bin", 5, 0).expect("create");
    let buf = smbd.lock().unwrap().buffer(&[0u8; 4096]);

    // A READ asking for more than its descriptors hold.
    let info = descriptors(&buf, &[(0, 4096)]);
    let r = send(
        &mut c,
        Command::READ,
        &read_req(fid, 0, 8192, channel::RDMA_V1, info.clone()),
        8192,
    );
    assert_eq!(r.status, NtStatus::INVALID_PARAMETER);
    // A WRITE whose RemainingBytes exceed them.
    let r = send(
        &mut c,
        Command::WRITE,
        &write_req(fid, 0, channel::RDMA_V1, info.clone(), 8192, Vec::new()),
        8192,
    );
    assert_eq!(r.status, NtStatus::INVALID_PARAMETER);
    // A WRITE with both inline data and an RDMA channel.
    let r = send(
        &mut c,
        Command::WRITE,
        &write_req(fid, 0, channel::RDMA_V1, info.clone(), 4, vec![1, 2, 3, 4]),
        4,
    );
    assert_eq!(r.status, NtStatus::INVALID_PARAMETER);
    // The RDMA transform channel is not offered.
    let r = send(
        &mut c,
        Command::READ,
        &read_req(fid, 0, 4096, channel::RDMA_TRANSFORM, info),
        4096,
    );
    assert_eq!(r.status, NtStatus::INVALID_PARAMETER);
    // Channel information that is not a whole number of descriptors.
    let r = send(
        &mut c,
        Command::READ,
        &read_req(fid, 0, 16, channel::RDMA_V1, vec![0; 10]),
        16,
    );
    assert_eq!(r.status, NtStatus::INVALID_PARAMETER);
    // A zero-length RDMA WRITE moves nothing and succeeds.
    let info = descriptors(&buf, &[(0, 4096)]);
    let r = send(
        &mut c,
        Command::WRITE,
        &write_req(fid, 0, channel::RDMA_V1, info, 0, Vec::new()),
        0,
    );
    assert_eq!(r.status, NtStatus::SUCCESS);
    // The connection is still good.
    assert_eq!(
        c.call(Command::ECHO, &Request::Echo(EchoRequest))
            .unwrap()
            .status,
        NtStatus::SUCCESS
    );
}

#[test]
fn a_write_the_server_refuses_pulls_no_data() {
    let mut rig = rig("smbd-refused");
    let (mut c, smbd) = logged_in(&mut rig);
    let rw = c.create("ro.bin", 5, 0).expect("create");
    // The same file opened for reading only (FILE_READ_DATA | READ_ATTRIBUTES | SYNCHRONIZE).
    let mut body = Client::create_body("ro.bin", 1, 0);
    if let Request::Create(cr) = &mut body {
        cr.desired_access = 0x0010_0081;
    }
    let r = c.call(Command::CREATE, &body).unwrap();
    let ro = match r.body() {
        Response::Create(cr) if r.status == NtStatus::SUCCESS => cr.file_id,
        other => panic!("{:?} {other:?}", r.status),
    };
    let src = smbd.lock().unwrap().buffer(&pattern(65536, 3));
    let info = descriptors(&src, &[(0, 65536)]);

    // No write access: ACCESS_DENIED, and the 64 KiB stay at the client.
    let r = send(
        &mut c,
        Command::WRITE,
        &write_req(ro, 0, channel::RDMA_V1, info.clone(), 65536, Vec::new()),
        65536,
    );
    assert_eq!(r.status, NtStatus::ACCESS_DENIED);
    // A handle that does not exist: FILE_CLOSED, nothing pulled either.
    let mut gone = rw;
    gone.volatile ^= 0x5a5a;
    let r = send(
        &mut c,
        Command::WRITE,
        &write_req(gone, 0, channel::RDMA_V1, info.clone(), 65536, Vec::new()),
        65536,
    );
    assert_eq!(r.status, NtStatus::FILE_CLOSED);
    let t = rig.server.connections()[0]
        .transport_counters
        .expect("SMB Direct counters");
    assert_eq!((t.rdma_reads, t.rdma_read_bytes), (0, 0), "{t:?}");

    // The writable handle pulls the same descriptors and writes them.
    let r = send(
        &mut c,
        Command::WRITE,
        &write_req(rw, 0, channel::RDMA_V1, info, 65536, Vec::new()),
        65536,
    );
    assert_eq!(r.status, NtStatus::SUCCESS);
    let t = rig.server.connections()[0].transport_counters.unwrap();
    assert_eq!(t.rdma_read_bytes, 65536);
    assert_eq!(
        std::fs::read(rig.share.join("ro.bin")).unwrap(),
        pattern(65536, 3)
    );
    smbd.lock().unwrap().driver.close();
    drop(c);
    rig.wait_idle();
}

#[test]
fn descriptors_outside_registered_memory_end_the_connection_cleanly() {
    let mut rig = rig("smbd-badmem");
    let (mut c, smbd) = logged_in(&mut rig);
    let fid = c.create("victim.bin", 5, 0).expect("create");
    let buf = smbd.lock().unwrap().buffer(&[9u8; 4096]);
    // 64 KiB starting inside a 4 KiB region: the RDMA read fails at the client's HCA.
    let info = descriptors(&buf, &[(0, 65536)]);
    let mut m = c.build(
        Command::WRITE,
        &write_req(fid, 0, channel::RDMA_V1, info, 65536, Vec::new()),
        1,
    );
    c.sign(&mut m);
    c.send_framed(&m);
    assert!(c.recv_reply().is_none(), "the server disconnects");
    assert!(smbd.lock().unwrap().closed);
    rig.wait_idle();
    // Nothing was written, and the server serves the next client.
    assert_eq!(
        std::fs::metadata(rig.share.join("victim.bin"))
            .unwrap()
            .len(),
        0
    );
    let (mut c2, _s2) = logged_in(&mut rig);
    assert!(c2.create("victim.bin", 1, 0).is_ok());
}

#[test]
fn a_descriptor_longer_than_the_negotiated_limit_ends_the_connection() {
    let mut rig = rig("smbd-toolong");
    let (mut c, smbd) = logged_in(&mut rig);
    let fid = c.create("f.bin", 5, 0).expect("create");
    let buf = smbd.lock().unwrap().buffer(&[0u8; 4096]);
    // 16 MiB in one descriptor: twice the negotiated max read/write size.
    let info = descriptors(&buf, &[(0, 16 * 1024 * 1024)]);
    let mut m = c.build(
        Command::READ,
        &read_req(fid, 0, 4096, channel::RDMA_V1, info),
        1,
    );
    c.sign(&mut m);
    c.send_framed(&m);
    // Answered INVALID_PARAMETER or disconnected: either way nothing moved.
    match c.recv_reply() {
        None => {}
        Some(r) => assert_eq!(r.status, NtStatus::INVALID_PARAMETER),
    }
    assert_eq!(smbd.lock().unwrap().driver.qp().stats().rdma_write_bytes, 0);
    smbd.lock().unwrap().driver.close();
    rig.wait_idle();
}

#[test]
fn a_client_vanishing_mid_read_is_cleaned_up() {
    let mut rig = rig("smbd-vanish");
    let (mut c, smbd) = logged_in(&mut rig);
    let fid = c.create("data.bin", 5, 0).expect("create");
    let data = pattern(1024 * 1024, 3);
    std::fs::write(rig.share.join("data.bin"), &data).unwrap();
    let target = smbd.lock().unwrap().buffer(&vec![0u8; data.len()]);
    let info = descriptors(&target, &[(0, data.len() as u32)]);
    let mut m = c.build(
        Command::READ,
        &read_req(fid, 0, data.len() as u32, channel::RDMA_V1, info),
        charge(data.len()),
    );
    let sent = smbd.lock().unwrap().driver.stats().sends;
    c.sign(&mut m);
    c.send_framed(&m);
    // Once the request is on the wire, the client's host dies: before the data lands, or
    // (if the server was quick) before the reply does; either way the server finds out
    // (a failed work request, or the idle timer) and cleans up.
    {
        let mut s = smbd.lock().unwrap();
        assert!(
            s.pump_until(|d| d.stats().sends > sent),
            "the READ was posted"
        );
        // The emulation runs posted work requests at the next poll: deliver it.
        s.driver.process(Instant::now());
        s.driver.qp().vanish();
    }
    rig.wait_idle();
    let (mut c2, _s2) = logged_in(&mut rig);
    assert!(
        c2.create("data.bin", 1, 0).is_ok(),
        "the open of the lost client is gone"
    );
}

fn logged_in_with_faults(rig: &mut Rig) -> (Client, Arc<Mutex<Smbd>>, EmuFaults) {
    let (mut c, smbd, faults) = rig.connect_with_faults();
    assert_eq!(c.negotiate(&[0x0311]).status, NtStatus::SUCCESS);
    assert_eq!(c.login(USER.0, USER.1), NtStatus::SUCCESS);
    assert_eq!(c.tree_connect("\\\\nas\\data"), NtStatus::SUCCESS);
    (c, smbd, faults)
}

#[test]
fn a_failed_rdma_write_on_the_servers_qp_ends_the_connection_cleanly() {
    let mut rig = rig("smbd-wrfail");
    let (mut c, smbd, faults) = logged_in_with_faults(&mut rig);
    let fid = c.create("data.bin", 5, 0).expect("create");
    std::fs::write(rig.share.join("data.bin"), pattern(512 * 1024, 9)).unwrap();
    let target = smbd.lock().unwrap().buffer(&[0u8; 512 * 1024]);
    let info = descriptors(&target, &[(0, 512 * 1024)]);
    // The server's next send-queue work request (the first RDMA write of the READ's data)
    // fails at its HCA, as after a link error: the QP goes to error.
    faults.inject(Fault::FailNthWr {
        n: 1,
        status: WcStatus::RetryExceeded,
    });
    let mut m = c.build(
        Command::READ,
        &read_req(fid, 0, 512 * 1024, channel::RDMA_V1, info),
        charge(512 * 1024),
    );
    c.sign(&mut m);
    c.send_framed(&m);
    assert!(c.recv_reply().is_none(), "no reply: the connection is gone");
    rig.wait_idle();
    let (mut c2, _s2) = logged_in(&mut rig);
    assert!(c2.create("data.bin", 1, 0).is_ok());
}

#[test]
fn a_fatal_qp_error_while_idle_ends_the_connection_cleanly() {
    let mut rig = rig("smbd-fatal");
    let (mut c, _smbd, faults) = logged_in_with_faults(&mut rig);
    let _fid = c.create("held.bin", 5, 0).expect("create");
    // IBV_EVENT_QP_FATAL on the server's QP with an open file and nothing in flight.
    faults.qp_error();
    rig.wait_idle();
    assert!(c.recv_frame().is_none(), "the client is disconnected");
    let (mut c2, _s2) = logged_in(&mut rig);
    assert!(c2.create("held.bin", 1, 0).is_ok());
}

#[test]
fn a_qp_error_on_one_connection_leaves_the_others_working() {
    let mut rig = rig("smbd-two");
    let (mut a, _sa, faults) = logged_in_with_faults(&mut rig);
    let (mut b, sb) = logged_in(&mut rig);
    let _fa = a.create("a.bin", 5, 0).expect("create a");
    let fb = b.create("b.bin", 5, 0).expect("create b");
    // A's queue pair dies (IBV_EVENT_QP_FATAL) while both have files open.
    faults.qp_error();
    let deadline = Instant::now() + Duration::from_secs(10);
    while rig.server.open_count() != 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(rig.server.open_count(), 1, "A's open is released, B's kept");
    assert!(a.recv_frame().is_none(), "A is disconnected");

    // B goes on: its open still works, and its data still moves by RDMA both ways.
    let data = pattern(768 * 1024, 5);
    let src = sb.lock().unwrap().buffer(&data);
    let info = descriptors(&src, &[(0, data.len() as u32)]);
    let r = send(
        &mut b,
        Command::WRITE,
        &write_req(fb, 0, channel::RDMA_V1, info, data.len() as u32, Vec::new()),
        data.len(),
    );
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(
        read_by_rdma(&mut b, &sb, fb, data.len(), channel::RDMA_V1),
        data
    );
    let conns = rig.server.connections();
    assert_eq!(conns.len(), 1, "{conns:?}");
    let t = conns[0].transport_counters.unwrap();
    assert_eq!(
        (t.rdma_read_bytes, t.rdma_write_bytes),
        (data.len() as u64, data.len() as u64)
    );
}

#[test]
fn an_rdma_channel_bound_to_a_tcp_session_moves_its_data_by_rdma() {
    // What a Windows client does: log on over TCP, then add an SMB Direct channel to the
    // session (SESSION_SETUP with the binding flag, signed with the binding key) and send
    // its large READs and WRITEs there. The requests run at the session's home connection
    // (TCP, another thread); their data moves on the channel's queue pair.
    let mut rig = rig("smbd-bind");
    let addr = rig.with_tcp();
    let mut home = Client::connect(addr);
    assert_eq!(home.negotiate(&[0x0311]).status, NtStatus::SUCCESS);
    assert_eq!(home.login(USER.0, USER.1), NtStatus::SUCCESS);
    assert_eq!(home.tree_connect("\\\\nas\\data"), NtStatus::SUCCESS);
    let fid = home.create("bound.bin", 5, 0).expect("create over TCP");

    let (mut ch, smbd) = rig.connect();
    assert_eq!(ch.negotiate(&[0x0311]).status, NtStatus::SUCCESS);
    ch.session_id = home.session_id;
    ch.signing = home.signing.clone();
    assert_eq!(ch.login_with(USER.0, USER.1, 0x01, 0), NtStatus::SUCCESS);
    ch.tree_id = home.tree_id;

    let data = pattern(1536 * 1024, 11);
    let buf = smbd.lock().unwrap().buffer(&data);
    let half = (data.len() / 2) as u64;
    let info = descriptors(&buf, &[(0, half as u32), (half, half as u32)]);
    let r = send(
        &mut ch,
        Command::WRITE,
        &write_req(
            fid,
            0,
            channel::RDMA_V1,
            info,
            data.len() as u32,
            Vec::new(),
        ),
        data.len(),
    );
    assert_eq!(r.status, NtStatus::SUCCESS);
    assert_eq!(std::fs::read(rig.share.join("bound.bin")).unwrap(), data);

    assert_eq!(
        read_by_rdma(&mut ch, &smbd, fid, data.len(), channel::RDMA_V1_INVALIDATE),
        data
    );

    // The channel's own counters moved the data; the TCP connection carried none of it.
    let conns = rig.server.connections();
    let direct = conns.iter().find(|c| c.transport == "smbdirect").unwrap();
    let t = direct.transport_counters.unwrap();
    assert_eq!(
        (t.rdma_read_bytes, t.rdma_write_bytes),
        (data.len() as u64, data.len() as u64)
    );
    // In place, though the requests ran on another connection's thread: the WRITE went to
    // the file from the registered memory its data was RDMA-read into, and the home read
    // the file into the channel's registered memory for the RDMA write.
    assert_eq!(t.copied_bytes, 0, "{t:?}");
    let tcp = conns.iter().find(|c| c.transport == "tcp").unwrap();
    assert!(
        tcp.bytes_in < 64 * 1024 && tcp.bytes_out < 64 * 1024,
        "{tcp:?}"
    );
}

#[test]
fn a_flood_behind_busy_requests_is_held_back_by_smbd_credits() {
    // A client fills every request slot of its SMB Direct connection with CREATEs that
    // must wait (another client holds a batch oplock on the file and does not acknowledge
    // the break yet), then sends 1500 ECHOs. On TCP the server would stop reading its
    // socket; here it stops posting receives, so the client runs out of SMBD credits
    // instead of the server buffering everything it sends.
    let mut rig = rig("smbd-flood");
    rig.server.set_break_timeout(Duration::from_secs(60));
    let addr = rig.with_tcp();
    let mut holder = Client::connect(addr);
    assert_eq!(holder.negotiate(&[0x0311]).status, NtStatus::SUCCESS);
    assert_eq!(holder.login(USER.0, USER.1), NtStatus::SUCCESS);
    assert_eq!(holder.tree_connect("\\\\nas\\data"), NtStatus::SUCCESS);
    let mut body = Client::create_body("busy.txt", 3, 0);
    if let Request::Create(c) = &mut body {
        c.requested_oplock_level = 0x09; // batch
    }
    let r = holder.call(Command::CREATE, &body).unwrap();
    let Response::Create(held) = r.body() else {
        panic!("CREATE failed: {:?}", r.status)
    };
    assert_eq!(held.oplock_level, 0x09, "batch oplock granted");

    let (mut c, smbd) = logged_in(&mut rig);
    // SMB2 credits for everything that follows (each reply grants up to 64 more).
    for _ in 0..30 {
        let r = c.call(Command::ECHO, &Request::Echo(EchoRequest)).unwrap();
        assert_eq!(r.status, NtStatus::SUCCESS);
    }
    let open = Client::create_body("busy.txt", 3, 0);
    for _ in 0..64 {
        let mut m = c.build(Command::CREATE, &open, 1);
        c.sign(&mut m);
        c.send_framed(&m);
    }
    let sent_before = smbd.lock().unwrap().driver.connection_stats().packets_sent;
    for _ in 0..1500 {
        let mut m = c.build(Command::ECHO, &Request::Echo(EchoRequest), 1);
        c.sign(&mut m);
        c.send_framed(&m);
    }
    // The client stalls: no SMBD credit left, most of the flood still queued on its side.
    let stalled = smbd.lock().unwrap().pump_until(|d| {
        d.connection().credits().send_credits() == 0 && d.connection().queued_send_bytes() > 0
    });
    assert!(stalled, "the client never ran out of SMBD credits");
    std::thread::sleep(Duration::from_millis(300));
    let flooded = smbd.lock().unwrap().driver.connection_stats().packets_sent - sent_before;
    assert!(
        flooded < 700,
        "the server took {flooded} of 1500 ECHOs while every request slot was busy"
    );
    assert_eq!(
        smbd.lock()
            .unwrap()
            .driver
            .connection()
            .credits()
            .send_credits(),
        0
    );

    // The holder acknowledges: the CREATEs finish, slots free up, receives are posted
    // again and the whole flood is answered.
    let brk = holder.recv_frame().expect("the oplock break");
    let bh = smb_wire::header::Header::decode(&brk).unwrap();
    assert_eq!(bh.command, Command::OPLOCK_BREAK);
    let ack = Request::OplockBreak(smb_wire::message::OplockBreakAck::Oplock(
        smb_wire::misc::OplockBreak {
            oplock_level: 0x01,
            file_id: held.file_id,
        },
    ));
    assert_eq!(
        holder.call(Command::OPLOCK_BREAK, &ack).unwrap().status,
        NtStatus::SUCCESS
    );
    let (mut creates, mut echoes) = (0, 0);
    while creates < 64 || echoes < 1500 {
        let r = c.recv_reply().expect("every request answered");
        assert_eq!(r.status, NtStatus::SUCCESS, "{:?}", r.hdr.command);
        match r.hdr.command {
            Command::CREATE => creates += 1,
            Command::ECHO => echoes += 1,
            other => panic!("unexpected reply {other:?}"),
        }
    }
    assert!(!smbd.lock().unwrap().closed);
}

/// Not a test: how fast the whole stack moves RDMA WRITE and READ data on the emulation
/// (`cargo test --release -p smb-server --test direct -- --ignored --nocapture`).
#[test]
#[ignore]
fn throughput_on_the_emulation() {
    let mut rig = rig("smbd-bench");
    let (mut c, smbd) = logged_in(&mut rig);
    let fid = c.create("bench.bin", 5, 0).expect("create");
    let chunk = 2 * 1024 * 1024;
    let rounds = 64;
    let data = pattern(chunk, 5);
    let buf = smbd.lock().unwrap().buffer(&data);
    let info = descriptors(&buf, &[(0, chunk as u32)]);
    let t0 = Instant::now();
    for i in 0..rounds {
        let r = send(
            &mut c,
            Command::WRITE,
            &write_req(
                fid,
                (i * chunk) as u64,
                channel::RDMA_V1,
                info.clone(),
                chunk as u32,
                Vec::new(),
            ),
            chunk,
        );
        assert_eq!(r.status, NtStatus::SUCCESS);
    }
    let w = t0.elapsed();
    let t0 = Instant::now();
    for i in 0..rounds {
        let r = send(
            &mut c,
            Command::READ,
            &read_req(
                fid,
                (i * chunk) as u64,
                chunk as u32,
                channel::RDMA_V1,
                info.clone(),
            ),
            chunk,
        );
        assert_eq!(r.status, NtStatus::SUCCESS);
    }
    let r = w.as_secs_f64();
    let rd = t0.elapsed().as_secs_f64();
    let mib = (rounds * chunk) as f64 / 1048576.0;
    println!(
        "RDMA WRITE {:.0} MiB/s, RDMA READ {:.0} MiB/s",
        mib / r,
        mib / rd
    );
}
