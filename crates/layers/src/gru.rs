//! `nn.GRU` with PyTorch's options, parameter layout and semantics.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use kindling_kernels::{CellKind, RecurrentBackend};

use crate::recurrent::{RecurrentError, RecurrentStack, recurrent_config};

recurrent_config! {
    /// Builds a [`Gru`]; the fields and defaults are `torch.nn.GRU`'s.
    GruConfig {}
}

/// A multi-layer, optionally bidirectional GRU computing what `torch.nn.GRU`
/// computes, including on packed (variable-length) batches:
///
/// ```text
/// r = σ(W_ir x + b_ir + W_hr h + b_hr)
/// z = σ(W_iz x + b_iz + W_hz h + b_hz)
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
/// h' = (1 − z) ⊙ n + z ⊙ h
/// ```
///
/// `b_hn` sits inside the reset product, as in PyTorch (and cuDNN), not
/// beside `b_in`. Per layer and direction the input projection of all time
/// steps is one matmul (with `b_ih`, `b_hr` and `b_hz` folded in); each step
/// does one `[B, H] × [H, 3H]` matmul and the gate arithmetic.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::{Distribution, Tensor};
/// use kindling_layers::GruConfig;
///
/// let device = Default::default();
/// // nn.GRU(10, 8, bidirectional=True, batch_first=True)
/// let gru = GruConfig::new(10, 8).with_bidirectional(true).with_batch_first(true).init::<NdArray>(&device);
/// let x = Tensor::<NdArray, 3>::random([4, 12, 10], Distribution::Default, &device);
/// let (output, h_n) = gru.forward(x, Some(&[12, 3, 7, 1]), None).unwrap();
/// assert_eq!(output.dims(), [4, 12, 16]);
/// assert_eq!(h_n.dims(), [2, 4, 8]);
/// ```
#[derive(Module, Debug)]
pub struct Gru<B: Backend> {
    /// The layers (`weight_ih_l{k}` … in PyTorch's layout, gates r, z, n).
    pub stack: RecurrentStack<B>,
}

impl GruConfig {
    /// Creates the GRU with PyTorch's initialisation, `U(−1/√H, 1/√H)`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Gru<B> {
        Gru { stack: self.stack(CellKind::Gru.gates(), device) }
    }
}

impl<B: RecurrentBackend> Gru<B> {
    /// Runs the GRU: PyTorch's `output, h_n = gru(input, h_0)`.
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
        let (output, [h_n]) = self.stack.run(CellKind::Gru, input, lengths, h_0.map(|h| [h]))?;
        Ok((output, h_n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::module::Param;
    use burn::tensor::TensorData;

    type B = NdArray<f32>;

    /// One step by hand with 1×1 blocks, so `b_hn`'s place inside the reset
    /// product is visible: moving it beside `b_in` changes the result.
    #[test]
    fn one_step_keeps_b_hn_inside_the_reset_product() {
        let device = Default::default();
        let mut gru = GruConfig::new(1, 1).init::<B>(&device);
        let w = &mut gru.stack.layers[0].forward;
        let column = |v: [f32; 3]| Param::from_tensor(Tensor::<B, 2>::from_floats([[v[0]], [v[1]], [v[2]]], &device));
        let vector = |v: [f32; 3]| Param::from_tensor(Tensor::<B, 1>::from_floats(v, &device));
        w.weight_ih = column([0.5, -1.0, 2.0]);
        w.weight_hh = column([1.0, 0.5, -1.5]);
        w.bias_ih = Some(vector([0.1, 0.2, 0.3]));
        w.bias_hh = Some(vector([-0.2, 0.4, 0.8]));
        let (x, h) = (0.7f32, -0.4f32);
        let sigmoid = |v: f32| 1.0 / (1.0 + (-v).exp());
        let r = sigmoid(0.5 * x + 0.1 + 1.0 * h - 0.2);
        let z = sigmoid(-x + 0.2 + 0.5 * h + 0.4);
        let n = (2.0 * x + 0.3 + r * (-1.5 * h + 0.8)).tanh();
        let expected = (1.0 - z) * n + z * h;
        let input = Tensor::<B, 3>::from_data(TensorData::new(vec![x], [1, 1, 1]), &device);
        let h0 = Tensor::<B, 3>::from_data(TensorData::new(vec![h], [1, 1, 1]), &device);
        let (_, h_n) = gru.forward(input, None, Some(h0)).expect("valid");
        let h_n: Vec<f32> = h_n.into_data().to_vec().expect("floats");
        assert!((h_n[0] - expected).abs() < 1e-6, "{} vs {expected}", h_n[0]);
    }
}
