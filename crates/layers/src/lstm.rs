//! `nn.LSTM` with PyTorch's options, parameter layout and semantics.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use burn::tensor::backend::Backend;

use crate::recurrent::{DirectionWeights, RecurrentError, StepMask, check_lengths, step_masks};

/// LSTM gates per direction: input, forget, cell (g), output — PyTorch's order.
const GATES: usize = 4;

/// Builds an [`Lstm`]; the fields and defaults are `torch.nn.LSTM`'s.
#[derive(Config, Debug)]
pub struct LstmConfig {
    /// Features per time step of the input.
    pub input_size: usize,
    /// Features of the hidden state.
    pub hidden_size: usize,
    /// Stacked layers; layer `k + 1` reads layer `k`'s output.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Whether the layers have `bias_ih` and `bias_hh`.
    #[config(default = true)]
    pub bias: bool,
    /// Input and output are `[batch, time, features]` instead of `[time, batch, features]`.
    #[config(default = false)]
    pub batch_first: bool,
    /// Dropout probability on each layer's output except the last, in training only.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Also run each layer from the last step to the first and concatenate.
    #[config(default = false)]
    pub bidirectional: bool,
}

/// One layer: the forward direction and, if bidirectional, the reverse one.
#[derive(Module, Debug)]
pub struct LstmLayer<B: Backend> {
    /// `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`.
    pub forward: DirectionWeights<B>,
    /// The same with the `_reverse` suffix.
    pub reverse: Option<DirectionWeights<B>>,
}

/// A multi-layer, optionally bidirectional LSTM, computing what
/// `torch.nn.LSTM` computes, including on packed (variable-length) batches.
///
/// Per layer and direction the input projection of all time steps is one
/// matmul; each step then does one `[B, H] × [H, 4H]` matmul and the gate
/// arithmetic.
#[derive(Module, Debug)]
pub struct Lstm<B: Backend> {
    /// The layers, bottom first.
    pub layers: Vec<LstmLayer<B>>,
    dropout: Dropout,
    input_size: usize,
    hidden_size: usize,
    batch_first: bool,
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
        let directions = if self.bidirectional { 2 } else { 1 };
        let layers = (0..self.num_layers)
            .map(|k| {
                let input = if k == 0 { self.input_size } else { directions * self.hidden_size };
                let weights = || DirectionWeights::new(GATES, input, self.hidden_size, self.bias, device);
                LstmLayer { forward: weights(), reverse: self.bidirectional.then(weights) }
            })
            .collect();
        Lstm {
            layers,
            dropout: DropoutConfig::new(self.dropout).init(),
            input_size: self.input_size,
            hidden_size: self.hidden_size,
            batch_first: self.batch_first,
        }
    }
}

impl<B: Backend> Lstm<B> {
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
        let x = if self.batch_first { input.swap_dims(0, 1) } else { input };
        let [steps, batch, features] = x.dims();
        if features != self.input_size {
            return Err(RecurrentError::InputSize { expected: self.input_size, actual: features });
        }
        if let Some(lengths) = lengths {
            check_lengths(lengths, batch, steps)?;
        }
        let device = x.device();
        let directions = if self.layers.first().is_some_and(|l| l.reverse.is_some()) { 2 } else { 1 };
        let expected = [self.layers.len() * directions, batch, self.hidden_size];
        let (h0, c0) = match state {
            Some(LstmState { hidden, cell }) => {
                for shape in [hidden.dims(), cell.dims()] {
                    if shape != expected {
                        return Err(RecurrentError::StateShape { expected, actual: shape });
                    }
                }
                (hidden, cell)
            }
            None => (Tensor::zeros(expected, &device), Tensor::zeros(expected, &device)),
        };
        let masks = lengths.map(|lengths| step_masks::<B>(lengths, steps, self.hidden_size, &device));
        let initial = |t: &Tensor<B, 3>, index: usize| t.clone().narrow(0, index, 1).reshape([batch, self.hidden_size]);

        let mut layer_input = x;
        let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
        for (k, layer) in self.layers.iter().enumerate() {
            if k > 0 {
                layer_input = self.dropout.forward(layer_input);
            }
            let mut outputs = Vec::with_capacity(directions);
            let runs = std::iter::once((&layer.forward, false)).chain(layer.reverse.iter().map(|w| (w, true)));
            for (d, (weights, reverse)) in runs.enumerate() {
                let index = k * directions + d;
                let (output, h, c) = run_direction(
                    weights,
                    layer_input.clone(),
                    initial(&h0, index),
                    initial(&c0, index),
                    masks.as_deref(),
                    reverse,
                );
                outputs.push(output);
                h_n.push(h);
                c_n.push(c);
            }
            layer_input = Tensor::cat(outputs, 2);
        }
        let output = if self.batch_first { layer_input.swap_dims(0, 1) } else { layer_input };
        Ok((output, LstmState { hidden: Tensor::stack(h_n, 0), cell: Tensor::stack(c_n, 0) }))
    }
}

/// Runs one direction of one layer over `x` `[T, B, in]`, returning the
/// output `[T, B, H]` and the final `h`, `c` `[B, H]`.
fn run_direction<B: Backend>(
    weights: &DirectionWeights<B>,
    x: Tensor<B, 3>,
    mut h: Tensor<B, 2>,
    mut c: Tensor<B, 2>,
    masks: Option<&[StepMask<B>]>,
    reverse: bool,
) -> (Tensor<B, 3>, Tensor<B, 2>, Tensor<B, 2>) {
    let [steps, batch, _] = x.dims();
    let projected = weights.project_input(x, true);
    let rows = projected.dims()[2];
    let mut outputs: Vec<Option<Tensor<B, 3>>> = vec![None; steps];
    for step in 0..steps {
        let t = if reverse { steps - 1 - step } else { step };
        let gates = projected.clone().narrow(0, t, 1).reshape([batch, rows]) + weights.project_hidden(h.clone());
        let hidden = rows / GATES;
        let gate = |k: usize| gates.clone().narrow(1, k * hidden, hidden);
        let (i, f, g, o) = (gate(0), gate(1), gate(2), gate(3));
        let c_next = sigmoid(f) * c.clone() + sigmoid(i) * g.tanh();
        let h_next = sigmoid(o) * c_next.clone().tanh();
        let out = match masks {
            // Inside a sample's length the state advances; in its padding it
            // stays as it was, so the reverse direction effectively starts at
            // the sample's own last step and h_n is taken there.
            Some(masks) => {
                let StepMask { keep, scale } = masks[t].clone();
                h = h.mask_where(keep.clone(), h_next.clone());
                c = c.mask_where(keep, c_next);
                h_next * scale
            }
            None => {
                h = h_next;
                c = c_next;
                h.clone()
            }
        };
        outputs[t] = Some(out.unsqueeze_dim(0));
    }
    (Tensor::cat(outputs.into_iter().flatten().collect(), 0), h, c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::{Distribution, TensorData};
    use proptest::prelude::*;

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
        let w = values(lstm.layers[0].forward.weight_hh.val());
        assert_eq!(w.len(), 4 * 64 * 64);
        let bound = 1.0 / 8.0; // 1/sqrt(64)
        assert!(w.iter().all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| *v > 0.95 * bound) && w.iter().any(|v| *v < -0.95 * bound));
    }

    /// A batch-first input `[batch, steps, features]` of seeded values.
    fn input(seed: u64, batch: usize, steps: usize, features: usize) -> Tensor<B, 3> {
        let n = batch * steps * features;
        let data: Vec<f32> = (0..n).map(|i| ((i as u64 * 2654435761 + seed) % 1000) as f32 / 500.0 - 1.0).collect();
        Tensor::from_data(TensorData::new(data, [batch, steps, features]), &Default::default())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

        #[test]
        fn full_lengths_equal_no_lengths(
            layers in 1usize..=2, bidirectional: bool, batch in 1usize..=4, steps in 1usize..=6, seed: u64,
        ) {
            let lstm = LstmConfig::new(3, 4).with_num_layers(layers).with_bidirectional(bidirectional)
                .with_batch_first(true).init::<B>(&Default::default());
            let x = input(seed, batch, steps, 3);
            let (a, sa) = lstm.forward(x.clone(), None, None).expect("valid");
            let (b, sb) = lstm.forward(x, Some(&vec![steps; batch]), None).expect("valid");
            prop_assert_eq!(values(a), values(b));
            prop_assert_eq!(values(sa.hidden), values(sb.hidden));
            prop_assert_eq!(values(sa.cell), values(sb.cell));
        }

        #[test]
        fn a_sample_does_not_depend_on_its_padding(
            layers in 1usize..=2, bidirectional: bool, steps in 2usize..=6, cut in 1usize..=5, seed: u64,
        ) {
            prop_assume!(cut < steps);
            let device = Default::default();
            let lstm = LstmConfig::new(3, 4).with_num_layers(layers).with_bidirectional(bidirectional)
                .with_batch_first(true).init::<B>(&device);
            // The sample alone, only its real steps...
            let real = input(seed, 1, cut, 3);
            let (alone, alone_state) = lstm.forward(real.clone(), None, None).expect("valid");
            // ...and padded with arbitrary values past its length.
            let padded = Tensor::cat(vec![real, input(seed ^ 0xFF, 1, steps - cut, 3)], 1);
            let (out, state) = lstm.forward(padded, Some(&[cut]), None).expect("valid");
            let close = |a: Vec<f32>, b: Vec<f32>| a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 1e-6);
            let out = values(out);
            let width = out.len() / steps;
            prop_assert!(close(out[..cut * width].to_vec(), values(alone)));
            prop_assert!(out[cut * width..].iter().all(|&v| v == 0.0), "padding output must be zero");
            prop_assert!(close(values(state.hidden), values(alone_state.hidden)));
            prop_assert!(close(values(state.cell), values(alone_state.cell)));
        }
    }
}
