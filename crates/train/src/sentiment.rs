//! Training, evaluating and using the sentiment classifier.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, Optimizer, SgdConfig};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use kindling_data::{
    LengthBuckets, SentimentBatch, SentimentBatcher, SentimentExample, SentimentItem, Tokenizer, Vocabulary,
    bucket_indices, mix_seed,
};
use kindling_models::{RecurrentBackend, SentimentClassifier, TrainingBackend};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::GlobalNormClipping;
use crate::supervised::{
    Fit, best_epoch, launch, load_checkpoint, load_model, prepare_run_dir, resume_point, save_model, stored_config,
};
use crate::{Evaluation, OptimizerSettings, RunDir, SentimentTrainingConfig, TrainError};

/// The class names of every sentiment corpus, index = label.
pub const SENTIMENT_CLASSES: [&str; 2] = ["negative", "positive"];

/// What to train, on what, and where to write it.
#[derive(Debug, Clone)]
pub struct SentimentTrainingRequest {
    /// The run's settings.
    pub config: SentimentTrainingConfig,
    /// The corpus directory, in the format `config.corpus` names.
    pub data_dir: PathBuf,
    /// The run directory (created if needed).
    pub run_dir: PathBuf,
    /// Continue the run in `run_dir` from its newest intact checkpoint.
    pub resume: bool,
}

/// The summary of a finished sentiment run, saved as `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentimentReport {
    /// `"sentiment-<cell>"`.
    pub model: String,
    /// The backend and device, as burn names them.
    pub backend: String,
    /// Epochs the run consists of.
    pub epochs: usize,
    /// The checkpoint the run resumed from, if it did.
    pub resumed_from_epoch: Option<usize>,
    /// Documents trained on per epoch, held out for validation, and tested.
    pub documents: DocumentCounts,
    /// Entries of the vocabulary, `<pad>` and `<unk>` included.
    pub vocabulary_size: usize,
    /// Fraction of training tokens outside the vocabulary.
    pub unknown_token_rate: f64,
    /// Wall time of the epochs this invocation ran, in seconds.
    pub train_seconds: f64,
    /// `train_seconds` divided by the epochs this invocation ran.
    pub seconds_per_epoch: Option<f64>,
    /// The epoch whose weights are the final model (the lowest validation
    /// loss, or the last epoch; see `keep_best_epoch`).
    pub final_epoch: usize,
    /// That epoch's mean validation loss, when it was logged.
    pub final_validation_loss: Option<f64>,
    /// The final model on the test split.
    pub test: Evaluation,
}

/// How many documents each split holds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct DocumentCounts {
    /// Training documents.
    pub train: usize,
    /// Validation documents (held out of the training split).
    pub validation: usize,
    /// Test documents.
    pub test: usize,
}

/// `vocabulary.json` in the run directory.
pub fn vocabulary_path(run: &RunDir) -> PathBuf {
    run.root().join("vocabulary.json")
}

/// Splits `examples` into training and validation parts from a seeded
/// shuffle: the same seed always holds out the same documents.
pub fn split_validation(
    mut examples: Vec<SentimentExample>,
    fraction: f64,
    seed: u64,
) -> (Vec<SentimentExample>, Vec<SentimentExample>) {
    examples.shuffle(&mut StdRng::seed_from_u64(mix_seed(&[seed, 0x5eed_0001])));
    let held_out =
        ((examples.len() as f64 * fraction).round() as usize).clamp(1, examples.len().saturating_sub(1).max(1));
    let validation = examples.split_off(examples.len() - held_out.min(examples.len()));
    (examples, validation)
}

/// Trains the sentiment classifier as `request` says, writes the run
/// directory (including `vocabulary.json`), and returns the report.
pub fn train_sentiment<B: TrainingBackend>(
    request: &SentimentTrainingRequest,
    device: B::Device,
    notify: &mut dyn FnMut(&str),
) -> Result<SentimentReport, TrainError> {
    let mut config = request.config.clone();
    config.validate()?;
    let run = RunDir::new(&request.run_dir);

    let corpus = config.corpus.load(&request.data_dir)?;
    let (mut train, validation) = split_validation(corpus.train, config.validation_fraction, config.seed);
    if let Some(limit) = config.train_limit {
        train.truncate(limit);
    }
    let tokenizer = config.tokenizer;
    let train_tokens: Vec<Vec<String>> = train.iter().map(|e| tokenizer.tokenize(&e.text)).collect();
    let vocabulary = Vocabulary::build(train_tokens.iter().map(Vec::as_slice), config.vocabulary);
    config.model.vocab_size = vocabulary.len();
    let total: usize = train_tokens.iter().map(Vec::len).sum();
    let unknown = train_tokens.iter().flatten().filter(|t| vocabulary.id(t) == kindling_data::UNK_ID).count();
    let items: Vec<SentimentItem> = train_tokens
        .iter()
        .zip(&train)
        .map(|(tokens, e)| SentimentItem::from_tokens(tokens, e.label, &vocabulary, config.max_len))
        .collect();
    let encode = |examples: &[SentimentExample]| -> Vec<SentimentItem> {
        examples.iter().map(|e| SentimentItem::encode(e, &tokenizer, &vocabulary, config.max_len)).collect()
    };
    let (validation, test) = (encode(&validation), encode(&corpus.test));
    notify(&format!(
        "{} corpus: {} training, {} validation, {} test documents; vocabulary of {} tokens ({:.1} % of training tokens unknown)",
        config.corpus.name(),
        items.len(),
        validation.len(),
        test.len(),
        vocabulary.len(),
        100.0 * unknown as f64 / total.max(1) as f64
    ));

    prepare_run_dir(&run, &config, request.resume, &[])?;
    run.write_json(&run.config_path(), &config)?;
    let vocab_file = vocabulary_path(&run);
    vocabulary.save(&vocab_file)?;

    B::seed(&device, config.seed);
    let model = config.model.init::<B>(&device);
    let documents = DocumentCounts { train: items.len(), validation: validation.len(), test: test.len() };
    let started = Instant::now();
    let clip = config.grad_clip_norm;
    let (items, validation) = (Arc::new(items), Arc::new(validation));
    let (model, start_epoch) = match config.optimizer {
        OptimizerSettings::Adam => {
            let optim = GlobalNormClipping::new(AdamConfig::new().with_epsilon(1e-8).init(), clip);
            fit(model, optim, &config, &run, items, validation, request.resume, &device, notify)
        }
        OptimizerSettings::Sgd { momentum } => {
            let momentum = (momentum > 0.0).then(|| MomentumConfig::new().with_momentum(momentum).with_dampening(0.0));
            let optim = GlobalNormClipping::new(SgdConfig::new().with_momentum(momentum).init(), clip);
            fit(model, optim, &config, &run, items, validation, request.resume, &device, notify)
        }
    };
    let train_seconds = started.elapsed().as_secs_f64();
    let epochs_run = config.epochs - start_epoch.unwrap_or(0).min(config.epochs);
    let mut final_epoch = config.epochs;
    let mut final_validation_loss = run.validation_losses().get(&final_epoch).copied();
    let mut model = model;
    if config.keep_best_epoch
        && let Some((epoch, loss)) = best_epoch(&run)
        && epoch != config.epochs
    {
        model = load_checkpoint(&run, epoch, config.model.init::<B::InnerBackend>(&device), &device)?;
        notify(&format!(
            "final model: epoch {epoch}, the lowest validation loss ({loss:.4}; epoch {}: {})",
            config.epochs,
            final_validation_loss.map_or("not logged".to_string(), |l| format!("{l:.4}"))
        ));
        (final_epoch, final_validation_loss) = (epoch, Some(loss));
    }

    save_model(&run, &model)?;
    let report = SentimentReport {
        model: format!(
            "sentiment-{}",
            serde_json::to_value(config.model.cell).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
        ),
        backend: <B::InnerBackend as Backend>::name(&device),
        epochs: config.epochs,
        resumed_from_epoch: start_epoch,
        documents,
        vocabulary_size: vocabulary.len(),
        unknown_token_rate: unknown as f64 / total.max(1) as f64,
        train_seconds,
        seconds_per_epoch: (epochs_run > 0).then(|| train_seconds / epochs_run as f64),
        final_epoch,
        final_validation_loss,
        test: evaluate_sentiment(&model, &test, config.batch_size, &device),
    };
    run.write_json(&run.report_path(), &report)?;
    Ok(report)
}

/// Builds the length-bucketed loaders and trains with `optimizer`.
#[allow(clippy::too_many_arguments)] // one private call site per optimiser
fn fit<B, O>(
    model: SentimentClassifier<B>,
    optimizer: O,
    config: &SentimentTrainingConfig,
    run: &RunDir,
    train: Arc<Vec<SentimentItem>>,
    validation: Arc<Vec<SentimentItem>>,
    resume: bool,
    device: &B::Device,
    notify: &mut dyn FnMut(&str),
) -> (SentimentClassifier<B::InnerBackend>, Option<usize>)
where
    B: TrainingBackend,
    O: Optimizer<SentimentClassifier<B>, B> + 'static,
{
    let start_epoch = resume_point::<B, SentimentClassifier<B>, O>(run, resume, device, notify);
    let done_epochs = start_epoch.unwrap_or(0) as u64;
    // Each loader item is a whole batch of similar-length documents; the
    // loader shuffles the order of those batches every epoch.
    let train_loader = DataLoaderBuilder::new(SentimentBatcher)
        .batch_size(1)
        .shuffle(mix_seed(&[config.seed, done_epochs]))
        .num_workers(1)
        .set_device(device.clone())
        .build(LengthBuckets::new(train, config.batch_size, config.seed));
    let valid_loader = DataLoaderBuilder::<B::InnerBackend, _, _>::new(SentimentBatcher)
        .batch_size(1)
        .num_workers(1)
        .set_device(device.clone())
        .build(LengthBuckets::new(validation, config.batch_size, config.seed));
    let fit = Fit { model, optimizer, learning_rate: config.learning_rate, epochs: config.epochs, start_epoch };
    (launch(run, fit, train_loader, valid_loader), start_epoch)
}

/// Classifies every item (in length-bucketed batches) and tallies the results.
pub fn evaluate_sentiment<B: RecurrentBackend>(
    model: &SentimentClassifier<B>,
    items: &[SentimentItem],
    batch_size: usize,
    device: &B::Device,
) -> Evaluation {
    let lengths: Vec<usize> = items.iter().map(|i| i.ids.len()).collect();
    let mut pairs = Vec::with_capacity(items.len());
    for batch in bucket_indices(&lengths, batch_size.max(1), 0) {
        let group: Vec<SentimentItem> = batch.iter().map(|&i| items[i].clone()).collect();
        let truths: Vec<usize> = group.iter().map(|i| usize::from(i.label)).collect();
        let batch: SentimentBatch<B> = SentimentBatcher.batch(group, device);
        let predicted = model
            .forward(batch.ids, &batch.lengths)
            .expect("the batcher's lengths fit its batch")
            .argmax(1)
            .flatten::<1>(0, 1);
        let predicted: Vec<i64> = predicted.into_data().convert::<i64>().to_vec().unwrap_or_default();
        pairs.extend(truths.into_iter().zip(predicted.into_iter().map(|p| p as usize)));
    }
    Evaluation::from_pairs(SENTIMENT_CLASSES.iter().map(|s| s.to_string()).collect(), pairs)
}

/// A trained sentiment classifier with its vocabulary, ready to classify text.
#[derive(Debug)]
pub struct SentimentPredictor<B: Backend> {
    model: SentimentClassifier<B>,
    vocabulary: Vocabulary,
    config: SentimentTrainingConfig,
}

/// The class of one text and the model's probability for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// `"negative"` or `"positive"`.
    pub label: &'static str,
    /// The softmax probability of `label`, 0.5–1.
    pub probability: f32,
}

impl<B: RecurrentBackend> SentimentPredictor<B> {
    /// Loads the model, settings and vocabulary of a finished run.
    ///
    /// # Errors
    ///
    /// A [`TrainError`] naming the missing or damaged file.
    pub fn load(run_dir: impl Into<PathBuf>, device: &B::Device) -> Result<Self, TrainError> {
        let run = RunDir::new(run_dir);
        let config: SentimentTrainingConfig = stored_config(&run)?;
        let vocabulary = Vocabulary::load(&vocabulary_path(&run))?;
        if vocabulary.len() != config.model.vocab_size {
            return Err(TrainError::BadRunFile {
                path: vocabulary_path(&run),
                what: "vocabulary of this run",
                message: format!(
                    "it holds {} tokens, the model has {} embeddings",
                    vocabulary.len(),
                    config.model.vocab_size
                ),
            });
        }
        let model = load_model(&run, config.model.init::<B>(device), device)?;
        Ok(Self { model, vocabulary, config })
    }

    /// Classifies each text (tokenized as in training, cut to the run's `max_len`).
    pub fn predict(&self, texts: &[String], device: &B::Device) -> Vec<Prediction> {
        let items: Vec<SentimentItem> = texts
            .iter()
            .map(|text| {
                let example = SentimentExample { text: text.clone(), label: 0 };
                SentimentItem::encode(&example, &self.config.tokenizer, &self.vocabulary, self.config.max_len)
            })
            .collect();
        let mut predictions = Vec::with_capacity(items.len());
        for chunk in items.chunks(self.config.batch_size.max(1)) {
            let batch: SentimentBatch<B> = SentimentBatcher.batch(chunk.to_vec(), device);
            let logits = self.model.forward(batch.ids, &batch.lengths).expect("the batcher's lengths fit its batch");
            let probabilities: Vec<f32> = softmax(logits, 1).into_data().convert::<f32>().to_vec().unwrap_or_default();
            predictions.extend(probabilities.chunks(2).map(|p| {
                let positive = p[1] >= p[0];
                Prediction { label: SENTIMENT_CLASSES[usize::from(positive)], probability: p[0].max(p[1]) }
            }));
        }
        predictions
    }

    /// The run's settings.
    pub fn config(&self) -> &SentimentTrainingConfig {
        &self.config
    }
}

/// Evaluates a finished sentiment run on the test split of its corpus in `data_dir`.
pub fn evaluate_sentiment_run<B: RecurrentBackend>(
    run_dir: &Path,
    data_dir: &Path,
    device: &B::Device,
) -> Result<Evaluation, TrainError> {
    let predictor = SentimentPredictor::<B>::load(run_dir, device)?;
    let config = predictor.config();
    let test = config.corpus.load(data_dir)?.test;
    let items: Vec<SentimentItem> = test
        .iter()
        .map(|e| SentimentItem::encode(e, &config.tokenizer, &predictor.vocabulary, config.max_len))
        .collect();
    Ok(evaluate_sentiment(&predictor.model, &items, config.batch_size, device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_split_is_seeded_and_loses_nothing() {
        let examples: Vec<SentimentExample> =
            (0..100).map(|i| SentimentExample { text: i.to_string(), label: (i % 2) as u8 }).collect();
        let (train, valid) = split_validation(examples.clone(), 0.1, 7);
        assert_eq!((train.len(), valid.len()), (90, 10));
        let (train2, valid2) = split_validation(examples.clone(), 0.1, 7);
        assert_eq!((&train, &valid), (&train2, &valid2));
        let mut all: Vec<String> = train.into_iter().chain(valid).map(|e| e.text).collect();
        all.sort();
        let mut expected: Vec<String> = examples.into_iter().map(|e| e.text).collect();
        expected.sort();
        assert_eq!(all, expected);
        assert_ne!(
            split_validation((0..100).map(|i| SentimentExample { text: i.to_string(), label: 0 }).collect(), 0.1, 8).1,
            valid2
        );
    }
}
