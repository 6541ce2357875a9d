//! Training and evaluating `SimpleCnn` on CIFAR-10.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, Optimizer, SgdConfig};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use kindling_data::{Cifar10Batcher, Cifar10Dataset, Cifar10Split, ImageBatch, Normalization, mix_seed};
use kindling_models::SimpleCnn;
use serde::{Deserialize, Serialize};

use crate::AtomicFileRecorder;
use crate::supervised::{Fit, launch, load_model, prepare_run_dir, resume_point, save_model, stored_config};
use crate::{CnnTrainingConfig, Evaluation, OptimizerSettings, RunDir, TrainError};

/// The recorder of every model and checkpoint: named MessagePack with full
/// f32 precision (a reloaded model gives bit-identical outputs), written
/// atomically.
pub type ModelRecorder = AtomicFileRecorder<NamedMpkFileRecorder<FullPrecisionSettings>>;

/// What to train, on what, and where to write it.
#[derive(Debug, Clone)]
pub struct CnnTrainingRequest {
    /// The run's settings.
    pub config: CnnTrainingConfig,
    /// A CIFAR-10 directory in the official binary format.
    pub data_dir: PathBuf,
    /// The run directory (created if needed).
    pub run_dir: PathBuf,
    /// Continue the run in `run_dir` from its newest intact checkpoint.
    pub resume: bool,
}

/// The summary of a finished run, saved as `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingReport {
    /// Always `"simple-cnn"` for this trainer.
    pub model: String,
    /// The backend and device, as burn names them.
    pub backend: String,
    /// Epochs the run consists of.
    pub epochs: usize,
    /// The checkpoint the run resumed from, if it did.
    pub resumed_from_epoch: Option<usize>,
    /// Training images per epoch.
    pub train_images: usize,
    /// Wall time of the epochs run by this invocation (training and the
    /// per-epoch validation pass), in seconds.
    pub train_seconds: f64,
    /// `train_seconds` divided by the epochs this invocation ran.
    pub seconds_per_epoch: Option<f64>,
    /// The final model on the test split.
    pub test: Evaluation,
}

/// Trains `SimpleCnn` as `request` says, writes the run directory, and
/// returns the report. Messages worth a user's attention (a skipped corrupt
/// checkpoint, where the run resumes) go to `notify`.
///
/// Validation after each epoch uses the test split, as the PyTorch recipe
/// does; the reported test accuracy is of the final model, not of a model
/// selected on the test split.
pub fn train_simple_cnn<B: AutodiffBackend>(
    request: &CnnTrainingRequest,
    device: B::Device,
    notify: &mut dyn FnMut(&str),
) -> Result<TrainingReport, TrainError> {
    let mut config = request.config.clone();
    config.validate()?;
    let run = RunDir::new(&request.run_dir);

    let mut train = Cifar10Dataset::open(&request.data_dir, Cifar10Split::Train)?;
    if let Some(limit) = config.train_limit {
        train.truncate(limit);
    }
    let test = Arc::new(Cifar10Dataset::open(&request.data_dir, Cifar10Split::Test)?);
    let (mean, std) = train.channel_stats();
    config.normalization = Some(Normalization::new(mean, std));

    prepare_run_dir(&run, &config, request.resume, &["normalization"])?;
    run.write_json(&run.config_path(), &config)?;

    B::seed(&device, config.seed);
    let model = config.model.init::<B>(&device);
    let train_images = train.len();
    let started = Instant::now();
    let (model, start_epoch) = match config.optimizer {
        OptimizerSettings::Adam => {
            // PyTorch's Adam epsilon; burn's default is 1e-5.
            let optim = AdamConfig::new().with_epsilon(1e-8).init();
            fit(model, optim, &config, &run, train, test.clone(), request.resume, &device, notify)
        }
        OptimizerSettings::Sgd { momentum } => {
            // PyTorch's SGD momentum has no dampening; burn's default is 0.1.
            let momentum = (momentum > 0.0).then(|| MomentumConfig::new().with_momentum(momentum).with_dampening(0.0));
            let optim = SgdConfig::new().with_momentum(momentum).init();
            fit(model, optim, &config, &run, train, test.clone(), request.resume, &device, notify)
        }
    };
    let train_seconds = started.elapsed().as_secs_f64();
    let epochs_run = config.epochs - start_epoch.unwrap_or(0).min(config.epochs);

    save_model(&run, &model)?;
    let normalization = config.normalization.unwrap_or_else(|| Normalization::new(mean, std));
    let test = evaluate_simple_cnn(&model, &test, normalization, config.batch_size, &device);
    let report = TrainingReport {
        model: "simple-cnn".into(),
        backend: <B::InnerBackend as Backend>::name(&device),
        epochs: config.epochs,
        resumed_from_epoch: start_epoch,
        train_images,
        train_seconds,
        seconds_per_epoch: (epochs_run > 0).then(|| train_seconds / epochs_run as f64),
        test,
    };
    run.write_json(&run.report_path(), &report)?;
    Ok(report)
}

/// Builds the loaders and trains with `optimizer`.
#[allow(clippy::too_many_arguments)] // one private call site per optimiser
fn fit<B, O>(
    model: SimpleCnn<B>,
    optimizer: O,
    config: &CnnTrainingConfig,
    run: &RunDir,
    train: Cifar10Dataset,
    test: Arc<Cifar10Dataset>,
    resume: bool,
    device: &B::Device,
    notify: &mut dyn FnMut(&str),
) -> (SimpleCnn<B::InnerBackend>, Option<usize>)
where
    B: AutodiffBackend,
    O: Optimizer<SimpleCnn<B>, B> + 'static,
{
    let start_epoch = resume_point::<B, SimpleCnn<B>, O>(run, resume, device, notify);
    let normalization = config.normalization.expect("set before fitting");
    let done_epochs = start_epoch.unwrap_or(0) as u64;
    let batches_per_epoch = train.len().div_ceil(config.batch_size) as u64;
    let mut train_batcher = Cifar10Batcher::new(normalization).starting_at_batch(done_epochs * batches_per_epoch);
    if let Some(augmentation) = config.augmentation {
        train_batcher = train_batcher.with_augmentation(augmentation, config.seed);
    }
    let train_loader = DataLoaderBuilder::new(train_batcher)
        .batch_size(config.batch_size)
        // A resumed run continues with a fresh, still seeded, shuffling stream.
        .shuffle(mix_seed(&[config.seed, done_epochs]))
        .num_workers(config.data_workers)
        .set_device(device.clone())
        .build(train);
    let valid_loader = DataLoaderBuilder::<B::InnerBackend, _, _>::new(Cifar10Batcher::new(normalization))
        .batch_size(config.batch_size)
        .num_workers(1)
        .set_device(device.clone())
        .build(test);
    let fit = Fit { model, optimizer, learning_rate: config.learning_rate, epochs: config.epochs, start_epoch };
    (launch(run, fit, train_loader, valid_loader), start_epoch)
}

/// Classifies every image of `data` and tallies the results.
pub fn evaluate_simple_cnn<B: Backend>(
    model: &SimpleCnn<B>,
    data: &Cifar10Dataset,
    normalization: Normalization,
    batch_size: usize,
    device: &B::Device,
) -> Evaluation {
    let batcher = Cifar10Batcher::new(normalization);
    let mut pairs = Vec::with_capacity(data.len());
    let batch_size = batch_size.max(1);
    for start in (0..data.len()).step_by(batch_size) {
        let items: Vec<_> = (start..(start + batch_size).min(data.len())).filter_map(|i| data.get(i)).collect();
        let truths: Vec<usize> = items.iter().map(|item| usize::from(item.label)).collect();
        let batch: ImageBatch<B> = batcher.batch(items, device);
        let predicted = model.forward(batch.images).argmax(1).flatten::<1>(0, 1);
        let predicted: Vec<i64> = predicted.into_data().convert::<i64>().to_vec().unwrap_or_default();
        pairs.extend(truths.into_iter().zip(predicted.into_iter().map(|p| p as usize)));
    }
    Evaluation::from_pairs(data.class_names().to_vec(), pairs)
}

/// Loads the model and settings of a finished run.
pub fn load_simple_cnn<B: Backend>(
    run_dir: impl Into<PathBuf>,
    device: &B::Device,
) -> Result<(SimpleCnn<B>, CnnTrainingConfig), TrainError> {
    let run = RunDir::new(run_dir);
    let config: CnnTrainingConfig = stored_config(&run)?;
    let model = load_model(&run, config.model.init::<B>(device), device)?;
    Ok((model, config))
}

/// Evaluates a finished run on the test split of the CIFAR-10 directory `data_dir`.
pub fn evaluate_run<B: Backend>(
    run_dir: impl Into<PathBuf>,
    data_dir: impl Into<PathBuf>,
    batch_size: usize,
    device: &B::Device,
) -> Result<Evaluation, TrainError> {
    let run_dir = run_dir.into();
    let (model, config) = load_simple_cnn::<B>(&run_dir, device)?;
    let normalization = config.normalization.ok_or_else(|| TrainError::BadRunFile {
        path: RunDir::new(&run_dir).config_path(),
        what: "run configuration",
        message: "it has no `normalization`; the run never started training".into(),
    })?;
    let test = Cifar10Dataset::open(data_dir.into(), Cifar10Split::Test)?;
    Ok(evaluate_simple_cnn(&model, &test, normalization, batch_size, device))
}
