//! Every workload of `kindling-bench` (and of `scripts/bench.py`, when the
//! project's PyTorch venv is active) runs and reports in the format
//! `cargo xtask bench` reads: one `{"seconds", "items"}` line per timed
//! repetition and a final `{"peak_rss_bytes"}`.

use std::path::Path;
use std::process::Command;

const WORKLOADS: [&str; 7] =
    ["lstm-layer", "cnn-train", "cnn-infer", "sentiment-train", "sentiment-infer", "cifar-pipeline", "imdb-pipeline"];

/// The JSON lines of one quick run: `(seconds, items)` pairs and the peak RSS.
fn quick_run(cmd: &mut Command) -> (Vec<(f64, u64)>, Option<u64>) {
    let output = cmd.args(["--batch", "2", "--steps", "1", "--warmup", "0", "--reps", "2"]).output().expect("starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let mut reps = Vec::new();
    let mut rss = None;
    for line in stdout.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
        if let Some(seconds) = value["seconds"].as_f64() {
            reps.push((seconds, value["items"].as_u64().expect("items")));
        }
        rss = rss.or(value["peak_rss_bytes"].as_u64());
    }
    (reps, rss)
}

fn backends() -> Vec<&'static str> {
    if cfg!(feature = "tch") { vec!["ndarray", "tch"] } else { vec!["ndarray"] }
}

#[test]
fn every_workload_reports_timings_and_peak_memory() {
    for backend in backends() {
        for workload in WORKLOADS {
            let (reps, rss) =
                quick_run(Command::new(env!("CARGO_BIN_EXE_kindling-bench")).args([workload, "--backend", backend]));
            assert_eq!(reps.len(), 2, "{workload} on {backend}");
            assert!(reps.iter().all(|&(s, items)| s > 0.0 && items > 0), "{workload} on {backend}: {reps:?}");
            assert!(rss.is_some_and(|bytes| bytes > 1_000_000), "{workload} on {backend}: peak RSS {rss:?}");
        }
    }
}

#[test]
fn pytorch_side_reports_the_same_format() {
    let Some(venv) = std::env::var_os("VIRTUAL_ENV") else {
        eprintln!("skipped: no PyTorch venv active (cargo xtask test activates it for its libtorch pass)");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench.py");
    for workload in WORKLOADS.iter().filter(|w| !w.ends_with("pipeline")) {
        let (reps, rss) = quick_run(Command::new(Path::new(&venv).join("bin/python")).arg(&script).arg(workload));
        assert_eq!(reps.len(), 2, "{workload}");
        assert!(rss.is_some_and(|bytes| bytes > 1_000_000), "{workload}: peak RSS {rss:?}");
    }
}

#[test]
fn bad_arguments_are_refused_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_kindling-bench"))
        .args(["cnn-train", "--steps", "0"])
        .output()
        .expect("starts");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("at least 1"));
}
