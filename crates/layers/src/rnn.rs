//! `nn.RNN` (Elman network, tanh or ReLU) with PyTorch's options, parameter
//! layout and semantics.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use kindling_kernels::{CellKind, RecurrentBackend};

use crate::recurrent::{RecurrentError, RecurrentStack, recurrent_config};

/// The activation of an [`Rnn`], PyTorch's `nonlinearity` argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RnnNonlinearity {
    /// `tanh` (PyTorch's default).
    #[default]
    Tanh,
    /// `relu`.
    Relu,
}

recurrent_config! {
    /// Builds an [`Rnn`]; the fields and defaults are `torch.nn.RNN`'s.
    RnnConfig {
        /// `h' = nonlinearity(W_ih x + b_ih + W_hh h + b_hh)`.
        #[config(default = "RnnNonlinearity::Tanh")]
        pub nonlinearity: RnnNonlinearity,
    }
}

/// A multi-layer, optionally bidirectional Elman RNN computing what
/// `torch.nn.RNN` computes, `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)` (or
/// ReLU), including on packed (variable-length) batches.
///
/// Per layer and direction the input projection of all time steps is one
/// matmul (both biases folded in); each step does one `[B, H] × [H, H]` matmul.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::{Distribution, Tensor};
/// use kindling_layers::{RnnConfig, RnnNonlinearity};
///
/// let device = Default::default();
/// // nn.RNN(10, 8, num_layers=2, nonlinearity="relu")
/// let rnn = RnnConfig::new(10, 8)
///     .with_num_layers(2)
///     .with_nonlinearity(RnnNonlinearity::Relu)
///     .init::<NdArray>(&device);
/// let x = Tensor::<NdArray, 3>::random([12, 4, 10], Distribution::Default, &device); // [time, batch, features]
/// let (output, h_n) = rnn.forward(x, None, None).unwrap();
/// assert_eq!(output.dims(), [12, 4, 8]);
/// assert_eq!(h_n.dims(), [2, 4, 8]);
/// ```
#[derive(Module, Debug)]
pub struct Rnn<B: Backend> {
    /// The layers (`weight_ih_l{k}` … in PyTorch's layout).
    pub stack: RecurrentStack<B>,
    #[module(skip)]
    nonlinearity: RnnNonlinearity,
}

impl RnnConfig {
    /// Creates the RNN with PyTorch's initialisation, `U(−1/√H, 1/√H)`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Rnn<B> {
        Rnn { stack: self.stack(self.nonlinearity.cell().gates(), device), nonlinearity: self.nonlinearity }
    }
}

impl RnnNonlinearity {
    /// The fused cell that applies this nonlinearity.
    fn cell(self) -> CellKind {
        match self {
            Self::Tanh => CellKind::RnnTanh,
            Self::Relu => CellKind::RnnRelu,
        }
    }
}

impl<B: RecurrentBackend> Rnn<B> {
    /// Runs the RNN: PyTorch's `output, h_n = rnn(input, h_0)`.
    ///
    /// - `input`: `[T, B, input_size]`, or `[B, T, input_size]` with `batch_first`.
    /// - `lengths`: each sample's number of real steps (`pack_padded_sequence`'s
    ///   semantics: zero output past the length, final state at the sample's
    ///   own last step, reverse direction starting there); `None`: full length.
    /// - `h_0`: initial state `[num_layers · directions, B, H]`; zeros when `None`.
    ///
    /// Returns `output` `[T, B, directions · H]` (or batch first) and `h_n`.
    ///
    /// # Errors
    ///
    /// A [`RecurrentError`] when the input's feature count, the lengths or
    /// the initial state's shape do not fit the layer.
    pub fn forward(
        &self,
        input: Tensor<B, 3>,
        lengths: Option<&[usize]>,
        h_0: Option<Tensor<B, 3>>,
    ) -> Result<(Tensor<B, 3>, Tensor<B, 3>), RecurrentError> {
        let (output, [h_n]) = self.stack.run(self.nonlinearity.cell(), input, lengths, h_0.map(|h| [h]))?;
        Ok((output, h_n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::TensorData;

    type B = NdArray<f32>;

    /// One step by hand: h' = act(W_ih x + b_ih + W_hh h + b_hh) with 1×1 weights.
    #[test]
    fn one_step_is_the_elman_update() {
        let device = Default::default();
        for (nonlinearity, expected) in [(RnnNonlinearity::Tanh, (-0.5f32).tanh()), (RnnNonlinearity::Relu, 0.0)] {
            let mut rnn = RnnConfig::new(1, 1).with_nonlinearity(nonlinearity).init::<B>(&device);
            let w = &mut rnn.stack.layers[0].forward;
            let scalar = |v: f32| burn::module::Param::from_tensor(Tensor::<B, 1>::from_floats([v], &device));
            w.weight_ih = burn::module::Param::from_tensor(Tensor::from_floats([[2.0]], &device));
            w.weight_hh = burn::module::Param::from_tensor(Tensor::from_floats([[3.0]], &device));
            w.bias_ih = Some(scalar(0.25));
            w.bias_hh = Some(scalar(-0.25));
            let x = Tensor::<B, 3>::from_data(TensorData::new(vec![-0.5f32], [1, 1, 1]), &device);
            let h0 = Tensor::<B, 3>::from_data(TensorData::new(vec![0.1666_6667f32], [1, 1, 1]), &device);
            // 2·(−0.5) + 0.25 + 3·(1/6) − 0.25 = −0.5
            let (out, h_n) = rnn.forward(x, None, Some(h0)).expect("valid");
            let out: Vec<f32> = out.into_data().to_vec().expect("floats");
            let h_n: Vec<f32> = h_n.into_data().to_vec().expect("floats");
            assert!((out[0] - expected).abs() < 1e-6, "{nonlinearity:?}: {} vs {expected}", out[0]);
            assert_eq!(out, h_n);
        }
    }

    #[test]
    fn nonlinearity_is_written_as_pytorch_spells_it() {
        let config = RnnConfig::new(3, 4).with_nonlinearity(RnnNonlinearity::Relu);
        let json = serde_json::to_string(&config).expect("serialises");
        assert!(json.contains("\"nonlinearity\":\"relu\""), "{json}");
    }
}
