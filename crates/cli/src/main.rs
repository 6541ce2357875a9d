//! `kindling`: train and evaluate Kindling's models from the command line.
//!
//! ```text
//! kindling train cnn [--data DIR] [--backend ndarray|tch] [--device cpu|cuda:N] [--epochs N] …
//! kindling train lstm [--corpus uci|imdb|aclimdb|nsmc] [--data DIR] [--cell rnn|lstm|gru] …
//! kindling eval --run RUN_DIR [--data DIR]
//! kindling predict --run RUN_DIR [TEXT …] [--file FILE]
//! ```
//!
//! The backend is chosen at run time through `kindling_backend`; everything
//! below is backend-generic.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use kindling_backend::{BackendJob, BackendKind, DeviceSpec, TrainingBackend};
use kindling_data::{Augmentation, CorpusFormat, VocabularySettings};
use kindling_models::{Pooling, RecurrentCell, SentimentClassifierConfig, SimpleCnnConfig};
use kindling_train::{
    CnnTrainingConfig, CnnTrainingRequest, Evaluation, OptimizerSettings, Prediction, RunDir, SentimentPredictor,
    SentimentReport, SentimentTrainingConfig, SentimentTrainingRequest, TrainError, TrainingReport,
};

/// jemalloc keeps freed pages for reuse; glibc hands every buffer over 32 MB
/// back to the kernel, and a training step allocates many of them.
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Classify texts with a trained sentiment run: arguments, a file, or standard input (one text per line).
    Predict(PredictArgs),
}

#[derive(Subcommand, Debug)]
enum TrainModel {
    /// The CIFAR-10 SimpleCNN: Conv2d(3→16, 3, p=1) → ReLU → MaxPool2d(2) → Linear(4096 → 10).
    Cnn(CnnArgs),
    /// A sentiment classifier: Embedding → RNN/LSTM/GRU → pooling → Linear (default: LSTM on the shipped UCI sentences).
    #[command(alias = "sentiment")]
    Lstm(SentimentArgs),
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
    /// The dataset whose test split is evaluated [default: the shipped subset of the run's dataset].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Images per batch (CNN runs; sentiment runs use their training batch size).
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    #[command(flatten)]
    backend: BackendArgs,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum CorpusName {
    /// IMDB reviews as TSV: a directory with train.tsv[.gz] and test.tsv[.gz].
    Imdb,
    /// The original aclImdb folder: train/pos, train/neg, test/pos, test/neg.
    Aclimdb,
    /// Naver Sentiment Movie Corpus: ratings_train.txt[.gz], ratings_test.txt[.gz].
    Nsmc,
    /// UCI Sentiment Labelled Sentences (shipped in datasets/).
    Uci,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum CellName {
    /// nn.RNN with tanh.
    Rnn,
    /// nn.LSTM.
    Lstm,
    /// nn.GRU.
    Gru,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum PoolingName {
    /// The final state at each document's last token (both directions when bidirectional).
    Last,
    /// The mean of the outputs over the real tokens.
    Mean,
    /// The maximum of the outputs over the real tokens.
    Max,
}

#[derive(Args, Debug)]
struct SentimentArgs {
    /// Corpus format of --data.
    #[arg(long, value_enum, default_value_t = CorpusName::Uci)]
    corpus: CorpusName,
    /// Corpus directory [default for uci: the shipped datasets/sentiment-labelled-sentences].
    #[arg(long)]
    data: Option<PathBuf>,
    #[command(flatten)]
    backend: BackendArgs,
    /// Recurrent layer.
    #[arg(long, value_enum, default_value_t = CellName::Lstm)]
    cell: CellName,
    /// Read documents in both directions.
    #[arg(long)]
    bidirectional: bool,
    /// Stacked recurrent layers.
    #[arg(long, default_value_t = 1)]
    layers: usize,
    /// Hidden features per direction.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// Embedding features.
    #[arg(long, default_value_t = 128)]
    embed: usize,
    /// How the recurrent outputs become the classifier's input.
    #[arg(long, value_enum, default_value_t = PoolingName::Last)]
    pooling: PoolingName,
    /// Dropout before the classifier.
    #[arg(long, default_value_t = 0.5)]
    dropout: f64,
    /// Dropout between stacked recurrent layers.
    #[arg(long, default_value_t = 0.0)]
    rnn_dropout: f64,
    /// Tokens kept per document [default: imdb 400, nsmc 150, uci 64].
    #[arg(long)]
    max_len: Option<usize>,
    /// Vocabulary entries, <pad> and <unk> included [default: imdb 25000, nsmc 5000, uci 5000].
    #[arg(long)]
    vocab_size: Option<usize>,
    /// Tokens seen fewer times in the training split are <unk>.
    #[arg(long, default_value_t = 2)]
    min_freq: usize,
    /// Passes over the training split [default: uci 10, others 5].
    #[arg(long)]
    epochs: Option<usize>,
    /// Documents per batch.
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
    /// Clip the L2 norm of all gradients together to this (as torch.nn.utils.clip_grad_norm_).
    #[arg(long)]
    clip_grad_norm: Option<f32>,
    /// Fraction of the training split held out for validation.
    #[arg(long, default_value_t = 0.1)]
    validation_fraction: f64,
    /// Seed for initialisation, the validation split, batching, shuffling and dropout.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Use only the first N training documents (after the seeded shuffle).
    #[arg(long)]
    train_limit: Option<usize>,
    /// Keep the last epoch's weights as the final model, instead of the epoch
    /// with the lowest validation loss.
    #[arg(long)]
    keep_last_epoch: bool,
    /// Run directory [default: runs/<cell>-<corpus>-<UTC time>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in --out from its newest intact checkpoint.
    #[arg(long, requires = "out")]
    resume: bool,
}

#[derive(Args, Debug)]
struct PredictArgs {
    /// A sentiment run directory written by `kindling train lstm`.
    #[arg(long)]
    run: PathBuf,
    /// Texts to classify; none: read --file, or standard input, one text per line.
    texts: Vec<String>,
    /// A file with one text per line (`-` for standard input).
    #[arg(long)]
    file: Option<PathBuf>,
    #[command(flatten)]
    backend: BackendArgs,
}

fn parse_backend(s: &str) -> Result<BackendKind, String> {
    s.parse().map_err(|e: kindling_backend::BackendError| e.to_string())
}

fn parse_device(s: &str) -> Result<DeviceSpec, String> {
    s.parse().map_err(|e: kindling_backend::BackendError| e.to_string())
}

/// A dataset shipped in the repository's `datasets/`.
fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets").join(name)
}

/// The CIFAR-10 subset shipped in the repository's `datasets/`.
fn default_cifar_dir() -> PathBuf {
    shipped("cifar-10-subset")
}

/// `runs/PREFIX-YYYYMMDD-HHMMSS` in UTC, so runs never collide by default.
fn default_run_dir(prefix: &str) -> PathBuf {
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
        "runs/{prefix}-{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    ))
}

struct TrainCnnJob(CnnTrainingRequest);

impl BackendJob for TrainCnnJob {
    type Output = Result<TrainingReport, TrainError>;

    fn run<B: TrainingBackend>(self, device: B::Device) -> Self::Output {
        kindling_train::train_simple_cnn::<B>(&self.0, device, &mut |message| eprintln!("kindling: {message}"))
    }
}

struct EvalJob {
    run: PathBuf,
    data: PathBuf,
    /// A sentiment run (`Some`, with its corpus) or a CNN run.
    corpus: Option<CorpusFormat>,
    batch_size: usize,
}

impl BackendJob for EvalJob {
    type Output = Result<Evaluation, TrainError>;

    fn run<B: TrainingBackend>(self, device: B::Device) -> Self::Output {
        match self.corpus {
            Some(_) => kindling_train::evaluate_sentiment_run::<B::InnerBackend>(&self.run, &self.data, &device),
            None => kindling_train::evaluate_run::<B::InnerBackend>(&self.run, &self.data, self.batch_size, &device),
        }
    }
}

/// The shipped copy of the UCI sentences (the only corpus shipped whole).
fn shipped_uci() -> PathBuf {
    shipped("sentiment-labelled-sentences")
}

/// The data a run is evaluated on without `--data`, or why there is none.
fn default_eval_data(corpus: Option<CorpusFormat>) -> anyhow::Result<PathBuf> {
    match corpus {
        None => Ok(default_cifar_dir()),
        Some(CorpusFormat::Uci) => Ok(shipped_uci()),
        Some(other) => {
            bail!("the run was trained on the {} corpus, which is not shipped: pass --data DIR", other.name())
        }
    }
}

struct TrainSentimentJob(SentimentTrainingRequest);

impl BackendJob for TrainSentimentJob {
    type Output = Result<SentimentReport, TrainError>;

    fn run<B: TrainingBackend>(self, device: B::Device) -> Self::Output {
        kindling_train::train_sentiment::<B>(&self.0, device, &mut |message| eprintln!("kindling: {message}"))
    }
}

struct PredictJob {
    run: PathBuf,
    texts: Vec<String>,
}

impl BackendJob for PredictJob {
    type Output = Result<Vec<Prediction>, TrainError>;

    fn run<B: TrainingBackend>(self, device: B::Device) -> Self::Output {
        let predictor = SentimentPredictor::<B::InnerBackend>::load(&self.run, &device)?;
        Ok(predictor.predict(&self.texts, &device))
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
    let run_dir = args.out.unwrap_or_else(|| default_run_dir("cnn"));
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
    print_outcome(&report.test, report.train_seconds, report.seconds_per_epoch, &report.backend, &run_dir);
    Ok(())
}

/// The end of a training run: the evaluation table, the time taken, where the run is.
fn print_outcome(test: &Evaluation, seconds: f64, per_epoch: Option<f64>, backend: &str, run_dir: &Path) {
    println!();
    print!("{}", test.to_table());
    if let Some(per_epoch) = per_epoch {
        println!("\ntraining time: {seconds:.1} s ({per_epoch:.1} s per epoch, {backend})");
    }
    println!("run directory: {}", run_dir.display());
}

fn train_sentiment(args: SentimentArgs) -> anyhow::Result<()> {
    let corpus = match args.corpus {
        CorpusName::Imdb => CorpusFormat::Imdb,
        CorpusName::Aclimdb => CorpusFormat::AclImdb,
        CorpusName::Nsmc => CorpusFormat::Nsmc,
        CorpusName::Uci => CorpusFormat::Uci,
    };
    let data = match (args.data, corpus) {
        (Some(data), _) => data,
        (None, CorpusFormat::Uci) => shipped_uci(),
        (None, other) => bail!(
            "--corpus {} needs --data DIR: only the UCI sentences are shipped (full corpora: ../shared/datasets or your own copy)",
            other.name()
        ),
    };
    let cell = match args.cell {
        CellName::Rnn => RecurrentCell::Rnn,
        CellName::Lstm => RecurrentCell::Lstm,
        CellName::Gru => RecurrentCell::Gru,
    };
    let pooling = match args.pooling {
        PoolingName::Last => Pooling::Last,
        PoolingName::Mean => Pooling::Mean,
        PoolingName::Max => Pooling::Max,
    };
    let model = SentimentClassifierConfig::new(0)
        .with_embed_dim(args.embed)
        .with_hidden_size(args.hidden)
        .with_num_layers(args.layers)
        .with_bidirectional(args.bidirectional)
        .with_cell(cell)
        .with_recurrent_dropout(args.rnn_dropout)
        .with_dropout(args.dropout)
        .with_pooling(pooling);
    let mut config = SentimentTrainingConfig::for_corpus(corpus, model);
    config.optimizer = match args.optimizer {
        OptimizerName::Adam => OptimizerSettings::Adam,
        OptimizerName::Sgd => OptimizerSettings::Sgd { momentum: args.momentum },
    };
    config.learning_rate = args.lr;
    config.batch_size = args.batch_size;
    config.epochs = args.epochs.unwrap_or(if corpus == CorpusFormat::Uci { 10 } else { 5 });
    config.seed = args.seed;
    config.max_len = args.max_len.unwrap_or(config.max_len);
    config.vocabulary = VocabularySettings {
        min_frequency: args.min_freq,
        max_size: args.vocab_size.unwrap_or(config.vocabulary.max_size),
    };
    config.grad_clip_norm = args.clip_grad_norm;
    config.validation_fraction = args.validation_fraction;
    config.train_limit = args.train_limit;
    config.keep_best_epoch = !args.keep_last_epoch;

    let cell_name = format!("{:?}", args.cell).to_lowercase();
    let run_dir = args.out.unwrap_or_else(|| default_run_dir(&format!("{cell_name}-{}", corpus.name())));
    let request = SentimentTrainingRequest { config, data_dir: data, run_dir: run_dir.clone(), resume: args.resume };
    println!(
        "training a {}{} sentiment classifier on {} ({}) with {} ({}), run directory {}",
        if args.bidirectional { "bidirectional " } else { "" },
        cell_name.to_uppercase(),
        request.data_dir.display(),
        corpus.name(),
        args.backend.backend,
        args.backend.device,
        run_dir.display()
    );
    let report = kindling_backend::run(args.backend.backend, args.backend.device, TrainSentimentJob(request))?
        .with_context(|| format!("training run {} failed", run_dir.display()))?;
    print_outcome(&report.test, report.train_seconds, report.seconds_per_epoch, &report.backend, &run_dir);
    Ok(())
}

fn predict(args: PredictArgs) -> anyhow::Result<()> {
    let mut texts = args.texts;
    if texts.is_empty() {
        let lines: Vec<std::io::Result<String>> = match &args.file {
            Some(path) if path != Path::new("-") => std::io::BufReader::new(
                std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
            )
            .lines()
            .collect(),
            _ => std::io::stdin().lock().lines().collect(),
        };
        let source = args.file.as_ref().map_or("standard input".to_string(), |p| p.display().to_string());
        for (i, line) in lines.into_iter().enumerate() {
            texts.push(line.with_context(|| format!("{source}, line {}: not readable UTF-8 text", i + 1))?);
        }
    }
    let job = PredictJob { run: args.run.clone(), texts: texts.clone() };
    let predictions = kindling_backend::run(args.backend.backend, args.backend.device, job)?
        .with_context(|| format!("cannot use run {}", args.run.display()))?;
    for (prediction, text) in predictions.iter().zip(&texts) {
        println!("{}\t{:.4}\t{text}", prediction.label, prediction.probability);
    }
    Ok(())
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    // A sentiment run's configuration names its corpus; a CNN run's does not.
    let run = RunDir::new(&args.run);
    let corpus = run
        .read_json::<serde_json::Value>(&run.config_path(), "run configuration")
        .ok()
        .and_then(|c| c.get("corpus").and_then(|v| v.as_str()).and_then(CorpusFormat::from_name));
    let data = match args.data {
        Some(data) => data,
        None => default_eval_data(corpus)?,
    };
    let job = EvalJob { run: args.run.clone(), data, corpus, batch_size: args.batch_size };
    let evaluation = kindling_backend::run(args.backend.backend, args.backend.device, job)?
        .with_context(|| format!("cannot evaluate run {}", args.run.display()))?;
    print!("{}", evaluation.to_table());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train { model: TrainModel::Cnn(args) } => train_cnn(args),
        Command::Train { model: TrainModel::Lstm(args) } => train_sentiment(args),
        Command::Eval(args) => eval(args),
        Command::Predict(args) => predict(args),
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
