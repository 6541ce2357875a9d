//! Project automation, run as `cargo xtask <command>`.
//!
//! - `train [MODEL] [OPTIONS]` builds `kindling` in release mode and trains
//!   (`cnn` on the shipped CIFAR-10 subset when no arguments are given).
//!   `train lstm [OPTIONS]` trains the sentiment classifier (the shipped UCI
//!   sentences by default).
//! - `eval --run DIR [OPTIONS]` evaluates a finished run.
//! - `predict --run DIR [TEXT …]` classifies texts with a sentiment run.
//! - `bench` measures training, inference and data-pipeline throughput and
//!   peak memory of Kindling against PyTorch (and burn's own LSTM).
//! - `libtorch` installs (or finds) libtorch and prints its environment.
//! - `test` runs every check CI runs: fmt, clippy, and all tests on ndarray
//!   and then on libtorch.
//!
//! Commands that use `--backend tch` set libtorch up first and pass the
//! environment to cargo, so no manual setup is needed.

mod bench;
mod libtorch;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "Kindling's build, train and test automation")]
struct Xtask {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// Build `kindling` in release mode and train (default: `cnn` on datasets/cifar-10-subset).
    ///
    /// Every argument is passed to `kindling train`; see `cargo xtask train cnn --help`
    /// and `cargo xtask train lstm --help`.
    Train {
        /// Model and options for `kindling train`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Build `kindling` in release mode and evaluate a run (`kindling eval`).
    Eval {
        /// Options for `kindling eval`, e.g. `--run runs/cnn-… --data DIR`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Build `kindling` in release mode and classify texts with a sentiment run (`kindling predict`).
    Predict {
        /// Options and texts for `kindling predict`, e.g. `--run runs/lstm-… "a fine film"`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Measure training, inference and data-pipeline throughput and peak memory against PyTorch (release build).
    Bench(bench::BenchArgs),
    /// Install (or find) libtorch 2.9.0 and print the environment it needs.
    Libtorch,
    /// Run fmt, clippy and all tests on ndarray, then on libtorch (the CI gate).
    Test {
        /// Skip the libtorch pass (no torch download).
        #[arg(long)]
        no_tch: bool,
    },
}

fn main() -> ExitCode {
    let result = match Xtask::parse().command {
        Task::Train { args } => {
            let args = if args.iter().all(|a| a.to_string_lossy().starts_with('-')) {
                // No model named: the default model, keeping any options given.
                std::iter::once(OsString::from("cnn")).chain(args).collect()
            } else {
                args
            };
            run_kindling("train", args)
        }
        Task::Eval { args } => run_kindling("eval", args),
        Task::Predict { args } => run_kindling("predict", args),
        Task::Bench(args) => bench::run(&args),
        Task::Libtorch => libtorch::ensure(true).map(|env| env.print()),
        Task::Test { no_tch } => test(!no_tch),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

/// Whether the arguments ask for the libtorch backend.
fn wants_tch(args: &[OsString]) -> bool {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    args.windows(2).any(|w| w[0] == "--backend" && is_tch(&w[1]))
        || args.iter().any(|a| a.strip_prefix("--backend=").is_some_and(is_tch))
}

fn is_tch(name: &str) -> bool {
    matches!(name.to_ascii_lowercase().as_str(), "tch" | "libtorch" | "torch")
}

/// Builds and runs `kindling SUBCOMMAND ARGS` in release mode.
fn run_kindling(subcommand: &str, args: Vec<OsString>) -> anyhow::Result<()> {
    let mut cmd = cargo();
    cmd.args(["run", "--release", "--quiet", "--package", "kindling-cli", "--bin", "kindling"]);
    if wants_tch(&args) {
        let env = libtorch::ensure(true)?;
        eprintln!("xtask: using libtorch from {}", env.origin);
        env.apply(&mut cmd);
        cmd.args(["--features", "tch"]);
    }
    cmd.arg("--").arg(subcommand).args(args);
    status(&mut cmd)
}

/// The CI gate.
fn test(with_tch: bool) -> anyhow::Result<()> {
    step("cargo fmt --check", cargo().args(["fmt", "--all", "--", "--check"]))?;
    step("clippy (ndarray)", cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    report_datasets();
    step("tests (ndarray)", cargo().args(["test", "--workspace"]))?;
    if !with_tch {
        eprintln!("xtask: --no-tch given: the libtorch pass was skipped");
        return Ok(());
    }
    let env = libtorch::ensure(true)?;
    eprintln!("xtask: libtorch from {}", env.origin);
    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--features", "tch", "--", "-D", "warnings"]);
    env.apply(&mut clippy);
    step("clippy (tch)", &mut clippy)?;
    let mut tests = cargo();
    tests.args(["test", "--workspace", "--features", "tch"]);
    env.apply(&mut tests);
    step("tests (ndarray + tch)", &mut tests)
}

/// Says whether the full-dataset tests will run.
fn report_datasets() {
    match std::env::var_os("KINDLING_DATASETS") {
        Some(dir) => eprintln!("xtask: full-dataset tests use KINDLING_DATASETS={}", PathBuf::from(dir).display()),
        None => eprintln!("xtask: KINDLING_DATASETS is unset: full-dataset tests will skip"),
    }
}

fn step(name: &str, cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("\nxtask: ==> {name}");
    status(cmd).with_context(|| format!("step `{name}` failed"))
}

fn status(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{:?} exited with {status}", cmd.get_program());
    }
    Ok(())
}
