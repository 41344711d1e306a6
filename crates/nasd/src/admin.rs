//! The administration subcommands: each opens the store, does one thing, records it in the
//! audit log (actor `cli`) and prints a short result on stdout.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use nas_store::{NewShare, Settings, Share, Store, StoreError};

use crate::cli::{Command, DemoArgs, SettingCmd, ShareAddArgs, ShareCmd, UserCmd};

/// Actor name written to the audit log for CLI changes.
const ACTOR: &str = "cli";
/// Longest password line accepted from stdin, in bytes (the store allows 256 characters).
const MAX_PASSWORD_LINE: u64 = 4096;

/// Runs one admin command against the database at `db` on a small tokio runtime.
pub fn run(db: &Path, command: Command) -> anyhow::Result<()> {
    init_logging();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let store = open_store(db).await?;
        let result = dispatch(&store, command).await;
        store.close().await;
        result
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NASD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Ignore the error if a subscriber is already installed.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .with_env_filter(filter)
        .try_init();
}

async fn open_store(db: &Path) -> anyhow::Result<Store> {
    if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create directory {}", parent.display()))?;
    }
    Store::open(db)
        .await
        .with_context(|| format!("cannot open database {}", db.display()))
}

async fn dispatch(store: &Store, command: Command) -> anyhow::Result<()> {
    match command {
        Command::User(c) => user(store, c).await,
        Command::Share(c) => share(store, c).await,
        Command::Setting(c) => setting(store, c).await,
        Command::Audit { limit } => audit(store, limit).await,
        Command::Demo(a) => demo(store, a).await,
        Command::Serve(_) | Command::Status { .. } => {
            bail!("internal: serve and status are not admin commands")
        }
    }
}

// ----- users -----

async fn user(store: &Store, cmd: UserCmd) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Add {
            name,
            password_stdin,
        } => {
            nas_store::validate::user_name(&name)?;
            if store.user(&name).await?.is_some() {
                return Err(StoreError::AlreadyExists { what: "user", name }.into());
            }
            let password = read_password(&name, password_stdin)?;
            let u = store.add_user(&name, &password).await?;
            store.audit(ACTOR, "user.add", &u.name).await?;
            println!("user '{}' added", u.name);
        }
        UserCmd::Passwd {
            name,
            password_stdin,
        } => {
            let Some(u) = store.user(&name).await? else {
                return Err(StoreError::NotFound { what: "user", name }.into());
            };
            let password = read_password(&u.name, password_stdin)?;
            store.set_password(&u.name, &password).await?;
            store.audit(ACTOR, "user.passwd", &u.name).await?;
            println!("password of user '{}' changed", u.name);
        }
        UserCmd::Del { name } => {
            store.delete_user(&name).await?;
            store.audit(ACTOR, "user.del", &name).await?;
            println!("user '{name}' deleted");
        }
        UserCmd::Enable { name } => {
            store.set_user_enabled(&name, true).await?;
            store.audit(ACTOR, "user.enable", &name).await?;
            println!("user '{name}' enabled");
        }
        UserCmd::Disable { name } => {
            store.set_user_enabled(&name, false).await?;
            store.audit(ACTOR, "user.disable", &name).await?;
            println!("user '{name}' disabled");
        }
        UserCmd::List => {
            let users = store.users().await?;
            let w = column_width("NAME", users.iter().map(|u| u.name.as_str()));
            println!("{:<w$}  {:<7}  CREATED", "NAME", "ENABLED");
            for u in users {
                let enabled = if u.enabled { "yes" } else { "no" };
                println!("{:<w$}  {:<7}  {}", u.name, enabled, u.created_at);
            }
        }
    }
    Ok(())
}

/// Reads a password: prompted twice without echo on a terminal (unless `from_stdin`),
/// otherwise one line from stdin.
fn read_password(name: &str, from_stdin: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !from_stdin && stdin.is_terminal() {
        let first = tty::prompt_hidden(&format!("New password for {name}: "))?;
        let second = tty::prompt_hidden("Retype the password: ")?;
        if first != second {
            bail!("the passwords do not match");
        }
        return check_nonempty(first);
    }
    check_nonempty(read_password_line(stdin.lock())?)
}

fn check_nonempty(p: String) -> anyhow::Result<String> {
    if p.is_empty() {
        bail!("no password given (expected one line on standard input)");
    }
    Ok(p)
}

/// One line, without its `\n` / `\r\n`; bounded in length; must be UTF-8.
fn read_password_line(input: impl BufRead) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    input
        .take(MAX_PASSWORD_LINE)
        .read_until(b'\n', &mut buf)
        .context("cannot read the password from standard input")?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() as u64 == MAX_PASSWORD_LINE {
        bail!("the password line is too long");
    }
    String::from_utf8(buf).map_err(|_| anyhow::anyhow!("the password is not valid UTF-8"))
}

mod tty {
    //! Password prompt with echo switched off (termios through libc).

    use std::io::Write;
    use std::mem::MaybeUninit;

    struct EchoOff {
        saved: libc::termios,
    }

    impl EchoOff {
        fn new() -> std::io::Result<EchoOff> {
            let mut t = MaybeUninit::<libc::termios>::uninit();
            // SAFETY: FFI call; `t` is a valid, writable termios-sized buffer and fd 0 is
            // stdin. On success tcgetattr fills it completely.
            let rc = unsafe { libc::tcgetattr(libc::STDIN_FILENO, t.as_mut_ptr()) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: tcgetattr returned 0, so it initialised `t`.
            let saved = unsafe { t.assume_init() };
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            quiet.c_lflag |= libc::ECHONL;
            // SAFETY: FFI call with a pointer to an initialised termios on the stack.
            let rc = unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(EchoOff { saved })
        }
    }

    impl Drop for EchoOff {
        fn drop(&mut self) {
            // SAFETY: FFI call restoring the attributes read in `new`, from a valid pointer.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved);
            }
        }
    }

    /// Prints `prompt` on stderr and reads one line from the terminal without echo.
    pub fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
        let mut err = std::io::stderr();
        let _ = err.write_all(prompt.as_bytes());
        let _ = err.flush();
        let _guard = EchoOff::new();
        super::read_password_line(std::io::stdin().lock())
    }
}

// ----- shares -----

async fn share(store: &Store, cmd: ShareCmd) -> anyhow::Result<()> {
    match cmd {
        ShareCmd::Add(a) => share_add(store, a).await,
        ShareCmd::Del { name } => {
            store.delete_share(&name).await?;
            store.audit(ACTOR, "share.del", &name).await?;
            println!("share '{name}' deleted (its directory was left alone)");
            Ok(())
        }
        ShareCmd::List => {
            let shares = store.shares().await?;
            let w = column_width("NAME", shares.iter().map(|s| s.name.as_str()));
            let pw = column_width("PATH", shares.iter().map(|s| s.path.to_str().unwrap_or("")));
            println!("{:<w$}  {:<pw$}  {:<22}  USERS", "NAME", "PATH", "FLAGS");
            for s in shares {
                println!(
                    "{:<w$}  {:<pw$}  {:<22}  {}",
                    s.name,
                    s.path.display(),
                    flags(&s),
                    user_list(&s.valid_users, "(all)")
                );
            }
            Ok(())
        }
        ShareCmd::Show { name } => {
            let Some(s) = store.share(&name).await? else {
                return Err(StoreError::NotFound {
                    what: "share",
                    name,
                }
                .into());
            };
            print!("{}", describe(&s));
            Ok(())
        }
    }
}

async fn share_add(store: &Store, a: ShareAddArgs) -> anyhow::Result<()> {
    let path = std::path::absolute(&a.path)
        .with_context(|| format!("cannot resolve path {}", a.path.display()))?;
    let new = NewShare {
        name: a.name,
        path: path.clone(),
        comment: a.comment,
        read_only: a.read_only,
        guest_ok: a.guest_ok,
        browseable: !a.hidden,
        encrypt: a.encrypt,
        valid_users: a.users.into_iter().filter(|u| !u.is_empty()).collect(),
        write_users: a
            .write_users
            .into_iter()
            .filter(|u| !u.is_empty())
            .collect(),
    };
    // Validate (and check for a duplicate) before touching the file system.
    nas_store::validate::share_name(&new.name)?;
    nas_store::validate::share_path(&new.path)?;
    if store.share(&new.name).await?.is_some() {
        return Err(StoreError::AlreadyExists {
            what: "share",
            name: new.name,
        }
        .into());
    }
    ensure_dir(&path, a.create)?;
    let s = store.add_share(&new).await?;
    store
        .audit(
            ACTOR,
            "share.add",
            &format!("{} -> {}", s.name, s.path.display()),
        )
        .await?;
    println!("share '{}' added for {}", s.name, s.path.display());
    Ok(())
}

fn ensure_dir(path: &Path, create: bool) -> anyhow::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if path.exists() {
        bail!("{} exists but is not a directory", path.display());
    }
    if !create {
        bail!(
            "directory {} does not exist (pass --create to make it)",
            path.display()
        );
    }
    std::fs::create_dir_all(path)
        .with_context(|| format!("cannot create directory {}", path.display()))
}

fn flags(s: &Share) -> String {
    let mut f = vec![if s.read_only { "ro" } else { "rw" }];
    if s.guest_ok {
        f.push("guest");
    }
    if !s.browseable {
        f.push("hidden");
    }
    if s.encrypt {
        f.push("encrypt");
    }
    f.join(",")
}

fn user_list(users: &[String], empty: &str) -> String {
    if users.is_empty() {
        empty.to_owned()
    } else {
        users.join(",")
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn describe(s: &Share) -> String {
    format!(
        "name:        {}\npath:        {}\ncomment:     {}\nread_only:   {}\nguest_ok:    {}\n\
         browseable:  {}\nencrypt:     {}\nvalid_users: {}\nwrite_users: {}\n",
        s.name,
        s.path.display(),
        s.comment,
        yes_no(s.read_only),
        yes_no(s.guest_ok),
        yes_no(s.browseable),
        yes_no(s.encrypt),
        user_list(&s.valid_users, "(every authenticated user)"),
        user_list(&s.write_users, "(none)"),
    )
}

fn column_width<'a>(header: &str, values: impl Iterator<Item = &'a str>) -> usize {
    values
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(0)
        .max(header.len())
}

// ----- settings and audit -----

async fn setting(store: &Store, cmd: SettingCmd) -> anyhow::Result<()> {
    match cmd {
        SettingCmd::Get { key: Some(key) } => {
            let settings = store.settings().await?;
            let Some(v) = settings.get(&key) else {
                bail!(
                    "unknown setting '{key}' (known: {})",
                    Settings::KEYS.join(", ")
                );
            };
            println!("{v}");
        }
        SettingCmd::Get { key: None } => {
            let settings = store.settings().await?;
            for k in Settings::KEYS {
                println!("{k} = {}", settings.get(k).unwrap_or_default());
            }
        }
        SettingCmd::Set { key, value } => {
            store.set_setting(&key, &value).await?;
            let now = store.settings().await?.get(&key).unwrap_or_default();
            store
                .audit(ACTOR, "setting.set", &format!("{key} = {now}"))
                .await?;
            println!("{key} = {now}");
        }
    }
    Ok(())
}

async fn audit(store: &Store, limit: u32) -> anyhow::Result<()> {
    for e in store.audit_log(limit).await? {
        println!("{}  {:<8}  {:<14}  {}", e.at, e.actor, e.action, e.detail);
    }
    Ok(())
}

// ----- demo -----

const DEMO_SHARE: &str = "demo";
const DEMO_README: &str = "This is the demo share of your NAS.\n\n\
Files you copy here are stored in this directory on the appliance.\n\
Remove it with `nasd share del demo` and `nasd user del demo` when you are done.\n";

/// Idempotent: afterwards the directory exists with a README.txt, the user exists, is
/// enabled and has the given password, and share "demo" points at the directory and admits
/// the user.
async fn demo(store: &Store, a: DemoArgs) -> anyhow::Result<()> {
    let dir: PathBuf = std::path::absolute(&a.dir)
        .with_context(|| format!("cannot resolve path {}", a.dir.display()))?;
    nas_store::validate::share_path(&dir)?;
    nas_store::validate::user_name(&a.user)?;
    nas_store::validate::password(&a.password)?;
    ensure_dir(&dir, true)?;
    let readme = dir.join("README.txt");
    if !readme.exists() {
        std::fs::write(&readme, DEMO_README)
            .with_context(|| format!("cannot write {}", readme.display()))?;
    }

    let user = match store.user(&a.user).await? {
        Some(u) => {
            store.set_password(&u.name, &a.password).await?;
            store.set_user_enabled(&u.name, true).await?;
            u.name
        }
        None => store.add_user(&a.user, &a.password).await?.name,
    };

    let mut share = NewShare::new(DEMO_SHARE, dir.clone());
    share.comment = "Demo share".to_owned();
    share.valid_users = vec![user.clone()];
    match store.share(DEMO_SHARE).await? {
        Some(old) => {
            let mut valid = old.valid_users;
            if !valid.is_empty() && !valid.iter().any(|u| u.eq_ignore_ascii_case(&user)) {
                valid.push(user.clone());
            }
            share.valid_users = valid;
            share.write_users = old.write_users;
            share.comment = old.comment;
            store.update_share(DEMO_SHARE, &share).await?;
        }
        None => {
            store.add_share(&share).await?;
        }
    }
    store
        .audit(
            ACTOR,
            "demo",
            &format!("user {user}, share {DEMO_SHARE} -> {}", dir.display()),
        )
        .await?;

    let server = store.settings().await?.server_name;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "demo share ready:");
    let _ = writeln!(
        out,
        "  share:    \\\\{server}\\{DEMO_SHARE}  (directory {})",
        dir.display()
    );
    let _ = writeln!(out, "  user:     {user}");
    let _ = writeln!(out, "  password: {}", a.password);
    let _ = writeln!(out, "try: smbclient //localhost/{DEMO_SHARE} -U {user}");
    if a.password == "demo" {
        eprintln!(
            "nasd: warning: the demo password is 'demo'; change it with `nasd user passwd {user}`"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_line_strips_only_the_line_ending() {
        let p = read_password_line(&b" pass word \r\nrest"[..]).unwrap();
        assert_eq!(p, " pass word ");
        assert_eq!(read_password_line(&b"last"[..]).unwrap(), "last");
        assert_eq!(read_password_line(&b"\n"[..]).unwrap(), "");
        assert!(read_password_line(&b"\xff\n"[..]).is_err());
        let long = vec![b'a'; 5000];
        let err = read_password_line(&long[..]).unwrap_err();
        assert!(err.to_string().contains("too long"));
    }
}
