//! One direction of one recurrent layer as a single operation: the time loop
//! of an RNN, LSTM or GRU over precomputed input projections, its forward
//! pass (optionally recording what the backward pass needs) and its backward
//! pass (backpropagation through time, written out by hand).
//!
//! Everything here is written with burn's tensor API on a plain backend `B`,
//! so it runs on any backend; [`RecurrentBackend`](crate::RecurrentBackend)
//! lets a backend replace it with something faster.

use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Tensor, TensorData};

/// The recurrent cell a [`Recurrence`] runs, in PyTorch's formulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// `h' = tanh(x̂ + W_hh h)`: `nn.RNN(nonlinearity="tanh")`.
    RnnTanh,
    /// `h' = relu(x̂ + W_hh h)`: `nn.RNN(nonlinearity="relu")`.
    RnnRelu,
    /// `nn.LSTM`, gates i, f, g, o; carries `h` and `c`.
    Lstm,
    /// `nn.GRU`, gates r, z, n, with `b_hn` inside the reset product.
    Gru,
}

impl CellKind {
    /// Gate blocks stacked in the rows of `weight_ih` and `weight_hh`.
    pub const fn gates(self) -> usize {
        match self {
            CellKind::RnnTanh | CellKind::RnnRelu => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// State tensors carried from step to step, `h` first (LSTM: `h`, `c`).
    pub const fn states(self) -> usize {
        match self {
            CellKind::Lstm => 2,
            _ => 1,
        }
    }

    /// Gate blocks of `b_hh` that are plain additions and can be folded into
    /// the input projection once; the rest ([`Recurrence`]'s `hh_bias`) is
    /// applied at every step. Only GRU keeps one: `b_hn` is multiplied by `r`.
    pub const fn folded_hh_bias(self) -> usize {
        match self {
            CellKind::Gru => 2,
            other => other.gates(),
        }
    }
}

/// What a recurrence runs: the cell, the direction and the lengths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    /// The cell.
    pub cell: CellKind,
    /// Run from the last step to the first.
    pub reverse: bool,
    /// Real steps of each sample (`pack_padded_sequence` semantics): past its
    /// length a sample's state stays as it was and its output is zero, so the
    /// reverse direction starts at the sample's own last step. `None`: every
    /// sample is full length. The caller checks them (1 ≤ length ≤ steps).
    pub lengths: Option<Vec<usize>>,
}

/// The inputs of a recurrence.
#[derive(Debug, Clone)]
pub struct RecurrenceInputs<B: Backend> {
    /// The input projection of every step, time-major, `[T, B, G·H]`: `x W_ihᵀ`.
    pub gates_x: Tensor<B, 3>,
    /// Added to every step's `gates_x`, `[G·H]`: `b_ih` plus the folded
    /// blocks of `b_hh` (see [`CellKind::folded_hh_bias`]), if the layer has biases.
    pub bias: Option<Tensor<B, 1>>,
    /// `weight_hh`, `[G·H, H]`.
    pub w_hh: Tensor<B, 2>,
    /// The unfolded blocks of `b_hh` (GRU: `b_hn`, `[H]`), if the layer has biases.
    pub hh_bias: Option<Tensor<B, 1>>,
    /// The initial states, `[S, B, H]` (`h_0`, and `c_0` for LSTM).
    pub initial: Tensor<B, 3>,
}

/// The gradients of a recurrence's inputs, same shapes as [`RecurrenceInputs`].
#[derive(Debug, Clone)]
pub struct RecurrenceGrads<B: Backend> {
    /// With respect to `gates_x`.
    pub gates_x: Tensor<B, 3>,
    /// With respect to `bias`, when it was given.
    pub bias: Option<Tensor<B, 1>>,
    /// With respect to `w_hh`.
    pub w_hh: Tensor<B, 2>,
    /// With respect to `hh_bias`, when it was given.
    pub hh_bias: Option<Tensor<B, 1>>,
    /// With respect to `initial`.
    pub initial: Tensor<B, 3>,
}

/// What the forward pass keeps for the backward pass. Each tensor is stacked
/// over the time steps in time order; masked steps hold values that are never read.
#[derive(Debug, Clone)]
pub struct RecurrenceTape<B: Backend> {
    pub(crate) spec: Recurrence,
    pub(crate) w_hh: Tensor<B, 2>,
    pub(crate) has_bias: bool,
    pub(crate) has_hh_bias: bool,
    /// The states before each step, `h` first, each `[T, B, H]`.
    pub(crate) prev: Vec<Tensor<B, 3>>,
    /// The cell's activations (see [`cell_forward`]), `[T, B, X]`.
    pub(crate) acts: Tensor<B, 3>,
    /// LSTM: `tanh(c')`; GRU: `W_hn h + b_hn`; RNN: `h'` again; `[T, B, H]`.
    pub(crate) extra: Tensor<B, 3>,
}

/// One step's saved values.
struct StepTape<B: Backend> {
    prev: Vec<Tensor<B, 2>>,
    acts: Tensor<B, 2>,
    extra: Tensor<B, 2>,
}

/// Which samples are inside their length at one step, `[B, H]`.
#[derive(Debug, Clone)]
struct StepMask<B: Backend> {
    keep: Tensor<B, 2, Bool>,
    /// 1 inside the length, 0 in the padding.
    scale: Tensor<B, 2>,
    /// `1 − scale`.
    pass: Tensor<B, 2>,
}

/// The output of a recurrence: `[T + S, B, H]`, the outputs of every step
/// (time order, zero past each sample's length) followed by the final states.
pub fn split_output<B: Backend>(output: Tensor<B, 3>, states: usize) -> (Tensor<B, 3>, Vec<Tensor<B, 2>>) {
    let [total, batch, hidden] = output.dims();
    let steps = total - states;
    let finals = (0..states).map(|i| output.clone().narrow(0, steps + i, 1).reshape([batch, hidden])).collect();
    (output.narrow(0, 0, steps), finals)
}

/// Runs the recurrence with tensor operations of `B`. Returns `[T + S, B, H]`
/// (see [`split_output`]) and the tape, which holds the steps only when
/// `record` is set (otherwise its tensors have no steps).
pub(crate) fn forward<B: Backend>(
    spec: &Recurrence,
    inputs: RecurrenceInputs<B>,
    record: bool,
) -> (Tensor<B, 3>, RecurrenceTape<B>) {
    let RecurrenceInputs { gates_x, bias, w_hh, hh_bias, initial } = inputs;
    let [steps, batch, rows] = gates_x.dims();
    let hidden = w_hh.dims()[1];
    let device = gates_x.device();
    let has_bias = bias.is_some();
    let gates_x = match bias {
        Some(bias) => gates_x + bias.reshape([1, 1, rows]),
        None => gates_x,
    };
    let w_t = w_hh.clone().transpose();
    let masks = spec.lengths.as_deref().map(|lengths| step_masks::<B>(lengths, steps, hidden, &device));
    let mut state: Vec<Tensor<B, 2>> =
        (0..spec.cell.states()).map(|i| initial.clone().narrow(0, i, 1).reshape([batch, hidden])).collect();
    let mut outputs: Vec<Option<Tensor<B, 3>>> = vec![None; steps];
    let recorded = if record { steps } else { 0 };
    let mut prev_all: Vec<Vec<Option<Tensor<B, 2>>>> = vec![vec![None; recorded]; state.len()];
    let (mut acts_all, mut extra_all) = (vec![None; recorded], vec![None; recorded]);
    for s in 0..steps {
        let t = if spec.reverse { steps - 1 - s } else { s };
        let gx = gates_x.clone().narrow(0, t, 1).reshape([batch, rows]);
        let gh = state[0].clone().matmul(w_t.clone());
        let (next, acts, extra) = cell_forward(spec.cell, gx, gh, hh_bias.as_ref(), &state);
        let out = match &masks {
            Some(masks) => next[0].clone() * masks[t].scale.clone(),
            None => next[0].clone(),
        };
        outputs[t] = Some(out.unsqueeze_dim(0));
        let prev = std::mem::replace(&mut state, next);
        if let Some(masks) = &masks {
            // Past a sample's length its state stays as it was.
            let keep = &masks[t].keep;
            state = state.into_iter().zip(&prev).map(|(n, p)| p.clone().mask_where(keep.clone(), n)).collect();
        }
        if record {
            for (all, p) in prev_all.iter_mut().zip(prev) {
                all[t] = Some(p);
            }
            acts_all[t] = Some(acts);
            extra_all[t] = Some(extra);
        }
    }
    let mut rows_out: Vec<Tensor<B, 3>> = outputs.into_iter().flatten().collect();
    rows_out.extend(state.into_iter().map(|s| s.unsqueeze_dim(0)));
    let output = Tensor::cat(rows_out, 0);
    let stack = |all: Vec<Option<Tensor<B, 2>>>| {
        let all: Vec<Tensor<B, 2>> = all.into_iter().flatten().collect();
        if all.is_empty() { Tensor::zeros([0, batch, hidden], &device) } else { Tensor::stack(all, 0) }
    };
    let tape = RecurrenceTape {
        spec: spec.clone(),
        w_hh,
        has_bias,
        has_hh_bias: hh_bias.is_some(),
        prev: prev_all.into_iter().map(stack).collect(),
        acts: stack(acts_all),
        extra: stack(extra_all),
    };
    (output, tape)
}

/// One step of `cell`: the next states, the activations the backward pass
/// needs, and one extra saved tensor.
///
/// Saved activations: RNN: `h'`; LSTM: `[i, f, g, o]` after their
/// nonlinearities, extra `tanh(c')`; GRU: `[r, z, n]`, extra `W_hn h + b_hn`.
fn cell_forward<B: Backend>(
    cell: CellKind,
    gx: Tensor<B, 2>,
    gh: Tensor<B, 2>,
    hh_bias: Option<&Tensor<B, 1>>,
    state: &[Tensor<B, 2>],
) -> (Vec<Tensor<B, 2>>, Tensor<B, 2>, Tensor<B, 2>) {
    let hidden = state[0].dims()[1];
    match cell {
        CellKind::RnnTanh | CellKind::RnnRelu => {
            let a = gx + gh;
            let h = if cell == CellKind::RnnTanh { a.tanh() } else { relu(a) };
            (vec![h.clone()], h.clone(), h)
        }
        CellKind::Lstm => {
            let a = gx + gh;
            let block = |k: usize| a.clone().narrow(1, k * hidden, hidden);
            let (i, f, g, o) = (sigmoid(block(0)), sigmoid(block(1)), block(2).tanh(), sigmoid(block(3)));
            let c = f.clone() * state[1].clone() + i.clone() * g.clone();
            let tc = c.clone().tanh();
            let h = o.clone() * tc.clone();
            (vec![h, c], Tensor::cat(vec![i, f, g, o], 1), tc)
        }
        CellKind::Gru => {
            let rz = sigmoid(gx.clone().narrow(1, 0, 2 * hidden) + gh.clone().narrow(1, 0, 2 * hidden));
            let (r, z) = (rz.clone().narrow(1, 0, hidden), rz.narrow(1, hidden, hidden));
            let mut hn = gh.narrow(1, 2 * hidden, hidden);
            if let Some(b_hn) = hh_bias {
                hn = hn + b_hn.clone().unsqueeze_dim(0);
            }
            let n = (gx.narrow(1, 2 * hidden, hidden) + r.clone() * hn.clone()).tanh();
            // (1 − z) ⊙ n + z ⊙ h = n + z ⊙ (h − n)
            let h = n.clone() + z.clone() * (state[0].clone() - n.clone());
            (vec![h], Tensor::cat(vec![r, z, n], 1), hn)
        }
    }
}

/// Backpropagation through time: the gradients of the inputs given the
/// gradient of the output `[T + S, B, H]`.
pub(crate) fn backward<B: Backend>(tape: RecurrenceTape<B>, grad: Tensor<B, 3>) -> RecurrenceGrads<B> {
    let RecurrenceTape { spec, w_hh, has_bias, has_hh_bias, prev, acts, extra } = tape;
    let cell = spec.cell;
    let n_states = cell.states();
    let [total, batch, hidden] = grad.dims();
    let steps = total - n_states;
    let width = acts.dims()[2];
    let masks = spec.lengths.as_deref().map(|lengths| step_masks::<B>(lengths, steps, hidden, &grad.device()));
    let at = |t: &Tensor<B, 3>, s: usize, w: usize| t.clone().narrow(0, s, 1).reshape([batch, w]);
    let (d_out, mut carry) = split_output(grad, n_states);
    // Per time step: the gradients of the input projection and of `h W_hhᵀ`
    // (the same but for GRU's `n` block), for one large weight-gradient
    // matmul with the saved `h`s at the end.
    let mut d_gx_all: Vec<Option<Tensor<B, 2>>> = vec![None; steps];
    let mut d_gh_all: Vec<Option<Tensor<B, 2>>> = vec![None; steps];
    for s in (0..steps).rev() {
        let t = if spec.reverse { steps - 1 - s } else { s };
        let step = StepTape {
            prev: prev.iter().map(|p| at(p, t, hidden)).collect(),
            acts: at(&acts, t, width),
            extra: at(&extra, t, hidden),
        };
        let d_out_t = d_out.clone().narrow(0, t, 1).reshape([batch, hidden]);
        let mask = masks.as_ref().map(|m| &m[t]);
        // The output is `h'` (scaled by the mask) and `h'` is also the next
        // state where the sample is inside its length.
        let mut d_next: Vec<Tensor<B, 2>> = carry.clone();
        d_next[0] = d_next[0].clone() + d_out_t;
        if let Some(mask) = mask {
            d_next = d_next.into_iter().map(|d| d * mask.scale.clone()).collect();
        }
        let (d_gx, d_gh, direct) = cell_backward(cell, &step, d_next);
        let mut d_prev_h = d_gh.clone().matmul(w_hh.clone());
        let mut d_prev = Vec::with_capacity(n_states);
        let mut direct = direct.into_iter();
        if let Some(Some(d)) = direct.next() {
            d_prev_h = d_prev_h + d;
        }
        d_prev.push(d_prev_h);
        d_prev.extend(direct.flatten());
        if let Some(mask) = mask {
            // Past its length the state passed through unchanged.
            d_prev = d_prev.into_iter().zip(&carry).map(|(d, c)| d + c.clone() * mask.pass.clone()).collect();
        }
        carry = d_prev;
        d_gx_all[t] = Some(d_gx);
        if cell == CellKind::Gru {
            d_gh_all[t] = Some(d_gh);
        }
    }
    let rows = cell.gates() * hidden;
    let d_gx = Tensor::cat(d_gx_all.into_iter().flatten().collect(), 0);
    let d_gh =
        if cell == CellKind::Gru { Tensor::cat(d_gh_all.into_iter().flatten().collect(), 0) } else { d_gx.clone() };
    let prev_h = prev[0].clone().reshape([steps * batch, hidden]);
    let hh_bias = has_hh_bias.then(|| {
        let folded = cell.folded_hh_bias() * hidden;
        d_gh.clone().narrow(1, folded, rows - folded).sum_dim(0).reshape([rows - folded])
    });
    RecurrenceGrads {
        bias: has_bias.then(|| d_gx.clone().sum_dim(0).reshape([rows])),
        gates_x: d_gx.reshape([steps, batch, rows]),
        w_hh: d_gh.transpose().matmul(prev_h),
        hh_bias,
        initial: Tensor::stack(carry, 0),
    }
}

/// One step backwards: from the gradients of the step's new states, the
/// gradients of its input projection `gx`, of `gh = h W_hhᵀ (+ b_hn)` and the
/// direct gradients of the previous states, `h` first (not counting the path
/// through `gh`; `None` where there is none).
fn cell_backward<B: Backend>(
    cell: CellKind,
    step: &StepTape<B>,
    d_next: Vec<Tensor<B, 2>>,
) -> (Tensor<B, 2>, Tensor<B, 2>, [Option<Tensor<B, 2>>; 2]) {
    let hidden = step.prev[0].dims()[1];
    let acts = step.acts.clone();
    let block = |k: usize| acts.clone().narrow(1, k * hidden, hidden);
    let one_minus_sq = |x: Tensor<B, 2>| x.clone().neg() * x + 1.0;
    let sigmoid_grad = |y: Tensor<B, 2>| y.clone() * (y.neg() + 1.0);
    match cell {
        CellKind::RnnTanh | CellKind::RnnRelu => {
            let dh = d_next[0].clone();
            let da = if cell == CellKind::RnnTanh {
                dh * one_minus_sq(acts)
            } else {
                dh.mask_fill(acts.lower_equal_elem(0.0), 0.0)
            };
            (da.clone(), da, [None, None])
        }
        CellKind::Lstm => {
            let (i, f, g, o) = (block(0), block(1), block(2), block(3));
            let tc = step.extra.clone();
            let dh = d_next[0].clone();
            let dc = d_next[1].clone() + dh.clone() * o.clone() * one_minus_sq(tc.clone());
            let d_o = dh * tc * sigmoid_grad(o);
            let d_i = dc.clone() * g.clone() * sigmoid_grad(i.clone());
            let d_f = dc.clone() * step.prev[1].clone() * sigmoid_grad(f.clone());
            let d_g = dc.clone() * i * one_minus_sq(g);
            let da = Tensor::cat(vec![d_i, d_f, d_g, d_o], 1);
            (da.clone(), da, [None, Some(dc * f)])
        }
        CellKind::Gru => {
            let (r, z, n) = (block(0), block(1), block(2));
            let hn = step.extra.clone();
            let dh = d_next[0].clone();
            let d_an = dh.clone() * (z.clone().neg() + 1.0) * one_minus_sq(n.clone());
            let d_az = dh.clone() * (step.prev[0].clone() - n) * sigmoid_grad(z.clone());
            let d_ar = d_an.clone() * hn * sigmoid_grad(r.clone());
            let d_gx = Tensor::cat(vec![d_ar.clone(), d_az.clone(), d_an.clone()], 1);
            let d_gh = Tensor::cat(vec![d_ar, d_az, d_an * r], 1);
            (d_gx, d_gh, [Some(dh * z), None])
        }
    }
}

/// The masks of every step of a variable-length batch, built once per call.
fn step_masks<B: Backend>(lengths: &[usize], steps: usize, hidden: usize, device: &B::Device) -> Vec<StepMask<B>> {
    let batch = lengths.len();
    let values: Vec<f32> = (0..steps)
        .flat_map(|t| lengths.iter().flat_map(move |&len| std::iter::repeat_n(if t < len { 1.0 } else { 0.0 }, hidden)))
        .collect();
    let all = Tensor::<B, 3>::from_data(TensorData::new(values, [steps, batch, hidden]), device);
    (0..steps)
        .map(|t| {
            let scale = all.clone().narrow(0, t, 1).reshape([batch, hidden]);
            StepMask { keep: scale.clone().greater_elem(0.5), pass: scale.clone().neg() + 1.0, scale }
        })
        .collect()
}
