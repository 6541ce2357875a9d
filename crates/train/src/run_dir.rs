//! The layout of a run directory and atomic writes into it.
//!
//! ```text
//! RUN_DIR/
//!   config.json        the settings (CnnTrainingConfig), written first
//!   checkpoint/        model-N.mpk, optim-N.mpk, scheduler-N.mpk per kept epoch
//!   train/ valid/      burn-train's per-epoch metric logs
//!   experiment.log     burn-train's log
//!   model.mpk          the final model record
//!   report.json        test accuracy, per-class accuracy, confusion, timings
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::TrainError;

/// The files a checkpoint of one epoch consists of.
const CHECKPOINT_PARTS: [&str; 3] = ["model", "optim", "scheduler"];

/// A training run's directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Refers to `root`; nothing is created until something is written.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.json")
    }

    /// `report.json`.
    pub fn report_path(&self) -> PathBuf {
        self.root.join("report.json")
    }

    /// The final model record, without the `.mpk` extension the recorder adds.
    pub fn model_stem(&self) -> PathBuf {
        self.root.join("model")
    }

    /// `checkpoint/`.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    /// A checkpoint file of `epoch`, without extension.
    pub fn checkpoint_stem(&self, part: &str, epoch: usize) -> PathBuf {
        self.checkpoint_dir().join(format!("{part}-{epoch}"))
    }

    /// Whether a run was started here (its configuration was written).
    pub fn has_run(&self) -> bool {
        self.config_path().exists()
    }

    /// Epochs whose model, optimiser and scheduler files all exist and are
    /// not empty, newest first.
    pub fn complete_checkpoints(&self) -> Vec<usize> {
        let Ok(entries) = fs::read_dir(self.checkpoint_dir()) else { return Vec::new() };
        let mut epochs: Vec<usize> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_prefix("model-")?.strip_suffix(".mpk")?.parse().ok())
            .filter(|&epoch| {
                CHECKPOINT_PARTS.iter().all(|part| {
                    fs::metadata(self.checkpoint_stem(part, epoch).with_extension("mpk")).is_ok_and(|m| m.len() > 0)
                })
            })
            .collect();
        epochs.sort_unstable_by(|a, b| b.cmp(a));
        epochs
    }

    /// The mean validation loss of every epoch burn-train logged one for
    /// (`valid/epoch-N/Loss.log`, lines `value,count`), by epoch. Unreadable
    /// files and lines are left out.
    pub fn validation_losses(&self) -> BTreeMap<usize, f64> {
        let Ok(entries) = fs::read_dir(self.root.join("valid")) else { return BTreeMap::new() };
        entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_prefix("epoch-")?.parse::<usize>().ok())
            .filter_map(|epoch| {
                let text = fs::read_to_string(self.root.join(format!("valid/epoch-{epoch}/Loss.log"))).ok()?;
                let (sum, count) = text
                    .lines()
                    .filter_map(|line| {
                        let (value, count) = line.split_once(',')?;
                        Some((value.trim().parse::<f64>().ok()?, count.trim().parse::<f64>().ok()?))
                    })
                    .fold((0.0, 0.0), |(s, c), (v, n)| (s + v * n, c + n));
                (count > 0.0).then_some((epoch, sum / count))
            })
            .collect()
    }

    /// Creates the directory and checks that it is writable, before any
    /// training time is spent.
    pub fn prepare(&self) -> Result<(), TrainError> {
        fs::create_dir_all(&self.root).map_err(TrainError::io("cannot create", &self.root))?;
        let probe = self.root.join(".write-test");
        fs::write(&probe, b"ok").map_err(TrainError::io("cannot write to", &self.root))?;
        fs::remove_file(&probe).map_err(TrainError::io("cannot write to", &self.root))
    }

    /// Writes `value` as pretty JSON to `path` atomically: a reader (or a run
    /// killed mid-write) sees the old file or the new one, never a mix.
    pub fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), TrainError> {
        let json = serde_json::to_vec_pretty(value).map_err(|e| TrainError::BadRunFile {
            path: path.to_path_buf(),
            what: "JSON value",
            message: e.to_string(),
        })?;
        write_atomic(path, &json)
    }

    /// Reads a JSON file of the run.
    pub fn read_json<T: DeserializeOwned>(&self, path: &Path, what: &'static str) -> Result<T, TrainError> {
        let text = fs::read(path).map_err(TrainError::io("cannot read", path))?;
        serde_json::from_slice(&text).map_err(|e| TrainError::BadRunFile {
            path: path.to_path_buf(),
            what,
            message: e.to_string(),
        })
    }
}

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk and
/// renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = fs::File::create(&tmp).map_err(TrainError::io("cannot create", &tmp))?;
    file.write_all(bytes).map_err(TrainError::io("cannot write", &tmp))?;
    file.sync_all().map_err(TrainError::io("cannot flush", &tmp))?;
    fs::rename(&tmp, path).map_err(TrainError::io("cannot rename into place", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_complete_checkpoints_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::new(dir.path());
        fs::create_dir_all(run.checkpoint_dir()).expect("mkdir");
        for epoch in [1, 2, 3] {
            for part in CHECKPOINT_PARTS {
                fs::write(run.checkpoint_stem(part, epoch).with_extension("mpk"), b"x").expect("write");
            }
        }
        // Epoch 3's optimiser state is empty (a write cut short): not resumable.
        fs::write(run.checkpoint_stem("optim", 3).with_extension("mpk"), b"").expect("write");
        assert_eq!(run.complete_checkpoints(), vec![2, 1]);
    }

    #[test]
    fn validation_losses_are_count_weighted_means_per_epoch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::new(dir.path());
        for (epoch, text) in [(1, "0.5,1\n0.25,3\n"), (2, "0.2,2\nbroken line\n"), (3, "")] {
            fs::create_dir_all(dir.path().join(format!("valid/epoch-{epoch}"))).expect("mkdir");
            fs::write(dir.path().join(format!("valid/epoch-{epoch}/Loss.log")), text).expect("write");
        }
        let losses = run.validation_losses();
        assert_eq!(losses.len(), 2, "{losses:?}");
        assert!((losses[&1] - 0.3125).abs() < 1e-12 && (losses[&2] - 0.2).abs() < 1e-12, "{losses:?}");
    }

    #[test]
    fn json_round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::new(dir.path());
        run.prepare().expect("writable");
        run.write_json(&run.report_path(), &vec![1, 2, 3]).expect("write");
        let back: Vec<i32> = run.read_json(&run.report_path(), "report").expect("read");
        assert_eq!(back, vec![1, 2, 3]);
        let names: Vec<_> = fs::read_dir(dir.path()).expect("list").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, vec!["report.json"]);
    }

    #[test]
    fn malformed_json_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::new(dir.path());
        fs::write(run.config_path(), b"{ not json").expect("write");
        let err = run.read_json::<serde_json::Value>(&run.config_path(), "run configuration").unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
    }
}
