//! Sample messages of every command, shared by the tests.

use smb_wire::create::*;
use smb_wire::dir::*;
use smb_wire::file::*;
use smb_wire::info::*;
use smb_wire::ioctl::*;
use smb_wire::message::OplockBreakAck;
use smb_wire::misc::*;
use smb_wire::negotiate::*;
use smb_wire::session::*;
use smb_wire::tree::*;
use smb_wire::{Command, FileId, NtStatus, Request, Response};

pub fn fid() -> FileId {
    FileId {
        persistent: 0x1111_2222_3333_4444,
        volatile: 0x5555_6666_7777_8888,
    }
}

pub fn all_requests() -> Vec<Request> {
    vec![
        Request::Negotiate(NegotiateRequest {
            security_mode: 1,
            capabilities: 0x7f,
            client_guid: [9; 16],
            dialects: vec![SMB202, SMB210, SMB300, SMB302, SMB311],
            contexts: vec![
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms: vec![1],
                    salt: vec![3; 32],
                },
                NegotiateContext::Encryption {
                    ciphers: vec![4, 2, 3, 1],
                },
                NegotiateContext::Compression {
                    flags: 1,
                    algorithms: vec![5, 4],
                },
                NegotiateContext::NetnameNegotiateContextId {
                    netname: "nas.local".into(),
                },
                NegotiateContext::TransportCapabilities { flags: 1 },
                NegotiateContext::RdmaTransformCapabilities {
                    transforms: vec![1, 2],
                },
                NegotiateContext::SigningCapabilities {
                    algorithms: vec![2, 1, 0],
                },
                NegotiateContext::Unknown {
                    context_type: 0x99,
                    data: vec![1, 2, 3],
                },
            ],
        }),
        Request::Negotiate(NegotiateRequest {
            security_mode: 2,
            capabilities: 0,
            client_guid: [0; 16],
            dialects: vec![SMB202],
            contexts: vec![],
        }),
        Request::SessionSetup(SessionSetupRequest {
            flags: SESSION_FLAG_BINDING,
            security_mode: 1,
            capabilities: 1,
            channel: 0,
            previous_session_id: 77,
            security_buffer: b"NTLMSSP\0\x01\0\0\0".to_vec(),
        }),
        Request::Logoff(LogoffRequest),
        Request::TreeConnect(TreeConnectRequest {
            flags: 0,
            path: "\\\\nas\\Öffentlich".into(),
            contexts: vec![],
        }),
        Request::TreeConnect(TreeConnectRequest {
            flags: tree_connect_flags::EXTENSION_PRESENT,
            path: "\\\\nas\\IPC$".into(),
            contexts: vec![TreeConnectContext {
                context_type: 1,
                data: vec![5; 20],
            }],
        }),
        Request::TreeDisconnect(TreeDisconnectRequest),
        Request::Create(CreateRequest {
            security_flags: 0,
            requested_oplock_level: oplock::BATCH,
            impersonation_level: impersonation::IMPERSONATION,
            smb_create_flags: 0,
            desired_access: 0x0012_0089,
            file_attributes: 0x80,
            share_access: share_access::READ | share_access::WRITE,
            create_disposition: disposition::OVERWRITE_IF,
            create_options: options::NON_DIRECTORY_FILE,
            name: "a\\b\\c.txt".into(),
            contexts: vec![
                CreateContext::MaxAccess {
                    timestamp: Some(123),
                },
                CreateContext::QueryOnDiskId,
                CreateContext::DurableRequest,
                CreateContext::DurableReconnect { file_id: fid() },
                CreateContext::DurableRequestV2 {
                    timeout: 60000,
                    flags: 0,
                    create_guid: [4; 16],
                },
                CreateContext::DurableReconnectV2 {
                    file_id: fid(),
                    create_guid: [5; 16],
                    flags: 2,
                },
                CreateContext::RequestLease {
                    key: [6; 16],
                    state: 7,
                    flags: 0,
                    duration: 0,
                    parent_key: None,
                    epoch: None,
                },
                CreateContext::ExtendedAttributes(vec![0, 0, 0, 0, 0, 1, 2, 0, b'a', 0, 1, 2]),
                CreateContext::SecurityDescriptor(vec![1, 0, 4, 0x80, 0, 0, 0, 0]),
                CreateContext::AllocationSize(1 << 20),
                CreateContext::Timewarp(0x01D0_0000_0000_0000),
                CreateContext::AppInstanceId {
                    app_instance_id: [8; 16],
                },
                CreateContext::Unknown {
                    name: b"POSX".to_vec(),
                    data: vec![1, 2, 3, 4, 5],
                },
            ],
        }),
        Request::Create(CreateRequest {
            security_flags: 0,
            requested_oplock_level: 0,
            impersonation_level: 2,
            smb_create_flags: 0,
            desired_access: 1,
            file_attributes: 0,
            share_access: 7,
            create_disposition: disposition::OPEN,
            create_options: options::DIRECTORY_FILE,
            name: String::new(),
            contexts: vec![],
        }),
        Request::Close(CloseRequest {
            flags: CLOSE_FLAG_POSTQUERY_ATTRIB,
            file_id: fid(),
        }),
        Request::Flush(FlushRequest { file_id: fid() }),
        Request::Read(ReadRequest {
            padding: 0x50,
            flags: READ_UNBUFFERED,
            length: 65536,
            offset: 1 << 33,
            file_id: fid(),
            minimum_count: 1,
            channel: channel::NONE,
            remaining_bytes: 0,
            read_channel_info: vec![],
        }),
        Request::Read(ReadRequest {
            padding: 0,
            flags: READ_REQUEST_COMPRESSED,
            length: 1 << 20,
            offset: 0,
            file_id: fid(),
            minimum_count: 0,
            channel: channel::RDMA_V1,
            remaining_bytes: 1 << 20,
            read_channel_info: vec![0xAB; 16],
        }),
        Request::Write(WriteRequest {
            offset: 4096,
            file_id: fid(),
            channel: 0,
            remaining_bytes: 0,
            write_channel_info: vec![],
            flags: WRITE_THROUGH,
            data: b"hello world".to_vec().into(),
        }),
        Request::Write(WriteRequest {
            offset: 0,
            file_id: fid(),
            channel: channel::RDMA_V1_INVALIDATE,
            remaining_bytes: 8192,
            write_channel_info: vec![0xCD; 16],
            flags: WRITE_UNBUFFERED,
            data: Default::default(),
        }),
        Request::Lock(LockRequest {
            lock_sequence: 0x13,
            file_id: fid(),
            locks: vec![
                LockElement {
                    offset: 0,
                    length: 10,
                    flags: lock_flags::EXCLUSIVE,
                },
                LockElement {
                    offset: 100,
                    length: 1,
                    flags: lock_flags::SHARED | lock_flags::FAIL_IMMEDIATELY,
                },
            ],
        }),
        Request::Ioctl(IoctlRequest {
            ctl_code: 0x0011_C017,
            file_id: fid(),
            input: vec![5, 0, 0, 3, 0x10, 0, 0, 0],
            output: vec![],
            max_input_response: 0,
            max_output_response: 4280,
            flags: IOCTL_IS_FSCTL,
        }),
        Request::Ioctl(IoctlRequest {
            ctl_code: 0x0014_01FC,
            file_id: FileId::ANY,
            input: vec![1, 2, 3],
            output: vec![4, 5],
            max_input_response: 3,
            max_output_response: 64,
            flags: IOCTL_IS_FSCTL,
        }),
        Request::Cancel(CancelRequest),
        Request::Echo(EchoRequest),
        Request::QueryDirectory(QueryDirectoryRequest {
            info_class: 0x25,
            flags: query_dir_flags::RESTART_SCANS,
            file_index: 0,
            file_id: fid(),
            pattern: "*".into(),
            output_buffer_length: 65536,
        }),
        Request::ChangeNotify(ChangeNotifyRequest {
            flags: WATCH_TREE,
            output_buffer_length: 4096,
            file_id: fid(),
            completion_filter: 0x17,
        }),
        Request::QueryInfo(QueryInfoRequest {
            info_type: info_type::SECURITY,
            file_info_class: 0,
            output_buffer_length: 4096,
            input: vec![],
            additional_information: 7,
            flags: 0,
            file_id: fid(),
        }),
        Request::QueryInfo(QueryInfoRequest {
            info_type: info_type::FILE,
            file_info_class: 15,
            output_buffer_length: 4096,
            input: vec![0, 0, 0, 0, 1, b'a', 0, 0],
            additional_information: 0,
            flags: query_info_flags::RESTART_SCAN,
            file_id: fid(),
        }),
        Request::SetInfo(SetInfoRequest {
            info_type: info_type::FILE,
            file_info_class: 20,
            buffer: 1234u64.to_le_bytes().to_vec(),
            additional_information: 0,
            file_id: fid(),
        }),
        Request::OplockBreak(OplockBreakAck::Oplock(OplockBreak {
            oplock_level: 0,
            file_id: fid(),
        })),
        Request::OplockBreak(OplockBreakAck::Lease(LeaseBreakAck {
            flags: 0,
            lease_key: [1; 16],
            lease_state: 1,
        })),
    ]
}

pub fn all_responses() -> Vec<(Command, NtStatus, Response)> {
    let s = NtStatus::SUCCESS;
    vec![
        (
            Command::NEGOTIATE,
            s,
            Response::Negotiate(NegotiateResponse {
                security_mode: 1,
                dialect: SMB302,
                guid: [1; 16],
                capabilities: 0x2f,
                max_transact: 1 << 20,
                max_read: 1 << 20,
                max_write: 1 << 20,
                system_time: 1,
                server_start_time: 0,
                security_buffer: vec![],
                contexts: vec![],
            }),
        ),
        (
            Command::SESSION_SETUP,
            NtStatus::MORE_PROCESSING_REQUIRED,
            Response::SessionSetup(SessionSetupResponse {
                session_flags: 0,
                security_buffer: vec![0xa1; 200],
            }),
        ),
        (
            Command::SESSION_SETUP,
            s,
            Response::SessionSetup(SessionSetupResponse {
                session_flags: session_flags::IS_GUEST,
                security_buffer: vec![],
            }),
        ),
        (Command::LOGOFF, s, Response::Logoff(LogoffResponse)),
        (
            Command::TREE_CONNECT,
            s,
            Response::TreeConnect(TreeConnectResponse {
                share_type: share_type::DISK,
                share_flags: share_flags::NO_CACHING,
                capabilities: 0,
                maximal_access: 0x001F_01FF,
            }),
        ),
        (
            Command::TREE_DISCONNECT,
            s,
            Response::TreeDisconnect(TreeDisconnectResponse),
        ),
        (
            Command::CREATE,
            s,
            Response::Create(CreateResponse {
                oplock_level: oplock::LEASE,
                flags: 0,
                create_action: action::CREATED,
                creation_time: 1,
                last_access_time: 2,
                last_write_time: 3,
                change_time: 4,
                allocation_size: 4096,
                end_of_file: 11,
                file_attributes: 0x20,
                file_id: fid(),
                contexts: vec![
                    CreateContextResponse::MaxAccess(MaxAccessResponse {
                        status: NtStatus::SUCCESS,
                        maximal_access: 0x1f01ff,
                    }),
                    CreateContextResponse::Durable,
                    CreateContextResponse::DurableV2 {
                        timeout: 60000,
                        flags: 0,
                    },
                    CreateContextResponse::Lease(LeaseResponse {
                        key: [3; 16],
                        state: 3,
                        flags: 0,
                        parent_key: None,
                        epoch: None,
                    }),
                    CreateContextResponse::Unknown {
                        name: b"ABCD".to_vec(),
                        data: vec![],
                    },
                ],
            }),
        ),
        (
            Command::CREATE,
            s,
            Response::Create(CreateResponse {
                oplock_level: 0,
                flags: 0,
                create_action: action::OPENED,
                creation_time: 0,
                last_access_time: 0,
                last_write_time: 0,
                change_time: 0,
                allocation_size: 0,
                end_of_file: 0,
                file_attributes: 0x10,
                file_id: fid(),
                contexts: vec![],
            }),
        ),
        (
            Command::CLOSE,
            s,
            Response::Close(CloseResponse {
                flags: CLOSE_FLAG_POSTQUERY_ATTRIB,
                creation_time: 9,
                last_access_time: 8,
                last_write_time: 7,
                change_time: 6,
                allocation_size: 5,
                end_of_file: 4,
                file_attributes: 0x80,
            }),
        ),
        (Command::FLUSH, s, Response::Flush(FlushResponse)),
        (
            Command::READ,
            s,
            Response::Read(ReadResponse {
                data_remaining: 0,
                flags: 0,
                data: b"abc".to_vec(),
            }),
        ),
        (
            Command::WRITE,
            s,
            Response::Write(WriteResponse { count: 11 }),
        ),
        (Command::LOCK, s, Response::Lock(LockResponse)),
        (
            Command::IOCTL,
            s,
            Response::Ioctl(IoctlResponse {
                ctl_code: 0x0011_C017,
                file_id: fid(),
                input: vec![],
                output: vec![5, 0, 2, 3, 0x10, 0, 0, 0, 0x44, 0, 0, 0],
                flags: 0,
            }),
        ),
        (
            Command::IOCTL,
            s,
            Response::Ioctl(IoctlResponse {
                ctl_code: 0x0014_01FC,
                file_id: FileId::ANY,
                input: vec![1, 2, 3],
                output: vec![7; 9],
                flags: 0,
            }),
        ),
        (Command::ECHO, s, Response::Echo(EchoResponse)),
        (
            Command::QUERY_DIRECTORY,
            s,
            Response::QueryDirectory(QueryDirectoryResponse {
                buffer: vec![1; 104],
            }),
        ),
        (
            Command::CHANGE_NOTIFY,
            s,
            Response::ChangeNotify(ChangeNotifyResponse { buffer: vec![] }),
        ),
        (
            Command::QUERY_INFO,
            s,
            Response::QueryInfo(QueryInfoResponse {
                buffer: vec![2; 24],
            }),
        ),
        (Command::SET_INFO, s, Response::SetInfo(SetInfoResponse)),
        (
            Command::OPLOCK_BREAK,
            s,
            Response::OplockBreak(OplockBreak {
                oplock_level: 1,
                file_id: fid(),
            }),
        ),
        (
            Command::OPLOCK_BREAK,
            s,
            Response::LeaseBreakNotification(LeaseBreakNotification {
                new_epoch: 2,
                flags: LEASE_BREAK_ACK_REQUIRED,
                lease_key: [1; 16],
                current_state: 7,
                new_state: 1,
            }),
        ),
        (
            Command::OPLOCK_BREAK,
            s,
            Response::LeaseBreak(LeaseBreakAck {
                flags: 0,
                lease_key: [1; 16],
                lease_state: 1,
            }),
        ),
        (
            Command::CREATE,
            NtStatus::ACCESS_DENIED,
            Response::Error(ErrorResponse::default()),
        ),
        (
            Command::CREATE,
            NtStatus::STOPPED_ON_SYMLINK,
            Response::Error(ErrorResponse {
                error_context_count: 1,
                error_data: vec![1; 40],
            }),
        ),
    ]
}
