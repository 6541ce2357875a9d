//! `kindling`: train and evaluate Kindling's models from the command line.
//!
//! ```text
//! kindling train cnn [--data DIR] [--backend ndarray|tch] [--device cpu|cuda:N] [--epochs N] …
//! kindling eval --run RUN_DIR [--data DIR]
//! ```
//!
//! The backend is chosen at run time through `kindling_backend`; everything
//! below is backend-generic.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use clap::{Args, Parser, Subcommand, ValueEnum};
use kindling_backend::{BackendJob, BackendKind, DeviceSpec};
use kindling_data::Augmentation;
use kindling_models::SimpleCnnConfig;
use kindling_train::{
    CnnTrainingConfig, CnnTrainingRequest, Evaluation, OptimizerSettings, TrainError, TrainingReport,
};

/// Deep-learning basics (CNNs, recurrent networks) with PyTorch's semantics, in Rust.
#[derive(Parser, Debug)]
#[command(name = "kindling", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model and write a run directory (config, checkpoints, model, report.json).
    Train {
        #[command(subcommand)]
        model: TrainModel,
    },
    /// Evaluate a finished run on a test split: accuracy, per-class accuracy, confusion matrix.
    Eval(EvalArgs),
}

#[derive(Subcommand, Debug)]
enum TrainModel {
    /// The CIFAR-10 SimpleCNN: Conv2d(3→16, 3, p=1) → ReLU → MaxPool2d(2) → Linear(4096 → 10).
    Cnn(CnnArgs),
}

/// Where and how to compute.
#[derive(Args, Debug, Clone)]
struct BackendArgs {
    /// Tensor backend: ndarray (pure Rust, CPU) or tch (libtorch, CPU or CUDA).
    #[arg(long, default_value = "ndarray", value_parser = parse_backend)]
    backend: BackendKind,
    /// Device: cpu, cuda or cuda:N (CUDA needs --backend tch).
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    device: DeviceSpec,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum OptimizerName {
    /// Adam (betas 0.9, 0.999; eps 1e-8), as torch.optim.Adam.
    Adam,
    /// SGD with momentum (no dampening), as torch.optim.SGD.
    Sgd,
}

#[derive(Args, Debug)]
struct CnnArgs {
    /// CIFAR-10 directory in the official binary format (data_batch_*.bin, test_batch.bin).
    #[arg(long, default_value_os_t = default_cifar_dir())]
    data: PathBuf,
    #[command(flatten)]
    backend: BackendArgs,
    /// Passes over the training split.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Optimiser.
    #[arg(long, value_enum, default_value_t = OptimizerName::Adam)]
    optimizer: OptimizerName,
    /// Momentum for --optimizer sgd.
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    /// Seed for initialisation, shuffling and augmentation.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Train with random crops (4-pixel zero padding) and horizontal flips.
    #[arg(long)]
    augment: bool,
    /// Threads preparing batches; 1 keeps runs reproducible.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Use only the first N training images.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Run directory [default: runs/cnn-<UTC time>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in --out from its newest intact checkpoint.
    #[arg(long, requires = "out")]
    resume: bool,
}

#[derive(Args, Debug)]
struct EvalArgs {
    /// A run directory written by `kindling train`.
    #[arg(long)]
    run: PathBuf,
    /// CIFAR-10 directory whose test_batch.bin is evaluated.
    #[arg(long, default_value_os_t = default_cifar_dir())]
    data: PathBuf,
    /// Images per batch.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    #[command(flatten)]
    backend: BackendArgs,
}

fn parse_backend(s: &str) -> Result<BackendKind, String> {
    s.parse().map_err(|e: kindling_backend::BackendError| e.to_string())
}

fn parse_device(s: &str) -> Result<DeviceSpec, String> {
    s.parse().map_err(|e: kindling_backend::BackendError| e.to_string())
}

/// The CIFAR-10 subset shipped in the repository's `datasets/`.
fn default_cifar_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/cifar-10-subset")
}

/// `runs/cnn-YYYYMMDD-HHMMSS` in UTC, so runs never collide by default.
fn default_run_dir() -> PathBuf {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    PathBuf::from(format!(
        "runs/cnn-{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    ))
}

struct TrainCnnJob(CnnTrainingRequest);

impl BackendJob for TrainCnnJob {
    type Output = Result<TrainingReport, TrainError>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        kindling_train::train_simple_cnn::<B>(&self.0, device, &mut |message| eprintln!("kindling: {message}"))
    }
}

struct EvalJob {
    run: PathBuf,
    data: PathBuf,
    batch_size: usize,
}

impl BackendJob for EvalJob {
    type Output = Result<Evaluation, TrainError>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        kindling_train::evaluate_run::<B::InnerBackend>(&self.run, &self.data, self.batch_size, &device)
    }
}

fn train_cnn(args: CnnArgs) -> anyhow::Result<()> {
    let optimizer = match args.optimizer {
        OptimizerName::Adam => OptimizerSettings::Adam,
        OptimizerName::Sgd => OptimizerSettings::Sgd { momentum: args.momentum },
    };
    let config =
        CnnTrainingConfig::new(SimpleCnnConfig::new(), optimizer, args.lr, args.batch_size, args.epochs, args.seed)
            .with_augmentation(args.augment.then(Augmentation::default))
            .with_data_workers(args.workers)
            .with_train_limit(args.train_limit);
    let run_dir = args.out.unwrap_or_else(default_run_dir);
    let request = CnnTrainingRequest { config, data_dir: args.data, run_dir: run_dir.clone(), resume: args.resume };
    println!(
        "training SimpleCnn on {} with {} ({}), run directory {}",
        request.data_dir.display(),
        args.backend.backend,
        args.backend.device,
        run_dir.display()
    );
    let report = kindling_backend::run(args.backend.backend, args.backend.device, TrainCnnJob(request))?
        .with_context(|| format!("training run {} failed", run_dir.display()))?;
    println!();
    print!("{}", report.test.to_table());
    if let Some(per_epoch) = report.seconds_per_epoch {
        println!("\ntraining time: {:.1} s ({per_epoch:.1} s per epoch, {})", report.train_seconds, report.backend);
    }
    println!("run directory: {}", run_dir.display());
    Ok(())
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let job = EvalJob { run: args.run.clone(), data: args.data, batch_size: args.batch_size };
    let evaluation = kindling_backend::run(args.backend.backend, args.backend.device, job)?
        .with_context(|| format!("cannot evaluate run {}", args.run.display()))?;
    print!("{}", evaluation.to_table());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train { model: TrainModel::Cnn(args) } => train_cnn(args),
        Command::Eval(args) => eval(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One paragraph: the context, then each cause, no backtrace.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
