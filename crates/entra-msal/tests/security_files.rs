//! Cache files, their temporary files and lock files are created owner-only (0600, directories
//! 0700) and are never group- or world-readable, not even for an instant.
//!
//! Guards `persistence/file.rs` (`owner_only()`: `OpenOptionsExt::mode(0o600)` at creation, and
//! `DirBuilderExt::mode(0o700)`). The work runs in a child process whose umask is 000, so a file
//! created with the default mode (0666) and tightened afterwards would be caught: a watcher
//! thread stats every entry of the directory while the child writes and locks the cache
//! hundreds of times.
#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use entra_msal::persistence::{FilePersistence, Persistence};

const CHILD: &str = "ENTRA_SECURITY_FILES_CHILD";

#[test]
fn cache_and_lock_files_are_owner_only_even_with_umask_000() {
    if let Some(dir) = std::env::var_os(CHILD) {
        child(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000 && exec "$0" --exact cache_and_lock_files_are_owner_only_even_with_umask_000 --nocapture --test-threads=1"#)
        .arg(&exe)
        .env(CHILD, dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "the umask-000 child failed");
    // The child left the cache behind.
    let cache = dir.path().join("nested/msal_cache.json");
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(cache.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
}

fn child(root: &Path) {
    // Confirm the umask really is 000: a plain file gets 0666.
    let probe = root.join("probe");
    std::fs::write(&probe, b"x").unwrap();
    assert_eq!(
        std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777,
        0o666,
        "the child does not run with umask 000"
    );
    std::fs::remove_file(&probe).unwrap();

    let nested = root.join("nested");
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let nested = nested.clone();
        std::thread::spawn(move || {
            let mut looks = 0u64;
            let mut exposed = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                for dir in [nested.as_path()] {
                    if let Ok(m) = std::fs::metadata(dir)
                        && m.permissions().mode() & 0o077 != 0
                    {
                        exposed.push(format!("{} {:o}", dir.display(), m.permissions().mode()));
                    }
                    let Ok(entries) = std::fs::read_dir(dir) else {
                        continue;
                    };
                    for entry in entries.flatten() {
                        if let Ok(m) = entry.metadata() {
                            looks += 1;
                            if m.permissions().mode() & 0o077 != 0 {
                                exposed.push(format!(
                                    "{} {:o}",
                                    entry.path().display(),
                                    m.permissions().mode()
                                ));
                            }
                        }
                    }
                }
            }
            (looks, exposed)
        })
    };
    let persistence = FilePersistence::new(nested.join("msal_cache.json"));
    for i in 0..300 {
        let lock = persistence.lock().unwrap();
        let lock_mode = std::fs::metadata(persistence.lock_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(lock_mode & 0o777, 0o600, "lock file mode {lock_mode:o}");
        persistence
            .save(&format!("{{\"AccessToken\":{{}},\"n\":{i}}}"))
            .unwrap();
        drop(lock);
    }
    stop.store(true, Ordering::SeqCst);
    let (looks, exposed) = watcher.join().unwrap();
    eprintln!("watcher: {looks} observations of cache, temporary and lock files");
    assert!(looks > 0, "the watcher never saw a file");
    assert!(
        exposed.is_empty(),
        "files were readable by others: {exposed:?}"
    );
}
