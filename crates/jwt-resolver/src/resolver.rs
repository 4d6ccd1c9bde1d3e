//! Where account JWTs are kept: [`AccountResolver`], with [`MemoryResolver`] (`resolver:
//! MEMORY` and `resolver_preload`) and [`DirResolver`] (`resolver { type: full, dir }`: one
//! `<account>.jwt` file per account).
//!
//! A resolver stores and returns JWT **text**, keyed by the account's public key; it does not
//! verify what it stores (nats-server's stores do not either). Whether a JWT was signed by a
//! trusted operator is decided when it is used.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use nkeys::KeyPairType;

use crate::token::{MAX_TOKEN_SIZE, is_public_key};

/// Why a resolver refused to store or delete a JWT. Texts are nats-server's where it has one
/// (they end up in the reply to a `$SYS.REQ.CLAIMS.UPDATE` request).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolverError {
    /// The key is not an account public key.
    #[error("invalid public key")]
    InvalidKey,
    /// An empty or oversized JWT.
    #[error("invalid JWT")]
    InvalidJwt,
    /// The store holds `limit` accounts already.
    #[error("jwt store is full")]
    Full,
    /// The resolver cannot change (`resolver: MEMORY` takes no deletes).
    #[error("store is not set up to for delete")]
    DeleteNotAllowed,
    /// Reading or writing the directory failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A store of account JWTs by account public key.
pub trait AccountResolver: Send + Sync + fmt::Debug {
    /// The JWT of `account`, if the resolver has one.
    fn fetch(&self, account: &str) -> Option<String>;

    /// Stores `jwt` as `account`'s. Returns whether anything changed (the same JWT again is no
    /// change).
    fn store(&self, account: &str, jwt: &str) -> Result<bool, ResolverError>;

    /// Removes `account`'s JWT. Default: refused.
    fn delete(&self, account: &str) -> Result<(), ResolverError> {
        let _ = account;
        Err(ResolverError::DeleteNotAllowed)
    }

    /// The accounts held, in key order.
    fn list(&self) -> Vec<String>;

    /// Whether the resolver fetches accounts it does not hold from elsewhere (an HTTP server,
    /// other servers): then [`fetch`](Self::fetch) may wait on the network. Default `false`.
    fn is_remote(&self) -> bool {
        false
    }

    /// Whether [`fetch`](Self::fetch) of `account` may wait on the network now (it is not
    /// held, and not recently found missing). Must answer at once. Default `false`.
    fn fetch_may_block(&self, account: &str) -> bool {
        let _ = account;
        false
    }
}

/// Checks what every store checks before keeping a JWT.
fn check_entry(account: &str, jwt: &str) -> Result<(), ResolverError> {
    if !is_public_key(account, &KeyPairType::Account) {
        return Err(ResolverError::InvalidKey);
    }
    if jwt.is_empty() || jwt.len() > MAX_TOKEN_SIZE {
        return Err(ResolverError::InvalidJwt);
    }
    Ok(())
}

/// Account JWTs in memory (`resolver: MEMORY`), at most `limit` of them.
///
/// ```
/// use rnats_jwt::{AccountResolver, MemoryResolver};
///
/// let key = nkeys::KeyPair::new_account().public_key();
/// let resolver = MemoryResolver::new(None);
/// assert!(resolver.store(&key, "eyJ0.eyJ1.c2ln")?);
/// assert!(!resolver.store(&key, "eyJ0.eyJ1.c2ln")?, "same JWT: no change");
/// assert_eq!(resolver.fetch(&key).as_deref(), Some("eyJ0.eyJ1.c2ln"));
/// assert_eq!(resolver.list(), [key]);
/// # Ok::<(), rnats_jwt::ResolverError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryResolver {
    jwts: RwLock<BTreeMap<String, String>>,
    limit: Option<usize>,
}

impl MemoryResolver {
    /// An empty store holding at most `limit` accounts (`None`: no limit).
    pub fn new(limit: Option<usize>) -> Self {
        Self {
            jwts: RwLock::default(),
            limit,
        }
    }
}

impl AccountResolver for MemoryResolver {
    fn fetch(&self, account: &str) -> Option<String> {
        read(&self.jwts).get(account).cloned()
    }

    fn store(&self, account: &str, jwt: &str) -> Result<bool, ResolverError> {
        check_entry(account, jwt)?;
        let mut jwts = write(&self.jwts);
        match jwts.get(account) {
            Some(old) if old == jwt => return Ok(false),
            None if self.limit.is_some_and(|l| jwts.len() >= l) => {
                return Err(ResolverError::Full);
            }
            _ => {}
        }
        jwts.insert(account.to_owned(), jwt.to_owned());
        Ok(true)
    }

    fn list(&self) -> Vec<String> {
        read(&self.jwts).keys().cloned().collect()
    }
}

/// What [`DirResolver::delete`] does with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DirDelete {
    /// Deletes are refused (nats-server's default).
    #[default]
    Refuse,
    /// The file is renamed to `<account>.jwt.deleted`.
    Rename,
    /// The file is removed.
    Remove,
}

/// Account JWTs in a directory, one `<account public key>.jwt` file each (nats-server's full
/// resolver layout, unsharded): read whole when opened, kept in memory, and written through on
/// every change, so a restarted server serves what it was sent before.
#[derive(Debug)]
pub struct DirResolver {
    dir: PathBuf,
    memory: MemoryResolver,
    delete: DirDelete,
}

impl DirResolver {
    /// Opens (creating it if needed) `dir` and reads every `A….jwt` in it, at most `limit`
    /// (`None`: no limit). Files that are not named after an account key, or larger than a
    /// JWT can be, are skipped.
    pub fn open(
        dir: impl Into<PathBuf>,
        limit: Option<usize>,
        delete: DirDelete,
    ) -> Result<Self, ResolverError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        let memory = MemoryResolver::new(limit);
        let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let path = e.path();
                let name = path.file_name()?.to_str()?;
                let key = name.strip_suffix(".jwt")?;
                is_public_key(key, &KeyPairType::Account).then(|| (key.to_owned(), path.clone()))
            })
            .collect();
        entries.sort();
        for (key, path) in entries {
            let Ok(jwt) = read_bounded(&path) else {
                continue;
            };
            match memory.store(&key, jwt.trim()) {
                Ok(_) | Err(ResolverError::InvalidJwt) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Self {
            dir,
            memory,
            delete,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, account: &str) -> PathBuf {
        self.dir.join(format!("{account}.jwt"))
    }
}

impl AccountResolver for DirResolver {
    fn fetch(&self, account: &str) -> Option<String> {
        self.memory.fetch(account)
    }

    /// Writes the file (a temporary file renamed over it, so a crash never leaves half a
    /// JWT), then keeps the JWT in memory.
    fn store(&self, account: &str, jwt: &str) -> Result<bool, ResolverError> {
        check_entry(account, jwt)?;
        if self.memory.fetch(account).as_deref() == Some(jwt) {
            return Ok(false);
        }
        let full = self.memory.limit.is_some_and(|l| {
            self.memory.fetch(account).is_none() && read(&self.memory.jwts).len() >= l
        });
        if full {
            return Err(ResolverError::Full);
        }
        let path = self.path(account);
        let tmp = self.dir.join(format!(".{account}.jwt.tmp"));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(jwt.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        self.memory.store(account, jwt)
    }

    fn delete(&self, account: &str) -> Result<(), ResolverError> {
        if !is_public_key(account, &KeyPairType::Account) {
            return Err(ResolverError::InvalidKey);
        }
        let path = self.path(account);
        let done = match self.delete {
            DirDelete::Refuse => return Err(ResolverError::DeleteNotAllowed),
            DirDelete::Rename => {
                std::fs::rename(&path, self.dir.join(format!("{account}.jwt.deleted")))
            }
            DirDelete::Remove => std::fs::remove_file(&path),
        };
        match done {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        write(&self.memory.jwts).remove(account);
        Ok(())
    }

    fn list(&self) -> Vec<String> {
        self.memory.list()
    }
}

/// A file's text, refusing one larger than any JWT.
fn read_bounded(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_TOKEN_SIZE as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > MAX_TOKEN_SIZE {
        return Err(io::Error::other("larger than a JWT"));
    }
    Ok(text)
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("rnats-jwt-resolver-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn memory_limit_counts_accounts_not_updates() {
        let (a, b) = (
            nkeys::KeyPair::new_account().public_key(),
            nkeys::KeyPair::new_account().public_key(),
        );
        let r = MemoryResolver::new(Some(1));
        assert!(r.store(&a, "x.y.z").unwrap());
        assert!(r.store(&a, "x.y.w").unwrap(), "an update fits");
        assert!(matches!(r.store(&b, "x.y.z"), Err(ResolverError::Full)));
        assert!(matches!(
            r.store("UABC", "x.y.z"),
            Err(ResolverError::InvalidKey)
        ));
        assert!(matches!(r.store(&b, ""), Err(ResolverError::InvalidJwt)));
        assert!(matches!(r.delete(&a), Err(ResolverError::DeleteNotAllowed)));
    }

    #[test]
    fn directory_survives_a_reopen_and_deletes_as_configured() {
        let dir = scratch("dir");
        let a = nkeys::KeyPair::new_account().public_key();
        let b = nkeys::KeyPair::new_account().public_key();
        {
            let r = DirResolver::open(&dir, None, DirDelete::Rename).unwrap();
            assert!(r.store(&a, "a.b.c").unwrap());
            assert!(r.store(&b, "d.e.f").unwrap());
            r.delete(&b).unwrap();
            assert!(r.fetch(&b).is_none());
        }
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
        let r = DirResolver::open(&dir, None, DirDelete::Refuse).unwrap();
        assert_eq!(r.list(), std::slice::from_ref(&a));
        assert_eq!(r.fetch(&a).as_deref(), Some("a.b.c"));
        assert!(dir.join(format!("{b}.jwt.deleted")).exists());
        assert!(matches!(r.delete(&a), Err(ResolverError::DeleteNotAllowed)));
        let r = DirResolver::open(&dir, None, DirDelete::Remove).unwrap();
        r.delete(&a).unwrap();
        assert!(!dir.join(format!("{a}.jwt")).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
