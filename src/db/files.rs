//! Storage errors for the files the database lives in.

use super::StorageError;
use crate::private_files::FileError;

impl From<FileError> for StorageError {
    fn from(error: FileError) -> Self {
        StorageError::File {
            path: error.path,
            source: error.source,
        }
    }
}
