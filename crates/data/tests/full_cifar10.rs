//! Reads the complete CIFAR-10 from `$KINDLING_DATASETS/cifar-10-batches-bin`
//! and checks it against the facts published with the dataset. Skips, saying
//! why, when `KINDLING_DATASETS` is unset.

use burn::data::dataset::Dataset;
use kindling_data::{Cifar10Dataset, Cifar10Split};

fn cifar_dir() -> Option<std::path::PathBuf> {
    match std::env::var_os("KINDLING_DATASETS") {
        Some(root) => Some(std::path::PathBuf::from(root).join("cifar-10-batches-bin")),
        None => {
            eprintln!("skipped: KINDLING_DATASETS is unset (point it at a directory holding cifar-10-batches-bin/)");
            None
        }
    }
}

fn class_counts(labels: &[u8]) -> [usize; 10] {
    let mut counts = [0; 10];
    for &l in labels {
        counts[usize::from(l)] += 1;
    }
    counts
}

#[test]
fn full_training_split_is_balanced_and_ordered() {
    let Some(dir) = cifar_dir() else { return };
    let train = Cifar10Dataset::open(&dir, Cifar10Split::Train).expect("official files read");
    assert_eq!(train.len(), 50_000);
    assert_eq!(class_counts(train.labels()), [5_000; 10]);
    assert_eq!(&train.labels()[..10], &[6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
    assert_eq!(train.class_names()[9], "truck");
    let (mean, std) = train.channel_stats();
    // The well-known CIFAR-10 training statistics.
    for (got, want) in mean.iter().zip([0.4914, 0.4822, 0.4465]) {
        assert!((got - want).abs() < 5e-4, "mean {mean:?}");
    }
    for (got, want) in std.iter().zip([0.2470, 0.2435, 0.2616]) {
        assert!((got - want).abs() < 5e-4, "std {std:?}");
    }
}

#[test]
fn full_test_split_is_balanced_and_ordered() {
    let Some(dir) = cifar_dir() else { return };
    let test = Cifar10Dataset::open(&dir, Cifar10Split::Test).expect("official file reads");
    assert_eq!(test.len(), 10_000);
    assert_eq!(class_counts(test.labels()), [1_000; 10]);
    assert_eq!(&test.labels()[..10], &[3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
}
