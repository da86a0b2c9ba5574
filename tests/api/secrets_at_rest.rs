//! Secrets at rest: the database, its WAL and shared-memory files, backups
//! and message files are readable by their owner only; folders enlist
//! creates for them are owner-only too.

use crate::helpers::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn with_suffix(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// The database in a `data/` folder that enlist creates itself, with the
/// file transport writing messages beside it.
async fn app_in_new_data_folder() -> TestApp {
    spawn_app_with(|s| {
        s.database.path = s.database.path.with_file_name("data").join("enlist.db");
        file_transport(s);
    })
    .await
}

#[tokio::test]
async fn the_database_its_wal_and_shm_and_its_folder_are_owner_only() {
    if crate::test_postgres::skip_sqlite_only("the database file") {
        return;
    }
    let app = app_in_new_data_folder().await;
    app.create_org("Acme", "ada@acme.test");

    let wal = with_suffix(&app.db_path, "-wal");
    let shm = with_suffix(&app.db_path, "-shm");
    assert!(wal.exists() && shm.exists(), "WAL mode keeps both files");
    assert_eq!(mode_of(&app.db_path), 0o600);
    assert_eq!(mode_of(&wal), 0o600);
    assert_eq!(mode_of(&shm), 0o600);
    assert_eq!(mode_of(app.db_path.parent().unwrap()), 0o700);
}

#[tokio::test]
async fn an_existing_database_readable_by_others_is_made_owner_only() {
    if crate::test_postgres::skip_sqlite_only("the database file") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enlist.db");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let settings = enlist::config::DatabaseSettings {
        path: path.clone(),
        ..Default::default()
    };
    enlist::db::Database::open(&settings).unwrap();

    assert_eq!(mode_of(&path), 0o600);
}

#[tokio::test]
async fn a_backup_is_owner_only_and_never_written_through_a_symlink() {
    if crate::test_postgres::skip_sqlite_only("the database file") {
        return;
    }
    let app = app_in_new_data_folder().await;
    app.create_org("Acme", "ada@acme.test");
    let dir = app.db_path.parent().unwrap().parent().unwrap().to_owned();

    let backup = dir.join("backup.db");
    app.db.backup_to(&backup).unwrap();
    assert_eq!(mode_of(&backup), 0o600);
    assert!(!with_suffix(&backup, ".partial").exists());

    // A symlink planted where the partial file goes is not followed.
    let victim = dir.join("victim");
    std::fs::write(&victim, b"untouched").unwrap();
    let target = dir.join("second.db");
    std::os::unix::fs::symlink(&victim, with_suffix(&target, ".partial")).unwrap();
    let refused = app.db.backup_to(&target);
    assert!(refused.is_err(), "the partial path is taken by a symlink");
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("second.db.partial"),
        "the error names the file"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
    assert!(!target.exists());
}

#[tokio::test]
async fn message_files_and_their_folder_are_owner_only() {
    let app = app_in_new_data_folder().await;
    let org = app.create_org("Acme", "ada@acme.test");

    app.invite_ok(&org.key, "bob@example.com", "MEMBER").await;
    let files = wait_for_eml(&app.outbox_dir(), 1).await;

    assert_eq!(mode_of(&files[0]), 0o600);
    assert_eq!(mode_of(&app.outbox_dir()), 0o700);
}
