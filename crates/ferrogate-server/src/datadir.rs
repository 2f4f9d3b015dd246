//! The data directory: created 0700 on first start; holds the database, the root key
//! (0600) and the root user's credentials (0600).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Why the data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// An I/O failure, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The directory is accessible to others.
    #[error("data directory {0} is accessible to other users (mode {1:o}); it must be 0700")]
    Permissions(PathBuf, u32),
    /// The credentials file is missing or malformed.
    #[error("no credentials in {0}: start the server once with this data directory (`ferrogate serve --data-dir ...`)")]
    NoCredentials(PathBuf),
}

/// The root user's credentials as stored in `<data dir>/credentials`.
pub struct Credentials {
    /// The account id.
    pub account_id: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: Zeroizing<String>,
    /// Where the server last listened, `http://host:port`.
    pub endpoint: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("account_id", &self.account_id)
            .field("access_key_id", &self.access_key_id)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// A data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_owned(),
        source,
    }
}

impl DataDir {
    /// Opens `root`, creating it with mode 0700 if needed. An existing directory that
    /// others can read or enter is refused.
    pub fn open(root: &Path) -> Result<Self, DataDirError> {
        if !root.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .map_err(io(root))?;
        }
        let mode = fs::metadata(root).map_err(io(root))?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(DataDirError::Permissions(root.to_owned(), mode));
        }
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The SQLite database.
    pub fn database(&self) -> PathBuf {
        self.root.join("ferrogate.db")
    }

    /// The root key file.
    pub fn root_key(&self) -> PathBuf {
        self.root.join("root.key")
    }

    fn credentials_path(&self) -> PathBuf {
        self.root.join("credentials")
    }

    /// Writes the credentials file (0600), replacing it atomically.
    pub fn write_credentials(&self, c: &Credentials) -> Result<(), DataDirError> {
        let path = self.credentials_path();
        let tmp = self.root.join(".credentials.tmp");
        let _ = fs::remove_file(&tmp);
        let mut text = Zeroizing::new(format!(
            "account_id={}\naws_access_key_id={}\naws_secret_access_key={}\n",
            c.account_id,
            c.access_key_id,
            c.secret_access_key.as_str()
        ));
        if let Some(e) = &c.endpoint {
            text.push_str(&format!("endpoint={e}\n"));
        }
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        // The rename is durable only once the directory is.
        fs::File::open(&self.root)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.root))
    }

    /// Whether the credentials file exists.
    pub fn has_credentials(&self) -> bool {
        self.credentials_path().exists()
    }

    /// Reads the credentials file.
    pub fn read_credentials(&self) -> Result<Credentials, DataDirError> {
        let path = self.credentials_path();
        let text = Zeroizing::new(
            fs::read_to_string(&path).map_err(|_| DataDirError::NoCredentials(path.clone()))?,
        );
        let get = |k: &str| {
            text.lines().find_map(|l| {
                l.strip_prefix(k)
                    .and_then(|r| r.strip_prefix('='))
                    .map(str::to_owned)
            })
        };
        match (
            get("account_id"),
            get("aws_access_key_id"),
            get("aws_secret_access_key"),
        ) {
            (Some(account_id), Some(access_key_id), Some(secret)) => Ok(Credentials {
                account_id,
                access_key_id,
                secret_access_key: Zeroizing::new(secret),
                endpoint: get("endpoint"),
            }),
            _ => Err(DataDirError::NoCredentials(path)),
        }
    }

    /// Records the endpoint the server listens on, keeping the credentials.
    pub fn record_endpoint(&self, endpoint: &str) -> Result<(), DataDirError> {
        let mut c = self.read_credentials()?;
        c.endpoint = Some(endpoint.to_owned());
        self.write_credentials(&c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_dir_and_round_trips_credentials() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("a/b");
        let d = DataDir::open(&root).unwrap();
        assert_eq!(
            fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(d.read_credentials().is_err());
        d.write_credentials(&Credentials {
            account_id: "000000000000".into(),
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: Zeroizing::new("s3cret".into()),
            endpoint: None,
        })
        .unwrap();
        d.record_endpoint("http://127.0.0.1:1").unwrap();
        let c = d.read_credentials().unwrap();
        assert_eq!(c.secret_access_key.as_str(), "s3cret");
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:1"));
        let mode = fs::metadata(root.join("credentials"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn refuses_an_open_directory() {
        let t = tempfile::tempdir().unwrap();
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(
            DataDir::open(t.path()),
            Err(DataDirError::Permissions(..))
        ));
    }
}
