//! A blocking SMB2/3 client over TCP for tests: it builds every message with smb-wire, signs
//! with smb-crypto, and can also send bytes no real client would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use smb_crypto::{PreauthHash, SigningAlgorithm, SigningKey};
use smb_wire::create::CreateRequest;
use smb_wire::header::{flags, Command, Header};
use smb_wire::message::{Request, Response};
use smb_wire::negotiate::{NegotiateContext, NegotiateRequest};
use smb_wire::session::SessionSetupRequest;
use smb_wire::tree::TreeConnectRequest;
use smb_wire::{FileId, NtStatus};

use crate::ntlm;

/// One response as received.
#[derive(Debug)]
pub struct Reply {
    pub hdr: Header,
    pub status: NtStatus,
    pub msg: Vec<u8>,
}

impl Reply {
    pub fn body(&self) -> Response {
        Response::decode(&self.hdr, &self.msg).expect("response decodes")
    }
}

/// How a test client reaches the server: a TCP socket, or an in-memory server.
pub trait Transport {
    fn send(&mut self, frame: &[u8]);
    /// The next framed message from the server; None when it closed the connection.
    fn recv(&mut self) -> Option<Vec<u8>>;
}

/// TCP with a read timeout.
pub struct Tcp(pub TcpStream);

impl Transport for Tcp {
    fn send(&mut self, frame: &[u8]) {
        let _ = self.0.write_all(frame);
    }
    fn recv(&mut self) -> Option<Vec<u8>> {
        let mut h = [0u8; 4];
        self.0.read_exact(&mut h).ok()?;
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        let mut b = vec![0u8; len];
        self.0.read_exact(&mut b).ok()?;
        Some(b)
    }
}

pub struct Client {
    pub transport: Box<dyn Transport>,
    pub next_message_id: u64,
    pub session_id: u64,
    pub tree_id: u32,
    pub dialect: u16,
    pub signing: Option<SigningKey>,
    preauth: Option<PreauthHash>,
    /// The connection's preauth hash after NEGOTIATE: every new session (or binding)
    /// starts from it.
    conn_preauth: Option<PreauthHash>,
    last_setup: Option<Reply>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Self::over(Box::new(Tcp(stream)))
    }

    /// A client over any transport (e.g. an in-memory server).
    pub fn over(transport: Box<dyn Transport>) -> Self {
        Self {
            transport,
            next_message_id: 0,
            session_id: 0,
            tree_id: 0,
            dialect: 0,
            signing: None,
            preauth: None,
            conn_preauth: None,
            last_setup: None,
        }
    }

    /// Send bytes exactly as given (no framing added).
    pub fn send_bytes(&mut self, b: &[u8]) {
        self.transport.send(b);
    }

    /// Send one SMB message with a NetBIOS session header.
    pub fn send_framed(&mut self, msg: &[u8]) {
        let mut f = smb_wire::netbios::frame_header(msg.len()).to_vec();
        f.extend_from_slice(msg);
        self.send_bytes(&f);
    }

    /// Receive one framed message; None when the server closed the connection.
    pub fn recv_frame(&mut self) -> Option<Vec<u8>> {
        self.transport.recv()
    }

    /// Whether the server has closed the connection (waits up to the read timeout): the
    /// next receive finds the end of the stream instead of a message.
    pub fn is_closed(&mut self) -> bool {
        self.transport.recv().is_none()
    }

    /// Build a request message (header + body) with the next message id.
    pub fn build(&mut self, command: Command, body: &Request, credit_charge: u16) -> Vec<u8> {
        let mut h = Header::new(command);
        h.message_id = self.next_message_id;
        self.next_message_id += u64::from(credit_charge.max(1));
        h.credit_charge = credit_charge;
        h.credits = 64;
        h.session_id = self.session_id;
        h.tree_id = self.tree_id;
        let mut out = Vec::new();
        h.encode(&mut out);
        body.encode(&mut out);
        out
    }

    /// Sign a built message in place (when the session has a signing key).
    pub fn sign(&self, msg: &mut [u8]) {
        if let Some(k) = &self.signing {
            let f = u32::from_le_bytes(msg[16..20].try_into().unwrap()) | flags::SIGNED;
            msg[16..20].copy_from_slice(&f.to_le_bytes());
            k.sign(msg).unwrap();
        }
    }

    /// Receive the final reply to a request (skipping interim STATUS_PENDING responses).
    pub fn recv_reply(&mut self) -> Option<Reply> {
        loop {
            let msg = self.recv_frame()?;
            let hdr = Header::decode(&msg).expect("response header decodes");
            let status = NtStatus(hdr.status);
            if status == NtStatus::PENDING && hdr.is_async() {
                continue;
            }
            return Some(Reply { hdr, status, msg });
        }
    }

    /// Send a request (signed when the session signs) and wait for its reply.
    pub fn call(&mut self, command: Command, body: &Request) -> Option<Reply> {
        let mut m = self.build(command, body, 1);
        self.sign(&mut m);
        self.send_framed(&m);
        self.recv_reply()
    }

    /// NEGOTIATE; 3.1.1 offers SHA-512 preauth and AES-128-GCM/CCM.
    pub fn negotiate(&mut self, dialects: &[u16]) -> Reply {
        let contexts = if dialects.contains(&0x0311) {
            vec![
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms: vec![1],
                    salt: vec![7; 32],
                },
                NegotiateContext::Encryption {
                    ciphers: vec![2, 1],
                },
                NegotiateContext::SigningCapabilities {
                    algorithms: vec![2, 1],
                },
            ]
        } else {
            Vec::new()
        };
        let body = Request::Negotiate(NegotiateRequest {
            security_mode: 1,
            capabilities: 0x7f,
            client_guid: [0x42; 16],
            dialects: dialects.to_vec(),
            contexts,
        });
        let m = self.build(Command::NEGOTIATE, &body, 0);
        let mut pre = PreauthHash::zero();
        pre.update(&m);
        self.send_framed(&m);
        let r = self.recv_reply().expect("negotiate reply");
        if let Response::Negotiate(n) = r.body() {
            self.dialect = n.dialect;
            if n.dialect == 0x0311 {
                pre.update(&r.msg);
                self.conn_preauth = Some(pre.clone());
                self.preauth = Some(pre);
            }
        }
        r
    }

    /// Send a NEGOTIATE without updating any client state (for protocol-violation tests).
    pub fn negotiate_raw(&mut self, dialects: &[u16]) {
        let body = Request::Negotiate(NegotiateRequest {
            security_mode: 1,
            capabilities: 0,
            client_guid: [1; 16],
            dialects: dialects.to_vec(),
            contexts: Vec::new(),
        });
        let m = self.build(Command::NEGOTIATE, &body, 1);
        self.send_framed(&m);
    }

    fn setup_round(&mut self, token: Vec<u8>, flags: u8, previous_session_id: u64) -> Reply {
        let body = Request::SessionSetup(SessionSetupRequest {
            flags,
            security_mode: 1,
            capabilities: 0,
            channel: 0,
            previous_session_id,
            security_buffer: token,
        });
        let mut m = self.build(Command::SESSION_SETUP, &body, 1);
        // Re-authentication and binding are signed with the key the client already has.
        self.sign(&mut m);
        if let Some(p) = self.preauth.as_mut() {
            p.update(&m);
        }
        self.send_framed(&m);
        let r = self.recv_reply().expect("session setup reply");
        // Every signed interim or error answer must verify with that same key.
        // (As Samba's client does, statuses that may be answered before the key is known
        // are not checked.)
        let unchecked = [
            NtStatus::SUCCESS,
            NtStatus::ACCESS_DENIED,
            NtStatus::USER_SESSION_DELETED,
            NtStatus::NOT_SUPPORTED,
            NtStatus::REQUEST_OUT_OF_SEQUENCE,
        ];
        if r.hdr.is_signed() && !unchecked.contains(&r.status) && r.hdr.signature != [0; 16] {
            if let Some(k) = &self.signing {
                k.verify(&r.msg)
                    .expect("session setup answer is signed with the session's key");
            }
        }
        r
    }

    /// The client's copy of the 3.1.1 preauth hash (after NEGOTIATE / SESSION_SETUP).
    pub fn preauth(&self) -> Option<[u8; 64]> {
        self.preauth.as_ref().map(|p| *p.value())
    }

    /// NTLMv2 logon (raw NTLMSSP tokens). Returns the final status; on success the client
    /// signs every later request with the derived key.
    pub fn login(&mut self, user: &str, password: &str) -> NtStatus {
        self.login_with(user, password, 0, 0)
    }

    /// [`Client::login`] with SESSION_SETUP Flags and PreviousSessionId. When the client
    /// already has a session and key, this is a re-authentication: every round is signed
    /// and the key is kept.
    pub fn login_with(
        &mut self,
        user: &str,
        password: &str,
        flags: u8,
        previous_session_id: u64,
    ) -> NtStatus {
        self.last_setup = None;
        let reauth = self.signing.is_some() && self.session_id != 0 && flags & 1 == 0;
        if !reauth {
            self.preauth = self.conn_preauth.clone();
        }
        let r = self.setup_round(ntlm::negotiate(), flags, previous_session_id);
        if r.status != NtStatus::MORE_PROCESSING_REQUIRED {
            let status = r.status;
            self.last_setup = Some(r);
            return status;
        }
        if let Some(p) = self.preauth.as_mut() {
            p.update(&r.msg);
        }
        self.session_id = r.hdr.session_id;
        let Response::SessionSetup(s) = r.body() else {
            panic!("not a session setup response")
        };
        let ch = ntlm::parse_challenge(&s.security_buffer);
        let auth = ntlm::authenticate(
            &ch,
            user,
            "",
            &ntlm::nt_hash(password),
            [0x11; 8],
            0x01d9_0000_0000_0000,
            [0x22; 16],
        );
        let r = self.setup_round(auth.message, flags, previous_session_id);
        let status = r.status;
        if reauth {
            if status == NtStatus::SUCCESS || status == NtStatus::LOGON_FAILURE {
                assert!(r.hdr.is_signed(), "re-authentication answer is signed");
                self.signing
                    .as_ref()
                    .unwrap()
                    .verify(&r.msg)
                    .expect("re-authentication answer is signed with the session's key");
            }
            self.last_setup = Some(r);
            return status;
        }
        if r.status == NtStatus::SUCCESS {
            let preauth = self.preauth.as_ref().map(|p| *p.value());
            let keys = smb_crypto::derive_session_keys(
                self.dialect,
                &auth.session_key,
                preauth.as_ref(),
                None,
            );
            let alg = match self.dialect {
                0x0202 | 0x0210 => SigningAlgorithm::HmacSha256,
                0x0311 => SigningAlgorithm::AesGmac,
                _ => SigningAlgorithm::AesCmac,
            };
            self.signing = Some(SigningKey::new(alg, &keys.signing).unwrap());
            if r.hdr.is_signed() {
                self.signing
                    .as_ref()
                    .unwrap()
                    .verify(&r.msg)
                    .expect("final session setup response is signed correctly");
            }
        }
        self.last_setup = Some(r);
        status
    }

    /// The last SESSION_SETUP response [`Client::login_with`] received.
    pub fn last_setup(&self) -> Option<&Reply> {
        self.last_setup.as_ref()
    }

    pub fn tree_connect(&mut self, unc: &str) -> NtStatus {
        let r = self
            .call(
                Command::TREE_CONNECT,
                &Request::TreeConnect(TreeConnectRequest {
                    flags: 0,
                    path: unc.into(),
                    contexts: Vec::new(),
                }),
            )
            .expect("tree connect reply");
        if r.status == NtStatus::SUCCESS {
            self.tree_id = r.hdr.tree_id;
        }
        r.status
    }

    /// A plain CREATE request body (open or create a file for read/write).
    pub fn create_body(name: &str, disposition: u32, options: u32) -> Request {
        Request::Create(CreateRequest {
            security_flags: 0,
            requested_oplock_level: 0,
            impersonation_level: 2,
            smb_create_flags: 0,
            desired_access: 0x0012_019F,
            file_attributes: 0x80,
            share_access: 7,
            create_disposition: disposition,
            create_options: options,
            name: name.into(),
            contexts: Vec::new(),
        })
    }

    /// CREATE and return the FileId.
    pub fn create(
        &mut self,
        name: &str,
        disposition: u32,
        options: u32,
    ) -> Result<FileId, NtStatus> {
        let r = self
            .call(
                Command::CREATE,
                &Self::create_body(name, disposition, options),
            )
            .expect("create reply");
        match r.body() {
            Response::Create(c) if r.status == NtStatus::SUCCESS => Ok(c.file_id),
            _ => Err(r.status),
        }
    }
}
