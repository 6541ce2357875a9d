//! `nn.LSTM` with PyTorch's options, parameter layout and semantics.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use kindling_kernels::{CellKind, RecurrentBackend};

use crate::recurrent::{RecurrentError, RecurrentStack, recurrent_config};

recurrent_config! {
    /// Builds an [`Lstm`]; the fields and defaults are `torch.nn.LSTM`'s.
    LstmConfig {}
}

/// A multi-layer, optionally bidirectional LSTM, computing what
/// `torch.nn.LSTM` computes, including on packed (variable-length) batches:
///
/// ```text
/// i = σ(W_ii x + b_ii + W_hi h + b_hi)    f = σ(W_if x + b_if + W_hf h + b_hf)
/// g = tanh(W_ig x + b_ig + W_hg h + b_hg) o = σ(W_io x + b_io + W_ho h + b_ho)
/// c' = f ⊙ c + i ⊙ g                      h' = o ⊙ tanh(c')
/// ```
///
/// Per layer and direction the input projection of all time steps is one
/// matmul (with both biases folded in); each step then does one
/// `[B, H] × [H, 4H]` matmul and the gate arithmetic.
#[derive(Module, Debug)]
pub struct Lstm<B: Backend> {
    /// The layers (`weight_ih_l{k}` … in PyTorch's layout, gates i, f, g, o).
    pub stack: RecurrentStack<B>,
}

/// The hidden and cell states, each `[num_layers · directions, batch, hidden]`,
/// ordered layer by layer, forward direction before reverse (PyTorch's order).
#[derive(Debug, Clone)]
pub struct LstmState<B: Backend> {
    /// `h`.
    pub hidden: Tensor<B, 3>,
    /// `c`.
    pub cell: Tensor<B, 3>,
}

impl LstmConfig {
    /// Creates the LSTM with PyTorch's initialisation, `U(−1/√H, 1/√H)`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Lstm<B> {
        Lstm { stack: self.stack(CellKind::Lstm.gates(), device) }
    }
}

impl<B: RecurrentBackend> Lstm<B> {
    /// Runs the LSTM: PyTorch's `output, (h_n, c_n) = lstm(input, (h_0, c_0))`.
    ///
    /// - `input`: `[T, B, input_size]`, or `[B, T, input_size]` with `batch_first`.
    /// - `lengths`: each sample's number of real steps (the equivalent of
    ///   `pack_padded_sequence`). Output past a sample's length is zero, its
    ///   final state is the one at its own last step, and the reverse
    ///   direction starts there. `None` means every sample is full length.
    /// - `state`: initial `h_0`, `c_0`; zeros when `None`.
    ///
    /// Returns `output` `[T, B, directions · H]` (or batch first) and the
    /// final states.
    ///
    /// # Errors
    ///
    /// A [`RecurrentError`] when the input's feature count, the lengths or
    /// the initial state's shape do not fit the layer.
    pub fn forward(
        &self,
        input: Tensor<B, 3>,
        lengths: Option<&[usize]>,
        state: Option<LstmState<B>>,
    ) -> Result<(Tensor<B, 3>, LstmState<B>), RecurrentError> {
        let initial = state.map(|s| [s.hidden, s.cell]);
        let (output, [hidden, cell]) = self.stack.run(CellKind::Lstm, input, lengths, initial)?;
        Ok((output, LstmState { hidden, cell }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::Distribution;

    type B = NdArray<f32>;

    fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().to_vec().expect("floats")
    }

    #[test]
    fn shapes_follow_pytorch() {
        let device = Default::default();
        let lstm = LstmConfig::new(3, 5).with_num_layers(2).with_bidirectional(true).init::<B>(&device);
        let x = Tensor::<B, 3>::random([7, 4, 3], Distribution::Default, &device);
        let (out, state) = lstm.forward(x, None, None).expect("valid");
        assert_eq!(out.dims(), [7, 4, 10]);
        assert_eq!(state.hidden.dims(), [4, 4, 5]);
        assert_eq!(state.cell.dims(), [4, 4, 5]);
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let device = Default::default();
        let lstm = LstmConfig::new(3, 5).with_batch_first(true).init::<B>(&device);
        let x = || Tensor::<B, 3>::zeros([2, 4, 3], &device);
        let wrong_features = lstm.forward(Tensor::zeros([2, 4, 6], &device), None, None).expect_err("6 features");
        assert_eq!(wrong_features, RecurrentError::InputSize { expected: 3, actual: 6 });
        assert!(matches!(lstm.forward(x(), Some(&[4]), None), Err(RecurrentError::Lengths { .. })));
        assert!(matches!(lstm.forward(x(), Some(&[4, 0]), None), Err(RecurrentError::Lengths { .. })));
        assert!(matches!(lstm.forward(x(), Some(&[5, 1]), None), Err(RecurrentError::Lengths { .. })));
        let state = LstmState { hidden: Tensor::zeros([1, 3, 5], &device), cell: Tensor::zeros([1, 3, 5], &device) };
        let err = lstm.forward(x(), None, Some(state)).expect_err("batch 3 state for batch 2");
        assert_eq!(err.to_string(), "initial state has shape [1, 3, 5], expected [1, 2, 5]");
    }

    #[test]
    fn initialisation_is_pytorch_uniform() {
        let device = Default::default();
        let lstm = LstmConfig::new(8, 64).init::<B>(&device);
        let w = values(lstm.stack.layers[0].forward.weight_hh.val());
        assert_eq!(w.len(), 4 * 64 * 64);
        let bound = 1.0 / 8.0; // 1/sqrt(64)
        assert!(w.iter().all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| *v > 0.95 * bound) && w.iter().any(|v| *v < -0.95 * bound));
    }
}
