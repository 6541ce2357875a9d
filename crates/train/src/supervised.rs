//! What every model's training shares: checking the run directory, finding
//! the checkpoint to resume from, and running burn-train's
//! `SupervisedTraining` with Kindling's checkpointer and renderer.

use std::io::IsTerminal;
use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::module::{AutodiffModule, Module};
use burn::optim::Optimizer;
use burn::optim::lr_scheduler::LrScheduler;
use burn::record::Recorder;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{ClassificationOutput, InferenceStep, Learner, SupervisedTraining, TrainStep};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::renderer::PlainRenderer;
use crate::{ModelRecorder, RunDir, TrainError};

/// Checks the run directory: a fresh run needs an unused directory; a resumed
/// one needs the same settings as the stored run (top-level keys in `ignore`
/// are not compared: values derived from the data, recomputed identically).
pub(crate) fn prepare_run_dir<C: Serialize + DeserializeOwned>(
    run: &RunDir,
    config: &C,
    resume: bool,
    ignore: &[&str],
) -> Result<(), TrainError> {
    if run.has_run() {
        if !resume {
            return Err(TrainError::RunExists { path: run.root().to_path_buf() });
        }
        let stored: serde_json::Value = run.read_json(&run.config_path(), "run configuration")?;
        let differences = config_differences(&stored, &serde_json::to_value(config).unwrap_or_default(), ignore);
        if !differences.is_empty() {
            return Err(TrainError::ConfigMismatch { path: run.root().to_path_buf(), differences });
        }
    }
    run.prepare()
}

/// Lists the settings whose values differ.
fn config_differences(stored: &serde_json::Value, requested: &serde_json::Value, ignore: &[&str]) -> String {
    let empty = serde_json::Map::new();
    let (a, b) = (stored.as_object().unwrap_or(&empty), requested.as_object().unwrap_or(&empty));
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|key| !ignore.contains(&key.as_str()) && a.get(*key) != b.get(*key))
        .map(|key| {
            let show = |v: Option<&serde_json::Value>| v.map_or("(absent)".to_string(), ToString::to_string);
            format!("{key}: {} before, {} now", show(a.get(key)), show(b.get(key)))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The newest epoch whose model, optimiser and scheduler records all load,
/// when `resume` is set. burn-train panics on an unreadable checkpoint, so
/// each candidate is loaded here first, with the real record types, and a
/// broken one is reported and skipped.
pub(crate) fn resume_point<B, M, O>(
    run: &RunDir,
    resume: bool,
    device: &B::Device,
    notify: &mut dyn FnMut(&str),
) -> Option<usize>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    if !resume {
        return None;
    }
    let recorder = ModelRecorder::default();
    for epoch in run.complete_checkpoints() {
        let check = |part: &str| -> Result<(), String> {
            let stem = run.checkpoint_stem(part, epoch);
            let loaded = match part {
                "model" => Recorder::<B>::load::<M::Record>(&recorder, stem.clone(), device).map(drop),
                "optim" => Recorder::<B>::load::<O::Record>(&recorder, stem.clone(), device).map(drop),
                _ => Recorder::<B>::load::<<f64 as LrScheduler>::Record<B>>(&recorder, stem.clone(), device).map(drop),
            };
            loaded.map_err(|e| format!("{}.mpk: {e}", stem.display()))
        };
        match ["model", "optim", "scheduler"].into_iter().try_for_each(check) {
            Ok(()) => {
                notify(&format!("resuming {} after epoch {epoch}", run.root().display()));
                return Some(epoch);
            }
            Err(e) => notify(&format!("skipping the checkpoint of epoch {epoch}: {e}")),
        }
    }
    notify("no intact checkpoint to resume from: starting at epoch 1");
    None
}

/// What [`launch`] trains and how long.
pub(crate) struct Fit<M, O> {
    pub(crate) model: M,
    pub(crate) optimizer: O,
    pub(crate) learning_rate: f64,
    pub(crate) epochs: usize,
    /// The checkpoint to continue from ([`resume_point`]).
    pub(crate) start_epoch: Option<usize>,
}

/// Trains with burn-train: loss and accuracy metrics, a checkpoint after
/// every epoch (atomic files), the dashboard on a terminal and plain lines
/// elsewhere. Returns the trained model without autodiff.
pub(crate) fn launch<B, M, O, I, V>(
    run: &RunDir,
    fit: Fit<M, O>,
    train: Arc<dyn DataLoader<B, I>>,
    valid: Arc<dyn DataLoader<B::InnerBackend, V>>,
) -> M::InnerModule
where
    B: AutodiffBackend,
    M: TrainStep<Input = I, Output = ClassificationOutput<B>> + AutodiffModule<B> + std::fmt::Display + 'static,
    M::InnerModule: InferenceStep<Input = V, Output = ClassificationOutput<B::InnerBackend>>,
    O: Optimizer<M, B> + 'static,
    I: Send + 'static,
    V: Send + 'static,
{
    let mut training = SupervisedTraining::new(run.root(), train, valid)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .with_file_checkpointer(ModelRecorder::default())
        .num_epochs(fit.epochs);
    if let Some(epoch) = fit.start_epoch {
        training = training.checkpoint(epoch);
    }
    if !std::io::stdout().is_terminal() {
        training = training.renderer(PlainRenderer::new());
    }
    training.launch(Learner::new(fit.model, fit.optimizer, fit.learning_rate)).model
}

/// The epoch with the lowest mean validation loss among those whose model
/// checkpoint is still on disk (burn-train's default checkpointing keeps
/// that epoch's files besides the last two), and that loss.
pub(crate) fn best_epoch(run: &RunDir) -> Option<(usize, f64)> {
    run.validation_losses()
        .into_iter()
        .filter(|(epoch, _)| run.checkpoint_stem("model", *epoch).with_extension("mpk").exists())
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// Loads the model checkpoint of `epoch` into `model`.
pub(crate) fn load_checkpoint<B: Backend, M: Module<B>>(
    run: &RunDir,
    epoch: usize,
    model: M,
    device: &B::Device,
) -> Result<M, TrainError> {
    let stem = run.checkpoint_stem("model", epoch);
    model
        .load_file(stem.clone(), &ModelRecorder::default(), device)
        .map_err(|e| TrainError::BadRecord { path: stem.with_extension("mpk"), message: e.to_string() })
}

/// Writes the final model record of the run.
pub(crate) fn save_model<B: Backend, M: Module<B>>(run: &RunDir, model: &M) -> Result<(), TrainError> {
    model
        .clone()
        .save_file(run.model_stem(), &ModelRecorder::default())
        .map_err(|e| TrainError::BadRecord { path: run.model_stem().with_extension("mpk"), message: e.to_string() })
}

/// Loads the final model record of the run into `model`.
pub(crate) fn load_model<B: Backend, M: Module<B>>(
    run: &RunDir,
    model: M,
    device: &B::Device,
) -> Result<M, TrainError> {
    let path = run.model_stem().with_extension("mpk");
    if !path.exists() {
        return Err(TrainError::BadRecord {
            path,
            message: "the run has no final model yet (it did not finish); resume it with --resume".into(),
        });
    }
    model
        .load_file(run.model_stem(), &ModelRecorder::default(), device)
        .map_err(|e| TrainError::BadRecord { path, message: e.to_string() })
}

/// The run's stored configuration, or an error saying no run is there.
pub(crate) fn stored_config<C: DeserializeOwned>(run: &RunDir) -> Result<C, TrainError> {
    if !run.has_run() {
        return Err(TrainError::Io {
            action: "no training run in",
            path: run.root().to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "config.json is missing"),
        });
    }
    run.read_json(&run.config_path(), "run configuration")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_each_changed_key_and_skip_ignored_ones() {
        let stored = serde_json::json!({"lr": 0.001, "epochs": 5, "normalization": [1]});
        let requested = serde_json::json!({"lr": 0.01, "epochs": 5, "normalization": [2], "new": true});
        let text = config_differences(&stored, &requested, &["normalization"]);
        assert_eq!(text, "lr: 0.001 before, 0.01 now; new: (absent) before, true now");
    }
}
