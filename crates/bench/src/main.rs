//! `kindling-bench`: times one workload of Kindling's in this process, for
//! `cargo xtask bench`, which runs every contender (Kindling on each backend,
//! burn's own LSTM, PyTorch through `scripts/bench.py`) as its own process,
//! alternating them in rounds.
//!
//! ```text
//! kindling-bench cnn-train --backend ndarray --batch 64 --steps 10 --warmup 1 --reps 3
//! ```
//!
//! Each timed repetition prints one JSON line, `{"seconds": …, "items": …}`
//! (items = samples, or batches for the data pipelines); the process ends
//! with `{"peak_rss_bytes": …}`. Training steps are forward, backward and an
//! Adam step (PyTorch's defaults); inference is a forward pass without
//! autodiff. Every repetition ends by reading a value back, so asynchronous
//! devices are timed to completion.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use burn::data::dataloader::Dataset;
use burn::data::dataloader::batcher::Batcher;
use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Distribution, ElementConversion, Int, Tensor, TensorData, backend::Backend};
use clap::{Parser, ValueEnum};
use kindling_backend::{BackendJob, BackendKind, DeviceSpec, TrainingBackend};
use kindling_data::{
    Augmentation, Cifar10Batcher, Cifar10Dataset, Cifar10Split, CorpusFormat, ImageBatch, Normalization,
    SentimentBatcher, SentimentItem, Tokenizer, TokenizerKind, Vocabulary, VocabularySettings,
};
use kindling_layers::LstmConfig;
use kindling_models::{SentimentClassifier, SentimentClassifierConfig, SimpleCnn, SimpleCnnConfig};

/// jemalloc keeps freed pages for reuse; glibc hands every buffer over 32 MB
/// back to the kernel, and a training step allocates many of them.
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// What to time.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// One LSTM layer, forward + backward: batch-first, input 128, hidden 256, 200 steps.
    LstmLayer,
    /// SimpleCnn training steps on random 32×32 images.
    CnnTrain,
    /// SimpleCnn forward passes without autodiff.
    CnnInfer,
    /// Sentiment classifier training steps: Embedding 20,000×128 → LSTM 256 → Linear, 256 tokens.
    SentimentTrain,
    /// Sentiment classifier forward passes without autodiff.
    SentimentInfer,
    /// CIFAR-10 batches (crop + flip augmentation, normalisation, tensor) from the shipped subset.
    CifarPipeline,
    /// IMDB batches (tokenisation, vocabulary lookup, padding, tensor) from the shipped sample.
    ImdbPipeline,
}

/// Which LSTM implementation `lstm-layer` runs.
#[derive(Copy, Clone, Debug, ValueEnum)]
enum LayerImpl {
    /// `kindling_layers::Lstm`.
    Kindling,
    /// burn's own `nn::Lstm`.
    Burn,
}

/// Times one workload of Kindling's; prints JSON lines.
#[derive(Parser, Debug)]
#[command(name = "kindling-bench")]
struct Args {
    /// The workload.
    #[arg(value_enum)]
    workload: Workload,
    /// Tensor backend: ndarray or tch.
    #[arg(long, default_value = "ndarray")]
    backend: BackendKind,
    /// Device: cpu or cuda[:N].
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
    /// Samples per batch.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Steps (or batches) per timed repetition.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Untimed repetitions first.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Timed repetitions.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// The LSTM implementation for `lstm-layer`.
    #[arg(long, value_enum, default_value_t = LayerImpl::Kindling)]
    layer: LayerImpl,
}

/// Tokens per document of the sentiment workloads.
const TOKENS: usize = 256;
/// Vocabulary of the sentiment workloads.
const VOCABULARY: usize = 20_000;

fn main() -> ExitCode {
    let args = Args::parse();
    if args.batch == 0 || args.steps == 0 || args.reps == 0 {
        eprintln!("error: --batch, --steps and --reps must each be at least 1");
        return ExitCode::FAILURE;
    }
    let (backend, device) = (args.backend, args.device);
    match kindling_backend::run(backend, device, Job(args)) {
        Ok(Ok(reps)) => {
            for (seconds, items) in reps {
                println!("{{\"seconds\":{seconds:.6},\"items\":{items}}}");
            }
            if let Some(bytes) = peak_rss_bytes() {
                println!("{{\"peak_rss_bytes\":{bytes}}}");
            }
            ExitCode::SUCCESS
        }
        Ok(Err(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

struct Job(Args);

impl BackendJob for Job {
    /// `(seconds, items)` per timed repetition, or why the workload cannot run.
    type Output = Result<Vec<(f64, usize)>, String>;

    fn run<B: TrainingBackend>(self, device: B::Device) -> Self::Output {
        let args = self.0;
        B::seed(&device, 42);
        let per_rep = match args.workload {
            Workload::LstmLayer => 64,
            Workload::CifarPipeline | Workload::ImdbPipeline => args.steps,
            _ => args.steps * args.batch,
        };
        let times = match args.workload {
            Workload::LstmLayer => lstm_layer::<B>(&args, &device),
            Workload::CnnTrain => cnn_train::<B>(&args, &device),
            Workload::CnnInfer => cnn_infer::<B::InnerBackend>(&args, &device),
            Workload::SentimentTrain => sentiment_train::<B>(&args, &device),
            Workload::SentimentInfer => sentiment_infer::<B>(&args, &device),
            Workload::CifarPipeline => cifar_pipeline::<B>(&args, &device)?,
            Workload::ImdbPipeline => imdb_pipeline::<B>(&args, &device)?,
        };
        Ok(times.into_iter().map(|t| (t, per_rep)).collect())
    }
}

/// Runs `rep` `warmup + reps` times; returns the timed repetitions' seconds.
fn timed(args: &Args, mut rep: impl FnMut()) -> Vec<f64> {
    (0..args.warmup + args.reps)
        .map(|_| {
            let start = Instant::now();
            rep();
            start.elapsed().as_secs_f64()
        })
        .skip(args.warmup)
        .collect()
}

/// Waits for `tensor` by reading one value of it back.
fn sync<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> f32 {
    tensor.sum().into_scalar().elem()
}

fn lstm_layer<B: TrainingBackend>(args: &Args, device: &B::Device) -> Vec<f64> {
    let x = Tensor::<B, 3>::random([64, 200, 128], Distribution::Normal(0.0, 1.0), device);
    match args.layer {
        LayerImpl::Kindling => {
            let lstm = LstmConfig::new(128, 256).with_batch_first(true).init::<B>(device);
            timed(args, || {
                if let Ok((out, _)) = lstm.forward(x.clone(), None, None) {
                    let grads = out.sum().backward();
                    if let Some(grad) = lstm.stack.layers[0].forward.weight_hh.grad(&grads) {
                        sync(grad);
                    }
                }
            })
        }
        LayerImpl::Burn => {
            let lstm = burn::nn::LstmConfig::new(128, 256, true).init::<B>(device);
            timed(args, || {
                let (out, _) = lstm.forward(x.clone(), None);
                let grads = out.sum().backward();
                if let Some(grad) = lstm.output_gate.hidden_transform.weight.grad(&grads) {
                    sync(grad);
                }
            })
        }
    }
}

fn random_labels<B: Backend>(batch: usize, classes: usize, device: &B::Device) -> Tensor<B, 1, Int> {
    let labels: Vec<i64> = (0..batch).map(|i| ((i * 7919) % classes) as i64).collect();
    Tensor::from_data(TensorData::new(labels, [batch]), device)
}

fn cnn_train<B: TrainingBackend>(args: &Args, device: &B::Device) -> Vec<f64> {
    let mut model: Option<SimpleCnn<B>> = Some(SimpleCnnConfig::new().init(device));
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init::<B, SimpleCnn<B>>();
    let images = Tensor::<B, 4>::random([args.batch, 3, 32, 32], Distribution::Normal(0.0, 1.0), device);
    let targets = random_labels::<B>(args.batch, 10, device);
    timed(args, || {
        let mut loss = 0.0;
        for _ in 0..args.steps {
            let Some(current) = model.take() else { return };
            let batch = ImageBatch { images: images.clone(), targets: targets.clone() };
            let output = current.forward_classification(batch);
            let grads = GradientsParams::from_grads(output.loss.backward(), &current);
            model = Some(optimizer.step(1e-3, current, grads));
            loss = output.loss.inner().into_scalar().elem::<f32>();
        }
        std::hint::black_box(loss);
    })
}

fn cnn_infer<B: Backend>(args: &Args, device: &B::Device) -> Vec<f64> {
    let model: SimpleCnn<B> = SimpleCnnConfig::new().init(device);
    let images = Tensor::<B, 4>::random([args.batch, 3, 32, 32], Distribution::Normal(0.0, 1.0), device);
    timed(args, || {
        let mut total = 0.0;
        for _ in 0..args.steps {
            total += sync(model.forward(images.clone()));
        }
        std::hint::black_box(total);
    })
}

fn sentiment_config() -> SentimentClassifierConfig {
    SentimentClassifierConfig::new(VOCABULARY).with_embed_dim(128).with_hidden_size(256)
}

fn random_ids<B: Backend>(batch: usize, device: &B::Device) -> Tensor<B, 2, Int> {
    let ids: Vec<i64> =
        (0..batch * TOKENS).map(|i| 2 + ((i as u64 * 2_654_435_761) % (VOCABULARY as u64 - 2)) as i64).collect();
    Tensor::from_data(TensorData::new(ids, [batch, TOKENS]), device)
}

fn sentiment_train<B: TrainingBackend>(args: &Args, device: &B::Device) -> Vec<f64> {
    let mut model: Option<SentimentClassifier<B>> = Some(sentiment_config().init(device));
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init::<B, SentimentClassifier<B>>();
    let ids = random_ids::<B>(args.batch, device);
    let targets = random_labels::<B>(args.batch, 2, device);
    let lengths = vec![TOKENS; args.batch];
    timed(args, || {
        let mut loss = 0.0;
        for _ in 0..args.steps {
            let Some(current) = model.take() else { return };
            let batch =
                kindling_data::SentimentBatch { ids: ids.clone(), lengths: lengths.clone(), targets: targets.clone() };
            let output = current.forward_classification(batch);
            let grads = GradientsParams::from_grads(output.loss.backward(), &current);
            model = Some(optimizer.step(1e-3, current, grads));
            loss = output.loss.inner().into_scalar().elem::<f32>();
        }
        std::hint::black_box(loss);
    })
}

fn sentiment_infer<B: TrainingBackend>(args: &Args, device: &B::Device) -> Vec<f64> {
    let model = sentiment_config().init::<B>(device).valid();
    let ids = random_ids::<B::InnerBackend>(args.batch, device);
    let lengths = vec![TOKENS; args.batch];
    timed(args, || {
        let mut total = 0.0;
        for _ in 0..args.steps {
            if let Ok(logits) = model.forward(ids.clone(), &lengths) {
                total += sync(logits);
            }
        }
        std::hint::black_box(total);
    })
}

/// The shipped datasets of the workspace.
fn datasets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

fn cifar_pipeline<B: Backend>(args: &Args, device: &B::Device) -> Result<Vec<f64>, String> {
    let train =
        Cifar10Dataset::open(datasets_dir().join("cifar-10-subset"), Cifar10Split::Train).map_err(|e| e.to_string())?;
    let (mean, std) = train.channel_stats();
    let batcher = Cifar10Batcher::new(Normalization::new(mean, std)).with_augmentation(Augmentation::default(), 42);
    let mut next = 0;
    Ok(timed(args, || {
        let mut total = 0.0;
        for _ in 0..args.steps {
            let items = (0..args.batch).filter_map(|i| train.get((next + i) % train.len())).collect();
            next += args.batch;
            let batch: ImageBatch<B> = batcher.batch(items, device);
            total += sync(batch.images.narrow(0, 0, 1));
        }
        std::hint::black_box(total);
    }))
}

fn imdb_pipeline<B: Backend>(args: &Args, device: &B::Device) -> Result<Vec<f64>, String> {
    let corpus = CorpusFormat::Imdb.load(datasets_dir().join("imdb-sample")).map_err(|e| e.to_string())?;
    let tokenizer = TokenizerKind::EnglishWords;
    let tokens: Vec<Vec<String>> = corpus.train.iter().map(|e| tokenizer.tokenize(&e.text)).collect();
    let vocabulary =
        Vocabulary::build(tokens.iter().map(Vec::as_slice), VocabularySettings { min_frequency: 1, max_size: 25_000 });
    let mut next = 0;
    Ok(timed(args, || {
        let mut total = 0usize;
        for _ in 0..args.steps {
            let items: Vec<SentimentItem> = (0..args.batch)
                .map(|i| &corpus.train[(next + i) % corpus.train.len()])
                .map(|e| SentimentItem::encode(e, &tokenizer, &vocabulary, TOKENS))
                .collect();
            next += args.batch;
            let batch: kindling_data::SentimentBatch<B> = SentimentBatcher.batch(items, device);
            total += batch.lengths.len();
        }
        std::hint::black_box(total);
    }))
}

/// The process's peak resident memory (Linux: `VmHWM`).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
