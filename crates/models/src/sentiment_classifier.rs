//! The sentiment classifier of the PyTorch tutorial: Embedding → recurrent
//! layer → pooling over the real time steps → dropout → Linear.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use kindling_layers::{
    Gru, GruConfig, Linear, LinearConfig, Lstm, LstmConfig, RecurrentBackend, RecurrentError, RecurrentStack, Rnn,
    RnnConfig, RnnNonlinearity,
};
use serde::{Deserialize, Serialize};

/// Which recurrent layer reads the embedded tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecurrentCell {
    /// `nn.RNN` with tanh: the plain recurrence, prone to vanishing gradients.
    Rnn,
    /// `nn.LSTM`.
    Lstm,
    /// `nn.GRU`.
    Gru,
}

/// How the recurrent outputs of a document become one feature vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The last layer's final state: the forward direction at each document's
    /// own last token and, if bidirectional, the reverse direction after it
    /// read back to the first token (`torch.cat((h_n[-2], h_n[-1]), 1)`).
    Last,
    /// The mean of the outputs over each document's real tokens.
    Mean,
    /// The element-wise maximum of the outputs over each document's real tokens.
    Max,
}

/// Builds a [`SentimentClassifier`].
#[derive(Config, Debug, PartialEq)]
pub struct SentimentClassifierConfig {
    /// Rows of the embedding: the vocabulary size, `<pad>` (id 0) included.
    pub vocab_size: usize,
    /// Features per token embedding.
    #[config(default = 128)]
    pub embed_dim: usize,
    /// Hidden features of the recurrent layer (per direction).
    #[config(default = 128)]
    pub hidden_size: usize,
    /// Stacked recurrent layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Read each document in both directions.
    #[config(default = false)]
    pub bidirectional: bool,
    /// The recurrent layer.
    #[config(default = "RecurrentCell::Lstm")]
    pub cell: RecurrentCell,
    /// Dropout between stacked recurrent layers (PyTorch's `dropout` argument).
    #[config(default = 0.0)]
    pub recurrent_dropout: f64,
    /// Dropout on the pooled features, before the classifier.
    #[config(default = 0.5)]
    pub dropout: f64,
    /// How the outputs are pooled.
    #[config(default = "Pooling::Last")]
    pub pooling: Pooling,
    /// Output classes.
    #[config(default = 2)]
    pub num_classes: usize,
}

/// The recurrent layer of a [`SentimentClassifier`].
#[derive(Module, Debug)]
pub enum SequenceEncoder<B: Backend> {
    /// [`Rnn`] (tanh).
    Rnn(Rnn<B>),
    /// [`Lstm`].
    Lstm(Lstm<B>),
    /// [`Gru`].
    Gru(Gru<B>),
}

impl<B: RecurrentBackend> SequenceEncoder<B> {
    /// The layers and their weights.
    pub fn stack(&self) -> &RecurrentStack<B> {
        match self {
            Self::Rnn(m) => &m.stack,
            Self::Lstm(m) => &m.stack,
            Self::Gru(m) => &m.stack,
        }
    }

    /// `output` `[B, T, D·H]` (batch first) and `h_n` `[layers·D, B, H]`.
    fn forward(&self, x: Tensor<B, 3>, lengths: &[usize]) -> Result<(Tensor<B, 3>, Tensor<B, 3>), RecurrentError> {
        match self {
            Self::Rnn(m) => m.forward(x, Some(lengths), None),
            Self::Lstm(m) => m.forward(x, Some(lengths), None).map(|(out, state)| (out, state.hidden)),
            Self::Gru(m) => m.forward(x, Some(lengths), None),
        }
    }
}

/// `Embedding(vocab, E, padding_idx=0) → Rnn|Lstm|Gru → pooling → Dropout → Linear(D·H → classes)`.
///
/// Documents come as padded id tensors with their lengths; padding never
/// reaches the result (the recurrent layer stops at each length, pooling
/// reads only real steps), so the `<pad>` embedding receives no gradient and
/// stays zero, as with PyTorch's `padding_idx`.
#[derive(Module, Debug)]
pub struct SentimentClassifier<B: Backend> {
    /// Token embeddings, `[vocab, E]`; row 0 (`<pad>`) starts at zero.
    pub embedding: Embedding<B>,
    /// The recurrent layer.
    pub rnn: SequenceEncoder<B>,
    /// Dropout before the classifier.
    pub dropout: Dropout,
    /// The classifier.
    pub fc: Linear<B>,
    #[module(skip)]
    pooling: Pooling,
}

impl SentimentClassifierConfig {
    /// Creates the model with PyTorch's initialisation (`N(0, 1)` embeddings
    /// with a zero `<pad>` row, `U(±1/√H)` recurrent weights, kaiming-uniform Linear).
    pub fn init<B: Backend>(&self, device: &B::Device) -> SentimentClassifier<B> {
        let embedding = EmbeddingConfig::new(self.vocab_size, self.embed_dim).init::<B>(device);
        let embed_dim = self.embed_dim;
        let weight =
            embedding.weight.map(|w| w.slice_assign([0..1, 0..embed_dim], Tensor::zeros([1, embed_dim], device)));
        let (input, hidden, layers, both, between) =
            (self.embed_dim, self.hidden_size, self.num_layers, self.bidirectional, self.recurrent_dropout);
        // The three configs share their fields (one macro defines them) but not a type.
        let rnn = match self.cell {
            RecurrentCell::Rnn => SequenceEncoder::Rnn(
                RnnConfig::new(input, hidden)
                    .with_nonlinearity(RnnNonlinearity::Tanh)
                    .with_num_layers(layers)
                    .with_bidirectional(both)
                    .with_dropout(between)
                    .with_batch_first(true)
                    .init(device),
            ),
            RecurrentCell::Lstm => SequenceEncoder::Lstm(
                LstmConfig::new(input, hidden)
                    .with_num_layers(layers)
                    .with_bidirectional(both)
                    .with_dropout(between)
                    .with_batch_first(true)
                    .init(device),
            ),
            RecurrentCell::Gru => SequenceEncoder::Gru(
                GruConfig::new(input, hidden)
                    .with_num_layers(layers)
                    .with_bidirectional(both)
                    .with_dropout(between)
                    .with_batch_first(true)
                    .init(device),
            ),
        };
        let directions = if self.bidirectional { 2 } else { 1 };
        SentimentClassifier {
            embedding: Embedding { weight },
            rnn,
            dropout: DropoutConfig::new(self.dropout).init(),
            fc: LinearConfig::new(directions * self.hidden_size, self.num_classes).init(device),
            pooling: self.pooling,
        }
    }
}

impl<B: RecurrentBackend> SentimentClassifier<B> {
    /// Logits `[batch, classes]` for padded token ids `[batch, T]` and each
    /// document's length.
    ///
    /// # Errors
    ///
    /// A [`RecurrentError`] when `lengths` does not fit the batch (one per
    /// document, each in `1..=T`).
    pub fn forward(&self, ids: Tensor<B, 2, Int>, lengths: &[usize]) -> Result<Tensor<B, 2>, RecurrentError> {
        let [batch, steps] = ids.dims();
        let device = ids.device();
        let (output, h_n) = self.rnn.forward(self.embedding.forward(ids), lengths)?;
        let stack = self.rnn.stack();
        let (directions, hidden) = (stack.directions(), stack.hidden_size());
        let width = directions * hidden;
        let features = match self.pooling {
            Pooling::Last => {
                let layers = h_n.dims()[0] / directions;
                h_n.narrow(0, (layers - 1) * directions, directions).swap_dims(0, 1).reshape([batch, width])
            }
            Pooling::Mean => {
                // Outputs past a document's length are zero, so the sum is over real steps.
                let counts: Vec<f32> = lengths.iter().map(|&l| l as f32).collect();
                let counts = Tensor::<B, 2>::from_data(TensorData::new(counts, [batch, 1]), &device);
                output.sum_dim(1).reshape([batch, width]) / counts
            }
            Pooling::Max => {
                let padded: Vec<bool> = lengths.iter().flat_map(|&l| (0..steps).map(move |t| t >= l)).collect();
                let padded =
                    Tensor::<B, 2, burn::tensor::Bool>::from_data(TensorData::new(padded, [batch, steps]), &device);
                let padded = padded.unsqueeze_dim::<3>(2).expand([batch, steps, width]);
                output.mask_fill(padded, f32::NEG_INFINITY).max_dim(1).reshape([batch, width])
            }
        };
        Ok(self.fc.forward(self.dropout.forward(features)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f32>;

    fn ids(rows: &[&[i64]]) -> Tensor<B, 2, Int> {
        let width = rows[0].len();
        let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), width]), &Default::default())
    }

    fn logits(t: Tensor<B, 2>) -> Vec<f32> {
        t.into_data().to_vec().expect("floats")
    }

    #[test]
    fn every_cell_and_pooling_ignores_padding() {
        for cell in [RecurrentCell::Rnn, RecurrentCell::Lstm, RecurrentCell::Gru] {
            for pooling in [Pooling::Last, Pooling::Mean, Pooling::Max] {
                for bidirectional in [false, true] {
                    let model = SentimentClassifierConfig::new(20)
                        .with_embed_dim(6)
                        .with_hidden_size(5)
                        .with_num_layers(2)
                        .with_bidirectional(bidirectional)
                        .with_cell(cell)
                        .with_pooling(pooling)
                        .init::<B>(&Default::default());
                    let alone = logits(model.forward(ids(&[&[3, 4, 5]]), &[3]).expect("valid"));
                    // The same document padded, and padded with junk ids: the same logits.
                    let padded = logits(model.forward(ids(&[&[3, 4, 5, 0, 0]]), &[3]).expect("valid"));
                    let junk = logits(model.forward(ids(&[&[3, 4, 5, 17, 9]]), &[3]).expect("valid"));
                    for other in [padded, junk] {
                        assert!(alone.iter().zip(&other).all(|(a, b)| (a - b).abs() < 1e-6), "{cell:?} {pooling:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn padding_row_starts_at_zero_and_shapes_fit() {
        let model = SentimentClassifierConfig::new(50)
            .with_embed_dim(8)
            .with_bidirectional(true)
            .init::<B>(&Default::default());
        let rows: Vec<f32> = model.embedding.weight.val().narrow(0, 0, 2).into_data().to_vec().expect("floats");
        assert!(rows[..8].iter().all(|&v| v == 0.0) && rows[8..].iter().any(|&v| v != 0.0));
        assert_eq!(model.forward(ids(&[&[1, 2], &[3, 0]]), &[2, 1]).expect("valid").dims(), [2, 2]);
        assert!(model.forward(ids(&[&[1, 2]]), &[3]).is_err());
    }
}
