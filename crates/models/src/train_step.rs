//! burn-train integration: how each model computes its loss on a batch.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use kindling_data::{ImageBatch, SentimentBatch};
use kindling_layers::RecurrentBackend;

use crate::{SentimentClassifier, SimpleCnn};

impl<B: Backend> SimpleCnn<B> {
    /// Logits and the mean cross-entropy loss (PyTorch's `nn.CrossEntropyLoss()`).
    pub fn forward_classification(&self, batch: ImageBatch<B>) -> ClassificationOutput<B> {
        let output = self.forward(batch.images);
        let loss = CrossEntropyLossConfig::new().init(&output.device()).forward(output.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, output, batch.targets)
    }
}

impl<B: AutodiffBackend> TrainStep for SimpleCnn<B> {
    type Input = ImageBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: ImageBatch<B>) -> TrainOutput<ClassificationOutput<B>> {
        let item = self.forward_classification(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl<B: Backend> InferenceStep for SimpleCnn<B> {
    type Input = ImageBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: ImageBatch<B>) -> ClassificationOutput<B> {
        self.forward_classification(batch)
    }
}

impl<B: RecurrentBackend> SentimentClassifier<B> {
    /// Logits and the mean cross-entropy loss on a padded batch.
    pub fn forward_classification(&self, batch: SentimentBatch<B>) -> ClassificationOutput<B> {
        let output = self.forward(batch.ids, &batch.lengths).expect("the batcher's lengths fit its batch");
        let loss = CrossEntropyLossConfig::new().init(&output.device()).forward(output.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, output, batch.targets)
    }
}

impl<B: AutodiffBackend + RecurrentBackend> TrainStep for SentimentClassifier<B> {
    type Input = SentimentBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: SentimentBatch<B>) -> TrainOutput<ClassificationOutput<B>> {
        let item = self.forward_classification(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl<B: RecurrentBackend> InferenceStep for SentimentClassifier<B> {
    type Input = SentimentBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: SentimentBatch<B>) -> ClassificationOutput<B> {
        self.forward_classification(batch)
    }
}
