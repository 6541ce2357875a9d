//! ndarray and libtorch must agree on the CNN layers' outputs and gradients.
//!
//! Tolerance: `1e-5 · max(1, max|reference|)` per tensor (see
//! `kindling_backend::parity::assert_close`). Both backends compute in f32
//! (ε ≈ 1.2e-7) but sum in different orders (im2col + gemm against oneDNN).
//! Measured: the largest difference over these properties was 4.8e-7 at
//! scale 3.3 (a conv2d input gradient), a few ε of the tensor's scale, so
//! 1e-5 leaves a 20× margin while any semantic difference (padding, stride,
//! layout) shows up at order one.
#![cfg(feature = "tch")]

use burn::module::Param;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use kindling_backend::parity::{assert_close, seeded_floats, twin_modules};
use kindling_backend::{NdArrayAutodiff, TchAutodiff};
use kindling_layers::{Conv2d, Conv2dConfig, Linear, LinearConfig, Lstm, LstmConfig, MaxPool2dConfig, padding};
use proptest::prelude::*;

const TOLERANCE: f32 = 1e-5;

/// Output, input gradient and parameter gradients of one forward/backward pass.
struct Pass {
    output: TensorData,
    grads: Vec<(&'static str, TensorData)>,
}

/// Runs `forward`, back-propagates `sum(output * upstream)` with a seeded
/// `upstream`, and collects the input gradient and the listed parameters'.
fn pass<B: AutodiffBackend, const D: usize, const E: usize>(
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

fn grad_of<B: AutodiffBackend, const D: usize>(
    name: &'static str,
    param: &Param<Tensor<B, D>>,
    grads: &B::Gradients,
) -> (&'static str, TensorData) {
    (name, param.grad(grads).expect("parameter gradient").into_data())
}

fn conv_grads<B: AutodiffBackend>(conv: &Conv2d<B>, grads: &B::Gradients) -> Vec<(&'static str, TensorData)> {
    let mut g = vec![grad_of("weight", &conv.weight, grads)];
    if let Some(bias) = &conv.bias {
        g.push(grad_of("bias", bias, grads));
    }
    g
}

fn linear_grads<B: AutodiffBackend>(linear: &Linear<B>, grads: &B::Gradients) -> Vec<(&'static str, TensorData)> {
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

fn lstm_grads<B: AutodiffBackend>(lstm: &Lstm<B>, grads: &B::Gradients) -> Vec<(&'static str, TensorData)> {
    let mut g = Vec::new();
    for layer in &lstm.layers {
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

/// The batch-first LSTM's output and final states, flattened per sample into
/// `[B, everything]`, so one comparison and one upstream gradient cover all.
fn lstm_outputs<B: AutodiffBackend>(lstm: &Lstm<B>, x: Tensor<B, 3>, lengths: &[usize]) -> Tensor<B, 2> {
    let (out, state) = lstm.forward(x, Some(lengths), None).expect("valid input");
    let states = Tensor::cat(vec![state.hidden, state.cell], 0).swap_dims(0, 1).flatten::<2>(1, 2);
    Tensor::cat(vec![out.flatten::<2>(1, 2), states], 1)
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
    fn lstm_agrees(
        layers in 1usize..=3, bidirectional: bool, batch in 1usize..=8, steps in 1usize..=20,
        input in 1usize..=32, hidden in 1usize..=32, bias: bool, seed: u64, raw_lengths in prop::collection::vec(any::<usize>(), 8),
    ) {
        let lengths: Vec<usize> = raw_lengths.iter().take(batch).map(|l| 1 + l % steps).collect();
        let nd_device = Default::default();
        let tch_device = Default::default();
        let config = LstmConfig::new(input, hidden).with_num_layers(layers).with_bidirectional(bidirectional)
            .with_bias(bias).with_batch_first(true);
        let (nd_lstm, tch_lstm) =
            twin_modules::<NdArrayAutodiff, TchAutodiff, _, _>(config.init(&nd_device), &nd_device, config.init(&tch_device), &tch_device);
        let shape = [batch, steps, input];
        let x = seeded_floats(seed, shape.iter().product());
        let nd = pass(x.clone(), shape, seed ^ 1, &nd_device, |x| lstm_outputs(&nd_lstm, x, &lengths), |g| lstm_grads(&nd_lstm, g));
        let tch = pass(x, shape, seed ^ 1, &tch_device, |x| lstm_outputs(&tch_lstm, x, &lengths), |g| lstm_grads(&tch_lstm, g));
        assert_passes_agree("lstm", tch, nd);
    }
}
