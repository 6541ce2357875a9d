//! Kindling's models, generic over any burn backend.
//!
//! - [`SimpleCnn`], built by [`SimpleCnnConfig`]: the PyTorch tutorial's
//!   CIFAR-10 classifier with identical layers, initialisation and flatten
//!   order.
//! - [`SentimentClassifier`], built by [`SentimentClassifierConfig`]:
//!   Embedding → RNN, LSTM or GRU → pooling over real steps → Linear; it runs
//!   on any [`RecurrentBackend`].
//!
//! With the `train` feature each model also implements burn-train's
//! `TrainStep` and `InferenceStep` on `kindling_data` batches.
//!
//! # Example
//!
//! ```
//! use burn::backend::NdArray;
//! use burn::tensor::{Distribution, Tensor};
//! use kindling_models::SimpleCnnConfig;
//!
//! let device = Default::default();
//! let model = SimpleCnnConfig::new().init::<NdArray>(&device);
//! let images = Tensor::<NdArray, 4>::random([8, 3, 32, 32], Distribution::Default, &device);
//! let logits = model.forward(images);
//! assert_eq!(logits.dims(), [8, 10]);
//! ```

mod sentiment_classifier;
mod simple_cnn;
#[cfg(feature = "train")]
mod train_step;

pub use sentiment_classifier::{
    Pooling, RecurrentCell, SentimentClassifier, SentimentClassifierConfig, SequenceEncoder,
};
pub use simple_cnn::{SimpleCnn, SimpleCnnConfig};

pub use kindling_layers::{RecurrentBackend, TrainingBackend};
