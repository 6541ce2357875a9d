//! The settings of a sentiment-classifier training run, saved as `config.json`.

use burn::config::Config;
use kindling_data::{CorpusFormat, TokenizerKind, VocabularySettings};
use kindling_models::SentimentClassifierConfig;

use crate::{OptimizerSettings, TrainError};

/// Everything that determines a sentiment-classifier training run.
#[derive(Config, Debug, PartialEq)]
pub struct SentimentTrainingConfig {
    /// The corpus format the data directory holds.
    pub corpus: CorpusFormat,
    /// The model; its `vocab_size` is set from the vocabulary when the run starts.
    pub model: SentimentClassifierConfig,
    /// How documents become tokens.
    pub tokenizer: TokenizerKind,
    /// How the vocabulary is chosen from the training split.
    pub vocabulary: VocabularySettings,
    /// Tokens kept per document (the first ones); longer documents are cut.
    pub max_len: usize,
    /// The optimiser.
    pub optimizer: OptimizerSettings,
    /// The (constant) learning rate.
    pub learning_rate: f64,
    /// Documents per batch.
    pub batch_size: usize,
    /// Passes over the training split.
    pub epochs: usize,
    /// Seeds initialisation, the validation split, bucketing, shuffling and dropout.
    pub seed: u64,
    /// Clip the L2 norm of all gradients together to at most this
    /// (`torch.nn.utils.clip_grad_norm_`); `None`: no clipping.
    pub grad_clip_norm: Option<f32>,
    /// Fraction of the training split held out for validation after each epoch.
    #[config(default = 0.1)]
    pub validation_fraction: f64,
    /// Uses only the first N training documents after shuffling (quick experiments).
    pub train_limit: Option<usize>,
    /// The final model is the epoch with the lowest validation loss (its
    /// checkpoint), as PyTorch's recipes save it; `false`: the last epoch.
    #[config(default = true)]
    pub keep_best_epoch: bool,
}

impl SentimentTrainingConfig {
    /// The usual settings for `corpus`: its tokenizer, and a vocabulary and
    /// length that cover its documents.
    pub fn for_corpus(corpus: CorpusFormat, model: SentimentClassifierConfig) -> Self {
        let (tokenizer, max_len, max_size) = match corpus {
            CorpusFormat::Imdb | CorpusFormat::AclImdb => (TokenizerKind::EnglishWords, 400, 25_000),
            CorpusFormat::Uci => (TokenizerKind::EnglishWords, 64, 5_000),
            CorpusFormat::Nsmc => (TokenizerKind::Syllables, 150, 5_000),
        };
        Self::new(
            corpus,
            model,
            tokenizer,
            VocabularySettings { min_frequency: 2, max_size },
            max_len,
            OptimizerSettings::Adam,
            1e-3,
            64,
            5,
            42,
        )
    }

    /// Rejects values no run can use, naming the allowed range.
    pub fn validate(&self) -> Result<(), TrainError> {
        let invalid = |name, value: String, allowed| Err(TrainError::InvalidSetting { name, value, allowed });
        let m = &self.model;
        if self.batch_size == 0 {
            return invalid("batch-size", "0".into(), "must be at least 1");
        }
        if self.epochs == 0 {
            return invalid("epochs", "0".into(), "must be at least 1");
        }
        if self.max_len == 0 {
            return invalid("max-len", "0".into(), "must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return invalid("lr", self.learning_rate.to_string(), "must be a finite number above 0");
        }
        if let OptimizerSettings::Sgd { momentum } = self.optimizer
            && !(0.0..1.0).contains(&momentum)
        {
            return invalid("momentum", momentum.to_string(), "must be in [0, 1)");
        }
        if self.vocabulary.max_size < 3 {
            return invalid(
                "vocab-size",
                self.vocabulary.max_size.to_string(),
                "must be at least 3 (<pad>, <unk> and one token)",
            );
        }
        for (name, value) in [("hidden", m.hidden_size), ("embed", m.embed_dim), ("layers", m.num_layers)] {
            if value == 0 {
                return invalid(name, "0".into(), "must be at least 1");
            }
        }
        for (name, p) in [("dropout", m.dropout), ("rnn-dropout", m.recurrent_dropout)] {
            if !(0.0..1.0).contains(&p) {
                return invalid(name, p.to_string(), "must be in [0, 1)");
            }
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return invalid("validation-fraction", self.validation_fraction.to_string(), "must be in (0, 1)");
        }
        if let Some(clip) = self.grad_clip_norm
            && !(clip.is_finite() && clip > 0.0)
        {
            return invalid("clip-grad-norm", clip.to_string(), "must be a finite number above 0");
        }
        if self.train_limit == Some(0) {
            return invalid("train-limit", "0".into(), "must be at least 1 when given");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SentimentTrainingConfig {
        SentimentTrainingConfig::for_corpus(CorpusFormat::Uci, SentimentClassifierConfig::new(0))
    }

    #[test]
    fn defaults_are_valid_and_round_trip_through_json() {
        let c = config();
        c.validate().expect("valid");
        let back: SentimentTrainingConfig =
            serde_json::from_str(&serde_json::to_string(&c).expect("json")).expect("parse");
        assert_eq!(back, c);
    }

    #[test]
    fn out_of_range_settings_name_the_allowed_range() {
        let cases = [
            (SentimentTrainingConfig { batch_size: 0, ..config() }, "batch-size"),
            (SentimentTrainingConfig { max_len: 0, ..config() }, "max-len"),
            (SentimentTrainingConfig { learning_rate: -1e-3, ..config() }, "lr"),
            (SentimentTrainingConfig { grad_clip_norm: Some(0.0), ..config() }, "clip-grad-norm"),
            (SentimentTrainingConfig { validation_fraction: 1.0, ..config() }, "validation-fraction"),
            (
                SentimentTrainingConfig { model: SentimentClassifierConfig::new(0).with_hidden_size(0), ..config() },
                "hidden",
            ),
            (
                SentimentTrainingConfig { model: SentimentClassifierConfig::new(0).with_dropout(1.0), ..config() },
                "dropout",
            ),
        ];
        for (c, name) in cases {
            let err = c.validate().expect_err(name).to_string();
            assert!(err.contains(name) && err.contains("must"), "{err}");
        }
    }
}
