//! The settings of a training run, saved as `config.json` in its directory.

use burn::config::Config;
use kindling_data::{Augmentation, Normalization};
use kindling_models::SimpleCnnConfig;
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// The optimiser and its hyper-parameters, with PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum OptimizerSettings {
    /// `torch.optim.Adam(lr, betas=(0.9, 0.999), eps=1e-8)`.
    Adam,
    /// `torch.optim.SGD(lr, momentum)`, no dampening, not Nesterov.
    Sgd {
        /// The momentum factor (0 disables momentum).
        momentum: f64,
    },
}

/// Everything that determines a CIFAR-10 `SimpleCnn` training run.
#[derive(Config, Debug, PartialEq)]
pub struct CnnTrainingConfig {
    /// The model.
    pub model: SimpleCnnConfig,
    /// The optimiser.
    pub optimizer: OptimizerSettings,
    /// The (constant) learning rate.
    pub learning_rate: f64,
    /// Images per batch.
    pub batch_size: usize,
    /// Passes over the training split.
    pub epochs: usize,
    /// Seeds parameter initialisation, shuffling and augmentation.
    pub seed: u64,
    /// Training augmentation; `None` trains on the images as they are.
    pub augmentation: Option<Augmentation>,
    /// Input normalisation, computed from the training split when the run starts.
    pub normalization: Option<Normalization>,
    /// Background threads preparing batches. One keeps the batch order, and
    /// so the whole run, reproducible; more overlap faster but interleave.
    #[config(default = 1)]
    pub data_workers: usize,
    /// Uses only the first N training images (quick experiments).
    pub train_limit: Option<usize>,
}

impl CnnTrainingConfig {
    /// Rejects values no run can use, naming the allowed range.
    pub fn validate(&self) -> Result<(), TrainError> {
        let invalid = |name, value: String, allowed| Err(TrainError::InvalidSetting { name, value, allowed });
        if self.batch_size == 0 {
            return invalid("batch-size", self.batch_size.to_string(), "must be at least 1");
        }
        if self.epochs == 0 {
            return invalid("epochs", self.epochs.to_string(), "must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return invalid("lr", self.learning_rate.to_string(), "must be a finite number above 0");
        }
        if let OptimizerSettings::Sgd { momentum } = self.optimizer
            && !(0.0..1.0).contains(&momentum)
        {
            return invalid("momentum", momentum.to_string(), "must be in [0, 1)");
        }
        if self.data_workers == 0 {
            return invalid("workers", self.data_workers.to_string(), "must be at least 1");
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

    fn config() -> CnnTrainingConfig {
        CnnTrainingConfig::new(SimpleCnnConfig::new(), OptimizerSettings::Adam, 1e-3, 64, 5, 42)
    }

    #[test]
    fn defaults_are_valid_and_round_trip_through_json() {
        let c = config();
        c.validate().expect("valid");
        let json = serde_json::to_string(&c).expect("serialise");
        let back: CnnTrainingConfig = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, c);
    }

    #[test]
    fn out_of_range_settings_name_the_allowed_range() {
        let cases = [
            (CnnTrainingConfig { batch_size: 0, ..config() }, "batch-size"),
            (CnnTrainingConfig { epochs: 0, ..config() }, "epochs"),
            (CnnTrainingConfig { learning_rate: -0.1, ..config() }, "lr"),
            (CnnTrainingConfig { learning_rate: f64::NAN, ..config() }, "lr"),
            (CnnTrainingConfig { optimizer: OptimizerSettings::Sgd { momentum: 1.5 }, ..config() }, "momentum"),
            (config().with_data_workers(0), "workers"),
        ];
        for (c, name) in cases {
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(name) && err.contains("must"), "{err}");
        }
    }
}
