//! The recurrence on burn-ndarray, written as plain loops over contiguous
//! buffers.
//!
//! burn-ndarray runs each tensor operation as its own pass with its own
//! allocation, and computes `sigmoid` as `exp(−log(1 + exp(−x)))`: a step of
//! an LSTM costs about twenty passes and fifteen scalar `libm` calls per
//! element. Here each step is one matmul (matrixmultiply, as burn-ndarray's
//! own) and one fused pass over the gates, with `exp` evaluated by a
//! polynomial the compiler vectorises. Tensors of other element types fall
//! back to the tensor-operation implementation in `recurrence.rs`.

use burn::backend::NdArray;
use burn::backend::ndarray::NdArrayTensor;
use burn::tensor::{Tensor, TensorPrimitive};
use ndarray::linalg::general_mat_mul;
use ndarray::{ArcArray, ArrayView2, ArrayViewMut2, CowArray, IxDyn};

use crate::RecurrentBackend;
use crate::recurrence::{self, CellKind, Recurrence, RecurrenceGrads, RecurrenceInputs, RecurrenceTape};

type Cpu = NdArray<f32>;

impl RecurrentBackend for Cpu {
    fn recurrence(spec: &Recurrence, inputs: RecurrenceInputs<Self>) -> Tensor<Self, 3> {
        match forward(spec, &inputs, false) {
            Some((output, _)) => output,
            None => recurrence::forward(spec, inputs, false).0,
        }
    }

    fn recurrence_forward(
        spec: &Recurrence,
        inputs: RecurrenceInputs<Self>,
    ) -> (Tensor<Self, 3>, RecurrenceTape<Self>) {
        match forward(spec, &inputs, true) {
            Some((output, Some(saved))) => {
                let tape = RecurrenceTape {
                    spec: spec.clone(),
                    w_hh: inputs.w_hh,
                    has_bias: inputs.bias.is_some(),
                    has_hh_bias: inputs.hh_bias.is_some(),
                    prev: saved.prev,
                    acts: saved.acts,
                    extra: saved.extra,
                };
                (output, tape)
            }
            _ => recurrence::forward(spec, inputs, true),
        }
    }

    fn recurrence_backward(tape: RecurrenceTape<Self>, grad: Tensor<Self, 3>) -> RecurrenceGrads<Self> {
        match backward(&tape, &grad) {
            Some(grads) => grads,
            None => recurrence::backward(tape, grad),
        }
    }
}

/// The sizes of one recurrence.
#[derive(Debug, Clone, Copy)]
struct Dims {
    steps: usize,
    /// `G · H`, the width of the gates.
    rows: usize,
    /// Width of the saved activations per sample.
    width: usize,
}

impl Dims {
    fn new(cell: CellKind, steps: usize, hidden: usize) -> Self {
        let rows = cell.gates() * hidden;
        let width = match cell {
            CellKind::Gru => 3 * hidden,
            other => other.gates() * hidden,
        };
        Self { steps, rows, width }
    }

    /// The time step processed at position `s`.
    fn time(&self, spec: &Recurrence, s: usize) -> usize {
        if spec.reverse { self.steps - 1 - s } else { s }
    }

    /// Whether sample `b` is inside its length at time `t`.
    fn keeps(spec: &Recurrence, b: usize, t: usize) -> bool {
        spec.lengths.as_ref().is_none_or(|lengths| t < lengths[b])
    }
}

/// The tape's tensors, built from the kernel's buffers.
struct Saved {
    prev: Vec<Tensor<Cpu, 3>>,
    acts: Tensor<Cpu, 3>,
    extra: Tensor<Cpu, 3>,
}

/// The f32 array behind a tensor, or `None` for another element type.
fn host<const D: usize>(tensor: &Tensor<Cpu, D>) -> Option<ArcArray<f32, IxDyn>> {
    match tensor.clone().into_primitive() {
        TensorPrimitive::Float(NdArrayTensor::F32(storage)) => Some(storage.into_shared()),
        _ => None,
    }
}

/// A tensor owning `values` with `shape`.
fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Option<Tensor<Cpu, D>> {
    let array = ArcArray::from_shape_vec(IxDyn(&shape), values).ok()?;
    Some(Tensor::from_primitive(TensorPrimitive::Float(NdArrayTensor::from(array))))
}

/// The values of `array` in row-major order (borrowed when already so).
fn contiguous(array: &ArcArray<f32, IxDyn>) -> CowArray<'_, f32, IxDyn> {
    array.as_standard_layout()
}

/// Runs the recurrence; also returns the tape's tensors when `record`.
fn forward(spec: &Recurrence, inputs: &RecurrenceInputs<Cpu>, record: bool) -> Option<(Tensor<Cpu, 3>, Option<Saved>)> {
    let [steps, batch, rows] = inputs.gates_x.dims();
    let hidden = inputs.w_hh.dims()[1];
    let dims = Dims::new(spec.cell, steps, hidden);
    let states = spec.cell.states();
    let (gx, w, init) = (host(&inputs.gates_x)?, host(&inputs.w_hh)?, host(&inputs.initial)?);
    let (gx, w, init) = (contiguous(&gx), contiguous(&w), contiguous(&init));
    let gx = gx.as_slice()?;
    let w = ArrayView2::from_shape((rows, hidden), w.as_slice()?).ok()?;
    let bias = optional_vector(inputs.bias.as_ref())?;
    let hh_bias = optional_vector(inputs.hh_bias.as_ref())?;

    let (bh, steps_bh) = (batch * hidden, steps * batch * hidden);
    let mut state: Vec<Vec<f32>> = init.as_slice()?.chunks(bh).map(<[f32]>::to_vec).collect();
    let mut output = vec![0.0f32; (steps + states) * bh];
    let mut gates = vec![0.0f32; batch * rows];
    let mut x_biased = vec![0.0f32; rows];
    let recorded = if record { steps } else { 1 };
    let mut prev = vec![vec![0.0f32; if record { steps_bh } else { 0 }]; states];
    let mut acts = vec![0.0f32; recorded * batch * dims.width];
    let mut extra = vec![0.0f32; recorded * bh];
    for s in 0..steps {
        let t = dims.time(spec, s);
        {
            let h = ArrayView2::from_shape((batch, hidden), &state[0]).ok()?;
            let mut g = ArrayViewMut2::from_shape((batch, rows), &mut gates).ok()?;
            general_mat_mul(1.0, &h, &w.t(), 0.0, &mut g);
        }
        let slot = if record { t } else { 0 };
        if record {
            for (p, st) in prev.iter_mut().zip(&state) {
                p[t * bh..(t + 1) * bh].copy_from_slice(st);
            }
        }
        for b in 0..batch {
            if !Dims::keeps(spec, b, t) {
                continue;
            }
            let row = (t * batch + b) * rows;
            let x = match &bias {
                Some(bias) => {
                    for ((v, x), b) in x_biased.iter_mut().zip(&gx[row..row + rows]).zip(bias) {
                        *v = x + b;
                    }
                    &x_biased[..]
                }
                None => &gx[row..row + rows],
            };
            let g = &gates[b * rows..(b + 1) * rows];
            let out = &mut output[(t * batch + b) * hidden..][..hidden];
            let a = &mut acts[(slot * batch + b) * dims.width..][..dims.width];
            let e = &mut extra[(slot * batch + b) * hidden..][..hidden];
            let (h_state, rest) = state.split_at_mut(1);
            let h = &mut h_state[0][b * hidden..(b + 1) * hidden];
            match spec.cell {
                CellKind::RnnTanh | CellKind::RnnRelu => rnn_step(spec.cell == CellKind::RnnTanh, x, g, h, a),
                CellKind::Lstm => lstm_step(x, g, h, &mut rest[0][b * hidden..(b + 1) * hidden], a, e),
                CellKind::Gru => gru_step(x, g, hh_bias.as_deref(), h, a, e),
            }
            out.copy_from_slice(h);
        }
    }
    for (k, st) in state.iter().enumerate() {
        output[(steps + k) * bh..(steps + k + 1) * bh].copy_from_slice(st);
    }
    let output = tensor(output, [steps + states, batch, hidden])?;
    if !record {
        return Some((output, None));
    }
    let prev = prev.into_iter().map(|p| tensor(p, [steps, batch, hidden])).collect::<Option<Vec<_>>>()?;
    let saved =
        Saved { prev, acts: tensor(acts, [steps, batch, dims.width])?, extra: tensor(extra, [steps, batch, hidden])? };
    Some((output, Some(saved)))
}

/// `h' = tanh(x + g)` or `relu(x + g)`; saves `h'` (the backward pass reads
/// it from the activations only).
fn rnn_step(tanh: bool, x: &[f32], g: &[f32], h: &mut [f32], acts: &mut [f32]) {
    for (((h, x), g), a) in h.iter_mut().zip(x).zip(g).zip(acts.iter_mut()) {
        let pre = x + g;
        *h = if tanh { fast_tanh(pre) } else { relu(pre) };
        *a = *h;
    }
}

/// The LSTM step for one sample; saves `[i, f, g, o]` and `tanh(c')`.
fn lstm_step(x: &[f32], g: &[f32], h: &mut [f32], c: &mut [f32], acts: &mut [f32], tc_out: &mut [f32]) {
    let n = h.len();
    let (xi, xf, xg, xo) = (&x[..n], &x[n..2 * n], &x[2 * n..3 * n], &x[3 * n..4 * n]);
    let (hi, hf, hg, ho) = (&g[..n], &g[n..2 * n], &g[2 * n..3 * n], &g[3 * n..4 * n]);
    let (ai, rest) = acts.split_at_mut(n);
    let (af, rest) = rest.split_at_mut(n);
    let (ag, ao) = rest.split_at_mut(n);
    let ao = &mut ao[..n];
    let tc_out = &mut tc_out[..n];
    let c = &mut c[..n];
    for j in 0..n {
        let i = fast_sigmoid(xi[j] + hi[j]);
        let f = fast_sigmoid(xf[j] + hf[j]);
        let gg = fast_tanh(xg[j] + hg[j]);
        let o = fast_sigmoid(xo[j] + ho[j]);
        let cj = f * c[j] + i * gg;
        let tc = fast_tanh(cj);
        c[j] = cj;
        h[j] = o * tc;
        (ai[j], af[j], ag[j], ao[j], tc_out[j]) = (i, f, gg, o, tc);
    }
}

/// The GRU step for one sample; saves `[r, z, n]` and `W_hn h + b_hn`.
fn gru_step(x: &[f32], g: &[f32], b_hn: Option<&[f32]>, h: &mut [f32], acts: &mut [f32], hn_out: &mut [f32]) {
    let n = h.len();
    let (xr, xz, xn) = (&x[..n], &x[n..2 * n], &x[2 * n..3 * n]);
    let (hr, hz, hn) = (&g[..n], &g[n..2 * n], &g[2 * n..3 * n]);
    let (ar, rest) = acts.split_at_mut(n);
    let (az, an) = rest.split_at_mut(n);
    let an = &mut an[..n];
    let hn_out = &mut hn_out[..n];
    for j in 0..n {
        let r = fast_sigmoid(xr[j] + hr[j]);
        let z = fast_sigmoid(xz[j] + hz[j]);
        let hn_j = hn[j] + b_hn.map_or(0.0, |b| b[j]);
        let nn = fast_tanh(xn[j] + r * hn_j);
        h[j] = nn + z * (h[j] - nn);
        (ar[j], az[j], an[j], hn_out[j]) = (r, z, nn, hn_j);
    }
}

/// Backpropagation through time over the tape; `None` when a tensor is not
/// f32 (the caller then uses the tensor-operation version).
fn backward(tape: &RecurrenceTape<Cpu>, grad: &Tensor<Cpu, 3>) -> Option<RecurrenceGrads<Cpu>> {
    let spec = &tape.spec;
    let cell = spec.cell;
    let states = cell.states();
    let [total, batch, hidden] = grad.dims();
    let steps = total.checked_sub(states)?;
    let dims = Dims::new(cell, steps, hidden);
    let (rows, bh) = (dims.rows, batch * hidden);
    let grad = host(grad)?;
    let grad = contiguous(&grad);
    let grad = grad.as_slice()?;
    let w = host(&tape.w_hh)?;
    let w = contiguous(&w);
    let w = ArrayView2::from_shape((rows, hidden), w.as_slice()?).ok()?;
    let prev = tape.prev.iter().map(host).collect::<Option<Vec<_>>>()?;
    let prev: Vec<CowArray<'_, f32, IxDyn>> = prev.iter().map(contiguous).collect();
    let prev: Vec<&[f32]> = prev.iter().map(|p| p.as_slice()).collect::<Option<_>>()?;
    let (acts, extra) = (host(&tape.acts)?, host(&tape.extra)?);
    let (acts, extra) = (contiguous(&acts), contiguous(&extra));
    let (acts, extra) = (acts.as_slice()?, extra.as_slice()?);

    let mut carry: Vec<Vec<f32>> = grad[steps * bh..].chunks(bh).map(<[f32]>::to_vec).collect();
    let mut d_gx = vec![0.0f32; steps * batch * rows];
    // Only GRU's gradient of `h W_hhᵀ` differs from that of the input projection.
    let gru = cell == CellKind::Gru;
    let mut d_gh = vec![0.0f32; if gru { steps * batch * rows } else { 0 }];
    let mut next_h = vec![0.0f32; bh];
    let mut next_c = vec![0.0f32; if states == 2 { bh } else { 0 }];
    let mut dh = vec![0.0f32; hidden];
    for s in (0..steps).rev() {
        let t = dims.time(spec, s);
        for b in 0..batch {
            let span = b * hidden..(b + 1) * hidden;
            if !Dims::keeps(spec, b, t) {
                // The state passed through this step unchanged.
                next_h[span.clone()].copy_from_slice(&carry[0][span.clone()]);
                if states == 2 {
                    next_c[span.clone()].copy_from_slice(&carry[1][span]);
                }
                continue;
            }
            let dy = &grad[(t * batch + b) * hidden..][..hidden];
            let saved = (t * batch + b) * hidden;
            let a = &acts[(t * batch + b) * dims.width..][..dims.width];
            let e = &extra[saved..saved + hidden];
            let h_prev = &prev[0][saved..saved + hidden];
            let gx_row = &mut d_gx[(t * batch + b) * rows..][..rows];
            for ((d, c), y) in dh.iter_mut().zip(&carry[0][span.clone()]).zip(dy) {
                *d = c + y;
            }
            match cell {
                CellKind::RnnTanh | CellKind::RnnRelu => {
                    for ((gx, dh), h) in gx_row.iter_mut().zip(&dh).zip(a) {
                        *gx = if cell == CellKind::RnnTanh {
                            dh * (1.0 - h * h)
                        } else if *h > 0.0 {
                            *dh
                        } else {
                            0.0
                        };
                    }
                    next_h[span].fill(0.0);
                }
                CellKind::Lstm => {
                    let c_prev = &prev[1][saved..saved + hidden];
                    let dc = &carry[1][span.clone()];
                    lstm_step_backward(&dh, dc, a, e, c_prev, gx_row, &mut next_c[span.clone()]);
                    next_h[span].fill(0.0);
                }
                CellKind::Gru => {
                    let gh_row = &mut d_gh[(t * batch + b) * rows..][..rows];
                    gru_step_backward(&dh, a, e, h_prev, gx_row, gh_row, &mut next_h[span]);
                }
            }
        }
        // dL/dh_{t−1} = (direct part, or the passed-through carry) + d_gh · W_hh.
        {
            let d_gh = if gru { &d_gh } else { &d_gx };
            let d = ArrayView2::from_shape((batch, rows), &d_gh[t * batch * rows..(t + 1) * batch * rows]).ok()?;
            let mut out = ArrayViewMut2::from_shape((batch, hidden), &mut next_h).ok()?;
            general_mat_mul(1.0, &d, &w, 1.0, &mut out);
        }
        std::mem::swap(&mut carry[0], &mut next_h);
        if states == 2 {
            std::mem::swap(&mut carry[1], &mut next_c);
        }
    }

    // Σ_t d_ghₜᵀ hₜ₋₁ as one matmul over all steps.
    let d_gh = if gru { &d_gh } else { &d_gx };
    let mut d_w = vec![0.0f32; rows * hidden];
    {
        let d = ArrayView2::from_shape((steps * batch, rows), d_gh).ok()?;
        let h = ArrayView2::from_shape((steps * batch, hidden), prev[0]).ok()?;
        let mut out = ArrayViewMut2::from_shape((rows, hidden), &mut d_w).ok()?;
        general_mat_mul(1.0, &d.t(), &h, 0.0, &mut out);
    }
    let hh_bias = if tape.has_hh_bias {
        let folded = cell.folded_hh_bias() * hidden;
        Some(tensor(column_sums(d_gh, rows, folded), [rows - folded])?)
    } else {
        None
    };
    let bias = if tape.has_bias { Some(tensor(column_sums(&d_gx, rows, 0), [rows])?) } else { None };
    let initial: Vec<f32> = carry.concat();
    Some(RecurrenceGrads {
        bias,
        gates_x: tensor(d_gx, [steps, batch, rows])?,
        w_hh: tensor(d_w, [rows, hidden])?,
        hh_bias,
        initial: tensor(initial, [states, batch, hidden])?,
    })
}

/// The sums over all rows of `values` (rows of `width`) of columns `from..`.
fn column_sums(values: &[f32], width: usize, from: usize) -> Vec<f32> {
    let mut sums = vec![0.0f32; width - from];
    for row in values.chunks(width) {
        for (sum, v) in sums.iter_mut().zip(&row[from..]) {
            *sum += v;
        }
    }
    sums
}

/// The contiguous values of an optional vector tensor: `Some(None)` when it
/// is absent, `None` when it is not f32.
fn optional_vector(tensor: Option<&Tensor<Cpu, 1>>) -> Option<Option<Vec<f32>>> {
    match tensor {
        Some(t) => Some(Some(contiguous(&host(t)?).as_slice()?.to_vec())),
        None => Some(None),
    }
}

/// One LSTM step backwards for one sample: writes the gate gradients and the
/// gradient of the previous cell state.
fn lstm_step_backward(
    dh: &[f32],
    dc_next: &[f32],
    acts: &[f32],
    tc: &[f32],
    c_prev: &[f32],
    d_gates: &mut [f32],
    dc_prev: &mut [f32],
) {
    let n = dh.len();
    let (i, f, g, o) = (&acts[..n], &acts[n..2 * n], &acts[2 * n..3 * n], &acts[3 * n..4 * n]);
    let (di, rest) = d_gates.split_at_mut(n);
    let (df, rest) = rest.split_at_mut(n);
    let (dg, d_o) = rest.split_at_mut(n);
    let (d_o, dc_prev, tc, c_prev, dc_next) = (&mut d_o[..n], &mut dc_prev[..n], &tc[..n], &c_prev[..n], &dc_next[..n]);
    for j in 0..n {
        let dc = dc_next[j] + dh[j] * o[j] * (1.0 - tc[j] * tc[j]);
        d_o[j] = dh[j] * tc[j] * o[j] * (1.0 - o[j]);
        di[j] = dc * g[j] * i[j] * (1.0 - i[j]);
        df[j] = dc * c_prev[j] * f[j] * (1.0 - f[j]);
        dg[j] = dc * i[j] * (1.0 - g[j] * g[j]);
        dc_prev[j] = dc * f[j];
    }
}

/// One GRU step backwards for one sample: writes the gradients of the input
/// projection, of `h W_hhᵀ + b_hn`, and the direct part of the previous
/// state's gradient (`dh ⊙ z`).
fn gru_step_backward(
    dh: &[f32],
    acts: &[f32],
    hn: &[f32],
    h_prev: &[f32],
    d_gx: &mut [f32],
    d_gh: &mut [f32],
    dh_direct: &mut [f32],
) {
    let n = dh.len();
    let (r, z, nn) = (&acts[..n], &acts[n..2 * n], &acts[2 * n..3 * n]);
    let (xr, rest) = d_gx.split_at_mut(n);
    let (xz, xn) = rest.split_at_mut(n);
    let (hr, rest) = d_gh.split_at_mut(n);
    let (hz, hn_grad) = rest.split_at_mut(n);
    let (xn, hn_grad, hn, h_prev, dh_direct) =
        (&mut xn[..n], &mut hn_grad[..n], &hn[..n], &h_prev[..n], &mut dh_direct[..n]);
    for j in 0..n {
        let d_an = dh[j] * (1.0 - z[j]) * (1.0 - nn[j] * nn[j]);
        let d_az = dh[j] * (h_prev[j] - nn[j]) * z[j] * (1.0 - z[j]);
        let d_ar = d_an * hn[j] * r[j] * (1.0 - r[j]);
        (xr[j], xz[j], xn[j]) = (d_ar, d_az, d_an);
        (hr[j], hz[j], hn_grad[j]) = (d_ar, d_az, d_an * r[j]);
        dh_direct[j] = dh[j] * z[j];
    }
}

fn relu(x: f32) -> f32 {
    if x > 0.0 { x } else { 0.0 }
}

/// `eˣ` to about 1 ulp (the Cephes single-precision polynomial), written
/// without calls or branches so that loops over it vectorise. NaN stays NaN;
/// arguments are clamped to [−87, 88], where `eˣ` is a normal f32.
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // 1.5 · 2²³: adding it rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = if x < -87.0 { -87.0 } else { x };
    let x = if x > 88.0 { 88.0 } else { x };
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 0.166_666_65) * r
        + 0.5;
    let y = p * r * r + r + 1.0;
    // 2ⁿ from the integer in `shifted`'s low bits.
    let scale = f32::from_bits(shifted.to_bits().wrapping_sub(0x4B40_0000).wrapping_add(127) << 23);
    y * scale
}

#[inline(always)]
fn fast_sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + fast_exp(-x))
}

/// `tanh x = 1 − 2 / (e²ˣ + 1)`: absolute error about 1e-7.
#[inline(always)]
fn fast_tanh(x: f32) -> f32 {
    1.0 - 2.0 / (fast_exp(2.0 * x) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_sigmoid_and_tanh_match_the_standard_library() {
        for i in -20_000..=20_000 {
            let x = i as f32 * 0.005;
            let exp = x.exp();
            if (-87.0..=88.0).contains(&x) {
                assert!((fast_exp(x) - exp).abs() <= 2e-7 * exp, "exp({x}): {} vs {exp}", fast_exp(x));
            }
            let sigmoid = 1.0 / (1.0 + (-x).exp());
            assert!((fast_sigmoid(x) - sigmoid).abs() <= 2e-7, "sigmoid({x})");
            assert!((fast_tanh(x) - x.tanh()).abs() <= 3e-7, "tanh({x}): {} vs {}", fast_tanh(x), x.tanh());
        }
        assert!(fast_exp(f32::NAN).is_nan() && fast_tanh(f32::NAN).is_nan(), "NaN must propagate");
        assert_eq!(fast_tanh(1e4), 1.0);
        assert_eq!(fast_tanh(-1e4), -1.0);
        assert!(fast_sigmoid(-1e4) >= 0.0 && fast_sigmoid(1e4) == 1.0);
    }
}
