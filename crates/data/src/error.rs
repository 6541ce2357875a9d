//! The errors every reader in this crate returns.

use std::path::PathBuf;

/// Why a dataset could not be read. Each variant names the file and, where it
/// applies, the record, so a user can find and fix the problem.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The dataset directory does not exist or is not a directory.
    #[error("dataset directory {path} does not exist or is not a directory ({expected})")]
    MissingDirectory {
        /// The directory that was given.
        path: PathBuf,
        /// What the directory should contain.
        expected: String,
    },
    /// A file that the format requires is absent.
    #[error("{path} is missing: {expected}")]
    MissingFile {
        /// The file that was looked for.
        path: PathBuf,
        /// Why it is needed.
        expected: String,
    },
    /// Reading a file failed at the operating-system level.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file's length does not fit the format.
    #[error("{path} is {len} bytes long, which is not a whole number of {record_len}-byte records ({detail})")]
    BadLength {
        /// The file.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
        /// The record length the format requires.
        record_len: usize,
        /// What the nearest whole count would be, to hint at truncation.
        detail: String,
    },
    /// A record holds a value the format does not allow.
    #[error("{path}, record {record} (byte offset {offset}): {problem}")]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// The zero-based record index within the file.
        record: usize,
        /// The byte offset of the record within the file.
        offset: u64,
        /// What is wrong with it.
        problem: String,
    },
    /// A text file does not have the expected content.
    #[error("{path}, line {line}: {problem}")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// The one-based line number.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A file holds no records at all.
    #[error("{path} holds no records: {expected}")]
    Empty {
        /// The file.
        path: PathBuf,
        /// What it should have held.
        expected: String,
    },
}
