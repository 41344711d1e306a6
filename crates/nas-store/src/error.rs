//! The one error type of the store.

/// Everything that can go wrong in a [`crate::Store`] call.
///
/// The `Display` text of `NotFound`, `AlreadyExists` and `Invalid` is meant to be shown to
/// an administrator as-is (CLI, web UI).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named object does not exist.
    #[error("{what} '{name}' does not exist")]
    NotFound {
        /// Kind of object: "user", "share", ...
        what: &'static str,
        /// The name that was looked up.
        name: String,
    },
    /// An object with that name (compared case-insensitively) already exists.
    #[error("{what} '{name}' already exists")]
    AlreadyExists {
        /// Kind of object: "user", "share".
        what: &'static str,
        /// The conflicting name.
        name: String,
    },
    /// A value was rejected by validation.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which input field was wrong (e.g. "share name", "path", "server_name").
        field: &'static str,
        /// Human-readable explanation.
        reason: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the embedded schema migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Hashing a password failed (should not happen with valid parameters).
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
}

impl StoreError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn not_found(what: &'static str, name: &str) -> Self {
        StoreError::NotFound {
            what,
            name: name.to_owned(),
        }
    }
}

/// Turns a UNIQUE-constraint failure into [`StoreError::AlreadyExists`], anything else into
/// [`StoreError::Db`].
pub(crate) fn map_unique(e: sqlx::Error, what: &'static str, name: &str) -> StoreError {
    let unique = e
        .as_database_error()
        .is_some_and(|d| d.is_unique_violation());
    if unique {
        StoreError::AlreadyExists {
            what,
            name: name.to_owned(),
        }
    } else {
        StoreError::Db(e)
    }
}
