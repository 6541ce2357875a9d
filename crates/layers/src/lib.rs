//! Neural-network layers with PyTorch's semantics, on burn.
//!
//! Users who know `torch.nn` should find the same layers here with the same
//! defaults and the same numbers:
//!
//! | PyTorch | Kindling |
//! | --- | --- |
//! | `nn.Conv2d(c_in, c_out, k, padding=p)` | [`Conv2dConfig::new([c_in, c_out], [k, k])`](Conv2dConfig) with [`padding(p)`] |
//! | `nn.MaxPool2d(k, stride=s)` | [`MaxPool2dConfig::new([k, k])`](MaxPool2dConfig)`.with_strides([s, s])` (the stride defaults to `k`, as in PyTorch) |
//! | `nn.Linear(d_in, d_out)` | [`LinearConfig::new(d_in, d_out)`](LinearConfig) |
//! | `nn.ReLU()` | [`Relu`] |
//! | `nn.RNN(input, hidden, num_layers, nonlinearity, bias, batch_first, dropout, bidirectional)` | [`RnnConfig`] → [`Rnn`] |
//! | `nn.LSTM(input, hidden, num_layers, bias, batch_first, dropout, bidirectional)` | [`LstmConfig`] → [`Lstm`] |
//! | `nn.GRU(input, hidden, num_layers, bias, batch_first, dropout, bidirectional)` | [`GruConfig`] → [`Gru`] |
//!
//! The recurrent layers take an optional `lengths` argument that does what
//! `pack_padded_sequence` does, keep their parameters under PyTorch's names
//! and shapes (`weight_ih_l{k}[_reverse]` `[gates·H, in]`, …, gates in
//! PyTorch's order) and are checked against PyTorch itself, outputs and
//! gradients, by fixtures the repository's script writes with PyPI torch.
//!
//! Default initialisation is PyTorch's: weights are kaiming-uniform with
//! `a = √5` and biases are `U(−1/√fan_in, 1/√fan_in)`, which both reduce to
//! `U(−1/√fan_in, 1/√fan_in)`. The tests at the bottom of this file check
//! those bounds, so a change in burn's defaults cannot go unnoticed.
//!
//! # Example
//!
//! ```
//! use burn::backend::NdArray;
//! use burn::tensor::{Distribution, Tensor};
//! use kindling_layers::{Conv2dConfig, MaxPool2dConfig, padding};
//!
//! let device = Default::default();
//! // nn.Conv2d(3, 16, 3, padding=1) followed by nn.MaxPool2d(2, stride=2)
//! let conv = Conv2dConfig::new([3, 16], [3, 3])
//!     .with_padding(padding(1))
//!     .init::<NdArray>(&device);
//! let pool = MaxPool2dConfig::new([2, 2]).init();
//!
//! let x = Tensor::<NdArray, 4>::random([2, 3, 32, 32], Distribution::Default, &device);
//! let y = pool.forward(conv.forward(x));
//! assert_eq!(y.dims(), [2, 16, 16, 16]);
//! ```
//!
//! The LSTM of the sentiment tutorial (`nn.LSTM(10, 8, batch_first=True)`
//! returning `output, (h_n, c_n)`):
//!
//! ```
//! use burn::backend::NdArray;
//! use burn::tensor::{Distribution, Tensor};
//! use kindling_layers::{LstmConfig, LstmState};
//!
//! let device = Default::default();
//! let lstm = LstmConfig::new(10, 8).with_batch_first(true).init::<NdArray>(&device);
//! let x = Tensor::<NdArray, 3>::random([4, 12, 10], Distribution::Default, &device); // [batch, time, features]
//! let (output, LstmState { hidden: h_n, cell: c_n }) = lstm.forward(x, None, None).unwrap();
//! assert_eq!(output.dims(), [4, 12, 8]);
//! assert_eq!(h_n.dims(), [1, 4, 8]);
//! assert_eq!(c_n.dims(), [1, 4, 8]);
//!
//! // Variable lengths: sample 1 has only 5 real steps; its output past them is 0
//! // and its h_n is the state after step 5.
//! let x = Tensor::<NdArray, 3>::random([2, 12, 10], Distribution::Default, &device);
//! let (output, _) = lstm.forward(x, Some(&[12, 5]), None).unwrap();
//! assert_eq!(output.dims(), [2, 12, 8]);
//! ```

mod gru;
mod lstm;
mod recurrent;
mod rnn;

pub use gru::{Gru, GruConfig};
pub use lstm::{Lstm, LstmConfig, LstmState};
pub use recurrent::{DirectionWeights, RecurrentError, RecurrentLayer, RecurrentStack};
pub use rnn::{Rnn, RnnConfig, RnnNonlinearity};

/// Backends that run the recurrent layers' time loops as one fused operation.
pub use kindling_kernels::{RecurrentBackend, TrainingBackend};

pub use burn::nn::conv::{Conv2d, Conv2dConfig};
pub use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
pub use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};

/// The symmetric zero padding of PyTorch's `padding=p` argument for 2-D layers.
pub fn padding(p: usize) -> PaddingConfig2d {
    PaddingConfig2d::Explicit(p, p, p, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::{Tensor, backend::Backend};

    type B = NdArray<f32>;

    /// Every value lies inside `±bound` and the draws fill at least 90 % of
    /// that range, so a narrower or wider initialiser is caught.
    fn assert_uniform_within(values: &[f32], bound: f32) {
        let max = values.iter().fold(f32::MIN, |m, v| m.max(*v));
        let min = values.iter().fold(f32::MAX, |m, v| m.min(*v));
        assert!(max <= bound && min >= -bound, "[{min}, {max}] exceeds ±{bound}");
        assert!(max > 0.9 * bound && min < -0.9 * bound, "[{min}, {max}] too narrow for ±{bound}");
    }

    fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().to_vec().expect("f32 tensor")
    }

    #[test]
    fn conv2d_initialisation_matches_pytorch() {
        B::seed(&Default::default(), 7);
        let conv = Conv2dConfig::new([3, 16], [3, 3]).init::<B>(&Default::default());
        let bound = 1.0 / (3.0f32 * 9.0).sqrt();
        assert_uniform_within(&values(conv.weight.val()), bound);
        let bias = conv.bias.expect("bias on by default").val();
        // 16 draws: only check the bound, the fill test needs more samples.
        assert!(values(bias).iter().all(|v| v.abs() <= bound));
    }

    #[test]
    fn linear_initialisation_matches_pytorch() {
        B::seed(&Default::default(), 7);
        let linear = LinearConfig::new(4096, 10).init::<B>(&Default::default());
        let bound = 1.0 / 4096f32.sqrt();
        assert_uniform_within(&values(linear.weight.val()), bound);
        assert!(values(linear.bias.expect("bias").val()).iter().all(|v| v.abs() <= bound));
    }

    #[test]
    fn max_pool_stride_defaults_to_kernel_like_pytorch() {
        let pool = MaxPool2dConfig::new([2, 2]).init();
        assert_eq!(pool.stride, [2, 2]);
        let x = Tensor::<B, 4>::from_floats(
            [[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0], [0.0, 0.0, 9.0, 8.0], [0.0, -1.0, 7.0, 6.0]]]],
            &Default::default(),
        );
        assert_eq!(values(pool.forward(x)), vec![4.0, 5.0, 0.0, 9.0]);
    }

    #[test]
    fn padding_one_keeps_spatial_size_for_kernel_three() {
        let conv = Conv2dConfig::new([1, 2], [3, 3]).with_padding(padding(1)).init::<B>(&Default::default());
        let y = conv.forward(Tensor::zeros([1, 1, 5, 7], &Default::default()));
        assert_eq!(y.dims(), [1, 2, 5, 7]);
    }
}
