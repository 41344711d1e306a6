//! Command-line syntax of `nasd` (clap derive). Parsing only; the work is in `admin`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Where the configuration database lives when neither `--db` nor `NASD_DB` says otherwise.
pub const DEFAULT_DB: &str = "/var/lib/nasd/nasd.db";

/// NAS appliance daemon: SMB3 file server and its administration commands.
#[derive(Debug, Parser)]
#[command(name = "nasd", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration database (SQLite). Falls back to $NASD_DB, then /var/lib/nasd/nasd.db.
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The database path: `--db`, else `$NASD_DB` (if non-empty), else [`DEFAULT_DB`].
    pub fn db_path(&self) -> PathBuf {
        if let Some(p) = &self.db {
            return p.clone();
        }
        match std::env::var_os("NASD_DB") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from(DEFAULT_DB),
        }
    }
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the SMB server on the configured shares and users.
    Serve(ServeArgs),
    /// Manage local users.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage shares.
    #[command(subcommand)]
    Share(ShareCmd),
    /// Read or change server settings.
    #[command(subcommand)]
    Setting(SettingCmd),
    /// Show the newest audit log entries.
    Audit {
        /// How many entries to show.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Set up (idempotently) a "demo" share and user to try the server with.
    Demo(DemoArgs),
    /// Show the running server's status: SMB Direct, interfaces, connections.
    Status {
        /// Print the status document as JSON.
        #[arg(long)]
        json: bool,
        /// The status file (default: /run/nasd/status.json if /run/nasd exists, else
        /// the database path + ".status.json").
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
    },
}

/// `nasd serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "0.0.0.0:445", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Worker threads; 0 = one per CPU.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// Where to keep the status `nasd status` shows (default: /run/nasd/status.json if
    /// /run/nasd exists, else the database path + ".status.json").
    #[arg(long, value_name = "PATH")]
    pub status_file: Option<PathBuf>,
}

/// `nasd user ...`
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user. The password is read from stdin (prompted for on a terminal).
    Add {
        /// User name.
        name: String,
        /// Read the password as one line from stdin, even on a terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's password.
    Passwd {
        /// User name.
        name: String,
        /// Read the password as one line from stdin, even on a terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete a user (also removes it from every share's user lists).
    Del {
        /// User name.
        name: String,
    },
    /// List users.
    List,
    /// Allow a user to log in again.
    Enable {
        /// User name.
        name: String,
    },
    /// Stop a user from logging in (keeps the account).
    Disable {
        /// User name.
        name: String,
    },
}

/// `nasd share ...`
#[derive(Debug, Subcommand)]
pub enum ShareCmd {
    /// Create a share.
    Add(ShareAddArgs),
    /// Delete a share definition (the directory is left alone).
    Del {
        /// Share name.
        name: String,
    },
    /// List shares.
    List,
    /// Show one share in detail.
    Show {
        /// Share name.
        name: String,
    },
}

/// `nasd share add` options.
#[derive(Debug, Args)]
pub struct ShareAddArgs {
    /// Share name (a trailing '$' is allowed).
    pub name: String,
    /// Directory to share (made absolute).
    pub path: PathBuf,
    /// Comment shown to clients.
    #[arg(long, default_value = "")]
    pub comment: String,
    /// Nobody may write (except --write-users).
    #[arg(long)]
    pub read_only: bool,
    /// Allow guest (unauthenticated) access.
    #[arg(long)]
    pub guest_ok: bool,
    /// Do not list the share when clients browse.
    #[arg(long)]
    pub hidden: bool,
    /// Require SMB3 encryption for this share.
    #[arg(long)]
    pub encrypt: bool,
    /// Only these users may connect (comma-separated); default: every user.
    #[arg(long, value_delimiter = ',', value_name = "U1,U2")]
    pub users: Vec<String>,
    /// On a read-only share, these users may still write (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "U1,U2")]
    pub write_users: Vec<String>,
    /// Create the directory if it does not exist.
    #[arg(long)]
    pub create: bool,
}

/// `nasd setting ...`
#[derive(Debug, Subcommand)]
pub enum SettingCmd {
    /// Print one setting, or all of them as `key = value`.
    Get {
        /// Setting name; omit for all.
        key: Option<String>,
    },
    /// Change a setting (validated).
    Set {
        /// Setting name.
        key: String,
        /// New value.
        value: String,
    },
}

/// `nasd demo` options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory of the demo share (created if missing).
    #[arg(long, default_value = "/srv/nas/demo", value_name = "PATH")]
    pub dir: PathBuf,
    /// Demo user name.
    #[arg(long, default_value = "demo", value_name = "U")]
    pub user: String,
    /// Demo user password.
    #[arg(long, default_value = "demo", value_name = "P")]
    pub password: String,
}
