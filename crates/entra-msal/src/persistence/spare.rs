//! Linux: replacing a cache file without freeing and allocating its blocks on every write.
//!
//! A replacement by rename frees the old file's blocks and allocates the new file's. On a file
//! system mounted with online `discard` the freeing waits for the device: on this project's
//! test machines (ext4 on a virtual disk) it was 200–330 µs of a write of 0.8 ms
//! (`scripts/bench-file-replace` times each step). So the file a write replaces is kept next
//! to the cache as a blank **spare** (`.<name>.spare`), and the next write fills it and swaps
//! it in with `renameat2(RENAME_EXCHANGE)`: the same atomic replacement, the same single
//! `fsync`, with no block freed or allocated while the cache's size stays about the same.
//!
//! - **One writer per spare.** A write claims the spare by renaming it to its own temporary
//!   name before opening it, so two writers (even ones that skip the lock) never fill one
//!   file; a writer that finds no spare writes a new file as before.
//! - **Only a file of ours.** A claimed spare is filled only if it is a regular file owned by
//!   this user, readable by nobody else and linked nowhere else (opened without following a
//!   symbolic link); another file is deleted and a new one written instead. Anything else at
//!   the spare's name is never opened: a symbolic link is replaced by the next spare, a
//!   directory is left alone.
//! - **Blank.** After the swap, the replaced text is overwritten with zeros before it becomes
//!   the spare, so a token removed from the cache does not stay readable next to it. The zeros
//!   go to the page cache, where the next write overwrites the same pages (cheaper than
//!   `FALLOC_FL_ZERO_RANGE`, which drops them: measured); on disk the old text is overwritten
//!   by the zeros or the next text, where a rename leaves it in freed blocks. A replaced file
//!   linked elsewhere is only unlinked from its temporary name, its other names keep it whole.
//! - **Never under a reader.** A file is blanked or filled only when no one else has it open,
//!   which a write lease proves (`F_SETLEASE` succeeds only on a file with no other open
//!   descriptor, and is released at once). The replaced file reaches no one by name after the
//!   swap, so a reader that opened it before keeps reading the whole old text, as with a
//!   rename: a file still open is unlinked instead of kept (this write then frees its blocks),
//!   and a spare still open is not reused. What remains is an open that had looked the path up
//!   just before the swap and completes just after the lease check, a window of microseconds:
//!   that reader can meet zeros, never another text, and reads again (this crate's reader
//!   does, and msal-extensions' too).
//! - **Elsewhere.** A file system without `RENAME_EXCHANGE` (NFS, some FUSE) gets the filled
//!   file by plain rename; other platforms never come here.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{OFlags, RenameFlags};

use super::file::{Failure, create_private, fill, rename_into_place};

/// The spare of the cache file `target`: `.<name>.spare` in the same directory.
fn spare_path(target: &Path) -> PathBuf {
    let file_name = target.file_name().unwrap_or_else(|| "cache".as_ref());
    let mut name = std::ffi::OsString::with_capacity(file_name.len() + ".spare".len() + 1);
    name.push(".");
    name.push(file_name);
    name.push(".spare");
    target.with_file_name(name)
}

/// Replaces the existing file `target` with `data` through its spare, using `temp` (a name no
/// other write uses) for the file being filled and, after the swap, for the replaced one.
pub(super) fn replace(target: &Path, temp: &Path, data: &[u8]) -> Result<(), Failure> {
    let spare = spare_path(target);
    // Filled through `temp` only: no one opens the spare by name from here on.
    let filled = claim(&spare, temp).and_then(|(mut file, len)| fill(&mut file, len, data));
    if let Err(e) = filled {
        let _ = fs::remove_file(temp);
        return Err(Failure::Write(e));
    }
    match rustix::fs::renameat_with(
        rustix::fs::CWD,
        temp,
        rustix::fs::CWD,
        target,
        RenameFlags::EXCHANGE,
    ) {
        Ok(()) => {}
        // Not supported by this file system (or the target vanished): a plain rename.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS | rustix::io::Errno::NOENT) => {
            return rename_into_place(temp, target);
        }
        Err(e) => {
            let _ = fs::remove_file(temp);
            return Err(Failure::Replace(e.into()));
        }
    }
    // The save is done; what follows only prepares the next one.
    if blank(temp).is_err() || fs::rename(temp, &spare).is_err() {
        let _ = fs::remove_file(temp);
    }
    Ok(())
}

/// The spare, renamed to `temp` and opened for writing, with its length; a new file at `temp`
/// when there is no spare or it is not one this crate may fill.
fn claim(spare: &Path, temp: &Path) -> io::Result<(File, u64)> {
    // Something else at the spare's name (a directory, a link) is not claimed.
    let regular = fs::symlink_metadata(spare).is_ok_and(|m| m.file_type().is_file());
    if regular && fs::rename(spare, temp).is_ok() {
        match open_existing(temp) {
            Ok(Some((file, len))) if open_only_here(&file) => return Ok((file, len)),
            // Still open elsewhere: the holder keeps its text, this write makes a new file.
            Ok(_) | Err(_) => fs::remove_file(temp)?,
        }
    }
    Ok((create_private(temp)?, 0))
}

/// `path` opened for writing, with its length, if it is a file of ours no one else can read or
/// reach.
fn open_existing(path: &Path) -> io::Result<Option<(File, u64)>> {
    let file = OpenOptions::new()
        .write(true)
        // Non-blocking: a FIFO swapped in after the check cannot hang the open.
        .custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32)
        .open(path)?;
    let m = file.metadata()?;
    let ours = m.file_type().is_file()
        && m.nlink() == 1
        && m.uid() == rustix::process::geteuid().as_raw()
        && m.mode() & 0o077 == 0;
    Ok(ours.then_some((file, m.len())))
}

/// Overwrites the replaced file at `path` with zeros in place, keeping its blocks and its pages
/// in memory for the next write; `Err` when it must not be kept (linked elsewhere, not ours) or
/// cannot be blanked.
fn blank(path: &Path) -> io::Result<()> {
    // Made on the first blanking, not kept in every program's read-only data.
    static ZEROS: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| vec![0; 64 * 1024]);
    let (file, len) = open_existing(path)?
        .filter(|(file, _)| open_only_here(file))
        .ok_or_else(|| io::Error::other("the replaced file is not one to reuse"))?;
    let mut at = 0;
    while at < len {
        let chunk = (len - at).min(ZEROS.len() as u64) as usize;
        file.write_all_at(&ZEROS[..chunk], at)?;
        at += chunk as u64;
    }
    Ok(())
}

/// Whether `file` has no open descriptor but this one, anywhere on the system: a write lease
/// can be taken only then. It is released at once. A process that opens the file in between
/// (only its temporary name reaches it) breaks the lease, which signals the holder: the signal
/// is set to `SIGURG` first, ignored unless a program asks for it, instead of the default
/// `SIGIO`, which would end the process. `false` where leases are off or unsupported: the file
/// is then not reused.
#[allow(unsafe_code)]
fn open_only_here(file: &File) -> bool {
    // `fcntl`'s `F_SETSIG`: 10 in the kernel's generic headers, which every architecture Rust
    // builds Linux for uses (only PA-RISC differs); the `libc` crate leaves it out for glibc.
    const F_SETSIG: libc::c_int = 10;
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is a live descriptor owned by `file` for every call; `F_SETSIG` and
    // `F_SETLEASE` take an integer argument and touch no memory of this process.
    unsafe {
        libc::fcntl(fd, F_SETSIG, libc::SIGURG) == 0
            && libc::fcntl(fd, libc::F_SETLEASE, libc::F_WRLCK) == 0
            && libc::fcntl(fd, libc::F_SETLEASE, libc::F_UNLCK) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn save(target: &Path, text: &str, n: u32) {
        let temp = target.with_file_name(format!(".t{n}"));
        if target.exists() {
            assert!(replace(target, &temp, text.as_bytes()).is_ok());
        } else {
            fs::write(target, text).unwrap();
            fs::set_permissions(target, fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn is_blank(path: &Path) -> bool {
        fs::read(path).unwrap().iter().all(|&b| b == 0)
    }

    #[test]
    fn the_replaced_file_becomes_the_blank_spare_and_takes_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("cache.json");
        save(&target, "{\"v\": 1, \"secret\": \"one\"}", 0);
        let first = fs::metadata(&target).unwrap().ino();
        save(&target, "{\"v\": 2}", 1);
        assert_eq!(fs::read_to_string(&target).unwrap(), "{\"v\": 2}");
        let spare = spare_path(&target);
        assert_eq!(names(dir.path()), [".cache.json.spare", "cache.json"]);
        assert_eq!(
            fs::metadata(&spare).unwrap().ino(),
            first,
            "the old file is kept"
        );
        assert!(is_blank(&spare), "nothing of the old text is readable");
        assert_eq!(fs::metadata(&spare).unwrap().mode() & 0o777, 0o600);

        save(&target, "{\"v\": 3, \"longer\": true}", 2);
        assert_eq!(
            fs::read_to_string(&target).unwrap(),
            "{\"v\": 3, \"longer\": true}"
        );
        assert_eq!(
            fs::metadata(&target).unwrap().ino(),
            first,
            "the spare took it"
        );
        save(&target, "{}", 3);
        assert_eq!(fs::read_to_string(&target).unwrap(), "{}", "a shorter text");
        assert_eq!(names(dir.path()), [".cache.json.spare", "cache.json"]);
    }

    #[test]
    fn a_spare_that_is_not_a_private_file_of_ours_is_never_filled() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("cache.json");
        let spare = spare_path(&target);
        let victim = dir.path().join("victim");
        let shared = dir.path().join("shared");
        let readable = dir.path().join("readable");
        fs::write(&victim, "victim").unwrap();
        fs::write(&shared, "shared").unwrap();
        fs::write(&readable, "readable").unwrap();
        fs::set_permissions(&readable, fs::Permissions::from_mode(0o644)).unwrap();
        save(&target, "{\"v\": 0}", 0);
        let planted: [&dyn Fn(); 3] = [
            &|| std::os::unix::fs::symlink(&victim, &spare).unwrap(),
            &|| fs::hard_link(&shared, &spare).unwrap(),
            &|| fs::rename(&readable, &spare).unwrap(),
        ];
        for (n, plant) in planted.iter().enumerate() {
            let _ = fs::remove_file(&spare);
            plant();
            let text = format!("{{\"v\": {}}}", n + 1);
            save(&target, &text, n as u32 + 1);
            assert_eq!(fs::read_to_string(&target).unwrap(), text);
            assert_eq!(fs::metadata(&target).unwrap().mode() & 0o777, 0o600);
        }
        assert_eq!(fs::read_to_string(&victim).unwrap(), "victim");
        assert_eq!(fs::read_to_string(&shared).unwrap(), "shared");

        // A directory at the spare's name: the write goes on without a spare.
        fs::remove_file(&spare).unwrap();
        fs::create_dir(&spare).unwrap();
        save(&target, "{\"v\": 9}", 9);
        save(&target, "{\"v\": 10}", 10);
        assert_eq!(fs::read_to_string(&target).unwrap(), "{\"v\": 10}");
        assert!(spare.is_dir());
    }

    #[test]
    fn a_reader_of_the_replaced_file_reads_it_whole() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("cache.json");
        save(&target, "{\"v\": 1}", 0);
        save(&target, "{\"v\": 2}", 1);
        let spare = spare_path(&target);
        let spare_inode = fs::metadata(&spare).unwrap().ino();

        // A reader opens the cache; a write replaces it: the old file is not blanked.
        let mut reader = File::open(&target).unwrap();
        save(&target, "{\"v\": 3}", 2);
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "{\"v\": 2}");
        assert!(
            !spare.exists(),
            "a file still open is not kept as the spare"
        );
        assert_eq!(reader.metadata().unwrap().nlink(), 0, "it was unlinked");
        assert_eq!(
            fs::metadata(&target).unwrap().ino(),
            spare_inode,
            "the spare was filled"
        );

        // A descriptor left open on the spare: the next write makes a new file.
        save(&target, "{\"v\": 4}", 3);
        let spare_inode = fs::metadata(&spare).unwrap().ino();
        let holder = File::open(&spare).unwrap();
        save(&target, "{\"v\": 5}", 4);
        assert_ne!(fs::metadata(&target).unwrap().ino(), spare_inode);
        assert_eq!(
            holder.metadata().unwrap().nlink(),
            0,
            "unlinked, not filled"
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "{\"v\": 5}");
    }

    #[test]
    fn a_cache_file_linked_elsewhere_keeps_its_text_there() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("cache.json");
        let backup = dir.path().join("backup.json");
        save(&target, "{\"v\": 1}", 0);
        fs::hard_link(&target, &backup).unwrap();
        save(&target, "{\"v\": 2}", 1);
        assert_eq!(fs::read_to_string(&target).unwrap(), "{\"v\": 2}");
        assert_eq!(fs::read_to_string(&backup).unwrap(), "{\"v\": 1}");
        assert_eq!(names(dir.path()), ["backup.json", "cache.json"]);
    }
}
