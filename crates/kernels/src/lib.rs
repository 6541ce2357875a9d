//! Fused operations for Kindling's layers.
//!
//! burn differentiates a model op by op. For a recurrent layer that means a
//! dozen graph nodes per time step, full-size gradient buffers for every gate
//! slice in the backward pass, and a weight gradient per step. This crate
//! turns the whole time loop of one direction of one layer into a single
//! operation, [`RecurrentBackend::recurrence`], with a hand-written backward
//! pass (backpropagation through time) that keeps only the activations it
//! needs and computes the recurrent weight's gradient in one matmul over all
//! steps: what cuDNN and oneDNN do for PyTorch.
//!
//! The operation is a backend capability: [`RecurrentBackend`] is implemented
//! for burn's [`Autodiff`](burn::backend::Autodiff) over any backend that has
//! it, for [`NdArray`](burn::backend::NdArray) (as plain fused loops over the
//! buffers, `cpu.rs`) and, with the `tch` feature, for
//! [`LibTorch`](burn::backend::LibTorch). Its default implementation is
//! written with burn's tensor operations, so another backend needs one line
//! to join. [`TrainingBackend`] names what training code asks of a backend.
//!
//! The backward pass is checked against burn's own autodiff of the same
//! computation run op by op (the tests at the bottom of this file), and the
//! layers built on it against PyTorch.
//!
//! # Example
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::tensor::{Distribution, Tensor};
//! use kindling_kernels::{CellKind, Recurrence, RecurrenceInputs, RecurrentBackend, split_output};
//!
//! type B = Autodiff<NdArray>;
//! let device = Default::default();
//! let (steps, batch, hidden) = (5, 2, 3);
//! let random = |shape: [usize; 3]| Tensor::<B, 3>::random(shape, Distribution::Default, &device);
//! let gates_x = random([steps, batch, 4 * hidden]).require_grad();
//! let w_hh = Tensor::<B, 2>::random([4 * hidden, hidden], Distribution::Default, &device).require_grad();
//! let initial = random([2, batch, hidden]);
//! let inputs = RecurrenceInputs { gates_x: gates_x.clone(), bias: None, w_hh: w_hh.clone(), hh_bias: None, initial };
//!
//! // An LSTM read backwards, sample 1 only 2 steps long.
//! let spec = Recurrence { cell: CellKind::Lstm, reverse: true, lengths: Some(vec![5, 2]) };
//! let (output, finals) = split_output(B::recurrence(&spec, inputs), 2);
//! assert_eq!(output.dims(), [steps, batch, hidden]);
//! assert_eq!(finals[1].dims(), [batch, hidden]); // c_n
//!
//! let grads = (output.sum() + finals[1].clone().sum()).backward();
//! assert_eq!(w_hh.grad(&grads).unwrap().dims(), [4 * hidden, hidden]);
//! ```

mod autodiff;
mod cpu;
mod recurrence;

pub use recurrence::{CellKind, Recurrence, RecurrenceGrads, RecurrenceInputs, RecurrenceTape, split_output};

use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

/// A backend that runs a whole recurrence (one direction of one recurrent
/// layer) as one operation.
///
/// Every method has a default written with burn's tensor operations; a
/// backend may replace them with faster ones that compute the same values.
pub trait RecurrentBackend: Backend {
    /// Runs `spec` over `inputs`: returns `[T + S, B, H]`, the output of every
    /// step in time order (zero past each sample's length) followed by the
    /// `S` final states (see [`split_output`]).
    fn recurrence(spec: &Recurrence, inputs: RecurrenceInputs<Self>) -> Tensor<Self, 3> {
        recurrence::forward(spec, inputs, false).0
    }

    /// [`recurrence`](Self::recurrence), also returning what
    /// [`recurrence_backward`](Self::recurrence_backward) needs.
    fn recurrence_forward(
        spec: &Recurrence,
        inputs: RecurrenceInputs<Self>,
    ) -> (Tensor<Self, 3>, RecurrenceTape<Self>) {
        recurrence::forward(spec, inputs, true)
    }

    /// The gradients of the inputs, given the gradient of the output.
    fn recurrence_backward(tape: RecurrenceTape<Self>, grad: Tensor<Self, 3>) -> RecurrenceGrads<Self> {
        recurrence::backward(tape, grad)
    }
}

#[cfg(feature = "tch")]
impl RecurrentBackend for burn::backend::LibTorch<f32> {}

/// What Kindling's training code asks of a backend: automatic
/// differentiation, and fused recurrences both with it and without it (for
/// validation, which runs on the inner backend).
pub trait TrainingBackend: AutodiffBackend<InnerBackend: RecurrentBackend> + RecurrentBackend {}

impl<B> TrainingBackend for B where B: AutodiffBackend<InnerBackend: RecurrentBackend> + RecurrentBackend {}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, NdArray};
    use burn::tensor::{TensorData, Tolerance};
    use proptest::prelude::*;

    type Plain = NdArray<f32>;
    type B = Autodiff<Plain>;

    fn seeded(seed: u64, shape: &[usize], scale: f32) -> Vec<f32> {
        let n: usize = shape.iter().product();
        (0..n as u64)
            .map(|i| {
                let x =
                    (i.wrapping_mul(6364136223846793005).wrapping_add(seed.wrapping_mul(1442695040888963407))) >> 40;
                (x as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }

    fn tensor<const D: usize>(seed: u64, shape: [usize; D], scale: f32) -> Tensor<B, D> {
        Tensor::from_data(TensorData::new(seeded(seed, &shape, scale), shape), &Default::default())
    }

    /// Inputs of a random recurrence, every one tracked.
    fn inputs(cell: CellKind, steps: usize, batch: usize, hidden: usize, bias: bool, seed: u64) -> RecurrenceInputs<B> {
        let rows = cell.gates() * hidden;
        RecurrenceInputs {
            gates_x: tensor(seed, [steps, batch, rows], 2.0).require_grad(),
            bias: bias.then(|| tensor(seed + 4, [rows], 0.5).require_grad()),
            w_hh: tensor(seed + 1, [rows, hidden], 0.8).require_grad(),
            hh_bias: (bias && cell.folded_hh_bias() < cell.gates())
                .then(|| tensor(seed + 2, [(cell.gates() - cell.folded_hh_bias()) * hidden], 0.5).require_grad()),
            initial: tensor(seed + 3, [cell.states(), batch, hidden], 0.5).require_grad(),
        }
    }

    /// Output and input gradients of a weighted sum of the output (weights
    /// make every position's gradient different).
    fn run(output: Tensor<B, 3>, inputs: &RecurrenceInputs<B>, seed: u64) -> Vec<TensorData> {
        let weights = tensor(seed + 9, output.dims(), 1.0);
        let grads = (output.clone() * weights).sum().backward();
        let mut all = vec![output.into_data()];
        let missing = || TensorData::from([0.0f32]);
        all.push(inputs.gates_x.grad(&grads).map_or_else(missing, |g| g.into_data()));
        all.push(inputs.w_hh.grad(&grads).map_or_else(missing, |g| g.into_data()));
        all.push(inputs.initial.grad(&grads).map_or_else(missing, |g| g.into_data()));
        for bias in [&inputs.bias, &inputs.hh_bias].into_iter().flatten() {
            all.push(bias.grad(&grads).map_or_else(missing, |g| g.into_data()));
        }
        all
    }

    /// Output and input gradients from the tensor-operation implementation
    /// (what backends without their own kernel, libtorch among them, run),
    /// driven directly on the plain backend with the same output weights as [`run`].
    fn generic_fused(spec: &Recurrence, tracked: &RecurrenceInputs<B>, seed: u64) -> Vec<TensorData> {
        let plain = RecurrenceInputs::<Plain> {
            gates_x: tracked.gates_x.clone().inner(),
            bias: tracked.bias.clone().map(|b| b.inner()),
            w_hh: tracked.w_hh.clone().inner(),
            hh_bias: tracked.hh_bias.clone().map(|b| b.inner()),
            initial: tracked.initial.clone().inner(),
        };
        let (output, tape) = recurrence::forward(spec, plain, true);
        let weights = tensor(seed + 9, output.dims(), 1.0).inner();
        let grads = recurrence::backward(tape, weights);
        let mut all = vec![output.into_data(), grads.gates_x.into_data(), grads.w_hh.into_data()];
        all.push(grads.initial.into_data());
        all.extend(grads.bias.map(|b| b.into_data()));
        all.extend(grads.hh_bias.map(|b| b.into_data()));
        all
    }

    fn cells() -> impl Strategy<Value = CellKind> {
        prop_oneof![Just(CellKind::RnnTanh), Just(CellKind::RnnRelu), Just(CellKind::Lstm), Just(CellKind::Gru)]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// The fused node's hand-written backward passes (burn-ndarray's loop
        /// kernel under autodiff, and the tensor-operation version other
        /// backends run) against burn's autodiff of the same forward
        /// computation recorded op by op. All compute in
        /// f32 from the same values; only the order of the sums in the weight
        /// gradient differs (one matmul over all steps against one per step),
        /// so they agree to a few f32 rounding steps (about 1e-7 relative) of
        /// sums of at most 8 terms: `1e-5 · max(1, |value|)`, the bound every
        /// cross-implementation check in this project uses.
        #[test]
        fn fused_backward_equals_autodiff_of_the_forward(
            cell in cells(),
            steps in 1usize..8,
            batch in 1usize..5,
            hidden in 1usize..6,
            reverse: bool,
            bias: bool,
            masked: bool,
            length_seed: u64,
            seed in 0u64..1000,
        ) {
            let lengths = masked.then(|| {
                (0..batch).map(|i| 1 + ((length_seed >> (i * 8)) as usize % steps)).collect::<Vec<_>>()
            });
            let spec = Recurrence { cell, reverse, lengths };
            let fused_inputs = inputs(cell, steps, batch, hidden, bias, seed);
            let fused = run(B::recurrence(&spec, fused_inputs.clone()), &fused_inputs, seed);
            let graph_inputs = inputs(cell, steps, batch, hidden, bias, seed);
            let graph = run(recurrence::forward(&spec, graph_inputs.clone(), false).0, &graph_inputs, seed);
            let generic = generic_fused(&spec, &graph_inputs, seed);
            prop_assert_eq!(fused.len(), graph.len());
            prop_assert_eq!(generic.len(), graph.len());
            for ((a, b), c) in fused.iter().zip(&graph).zip(&generic) {
                a.assert_approx_eq::<f32>(b, Tolerance::rel_abs(1e-5, 1e-5));
                c.assert_approx_eq::<f32>(b, Tolerance::rel_abs(1e-5, 1e-5));
            }
        }
    }

    #[test]
    fn untracked_inputs_run_without_a_tape_and_match_the_plain_backend() {
        let spec = Recurrence { cell: CellKind::Gru, reverse: false, lengths: Some(vec![3, 1]) };
        let tracked = inputs(CellKind::Gru, 3, 2, 4, true, 5);
        let plain = RecurrenceInputs::<Plain> {
            gates_x: tracked.gates_x.clone().inner(),
            bias: tracked.bias.clone().map(|b| b.inner()),
            w_hh: tracked.w_hh.clone().inner(),
            hh_bias: tracked.hh_bias.clone().map(|b| b.inner()),
            initial: tracked.initial.clone().inner(),
        };
        let untracked = RecurrenceInputs::<B> {
            gates_x: Tensor::from_inner(plain.gates_x.clone()),
            bias: plain.bias.clone().map(Tensor::from_inner),
            w_hh: Tensor::from_inner(plain.w_hh.clone()),
            hh_bias: plain.hh_bias.clone().map(Tensor::from_inner),
            initial: Tensor::from_inner(plain.initial.clone()),
        };
        let a = B::recurrence(&spec, untracked).inner().into_data();
        let b = Plain::recurrence(&spec, plain).into_data();
        assert_eq!(a, b);
    }
}
