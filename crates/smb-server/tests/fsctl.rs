//! FSCTL transcripts against the real server over TCP, once on the io_uring filesystem and
//! once on the in-memory one: compression (none), sparse files (SET_SPARSE,
//! QUERY_ALLOCATED_RANGES, SET_ZERO_DATA) and server-side copy under byte-range locks, each
//! request with the NTSTATUS and output a Windows server gives, malformed input included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::path::PathBuf;

use smb_server::{Catalog, Server, ShareConfig, UserConfig};
use smb_test_support::{ntlm, Client};
use smb_wire::create::CreateRequest;
use smb_wire::file::{
    lock_flags, CloseRequest, LockElement, LockRequest, ReadRequest, WriteRequest,
};
use smb_wire::fscc::{access, attr};
use smb_wire::fsctl::{self, SrvCopychunk, SrvCopychunkCopy};
use smb_wire::header::Command;
use smb_wire::info::{info_type, QueryInfoRequest};
use smb_wire::ioctl::IoctlRequest;
use smb_wire::message::{Request, Response};
use smb_wire::{FileId, NtStatus};

struct Running {
    addr: SocketAddr,
    /// Whether the filesystem keeps holes (MemVfs always; a real one usually).
    base: PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            t.join()
                .expect("server thread panicked")
                .expect("server failed");
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn start<V: smb_vfs::Vfs>(tag: &str, make_vfs: impl Fn() -> V + Send + Sync + 'static) -> Running {
    let base = std::env::temp_dir().join(format!("nasd-fsctl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let share = base.join("share");
    std::fs::create_dir_all(&share).unwrap();
    let identity = smb_auth::ServerIdentity {
        netbios_name: "NAS".into(),
        netbios_domain: "WORKGROUP".into(),
        dns_name: "nas".into(),
        dns_domain: String::new(),
    };
    let cfg = smb_proto::Config::new([5; 16], identity);
    let catalog = Catalog::new(
        vec![ShareConfig {
            name: "data".into(),
            path: share,
            comment: String::new(),
            read_only: false,
            guest_ok: false,
            browseable: true,
            encrypt: false,
            valid_users: vec![],
            write_users: vec![],
        }],
        vec![UserConfig {
            name: "alice".into(),
            nt_hash: ntlm::nt_hash("secret"),
            enabled: true,
        }],
        "NAS".into(),
        "WORKGROUP".into(),
        String::new(),
        cfg,
    );
    let server = Server::new(catalog);
    let listener = smb_server::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let thread =
        std::thread::spawn(move || smb_server::serve_tcp(server, vec![listener], make_vfs, rx));
    Running {
        addr,
        base,
        stop,
        thread: Some(thread),
    }
}

/// A logged-on client with the share connected, and the little conversations the
/// transcripts are made of.
struct Session(Client);

const RW: u32 = 0x0012_019F;
const OPEN_IF: u32 = 3;
const OVERWRITE_IF: u32 = 5;
const DIRECTORY_FILE: u32 = 0x0000_0001;

impl Session {
    fn new(r: &Running) -> Self {
        let mut c = Client::connect(r.addr);
        c.negotiate(&[0x0302]);
        assert_eq!(c.login("alice", "secret"), NtStatus::SUCCESS);
        assert_eq!(
            c.tree_connect(&format!("\\\\{}\\data", r.addr.ip())),
            NtStatus::SUCCESS
        );
        Session(c)
    }

    fn open(&mut self, name: &str, desired_access: u32, disposition: u32, options: u32) -> FileId {
        self.open_with(name, desired_access, disposition, options, attr::NORMAL)
    }

    fn open_with(
        &mut self,
        name: &str,
        desired_access: u32,
        disposition: u32,
        options: u32,
        file_attributes: u32,
    ) -> FileId {
        let r = self
            .0
            .call(
                Command::CREATE,
                &Request::Create(CreateRequest {
                    security_flags: 0,
                    requested_oplock_level: 0,
                    impersonation_level: 2,
                    smb_create_flags: 0,
                    desired_access,
                    file_attributes,
                    share_access: 7,
                    create_disposition: disposition,
                    create_options: options,
                    name: name.into(),
                    contexts: Vec::new(),
                }),
            )
            .unwrap();
        assert_eq!(r.status, NtStatus::SUCCESS, "open {name}");
        match r.body() {
            Response::Create(c) => c.file_id,
            other => panic!("{other:?}"),
        }
    }

    fn close(&mut self, file_id: FileId) {
        let r = self
            .0
            .call(
                Command::CLOSE,
                &Request::Close(CloseRequest { flags: 0, file_id }),
            )
            .unwrap();
        assert_eq!(r.status, NtStatus::SUCCESS);
    }

    fn write(&mut self, file_id: FileId, offset: u64, data: Vec<u8>) {
        let r = self
            .0
            .call(
                Command::WRITE,
                &Request::Write(WriteRequest {
                    offset,
                    file_id,
                    channel: 0,
                    remaining_bytes: 0,
                    write_channel_info: Vec::new(),
                    flags: 0,
                    data: data.into(),
                }),
            )
            .unwrap();
        assert_eq!(r.status, NtStatus::SUCCESS);
    }

    fn read(&mut self, file_id: FileId, offset: u64, length: u32) -> Vec<u8> {
        let r = self
            .0
            .call(
                Command::READ,
                &Request::Read(ReadRequest {
                    padding: 0x50,
                    flags: 0,
                    length,
                    offset,
                    file_id,
                    minimum_count: 0,
                    channel: 0,
                    remaining_bytes: 0,
                    read_channel_info: Vec::new(),
                }),
            )
            .unwrap();
        assert_eq!(r.status, NtStatus::SUCCESS);
        match r.body() {
            Response::Read(b) => b.data,
            other => panic!("{other:?}"),
        }
    }

    fn lock(&mut self, file_id: FileId, offset: u64, length: u64, flags: u32) -> NtStatus {
        self.0
            .call(
                Command::LOCK,
                &Request::Lock(LockRequest {
                    lock_sequence: 0,
                    file_id,
                    locks: vec![LockElement {
                        offset,
                        length,
                        flags,
                    }],
                }),
            )
            .unwrap()
            .status
    }

    /// FileBasicInformation's FileAttributes and FileStandardInformation's EndOfFile.
    fn attributes_and_size(&mut self, file_id: FileId) -> (u32, u64) {
        let mut query = |class: u8| {
            let r = self
                .0
                .call(
                    Command::QUERY_INFO,
                    &Request::QueryInfo(QueryInfoRequest {
                        info_type: info_type::FILE,
                        file_info_class: class,
                        output_buffer_length: 1024,
                        input: Vec::new(),
                        additional_information: 0,
                        flags: 0,
                        file_id,
                    }),
                )
                .unwrap();
            assert_eq!(r.status, NtStatus::SUCCESS);
            match r.body() {
                Response::QueryInfo(q) => q.buffer,
                other => panic!("{other:?}"),
            }
        };
        let basic = query(4);
        let standard = query(5);
        (
            u32::from_le_bytes(basic[32..36].try_into().unwrap()),
            u64::from_le_bytes(standard[8..16].try_into().unwrap()),
        )
    }

    fn sparse(&mut self, file_id: FileId) -> bool {
        self.attributes_and_size(file_id).0 & attr::SPARSE_FILE != 0
    }

    /// An FSCTL: its status and output (the output even with an error status, when the
    /// server sent an IOCTL response body).
    fn fsctl(
        &mut self,
        file_id: FileId,
        ctl_code: u32,
        input: Vec<u8>,
        max_output_response: u32,
    ) -> (NtStatus, Vec<u8>) {
        let r = self
            .0
            .call(
                Command::IOCTL,
                &Request::Ioctl(IoctlRequest {
                    ctl_code,
                    file_id,
                    input,
                    output: Vec::new(),
                    max_input_response: 0,
                    max_output_response,
                    flags: fsctl::SMB2_0_IOCTL_IS_FSCTL,
                }),
            )
            .unwrap();
        let out = match Response::decode(&r.hdr, &r.msg) {
            Ok(Response::Ioctl(b)) => b.output,
            _ => Vec::new(),
        };
        (r.status, out)
    }

    fn set_sparse(&mut self, file_id: FileId, input: Vec<u8>) -> NtStatus {
        self.fsctl(file_id, fsctl::FSCTL_SET_SPARSE, input, 0).0
    }

    fn zero(&mut self, file_id: FileId, from: i64, beyond: i64) -> NtStatus {
        let mut input = from.to_le_bytes().to_vec();
        input.extend_from_slice(&beyond.to_le_bytes());
        self.fsctl(file_id, fsctl::FSCTL_SET_ZERO_DATA, input, 0).0
    }

    fn qar(
        &mut self,
        file_id: FileId,
        offset: i64,
        length: i64,
        max: u32,
    ) -> (NtStatus, Vec<(u64, u64)>) {
        let mut input = offset.to_le_bytes().to_vec();
        input.extend_from_slice(&length.to_le_bytes());
        let (st, out) = self.fsctl(file_id, fsctl::FSCTL_QUERY_ALLOCATED_RANGES, input, max);
        assert_eq!(out.len() % 16, 0, "whole FILE_ALLOCATED_RANGE_BUFFERs");
        let ranges = out
            .chunks(16)
            .map(|c| {
                (
                    u64::from_le_bytes(c[..8].try_into().unwrap()),
                    u64::from_le_bytes(c[8..].try_into().unwrap()),
                )
            })
            .collect();
        (st, ranges)
    }

    fn resume_key(&mut self, file_id: FileId) -> [u8; 24] {
        let (st, out) = self.fsctl(file_id, fsctl::FSCTL_SRV_REQUEST_RESUME_KEY, Vec::new(), 32);
        assert_eq!(st, NtStatus::SUCCESS);
        out[..24].try_into().unwrap()
    }

    /// FSCTL_SRV_COPYCHUNK: status and (chunks written, chunk bytes, total bytes).
    fn copychunk(
        &mut self,
        dest: FileId,
        source_key: [u8; 24],
        chunks: &[(u64, u64, u32)],
    ) -> (NtStatus, Option<(u32, u32, u32)>) {
        let mut input = Vec::new();
        SrvCopychunkCopy {
            source_key,
            chunks: chunks
                .iter()
                .map(|&(source_offset, target_offset, length)| SrvCopychunk {
                    source_offset,
                    target_offset,
                    length,
                })
                .collect(),
        }
        .encode(&mut input);
        let (st, out) = self.fsctl(dest, fsctl::FSCTL_SRV_COPYCHUNK, input, 12);
        let word = |i: usize| u32::from_le_bytes(out[i..i + 4].try_into().unwrap());
        let rsp = (out.len() == 12).then(|| (word(0), word(4), word(8)));
        (st, rsp)
    }
}

fn pattern(from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(|i| (i % 251) as u8).collect()
}

fn compression(s: &mut Session) {
    let f = s.open("compress.txt", RW, OVERWRITE_IF, 0);
    let get = fsctl::FSCTL_GET_COMPRESSION;
    let set = fsctl::FSCTL_SET_COMPRESSION;
    assert_eq!(
        s.fsctl(f, get, Vec::new(), 2),
        (NtStatus::SUCCESS, vec![0, 0])
    );
    assert_eq!(
        s.fsctl(f, get, Vec::new(), 1).0,
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(s.fsctl(f, set, vec![0, 0], 0).0, NtStatus::SUCCESS);
    assert_eq!(s.fsctl(f, set, vec![1, 0], 0).0, NtStatus::NOT_SUPPORTED);
    assert_eq!(s.fsctl(f, set, vec![2, 0], 0).0, NtStatus::NOT_SUPPORTED);
    assert_eq!(
        s.fsctl(f, set, vec![3, 0], 0).0,
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(s.fsctl(f, set, vec![0], 0).0, NtStatus::INVALID_PARAMETER);
    s.close(f);
    // SET_COMPRESSION's control code wants read and write data access.
    let f = s.open("compress.txt", RW & !access::FILE_WRITE_DATA, OPEN_IF, 0);
    assert_eq!(s.fsctl(f, set, vec![0, 0], 0).0, NtStatus::ACCESS_DENIED);
    assert_eq!(s.fsctl(f, get, Vec::new(), 2).0, NtStatus::SUCCESS);
    s.close(f);
}

fn sparse_flag(s: &mut Session) {
    // CREATE cannot make a file sparse, whatever attributes it asks for.
    let f = s.open_with(
        "flag.bin",
        RW,
        OVERWRITE_IF,
        0,
        attr::SPARSE_FILE | attr::ARCHIVE,
    );
    assert!(!s.sparse(f));
    // No buffer means set; a zero byte clears; an oversized buffer counts its first byte.
    assert_eq!(s.set_sparse(f, Vec::new()), NtStatus::SUCCESS);
    assert!(s.sparse(f));
    assert_eq!(s.set_sparse(f, Vec::new()), NtStatus::SUCCESS);
    assert!(s.sparse(f));
    assert_eq!(s.set_sparse(f, vec![0]), NtStatus::SUCCESS);
    assert!(!s.sparse(f));
    let mut big = vec![0u8; 100];
    big[0] = 0xFF;
    assert_eq!(s.set_sparse(f, big), NtStatus::SUCCESS);
    assert!(s.sparse(f));
    s.close(f);
    // The flag is the file's: another open sees it.
    let f = s.open("flag.bin", access::FILE_READ_ATTRIBUTES, OPEN_IF, 0);
    assert!(s.sparse(f));
    // Without any write access it cannot be changed...
    assert_eq!(s.set_sparse(f, vec![0]), NtStatus::ACCESS_DENIED);
    s.close(f);
    // ...but WRITE_ATTRIBUTES alone is enough.
    let f = s.open(
        "flag.bin",
        access::FILE_WRITE_ATTRIBUTES | access::FILE_READ_ATTRIBUTES,
        OPEN_IF,
        0,
    );
    assert_eq!(s.set_sparse(f, vec![0]), NtStatus::SUCCESS);
    assert!(!s.sparse(f));
    s.close(f);
    // Directories are never sparse.
    let d = s.open("dir", 0x001F_01FF, OPEN_IF, DIRECTORY_FILE);
    assert_eq!(s.set_sparse(d, Vec::new()), NtStatus::INVALID_PARAMETER);
    assert_eq!(s.qar(d, 0, 10, 64).0, NtStatus::INVALID_PARAMETER);
    assert_eq!(s.zero(d, 0, 10), NtStatus::INVALID_PARAMETER);
    s.close(d);
}

fn ranges_and_zeroing(s: &mut Session, mem: bool) {
    let f = s.open("ranges.bin", RW, OVERWRITE_IF, 0);
    // Empty file: nothing allocated, even with no room for an answer.
    assert_eq!(s.qar(f, 0, 1024, 1024), (NtStatus::SUCCESS, vec![]));
    assert_eq!(s.qar(f, 0, 1024, 0), (NtStatus::SUCCESS, vec![]));
    // Malformed queries.
    let short = s.fsctl(f, fsctl::FSCTL_QUERY_ALLOCATED_RANGES, vec![0; 8], 64);
    assert_eq!(short.0, NtStatus::INVALID_PARAMETER);
    let empty = s.fsctl(f, fsctl::FSCTL_QUERY_ALLOCATED_RANGES, Vec::new(), 64);
    assert_eq!(empty.0, NtStatus::INVALID_PARAMETER);
    assert_eq!(s.qar(f, 512, -1, 64).0, NtStatus::INVALID_PARAMETER);
    assert_eq!(s.qar(f, -1, 10, 64).0, NtStatus::INVALID_PARAMETER);

    // Not sparse: allocated throughout, clipped to the size.
    s.write(f, 0, pattern(0, 4096));
    s.write(f, 65_536, pattern(65_536, 1024));
    assert_eq!(
        s.qar(f, 0, 1 << 20, 1024),
        (NtStatus::SUCCESS, vec![(0, 66_560)])
    );
    assert_eq!(
        s.qar(f, 1, 65_536, 1024),
        (NtStatus::SUCCESS, vec![(1, 65_536)])
    );
    assert_eq!(s.qar(f, 66_560, 10, 1024), (NtStatus::SUCCESS, vec![]));
    assert_eq!(s.qar(f, 0, 10, 0).0, NtStatus::BUFFER_TOO_SMALL);
    assert_eq!(s.qar(f, 0, 0, 1024), (NtStatus::SUCCESS, vec![]));

    // Sparse: the holes show (where the filesystem keeps them).
    assert_eq!(s.set_sparse(f, Vec::new()), NtStatus::SUCCESS);
    let (st, ranges) = s.qar(f, 0, 1 << 20, 1024);
    assert_eq!(st, NtStatus::SUCCESS);
    let holes = ranges.len() == 2;
    eprintln!("filesystem keeps holes: {holes}");
    if mem {
        assert!(holes);
    }
    if holes {
        assert_eq!(ranges, [(0, 4096), (65_536, 1024)]);
        // Room for one: BUFFER_OVERFLOW with the first.
        assert_eq!(
            s.qar(f, 0, 1 << 20, 31),
            (NtStatus::BUFFER_OVERFLOW, vec![(0, 4096)])
        );
        assert_eq!(s.qar(f, 4096, 61_440, 1024), (NtStatus::SUCCESS, vec![]));
    } else {
        assert_eq!(ranges, [(0, 66_560)]);
    }

    // Zeroing: bad ranges are refused, empty and past-the-end ones change nothing.
    assert_eq!(s.zero(f, 4096, 4095), NtStatus::INVALID_PARAMETER);
    assert_eq!(s.zero(f, -1, 4095), NtStatus::INVALID_PARAMETER);
    let short = s.fsctl(f, fsctl::FSCTL_SET_ZERO_DATA, vec![0; 15], 0);
    assert_eq!(short.0, NtStatus::INVALID_PARAMETER);
    assert_eq!(s.zero(f, 4095, 4095), NtStatus::SUCCESS);
    assert_eq!(s.zero(f, 100_000, 100_008), NtStatus::SUCCESS);
    assert_eq!(s.attributes_and_size(f).1, 66_560);
    // Punching the data at 64 KiB in the sparse file: zeros, and no longer allocated.
    assert_eq!(s.zero(f, 65_536, 1 << 20), NtStatus::SUCCESS);
    assert_eq!(s.attributes_and_size(f).1, 66_560, "the size never changes");
    assert_eq!(s.read(f, 65_536, 1024), vec![0; 1024]);
    assert_eq!(s.read(f, 0, 4096), pattern(0, 4096));
    if holes {
        assert_eq!(
            s.qar(f, 0, 1 << 20, 1024),
            (NtStatus::SUCCESS, vec![(0, 4096)])
        );
    }
    // Not sparse again: zeroing keeps the range allocated, and it all reads as data.
    assert_eq!(s.set_sparse(f, vec![0]), NtStatus::SUCCESS);
    assert_eq!(s.zero(f, 8, 16), NtStatus::SUCCESS);
    let mut want = pattern(0, 4096);
    want[8..16].fill(0);
    assert_eq!(s.read(f, 0, 4096), want);
    assert_eq!(
        s.qar(f, 0, 1 << 20, 1024),
        (NtStatus::SUCCESS, vec![(0, 66_560)])
    );
    s.close(f);

    // Access: QUERY_ALLOCATED_RANGES needs READ_DATA, SET_ZERO_DATA needs WRITE_DATA.
    let f = s.open("ranges.bin", access::FILE_READ_ATTRIBUTES, OPEN_IF, 0);
    assert_eq!(s.qar(f, 0, 10, 64).0, NtStatus::ACCESS_DENIED);
    assert_eq!(s.zero(f, 0, 10), NtStatus::ACCESS_DENIED);
    s.close(f);
    let f = s.open("ranges.bin", access::FILE_READ_DATA, OPEN_IF, 0);
    assert_eq!(s.qar(f, 0, 10, 64), (NtStatus::SUCCESS, vec![(0, 10)]));
    s.close(f);
    let f = s.open("ranges.bin", access::FILE_APPEND_DATA, OPEN_IF, 0);
    assert_eq!(s.zero(f, 0, 10), NtStatus::ACCESS_DENIED);
    s.close(f);
    let f = s.open("ranges.bin", access::FILE_WRITE_DATA, OPEN_IF, 0);
    assert_eq!(s.zero(f, 0, 10), NtStatus::SUCCESS);
    s.close(f);
}

fn locks_and_copies(s: &mut Session) {
    let src = s.open("src.bin", RW, OVERWRITE_IF, 0);
    s.write(src, 0, pattern(0, 8192));
    let dst = s.open("dst.bin", RW, OVERWRITE_IF, 0);
    let key = s.resume_key(src);
    let other = s.open("src.bin", RW, OPEN_IF, 0);
    assert_eq!(
        s.lock(
            other,
            0,
            4096,
            lock_flags::EXCLUSIVE | lock_flags::FAIL_IMMEDIATELY
        ),
        NtStatus::SUCCESS
    );

    // Another open's lock stops zeroing and copying out of the range, not queries.
    assert_eq!(s.zero(src, 0, 4096), NtStatus::FILE_LOCK_CONFLICT);
    assert_eq!(s.zero(src, 4096, 8192), NtStatus::SUCCESS);
    assert_eq!(
        s.qar(src, 0, 4096, 64),
        (NtStatus::SUCCESS, vec![(0, 4096)])
    );
    // A copy that fails still answers with the whole SRV_COPYCHUNK_RESPONSE.
    assert_eq!(
        s.copychunk(dst, key, &[(0, 0, 4096)]),
        (NtStatus::FILE_LOCK_CONFLICT, Some((0, 0, 0)))
    );
    assert_eq!(
        s.lock(other, 0, 4096, lock_flags::UNLOCK),
        NtStatus::SUCCESS
    );
    assert_eq!(
        s.copychunk(dst, key, &[(0, 0, 4096)]),
        (NtStatus::SUCCESS, Some((1, 0, 4096)))
    );
    assert_eq!(s.read(dst, 0, 4096), pattern(0, 4096));

    // The target locked by another open.
    let other_dst = s.open("dst.bin", RW, OPEN_IF, 0);
    assert_eq!(
        s.lock(
            other_dst,
            100,
            1,
            lock_flags::SHARED | lock_flags::FAIL_IMMEDIATELY
        ),
        NtStatus::SUCCESS
    );
    assert_eq!(
        s.copychunk(dst, key, &[(0, 0, 4096)]),
        (NtStatus::FILE_LOCK_CONFLICT, Some((0, 0, 0)))
    );
    s.close(other_dst);

    // The second chunk reads past the source's end: the first one stays copied.
    assert_eq!(
        s.copychunk(dst, key, &[(0, 10_000, 4096), (4096, 20_000, 8192)]),
        (NtStatus::INVALID_VIEW_SIZE, Some((1, 0, 4096)))
    );
    assert_eq!(s.read(dst, 10_000, 4096), pattern(0, 4096));
    s.close(other);
    s.close(dst);
    s.close(src);

    // A source open for EXECUTE (and not READ_DATA) may be copied from; one with neither not.
    for (source_access, want) in [
        (
            access::FILE_EXECUTE | access::FILE_READ_ATTRIBUTES,
            NtStatus::SUCCESS,
        ),
        (
            access::FILE_READ_DATA | access::FILE_READ_ATTRIBUTES,
            NtStatus::SUCCESS,
        ),
        (access::FILE_READ_ATTRIBUTES, NtStatus::ACCESS_DENIED),
    ] {
        let src = s.open("src.bin", source_access, OPEN_IF, 0);
        let key = s.resume_key(src);
        let dst = s.open("dst.bin", RW, OPEN_IF, 0);
        assert_eq!(
            s.copychunk(dst, key, &[(0, 0, 100)]).0,
            want,
            "{source_access:#x}"
        );
        s.close(dst);
        s.close(src);
    }
    // FSCTL_SRV_COPYCHUNK needs the target readable too.
    let src = s.open("src.bin", RW, OPEN_IF, 0);
    let key = s.resume_key(src);
    let dst = s.open("dst.bin", RW & !access::FILE_READ_DATA, OPEN_IF, 0);
    assert_eq!(
        s.copychunk(dst, key, &[(0, 0, 100)]).0,
        NtStatus::ACCESS_DENIED
    );
    s.close(dst);
    s.close(src);
}

fn transcript(r: &Running, mem: bool) {
    let mut s = Session::new(r);
    compression(&mut s);
    sparse_flag(&mut s);
    ranges_and_zeroing(&mut s, mem);
    locks_and_copies(&mut s);
    // Still serving.
    let f = s.open("last.txt", RW, OVERWRITE_IF, 0);
    s.close(f);
}

#[test]
fn fsctl_transcript_on_io_uring() {
    let r = start("uring", smb_vfs::UringVfs::new);
    transcript(&r, false);
}

#[test]
fn fsctl_transcript_in_memory() {
    let r = start("mem", smb_vfs::MemVfs::new);
    transcript(&r, true);
}
