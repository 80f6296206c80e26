//! Private files: the chat log, the accounts and their directory are the
//! operator's alone.
//!
//! On Unix a new file gets the mode its creator asks for, minus the umask;
//! the usual umask leaves a file readable by every user of the machine. So
//! we ask for owner-only modes when creating: 0600 for files, 0700 for
//! directories. A file or directory that already exists keeps the mode it
//! has (we do not `chmod` what the operator may have set on purpose). On
//! other systems these are plain creations.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::path::Path;

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
}
