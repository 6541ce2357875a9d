//! Machinery shared by the recurrent layers: parameters of one direction of
//! one layer in PyTorch's layout, the fused input projection, length masks
//! and the layer/direction bookkeeping.

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Tensor, TensorData};

/// The parameters of one direction of one recurrent layer, laid out exactly
/// as PyTorch's `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}` and
/// `bias_hh_l{k}` (with `_reverse` for the backward direction): gates are
/// stacked along the first dimension in PyTorch's order.
#[derive(Module, Debug)]
pub struct DirectionWeights<B: Backend> {
    /// `[gates · hidden, input]`.
    pub weight_ih: Param<Tensor<B, 2>>,
    /// `[gates · hidden, hidden]`.
    pub weight_hh: Param<Tensor<B, 2>>,
    /// `[gates · hidden]`, absent when the layer has no bias.
    pub bias_ih: Option<Param<Tensor<B, 1>>>,
    /// `[gates · hidden]`, absent when the layer has no bias.
    pub bias_hh: Option<Param<Tensor<B, 1>>>,
}

impl<B: Backend> DirectionWeights<B> {
    /// PyTorch's initialisation: every parameter `U(−1/√hidden, 1/√hidden)`.
    pub fn new(gates: usize, input: usize, hidden: usize, bias: bool, device: &B::Device) -> Self {
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = Initializer::Uniform { min: -bound, max: bound };
        let rows = gates * hidden;
        let vector = || init.init_with([rows], Some(hidden), Some(rows), device);
        Self {
            weight_ih: init.init_with([rows, input], Some(input), Some(rows), device),
            weight_hh: init.init_with([rows, hidden], Some(hidden), Some(rows), device),
            bias_ih: bias.then(vector),
            bias_hh: bias.then(vector),
        }
    }

    /// The input contribution to the gates for every time step at once, in
    /// one matmul: `x · W_ihᵀ + b_ih (+ b_hh)`, `[T, B, in] → [T, B, gates·H]`.
    /// `include_hh_bias` folds `b_hh` in too, for cells where it is simply
    /// added (LSTM, RNN); GRU keeps part of it inside the reset product.
    pub fn project_input(&self, x: Tensor<B, 3>, include_hh_bias: bool) -> Tensor<B, 3> {
        let [t, b, input] = x.dims();
        let w = self.weight_ih.val();
        let rows = w.dims()[0];
        let mut projected = x.reshape([t * b, input]).matmul(w.transpose());
        if let Some(bias) = &self.bias_ih {
            projected = projected + bias.val().unsqueeze_dim(0);
        }
        if include_hh_bias && let Some(bias) = &self.bias_hh {
            projected = projected + bias.val().unsqueeze_dim(0);
        }
        projected.reshape([t, b, rows])
    }

    /// `h · W_hhᵀ`, `[B, H] → [B, gates·H]`.
    pub fn project_hidden(&self, h: Tensor<B, 2>) -> Tensor<B, 2> {
        h.matmul(self.weight_hh.val().transpose())
    }
}

/// Which samples are inside their length at one time step, `[B, H]`.
#[derive(Debug, Clone)]
pub(crate) struct StepMask<B: Backend> {
    /// True inside the sample's length: its state advances.
    pub(crate) keep: Tensor<B, 2, Bool>,
    /// 1 inside the sample's length, 0 in its padding: scales the output.
    pub(crate) scale: Tensor<B, 2>,
}

/// The masks of every step of a variable-length batch, built once per forward.
pub(crate) fn step_masks<B: Backend>(
    lengths: &[usize],
    steps: usize,
    hidden: usize,
    device: &B::Device,
) -> Vec<StepMask<B>> {
    let batch = lengths.len();
    let values: Vec<f32> = (0..steps)
        .flat_map(|t| lengths.iter().flat_map(move |&len| std::iter::repeat_n(if t < len { 1.0 } else { 0.0 }, hidden)))
        .collect();
    let all = Tensor::<B, 3>::from_data(TensorData::new(values, [steps, batch, hidden]), device);
    (0..steps)
        .map(|t| {
            let scale = all.clone().narrow(0, t, 1).reshape([batch, hidden]);
            StepMask { keep: scale.clone().greater_elem(0.5), scale }
        })
        .collect()
}

/// Why a recurrent layer's inputs cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrentError {
    /// The input's last dimension is not the configured `input_size`.
    #[error("input has {actual} features per step, the layer expects input_size = {expected}")]
    InputSize {
        /// `input_size` of the layer.
        expected: usize,
        /// The input's last dimension.
        actual: usize,
    },
    /// `lengths` has one entry per sample, each between 1 and the number of steps.
    #[error("lengths must hold {batch} values in 1..={steps}, got {lengths:?}")]
    Lengths {
        /// Samples in the batch.
        batch: usize,
        /// Steps in the padded input.
        steps: usize,
        /// The lengths given.
        lengths: Vec<usize>,
    },
    /// An initial state does not have the shape `[layers · directions, B, H]`.
    #[error("initial state has shape {actual:?}, expected {expected:?}")]
    StateShape {
        /// The required shape.
        expected: [usize; 3],
        /// The shape given.
        actual: [usize; 3],
    },
}

/// Checks `lengths` against the batch and step counts.
pub(crate) fn check_lengths(lengths: &[usize], batch: usize, steps: usize) -> Result<(), RecurrentError> {
    if lengths.len() != batch || lengths.iter().any(|&l| l == 0 || l > steps) {
        return Err(RecurrentError::Lengths { batch, steps, lengths: lengths.to_vec() });
    }
    Ok(())
}
