//! ndarray and libtorch must agree on the layers' outputs and gradients: the
//! CNN blocks, and `Rnn`, `Lstm` and `Gru` with random layer counts,
//! directions, sizes and lengths.
//!
//! Tolerance: `1e-5 · max(1, max|reference|)` per tensor (see
//! `kindling_backend::parity::assert_close`). Both backends compute in f32
//! (ε ≈ 1.2e-7) but sum in different orders (im2col + gemm against oneDNN).
//! Measured: the largest difference over these properties was 4.8e-7 at
//! scale 3.3 (a conv2d input gradient), a few ε of the tensor's scale, so
//! 1e-5 leaves a 20× margin while any semantic difference (padding, stride,
//! layout) shows up at order one. The recurrent layers stay within the same
//! bound: their gates squash values into (−1, 1) at every step, so errors do
//! not grow with the sequence length.
#![cfg(feature = "tch")]

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use kindling_backend::TrainingBackend;
use kindling_backend::parity::{assert_close, seeded_floats, twin_modules};
use kindling_backend::{NdArrayAutodiff, TchAutodiff};
use kindling_layers::{
    Conv2d, Conv2dConfig, Gru, GruConfig, Linear, LinearConfig, Lstm, LstmConfig, MaxPool2dConfig, RecurrentStack, Rnn,
    RnnConfig, RnnNonlinearity, padding,
};
use proptest::prelude::*;

const TOLERANCE: f32 = 1e-5;

/// Output, input gradient and parameter gradients of one forward/backward pass.
struct Pass {
    output: TensorData,
    grads: Vec<(&'static str, TensorData)>,
}

/// Runs `forward`, back-propagates `sum(output * upstream)` with a seeded
/// `upstream`, and collects the input gradient and the listed parameters'.
fn pass<B: TrainingBackend, const D: usize, const E: usize>(
    x: Vec<f32>,
    shape: [usize; D],
    upstream_seed: u64,
    device: &B::Device,
    forward: impl FnOnce(Tensor<B, D>) -> Tensor<B, E>,
    params: impl FnOnce(&B::Gradients) -> Vec<(&'static str, TensorData)>,
) -> Pass {
    let x = Tensor::<B, D>::from_data(TensorData::new(x, shape), device).require_grad();
    let y = forward(x.clone());
    let upstream = Tensor::<B, E>::from_data(
        TensorData::new(seeded_floats(upstream_seed, y.shape().num_elements()), y.shape()),
        device,
    );
    let output = y.clone().into_data();
    let grads = (y * upstream).sum().backward();
    let mut collected = vec![("input", x.grad(&grads).expect("input gradient").into_data())];
    collected.extend(params(&grads));
    Pass { output, grads: collected }
}

fn grad_of<B: TrainingBackend, const D: usize>(
    name: &'static str,
    param: &Param<Tensor<B, D>>,
    grads: &B::Gradients,
) -> (&'static str, TensorData) {
    (name, param.grad(grads).expect("parameter gradient").into_data())
}

fn conv_grads<B: TrainingBackend>(conv: &Conv2d<B>, grads: &B::Gradients) -> Vec<(&'static str, TensorData)> {
    let mut g = vec![grad_of("weight", &conv.weight, grads)];
    if let Some(bias) = &conv.bias {
        g.push(grad_of("bias", bias, grads));
    }
    g
}

fn linear_grads<B: TrainingBackend>(linear: &Linear<B>, grads: &B::Gradients) -> Vec<(&'static str, TensorData)> {
    let mut g = vec![grad_of("weight", &linear.weight, grads)];
    if let Some(bias) = &linear.bias {
        g.push(grad_of("bias", bias, grads));
    }
    g
}

fn assert_passes_agree(what: &str, tch: Pass, ndarray: Pass) {
    assert_close(&format!("{what} output"), tch.output, ndarray.output, TOLERANCE);
    assert_eq!(tch.grads.len(), ndarray.grads.len());
    for ((name, t), (_, n)) in tch.grads.into_iter().zip(ndarray.grads) {
        assert_close(&format!("{what} gradient of {name}"), t, n, TOLERANCE);
    }
}

fn stack_grads<B: TrainingBackend>(stack: &RecurrentStack<B>, grads: &B::Gradients) -> Vec<(&'static str, TensorData)> {
    let mut g = Vec::new();
    for layer in &stack.layers {
        for w in std::iter::once(&layer.forward).chain(layer.reverse.as_ref()) {
            g.push(grad_of("weight_ih", &w.weight_ih, grads));
            g.push(grad_of("weight_hh", &w.weight_hh, grads));
            for bias in [&w.bias_ih, &w.bias_hh].into_iter().flatten() {
                g.push(grad_of("bias", bias, grads));
            }
        }
    }
    g
}

/// A batch-first recurrent layer's output and final states, flattened per
/// sample into `[B, everything]`, so one comparison and one upstream
/// gradient cover all.
fn flat_outputs<B: TrainingBackend>(out: Tensor<B, 3>, states: Vec<Tensor<B, 3>>) -> Tensor<B, 2> {
    let states = Tensor::cat(states, 0).swap_dims(0, 1).flatten::<2>(1, 2);
    Tensor::cat(vec![out.flatten::<2>(1, 2), states], 1)
}

/// Random options of one recurrent-layer case.
#[derive(Clone, Debug)]
struct RecurrentCase {
    layers: usize,
    bidirectional: bool,
    batch: usize,
    steps: usize,
    input: usize,
    hidden: usize,
    bias: bool,
    seed: u64,
    lengths: Vec<usize>,
}

/// What the properties need of `Rnn`, `Lstm` and `Gru` alike.
trait Recurrent<B: TrainingBackend> {
    fn stack(&self) -> &RecurrentStack<B>;
    /// Output and final states of a run with `lengths`, flattened per sample.
    fn run(&self, x: Tensor<B, 3>, lengths: &[usize]) -> Tensor<B, 2>;
}

impl<B: TrainingBackend> Recurrent<B> for Rnn<B> {
    fn stack(&self) -> &RecurrentStack<B> {
        &self.stack
    }
    fn run(&self, x: Tensor<B, 3>, lengths: &[usize]) -> Tensor<B, 2> {
        let (out, h_n) = self.forward(x, Some(lengths), None).expect("valid input");
        flat_outputs(out, vec![h_n])
    }
}

impl<B: TrainingBackend> Recurrent<B> for Lstm<B> {
    fn stack(&self) -> &RecurrentStack<B> {
        &self.stack
    }
    fn run(&self, x: Tensor<B, 3>, lengths: &[usize]) -> Tensor<B, 2> {
        let (out, state) = self.forward(x, Some(lengths), None).expect("valid input");
        flat_outputs(out, vec![state.hidden, state.cell])
    }
}

impl<B: TrainingBackend> Recurrent<B> for Gru<B> {
    fn stack(&self) -> &RecurrentStack<B> {
        &self.stack
    }
    fn run(&self, x: Tensor<B, 3>, lengths: &[usize]) -> Tensor<B, 2> {
        let (out, h_n) = self.forward(x, Some(lengths), None).expect("valid input");
        flat_outputs(out, vec![h_n])
    }
}

/// Runs forward and backward on both backends (the twins hold identical
/// parameters) and compares outputs, final states and gradients.
fn compare_recurrent<N: Recurrent<NdArrayAutodiff>, T: Recurrent<TchAutodiff>>(
    what: &str,
    nd: N,
    tch: T,
    c: &RecurrentCase,
) {
    let shape = [c.batch, c.steps, c.input];
    let x = seeded_floats(c.seed, shape.iter().product());
    let run_nd = |x| nd.run(x, &c.lengths);
    let run_tch = |x| tch.run(x, &c.lengths);
    let nd_pass = pass(x.clone(), shape, c.seed ^ 1, &Default::default(), run_nd, |g| stack_grads(nd.stack(), g));
    let tch_pass = pass(x, shape, c.seed ^ 1, &Default::default(), run_tch, |g| stack_grads(tch.stack(), g));
    assert_passes_agree(what, tch_pass, nd_pass);
}

/// The same layer on both backends with bit-identical parameters.
macro_rules! twins {
    ($config:expr, $case:expr) => {{
        let config = $config
            .with_num_layers($case.layers)
            .with_bidirectional($case.bidirectional)
            .with_bias($case.bias)
            .with_batch_first(true);
        let (nd_device, tch_device) = (Default::default(), Default::default());
        twin_modules::<NdArrayAutodiff, TchAutodiff, _, _>(
            config.init(&nd_device),
            &nd_device,
            config.init(&tch_device),
            &tch_device,
        )
    }};
}

fn recurrent_case() -> impl Strategy<Value = RecurrentCase> {
    (
        (1usize..=3, any::<bool>(), 1usize..=8, 1usize..=20),
        (1usize..=32, 1usize..=32, any::<bool>(), any::<u64>()),
        prop::collection::vec(any::<usize>(), 8),
    )
        .prop_map(|((layers, bidirectional, batch, steps), (input, hidden, bias, seed), raw)| RecurrentCase {
            layers,
            bidirectional,
            batch,
            steps,
            input,
            hidden,
            bias,
            seed,
            lengths: raw.iter().take(batch).map(|l| 1 + l % steps).collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_agrees(
        batch in 1usize..=8, c_in in 1usize..=4, c_out in 1usize..=8,
        side in 3usize..=12, kernel in 1usize..=3, pad in 0usize..=1, bias: bool, seed: u64,
    ) {
        let nd_device = Default::default();
        let tch_device = Default::default();
        let config = Conv2dConfig::new([c_in, c_out], [kernel, kernel]).with_padding(padding(pad)).with_bias(bias);
        let (nd_conv, tch_conv) = twin_modules::<NdArrayAutodiff, TchAutodiff, _, _>(config.init(&nd_device), &nd_device, config.init(&tch_device), &tch_device);
        let shape = [batch, c_in, side, side];
        let x = seeded_floats(seed, shape.iter().product());
        let nd = pass(x.clone(), shape, seed ^ 1, &nd_device, |x| nd_conv.forward(x), |g| conv_grads(&nd_conv, g));
        let tch = pass(x, shape, seed ^ 1, &tch_device, |x| tch_conv.forward(x), |g| conv_grads(&tch_conv, g));
        assert_passes_agree("conv2d", tch, nd);
    }

    #[test]
    fn max_pool2d_agrees(
        batch in 1usize..=8, channels in 1usize..=8, side in 2usize..=12, kernel in 1usize..=3, seed: u64,
    ) {
        prop_assume!(kernel <= side);
        let pool = MaxPool2dConfig::new([kernel, kernel]).init();
        let shape = [batch, channels, side, side];
        let x = seeded_floats(seed, shape.iter().product());
        let nd = pass::<NdArrayAutodiff, 4, 4>(x.clone(), shape, seed ^ 1, &Default::default(), |x| pool.forward(x), |_| Vec::new());
        let tch = pass::<TchAutodiff, 4, 4>(x, shape, seed ^ 1, &Default::default(), |x| pool.forward(x), |_| Vec::new());
        assert_passes_agree("max_pool2d", tch, nd);
    }

    #[test]
    fn linear_agrees(batch in 1usize..=8, d_in in 1usize..=64, d_out in 1usize..=32, bias: bool, seed: u64) {
        let nd_device = Default::default();
        let tch_device = Default::default();
        let config = LinearConfig::new(d_in, d_out).with_bias(bias);
        let (nd_linear, tch_linear) = twin_modules::<NdArrayAutodiff, TchAutodiff, _, _>(config.init(&nd_device), &nd_device, config.init(&tch_device), &tch_device);
        let shape = [batch, d_in];
        let x = seeded_floats(seed, batch * d_in);
        let nd = pass(x.clone(), shape, seed ^ 1, &nd_device, |x| nd_linear.forward(x), |g| linear_grads(&nd_linear, g));
        let tch = pass(x, shape, seed ^ 1, &tch_device, |x| tch_linear.forward(x), |g| linear_grads(&tch_linear, g));
        assert_passes_agree("linear", tch, nd);
    }

    #[test]
    fn rnn_agrees(case in recurrent_case(), relu: bool) {
        let nonlinearity = if relu { RnnNonlinearity::Relu } else { RnnNonlinearity::Tanh };
        let (nd, tch) = twins!(RnnConfig::new(case.input, case.hidden).with_nonlinearity(nonlinearity), case);
        compare_recurrent(&format!("rnn ({nonlinearity:?})"), nd, tch, &case);
    }

    #[test]
    fn lstm_agrees(case in recurrent_case()) {
        let (nd, tch) = twins!(LstmConfig::new(case.input, case.hidden), case);
        compare_recurrent("lstm", nd, tch, &case);
    }

    #[test]
    fn gru_agrees(case in recurrent_case()) {
        let (nd, tch) = twins!(GruConfig::new(case.input, case.hidden), case);
        compare_recurrent("gru", nd, tch, &case);
    }
}
