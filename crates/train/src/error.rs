//! Errors of training and evaluation.

use std::path::PathBuf;

use kindling_data::DataError;

/// Why a training or evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The dataset could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A setting is outside its allowed range.
    #[error("invalid setting `{name}` = {value}: {allowed}")]
    InvalidSetting {
        /// The setting's name, as on the command line.
        name: &'static str,
        /// The value given.
        value: String,
        /// The allowed range.
        allowed: &'static str,
    },
    /// A file of the run directory could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "cannot write".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON file of the run directory is malformed.
    #[error("{path} is not a valid {what}: {message}")]
    BadRunFile {
        /// The file.
        path: PathBuf,
        /// What the file should hold.
        what: &'static str,
        /// The parser's message.
        message: String,
    },
    /// The run directory holds a run that this command would overwrite.
    #[error(
        "{path} already holds a training run: pass --resume to continue it, \
         or choose another output directory"
    )]
    RunExists {
        /// The run directory.
        path: PathBuf,
    },
    /// `--resume` was given with settings that differ from the stored run's.
    #[error(
        "cannot resume {path}: it was started with different settings ({differences}); \
         resume with the same settings or choose another output directory"
    )]
    ConfigMismatch {
        /// The run directory.
        path: PathBuf,
        /// The settings that differ.
        differences: String,
    },
    /// A saved model could not be loaded.
    #[error("cannot load the model from {path}: {message}")]
    BadRecord {
        /// The record file.
        path: PathBuf,
        /// The recorder's message.
        message: String,
    },
}

impl TrainError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| TrainError::Io { action, path, source }
    }
}
