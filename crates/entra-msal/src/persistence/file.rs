//! [`FilePersistence`]: a plaintext cache file, replaced atomically, locked with an OS file lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Persistence, PersistenceLock, Version};
use crate::error::Error;

/// How long [`FilePersistence::lock`](Persistence::lock) waits for another process by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest pause between two attempts to take a busy lock.
const MAX_POLL: Duration = Duration::from_millis(20);

/// A token cache in a plaintext JSON file, as msal-extensions' `FilePersistence` keeps it, with
/// `<path>.lockfile` as the cross-process lock.
///
/// - The file and missing parent directories are created owner-only (`0600` and `0700` on Unix)
///   from the start; there is never a moment with wider permissions.
/// - [`save`](Persistence::save) writes a temporary file in the same directory, flushes it to
///   disk, renames it over the file and flushes the directory: readers see the old or the new
///   text, never a mix, and a crash leaves one of them.
/// - [`lock`](Persistence::lock) takes an exclusive OS lock (`flock` on Unix, `LockFileEx` on
///   Windows) on the lock file, polling until [`with_lock_timeout`](Self::with_lock_timeout)
///   (10 s by default). The OS drops the lock when its process dies, so a crashed process never
///   blocks the others. The lock file is deleted on release, as msal-extensions does.
#[derive(Debug, Clone)]
pub struct FilePersistence {
    path: PathBuf,
    lock_path: PathBuf,
    lock_timeout: Duration,
}

impl FilePersistence {
    /// The cache at `path`, locked through `<path>.lockfile`. Nothing is touched until first use.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lockfile");
        Self {
            path,
            lock_path: lock_path.into(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// How long [`lock`](Persistence::lock) waits for another holder before failing.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file, `<path>.lockfile`.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    fn error(&self, what: &str, e: &io::Error) -> Error {
        Error::Cache(format!(
            "cannot {what} the token cache file {}: {e}",
            self.path.display()
        ))
    }

    fn create_parent(&self) -> Result<(), Error> {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => {
                let mut builder = fs::DirBuilder::new();
                builder.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
                builder
                    .create(dir)
                    .map_err(|e| self.error("create the directory of", &e))
            }
            _ => Ok(()),
        }
    }

    fn directory(&self) -> PathBuf {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn temp_path(&self) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "cache".into());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        self.directory()
            .join(format!(".{name}.{}.{n}.tmp", std::process::id()))
    }

    fn write_temp(&self, temp: &Path, data: &[u8]) -> io::Result<()> {
        let mut file = owner_only().write(true).create_new(true).open(temp)?;
        file.write_all(data)?;
        file.sync_all()
    }

    /// The file's bytes; `None` when it does not exist.
    pub(crate) fn load_bytes(&self) -> Result<Option<Vec<u8>>, Error> {
        match fs::read(&self.path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.error("read", &e)),
        }
    }

    /// Replaces the file with `data` atomically (temporary file, fsync, rename, fsync of the
    /// directory).
    pub(crate) fn save_bytes(&self, data: &[u8]) -> Result<(), Error> {
        self.create_parent()?;
        let temp = self.temp_path();
        if let Err(e) = self.write_temp(&temp, data) {
            let _ = fs::remove_file(&temp);
            return Err(self.error("write a temporary file next to", &e));
        }
        if let Err(e) = fs::rename(&temp, &self.path) {
            let _ = fs::remove_file(&temp);
            return Err(self.error("replace", &e));
        }
        #[cfg(unix)]
        File::open(self.directory())
            .and_then(|dir| dir.sync_all())
            .map_err(|e| self.error("flush the directory of", &e))?;
        Ok(())
    }
}

/// Options that create files readable and writable by the owner only.
fn owner_only() -> OpenOptions {
    #[cfg(unix)]
    {
        let mut options = OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
    }
    #[cfg(not(unix))]
    OpenOptions::new()
}

#[cfg(unix)]
fn fingerprint(m: &fs::Metadata) -> Version {
    use std::os::unix::fs::MetadataExt;
    Version::from_parts([
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime() as u64,
        m.mtime_nsec() as u64,
        m.ctime() as u64,
        m.ctime_nsec() as u64,
    ])
}

#[cfg(not(unix))]
fn fingerprint(m: &fs::Metadata) -> Version {
    let nanos = |t: io::Result<std::time::SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64)
    };
    Version::from_parts([m.len(), nanos(m.modified()), nanos(m.created())])
}

/// Whether the open file is still the one at `path` (a releasing holder deletes the lock file,
/// and a lock on a deleted file excludes nobody).
#[cfg(unix)]
fn is_current(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn is_current(_file: &File, path: &Path) -> bool {
    // Windows does not delete a file that is open without FILE_SHARE_DELETE.
    path.exists()
}

/// A held lock on the lock file; deletes the file, then unlocks (by closing it).
struct LockFile {
    file: File,
    path: PathBuf,
}

impl Drop for LockFile {
    fn drop(&mut self) {
        // Delete first, while still holding the lock: a waiter that opened this file sees, once
        // it gets the lock, that the file is gone and starts over with a new one.
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

impl Persistence for FilePersistence {
    /// The file's text; `None` when it does not exist.
    fn load(&self) -> Result<Option<String>, Error> {
        self.load_bytes()?
            .map(|bytes| {
                String::from_utf8(bytes).map_err(|_| {
                    Error::Cache(format!(
                        "the token cache file {} is not UTF-8 text; repair or delete it",
                        self.path.display()
                    ))
                })
            })
            .transpose()
    }

    fn save(&self, data: &str) -> Result<(), Error> {
        self.save_bytes(data.as_bytes())
    }

    fn version(&self) -> Result<Option<Version>, Error> {
        match fs::metadata(&self.path) {
            Ok(m) => Ok(Some(fingerprint(&m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.error("inspect", &e)),
        }
    }

    fn lock(&self) -> Result<PersistenceLock, Error> {
        self.create_parent()?;
        let deadline = Instant::now() + self.lock_timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            let file = owner_only()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.lock_path)
                .map_err(|e| {
                    Error::Cache(format!(
                        "cannot open the lock file {}: {e}",
                        self.lock_path.display()
                    ))
                })?;
            match file.try_lock() {
                Ok(()) if is_current(&file, &self.lock_path) => {
                    let mut guard = LockFile {
                        file,
                        path: self.lock_path.clone(),
                    };
                    // For people looking at a busy lock: who holds it (as msal-extensions writes).
                    let _ = guard.file.set_len(0).and_then(|()| {
                        write!(guard.file, "{} {}", std::process::id(), program_name())
                    });
                    return Ok(PersistenceLock::new(guard));
                }
                // The holder deleted the file while we waited on it: try again with a new one.
                Ok(()) => {
                    if Instant::now() >= deadline {
                        return Err(Error::Cache(format!(
                            "the token cache lock {} kept changing for {:?}; retry later",
                            self.lock_path.display(),
                            self.lock_timeout
                        )));
                    }
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(Error::Cache(format!(
                            "the token cache lock {} is still held by another process after \
                             {:?}; retry later, or raise the lock timeout",
                            self.lock_path.display(),
                            self.lock_timeout
                        )));
                    }
                    std::thread::sleep(pause.min(deadline - now));
                    pause = (pause * 2).min(MAX_POLL);
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(Error::Cache(format!(
                        "cannot lock {}: {e}",
                        self.lock_path.display()
                    )));
                }
            }
        }
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn round_trip_owner_only_and_no_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePersistence::new(dir.path().join("a/b/cache.json"));
        assert_eq!(p.load().unwrap(), None);
        assert_eq!(p.version().unwrap(), None);
        p.save("{\"x\": 1}").unwrap();
        let v1 = p.version().unwrap().unwrap();
        assert_eq!(p.load().unwrap().as_deref(), Some("{\"x\": 1}"));
        p.save("{\"x\": 2}").unwrap();
        assert_ne!(p.version().unwrap().unwrap(), v1);
        #[cfg(unix)]
        {
            assert_eq!(mode(p.path()), 0o600);
            assert_eq!(mode(&dir.path().join("a")), 0o700);
            assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        }
        let names: Vec<_> = fs::read_dir(dir.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["cache.json"]);
    }

    #[test]
    fn lock_excludes_and_is_released_and_deleted_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePersistence::new(dir.path().join("cache.json"))
            .with_lock_timeout(Duration::from_millis(50));
        assert!(p.lock_path().ends_with("cache.json.lockfile"));
        let held = p.lock().unwrap();
        assert!(p.lock_path().exists());
        let err = p.lock().unwrap_err();
        assert!(
            matches!(err, Error::Cache(ref m) if m.contains("still held")),
            "{err}"
        );
        drop(held);
        assert!(!p.lock_path().exists());
        drop(p.lock().unwrap());
    }

    #[test]
    fn a_waiter_gets_the_lock_when_the_holder_releases_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePersistence::new(dir.path().join("cache.json"));
        let held = p.lock().unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| p.lock().map(drop));
            std::thread::sleep(Duration::from_millis(30));
            drop(held);
            waiter.join().unwrap().unwrap();
        });
    }

    #[test]
    fn lock_files_left_behind_do_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePersistence::new(dir.path().join("cache.json"))
            .with_lock_timeout(Duration::from_millis(50));
        fs::write(p.lock_path(), "12345 crashed").unwrap();
        drop(p.lock().unwrap());
    }
}
