//! Machinery shared by the recurrent layers: the options every
//! `torch.nn.RNN`/`LSTM`/`GRU` takes, the parameters of one direction of one
//! layer in PyTorch's layout, the stacked layers and the time loop that runs
//! any cell over them with length masks.

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use kindling_kernels::{CellKind, Recurrence, RecurrenceInputs, RecurrentBackend, split_output};

/// Defines a recurrent layer's config: the options `torch.nn.RNN`, `LSTM`
/// and `GRU` share, with their defaults, plus any the layer adds.
macro_rules! recurrent_config {
    ($(#[$meta:meta])* $name:ident { $($(#[$extra_meta:meta])* pub $extra:ident: $extra_ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(burn::config::Config, Debug)]
        pub struct $name {
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
            $($(#[$extra_meta])* pub $extra: $extra_ty,)*
        }

        impl $name {
            /// The stacked layers with PyTorch's initialisation, `U(−1/√H, 1/√H)`.
            fn stack<B: Backend>(&self, gates: usize, device: &B::Device) -> $crate::recurrent::RecurrentStack<B> {
                $crate::recurrent::RecurrentStack::new(
                    $crate::recurrent::StackShape {
                        gates,
                        input_size: self.input_size,
                        hidden_size: self.hidden_size,
                        num_layers: self.num_layers,
                        bias: self.bias,
                        batch_first: self.batch_first,
                        dropout: self.dropout,
                        bidirectional: self.bidirectional,
                    },
                    device,
                )
            }
        }
    };
}
pub(crate) use recurrent_config;

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
    /// one matmul: `x · W_ihᵀ`, `[T, B, in] → [T, B, gates·H]`.
    pub fn project_input(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [t, b, input] = x.dims();
        let w = self.weight_ih.val();
        let rows = w.dims()[0];
        x.reshape([t * b, input]).matmul(w.transpose()).reshape([t, b, rows])
    }

    /// The bias added to every step's input projection: `b_ih` plus the
    /// first `folded` rows of `b_hh`. For cells where `b_hh` is simply added
    /// (RNN, LSTM) that is all of it; GRU keeps its last block inside the
    /// reset product.
    fn step_bias(&self, folded: usize) -> Option<Tensor<B, 1>> {
        let hh = self.bias_hh.as_ref().filter(|_| folded > 0).map(|bias| {
            let bias = bias.val();
            let rows = bias.dims()[0];
            if folded == rows {
                bias
            } else {
                let zeros = Tensor::zeros([rows - folded], &bias.device());
                Tensor::cat(vec![bias.narrow(0, 0, folded), zeros], 0)
            }
        });
        match (self.bias_ih.as_ref().map(Param::val), hh) {
            (Some(ih), Some(hh)) => Some(ih + hh),
            (ih, hh) => ih.or(hh),
        }
    }

    /// The rows of `b_hh` from `start` on: the part not folded into the input projection.
    fn hidden_bias_from(&self, start: usize) -> Option<Tensor<B, 1>> {
        let bias = self.bias_hh.as_ref()?.val();
        let rows = bias.dims()[0];
        (start < rows).then(|| bias.narrow(0, start, rows - start))
    }

    /// Runs this direction over `x` `[T, B, in]` from the states `initial`
    /// `[S, B, H]`: the input projection of all steps in one matmul, then the
    /// time loop (biases included) as one fused operation. Returns the output `[T, B, H]` and
    /// the final states, each `[B, H]`.
    pub fn run(&self, spec: &Recurrence, x: Tensor<B, 3>, initial: Tensor<B, 3>) -> (Tensor<B, 3>, Vec<Tensor<B, 2>>)
    where
        B: RecurrentBackend,
    {
        let hidden = self.weight_hh.dims()[1];
        let folded = spec.cell.folded_hh_bias() * hidden;
        let inputs = RecurrenceInputs {
            gates_x: self.project_input(x),
            bias: self.step_bias(folded),
            w_hh: self.weight_hh.val(),
            hh_bias: self.hidden_bias_from(folded),
            initial,
        };
        split_output(B::recurrence(spec, inputs), spec.cell.states())
    }
}

/// One layer: the forward direction and, if bidirectional, the reverse one.
#[derive(Module, Debug)]
pub struct RecurrentLayer<B: Backend> {
    /// `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`.
    pub forward: DirectionWeights<B>,
    /// The same with the `_reverse` suffix.
    pub reverse: Option<DirectionWeights<B>>,
}

/// What a [`RecurrentStack`] is built from (the common config fields and the
/// cell's gate count).
pub(crate) struct StackShape {
    pub(crate) gates: usize,
    pub(crate) input_size: usize,
    pub(crate) hidden_size: usize,
    pub(crate) num_layers: usize,
    pub(crate) bias: bool,
    pub(crate) batch_first: bool,
    pub(crate) dropout: f64,
    pub(crate) bidirectional: bool,
}

/// The layers of a multi-layer, optionally bidirectional recurrent network
/// and the options that say how to run them; the cell (RNN, LSTM, GRU) is
/// supplied by the layer that owns the stack.
#[derive(Module, Debug)]
pub struct RecurrentStack<B: Backend> {
    /// The layers, bottom first.
    pub layers: Vec<RecurrentLayer<B>>,
    dropout: Dropout,
    input_size: usize,
    hidden_size: usize,
    batch_first: bool,
}

impl<B: Backend> RecurrentStack<B> {
    /// Builds the layers with PyTorch's initialisation.
    pub(crate) fn new(shape: StackShape, device: &B::Device) -> Self {
        let directions = if shape.bidirectional { 2 } else { 1 };
        let layers = (0..shape.num_layers)
            .map(|k| {
                let input = if k == 0 { shape.input_size } else { directions * shape.hidden_size };
                let weights = || DirectionWeights::new(shape.gates, input, shape.hidden_size, shape.bias, device);
                RecurrentLayer { forward: weights(), reverse: shape.bidirectional.then(weights) }
            })
            .collect();
        Self {
            layers,
            dropout: DropoutConfig::new(shape.dropout).init(),
            input_size: shape.input_size,
            hidden_size: shape.hidden_size,
            batch_first: shape.batch_first,
        }
    }

    /// 2 when the layers run in both directions, else 1.
    pub fn directions(&self) -> usize {
        if self.layers.first().is_some_and(|l| l.reverse.is_some()) { 2 } else { 1 }
    }

    /// Features of the hidden state.
    pub fn hidden_size(&self) -> usize {
        self.hidden_size
    }

    /// Runs `cell` over every layer and direction. `initial` holds the
    /// cell's `N` initial states, each `[layers · directions, B, H]`; zeros
    /// when `None`. Returns the output and the final states in the same layout.
    pub(crate) fn run<const N: usize>(
        &self,
        cell: CellKind,
        input: Tensor<B, 3>,
        lengths: Option<&[usize]>,
        initial: Option<[Tensor<B, 3>; N]>,
    ) -> Result<(Tensor<B, 3>, [Tensor<B, 3>; N]), RecurrentError>
    where
        B: RecurrentBackend,
    {
        debug_assert_eq!(N, cell.states(), "a {cell:?} carries {} states", cell.states());
        let x = if self.batch_first { input.swap_dims(0, 1) } else { input };
        let [steps, batch, features] = x.dims();
        if features != self.input_size {
            return Err(RecurrentError::InputSize { expected: self.input_size, actual: features });
        }
        if let Some(lengths) = lengths {
            check_lengths(lengths, batch, steps)?;
        }
        // A batch of full-length samples needs no masks.
        let lengths = lengths.filter(|lengths| lengths.iter().any(|&len| len < steps));
        let device = x.device();
        let directions = self.directions();
        let expected = [self.layers.len() * directions, batch, self.hidden_size];
        if let Some(states) = &initial
            && let Some(bad) = states.iter().find(|s| s.dims() != expected)
        {
            return Err(RecurrentError::StateShape { expected, actual: bad.dims() });
        }

        let mut layer_input = x;
        let mut finals: [Vec<Tensor<B, 2>>; N] = std::array::from_fn(|_| Vec::with_capacity(expected[0]));
        for (k, layer) in self.layers.iter().enumerate() {
            if k > 0 {
                layer_input = self.dropout.forward(layer_input);
            }
            let mut outputs = Vec::with_capacity(directions);
            let runs = std::iter::once((&layer.forward, false)).chain(layer.reverse.iter().map(|w| (w, true)));
            for (d, (weights, reverse)) in runs.enumerate() {
                let index = k * directions + d;
                let state = match &initial {
                    Some(states) => Tensor::cat(states.iter().map(|s| s.clone().narrow(0, index, 1)).collect(), 0),
                    None => Tensor::zeros([N, batch, self.hidden_size], &device),
                };
                let spec = Recurrence { cell, reverse, lengths: lengths.map(<[usize]>::to_vec) };
                let (output, state) = weights.run(&spec, layer_input.clone(), state);
                outputs.push(output);
                for (all, s) in finals.iter_mut().zip(state) {
                    all.push(s);
                }
            }
            layer_input = if outputs.len() == 1 { outputs.remove(0) } else { Tensor::cat(outputs, 2) };
        }
        let output = if self.batch_first { layer_input.swap_dims(0, 1) } else { layer_input };
        Ok((output, finals.map(|states| Tensor::stack(states, 0))))
    }
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
fn check_lengths(lengths: &[usize], batch: usize, steps: usize) -> Result<(), RecurrentError> {
    if lengths.len() != batch || lengths.iter().any(|&l| l == 0 || l > steps) {
        return Err(RecurrentError::Lengths { batch, steps, lengths: lengths.to_vec() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::TensorData;
    use proptest::prelude::*;

    type B = NdArray<f32>;

    const CELLS: [CellKind; 4] = [CellKind::RnnTanh, CellKind::RnnRelu, CellKind::Lstm, CellKind::Gru];

    fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().to_vec().expect("floats")
    }

    /// A batch-first input `[batch, steps, features]` of seeded values.
    fn input(seed: u64, batch: usize, steps: usize, features: usize) -> Tensor<B, 3> {
        let n = batch * steps * features;
        let data: Vec<f32> = (0..n).map(|i| ((i as u64 * 2654435761 + seed) % 1000) as f32 / 500.0 - 1.0).collect();
        Tensor::from_data(TensorData::new(data, [batch, steps, features]), &Default::default())
    }

    fn stack(cell: CellKind, layers: usize, bidirectional: bool) -> RecurrentStack<B> {
        let shape = StackShape {
            gates: cell.gates(),
            input_size: 3,
            hidden_size: 4,
            num_layers: layers,
            bias: true,
            batch_first: true,
            dropout: 0.0,
            bidirectional,
        };
        RecurrentStack::new(shape, &Default::default())
    }

    /// Runs `cell` with its number of states; returns the output and the states.
    fn run(
        stack: &RecurrentStack<B>,
        cell: CellKind,
        x: Tensor<B, 3>,
        lengths: Option<&[usize]>,
    ) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
        if cell.states() == 2 {
            let (out, states) = stack.run::<2>(cell, x, lengths, None).expect("valid");
            (out, states.to_vec())
        } else {
            let (out, states) = stack.run::<1>(cell, x, lengths, None).expect("valid");
            (out, states.to_vec())
        }
    }

    fn full_lengths_equal_no_lengths(
        cell: CellKind,
        layers: usize,
        bidirectional: bool,
        batch: usize,
        steps: usize,
        seed: u64,
    ) -> Result<(), TestCaseError> {
        let stack = stack(cell, layers, bidirectional);
        let x = input(seed, batch, steps, 3);
        let (a, sa) = run(&stack, cell, x.clone(), None);
        let (b, sb) = run(&stack, cell, x, Some(&vec![steps; batch]));
        prop_assert_eq!(values(a), values(b));
        for (sa, sb) in sa.into_iter().zip(sb) {
            prop_assert_eq!(values(sa), values(sb));
        }
        Ok(())
    }

    fn padding_is_ignored(
        cell: CellKind,
        layers: usize,
        bidirectional: bool,
        steps: usize,
        cut: usize,
        seed: u64,
    ) -> Result<(), TestCaseError> {
        let stack = stack(cell, layers, bidirectional);
        // The sample alone, only its real steps...
        let real = input(seed, 1, cut, 3);
        let (alone, alone_state) = run(&stack, cell, real.clone(), None);
        // ...and padded with arbitrary values past its length.
        let padded = Tensor::cat(vec![real, input(seed ^ 0xFF, 1, steps - cut, 3)], 1);
        let (out, state) = run(&stack, cell, padded, Some(&[cut]));
        let close = |a: Vec<f32>, b: Vec<f32>| a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 1e-6);
        let out = values(out);
        let width = out.len() / steps;
        prop_assert!(close(out[..cut * width].to_vec(), values(alone)));
        prop_assert!(out[cut * width..].iter().all(|&v| v == 0.0), "padding output must be zero");
        for (s, a) in state.into_iter().zip(alone_state) {
            prop_assert!(close(values(s), values(a)));
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

        #[test]
        fn full_lengths_equal_no_lengths_for_every_cell(
            layers in 1usize..=2, bidirectional: bool, batch in 1usize..=4, steps in 1usize..=6, seed: u64,
        ) {
            for cell in CELLS {
                full_lengths_equal_no_lengths(cell, layers, bidirectional, batch, steps, seed)?;
            }
        }

        #[test]
        fn a_sample_does_not_depend_on_its_padding_for_every_cell(
            layers in 1usize..=2, bidirectional: bool, steps in 2usize..=6, cut in 1usize..=5, seed: u64,
        ) {
            prop_assume!(cut < steps);
            for cell in CELLS {
                padding_is_ignored(cell, layers, bidirectional, steps, cut, seed)?;
            }
        }
    }
}
