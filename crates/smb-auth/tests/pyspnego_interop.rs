//! A real third-party NTLM client (pyspnego, as used by smbprotocol) against the server,
//! tokens passed over the child's stdin/stdout. Skipped, loudly, when the Python
//! environment is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{identity, Users};
use smb_auth::{AuthError, AuthOutcome, SpnegoServer, Step};

const PYTHON: &str = "/var/tmp/venv/bin/python";

/// Client side: prints "TOKEN <hex>" for each token it produces; reads "TOKEN <hex>" (more
/// to do), "FINAL <hex>" (server done: check its last token) or "ABORT".
const SCRIPT: &str = r#"
import sys, spnego
user, password, protocol = sys.argv[1], sys.argv[2], sys.argv[3]
opts = spnego.NegotiateOptions.use_ntlm if protocol == "ntlm" else spnego.NegotiateOptions.use_negotiate
ctx = spnego.client(user, password, hostname="nas", service="cifs", protocol=protocol, options=opts)
out = ctx.step()
while True:
    print("TOKEN " + (out or b"").hex(), flush=True)
    line = sys.stdin.readline().split()
    if not line or line[0] == "ABORT":
        sys.exit(0)
    data = bytes.fromhex(line[1]) if len(line) > 1 else b""
    if line[0] == "FINAL":
        if data and not ctx.complete:
            ctx.step(data)  # verifies the server's mechListMIC
        print("COMPLETE %s %s" % (ctx.complete, ctx.session_key.hex()), flush=True)
        sys.exit(0)
    out = ctx.step(data)
"#;

struct Run {
    result: Result<AuthOutcome, AuthError>,
    /// (client considers itself complete, client's session key)
    client: Option<(bool, Vec<u8>)>,
    /// The client process exited successfully (it raises on a bad server mechListMIC).
    client_ok: bool,
}

fn run(user: &str, password: &str, protocol: &str, env: &[(&str, &str)]) -> Run {
    run_with(user, password, protocol, env, false)
}

/// `tamper_final`: flip the last byte of the server's final token (inside its mechListMIC).
fn run_with(
    user: &str,
    password: &str,
    protocol: &str,
    env: &[(&str, &str)],
    tamper_final: bool,
) -> Run {
    let mut child = Command::new(PYTHON)
        .arg("-u")
        .arg("-c")
        .arg(SCRIPT)
        .args([user, password, protocol])
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    let mut to = child.stdin.take().unwrap();
    let mut from = BufReader::new(child.stdout.take().unwrap());
    let mut server = SpnegoServer::new(
        identity(),
        *b"\x10\x32\x54\x76\x98\xba\xdc\xfe",
        0x01da_0000_0000_0000,
    );
    let mut line = String::new();
    let result = loop {
        line.clear();
        from.read_line(&mut line).unwrap();
        let hex = line
            .trim()
            .strip_prefix("TOKEN ")
            .unwrap_or_else(|| panic!("client said {line:?}"));
        let token = common::hex(hex);
        match server.step(&token, &Users) {
            Ok(Step::Continue(t)) => writeln!(to, "TOKEN {}", to_hex(&t)).unwrap(),
            Ok(Step::Done { mut token, outcome }) => {
                if tamper_final {
                    if let Some(last) = token.last_mut() {
                        *last ^= 1;
                    }
                }
                writeln!(to, "FINAL {}", to_hex(&token)).unwrap();
                break Ok(outcome);
            }
            Err(e) => {
                writeln!(to, "ABORT").unwrap();
                break Err(e);
            }
        }
    };
    let mut client = None;
    line.clear();
    if from.read_line(&mut line).unwrap() > 0 {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.first() == Some(&"COMPLETE") {
            client = Some((parts[1] == "True", common::hex(parts[2])));
        }
    }
    let status = child.wait().unwrap();
    Run {
        result,
        client,
        client_ok: status.success(),
    }
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn available() -> bool {
    if !Path::new(PYTHON).exists() {
        eprintln!("SKIPPED: {PYTHON} not found; only the pure-Rust tests ran");
        return false;
    }
    let ok = Command::new(PYTHON)
        .args(["-c", "import spnego"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: pyspnego is not importable by {PYTHON}; only the pure-Rust tests ran");
    }
    ok
}

fn assert_user(run: &Run, want: &str) {
    let Ok(AuthOutcome::User {
        user, session_key, ..
    }) = &run.result
    else {
        panic!("expected {want} to log on, got {:?}", run.result)
    };
    assert_eq!(user, want);
    assert!(run.client_ok, "python client failed");
    let (complete, key) = run.client.clone().expect("client reported its state");
    assert!(
        complete,
        "client considers the context complete (server MIC accepted)"
    );
    assert_eq!(&key, session_key, "both sides hold the same session key");
}

#[test]
fn pyspnego_negotiate_logs_on() {
    if !available() {
        return;
    }
    let r = run("alice", "Secret1", "negotiate", &[]);
    assert_user(&r, "alice");
}

#[test]
fn pyspnego_raw_ntlm_logs_on() {
    if !available() {
        return;
    }
    let r = run("bob", "hunter2", "ntlm", &[]);
    assert_user(&r, "bob");
}

#[test]
fn pyspnego_wrong_password_unknown_user_and_ntlmv1() {
    if !available() {
        return;
    }
    assert_eq!(
        run("alice", "nope", "negotiate", &[]).result,
        Err(AuthError::WrongPassword)
    );
    assert_eq!(
        run("WORKGROUP\\zed", "x", "negotiate", &[]).result,
        Err(AuthError::UnknownUser("zed".into()))
    );
    // LM compatibility level 1: the client answers with NTLMv1 (or NTLM2 session response).
    assert_eq!(
        run("alice", "Secret1", "ntlm", &[("LM_COMPAT_LEVEL", "1")]).result,
        Err(AuthError::NtlmV1Refused)
    );
}

#[test]
fn pyspnego_checks_the_server_mech_list_mic() {
    if !available() {
        return;
    }
    // The server accepts, but a corrupted server mechListMIC makes the client give up.
    let r = run_with("alice", "Secret1", "negotiate", &[], true);
    assert!(matches!(r.result, Ok(AuthOutcome::User { .. })));
    assert!(
        !r.client_ok,
        "pyspnego accepted a corrupted server mechListMIC"
    );
    assert!(r.client.is_none());
}
