//! Training and evaluation of Kindling's models with burn-train.
//!
//! A run lives in one directory ([`RunDir`]): its settings, burn-train's
//! per-epoch checkpoints and metric logs, the final model and a
//! `report.json`. [`train_simple_cnn`] trains with burn-train's
//! `SupervisedTraining`, showing the terminal dashboard on a terminal and
//! plain progress lines elsewhere; with `resume` it continues from the newest
//! intact checkpoint. [`evaluate_run`] reloads a run and classifies a test
//! split. Everything is generic over the backend: the caller picks it.
//!
//! # Example
//!
//! ```no_run
//! use burn::backend::{Autodiff, NdArray};
//! use kindling_models::SimpleCnnConfig;
//! use kindling_train::{CnnTrainingConfig, CnnTrainingRequest, OptimizerSettings, train_simple_cnn};
//!
//! # fn main() -> Result<(), kindling_train::TrainError> {
//! let config = CnnTrainingConfig::new(SimpleCnnConfig::new(), OptimizerSettings::Adam, 1e-3, 64, 5, 42);
//! let request = CnnTrainingRequest {
//!     config,
//!     data_dir: "datasets/cifar-10-subset".into(),
//!     run_dir: "runs/cnn".into(),
//!     resume: false,
//! };
//! let report = train_simple_cnn::<Autodiff<NdArray>>(&request, Default::default(), &mut |m| eprintln!("{m}"))?;
//! println!("{}", report.test.to_table());
//! # Ok(())
//! # }
//! ```

mod atomic_recorder;
mod cnn;
mod config;
mod error;
mod evaluation;
mod grad_clipping;
mod renderer;
mod run_dir;
mod sentiment;
mod sentiment_config;
mod supervised;

pub use atomic_recorder::AtomicFileRecorder;
pub use cnn::{
    CnnTrainingRequest, ModelRecorder, TrainingReport, evaluate_run, evaluate_simple_cnn, load_simple_cnn,
    train_simple_cnn,
};
pub use config::{CnnTrainingConfig, OptimizerSettings};
pub use error::TrainError;
pub use evaluation::Evaluation;
pub use grad_clipping::GlobalNormClipping;
pub use renderer::PlainRenderer;
pub use run_dir::{RunDir, write_atomic};
pub use sentiment::{
    DocumentCounts, Prediction, SENTIMENT_CLASSES, SentimentPredictor, SentimentReport, SentimentTrainingRequest,
    evaluate_sentiment, evaluate_sentiment_run, split_validation, train_sentiment, vocabulary_path,
};
pub use sentiment_config::SentimentTrainingConfig;
