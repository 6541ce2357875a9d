//! Accuracy, per-class accuracy and the confusion matrix of a classifier.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// The result of classifying a labelled split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Fraction of samples classified correctly, 0–1.
    pub accuracy: f64,
    /// Number of samples.
    pub samples: usize,
    /// Class names, index = label.
    pub class_names: Vec<String>,
    /// Per class: the fraction of its samples classified correctly (recall);
    /// `None` for a class with no samples.
    pub per_class_accuracy: Vec<Option<f64>>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

impl Evaluation {
    /// Tallies `(true label, predicted label)` pairs.
    ///
    /// # Panics
    ///
    /// If a label is not below `class_names.len()`; readers check labels
    /// before they reach here.
    pub fn from_pairs(class_names: Vec<String>, pairs: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let k = class_names.len();
        let mut confusion = vec![vec![0usize; k]; k];
        for (truth, predicted) in pairs {
            confusion[truth][predicted] += 1;
        }
        let samples: usize = confusion.iter().flatten().sum();
        let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
        let per_class_accuracy = confusion
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let n: usize = row.iter().sum();
                (n > 0).then(|| row[i] as f64 / n as f64)
            })
            .collect();
        Self {
            accuracy: if samples == 0 { 0.0 } else { correct as f64 / samples as f64 },
            samples,
            class_names,
            per_class_accuracy,
            confusion,
        }
    }

    /// A human-readable report: overall accuracy, per-class accuracy and the
    /// confusion matrix (rows = true class, columns = predicted class).
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "test accuracy: {:.2} % ({} samples)", self.accuracy * 100.0, self.samples);
        let _ = writeln!(s, "\nper-class accuracy:");
        for (name, acc) in self.class_names.iter().zip(&self.per_class_accuracy) {
            match acc {
                Some(a) => {
                    let _ = writeln!(s, "  {name:<12} {:>6.2} %", a * 100.0);
                }
                None => {
                    let _ = writeln!(s, "  {name:<12}   (no samples)");
                }
            }
        }
        let _ = writeln!(s, "\nconfusion matrix (rows: true class, columns: predicted):");
        let _ = write!(s, "  {:<12}", "");
        for i in 0..self.class_names.len() {
            let _ = write!(s, "{i:>6}");
        }
        let _ = writeln!(s);
        for (i, (name, row)) in self.class_names.iter().zip(&self.confusion).enumerate() {
            let _ = write!(s, "  {:<12}", format!("{i} {name}"));
            for count in row {
                let _ = write!(s, "{count:>6}");
            }
            let _ = writeln!(s);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_accuracy_per_class_and_confusion() {
        let names = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let e = Evaluation::from_pairs(names, [(0, 0), (0, 1), (1, 1), (1, 1), (0, 0)]);
        assert_eq!(e.samples, 5);
        assert!((e.accuracy - 0.8).abs() < 1e-12);
        assert_eq!(e.per_class_accuracy, vec![Some(2.0 / 3.0), Some(1.0), None]);
        assert_eq!(e.confusion, vec![vec![2, 1, 0], vec![0, 2, 0], vec![0, 0, 0]]);
        let table = e.to_table();
        assert!(table.contains("80.00 %") && table.contains("(no samples)"), "{table}");
    }
}
