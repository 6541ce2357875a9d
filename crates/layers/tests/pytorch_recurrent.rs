//! `Rnn`, `Lstm` and `Gru` against PyTorch's `nn.RNN`, `nn.LSTM` and
//! `nn.GRU`: the fixtures in `tests/fixtures/` were written by
//! `scripts/recurrent_fixtures.py` with PyPI torch 2.9.0 (weights,
//! inputs, lengths, initial states, outputs, final states and the gradients
//! of a scalar loss with respect to the input, the initial states and every
//! parameter). Required: max |error| ≤ 1e-5 on outputs and states and
//! ≤ 1e-4 on gradients (f32), on every backend built. f32 carries about 7
//! significant digits; these networks' values are of order one and each
//! passes through at most a few dozen roundings on the way (more in the
//! backward pass, which sums over every time step), so a correct
//! implementation stays orders of magnitude inside both bounds, while a wrong
//! gate order, bias placement or length handling is off at order 1e-2 or more.

use std::collections::HashMap;

use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use kindling_layers::TrainingBackend;
use kindling_layers::{
    DirectionWeights, Gru, GruConfig, Lstm, LstmConfig, LstmState, RecurrentStack, Rnn, RnnConfig, RnnNonlinearity,
};

const OUTPUT_TOLERANCE: f32 = 1e-5;
const GRADIENT_TOLERANCE: f32 = 1e-4;

const CASES: [&str; 9] = [
    "lstm_1layer_seq_first",
    "lstm_1layer_batch_first",
    "lstm_2layer_bidirectional_lengths",
    "lstm_2layer_no_bias_seq_first_lengths",
    "rnn_tanh_1layer",
    "rnn_relu_2layer_bidirectional_lengths",
    "gru_2layer",
    "gru_2layer_bidirectional_lengths",
    "gru_1layer_no_bias_lengths",
];

/// The layer a fixture describes (its file name's first word says which).
enum Layer<B: TrainingBackend> {
    Rnn(Rnn<B>),
    Lstm(Lstm<B>),
    Gru(Gru<B>),
}

impl<B: TrainingBackend> Layer<B> {
    fn stack_mut(&mut self) -> &mut RecurrentStack<B> {
        match self {
            Self::Rnn(m) => &mut m.stack,
            Self::Lstm(m) => &mut m.stack,
            Self::Gru(m) => &mut m.stack,
        }
    }

    /// `output`, `h_n` and, for an LSTM, `c_n`.
    fn forward(
        &self,
        x: Tensor<B, 3>,
        lengths: Option<&[usize]>,
        h0: Tensor<B, 3>,
        c0: Option<Tensor<B, 3>>,
    ) -> (Tensor<B, 3>, Tensor<B, 3>, Option<Tensor<B, 3>>) {
        let result = match self {
            Self::Rnn(m) => m.forward(x, lengths, Some(h0)).map(|(out, h)| (out, h, None)),
            Self::Gru(m) => m.forward(x, lengths, Some(h0)).map(|(out, h)| (out, h, None)),
            Self::Lstm(m) => {
                let state = LstmState { hidden: h0, cell: c0.expect("an LSTM fixture has c0") };
                m.forward(x, lengths, Some(state)).map(|(out, s)| (out, s.hidden, Some(s.cell)))
            }
        };
        result.expect("valid input")
    }
}

/// A fixture file's tensors by name: shape and values (floats, or integers as f64).
struct Fixture {
    name: &'static str,
    tensors: HashMap<String, (Vec<usize>, Vec<f64>)>,
}

impl Fixture {
    fn load(name: &'static str) -> Self {
        let path = format!("{}/tests/fixtures/{name}.safetensors", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let file = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
        let tensors = file
            .tensors()
            .into_iter()
            .map(|(key, view)| {
                let values: Vec<f64> = match view.dtype() {
                    safetensors::Dtype::F32 => view
                        .data()
                        .chunks_exact(4)
                        .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                        .collect(),
                    safetensors::Dtype::I64 => view
                        .data()
                        .chunks_exact(8)
                        .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64)
                        .collect(),
                    other => panic!("{name}: {key} has unexpected dtype {other:?}"),
                };
                (key, (view.shape().to_vec(), values))
            })
            .collect();
        Self { name, tensors }
    }

    fn get(&self, key: &str) -> &(Vec<usize>, Vec<f64>) {
        self.tensors.get(key).unwrap_or_else(|| panic!("{}: no tensor `{key}`", self.name))
    }

    fn has(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    fn tensor<B: TrainingBackend, const D: usize>(&self, key: &str, device: &B::Device) -> Tensor<B, D> {
        let (shape, values) = self.get(key);
        let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        Tensor::from_data(TensorData::new(values, shape.clone()), device)
    }

    fn layer<B: TrainingBackend>(&self, device: &B::Device) -> Layer<B> {
        let c: Vec<usize> = self.get("config").1.iter().map(|&v| v as usize).collect();
        let (layers, bidirectional, batch_first, bias) = (c[2], c[3] == 1, c[4] == 1, c[5] == 1);
        macro_rules! configure {
            ($config:expr) => {
                $config
                    .with_num_layers(layers)
                    .with_bidirectional(bidirectional)
                    .with_batch_first(batch_first)
                    .with_bias(bias)
                    .init(device)
            };
        }
        match self.name.split('_').next() {
            Some("lstm") => Layer::Lstm(configure!(LstmConfig::new(c[0], c[1]))),
            Some("gru") => Layer::Gru(configure!(GruConfig::new(c[0], c[1]))),
            Some("rnn") => {
                let nonlinearity =
                    if self.name.starts_with("rnn_relu") { RnnNonlinearity::Relu } else { RnnNonlinearity::Tanh };
                Layer::Rnn(configure!(RnnConfig::new(c[0], c[1]).with_nonlinearity(nonlinearity)))
            }
            _ => panic!("{}: the file name does not say which layer it holds", self.name),
        }
    }

    fn lengths(&self) -> Option<Vec<usize>> {
        self.has("lengths").then(|| self.get("lengths").1.iter().map(|&v| v as usize).collect())
    }

    /// Compares a computed tensor with the fixture's.
    fn assert_close<B: Backend, const D: usize>(&self, key: &str, actual: Tensor<B, D>, tolerance: f32) {
        let (shape, expected) = self.get(key);
        assert_eq!(&actual.dims().to_vec(), shape, "{}: shape of {key}", self.name);
        let actual: Vec<f32> = actual.into_data().convert::<f32>().to_vec().expect("floats");
        let worst = actual.iter().zip(expected).map(|(a, &e)| (a - e as f32).abs()).fold(0.0f32, f32::max);
        assert!(worst <= tolerance, "{}: {key} differs from PyTorch by {worst:e} (tolerance {tolerance:e})", self.name);
    }
}

fn param<B: TrainingBackend, const D: usize>(f: &Fixture, key: &str, device: &B::Device) -> Param<Tensor<B, D>> {
    Param::from_tensor(f.tensor(key, device))
}

/// PyTorch's `state_dict` names for layer `k`, direction `suffix` ("" or "_reverse").
fn load_direction<B: TrainingBackend>(f: &Fixture, k: usize, suffix: &str, device: &B::Device) -> DirectionWeights<B> {
    let name = |kind: &str| format!("{kind}_l{k}{suffix}");
    DirectionWeights {
        weight_ih: param(f, &name("weight_ih"), device),
        weight_hh: param(f, &name("weight_hh"), device),
        bias_ih: f.has(&name("bias_ih")).then(|| param(f, &name("bias_ih"), device)),
        bias_hh: f.has(&name("bias_hh")).then(|| param(f, &name("bias_hh"), device)),
    }
}

fn check_case<B: TrainingBackend>(f: &Fixture, device: &B::Device) {
    let mut module = f.layer::<B>(device);
    for (k, layer) in module.stack_mut().layers.iter_mut().enumerate() {
        layer.forward = load_direction(f, k, "", device);
        if layer.reverse.is_some() {
            layer.reverse = Some(load_direction(f, k, "_reverse", device));
        }
    }
    let x = f.tensor::<B, 3>("input", device).require_grad();
    let h0 = f.tensor::<B, 3>("h0", device).require_grad();
    let c0 = f.has("c0").then(|| f.tensor::<B, 3>("c0", device).require_grad());
    let lengths = f.lengths();
    let (output, hidden, cell) = module.forward(x.clone(), lengths.as_deref(), h0.clone(), c0.clone());

    f.assert_close("output", output.clone(), OUTPUT_TOLERANCE);
    f.assert_close("h_n", hidden.clone(), OUTPUT_TOLERANCE);
    let mut loss =
        (output * f.tensor("upstream.output", device)).sum() + (hidden * f.tensor("upstream.h_n", device)).sum();
    if let Some(cell) = cell {
        f.assert_close("c_n", cell.clone(), OUTPUT_TOLERANCE);
        loss = loss + (cell * f.tensor("upstream.c_n", device)).sum();
    }
    let grads = loss.backward();
    let grad = |t: &Tensor<B, 3>| t.grad(&grads).expect("gradient");
    f.assert_close("grad.input", grad(&x), GRADIENT_TOLERANCE);
    f.assert_close("grad.h0", grad(&h0), GRADIENT_TOLERANCE);
    if let Some(c0) = &c0 {
        f.assert_close("grad.c0", grad(c0), GRADIENT_TOLERANCE);
    }
    for (k, layer) in module.stack_mut().layers.iter().enumerate() {
        let directions = std::iter::once((&layer.forward, "")).chain(layer.reverse.iter().map(|w| (w, "_reverse")));
        for (w, suffix) in directions {
            let key = |kind: &str| format!("grad.{kind}_l{k}{suffix}");
            f.assert_close(&key("weight_ih"), w.weight_ih.grad(&grads).expect("gradient"), GRADIENT_TOLERANCE);
            f.assert_close(&key("weight_hh"), w.weight_hh.grad(&grads).expect("gradient"), GRADIENT_TOLERANCE);
            for (bias, kind) in [(&w.bias_ih, "bias_ih"), (&w.bias_hh, "bias_hh")] {
                if let Some(bias) = bias {
                    f.assert_close(&key(kind), bias.grad(&grads).expect("gradient"), GRADIENT_TOLERANCE);
                }
            }
        }
    }
}

#[test]
fn recurrent_layers_match_pytorch_on_ndarray() {
    for case in CASES {
        check_case::<kindling_backend::NdArrayAutodiff>(&Fixture::load(case), &Default::default());
    }
}

#[cfg(feature = "tch")]
#[test]
fn recurrent_layers_match_pytorch_on_tch() {
    for case in CASES {
        check_case::<kindling_backend::TchAutodiff>(&Fixture::load(case), &Default::default());
    }
}
