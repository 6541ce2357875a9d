//! The CIFAR-10 reader for the official binary format.
//!
//! A CIFAR-10 directory (`cifar-10-batches-bin/`) holds `data_batch_1.bin` …
//! `data_batch_5.bin` (training), `test_batch.bin` (test) and
//! `batches.meta.txt` (class names, one per line). Each `.bin` file is a bare
//! sequence of 3 073-byte records: one label byte (0–9), then 1 024 red, 1 024
//! green and 1 024 blue bytes, each plane 32 rows × 32 columns, row-major.
//! There is no header, so a file whose length is not a multiple of 3 073 is
//! truncated or not CIFAR-10, and is refused.
//!
//! A directory may hold fewer training files than five (the subset shipped in
//! `datasets/` holds only `data_batch_1.bin`); every present file is read in
//! order and at least one is required.

use std::fs;
use std::path::{Path, PathBuf};

use burn::data::dataset::Dataset;

use crate::DataError;

/// Image height and width in pixels.
pub const IMAGE_SIDE: usize = 32;
/// Colour channels per image (R, G, B).
pub const CHANNELS: usize = 3;
/// Bytes of pixel data per image: 3 planes of 32 × 32.
pub const IMAGE_BYTES: usize = CHANNELS * IMAGE_SIDE * IMAGE_SIDE;
/// Bytes per record: the label byte, then the pixels.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// Number of classes.
pub const NUM_CLASSES: usize = 10;
/// The training files, in the order they are read.
pub const TRAIN_FILES: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
/// The test file.
pub const TEST_FILE: &str = "test_batch.bin";
/// The class-name file.
pub const META_FILE: &str = "batches.meta.txt";

/// Which part of CIFAR-10 to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Cifar10Split {
    /// `data_batch_1.bin` … `data_batch_5.bin`, whichever are present.
    Train,
    /// `test_batch.bin`.
    Test,
}

/// One CIFAR-10 image as stored: CHW bytes and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cifar10Item {
    /// 3 072 bytes, red plane then green then blue, each 32 × 32 row-major.
    pub pixels: Vec<u8>,
    /// The class index, 0–9.
    pub label: u8,
    /// The item's position in its dataset; augmentation derives its random
    /// draws from it so results do not depend on which thread batches it.
    pub index: usize,
}

/// A CIFAR-10 split held in memory (150 MB for the full training split).
#[derive(Debug, Clone)]
pub struct Cifar10Dataset {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    class_names: Vec<String>,
}

impl Cifar10Dataset {
    /// Reads a split from a directory in the official binary layout.
    ///
    /// # Errors
    ///
    /// [`DataError::MissingDirectory`] or [`DataError::MissingFile`] when the
    /// files are absent, [`DataError::BadLength`] when a file is not a whole
    /// number of records, [`DataError::BadRecord`] for a label above 9 and
    /// [`DataError::BadLine`] for a malformed `batches.meta.txt`.
    pub fn open(dir: impl AsRef<Path>, split: Cifar10Split) -> Result<Self, DataError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(DataError::MissingDirectory {
                path: dir.to_path_buf(),
                expected: format!("a CIFAR-10 binary directory with {} and {}", TRAIN_FILES.join(", "), TEST_FILE),
            });
        }
        let files: Vec<PathBuf> = match split {
            Cifar10Split::Train => TRAIN_FILES.iter().map(|name| dir.join(name)).filter(|path| path.exists()).collect(),
            Cifar10Split::Test => vec![dir.join(TEST_FILE)].into_iter().filter(|p| p.exists()).collect(),
        };
        if files.is_empty() {
            let wanted = match split {
                Cifar10Split::Train => "data_batch_1.bin",
                Cifar10Split::Test => TEST_FILE,
            };
            return Err(DataError::MissingFile {
                path: dir.join(wanted),
                expected: format!("the CIFAR-10 {split:?} split needs it (official binary format)"),
            });
        }

        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for path in &files {
            let bytes = fs::read(path).map_err(|source| DataError::Io { path: path.clone(), source })?;
            parse_records(path, &bytes, &mut pixels, &mut labels)?;
        }
        let class_names = read_class_names(&dir.join(META_FILE))?;
        Ok(Self { pixels, labels, class_names })
    }

    /// The class names, index = label.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// All labels, in dataset order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels of image `index` (CHW bytes), if it exists.
    pub fn pixels(&self, index: usize) -> Option<&[u8]> {
        self.pixels.get(index * IMAGE_BYTES..(index + 1) * IMAGE_BYTES)
    }

    /// Keeps the first `n` images (all of them when there are fewer).
    pub fn truncate(&mut self, n: usize) {
        self.labels.truncate(n);
        self.pixels.truncate(n * IMAGE_BYTES);
    }

    /// The per-channel mean and standard deviation of the pixel values scaled
    /// to `[0, 1]`, over the whole split: the statistics `Normalize` uses.
    pub fn channel_stats(&self) -> ([f32; CHANNELS], [f32; CHANNELS]) {
        let plane = IMAGE_SIDE * IMAGE_SIDE;
        let mut sum = [0f64; CHANNELS];
        let mut sum_sq = [0f64; CHANNELS];
        for image in self.pixels.chunks_exact(IMAGE_BYTES) {
            for (c, channel) in image.chunks_exact(plane).enumerate() {
                // Integer sums are exact; 64 bits cannot overflow for any split size.
                let s: u64 = channel.iter().map(|&v| u64::from(v)).sum();
                let s2: u64 = channel.iter().map(|&v| u64::from(v) * u64::from(v)).sum();
                sum[c] += s as f64;
                sum_sq[c] += s2 as f64;
            }
        }
        let n = (self.labels.len() * plane).max(1) as f64;
        let mut mean = [0f32; CHANNELS];
        let mut std = [0f32; CHANNELS];
        for c in 0..CHANNELS {
            let m = sum[c] / n / 255.0;
            let var = (sum_sq[c] / n / (255.0 * 255.0) - m * m).max(0.0);
            mean[c] = m as f32;
            std[c] = var.sqrt() as f32;
        }
        (mean, std)
    }
}

impl Dataset<Cifar10Item> for Cifar10Dataset {
    fn get(&self, index: usize) -> Option<Cifar10Item> {
        Some(Cifar10Item { pixels: self.pixels(index)?.to_vec(), label: *self.labels.get(index)?, index })
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

/// Splits the raw bytes of one `.bin` file into pixels and labels, checking
/// the length and every label.
fn parse_records(path: &Path, bytes: &[u8], pixels: &mut Vec<u8>, labels: &mut Vec<u8>) -> Result<(), DataError> {
    if bytes.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            expected: format!("CIFAR-10 records of {RECORD_BYTES} bytes"),
        });
    }
    if !bytes.len().is_multiple_of(RECORD_BYTES) {
        let whole = bytes.len() / RECORD_BYTES;
        return Err(DataError::BadLength {
            path: path.to_path_buf(),
            len: bytes.len() as u64,
            record_len: RECORD_BYTES,
            detail: format!(
                "{whole} whole records and {} stray bytes: the file is truncated or not CIFAR-10 binary",
                bytes.len() % RECORD_BYTES
            ),
        });
    }
    let count = bytes.len() / RECORD_BYTES;
    pixels.reserve(count * IMAGE_BYTES);
    labels.reserve(count);
    for (record, chunk) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
        let label = chunk[0];
        if usize::from(label) >= NUM_CLASSES {
            return Err(DataError::BadRecord {
                path: path.to_path_buf(),
                record,
                offset: (record * RECORD_BYTES) as u64,
                problem: format!("label byte is {label}, expected 0 to {}", NUM_CLASSES - 1),
            });
        }
        labels.push(label);
        pixels.extend_from_slice(&chunk[1..]);
    }
    Ok(())
}

/// The default names, used when `batches.meta.txt` is absent.
const DEFAULT_CLASS_NAMES: [&str; NUM_CLASSES] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

fn read_class_names(path: &Path) -> Result<Vec<String>, DataError> {
    if !path.exists() {
        return Ok(DEFAULT_CLASS_NAMES.iter().map(|s| s.to_string()).collect());
    }
    let text = fs::read_to_string(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    // The official file ends with one empty line; blank lines carry no name.
    let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    if names.len() != NUM_CLASSES {
        return Err(DataError::BadLine {
            path: path.to_path_buf(),
            line: names.len().min(NUM_CLASSES) + 1,
            problem: format!("expected {NUM_CLASSES} class names, one per line, found {}", names.len()),
        });
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: u8, fill: u8) -> Vec<u8> {
        let mut r = vec![fill; RECORD_BYTES];
        r[0] = label;
        r
    }

    fn write_dir(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, bytes) in files {
            fs::write(dir.path().join(name), bytes).expect("write");
        }
        dir
    }

    #[test]
    fn reads_records_in_file_order() {
        let mut train1 = record(3, 10);
        train1.extend(record(9, 20));
        let dir = write_dir(&[("data_batch_1.bin", train1), ("data_batch_2.bin", record(0, 30))]);
        let ds = Cifar10Dataset::open(dir.path(), Cifar10Split::Train).expect("valid");
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.labels(), &[3, 9, 0]);
        let item = ds.get(2).expect("item");
        assert_eq!(item.pixels, vec![30; IMAGE_BYTES]);
        assert_eq!(item.index, 2);
        assert_eq!(ds.class_names()[0], "airplane");
        assert!(ds.get(3).is_none());
    }

    #[test]
    fn missing_directory_is_named() {
        let err = Cifar10Dataset::open("/nonexistent/cifar", Cifar10Split::Test).unwrap_err();
        assert!(matches!(err, DataError::MissingDirectory { .. }));
        assert!(err.to_string().contains("/nonexistent/cifar"), "{err}");
    }

    #[test]
    fn missing_test_file_is_named() {
        let dir = write_dir(&[("data_batch_1.bin", record(1, 0))]);
        let err = Cifar10Dataset::open(dir.path(), Cifar10Split::Test).unwrap_err();
        assert!(err.to_string().contains("test_batch.bin"), "{err}");
    }

    #[test]
    fn truncated_file_is_refused_with_its_length() {
        let mut bytes = record(1, 0);
        bytes.extend(record(2, 0));
        bytes.truncate(RECORD_BYTES + 100);
        let dir = write_dir(&[("test_batch.bin", bytes)]);
        let err = Cifar10Dataset::open(dir.path(), Cifar10Split::Test).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::BadLength { len: 3173, .. }), "{msg}");
        assert!(msg.contains("test_batch.bin") && msg.contains("1 whole records"), "{msg}");
    }

    #[test]
    fn label_above_nine_names_file_and_record() {
        let mut bytes = record(1, 0);
        bytes.extend(record(2, 0));
        bytes.extend(record(10, 0));
        let dir = write_dir(&[("test_batch.bin", bytes)]);
        let err = Cifar10Dataset::open(dir.path(), Cifar10Split::Test).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::BadRecord { record: 2, .. }), "{msg}");
        assert!(
            msg.contains("test_batch.bin") && msg.contains("record 2") && msg.contains("label byte is 10"),
            "{msg}"
        );
    }

    #[test]
    fn empty_file_is_refused() {
        let dir = write_dir(&[("test_batch.bin", Vec::new())]);
        let err = Cifar10Dataset::open(dir.path(), Cifar10Split::Test).unwrap_err();
        assert!(matches!(err, DataError::Empty { .. }), "{err}");
    }

    #[test]
    fn class_names_come_from_meta_file() {
        let names = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n";
        let dir = write_dir(&[("test_batch.bin", record(0, 0)), (META_FILE, names.as_bytes().to_vec())]);
        let ds = Cifar10Dataset::open(dir.path(), Cifar10Split::Test).expect("valid");
        assert_eq!(ds.class_names()[9], "j");

        let dir = write_dir(&[("test_batch.bin", record(0, 0)), (META_FILE, b"a\nb\n".to_vec())]);
        let err = Cifar10Dataset::open(dir.path(), Cifar10Split::Test).unwrap_err();
        assert!(err.to_string().contains("expected 10 class names"), "{err}");
    }

    #[test]
    fn channel_stats_are_exact() {
        let mut r = vec![0u8; RECORD_BYTES];
        // red all 255, green half 0 half 255, blue all 0
        r[1..1025].fill(255);
        r[1025..1025 + 512].fill(255);
        let dir = write_dir(&[("test_batch.bin", r)]);
        let ds = Cifar10Dataset::open(dir.path(), Cifar10Split::Test).expect("valid");
        let (mean, std) = ds.channel_stats();
        assert_eq!(mean, [1.0, 0.5, 0.0]);
        assert_eq!(std, [0.0, 0.5, 0.0]);
    }
}
