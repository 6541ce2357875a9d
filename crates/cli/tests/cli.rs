//! The `kindling` binary as users run it: errors are one clear paragraph with
//! a non-zero exit and no panic; training writes a complete run directory;
//! a killed run resumes from its last completed epoch.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const RECORD: usize = 3073;

fn kindling() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kindling"))
}

fn subset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/cifar-10-subset")
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("kindling starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts a failed run with one clear error message and no panic.
fn assert_clean_failure(output: &Output, expected: &[&str]) -> String {
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "expected failure, stderr: {stderr}");
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "panic: {stderr}");
    assert!(stderr.starts_with("error: "), "stderr: {stderr}");
    for needle in expected {
        assert!(stderr.contains(needle), "`{needle}` missing from: {stderr}");
    }
    stderr
}

/// A CIFAR-10 directory holding the shipped subset's test file and `train` as
/// its only training file.
fn cifar_dir_with_train(train: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("data_batch_1.bin"), train).expect("write");
    std::fs::copy(subset().join("test_batch.bin"), dir.path().join("test_batch.bin")).expect("copy");
    dir
}

/// Trains on a CIFAR-10 directory whose only training file is `train`.
fn train_on(train: &[u8]) -> Output {
    let data = cifar_dir_with_train(train);
    let out = tempfile::tempdir().expect("tempdir");
    run(kindling().args(["train", "cnn", "--data"]).arg(data.path()).arg("--out").arg(out.path().join("run")))
}

fn shipped_train_records(n: usize) -> Vec<u8> {
    let mut bytes = std::fs::read(subset().join("data_batch_1.bin")).expect("shipped subset");
    bytes.truncate(n * RECORD);
    bytes
}

#[test]
fn help_lists_the_commands() {
    let output = run(kindling().arg("--help"));
    assert!(output.status.success());
    let stdout = text(&output.stdout);
    assert!(stdout.contains("train") && stdout.contains("eval"), "{stdout}");
    let output = run(kindling().args(["train", "cnn", "--help"]));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("--backend") && stdout.contains("--resume"), "{stdout}");
}

#[test]
fn missing_data_directory_is_named() {
    let out = tempfile::tempdir().expect("tempdir");
    let output =
        run(kindling().args(["train", "cnn", "--data", "/no/such/cifar"]).arg("--out").arg(out.path().join("run")));
    assert_clean_failure(&output, &["/no/such/cifar", "does not exist"]);
}

#[test]
fn truncated_bin_file_is_named_with_its_length() {
    let mut train = shipped_train_records(3);
    train.truncate(2 * RECORD + 17);
    assert_clean_failure(&train_on(&train), &["data_batch_1.bin", "6163 bytes", "3073-byte records"]);
}

#[test]
fn label_above_nine_names_file_and_record() {
    let mut train = shipped_train_records(5);
    train[3 * RECORD] = 12;
    assert_clean_failure(&train_on(&train), &["data_batch_1.bin", "record 3", "label byte is 12"]);
}

#[test]
fn invalid_settings_name_the_allowed_range() {
    let out = tempfile::tempdir().expect("tempdir");
    let output = run(kindling().args(["train", "cnn", "--batch-size", "0"]).arg("--out").arg(out.path().join("run")));
    assert_clean_failure(&output, &["batch-size", "at least 1"]);
    let output = run(kindling().args(["train", "cnn", "--backend", "wgpu"]));
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("expected one of ndarray, tch"));
}

#[cfg(not(feature = "tch"))]
#[test]
fn tch_backend_without_libtorch_build_says_what_to_do() {
    let out = tempfile::tempdir().expect("tempdir");
    let output = run(kindling().args(["train", "cnn", "--backend", "tch"]).arg("--out").arg(out.path().join("run")));
    assert_clean_failure(&output, &["no `tch` backend", "cargo xtask"]);
}

#[cfg(feature = "tch")]
#[test]
fn cuda_without_gpu_is_a_clear_error() {
    // These machines have no GPU; where one exists this check does not apply.
    if std::env::var_os("KINDLING_HAS_GPU").is_some() {
        eprintln!("skipped: KINDLING_HAS_GPU is set");
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let output = run(kindling()
        .args(["train", "cnn", "--backend", "tch", "--device", "cuda:0"])
        .arg("--out")
        .arg(out.path().join("run")));
    assert_clean_failure(&output, &["cuda:0", "CUDA device"]);
}

fn backends() -> Vec<&'static str> {
    if cfg!(feature = "tch") { vec!["ndarray", "tch"] } else { vec!["ndarray"] }
}

#[test]
fn trains_writes_a_run_and_evaluates_it() {
    for backend in backends() {
        let out = tempfile::tempdir().expect("tempdir");
        let run_dir = out.path().join("run");
        let output = run(kindling()
            .args(["train", "cnn", "--epochs", "1", "--train-limit", "256", "--augment", "--backend", backend])
            .arg("--out")
            .arg(&run_dir));
        let stdout = text(&output.stdout);
        assert!(output.status.success(), "{backend}: {stdout}\n{}", text(&output.stderr));
        assert!(stdout.contains("test accuracy:") && stdout.contains("confusion matrix"), "{stdout}");
        for file in ["config.json", "model.mpk", "report.json", "checkpoint/model-1.mpk"] {
            assert!(run_dir.join(file).exists(), "{backend}: {file} missing");
        }
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).expect("report")).expect("json");
        assert_eq!(report["test"]["samples"], 1000);
        let accuracy = report["test"]["accuracy"].as_f64().expect("accuracy");

        // eval reloads the same model and gets the same accuracy.
        let output = run(kindling().args(["eval", "--backend", backend, "--run"]).arg(&run_dir));
        let eval_stdout = text(&output.stdout);
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(eval_stdout.contains(&format!("{:.2} %", accuracy * 100.0)), "{accuracy}: {eval_stdout}");
        assert!(eval_stdout.contains("airplane"), "{eval_stdout}");

        // Training again into the same directory without --resume is refused.
        let output =
            run(kindling().args(["train", "cnn", "--epochs", "1", "--backend", backend]).arg("--out").arg(&run_dir));
        assert_clean_failure(&output, &["already holds a training run", "--resume"]);
    }
}

#[test]
fn eval_of_a_missing_run_is_a_clear_error() {
    let output = run(kindling().args(["eval", "--run", "/no/such/run"]));
    assert_clean_failure(&output, &["/no/such/run"]);
}

#[test]
fn killed_run_resumes_from_last_completed_epoch() {
    let out = tempfile::tempdir().expect("tempdir");
    let run_dir = out.path().join("run");
    let args = ["train", "cnn", "--epochs", "3", "--train-limit", "1500", "--batch-size", "32"];
    let mut child = kindling()
        .args(args)
        .arg("--out")
        .arg(&run_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kindling starts");
    // Kill as soon as the first epoch's checkpoint is complete.
    let deadline = Instant::now() + Duration::from_secs(300);
    let epoch_one = ["model-1.mpk", "optim-1.mpk", "scheduler-1.mpk"].map(|f| run_dir.join("checkpoint").join(f));
    while !epoch_one.iter().all(|p| p.exists()) {
        assert!(Instant::now() < deadline, "no checkpoint within 300 s");
        assert!(child.try_wait().expect("poll").is_none(), "run ended before its first checkpoint");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert!(!run_dir.join("report.json").exists(), "the run finished before it was killed");

    let output = run(kindling().args(args).arg("--out").arg(&run_dir).arg("--resume"));
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).expect("report")).expect("json");
    let resumed = report["resumed_from_epoch"].as_u64().expect("resumed from an epoch");
    assert!((1..=2).contains(&resumed), "resumed from {resumed}");
    assert!(run_dir.join("checkpoint/model-3.mpk").exists());
}

#[test]
fn corrupt_newest_checkpoint_is_skipped_on_resume() {
    let out = tempfile::tempdir().expect("tempdir");
    let run_dir = out.path().join("run");
    let args = ["train", "cnn", "--epochs", "2", "--train-limit", "128"];
    let output = run(kindling().args(args).arg("--out").arg(&run_dir));
    assert!(output.status.success(), "{}", text(&output.stderr));
    // Simulate a damaged epoch-2 optimiser state and an unfinished run.
    std::fs::write(run_dir.join("checkpoint/optim-2.mpk"), b"\x93garbage").expect("corrupt");
    std::fs::remove_file(run_dir.join("report.json")).expect("remove report");
    let output = run(kindling().args(args).arg("--out").arg(&run_dir).arg("--resume"));
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("skipping the checkpoint of epoch 2") && stderr.contains("optim-2.mpk"), "{stderr}");
    assert!(stderr.contains("resuming") && stderr.contains("after epoch 1"), "{stderr}");
}

#[test]
fn resume_with_different_settings_is_refused() {
    let out = tempfile::tempdir().expect("tempdir");
    let run_dir = out.path().join("run");
    let output =
        run(kindling().args(["train", "cnn", "--epochs", "1", "--train-limit", "64"]).arg("--out").arg(&run_dir));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let output = run(kindling()
        .args(["train", "cnn", "--epochs", "1", "--train-limit", "64", "--lr", "0.01", "--resume"])
        .arg("--out")
        .arg(&run_dir));
    assert_clean_failure(&output, &["different settings", "learning_rate"]);
}

/// An IMDB directory whose training file is `train` and whose test file is
/// the shipped sample's.
fn imdb_dir_with_train(train: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("train.tsv"), train).expect("write");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/imdb-sample/test.tsv.gz");
    std::fs::copy(sample, dir.path().join("test.tsv.gz")).expect("copy");
    dir
}

fn train_imdb_on(train: &[u8]) -> Output {
    let data = imdb_dir_with_train(train);
    let out = tempfile::tempdir().expect("tempdir");
    run(kindling()
        .args(["train", "lstm", "--corpus", "imdb", "--epochs", "1", "--hidden", "8", "--embed", "8", "--data"])
        .arg(data.path())
        .arg("--out")
        .arg(out.path().join("run")))
}

#[test]
fn bad_corpus_rows_name_file_and_line() {
    let header = "id\trating\tlabel\ttext\n";
    let cases: [(Vec<u8>, &[&str]); 4] = [
        (Vec::new(), &["train.tsv", "holds no records"]),
        (
            format!("{header}0\t9\t1\tfine\n1\t8\t1\n").into_bytes(),
            &["train.tsv, line 3", "expected 4 TAB-separated fields"],
        ),
        (
            format!("{header}0\t9\t1\tfine\n1\t8\t7\tseven\n").into_bytes(),
            &["train.tsv, line 3", "label must be 0 or 1"],
        ),
        ([header.as_bytes(), b"0\t9\t1\tbad \xc3\x28 byte\n"].concat(), &["train.tsv, line 2", "not valid UTF-8"]),
    ];
    for (content, expected) in cases {
        assert_clean_failure(&train_imdb_on(&content), expected);
    }
}

#[test]
fn a_one_megabyte_review_is_read_and_cut_to_max_len() {
    let mut content = String::from("id\trating\tlabel\ttext\n");
    for i in 0..40 {
        let (rating, label) = if i % 2 == 0 { (9, 1) } else { (2, 0) };
        content.push_str(&format!("{i}\t{rating}\t{label}\tfine film number {i}\n"));
    }
    content.push_str(&format!("40\t10\t1\t{}\n", "wonderful ".repeat(100_000)));
    let output = train_imdb_on(content.as_bytes());
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("test accuracy:"));
}

#[test]
fn sentiment_run_trains_evaluates_and_predicts() {
    for backend in backends() {
        let out = tempfile::tempdir().expect("tempdir");
        let run_dir = out.path().join("run");
        let output = run(kindling()
            .args(["train", "lstm", "--epochs", "1", "--train-limit", "400", "--bidirectional", "--backend", backend])
            .arg("--out")
            .arg(&run_dir));
        let stdout = text(&output.stdout);
        assert!(output.status.success(), "{backend}: {stdout}\n{}", text(&output.stderr));
        for file in ["config.json", "vocabulary.json", "model.mpk", "report.json", "checkpoint/model-1.mpk"] {
            assert!(run_dir.join(file).exists(), "{backend}: {file} missing");
        }
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).expect("report")).expect("json");
        assert_eq!(report["test"]["samples"], 600, "the UCI test split is every fifth line");
        let accuracy = report["test"]["accuracy"].as_f64().expect("accuracy");

        let output = run(kindling().args(["eval", "--backend", backend, "--run"]).arg(&run_dir));
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(text(&output.stdout).contains(&format!("{:.2} %", accuracy * 100.0)), "{}", text(&output.stdout));

        let output = run(kindling()
            .args(["predict", "--backend", backend, "--run"])
            .arg(&run_dir)
            .args(["Great phone, works perfectly.", "Terrible. It broke after a day."]));
        let stdout = text(&output.stdout);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{stdout}");
        for line in lines {
            let fields: Vec<&str> = line.split('\t').collect();
            assert!(["negative", "positive"].contains(&fields[0]), "{line}");
            let p: f64 = fields[1].parse().expect("probability");
            assert!((0.5..=1.0).contains(&p), "{line}");
        }

        // Standard input, one text per line.
        let mut child = kindling()
            .args(["predict", "--backend", backend, "--run"])
            .arg(&run_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starts");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), b"good\nbad\nokay\n").expect("write");
        let output = child.wait_with_output().expect("finishes");
        assert!(output.status.success());
        assert_eq!(text(&output.stdout).lines().count(), 3);
    }
}

#[test]
fn predict_on_a_missing_run_and_lstm_without_data_are_clear_errors() {
    let output = run(kindling().args(["predict", "--run", "/no/such/run", "text"]));
    assert_clean_failure(&output, &["/no/such/run"]);
    let output = run(kindling().args(["train", "lstm", "--corpus", "nsmc"]));
    assert_clean_failure(&output, &["--corpus nsmc needs --data"]);
    let output = run(kindling().args(["train", "lstm", "--max-len", "0", "--out", "/tmp/kindling-never-written"]));
    assert_clean_failure(&output, &["max-len", "at least 1"]);
}

/// The mean validation loss burn-train logged for `epoch` (lines `value,count`).
fn logged_validation_loss(run_dir: &Path, epoch: usize) -> f64 {
    let text = std::fs::read_to_string(run_dir.join(format!("valid/epoch-{epoch}/Loss.log"))).expect("loss log");
    let (sum, count) = text.lines().fold((0.0, 0.0), |(s, c), line| {
        let (v, n) = line.split_once(',').expect("value,count");
        let n: f64 = n.parse().expect("count");
        (s + v.parse::<f64>().expect("value") * n, c + n)
    });
    sum / count
}

#[test]
fn the_final_sentiment_model_is_the_epoch_with_the_lowest_validation_loss() {
    let out = tempfile::tempdir().expect("tempdir");
    let run_dir = out.path().join("run");
    // A learning rate high enough that the validation loss is not monotone.
    let output = run(kindling()
        .args([
            "train",
            "lstm",
            "--epochs",
            "4",
            "--train-limit",
            "600",
            "--hidden",
            "8",
            "--embed",
            "8",
            "--lr",
            "0.05",
        ])
        .arg("--out")
        .arg(&run_dir));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let losses: Vec<f64> = (1..=4).map(|epoch| logged_validation_loss(&run_dir, epoch)).collect();
    let best = 1 + (0..4).min_by(|&a, &b| losses[a].total_cmp(&losses[b])).expect("four epochs");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).expect("report")).expect("json");
    assert_eq!(report["final_epoch"], best, "validation losses {losses:?}");
    assert!((report["final_validation_loss"].as_f64().expect("loss") - losses[best - 1]).abs() < 1e-9);

    // Evaluating the run uses the same weights: the same test accuracy.
    let accuracy = report["test"]["accuracy"].as_f64().expect("accuracy");
    let output = run(kindling().args(["eval", "--run"]).arg(&run_dir));
    assert!(text(&output.stdout).contains(&format!("{:.2} %", accuracy * 100.0)), "{}", text(&output.stdout));
}
