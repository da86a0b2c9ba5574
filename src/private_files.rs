//! Files that hold secrets (the database, its WAL and shared-memory files,
//! backups, message files) are readable by their owner only, and their
//! folders are created owner-only. SQLite gives `-wal` and `-shm` files the
//! database file's own mode, so creating the database 0600 covers all three.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Owner read and write.
pub const FILE_MODE: u32 = 0o600;
/// Owner only.
pub const DIR_MODE: u32 = 0o700;

/// The process umask for what it creates without an explicit mode: nothing
/// for group or others. The CLI sets it first thing.
pub fn restrict_umask() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// `mkdir -p` with every folder it creates owner-only (existing ones are left as they are).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates `path` empty, owner-only, failing if anything (a file, a
/// symlink) is already there: `O_CREAT | O_EXCL | O_NOFOLLOW`.
pub fn create_new_file(path: &Path) -> io::Result<std::fs::File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
}

/// A file that could not be made private, and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct FileError {
    pub path: String,
    #[source]
    pub source: io::Error,
}

/// Before SQLite opens the database: creates the file owner-only when it
/// is new, and takes group and other access away from an existing database
/// and its `-wal` and `-shm` files (made by an older version, say).
pub fn prepare_database_file(path: &Path) -> Result<(), FileError> {
    let text = path.as_os_str().to_string_lossy();
    if text == ":memory:" || text.starts_with("file:") {
        return Ok(());
    }
    match create_new_file(path) {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(FileError {
                path: path.display().to_string(),
                source,
            });
        }
    }
    for file in [
        path.to_owned(),
        sibling(path, "-wal"),
        sibling(path, "-shm"),
    ] {
        tighten(&file);
    }
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Removes group and other access from an existing file (not through a symlink).
fn tighten(path: &Path) {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return;
    };
    if !metadata.is_file() || metadata.permissions().mode() & 0o077 == 0 {
        return;
    }
    let mode = metadata.permissions().mode() & 0o700;
    if let Err(error) = std::fs::set_permissions(path, Permissions::from_mode(mode)) {
        tracing::warn!(file = %path.display(), %error, "cannot make the file owner-only");
    }
}
