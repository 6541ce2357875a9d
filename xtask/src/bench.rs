//! `cargo xtask bench`: Kindling against PyTorch (and burn's own LSTM) on the
//! same machine, in one invocation.
//!
//! Every contender runs each workload as its own process (`kindling-bench`
//! or `scripts/bench.py`), one after another in rounds, so drift of the
//! machine (frequency, other load) touches all of them alike. Each process
//! warms up before it is timed; the figure reported is the median over all
//! timed repetitions of all rounds, and the peak resident memory the largest
//! any of its processes reached.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::libtorch;

/// Options of `cargo xtask bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Rounds over all contenders.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Timed repetitions per contender and round (after one warm-up).
    #[arg(long, default_value_t = 2)]
    reps: usize,
    /// Threads for every contender (OMP_NUM_THREADS, RAYON_NUM_THREADS, MATMUL_NUM_THREADS).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// `cpu`, or `cuda[:N]` to compare libtorch and PyTorch on that GPU.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Leave out the libtorch backend (ndarray and PyTorch only).
    #[arg(long)]
    no_tch: bool,
    /// Run only these workloads (comma-separated, e.g. `lstm-layer,cnn-train`).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where the JSON results go.
    #[arg(long, default_value = "target/bench/bench.json")]
    out: PathBuf,
}

/// One workload and how much of it one timed repetition holds.
struct Workload {
    name: &'static str,
    /// The label in the table.
    title: &'static str,
    batch: usize,
    steps: usize,
    /// Data pipelines run on Kindling alone and are compared with a training step rate.
    pipeline: bool,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "lstm-layer",
        title: "LSTM layer fwd+bwd (B 64, T 200, 128→256)",
        batch: 64,
        steps: 1,
        pipeline: false,
    },
    Workload { name: "cnn-train", title: "SimpleCnn training, batch 64", batch: 64, steps: 20, pipeline: false },
    Workload { name: "cnn-train", title: "SimpleCnn training, batch 256", batch: 256, steps: 5, pipeline: false },
    Workload { name: "cnn-infer", title: "SimpleCnn inference, batch 256", batch: 256, steps: 10, pipeline: false },
    Workload {
        name: "sentiment-train",
        title: "LSTM classifier training (20k×128 → 256, T 256, batch 64)",
        batch: 64,
        steps: 2,
        pipeline: false,
    },
    Workload {
        name: "sentiment-infer",
        title: "LSTM classifier inference, batch 64",
        batch: 64,
        steps: 4,
        pipeline: false,
    },
    Workload {
        name: "cifar-pipeline",
        title: "CIFAR-10 batches (augmented), batch 64",
        batch: 64,
        steps: 40,
        pipeline: true,
    },
    Workload {
        name: "imdb-pipeline",
        title: "IMDB batches (tokenised), batch 64",
        batch: 64,
        steps: 20,
        pipeline: true,
    },
];

/// Who runs a workload.
#[derive(Clone)]
struct Contender {
    label: String,
    program: Program,
    args: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Program {
    Kindling,
    PyTorch,
}

/// What the processes of one contender on one workload reported.
#[derive(Default, Clone)]
struct Measured {
    seconds: Vec<f64>,
    items: usize,
    peak_rss_bytes: u64,
}

impl Measured {
    fn items_per_second(&self) -> f64 {
        self.items as f64 / median(&self.seconds)
    }
}

/// Runs every workload for every contender and prints the tables.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.rounds == 0 || args.reps == 0 || args.threads == 0 {
        bail!("--rounds, --reps and --threads must each be at least 1");
    }
    let cuda = args.device != "cpu";
    if cuda && args.no_tch {
        bail!("--device {} needs the libtorch backend; drop --no-tch", args.device);
    }
    let unknown: Vec<&String> = args.only.iter().filter(|w| !WORKLOADS.iter().any(|k| k.name == *w)).collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
        bail!("unknown workload(s) {unknown:?}: expected some of {}", known.join(", "));
    }
    let env = libtorch::ensure(true)?;
    let python = libtorch::python()?;
    eprintln!("xtask: building kindling-bench (release)");
    let mut build = crate::cargo();
    build.args(["build", "--release", "--quiet", "-p", "kindling-bench"]);
    if !args.no_tch {
        build.args(["--features", "tch"]);
    }
    env.apply(&mut build);
    crate::status(&mut build).context("kindling-bench does not build")?;
    let binary = crate::workspace_root().join("target/release/kindling-bench");

    let workloads: Vec<&Workload> =
        WORKLOADS.iter().filter(|w| args.only.is_empty() || args.only.iter().any(|o| o == w.name)).collect();
    let mut results: Vec<(&Workload, Vec<(Contender, Measured)>)> = Vec::new();
    for workload in workloads {
        let contenders = contenders(workload, args, cuda);
        let mut measured: Vec<Measured> = vec![Measured::default(); contenders.len()];
        for round in 1..=args.rounds {
            for (contender, m) in contenders.iter().zip(measured.iter_mut()) {
                eprintln!("xtask: {} · round {round}/{} · {}", workload.title, args.rounds, contender.label);
                let mut cmd = match contender.program {
                    Program::Kindling => Command::new(&binary),
                    Program::PyTorch => {
                        let mut cmd = Command::new(&python);
                        cmd.arg(crate::workspace_root().join("scripts/bench.py"));
                        cmd
                    }
                };
                cmd.arg(workload.name).args(&contender.args);
                cmd.args(["--batch", &workload.batch.to_string(), "--steps", &workload.steps.to_string()]);
                cmd.args(["--warmup", "1", "--reps", &args.reps.to_string()]);
                env.apply(&mut cmd);
                set_threads(&mut cmd, args.threads);
                let run = timed_run(&mut cmd, &contender.label)?;
                m.seconds.extend(run.seconds);
                m.items = run.items;
                m.peak_rss_bytes = m.peak_rss_bytes.max(run.peak_rss_bytes);
            }
        }
        results.push((workload, contenders.into_iter().zip(measured).collect()));
    }
    let report = report(&results, args);
    println!("{report}");
    write_json(&args.out, args, &results)
}

/// The contenders of `workload`: Kindling on each backend built (burn's own
/// LSTM too for the layer), then PyTorch.
fn contenders(workload: &Workload, args: &BenchArgs, cuda: bool) -> Vec<Contender> {
    let kindling = |label: &str, backend: &str, device: &str, extra: &[&str]| Contender {
        label: label.to_string(),
        program: Program::Kindling,
        args: ["--backend", backend, "--device", device].iter().chain(extra).map(|s| s.to_string()).collect(),
    };
    let pytorch = |device: &str| Contender {
        label: format!("PyTorch {}", torch_version_label(device)),
        program: Program::PyTorch,
        args: vec!["--device".into(), device.into()],
    };
    let layer = workload.name == "lstm-layer";
    let mut all = Vec::new();
    if cuda {
        let device = args.device.as_str();
        all.push(kindling(&format!("Kindling tch {device}"), "tch", device, &[]));
        if layer {
            all.push(kindling(&format!("burn nn::Lstm, tch {device}"), "tch", device, &["--layer", "burn"]));
        }
        if !workload.pipeline {
            all.push(pytorch(device));
        }
        return all;
    }
    all.push(kindling("Kindling ndarray", "ndarray", "cpu", &[]));
    if layer {
        all.push(kindling("burn nn::Lstm, ndarray", "ndarray", "cpu", &["--layer", "burn"]));
    }
    if !args.no_tch && !workload.pipeline {
        all.push(kindling("Kindling tch cpu", "tch", "cpu", &[]));
        if layer {
            all.push(kindling("burn nn::Lstm, tch cpu", "tch", "cpu", &["--layer", "burn"]));
        }
    }
    if !workload.pipeline {
        all.push(pytorch("cpu"));
    }
    all
}

fn torch_version_label(device: &str) -> String {
    format!("{} {device}", libtorch::TORCH_VERSION)
}

/// The markdown tables.
fn report(results: &[(&Workload, Vec<(Contender, Measured)>)], args: &BenchArgs) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} threads per contender; median of {} timed repetitions ({} rounds); peak RSS is the largest of any process.\n",
        args.threads,
        args.rounds * args.reps,
        args.rounds
    );
    let _ = writeln!(out, "| workload | contender | samples / s | vs PyTorch | peak RSS | RSS vs PyTorch |");
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: |");
    for (workload, measured) in results.iter().filter(|(w, _)| !w.pipeline) {
        let reference = measured.iter().find(|(c, _)| c.program == Program::PyTorch).map(|(_, m)| m);
        for (contender, m) in measured {
            let (speed, memory) = match reference {
                Some(r) => (
                    format!("{:.2}×", m.items_per_second() / r.items_per_second()),
                    format!("{:.2}×", m.peak_rss_bytes as f64 / r.peak_rss_bytes.max(1) as f64),
                ),
                None => ("–".into(), "–".into()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {speed} | {:.0} MB | {memory} |",
                workload.title,
                contender.label,
                m.items_per_second(),
                m.peak_rss_bytes as f64 / 1e6
            );
        }
    }
    let pipelines: Vec<_> = results.iter().filter(|(w, _)| w.pipeline).collect();
    if !pipelines.is_empty() {
        let _ = writeln!(out, "\n| data pipeline | batches / s | fastest training step / s | ratio |");
        let _ = writeln!(out, "| --- | ---: | ---: | ---: |");
        for (workload, measured) in pipelines {
            let model = if workload.name == "cifar-pipeline" { "cnn-train" } else { "sentiment-train" };
            let steps = fastest_kindling_steps(results, model, workload.batch);
            for (_, m) in measured {
                let rate = m.items_per_second();
                let (step_rate, ratio) = match steps {
                    Some(s) => (format!("{s:.1}"), format!("{:.0}×", rate / s)),
                    None => ("–".into(), "–".into()),
                };
                let _ = writeln!(out, "| {} | {rate:.1} | {step_rate} | {ratio} |", workload.title);
            }
        }
    }
    out
}

/// The fastest Kindling contender's training steps per second on `model` at `batch`.
fn fastest_kindling_steps(
    results: &[(&Workload, Vec<(Contender, Measured)>)],
    model: &str,
    batch: usize,
) -> Option<f64> {
    results
        .iter()
        .filter(|(w, _)| w.name == model && w.batch == batch)
        .flat_map(|(w, measured)| {
            measured
                .iter()
                .filter(|(c, _)| c.program == Program::Kindling)
                .map(move |(_, m)| m.items_per_second() / w.batch as f64)
        })
        .max_by(f64::total_cmp)
}

fn set_threads(cmd: &mut Command, threads: usize) {
    for var in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS", "MATMUL_NUM_THREADS"] {
        cmd.env(var, threads.to_string());
    }
}

/// Runs a contender and reads the JSON lines it prints.
fn timed_run(cmd: &mut Command, label: &str) -> anyhow::Result<Measured> {
    let output = cmd.output().with_context(|| format!("cannot start {label}"))?;
    if !output.status.success() {
        bail!("{label} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut measured = Measured::default();
    for value in stdout.lines().filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok()) {
        if let Some(seconds) = value.get("seconds").and_then(serde_json::Value::as_f64) {
            measured.seconds.push(seconds);
            measured.items = value.get("items").and_then(serde_json::Value::as_u64).unwrap_or(0) as usize;
        }
        if let Some(bytes) = value.get("peak_rss_bytes").and_then(serde_json::Value::as_u64) {
            measured.peak_rss_bytes = bytes;
        }
    }
    if measured.seconds.is_empty() {
        bail!("{label} printed no timings: {stdout}");
    }
    Ok(measured)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn write_json(
    path: &Path,
    args: &BenchArgs,
    results: &[(&Workload, Vec<(Contender, Measured)>)],
) -> anyhow::Result<()> {
    let workloads: Vec<serde_json::Value> = results
        .iter()
        .map(|(w, measured)| {
            let contenders: Vec<serde_json::Value> = measured
                .iter()
                .map(|(c, m)| {
                    serde_json::json!({
                        "contender": c.label,
                        "items_per_second": m.items_per_second(),
                        "median_seconds": median(&m.seconds),
                        "seconds": m.seconds,
                        "items_per_repetition": m.items,
                        "peak_rss_bytes": m.peak_rss_bytes,
                    })
                })
                .collect();
            serde_json::json!({ "workload": w.name, "title": w.title, "batch": w.batch, "contenders": contenders })
        })
        .collect();
    let json = serde_json::json!({
        "threads": args.threads,
        "device": args.device,
        "rounds": args.rounds,
        "repetitions_per_round": args.reps,
        "workloads": workloads,
    });
    let path = crate::workspace_root().join(path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("xtask: results written to {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn every_workload_has_a_step_count_and_pipelines_a_model_to_compare_with() {
        for w in WORKLOADS {
            assert!(w.batch > 0 && w.steps > 0, "{}", w.name);
        }
        assert!(WORKLOADS.iter().any(|w| w.name == "cnn-train" && w.batch == 64));
        assert!(WORKLOADS.iter().any(|w| w.name == "sentiment-train" && w.batch == 64));
    }
}
