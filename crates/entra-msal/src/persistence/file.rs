//! [`FilePersistence`]: a plaintext cache file, replaced atomically, locked with the lock-file
//! protocol every msal-extensions variant understands.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::{Persistence, PersistenceLock, Version};
use crate::error::Error;

/// How long [`FilePersistence::lock`](Persistence::lock) waits for another process by default.
///
/// The lock is held only while a process reads, merges and writes the file (milliseconds), never
/// across a sign-in or a network request, so a long wait means a process is stuck; it is longer
/// than [`STALE_LOCK_AFTER`] so an abandoned lock file is taken over before the wait ends.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(20);

/// A lock file that nobody holds an OS lock on and that stays unchanged this long is taken over
/// even when the process it names still seems to run (its pid was reused, or it lives in another
/// pid namespace). A lock file whose recorded process is gone is taken over at once.
pub const STALE_LOCK_AFTER: Duration = Duration::from_secs(10);

/// How far ahead of the current time a saved cache file's modification time is set, so that
/// msal-extensions (which compares it with the `time.time()` of its last unlocked read) reloads
/// a file written while it was reading the previous one.
const MTIME_LEAD: Duration = Duration::from_secs(2);

/// The largest cache file read: a bigger one is refused, never read into memory.
pub const MAX_CACHE_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The longest pause between two attempts to take a busy lock. msal-extensions' waiters poll
/// every 250 ms and give up (`filelock.py`) or go on without the lock file (`cache_lock.py`)
/// after 5 s: waiters of this library that polled much faster would take every free moment
/// and starve them, so a busy lock is polled with growing, randomized pauses up to this bound,
/// leaving the lock free long enough between holders for a Python waiter's poll to find it so.
const MAX_POLL: Duration = Duration::from_millis(200);

/// The pause before the next attempt on a busy lock: random in `[pause / 2, pause]`, where
/// `pause` doubles from 1 ms up to [`MAX_POLL`].
fn next_pause(pause: &mut Duration) -> Duration {
    use rand::Rng as _;
    let current = *pause;
    *pause = (current * 2).min(MAX_POLL);
    let half = current.as_micros() as u64 / 2;
    Duration::from_micros(half + rand::thread_rng().gen_range(0..=half))
}

/// The most read from a lock file (it holds `"<pid> <program>"`).
const MAX_LOCK_CONTENT: u64 = 4096;

/// A token cache in a plaintext JSON file, as msal-extensions' `FilePersistence` keeps it, with
/// `<path>.lockfile` as the cross-process lock.
///
/// # The file
///
/// - It and missing parent directories are created owner-only (`0600` and `0700` on Unix) from
///   the start; there is never a moment with wider permissions.
/// - [`save`](Persistence::save) writes a temporary file in the same directory, sets its
///   modification time to two seconds after the current time (msal-extensions reloads only
///   when the file's time is later than the `time.time()` it recorded after its last read or
///   write, and it reads without the lock; the kernel's file timestamps also come from a
///   coarser clock), flushes it to disk, renames it over the file and
///   flushes the directory: readers see the old or the new text, never a mix.
/// - A cache path that is a symbolic link is written **through** to its target (the temporary
///   file goes next to the target), so every program sharing the target keeps sharing it.
/// - A path that is not a regular file (a device such as `/dev/null`, a FIFO, a socket, a
///   directory) is refused with [`Error::CacheFileRefused`] and never read or replaced; so is a
///   file larger than [`MAX_CACHE_FILE_BYTES`].
///
/// # The lock
///
/// msal-extensions 1.3.1 has two locks, both on `<path>.lockfile`: without `portalocker`
/// (`filelock.py`) the lock *is* the file's existence (`open(path, "x")`, deleted on exit);
/// with it (`cache_lock.py`) it creates the file the same way, then takes `flock` on it, and on
/// exit unlocks, then deletes it. [`lock`](Persistence::lock) excludes both, and other
/// processes of this library:
///
/// 1. it creates the lock file exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`, owner-only; never
///    truncating, never following a symbolic link), takes `flock` on it (waiting when a
///    `portalocker` process that gave up on creating it locked it first), checks that the path
///    still names the file it locked, and writes `"<pid> <program>"` as both Python locks do;
/// 2. when the file exists, it waits, unless nobody holds `flock` on it and the process it names
///    is gone, or it stayed unchanged for [`STALE_LOCK_AFTER`]: then it takes it over, holding
///    `flock` on it while it checks that the path still names that very file and deletes it, so
///    two waiters never both take over one stale file (the second finds the path changed);
/// 3. on release it deletes the file (if the path still names it) **before** unlocking it. The
///    order matters: a process that waits with `flock` on the file (ours, or `portalocker` after
///    its 5 s creation attempts) gets the lock only after the file is gone from the directory,
///    so it is never left believing it holds a file that a third process has just replaced; this
///    library re-checks the path after every `flock` and starts over. (Unlock-then-delete, as
///    `portalocker` does, lets a waiter lock the still-named file, which the releaser then
///    deletes under it while a third process creates a new one: two holders.)
///
/// A lock file that is a symbolic link or not a regular file is refused with
/// [`Error::CacheFileRefused`]; a lock held by another process for the whole
/// [`with_lock_timeout`](Self::with_lock_timeout) (20 s by default) gives
/// [`Error::CacheLockBusy`], naming the holder.
#[derive(Debug, Clone)]
pub struct FilePersistence {
    path: PathBuf,
    lock_path: PathBuf,
    lock_timeout: Duration,
    stale_after: Duration,
    #[cfg(test)]
    after_create: Option<Hook>,
}

/// A test's action between creating the lock file and locking it.
#[cfg(test)]
#[derive(Clone)]
struct Hook(std::sync::Arc<dyn Fn(&Path) + Send + Sync>);

#[cfg(test)]
impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
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
            stale_after: STALE_LOCK_AFTER,
            #[cfg(test)]
            after_create: None,
        }
    }

    /// How long [`lock`](Persistence::lock) waits for another holder before failing.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// How long a lock file nobody holds an OS lock on must stay unchanged before it is taken
    /// over although the process it names still seems to run ([`STALE_LOCK_AFTER`] by default).
    pub fn with_stale_lock_after(mut self, after: Duration) -> Self {
        self.stale_after = after;
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
        Error::cache_caused(
            format!(
                "cannot {what} the token cache file {}: {e}",
                self.path.display()
            ),
            io::Error::new(e.kind(), e.to_string()),
        )
    }

    /// The file the cache really is: the path, or the end of its chain of symbolic links (which
    /// may not exist yet), with its metadata when it exists (what `fs::metadata` of the path
    /// would say, without asking again).
    fn target(&self) -> Result<(PathBuf, Option<fs::Metadata>), Error> {
        let mut current = self.path.clone();
        for _ in 0..40 {
            match fs::symlink_metadata(&current) {
                Ok(m) if m.file_type().is_symlink() => {
                    let link = fs::read_link(&current)
                        .map_err(|e| self.error("follow the symbolic link", &e))?;
                    current = match current.parent() {
                        Some(dir) if link.is_relative() => dir.join(link),
                        _ => link,
                    };
                }
                Ok(m) => return Ok((current, Some(m))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((current, None)),
                Err(e) => return Err(self.error("inspect", &e)),
            }
        }
        Err(Error::CacheFileRefused {
            path: self.path.clone(),
            message: format!(
                "the token cache file {} is a loop of symbolic links; point it at a regular file \
                 or use another cache file",
                self.path.display()
            ),
        })
    }

    /// Refuses `target` (the cache file, symbolic links resolved) when it exists and is not a
    /// regular file.
    fn check_regular(&self, target: &Path, m: &fs::Metadata) -> Result<(), Error> {
        if m.is_file() {
            return Ok(());
        }
        let shown = if target == self.path {
            self.path.display().to_string()
        } else {
            format!("{} (through {})", target.display(), self.path.display())
        };
        Err(Error::CacheFileRefused {
            path: self.path.clone(),
            message: format!(
                "the token cache file {shown} is {}, not a regular file; it is never read or \
                 replaced: give the cache a regular file's path",
                describe(m)
            ),
        })
    }

    fn too_large(&self, size: u64) -> Error {
        Error::CacheFileRefused {
            path: self.path.clone(),
            message: format!(
                "the token cache file {} is {size} bytes, more than the {} MiB a token cache can \
                 be; it is not read: check what wrote it, then move it away or use another cache \
                 file",
                self.path.display(),
                MAX_CACHE_FILE_BYTES / (1024 * 1024)
            ),
        }
    }

    fn create_dir(&self, dir: &Path) -> Result<(), Error> {
        if dir.as_os_str().is_empty() || dir.exists() {
            return Ok(());
        }
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| self.error("create the directory of", &e))
    }

    fn create_parent(&self) -> Result<(), Error> {
        match self.path.parent() {
            Some(dir) => self.create_dir(dir),
            None => Ok(()),
        }
    }

    fn temp_path(target: &Path) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "cache".into());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        directory_of(target).join(format!(".{name}.{}.{n}.tmp", std::process::id()))
    }

    /// The file's bytes; `None` when it does not exist.
    ///
    /// # Errors
    /// [`Error::CacheFileRefused`] for a path that is not a regular file (checked before it is
    /// opened, and again on the opened file, which is opened non-blocking so a FIFO cannot hang
    /// the read) or a file above [`MAX_CACHE_FILE_BYTES`]; [`Error::Cache`] when it cannot be
    /// read.
    pub(crate) fn load_bytes(&self) -> Result<Option<Vec<u8>>, Error> {
        let (target, metadata) = self.target()?;
        match metadata {
            Some(m) => self.check_regular(&target, &m)?,
            None => return Ok(None),
        }
        let mut options = OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            &mut options,
            rustix::fs::OFlags::NONBLOCK.bits() as i32,
        );
        let file = match options.open(&target) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error("read", &e)),
        };
        let m = file.metadata().map_err(|e| self.error("inspect", &e))?;
        self.check_regular(&target, &m)?;
        if m.len() > MAX_CACHE_FILE_BYTES {
            return Err(self.too_large(m.len()));
        }
        let mut bytes = Vec::with_capacity(m.len() as usize);
        file.take(MAX_CACHE_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.error("read", &e))?;
        if bytes.len() as u64 > MAX_CACHE_FILE_BYTES {
            return Err(self.too_large(bytes.len() as u64));
        }
        Ok(Some(bytes))
    }

    /// Replaces the file (or, through a symbolic link, its target) with `data` atomically:
    /// temporary file next to it, precise modification time, fsync, rename. On Linux, when the
    /// file exists, through its blank spare instead (see `spare.rs`): filled, fsynced and
    /// swapped in, the replaced file blanked to be the next spare.
    ///
    /// The directory is not flushed after the rename (one `fsync` per write, not two): the new
    /// file's bytes are on disk before the rename, so after a crash the path holds either the
    /// old file or the new one, each complete. What a crash right after a write can cost is
    /// that write (the previous cache comes back, and the next acquisition asks the server
    /// again), never a torn or empty file. msal-extensions flushes nothing.
    ///
    /// # Errors
    /// [`Error::CacheFileRefused`] when the file exists and is not a regular file (it is left
    /// alone); [`Error::Cache`] when it cannot be written (the old file is then intact).
    pub(crate) fn save_bytes(&self, data: &[u8]) -> Result<(), Error> {
        // A path that exists has its directory; one that does not gets it here (the end of a
        // dangling link included).
        let (target, metadata) = self.target()?;
        match &metadata {
            Some(m) => self.check_regular(&target, m)?,
            None => {
                if let Some(dir) = target.parent() {
                    self.create_dir(dir)?;
                }
            }
        }
        let temp = Self::temp_path(&target);
        #[cfg(target_os = "linux")]
        let replaced = match metadata {
            Some(_) => super::spare::replace(&target, &temp, data),
            None => write_new(&target, &temp, data),
        };
        #[cfg(not(target_os = "linux"))]
        let replaced = write_new(&target, &temp, data);
        replaced.map_err(|failure| match failure {
            Failure::Write(e) => self.error("write a temporary file next to", &e),
            Failure::Replace(e) => self.error("replace", &e),
        })
    }

    fn refuse_lock_file(&self, m: &fs::Metadata) -> Error {
        let p = self.lock_path.display();
        let message = if m.file_type().is_symlink() {
            format!(
                "the token cache lock file {p} is a symbolic link; it is never followed (that \
                 would overwrite the link's target): remove the link (rm {p}) and check who \
                 created it"
            )
        } else {
            format!(
                "the token cache lock file {p} is {}, not a regular file; remove it and try again",
                describe(m)
            )
        };
        Error::CacheFileRefused {
            path: self.lock_path.clone(),
            message,
        }
    }

    fn lock_error(&self, what: &str, e: &io::Error) -> Error {
        Error::cache_caused(
            format!(
                "cannot {what} the token cache lock file {}: {e} (check the permissions of the lock \
             file and its directory, and delete the lock file if no process is using the cache; \
             the cache file itself is fine)",
                self.lock_path.display()
            ),
            io::Error::new(e.kind(), e.to_string()),
        )
    }

    /// Creates the lock file exclusively; `None` when it exists.
    fn create_lock_file(&self) -> Result<Option<File>, Error> {
        let mut options = owner_only();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            &mut options,
            (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC).bits() as i32,
        );
        match options.open(&self.lock_path) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(self.lock_error("create", &e)),
        }
    }

    /// One look at an existing lock file: busy (with its holder), gone or taken over (try to
    /// create it again), or refused.
    fn inspect_lock_file(&self, watch: &mut StaleWatch) -> Result<Existing, Error> {
        let m = match fs::symlink_metadata(&self.lock_path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Gone),
            Err(e) => return Err(self.lock_error("inspect", &e)),
        };
        if !m.is_file() {
            return Err(self.refuse_lock_file(&m));
        }
        let mut options = OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            &mut options,
            (rustix::fs::OFlags::NOFOLLOW
                | rustix::fs::OFlags::NONBLOCK
                | rustix::fs::OFlags::CLOEXEC)
                .bits() as i32,
        );
        let mut file = match options.open(&self.lock_path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Gone),
            Err(e) => {
                // A symbolic link planted between the two looks (O_NOFOLLOW refuses it).
                if let Ok(m) = fs::symlink_metadata(&self.lock_path)
                    && !m.is_file()
                {
                    return Err(self.refuse_lock_file(&m));
                }
                return Err(self.lock_error("open", &e));
            }
        };
        if !is_current(&file, &self.lock_path) {
            return Ok(Existing::Gone);
        }
        let locked = match file.try_lock() {
            Ok(()) => true,
            Err(fs::TryLockError::WouldBlock) => false,
            Err(fs::TryLockError::Error(e)) => return Err(self.lock_error("lock", &e)),
        };
        let mut content = Vec::new();
        let _ = (&mut file).take(MAX_LOCK_CONTENT).read_to_end(&mut content);
        let holder = Holder::parse(&content);
        if !locked {
            // A live process holds the OS lock: it is running.
            watch.reset();
            return Ok(Existing::Busy(holder));
        }
        let unchanged_for = watch.observe(&file, &content);
        let stale = holder.is_gone() || unchanged_for >= self.stale_after;
        if !stale {
            // Unlocks on drop: another waiter may look too.
            return Ok(Existing::Busy(holder));
        }
        // We hold `flock` on the stale file, so no other waiter is past this point with it;
        // delete it only if the path still names it (another waiter may have taken it over and
        // created a new one already), and unlock only after deleting.
        if is_current(&file, &self.lock_path) {
            tracing::warn!(
                lock_file = %self.lock_path.display(),
                holder = %holder,
                "taking over an abandoned token cache lock file"
            );
            match fs::remove_file(&self.lock_path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.lock_error("remove the abandoned", &e)),
            }
        }
        drop(file);
        watch.reset();
        Ok(Existing::Gone)
    }

    /// After creating the lock file: takes `flock` on it (a `portalocker` process that gave up
    /// creating it may have locked it first) and checks the path still names it. `Ok(None)`:
    /// it was deleted meanwhile, start over.
    fn lock_created(&self, file: File, deadline: Instant) -> Result<Option<LockFile>, Error> {
        #[cfg(test)]
        if let Some(hook) = &self.after_create {
            (hook.0)(&self.lock_path);
        }
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(self.busy(Holder::Unknown));
                    }
                    std::thread::sleep(next_pause(&mut pause).min(deadline - now));
                }
                Err(fs::TryLockError::Error(e)) => return Err(self.lock_error("lock", &e)),
            }
        }
        if !is_current(&file, &self.lock_path) {
            return Ok(None);
        }
        let mut guard = LockFile {
            file,
            path: self.lock_path.clone(),
        };
        // Who holds it, as msal-extensions writes (a new, empty file: nothing is truncated),
        // in one write: a reader never sees the process id without the program.
        let _ = guard.file.write_all(holder_line().as_bytes());
        Ok(Some(guard))
    }

    fn busy(&self, holder: Holder) -> Error {
        Error::CacheLockBusy {
            lock_file: self.lock_path.clone(),
            waited: self.lock_timeout,
            holder: holder.to_string(),
        }
    }
}

/// What an existing lock file turned out to be.
enum Existing {
    /// Held: wait.
    Busy(Holder),
    /// Deleted, or taken over: create it again.
    Gone,
}

/// Who a lock file says holds it (`"<pid> <program>"`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holder {
    Unknown,
    Process { pid: u32, program: String },
}

impl Holder {
    fn parse(content: &[u8]) -> Self {
        let text = String::from_utf8_lossy(content);
        let text = text.trim();
        let (pid, program) = text.split_once(' ').unwrap_or((text, ""));
        match pid.parse::<u32>() {
            Ok(pid) if pid > 0 => Holder::Process {
                pid,
                program: program.trim().chars().take(200).collect(),
            },
            _ => Holder::Unknown,
        }
    }

    /// Whether the recorded process is known not to run any more.
    fn is_gone(&self) -> bool {
        match self {
            Holder::Unknown => false,
            Holder::Process { pid, .. } => !process_exists(*pid),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Unknown => f.write_str("an unknown process"),
            Holder::Process { pid, program } if program.is_empty() => write!(f, "pid {pid}"),
            Holder::Process { pid, program } => write!(f, "pid {pid}, {program}"),
        }
    }
}

#[cfg(unix)]
fn process_exists(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        // EPERM: it runs, as another user.
        Err(e) => e != rustix::io::Errno::SRCH,
    }
}

#[cfg(not(unix))]
fn process_exists(_pid: u32) -> bool {
    // Unknown: only the stale bound applies.
    true
}

/// How long an unlocked lock file has looked the same (identity, size, time, content).
#[derive(Default)]
struct StaleWatch {
    seen: Option<(Version, Vec<u8>, Instant)>,
}

impl StaleWatch {
    fn observe(&mut self, file: &File, content: &[u8]) -> Duration {
        let now = Instant::now();
        let version = file.metadata().map(|m| fingerprint(&m)).ok();
        match (&self.seen, version) {
            (Some((v, c, since)), Some(version)) if *v == version && c == content => {
                now.duration_since(*since)
            }
            (_, Some(version)) => {
                self.seen = Some((version, content.to_vec(), now));
                Duration::ZERO
            }
            (_, None) => {
                self.seen = None;
                Duration::ZERO
            }
        }
    }

    fn reset(&mut self) {
        self.seen = None;
    }
}

fn describe(m: &fs::Metadata) -> &'static str {
    let t = m.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where a write failed; the temporary file is gone and the cache intact either way.
pub(super) enum Failure {
    /// Writing or flushing the new text at its temporary name.
    Write(io::Error),
    /// Putting it in place of the cache file.
    Replace(io::Error),
}

/// `data` written to a new file at `temp` (a name no other write uses), then renamed over
/// `target`.
fn write_new(target: &Path, temp: &Path, data: &[u8]) -> Result<(), Failure> {
    let written = create_private(temp).and_then(|mut file| fill(&mut file, 0, data));
    if let Err(e) = written {
        let _ = fs::remove_file(temp);
        return Err(Failure::Write(e));
    }
    rename_into_place(temp, target)
}

/// The filled file at `temp` renamed over `target`; removed when that fails.
pub(super) fn rename_into_place(temp: &Path, target: &Path) -> Result<(), Failure> {
    fs::rename(temp, target).map_err(|e| {
        let _ = fs::remove_file(temp);
        Failure::Replace(e)
    })
}

/// Writes `data` at the start of `file` (new, or a reused one `len` bytes long), cuts it to
/// `data`'s length, stamps its time and flushes it to disk.
pub(super) fn fill(file: &mut File, len: u64, data: &[u8]) -> io::Result<()> {
    // The whole size reserved at once: ext4 then maps the file's blocks as one extent instead
    // of reserving them page by page while the write fills the page cache (about 5 % less CPU
    // for a 530 KB write on this machine's ext4). Advisory: a file system without `fallocate`
    // takes the write as before, and a full disk fails the write below.
    #[cfg(target_os = "linux")]
    let _ = rustix::fs::fallocate(
        &*file,
        rustix::fs::FallocateFlags::empty(),
        0,
        data.len() as u64,
    );
    file.write_all(data)?;
    if len > data.len() as u64 {
        file.set_len(data.len() as u64)?;
    }
    // msal-extensions reloads only when the file's time is later than the `time.time()` it
    // recorded after its last read or write, and its `find()` reads without the lock: a read
    // of the old file that ends just after the replacement records a later time than ours.
    // Stamping the file MTIME_LEAD ahead keeps every such reader reloading until it has read
    // this text (the kernel's own stamps also come from a coarser clock).
    file.set_modified(SystemTime::now() + MTIME_LEAD)?;
    file.sync_all()
}

/// A new file at `path` (never an existing one), readable and writable by the owner only,
/// open for writing.
pub(super) fn create_private(path: &Path) -> io::Result<File> {
    owner_only().write(true).create_new(true).open(path)
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

/// Whether the open file is still the one at `path` (not deleted, not replaced); the path is
/// not followed.
#[cfg(unix)]
fn is_current(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn is_current(_file: &File, path: &Path) -> bool {
    // Windows does not delete a file that is open without FILE_SHARE_DELETE.
    path.exists()
}

/// A held lock: the lock file this process created, with `flock` on it. Dropping it deletes
/// the file (if the path still names it), then unlocks it.
struct LockFile {
    file: File,
    path: PathBuf,
}

impl Drop for LockFile {
    fn drop(&mut self) {
        // Delete first, while still holding `flock`: a waiter blocked on this file gets it only
        // once it is gone from the directory, sees that, and starts over (see the type's docs).
        // Never delete a file that is not ours (someone removed ours and another was created).
        if is_current(&self.file, &self.path) {
            let _ = fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}

impl Persistence for FilePersistence {
    /// The file's text; `None` when it does not exist.
    fn load(&self) -> Result<Option<String>, Error> {
        self.load_bytes()?
            .map(|bytes| {
                String::from_utf8(bytes).map_err(|_| {
                    Error::cache(format!(
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
        let mut watch = StaleWatch::default();
        loop {
            if let Some(file) = self.create_lock_file()? {
                if let Some(guard) = self.lock_created(file, deadline)? {
                    return Ok(PersistenceLock::new(guard));
                }
                // Deleted under us before we locked it: start over with a new one.
            } else {
                match self.inspect_lock_file(&mut watch)? {
                    Existing::Gone => {}
                    Existing::Busy(holder) => {
                        let now = Instant::now();
                        if now >= deadline {
                            return Err(self.busy(holder));
                        }
                        std::thread::sleep(next_pause(&mut pause).min(deadline - now));
                        continue;
                    }
                }
            }
            // Gone or replaced: try again at once, but not past the deadline.
            if Instant::now() >= deadline {
                return Err(self.busy(Holder::Unknown));
            }
        }
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

/// What a lock file holds while this process has it: `<pid> <program>` (the program's name
/// is read once; the process id is asked each time, a forked child has its own).
fn holder_line() -> String {
    static PROGRAM: OnceLock<String> = OnceLock::new();
    let program = PROGRAM.get_or_init(|| {
        std::env::args_os()
            .next()
            .map(|a| a.to_string_lossy().replace(['\n', '\r'], " "))
            .unwrap_or_default()
    });
    format!("{} {program}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    fn inode(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        fs::symlink_metadata(path).unwrap().ino()
    }

    /// A pid that no process has: a child that has exited and been reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    /// A lock file as msal-extensions' `filelock.py` leaves it: created, `"<pid> <program>"`,
    /// no OS lock.
    fn plant(path: &Path, pid: u32) {
        fs::write(path, format!("{pid} /usr/bin/python3 app.py")).unwrap();
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
        let mut names: Vec<_> = fs::read_dir(dir.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        // On Linux the replaced file stays as the next write's spare, blank and owner-only.
        #[cfg(target_os = "linux")]
        {
            assert_eq!(names, [".cache.json.spare", "cache.json"]);
            let spare = dir.path().join("a/b/.cache.json.spare");
            assert_eq!(mode(&spare), 0o600);
            assert!(fs::read(&spare).unwrap().iter().all(|&b| b == 0));
        }
        #[cfg(not(target_os = "linux"))]
        assert_eq!(names, ["cache.json"]);
    }

    #[test]
    fn save_stamps_a_time_ahead_of_every_reader() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePersistence::new(dir.path().join("cache.json"));
        for _ in 0..20 {
            let before = SystemTime::now();
            p.save("{}").unwrap();
            let after = SystemTime::now();
            let mtime = fs::metadata(p.path()).unwrap().modified().unwrap();
            // A reader that records time.time() right after this save still sees a later file.
            assert!(
                mtime >= before + MTIME_LEAD,
                "{mtime:?} < {before:?} + lead"
            );
            assert!(mtime <= after + MTIME_LEAD, "{mtime:?} > {after:?} + lead");
        }
    }

    #[test]
    fn lock_excludes_is_released_and_deleted_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePersistence::new(dir.path().join("cache.json"))
            .with_lock_timeout(Duration::from_millis(50));
        assert!(p.lock_path().ends_with("cache.json.lockfile"));
        let held = p.lock().unwrap();
        let content = fs::read_to_string(p.lock_path()).unwrap();
        assert_eq!(content, holder_line());
        assert!(
            content.starts_with(&format!("{} ", std::process::id())),
            "{content}"
        );
        let (_, program) = content.split_once(' ').unwrap();
        #[cfg(unix)]
        assert_eq!(mode(p.lock_path()), 0o600);
        let err = p.lock().unwrap_err();
        let expected = format!(
            "another process (pid {}, {}) held the token cache lock {} for 50ms; wait for it to \
             finish and try again (the cache file itself is fine; if that process is no longer \
             running, delete the lock file {})",
            std::process::id(),
            program,
            p.lock_path().display(),
            p.lock_path().display()
        );
        assert_eq!(err.to_string(), expected);
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
    fn a_lock_file_whose_process_is_gone_is_taken_over_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePersistence::new(dir.path().join("cache.json"))
            .with_lock_timeout(Duration::from_millis(200));
        plant(p.lock_path(), dead_pid());
        let started = Instant::now();
        let held = p.lock().unwrap();
        assert!(started.elapsed() < Duration::from_millis(150));
        assert!(
            fs::read_to_string(p.lock_path())
                .unwrap()
                .starts_with(&std::process::id().to_string())
        );
        drop(held);
    }

    #[test]
    fn a_filelock_holder_without_os_lock_excludes_until_it_deletes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePersistence::new(dir.path().join("cache.json"));
        // A live process (this one) holds it the msal-extensions `filelock.py` way.
        plant(p.lock_path(), std::process::id());
        let got = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                drop(p.lock().unwrap());
                got.store(1, Ordering::SeqCst);
            });
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(got.load(Ordering::SeqCst), 0, "waits for the file to go");
            fs::remove_file(p.lock_path()).unwrap();
        });
        assert_eq!(got.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn an_unlocked_lock_file_of_a_live_pid_is_taken_over_after_the_stale_bound() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePersistence::new(dir.path().join("cache.json"))
            .with_stale_lock_after(Duration::from_millis(300))
            .with_lock_timeout(Duration::from_secs(5));
        plant(p.lock_path(), std::process::id());
        let started = Instant::now();
        drop(p.lock().unwrap());
        assert!(started.elapsed() >= Duration::from_millis(300));

        let p = p
            .with_stale_lock_after(Duration::from_secs(60))
            .with_lock_timeout(Duration::from_millis(100));
        plant(p.lock_path(), std::process::id());
        let err = p.lock().unwrap_err();
        assert!(
            matches!(&err, Error::CacheLockBusy { holder, .. }
                if *holder == format!("pid {}, /usr/bin/python3 app.py", std::process::id())),
            "{err:?}"
        );
    }

    /// A `portalocker` holder (msal-extensions `cache_lock.py`): `flock` on the file; it unlocks,
    /// then deletes it, with a gap a waiter can fall into.
    #[cfg(unix)]
    #[test]
    fn a_holder_that_deletes_the_lock_file_while_a_waiter_is_blocked() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePersistence::new(dir.path().join("cache.json"));
        plant(p.lock_path(), std::process::id());
        let holder = File::open(p.lock_path()).unwrap();
        holder.lock().unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let guard = p.lock().unwrap();
                // The lock it holds is the file the path names, not a deleted one.
                assert!(p.lock_path().exists(), "holding a deleted lock file");
                let ours = inode(p.lock_path());
                std::thread::sleep(Duration::from_millis(50));
                assert_eq!(inode(p.lock_path()), ours);
                drop(guard);
            });
            std::thread::sleep(Duration::from_millis(100));
            holder.unlock().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            fs::remove_file(p.lock_path()).unwrap();
            waiter.join().unwrap();
        });
        assert!(!p.lock_path().exists());
    }

    /// Another process opens and locks the lock file this process just created before this
    /// process locks it, then deletes it and unlocks: this process must start over, not keep a
    /// lock on the deleted file.
    #[cfg(unix)]
    #[test]
    fn a_created_lock_file_deleted_before_it_is_locked_is_created_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = FilePersistence::new(dir.path().join("cache.json"));
        let once = Arc::new(std::sync::Once::new());
        let thief: Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>> = Arc::default();
        let (o, t) = (once.clone(), thief.clone());
        p.after_create = Some(Hook(Arc::new(move |path: &Path| {
            o.call_once(|| {
                let f = File::open(path).unwrap();
                f.lock().unwrap();
                let path = path.to_path_buf();
                *t.lock().unwrap() = Some(std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(50));
                    fs::remove_file(&path).unwrap();
                    f.unlock().unwrap();
                }));
            });
        })));
        let guard = p.lock().unwrap();
        thief.lock().unwrap().take().unwrap().join().unwrap();
        assert!(p.lock_path().exists(), "holding a deleted lock file");
        drop(guard);
    }

    #[test]
    fn two_waiters_never_both_take_over_one_stale_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePersistence::new(dir.path().join("cache.json"));
        for _ in 0..10 {
            plant(p.lock_path(), dead_pid());
            let inside = AtomicUsize::new(0);
            let most = AtomicUsize::new(0);
            std::thread::scope(|s| {
                for _ in 0..6 {
                    s.spawn(|| {
                        let guard = p.lock().unwrap();
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(guard);
                    });
                }
            });
            assert_eq!(most.load(Ordering::SeqCst), 1);
            assert!(!p.lock_path().exists());
        }
    }

    /// A lock file that keeps being replaced (always present, always locked) ends in the
    /// timeout error at the deadline, not in an endless loop.
    #[cfg(unix)]
    #[test]
    fn a_lock_file_that_keeps_being_replaced_times_out_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePersistence::new(dir.path().join("cache.json"))
            .with_lock_timeout(Duration::from_millis(300));
        let stop = std::sync::atomic::AtomicBool::new(false);
        let first = File::create(p.lock_path()).unwrap();
        first.lock().unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut held = first;
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let next = dir.path().join(format!("next{n}"));
                    let f = File::create(&next).unwrap();
                    f.lock().unwrap();
                    fs::rename(&next, p.lock_path()).unwrap();
                    held = f;
                    n += 1;
                    std::thread::sleep(Duration::from_millis(2));
                }
                drop(held);
            });
            let started = Instant::now();
            let err = p.lock().unwrap_err();
            let took = started.elapsed();
            stop.store(true, Ordering::SeqCst);
            assert!(matches!(err, Error::CacheLockBusy { .. }), "{err}");
            assert!(took >= Duration::from_millis(300), "{took:?}");
            assert!(took < Duration::from_secs(3), "{took:?}");
        });
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_lock_file_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        fs::write(&victim, "precious").unwrap();
        let p = FilePersistence::new(dir.path().join("cache.json"));
        std::os::unix::fs::symlink("victim.txt", p.lock_path()).unwrap();
        let err = p.lock().unwrap_err();
        let l = p.lock_path().display();
        assert_eq!(
            err.to_string(),
            format!(
                "the token cache lock file {l} is a symbolic link; it is never followed (that \
                 would overwrite the link's target): remove the link (rm {l}) and check who \
                 created it"
            )
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert!(
            fs::symlink_metadata(p.lock_path())
                .unwrap()
                .file_type()
                .is_symlink()
        );

        fs::remove_file(p.lock_path()).unwrap();
        fs::create_dir(p.lock_path()).unwrap();
        assert_eq!(
            p.lock().unwrap_err().to_string(),
            format!(
                "the token cache lock file {l} is a directory, not a regular file; remove it and \
                 try again"
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_cache_file_is_written_through_to_its_target() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("shared")).unwrap();
        let real = dir.path().join("shared/real.json");
        fs::write(&real, "{}").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("shared/real.json", &link).unwrap();
        let p = FilePersistence::new(&link);
        p.save("{\"x\": 1}").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "{\"x\": 1}");
        assert_eq!(p.load().unwrap().as_deref(), Some("{\"x\": 1}"));
        assert_eq!(mode(&real), 0o600);
        assert_eq!(fs::read_dir(dir.path().join("shared")).unwrap().count(), 1);
        // A dangling link: the target is created.
        let dangling = dir.path().join("dangling.json");
        std::os::unix::fs::symlink("shared/new.json", &dangling).unwrap();
        FilePersistence::new(&dangling).save("{}").unwrap();
        assert!(dir.path().join("shared/new.json").is_file());
    }

    #[cfg(unix)]
    #[test]
    fn dev_null_and_directories_are_refused_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        // /dev/null through a link, so a broken build could only replace the link.
        let null = dir.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &null).unwrap();
        let p = FilePersistence::new(&null);
        let expected = format!(
            "the token cache file /dev/null (through {}) is a character device, not a regular \
             file; it is never read or replaced: give the cache a regular file's path",
            null.display()
        );
        assert_eq!(p.load().unwrap_err().to_string(), expected);
        assert_eq!(p.save("{}").unwrap_err().to_string(), expected);
        assert!(
            fs::symlink_metadata(&null)
                .unwrap()
                .file_type()
                .is_symlink()
        );

        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        assert!(FilePersistence::new(&sub).save("{}").is_err());
        assert!(sub.is_dir());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_hanging() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let p = FilePersistence::new(&fifo);
        let expected = format!(
            "the token cache file {} is a FIFO (named pipe), not a regular file; it is never read \
             or replaced: give the cache a regular file's path",
            fifo.display()
        );
        assert_eq!(p.load().unwrap_err().to_string(), expected);
        assert_eq!(p.save("{}").unwrap_err().to_string(), expected);

        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn an_oversized_cache_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        File::create(&path)
            .unwrap()
            .set_len(MAX_CACHE_FILE_BYTES + 1)
            .unwrap();
        let err = FilePersistence::new(&path).load().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the token cache file {} is 268435457 bytes, more than the 256 MiB a token cache \
                 can be; it is not read: check what wrote it, then move it away or use another \
                 cache file",
                path.display()
            )
        );
    }
}
