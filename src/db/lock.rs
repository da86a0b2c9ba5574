//! One server per SQLite file: `serve` holds an exclusive `flock` on
//! `<database>.lock` for as long as it runs. The kernel releases it when
//! the process ends, however it ends, so a crash leaves nothing to clean
//! up. The file holds the holder's PID, for the message a second server
//! prints. Command-line tools do not take it: they go through SQLite's own
//! locking beside the server. The `serve` command takes it (cli.rs), not
//! `Application::build`, which in-process tests call. On PostgreSQL (a
//! later backend) several nodes are allowed and no lock is taken.

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another enlist serve (PID {pid}) is using {database} (it holds {lock}); \
         run one server per database file"
    )]
    Held {
        pid: String,
        database: String,
        lock: String,
    },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Held for the life of the server; dropping it releases the lock.
#[derive(Debug)]
pub struct ServeLock {
    _file: Flock<File>,
    path: PathBuf,
}

impl ServeLock {
    /// The lock file beside `database`.
    pub fn path_for(database: &Path) -> PathBuf {
        let mut name = database.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock for `database` without waiting; its folder must exist.
    pub fn acquire(database: &Path) -> Result<Self, LockError> {
        let path = Self::path_for(database);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let mut pid = String::new();
                // The holder's pid only improves the message; unreadable, it is left out.
                file.read_to_string(&mut pid).ok();
                let pid = pid.trim();
                return Err(LockError::Held {
                    pid: if pid.is_empty() { "unknown" } else { pid }.to_owned(),
                    database: super::absolute(database).display().to_string(),
                    lock: super::absolute(&path).display().to_string(),
                });
            }
            Err((_, errno)) => return Err(io(std::io::Error::from(errno))),
        };
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_file_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("enlist.db");
        let first = ServeLock::acquire(&db).unwrap();
        assert_eq!(first.path(), dir.path().join("enlist.db.lock"));
        let second = ServeLock::acquire(&db).unwrap_err().to_string();
        assert!(
            second.contains(&format!("PID {}", std::process::id())),
            "{second}"
        );
        drop(first);
        ServeLock::acquire(&db).unwrap();
    }
}
