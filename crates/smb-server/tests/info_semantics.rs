//! QUERY_INFO / SET_INFO / CREATE / QUERY_DIRECTORY / compound transcripts against the
//! real server over TCP on the in-memory filesystem (user xattrs always available): buffer
//! size rules, access per information class, rename against the parent's share modes,
//! stored security descriptors and their DACL check, create contexts, the fake quota file,
//! enumeration after deletes, and the NTSTATUS of related requests in compounds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use smb_test_support::Client;
use smb_wire::create::{CreateContext, CreateRequest};
use smb_wire::dir::{ChangeNotifyRequest, QueryDirectoryRequest};
use smb_wire::file::CloseRequest;
use smb_wire::fscc::{access, attr};
use smb_wire::header::{flags, Command};
use smb_wire::info::{info_type, QueryInfoRequest, SetInfoRequest};
use smb_wire::message::{Request, Response};
use smb_wire::security::{control, secinfo, well_known, Ace, Acl, SecurityDescriptor};
use smb_wire::{FileId, NtStatus};

mod common;
use common::Running;

fn start(tag: &str) -> Running {
    common::start_with(
        &format!("info-{tag}"),
        &[("alice", "secret")],
        smb_vfs::MemVfs::new,
    )
}

const OPEN: u32 = 1;
const CREATE: u32 = 2;
const OPEN_IF: u32 = 3;
const DIRECTORY_FILE: u32 = 0x1;
const NON_DIRECTORY_FILE: u32 = 0x40;
const ALL: u32 = 0x001F_01FF;

struct Session(Client);

fn create_req(name: &str, access_mask: u32, share: u32, disp: u32, options: u32) -> CreateRequest {
    CreateRequest {
        security_flags: 0,
        requested_oplock_level: 0,
        impersonation_level: 2,
        smb_create_flags: 0,
        desired_access: access_mask,
        file_attributes: if options & DIRECTORY_FILE != 0 {
            attr::DIRECTORY
        } else {
            attr::NORMAL
        },
        share_access: share,
        create_disposition: disp,
        create_options: options,
        name: name.into(),
        contexts: Vec::new(),
    }
}

impl Session {
    fn new(r: &Running) -> Self {
        let mut c = Client::connect(r.addr);
        c.negotiate(&[0x0311]);
        assert_eq!(c.login("alice", "secret"), NtStatus::SUCCESS);
        assert_eq!(
            c.tree_connect(&format!("\\\\{}\\data", r.addr.ip())),
            NtStatus::SUCCESS
        );
        Session(c)
    }

    fn create(&mut self, req: CreateRequest) -> Result<smb_wire::create::CreateResponse, NtStatus> {
        let r = self.0.call(Command::CREATE, &Request::Create(req)).unwrap();
        match r.body() {
            Response::Create(c) if r.status == NtStatus::SUCCESS => Ok(c),
            _ => Err(r.status),
        }
    }

    fn open(
        &mut self,
        name: &str,
        access_mask: u32,
        disp: u32,
        options: u32,
    ) -> Result<FileId, NtStatus> {
        self.create(create_req(name, access_mask, 7, disp, options))
            .map(|c| c.file_id)
    }

    fn close(&mut self, file_id: FileId) -> NtStatus {
        self.0
            .call(
                Command::CLOSE,
                &Request::Close(CloseRequest { flags: 0, file_id }),
            )
            .unwrap()
            .status
    }

    fn query(
        &mut self,
        file_id: FileId,
        kind: u8,
        class: u8,
        len: u32,
        extra: u32,
    ) -> (NtStatus, Vec<u8>) {
        let r = self
            .0
            .call(
                Command::QUERY_INFO,
                &Request::QueryInfo(QueryInfoRequest {
                    info_type: kind,
                    file_info_class: class,
                    output_buffer_length: len,
                    input: Vec::new(),
                    additional_information: extra,
                    flags: 0,
                    file_id,
                }),
            )
            .unwrap();
        let buf = match r.body() {
            Response::QueryInfo(q) => q.buffer,
            _ => Vec::new(),
        };
        (r.status, buf)
    }

    fn set(
        &mut self,
        file_id: FileId,
        kind: u8,
        class: u8,
        buffer: Vec<u8>,
        extra: u32,
    ) -> NtStatus {
        self.0
            .call(
                Command::SET_INFO,
                &Request::SetInfo(SetInfoRequest {
                    info_type: kind,
                    file_info_class: class,
                    buffer,
                    additional_information: extra,
                    file_id,
                }),
            )
            .unwrap()
            .status
    }

    /// Send `parts` as one compound (each flagged related or not) and return the statuses
    /// of the responses in order.
    fn compound(&mut self, parts: &[(Command, Request, bool)]) -> Vec<NtStatus> {
        let mut msgs: Vec<Vec<u8>> = parts
            .iter()
            .map(|(cmd, body, related)| {
                let mut m = self.0.build(*cmd, body, 1);
                if *related {
                    let f = u32::from_le_bytes(m[16..20].try_into().unwrap())
                        | flags::RELATED_OPERATIONS;
                    m[16..20].copy_from_slice(&f.to_le_bytes());
                }
                m
            })
            .collect();
        let n = msgs.len();
        for (i, m) in msgs.iter_mut().enumerate() {
            if i + 1 < n {
                m.resize(m.len().div_ceil(8) * 8, 0);
                let next = m.len() as u32;
                m[20..24].copy_from_slice(&next.to_le_bytes());
            }
            self.0.sign(m);
        }
        self.0.send_framed(&msgs.concat());
        let mut out = Vec::new();
        while out.len() < n {
            let frame = self.0.recv_frame().unwrap();
            let mut at = 0usize;
            loop {
                let status = u32::from_le_bytes(frame[at + 8..at + 12].try_into().unwrap());
                let fl = u32::from_le_bytes(frame[at + 16..at + 20].try_into().unwrap());
                let next = u32::from_le_bytes(frame[at + 20..at + 24].try_into().unwrap());
                // Interim responses of async requests are not final answers.
                if !(NtStatus(status) == NtStatus::PENDING && fl & flags::ASYNC_COMMAND != 0) {
                    out.push(NtStatus(status));
                }
                if next == 0 {
                    break;
                }
                at += next as usize;
            }
        }
        out
    }
}

fn basic_info(attributes: u32) -> Vec<u8> {
    let mut b = vec![0u8; 32];
    b.extend_from_slice(&attributes.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b
}

fn rename_info(target: &str) -> Vec<u8> {
    let name: Vec<u8> = target.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut b = vec![0u8; 16];
    b.extend_from_slice(&(name.len() as u32).to_le_bytes());
    b.extend_from_slice(&name);
    b
}

#[test]
fn query_info_buffer_sizes_and_access_per_class() {
    let r = start("qinfo");
    let mut s = Session::new(&r);
    let f = s.open("bufsize.txt", ALL, OPEN_IF, 0).unwrap();
    // FileAllInformation: shorter than the 104-byte structure is a length mismatch; longer
    // but short of the name is an overflow with partial data.
    assert_eq!(
        s.query(f, info_type::FILE, 18, 100, 0).0,
        NtStatus::INFO_LENGTH_MISMATCH
    );
    let (st, buf) = s.query(f, info_type::FILE, 18, 104, 0);
    assert_eq!((st, buf.len()), (NtStatus::BUFFER_OVERFLOW, 104));
    assert_eq!(
        s.query(f, info_type::FILE, 18, 4096, 0).0,
        NtStatus::SUCCESS
    );
    // FileAlternateNameInformation and FileStreamInformation: 8 and 32 fixed bytes.
    assert_eq!(
        s.query(f, info_type::FILE, 21, 7, 0).0,
        NtStatus::INFO_LENGTH_MISMATCH
    );
    assert_eq!(
        s.query(f, info_type::FILE, 21, 8, 0).0,
        NtStatus::BUFFER_OVERFLOW
    );
    assert_eq!(
        s.query(f, info_type::FILE, 22, 31, 0).0,
        NtStatus::INFO_LENGTH_MISMATCH
    );
    assert_eq!(
        s.query(f, info_type::FILE, 22, 32, 0).0,
        NtStatus::BUFFER_OVERFLOW
    );
    // Volume (24) and attribute (16) information of the file system.
    assert_eq!(
        s.query(f, info_type::FILESYSTEM, 1, 23, 0).0,
        NtStatus::INFO_LENGTH_MISMATCH
    );
    assert_eq!(
        s.query(f, info_type::FILESYSTEM, 1, 24, 0).0,
        NtStatus::BUFFER_OVERFLOW
    );
    assert_eq!(
        s.query(f, info_type::FILESYSTEM, 5, 15, 0).0,
        NtStatus::INFO_LENGTH_MISMATCH
    );
    assert_eq!(
        s.query(f, info_type::FILESYSTEM, 5, 16, 0).0,
        NtStatus::BUFFER_OVERFLOW
    );
    // FileFsControlInformation: quotas off, 48 bytes.
    let (st, buf) = s.query(f, info_type::FILESYSTEM, 6, 100, 0);
    assert_eq!((st, buf.len()), (NtStatus::SUCCESS, 48));
    assert_eq!(
        s.query(f, info_type::FILESYSTEM, 6, 47, 0).0,
        NtStatus::INFO_LENGTH_MISMATCH
    );
    assert_eq!(s.close(f), NtStatus::SUCCESS);

    // Opened with SYNCHRONIZE only: name, stream and standard classes need no right,
    // timestamps and attributes need FILE_READ_ATTRIBUTES, the EA list FILE_READ_EA.
    let f = s.open("bufsize.txt", access::SYNCHRONIZE, OPEN, 0).unwrap();
    for class in [5u8, 6, 21, 22, 28] {
        assert_eq!(
            s.query(f, info_type::FILE, class, 4096, 0).0,
            NtStatus::SUCCESS,
            "class {class}"
        );
    }
    for class in [4u8, 18, 34, 35] {
        assert_eq!(
            s.query(f, info_type::FILE, class, 4096, 0).0,
            NtStatus::ACCESS_DENIED,
            "class {class}"
        );
    }
    assert_eq!(
        s.query(f, info_type::FILE, 15, 4096, 0).0,
        NtStatus::ACCESS_DENIED
    );
    assert_eq!(s.close(f), NtStatus::SUCCESS);
}

#[test]
fn rename_respects_the_parents_share_modes_and_dirs_are_never_temporary() {
    let r = start("rename");
    let mut s = Session::new(&r);
    let d = s.open("dir", ALL, CREATE, DIRECTORY_FILE).unwrap();
    assert_eq!(s.close(d), NtStatus::SUCCESS);
    let dir_rw = ALL & !access::DELETE;
    for (dir_access, dir_share, expect) in [
        // DELETE access on the parent refuses the rename's open of it.
        (ALL, 7, NtStatus::SHARING_VIOLATION),
        (ALL, 3, NtStatus::SHARING_VIOLATION),
        // Without DELETE and sharing writes it is fine.
        (dir_rw, 7, NtStatus::SUCCESS),
        // Not sharing writes refuses it too.
        (dir_rw, 0, NtStatus::SHARING_VIOLATION),
    ] {
        let d = s
            .create(create_req(
                "dir",
                dir_access,
                dir_share,
                OPEN,
                DIRECTORY_FILE,
            ))
            .unwrap()
            .file_id;
        let f = s
            .create(create_req(
                "dir\\file.txt",
                ALL,
                0,
                OPEN_IF,
                NON_DIRECTORY_FILE,
            ))
            .unwrap()
            .file_id;
        let st = s.set(f, info_type::FILE, 10, rename_info("dir\\new.txt"), 0);
        assert_eq!(st, expect, "dir access {dir_access:#x} share {dir_share}");
        if st == NtStatus::SUCCESS {
            assert_eq!(
                s.set(f, info_type::FILE, 10, rename_info("dir\\file.txt"), 0),
                NtStatus::SUCCESS
            );
        }
        assert_eq!(s.close(f), NtStatus::SUCCESS);
        // FILE_ATTRIBUTE_TEMPORARY is for files only.
        if dir_access == ALL && dir_share == 7 {
            assert_eq!(
                s.set(d, info_type::FILE, 4, basic_info(attr::TEMPORARY), 0),
                NtStatus::INVALID_PARAMETER
            );
            assert_eq!(
                s.set(d, info_type::FILE, 4, basic_info(attr::HIDDEN), 0),
                NtStatus::SUCCESS
            );
        }
        assert_eq!(s.close(d), NtStatus::SUCCESS);
    }
}

fn sd_bytes(dacl: Option<Acl>, present: bool) -> Vec<u8> {
    SecurityDescriptor {
        owner: None,
        group: None,
        dacl,
        sacl: None,
        control: if present { control::SE_DACL_PRESENT } else { 0 },
    }
    .to_self_relative(secinfo::DACL)
}

#[test]
fn security_descriptors_are_stored_and_their_dacl_enforced() {
    let r = start("sd");
    let mut s = Session::new(&r);
    let f = s
        .open(
            "locked.dat",
            access::READ_CONTROL | access::WRITE_DAC | access::WRITE_OWNER,
            OPEN_IF,
            0,
        )
        .unwrap();
    // Only CREATOR OWNER is allowed anything: no token holds that SID.
    let acl = Acl::new(vec![Ace::allowed(
        well_known::creator_owner(),
        0x0012_0089 | 0x001F_0000,
        0,
    )]);
    assert_eq!(
        s.set(
            f,
            info_type::SECURITY,
            0,
            sd_bytes(Some(acl.clone()), true),
            secinfo::DACL
        ),
        NtStatus::SUCCESS
    );
    let (st, buf) = s.query(f, info_type::SECURITY, 0, 4096, secinfo::DACL);
    assert_eq!(st, NtStatus::SUCCESS);
    assert_eq!(
        SecurityDescriptor::parse_self_relative(&buf).unwrap().dacl,
        Some(acl)
    );
    assert_eq!(s.close(f), NtStatus::SUCCESS);
    assert_eq!(
        s.open("locked.dat", access::FILE_WRITE_DATA, OPEN, 0),
        Err(NtStatus::ACCESS_DENIED)
    );
    // The owner keeps READ_CONTROL and WRITE_DAC, and the parent's FILE_DELETE_CHILD gives
    // DELETE: MAXIMUM_ALLOWED gets just those.
    let f = s
        .open("locked.dat", access::MAXIMUM_ALLOWED, OPEN, 0)
        .unwrap();
    let (st, buf) = s.query(f, info_type::FILE, 8, 4, 0);
    assert_eq!(st, NtStatus::SUCCESS);
    assert_eq!(
        u32::from_le_bytes(buf[..4].try_into().unwrap()),
        access::READ_CONTROL | access::WRITE_DAC | access::SYNCHRONIZE | access::DELETE
    );
    // A DACL set without SE_DACL_PRESENT is a NULL DACL: everything allowed again.
    assert_eq!(
        s.set(
            f,
            info_type::SECURITY,
            0,
            sd_bytes(None, false),
            secinfo::DACL
        ),
        NtStatus::SUCCESS
    );
    let (_, buf) = s.query(f, info_type::SECURITY, 0, 4096, secinfo::DACL);
    let sd = SecurityDescriptor::parse_self_relative(&buf).unwrap();
    assert!(sd.dacl.is_none() && sd.control & control::SE_DACL_PRESENT != 0);
    assert_eq!(s.close(f), NtStatus::SUCCESS);
    let f = s
        .open("locked.dat", access::FILE_WRITE_DATA, OPEN, 0)
        .unwrap();
    // An empty DACL locks everyone out but the owner's implicit rights; the file can still
    // be deleted through the parent's FILE_DELETE_CHILD.
    assert_eq!(
        s.set(
            f,
            info_type::SECURITY,
            0,
            sd_bytes(Some(Acl::new(vec![])), true),
            secinfo::DACL
        ),
        NtStatus::ACCESS_DENIED,
        "no WRITE_DAC on this open"
    );
    assert_eq!(s.close(f), NtStatus::SUCCESS);
    let f = s.open("locked.dat", access::WRITE_DAC, OPEN, 0).unwrap();
    assert_eq!(
        s.set(
            f,
            info_type::SECURITY,
            0,
            sd_bytes(Some(Acl::new(vec![])), true),
            secinfo::DACL
        ),
        NtStatus::SUCCESS
    );
    assert_eq!(s.close(f), NtStatus::SUCCESS);
    assert_eq!(
        s.open("locked.dat", access::FILE_READ_DATA, OPEN, 0),
        Err(NtStatus::ACCESS_DENIED)
    );
    let f = s.open("locked.dat", access::DELETE, OPEN, 0x1000).unwrap();
    assert_eq!(s.close(f), NtStatus::SUCCESS);
    assert_eq!(
        s.open("locked.dat", access::READ_CONTROL, OPEN, 0),
        Err(NtStatus::OBJECT_NAME_NOT_FOUND)
    );

    // A SecD context on create: its DACL is what the new file gets.
    let acl = Acl::new(vec![Ace::allowed(well_known::everyone(), ALL, 0)]);
    let mut req = create_req("withsd.dat", access::MAXIMUM_ALLOWED, 7, CREATE, 0);
    req.contexts
        .push(CreateContext::SecurityDescriptor(sd_bytes(
            Some(acl.clone()),
            true,
        )));
    let f = s.create(req).unwrap().file_id;
    let (_, buf) = s.query(
        f,
        info_type::SECURITY,
        0,
        4096,
        secinfo::DACL | secinfo::OWNER,
    );
    let sd = SecurityDescriptor::parse_self_relative(&buf).unwrap();
    assert_eq!(sd.dacl, Some(acl));
    assert!(
        sd.owner.is_some(),
        "the owner the context left out is the default one"
    );
    assert_eq!(s.close(f), NtStatus::SUCCESS);
    // A malformed one is refused.
    let mut req = create_req("badsd.dat", ALL, 7, CREATE, 0);
    req.contexts
        .push(CreateContext::SecurityDescriptor(vec![1, 0, 4]));
    assert_eq!(s.create(req).err(), Some(NtStatus::INVALID_SECURITY_DESCR));
}

#[test]
fn create_contexts_options_and_the_quota_file() {
    let r = start("create");
    let mut s = Session::new(&r);
    let mut req = create_req("alloc.dat", ALL, 7, CREATE, 0);
    req.contexts.push(CreateContext::AllocationSize(0x10_0000));
    let c = s.create(req).unwrap();
    assert_eq!((c.allocation_size, c.end_of_file), (0x10_0000, 0));
    assert_eq!(s.close(c.file_id), NtStatus::SUCCESS);
    // No snapshots; tags shorter than four bytes are refused; unknown ones ignored.
    let mut req = create_req("alloc.dat", ALL, 7, OPEN, 0);
    req.contexts.push(CreateContext::Timewarp(10_000));
    assert_eq!(s.create(req).err(), Some(NtStatus::OBJECT_NAME_NOT_FOUND));
    for (tag, expect) in [
        (&b"x"[..], Some(NtStatus::INVALID_PARAMETER)),
        (b"xxx", Some(NtStatus::INVALID_PARAMETER)),
        (b"FooO", None),
    ] {
        let mut req = create_req("alloc.dat", ALL, 7, OPEN, 0);
        req.contexts.push(CreateContext::Unknown {
            name: tag.to_vec(),
            data: Vec::new(),
        });
        let res = s.create(req);
        assert_eq!(res.as_ref().err().copied(), expect, "tag {tag:?}");
        if let Ok(c) = res {
            assert_eq!(s.close(c.file_id), NtStatus::SUCCESS);
        }
    }
    // Reserved access bits are checked before the attributes; tree connections are not
    // supported as a create option.
    let mut req = create_req("x.dat", 0x0800_0000, 7, CREATE, 0);
    req.file_attributes = 0x8; // VOLUME
    assert_eq!(s.create(req).err(), Some(NtStatus::ACCESS_DENIED));
    assert_eq!(
        s.open("x.dat", ALL, OPEN_IF, 0x80),
        Err(NtStatus::NOT_SUPPORTED)
    );
    // The fake quota file: a hidden system directory without timestamps.
    let c = s
        .create(create_req(
            "$Extend\\$Quota:$Q:$INDEX_ALLOCATION",
            0x0012_0089,
            7,
            OPEN,
            0,
        ))
        .unwrap();
    assert_eq!(
        c.file_attributes,
        attr::HIDDEN | attr::SYSTEM | attr::DIRECTORY | attr::ARCHIVE
    );
    assert_eq!(
        (c.creation_time, c.last_write_time, c.change_time),
        (0, 0, 0)
    );
    assert_eq!(s.close(c.file_id), NtStatus::SUCCESS);
}

#[test]
fn enumeration_skips_names_deleted_after_it_started() {
    let r = start("dir");
    let mut s = Session::new(&r);
    let d = s.open("d", ALL, CREATE, DIRECTORY_FILE).unwrap();
    for i in 0..20 {
        let f = s.open(&format!("d\\f{i:02}"), ALL, CREATE, 0).unwrap();
        assert_eq!(s.close(f), NtStatus::SUCCESS);
    }
    let list = |s: &mut Session, flags: u8, len: u32| -> (NtStatus, Vec<u8>) {
        let r =
            s.0.call(
                Command::QUERY_DIRECTORY,
                &Request::QueryDirectory(QueryDirectoryRequest {
                    info_class: 3,
                    flags,
                    file_index: 0,
                    file_id: d,
                    output_buffer_length: len,
                    pattern: "*".into(),
                }),
            )
            .unwrap();
        let buf = match r.body() {
            Response::QueryDirectory(q) => q.buffer,
            _ => Vec::new(),
        };
        (r.status, buf)
    };
    // One entry ("."), then delete every file through another handle.
    assert_eq!(list(&mut s, 0x02, 4096).0, NtStatus::SUCCESS);
    for i in 0..20 {
        let f = s
            .open(&format!("d\\f{i:02}"), access::DELETE, OPEN, 0x1000)
            .unwrap();
        assert_eq!(s.close(f), NtStatus::SUCCESS);
    }
    // What remains is ".." only.
    let (st, buf) = list(&mut s, 0, 65536);
    assert_eq!(st, NtStatus::SUCCESS);
    let names = String::from_utf16_lossy(
        &buf.chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect::<Vec<_>>(),
    );
    assert!(!names.contains("f0") && !names.contains("f1"), "{names:?}");
    assert_eq!(list(&mut s, 0, 65536).0, NtStatus::NO_MORE_FILES);
    assert_eq!(s.close(d), NtStatus::SUCCESS);
}

#[test]
fn related_requests_in_compounds() {
    let r = start("compound");
    let mut s = Session::new(&r);
    let any = FileId {
        persistent: u64::MAX,
        volatile: u64::MAX,
    };
    let close_any = || {
        Request::Close(CloseRequest {
            flags: 0,
            file_id: any,
        })
    };
    let create = || Request::Create(create_req("c.dat", ALL, 7, OPEN_IF, 0));
    // A related request first: it and the related ones after it are INVALID_PARAMETER.
    let st = s.compound(&[
        (Command::CLOSE, close_any(), true),
        (Command::CLOSE, close_any(), true),
    ]);
    assert_eq!(st, vec![NtStatus::INVALID_PARAMETER; 2]);
    // An unrelated request starts a new chain: related ones after it no longer see the
    // CREATE's handle.
    let st = s.compound(&[
        (Command::CREATE, create(), false),
        (Command::CLOSE, close_any(), false),
        (Command::CLOSE, close_any(), true),
    ]);
    assert_eq!(
        st,
        vec![
            NtStatus::SUCCESS,
            NtStatus::FILE_CLOSED,
            NtStatus::FILE_CLOSED
        ]
    );
    // An unrelated request of an unknown session; the related one after it has no session
    // to inherit.
    let saved = s.0.session_id;
    let mut a = s.0.build(Command::CREATE, &create(), 1);
    s.0.session_id = u64::MAX;
    let st = {
        let mut b = s.0.build(Command::CLOSE, &close_any(), 1);
        let mut c = s.0.build(Command::CLOSE, &close_any(), 1);
        let f = u32::from_le_bytes(c[16..20].try_into().unwrap()) | flags::RELATED_OPERATIONS;
        c[16..20].copy_from_slice(&f.to_le_bytes());
        s.0.session_id = saved;
        for m in [&mut a, &mut b] {
            m.resize(m.len().div_ceil(8) * 8, 0);
            let next = m.len() as u32;
            m[20..24].copy_from_slice(&next.to_le_bytes());
        }
        s.0.sign(&mut a);
        s.0.send_framed(&[a, b, c].concat());
        let frame = s.0.recv_frame().unwrap();
        let mut at = 0usize;
        let mut out = Vec::new();
        loop {
            out.push(NtStatus(u32::from_le_bytes(
                frame[at + 8..at + 12].try_into().unwrap(),
            )));
            let next = u32::from_le_bytes(frame[at + 20..at + 24].try_into().unwrap());
            if next == 0 {
                break;
            }
            at += next as usize;
        }
        out
    };
    assert_eq!(
        st,
        vec![
            NtStatus::SUCCESS,
            NtStatus::USER_SESSION_DELETED,
            NtStatus::INVALID_PARAMETER
        ]
    );
    // A CHANGE_NOTIFY that is not last cannot go async: INTERNAL_ERROR, and the chain goes
    // on.
    let notify = Request::ChangeNotify(ChangeNotifyRequest {
        flags: 1,
        output_buffer_length: 4096,
        file_id: any,
        completion_filter: 3,
    });
    let st = s.compound(&[
        (
            Command::CREATE,
            Request::Create(create_req("n", ALL, 7, CREATE, DIRECTORY_FILE)),
            false,
        ),
        (Command::CHANGE_NOTIFY, notify, true),
        (Command::CLOSE, close_any(), true),
    ]);
    assert_eq!(
        st,
        vec![
            NtStatus::SUCCESS,
            NtStatus::INTERNAL_ERROR,
            NtStatus::SUCCESS
        ]
    );
}

#[test]
fn extended_attributes_from_create_and_set_info() {
    let r = start("ea");
    let mut s = Session::new(&r);
    let eas = |list: &[(&[u8], &[u8])]| {
        let list: Vec<smb_wire::fscc::FullEa> = list
            .iter()
            .map(|(n, v)| smb_wire::fscc::FullEa {
                flags: 0,
                name: n.to_vec(),
                value: v.to_vec(),
            })
            .collect();
        let mut out = Vec::new();
        smb_wire::fscc::encode_full_ea_list(&list, &mut out).unwrap();
        out
    };
    let mut req = create_req("ea.dat", access::MAXIMUM_ALLOWED, 7, CREATE, 0);
    req.contexts.push(CreateContext::ExtendedAttributes(eas(&[
        (b"EaOne", b"VALUE1"),
        (b"SECONDEA", b"ValueTwo"),
    ])));
    let f = s.create(req).unwrap().file_id;
    // FileEaInformation counts them; FileFullEaInformation lists them, names upper-case.
    let (st, buf) = s.query(f, info_type::FILE, 7, 4, 0);
    assert_eq!(st, NtStatus::SUCCESS);
    assert_ne!(u32::from_le_bytes(buf[..4].try_into().unwrap()), 0);
    let (st, buf) = s.query(f, info_type::FILE, 15, 4096, 0);
    assert_eq!(st, NtStatus::SUCCESS);
    let list = smb_wire::fscc::decode_full_ea_list(&buf).unwrap();
    let names: Vec<&[u8]> = list.iter().map(|e| e.name.as_slice()).collect();
    assert_eq!(names, vec![&b"EAONE"[..], b"SECONDEA"]);
    assert_eq!(
        s.query(f, info_type::FILE, 15, 10, 0).0,
        NtStatus::BUFFER_TOO_SMALL
    );
    // SET_INFO: an empty value removes; a bad name is refused.
    assert_eq!(
        s.set(f, info_type::FILE, 15, eas(&[(b"eaone", b"")]), 0),
        NtStatus::SUCCESS
    );
    assert_eq!(
        s.set(f, info_type::FILE, 15, eas(&[(b"A*B", b"x")]), 0),
        NtStatus::INVALID_EA_NAME
    );
    let (_, buf) = s.query(f, info_type::FILE, 15, 4096, 0);
    assert_eq!(smb_wire::fscc::decode_full_ea_list(&buf).unwrap().len(), 1);
    assert_eq!(s.close(f), NtStatus::SUCCESS);
    // The EA list needs FILE_READ_EA; FILE_READ_ATTRIBUTES is not it.
    let f = s
        .open("ea.dat", access::FILE_READ_ATTRIBUTES, OPEN, 0)
        .unwrap();
    assert_eq!(
        s.query(f, info_type::FILE, 15, 4096, 0).0,
        NtStatus::ACCESS_DENIED
    );
    assert_eq!(s.close(f), NtStatus::SUCCESS);
    // A file without EAs.
    let f = s.open("none.dat", ALL, CREATE, 0).unwrap();
    assert_eq!(
        s.query(f, info_type::FILE, 15, 4096, 0).0,
        NtStatus::NO_EAS_ON_FILE
    );
    assert_eq!(s.close(f), NtStatus::SUCCESS);
}
