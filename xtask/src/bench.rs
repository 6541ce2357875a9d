//! `cargo xtask bench`: Kindling against PyTorch (and burn's own layers) on
//! the same machine, in one invocation.
//!
//! Every contender runs as its own process, one after another in rounds, so
//! drift of the machine (frequency, other load) touches all of them alike.
//! Each process warms up before it is timed; the figure reported is the
//! median over all timed repetitions of all rounds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::libtorch::{self, LibtorchEnv};

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
    /// Leave out the libtorch backend (ndarray and PyTorch only).
    #[arg(long)]
    no_tch: bool,
    /// Where the JSON results go.
    #[arg(long, default_value = "target/bench/recurrent.json")]
    out: PathBuf,
}

/// One contender: a label and how to start it.
struct Contender {
    label: &'static str,
    args: Vec<String>,
    python: bool,
}

/// Runs the recurrent-layer benchmark and prints the table.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.rounds == 0 || args.reps == 0 || args.threads == 0 {
        bail!("--rounds, --reps and --threads must each be at least 1");
    }
    let env = libtorch::ensure(true)?;
    let python = libtorch::python()?;
    let features: &[&str] = if args.no_tch { &[] } else { &["--features", "tch"] };
    eprintln!("xtask: building the benchmark (release)");
    let mut build = bench_command(&env, features, args.threads);
    build.arg("--no-run");
    crate::status(&mut build).context("the benchmark does not build")?;

    let mut contenders = vec![
        Contender { label: "kindling Lstm, ndarray", args: layer_args("kindling", "ndarray"), python: false },
        Contender { label: "burn nn::Lstm, ndarray", args: layer_args("burn", "ndarray"), python: false },
    ];
    if !args.no_tch {
        contenders.push(Contender { label: "kindling Lstm, tch", args: layer_args("kindling", "tch"), python: false });
        contenders.push(Contender { label: "burn nn::Lstm, tch", args: layer_args("burn", "tch"), python: false });
    }
    contenders.push(Contender { label: "PyTorch nn.LSTM", args: Vec::new(), python: true });

    let mut times: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for round in 1..=args.rounds {
        for contender in &contenders {
            eprintln!("xtask: round {round}/{}: {}", args.rounds, contender.label);
            let mut cmd = if contender.python {
                let mut cmd = Command::new(&python);
                cmd.arg(crate::workspace_root().join("scripts/bench_recurrent.py"));
                env.apply(&mut cmd);
                set_threads(&mut cmd, args.threads);
                cmd
            } else {
                let mut cmd = bench_command(&env, features, args.threads);
                cmd.arg("--").args(&contender.args);
                cmd
            };
            cmd.args(["--warmup", "1", "--reps", &args.reps.to_string()]);
            times.entry(contender.label).or_default().extend(timed_run(&mut cmd, contender.label)?);
        }
    }

    let medians: Vec<(&str, f64)> = contenders.iter().map(|c| (c.label, median(&times[c.label]))).collect();
    let pytorch = medians.last().map(|(_, t)| *t).unwrap_or(f64::NAN);
    println!(
        "\nLSTM forward + backward: 1 layer, batch-first, batch {BATCH}, {STEPS} steps, input 128, hidden 256; \
         {} threads; median of {} runs\n",
        args.threads,
        args.rounds * args.reps
    );
    println!("| contender | s / step | samples / s | throughput vs PyTorch |");
    println!("| --- | ---: | ---: | ---: |");
    for (label, seconds) in &medians {
        println!("| {label} | {seconds:.3} | {:.1} | {:.2}× |", BATCH as f64 / seconds, pytorch / seconds);
    }
    for backend in ["ndarray", "tch"] {
        let find = |prefix: &str| medians.iter().find(|(l, _)| l.starts_with(prefix) && l.ends_with(backend));
        if let (Some((_, ours)), Some((_, burn))) = (find("kindling"), find("burn")) {
            println!("\nkindling Lstm vs burn nn::Lstm on {backend}: {:.2}× the throughput", burn / ours);
        }
    }
    write_json(&args.out, args, &times, &medians)
}

const BATCH: usize = 64;
const STEPS: usize = 200;

fn layer_args(layer: &str, backend: &str) -> Vec<String> {
    ["--layer", layer, "--backend", backend].map(String::from).to_vec()
}

fn bench_command(env: &LibtorchEnv, features: &[&str], threads: usize) -> Command {
    let mut cmd = crate::cargo();
    cmd.args(["bench", "--quiet", "-p", "kindling-layers", "--bench", "recurrent"]).args(features);
    env.apply(&mut cmd);
    set_threads(&mut cmd, threads);
    cmd
}

fn set_threads(cmd: &mut Command, threads: usize) {
    for var in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS", "MATMUL_NUM_THREADS"] {
        cmd.env(var, threads.to_string());
    }
}

/// Runs a contender and reads the `seconds` of each JSON line it prints.
fn timed_run(cmd: &mut Command, label: &str) -> anyhow::Result<Vec<f64>> {
    let output = cmd.output().with_context(|| format!("cannot start {label}"))?;
    if !output.status.success() {
        bail!("{label} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let times: Vec<f64> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|value| value.get("seconds").and_then(serde_json::Value::as_f64))
        .collect();
    if times.is_empty() {
        bail!("{label} printed no timings: {stdout}");
    }
    Ok(times)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

fn write_json(
    path: &Path,
    args: &BenchArgs,
    times: &BTreeMap<&str, Vec<f64>>,
    medians: &[(&str, f64)],
) -> anyhow::Result<()> {
    let results: Vec<serde_json::Value> = medians
        .iter()
        .map(|(label, seconds)| {
            serde_json::json!({
                "contender": label,
                "median_seconds": seconds,
                "samples_per_s": BATCH as f64 / seconds,
                "seconds": times[label],
            })
        })
        .collect();
    let json = serde_json::json!({
        "workload": "LSTM forward+backward, 1 layer, batch-first, B=64, T=200, input 128, hidden 256",
        "threads": args.threads,
        "results": results,
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
    }
}
