//! End-to-end transcripts of the admin CLI: run the built `nasd` binary against a temporary
//! database and check what it prints and how it exits.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers outside #[test] fns

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("etc/nasd.db")
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `nasd --db <tmp> args...` with `stdin` piped in.
    fn run_with_stdin(&self, args: &[&str], stdin: impl AsRef<[u8]>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nasd"))
            .arg("--db")
            .arg(self.db())
            .args(args)
            .env_remove("NASD_DB")
            .env("NASD_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_ref())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, "")
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs and expects exit code 1 with one clear error line; returns stderr.
    fn fails(&self, args: &[&str], stdin: impl AsRef<[u8]>) -> String {
        let out = self.run_with_stdin(args, stdin);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert!(!err.contains("RUST_BACKTRACE"), "{err}");
        err
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn user_add_reads_the_password_from_stdin() {
    let env = Env::new();
    let out = env.run_with_stdin(&["user", "add", "Alice", "--password-stdin"], "s3cret pw\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "user 'Alice' added\n");
    assert!(env.db().exists(), "database (and its directory) created");

    // Without the flag, a non-terminal stdin is read the same way.
    let out = env.run_with_stdin(&["user", "add", "bob"], "pw2\r\n");
    assert!(out.status.success(), "{}", text(&out.stderr));

    let list = env.ok(&["user", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with("NAME") && lines[0].contains("ENABLED"));
    assert!(lines[1].starts_with("Alice") && lines[1].contains("yes"));
    assert!(lines[2].starts_with("bob"));

    env.ok(&["user", "disable", "ALICE"]);
    let list = env.ok(&["user", "list"]);
    assert!(list.lines().nth(1).unwrap().contains(" no "), "{list}");
    env.ok(&["user", "enable", "alice"]);

    let out = env.run_with_stdin(&["user", "passwd", "alice", "--password-stdin"], "new\n");
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "password of user 'Alice' changed\n");

    assert_eq!(env.ok(&["user", "del", "bob"]), "user 'bob' deleted\n");
    assert_eq!(env.ok(&["user", "list"]).lines().count(), 2);

    let audit = env.ok(&["audit", "--limit", "3"]);
    let actions: Vec<&str> = audit
        .lines()
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(actions, ["user.del", "user.passwd", "user.enable"]);
}

#[test]
fn share_add_list_show() {
    let env = Env::new();
    env.run_with_stdin(&["user", "add", "alice", "--password-stdin"], "pw\n");
    env.run_with_stdin(&["user", "add", "bob", "--password-stdin"], "pw\n");
    let media = env.path("data/media");
    let media_s = media.to_str().unwrap();

    let err = env.fails(&["share", "add", "Media", media_s], "");
    assert!(
        err.contains("does not exist (pass --create to make it)"),
        "{err}"
    );

    let out = env.ok(&[
        "share",
        "add",
        "Media",
        media_s,
        "--create",
        "--comment",
        "Films",
        "--read-only",
        "--encrypt",
        "--users",
        "alice,bob",
        "--write-users",
        "alice",
    ]);
    assert_eq!(out, format!("share 'Media' added for {media_s}\n"));
    assert!(media.is_dir());

    env.ok(&["share", "add", "backup$", media_s, "--hidden"]);

    let list = env.ok(&["share", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with("NAME"));
    assert!(
        lines[1].starts_with("backup$") && lines[1].contains("rw,hidden"),
        "{list}"
    );
    assert!(lines[1].ends_with("(all)"));
    assert!(
        lines[2].starts_with("Media") && lines[2].contains("ro,encrypt"),
        "{list}"
    );
    assert!(lines[2].ends_with("alice,bob"));

    let show = env.ok(&["share", "show", "media"]);
    let expected = format!(
        "name:        Media\npath:        {media_s}\ncomment:     Films\nread_only:   yes\n\
         guest_ok:    no\nbrowseable:  yes\nencrypt:     yes\nvalid_users: alice,bob\n\
         write_users: alice\n"
    );
    assert_eq!(show, expected);

    // Deleting a user removes it from the share's lists.
    env.ok(&["user", "del", "alice"]);
    let show = env.ok(&["share", "show", "MEDIA"]);
    assert!(show.contains("valid_users: bob\n") && show.contains("write_users: (none)\n"));

    env.ok(&["share", "del", "media"]);
    assert!(media.is_dir(), "share del leaves the directory alone");
    assert_eq!(env.ok(&["share", "list"]).lines().count(), 2);
}

#[test]
fn relative_share_paths_are_made_absolute() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("rel/dir")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nasd"))
        .current_dir(env.dir.path())
        .args([
            "--db",
            env.db().to_str().unwrap(),
            "share",
            "add",
            "r",
            "rel/dir",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let show = env.ok(&["share", "show", "r"]);
    let want = format!("path:        {}\n", env.path("rel/dir").display());
    assert!(show.contains(&want), "{show}");
}

#[test]
fn settings_get_and_set() {
    let env = Env::new();
    let all = env.ok(&["setting", "get"]);
    assert!(
        all.starts_with("server_name = NAS\nworkgroup = WORKGROUP\n"),
        "{all}"
    );
    assert!(all.contains("signing_required = true\n"));
    assert!(all.contains("max_io_size = 8388608\n"));
    assert_eq!(all.lines().count(), 12);

    assert_eq!(
        env.ok(&["setting", "set", "encryption", "Desired"]),
        "encryption = desired\n"
    );
    assert_eq!(env.ok(&["setting", "get", "encryption"]), "desired\n");

    let err = env.fails(
        &["setting", "set", "server_name", "this-name-is-too-long"],
        "",
    );
    assert_eq!(
        err,
        "nasd: error: invalid server_name: must be at most 15 characters (NetBIOS limit)\n"
    );
    let err = env.fails(&["setting", "get", "colour"], "");
    assert!(
        err.starts_with("nasd: error: unknown setting 'colour'"),
        "{err}"
    );
}

#[test]
fn demo_is_idempotent_and_prints_credentials() {
    let env = Env::new();
    let dir = env.path("srv/demo");
    let dir_s = dir.to_str().unwrap();
    let args = [
        "demo",
        "--dir",
        dir_s,
        "--user",
        "tester",
        "--password",
        "Tr1cky pw",
    ];
    let first = env.ok(&args);
    assert!(first.contains("  user:     tester\n"), "{first}");
    assert!(first.contains("  password: Tr1cky pw\n"), "{first}");
    assert!(first.contains("\\\\NAS\\demo"), "{first}");
    assert!(dir.join("README.txt").is_file());

    // Local edits to the README survive a re-run; nothing is duplicated.
    std::fs::write(dir.join("README.txt"), "mine").unwrap();
    let second = env.ok(&args);
    assert_eq!(first, second);
    assert_eq!(
        std::fs::read_to_string(dir.join("README.txt")).unwrap(),
        "mine"
    );
    assert_eq!(env.ok(&["user", "list"]).lines().count(), 2);
    assert_eq!(env.ok(&["share", "list"]).lines().count(), 2);
    let show = env.ok(&["share", "show", "demo"]);
    assert!(show.contains(&format!("path:        {dir_s}\n")));
    assert!(show.contains("valid_users: tester\n"));

    // A disabled demo user is re-enabled by the next run.
    env.ok(&["user", "disable", "tester"]);
    env.ok(&args);
    assert!(env
        .ok(&["user", "list"])
        .lines()
        .nth(1)
        .unwrap()
        .contains("yes"));
}

#[test]
fn bad_input_exits_1_with_one_clear_line() {
    let env = Env::new();
    let err = env.fails(&["user", "add", "bad name", "--password-stdin"], "pw\n");
    assert_eq!(
        err,
        "nasd: error: invalid user name: character ' ' is not allowed (use letters A-Z, digits, '.', '_' or '-')\n"
    );
    let err = env.fails(&["user", "add", "carol", "--password-stdin"], "");
    assert_eq!(
        err,
        "nasd: error: no password given (expected one line on standard input)\n"
    );
    let err = env.fails(&["user", "add", "carol", "--password-stdin"], b"\xff\n");
    assert!(err.contains("not valid UTF-8"), "{err}");
    env.run_with_stdin(&["user", "add", "carol", "--password-stdin"], "pw\n");
    let err = env.fails(&["user", "add", "CAROL", "--password-stdin"], "pw\n");
    assert_eq!(err, "nasd: error: user 'CAROL' already exists\n");
    let err = env.fails(&["user", "del", "nobody"], "");
    assert_eq!(err, "nasd: error: user 'nobody' does not exist\n");

    let err = env.fails(&["share", "add", "IPC$", "/srv/x"], "");
    assert_eq!(
        err,
        "nasd: error: invalid share name: IPC$ is reserved for the server's named pipes\n"
    );
    let err = env.fails(&["share", "add", "a:b", "/srv/x"], "");
    assert!(
        err.starts_with("nasd: error: invalid share name: character ':'"),
        "{err}"
    );
    let err = env.fails(&["share", "add", "x", "/srv/../etc", "--create"], "");
    assert!(err.contains("must not contain '.' or '..'"), "{err}");
    let d = env.path("d");
    std::fs::create_dir(&d).unwrap();
    let err = env.fails(
        &["share", "add", "x", d.to_str().unwrap(), "--users", "ghost"],
        "",
    );
    assert_eq!(
        err,
        "nasd: error: invalid valid_users: user 'ghost' does not exist\n"
    );
    let err = env.fails(&["share", "show", "nope"], "");
    assert_eq!(err, "nasd: error: share 'nope' does not exist\n");

    // Usage errors also exit 1, and so does an unopenable database.
    let err = env.fails(&["frobnicate"], "");
    assert!(err.contains("unrecognized subcommand"), "{err}");
    let err = env.fails(&["serve", "--listen", "not-an-address"], "");
    assert!(err.contains("invalid value"), "{err}");
    let file = env.path("plainfile");
    std::fs::write(&file, "x").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nasd"))
        .args(["--db", file.join("db").to_str().unwrap(), "user", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("nasd: error: cannot create directory"));
}

#[test]
fn db_path_comes_from_nasd_db_when_no_flag() {
    let env = Env::new();
    let db = env.path("from-env.db");
    let out = Command::new(env!("CARGO_BIN_EXE_nasd"))
        .env("NASD_DB", &db)
        .args(["setting", "set", "workgroup", "HOME"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(Path::new(&db).exists());
}
