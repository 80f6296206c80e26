//! Private files: the chat log, the accounts, the bans and their directory
//! are the operator's alone; and the small files that are rewritten whole
//! are replaced atomically.
//!
//! On Unix a new file gets the mode its creator asks for, minus the umask;
//! the usual umask leaves a file readable by every user of the machine. So
//! we ask for owner-only modes when creating: 0600 for files, 0700 for
//! directories. A file or directory that already exists keeps the mode it
//! has (we do not `chmod` what the operator may have set on purpose). On
//! other systems these are plain creations.
//!
//! **Atomic replace** ([`replace`]). The new contents go to `<file>.tmp` in
//! the same directory, which is flushed to disk (`sync_all`) and then
//! renamed over the old file. A rename within one file system replaces the
//! name in one step, so after a crash at any moment the file is either the
//! old one or the new one, never half of each. Syncing the directory
//! afterwards makes the rename itself durable. A leftover `.tmp` from a
//! crash is never read and is overwritten by the next save. The accounts
//! and the bans are saved this way.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Creates `dir` and any missing parents, each owner-only (0700).
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes `options` create the file owner-only (0600).
pub(crate) fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

/// Replaces `path` with `bytes` atomically: writes `<path>.tmp`, syncs
/// it, renames it over `path`, then syncs the directory. The file and a
/// missing directory are created owner-only. On an error `path` is
/// unchanged.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // The temporary file must be in the same directory: a rename is atomic
    // only within one file system.
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    create_private_dir(dir)?;
    let tmp = tmp_path(path);
    let written = write_synced(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        // Best effort: a leftover would be harmless anyway.
        let _ = fs::remove_file(&tmp);
    }
    written?;
    // The rename changed the directory; sync it so the change survives a
    // power cut. Opening a directory fails on some platforms (Windows);
    // the file is whole either way, so that is not an error.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// `<path>.tmp`: `accounts.txt` becomes `accounts.txt.tmp`.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Creates (or replaces) `path` with `bytes` and waits until they are on
/// disk, readable by its owner only (it may hold password hashes).
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // Remove a leftover first: the mode below applies only to a new file.
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = private(OpenOptions::new().write(true).create_new(true)).open(path)?;
    file.write_all(bytes)?;
    file.flush()?;
    // Without this the rename could reach the disk before the data, and a
    // crash would leave an empty file under the real name.
    file.sync_all()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn new_dirs_and_files_are_owner_only() {
        let base = std::env::temp_dir().join(format!("lanchat-files-{}", std::process::id()));
        let dir = base.join("data");
        create_private_dir(&dir).expect("create dir");
        let file = dir.join("log");
        private(OpenOptions::new().create(true).append(true))
            .open(&file)
            .expect("create file");
        let mode = |p: &Path| fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&base), 0o700);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&file), 0o600);
        fs::remove_dir_all(&base).expect("clean up");
    }

    #[test]
    fn replace_swaps_the_whole_file_and_leaves_no_tmp() {
        let base = std::env::temp_dir().join(format!("lanchat-replace-{}", std::process::id()));
        let file = base.join("data").join("bans.txt");
        replace(&file, b"first\n").expect("create");
        replace(&file, b"second\n").expect("replace");
        assert_eq!(fs::read_to_string(&file).expect("read"), "second\n");
        assert!(!tmp_path(&file).exists());
        let mode = fs::metadata(&file).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_dir_all(&base).expect("clean up");
    }
}
