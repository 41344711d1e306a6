//! `nas-store`: the appliance's persistent configuration — users, shares, per-share access
//! lists, server settings and an audit log — kept in one SQLite file through `sqlx`.
//!
//! This is the only crate that names `sqlx`. It validates everything it stores and hands out
//! plain Rust values ([`User`], [`Share`], [`Settings`], [`Snapshot`]). It must NOT know SMB,
//! HTTP or any other protocol: it stores an NT hash because the SMB server asks for one, but
//! it neither knows nor cares how that hash is used, and it never opens a socket.
//!
//! Database conventions: WAL journal, foreign keys on, a busy timeout, embedded migrations
//! (`crates/nas-store/migrations`), runtime-checked queries, and names (users, shares)
//! compared case-insensitively (`COLLATE NOCASE`).

mod error;
mod settings;
pub mod validate;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use md4::{Digest, Md4};
use rand::RngCore;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

pub use error::StoreError;
pub use settings::{dialect_rank, EncryptionPolicy, Settings, DIALECTS, MAX_IO_SIZE, MIN_IO_SIZE};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// How long a connection waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest number of rows [`Store::audit_log`] returns.
pub const MAX_AUDIT_ROWS: u32 = 10_000;
/// Audit fields longer than this many characters are cut (with a trailing `…`).
pub const MAX_AUDIT_FIELD: usize = 1024;

/// A local user account.
///
/// `Debug` does not print the NT hash (it is a password equivalent).
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// User name as first entered (lookups ignore case).
    pub name: String,
    /// MD4 of the UTF-16LE password (the "NT hash"/NTOWFv1).
    pub nt_hash: [u8; 16],
    /// Disabled users may not log in.
    pub enabled: bool,
    /// Creation time, UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created_at: String,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("nt_hash", &"<redacted>")
            .field("enabled", &self.enabled)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A share definition as entered by an administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShare {
    /// Share name (1–80 characters, see [`validate::share_name`]). A trailing `$` is allowed.
    pub name: String,
    /// Absolute directory path; stored normalised (see [`validate::share_path`]).
    pub path: PathBuf,
    /// Free-text comment shown to clients.
    pub comment: String,
    /// Nobody may write, except the users in `write_users`.
    pub read_only: bool,
    /// Guests (unauthenticated sessions) may connect.
    pub guest_ok: bool,
    /// Listed when clients enumerate shares.
    pub browseable: bool,
    /// Require SMB3 encryption on this share.
    pub encrypt: bool,
    /// Users allowed to connect; empty = every authenticated user. Each must exist.
    pub valid_users: Vec<String>,
    /// On a read-only share, users who may still write; may be empty. Each must exist and,
    /// when `valid_users` is not empty, be one of them.
    pub write_users: Vec<String>,
}

impl NewShare {
    /// A writable, browseable share open to every authenticated user.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        NewShare {
            name: name.into(),
            path: path.into(),
            comment: String::new(),
            read_only: false,
            guest_ok: false,
            browseable: true,
            encrypt: false,
            valid_users: Vec::new(),
            write_users: Vec::new(),
        }
    }
}

/// A stored share. User lists hold the users' names as stored, sorted case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// Row id.
    pub id: i64,
    /// See [`NewShare::name`].
    pub name: String,
    /// See [`NewShare::path`].
    pub path: PathBuf,
    /// See [`NewShare::comment`].
    pub comment: String,
    /// See [`NewShare::read_only`].
    pub read_only: bool,
    /// See [`NewShare::guest_ok`].
    pub guest_ok: bool,
    /// See [`NewShare::browseable`].
    pub browseable: bool,
    /// See [`NewShare::encrypt`].
    pub encrypt: bool,
    /// See [`NewShare::valid_users`].
    pub valid_users: Vec<String>,
    /// See [`NewShare::write_users`].
    pub write_users: Vec<String>,
}

/// One audit log row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    /// Row id (increasing).
    pub id: i64,
    /// Time, UTC, `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub at: String,
    /// Who did it ("cli", a web user name, ...).
    pub actor: String,
    /// What was done ("user.add", ...).
    pub action: String,
    /// Free-text detail.
    pub detail: String,
}

/// Everything the file server needs, read in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// All users, enabled or not, sorted by name.
    pub users: Vec<User>,
    /// All shares with their user lists, sorted by name.
    pub shares: Vec<Share>,
    /// Current settings.
    pub settings: Settings,
}

/// Handle on the configuration database. Cheap to clone (a connection pool inside).
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// The NT hash (NTOWFv1) of a password: MD4 over its UTF-16LE encoding.
pub fn nt_hash(password: &str) -> [u8; 16] {
    let mut h = Md4::new();
    for unit in password.encode_utf16() {
        h.update(unit.to_le_bytes());
    }
    h.finalize().into()
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    name: String,
    nt_hash: Vec<u8>,
    enabled: bool,
    created_at: String,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<User, StoreError> {
        let nt_hash = <[u8; 16]>::try_from(r.nt_hash.as_slice()).map_err(|_| {
            StoreError::Db(sqlx::Error::Decode(
                format!("nt_hash of user '{}' is not 16 bytes", r.name).into(),
            ))
        })?;
        Ok(User {
            id: r.id,
            name: r.name,
            nt_hash,
            enabled: r.enabled,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ShareRow {
    id: i64,
    name: String,
    path: String,
    comment: String,
    read_only: bool,
    guest_ok: bool,
    browseable: bool,
    encrypt: bool,
}

#[derive(sqlx::FromRow)]
struct AccessRow {
    share_id: i64,
    kind: String,
    name: String,
}

const USER_COLS: &str = "id, name, nt_hash, enabled, created_at";
const SHARE_COLS: &str = "id, name, path, comment, read_only, guest_ok, browseable, encrypt";

async fn load_users(
    conn: &mut SqliteConnection,
    name: Option<&str>,
) -> Result<Vec<User>, StoreError> {
    let rows: Vec<UserRow> = match name {
        Some(n) => {
            sqlx::query_as(&format!("SELECT {USER_COLS} FROM users WHERE name = ?"))
                .bind(n)
                .fetch_all(&mut *conn)
                .await?
        }
        None => {
            sqlx::query_as(&format!("SELECT {USER_COLS} FROM users ORDER BY name, id"))
                .fetch_all(&mut *conn)
                .await?
        }
    };
    rows.into_iter().map(User::try_from).collect()
}

async fn load_shares(
    conn: &mut SqliteConnection,
    name: Option<&str>,
) -> Result<Vec<Share>, StoreError> {
    let rows: Vec<ShareRow> = match name {
        Some(n) => {
            sqlx::query_as(&format!("SELECT {SHARE_COLS} FROM shares WHERE name = ?"))
                .bind(n)
                .fetch_all(&mut *conn)
                .await?
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT {SHARE_COLS} FROM shares ORDER BY name, id"
            ))
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let access: Vec<AccessRow> = sqlx::query_as(
        "SELECT a.share_id, a.kind, u.name FROM share_access a \
         JOIN users u ON u.id = a.user_id ORDER BY u.name, u.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut lists: HashMap<i64, (Vec<String>, Vec<String>)> = HashMap::new();
    for a in access {
        let entry = lists.entry(a.share_id).or_default();
        if a.kind == "write" {
            entry.1.push(a.name);
        } else {
            entry.0.push(a.name);
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let (valid_users, write_users) = lists.remove(&r.id).unwrap_or_default();
            Share {
                id: r.id,
                name: r.name,
                path: PathBuf::from(r.path),
                comment: r.comment,
                read_only: r.read_only,
                guest_ok: r.guest_ok,
                browseable: r.browseable,
                encrypt: r.encrypt,
                valid_users,
                write_users,
            }
        })
        .collect())
}

async fn load_settings(conn: &mut SqliteConnection) -> Result<Settings, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM settings")
        .fetch_all(&mut *conn)
        .await?;
    let mut s = Settings::default();
    for (k, v) in rows {
        if let Err(e) = s.apply(&k, &v) {
            tracing::warn!(key = %k, error = %e, "ignoring bad stored setting; using default");
        }
    }
    if s.check().is_err() {
        tracing::warn!("stored dialect range is inverted; using the default range");
        let d = Settings::default();
        s.min_dialect = d.min_dialect;
        s.max_dialect = d.max_dialect;
    }
    Ok(s)
}

/// Resolves user names to ids (deduplicated); every name must exist.
async fn resolve_users(
    conn: &mut SqliteConnection,
    field: &'static str,
    names: &[String],
) -> Result<Vec<(i64, String)>, StoreError> {
    let mut ids: Vec<(i64, String)> = Vec::with_capacity(names.len());
    for n in names {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE name = ?")
            .bind(n)
            .fetch_optional(&mut *conn)
            .await?;
        match id {
            Some(id) if !ids.iter().any(|(i, _)| *i == id) => ids.push((id, n.clone())),
            Some(_) => {}
            None => {
                return Err(StoreError::invalid(
                    field,
                    format!("user '{n}' does not exist"),
                ))
            }
        }
    }
    Ok(ids)
}

/// Validates a share definition and returns its normalised path text.
fn check_share(s: &NewShare) -> Result<String, StoreError> {
    validate::share_name(&s.name)?;
    let path = validate::share_path(&s.path)?;
    validate::comment(&s.comment)?;
    // share_path guarantees UTF-8.
    Ok(path.to_string_lossy().into_owned())
}

/// Writes the access lists of share `share_id` (replacing any previous ones).
async fn write_access(
    conn: &mut SqliteConnection,
    share_id: i64,
    s: &NewShare,
) -> Result<(), StoreError> {
    let valid = resolve_users(conn, "valid_users", &s.valid_users).await?;
    let write = resolve_users(conn, "write_users", &s.write_users).await?;
    if !valid.is_empty() {
        if let Some((_, name)) = write
            .iter()
            .find(|(id, _)| !valid.iter().any(|(v, _)| v == id))
        {
            return Err(StoreError::invalid(
                "write_users",
                format!("user '{name}' is not in valid_users, so could not connect at all"),
            ));
        }
    }
    sqlx::query("DELETE FROM share_access WHERE share_id = ?")
        .bind(share_id)
        .execute(&mut *conn)
        .await?;
    for (kind, ids) in [("valid", &valid), ("write", &write)] {
        for (id, _) in ids {
            sqlx::query("INSERT INTO share_access (share_id, user_id, kind) VALUES (?, ?, ?)")
                .bind(share_id)
                .bind(id)
                .bind(kind)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(MAX_AUDIT_FIELD) {
        Some((i, _)) => format!("{}…", s.get(..i).unwrap_or_default()),
        None => s.to_owned(),
    }
}

/// Argon2id hash (PHC string) of `password`, computed off the async executor.
async fn hash_password(password: &str) -> Result<String, StoreError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| StoreError::PasswordHash(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::PasswordHash(e.to_string()))
    })
    .await
    .map_err(|e| StoreError::PasswordHash(e.to_string()))?
}

impl Store {
    /// Opens (creating if missing) the database file at `path` and applies migrations.
    /// The parent directory must exist.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        Self::migrate(pool).await
    }

    /// A private in-memory database (for tests); it lives as long as the returned store.
    pub async fn open_memory() -> Result<Store, StoreError> {
        let opts = SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // One connection that never expires: every new connection would be a new database.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await?;
        Self::migrate(pool).await
    }

    async fn migrate(pool: SqlitePool) -> Result<Store, StoreError> {
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool })
    }

    /// Closes the pool, waiting for connections to finish (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ----- users -----

    /// Creates an enabled user. Errors: invalid name/password, name taken (any case).
    pub async fn add_user(&self, name: &str, password: &str) -> Result<User, StoreError> {
        validate::user_name(name)?;
        validate::password(password)?;
        let phc = hash_password(password).await?;
        let row: UserRow = sqlx::query_as(&format!(
            "INSERT INTO users (name, nt_hash, password_hash) VALUES (?, ?, ?) \
             RETURNING {USER_COLS}"
        ))
        .bind(name)
        .bind(nt_hash(password).as_slice())
        .bind(phc)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| error::map_unique(e, "user", name))?;
        User::try_from(row)
    }

    /// Replaces a user's password (both the NT hash and the Argon2 hash).
    pub async fn set_password(&self, name: &str, password: &str) -> Result<(), StoreError> {
        validate::password(password)?;
        if self.user(name).await?.is_none() {
            return Err(StoreError::not_found("user", name));
        }
        let phc = hash_password(password).await?;
        let done = sqlx::query("UPDATE users SET nt_hash = ?, password_hash = ? WHERE name = ?")
            .bind(nt_hash(password).as_slice())
            .bind(phc)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("user", name));
        }
        Ok(())
    }

    /// Enables or disables a user.
    pub async fn set_user_enabled(&self, name: &str, enabled: bool) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET enabled = ? WHERE name = ?")
            .bind(enabled)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("user", name));
        }
        Ok(())
    }

    /// Deletes a user; it disappears from every share's user lists too.
    pub async fn delete_user(&self, name: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM users WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("user", name));
        }
        Ok(())
    }

    /// Looks a user up by name, ignoring case.
    pub async fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(load_users(&mut conn, Some(name)).await?.into_iter().next())
    }

    /// All users, sorted by name (case-insensitively).
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_users(&mut conn, None).await
    }

    /// Checks a password against the stored Argon2 hash. Unknown and disabled users, and
    /// passwords outside the accepted length, give `Ok(false)`; unknown and disabled users
    /// cost one Argon2 computation too, so the answer time does not reveal them.
    pub async fn verify_password(&self, name: &str, password: &str) -> Result<bool, StoreError> {
        if validate::password(password).is_err() {
            return Ok(false);
        }
        let row: Option<(String, bool)> =
            sqlx::query_as("SELECT password_hash, enabled FROM users WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        let Some((phc, true)) = row else {
            // Spend the same work as a real check so timing does not reveal which user
            // names exist.
            hash_password(password).await?;
            return Ok(false);
        };
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            let parsed =
                PasswordHash::new(&phc).map_err(|e| StoreError::PasswordHash(e.to_string()))?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        })
        .await
        .map_err(|e| StoreError::PasswordHash(e.to_string()))?
    }

    // ----- shares -----

    /// Creates a share. Errors: invalid fields, unknown users, name taken (any case).
    pub async fn add_share(&self, s: &NewShare) -> Result<Share, StoreError> {
        let path = check_share(s)?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO shares (name, path, comment, read_only, guest_ok, browseable, encrypt) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&s.name)
        .bind(&path)
        .bind(&s.comment)
        .bind(s.read_only)
        .bind(s.guest_ok)
        .bind(s.browseable)
        .bind(s.encrypt)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| error::map_unique(e, "share", &s.name))?;
        write_access(&mut tx, id, s).await?;
        let share = load_shares(&mut tx, Some(&s.name))
            .await?
            .into_iter()
            .next();
        tx.commit().await?;
        share.ok_or_else(|| StoreError::not_found("share", &s.name))
    }

    /// Replaces the definition of share `name` (which may be renamed by `s.name`).
    pub async fn update_share(&self, name: &str, s: &NewShare) -> Result<Share, StoreError> {
        let path = check_share(s)?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM shares WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let id = id.ok_or_else(|| StoreError::not_found("share", name))?;
        sqlx::query(
            "UPDATE shares SET name = ?, path = ?, comment = ?, read_only = ?, guest_ok = ?, \
             browseable = ?, encrypt = ? WHERE id = ?",
        )
        .bind(&s.name)
        .bind(&path)
        .bind(&s.comment)
        .bind(s.read_only)
        .bind(s.guest_ok)
        .bind(s.browseable)
        .bind(s.encrypt)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| error::map_unique(e, "share", &s.name))?;
        write_access(&mut tx, id, s).await?;
        let share = load_shares(&mut tx, Some(&s.name))
            .await?
            .into_iter()
            .next();
        tx.commit().await?;
        share.ok_or_else(|| StoreError::not_found("share", &s.name))
    }

    /// Deletes a share definition (never touches its directory).
    pub async fn delete_share(&self, name: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM shares WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("share", name));
        }
        Ok(())
    }

    /// Looks a share up by name, ignoring case.
    pub async fn share(&self, name: &str) -> Result<Option<Share>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(load_shares(&mut conn, Some(name)).await?.into_iter().next())
    }

    /// All shares, sorted by name (case-insensitively).
    pub async fn shares(&self) -> Result<Vec<Share>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_shares(&mut conn, None).await
    }

    // ----- settings -----

    /// Current settings; unset keys have their defaults.
    pub async fn settings(&self) -> Result<Settings, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_settings(&mut conn).await
    }

    /// Validates and stores one setting (see [`Settings::KEYS`]); the value is stored in its
    /// canonical form (e.g. `yes` → `true`). `min_dialect` may not exceed `max_dialect`.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut s = load_settings(&mut tx).await?;
        s.apply(key, value)?;
        s.check()?;
        let canonical = s
            .get(key)
            .ok_or_else(|| StoreError::invalid("key", format!("unknown setting '{key}'")))?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(canonical)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- audit -----

    /// Appends an audit record. Fields longer than [`MAX_AUDIT_FIELD`] characters are cut.
    pub async fn audit(&self, actor: &str, action: &str, detail: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit (actor, action, detail) VALUES (?, ?, ?)")
            .bind(truncate(actor))
            .bind(truncate(action))
            .bind(truncate(detail))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest `limit` audit records (at most [`MAX_AUDIT_ROWS`]), newest first.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, at, actor, action, detail FROM audit ORDER BY id DESC LIMIT ?",
        )
        .bind(limit.min(MAX_AUDIT_ROWS))
        .fetch_all(&self.pool)
        .await?)
    }

    // ----- snapshot -----

    /// One consistent read of everything the SMB server needs (users with NT hashes, shares
    /// with their user lists, settings), taken inside a single read transaction.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut tx = self.pool.begin().await?;
        let users = load_users(&mut tx, None).await?;
        let shares = load_shares(&mut tx, None).await?;
        let settings = load_settings(&mut tx).await?;
        tx.commit().await?;
        Ok(Snapshot {
            users,
            shares,
            settings,
        })
    }
}
