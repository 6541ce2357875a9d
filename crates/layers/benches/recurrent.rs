//! Forward + backward throughput of one recurrent layer, for `cargo xtask bench`.
//!
//! ```text
//! cargo bench -p kindling-layers --bench recurrent [--features tch] -- \
//!     --layer kindling|burn --backend ndarray|tch [--warmup 2] [--reps 5]
//! ```
//!
//! The workload is a 1-layer, batch-first LSTM with input 128 and hidden 256
//! on a batch of 64 sequences of 200 steps; the loss is the sum of the
//! output. `kindling` is `kindling_layers::Lstm`, `burn` is burn's own
//! `nn::Lstm` at the same shapes. Each repetition's wall time is printed as
//! one JSON line, so the caller can interleave processes and take medians;
//! `scripts/bench_recurrent.py` runs `torch.nn.LSTM` the same way.

use std::time::Instant;

use burn::tensor::{Distribution, Tensor};
use kindling_backend::{BackendJob, BackendKind, DeviceSpec, TrainingBackend};
use kindling_layers::LstmConfig;

const BATCH: usize = 64;
const STEPS: usize = 200;
const INPUT: usize = 128;
const HIDDEN: usize = 256;

/// Which implementation runs.
#[derive(Clone, Copy, Debug)]
enum Layer {
    Kindling,
    Burn,
}

struct Options {
    layer: Layer,
    backend: BackendKind,
    warmup: usize,
    reps: usize,
}

fn parse() -> Result<Options, String> {
    let mut options = Options { layer: Layer::Kindling, backend: BackendKind::NdArray, warmup: 2, reps: 5 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--layer" => {
                options.layer = match value()?.as_str() {
                    "kindling" => Layer::Kindling,
                    "burn" => Layer::Burn,
                    other => return Err(format!("--layer kindling|burn, not {other}")),
                }
            }
            "--backend" => options.backend = value()?.parse().map_err(|e| format!("{e}"))?,
            "--warmup" => options.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--reps" => options.reps = value()?.parse().map_err(|e| format!("--reps: {e}"))?,
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

/// Times one forward + backward pass per repetition.
struct Bench {
    layer: Layer,
    warmup: usize,
    reps: usize,
}

impl BackendJob for Bench {
    type Output = Vec<f64>;

    fn run<B: TrainingBackend>(self, device: B::Device) -> Vec<f64> {
        let x = Tensor::<B, 3>::random([BATCH, STEPS, INPUT], Distribution::Normal(0.0, 1.0), &device);
        let step: Box<dyn Fn()> = match self.layer {
            Layer::Kindling => {
                let lstm = LstmConfig::new(INPUT, HIDDEN).with_batch_first(true).init::<B>(&device);
                Box::new(move || {
                    let (out, _) = lstm.forward(x.clone(), None, None).expect("valid shapes");
                    let _grads = out.sum().backward();
                })
            }
            Layer::Burn => {
                let lstm = burn::nn::LstmConfig::new(INPUT, HIDDEN, true).init::<B>(&device);
                Box::new(move || {
                    let (out, _) = lstm.forward(x.clone(), None);
                    let _grads = out.sum().backward();
                })
            }
        };
        (0..self.warmup + self.reps)
            .map(|_| {
                let start = Instant::now();
                step();
                start.elapsed().as_secs_f64()
            })
            .skip(self.warmup)
            .collect()
    }
}

fn main() -> std::process::ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let job = Bench { layer: options.layer, warmup: options.warmup, reps: options.reps };
    match kindling_backend::run(options.backend, DeviceSpec::Cpu, job) {
        Ok(times) => {
            let name = format!("{:?}/{}", options.layer, options.backend).to_lowercase();
            for seconds in times {
                println!(
                    "{{\"contender\":\"{name}\",\"seconds\":{seconds:.6},\"samples_per_s\":{:.2}}}",
                    BATCH as f64 / seconds
                );
            }
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
