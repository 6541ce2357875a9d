//! Readers for the sentiment corpora in their published formats.
//!
//! | corpus | `--data` points at | format |
//! | --- | --- | --- |
//! | [`CorpusFormat::Imdb`] | a directory with `train.tsv[.gz]`, `test.tsv[.gz]` | header `id rating label text`; each row split on its first three TABs (the text may hold more) |
//! | [`CorpusFormat::AclImdb`] | the original `aclImdb/` folder | `{train,test}/{pos,neg}/<id>_<rating>.txt`, one review per file |
//! | [`CorpusFormat::Nsmc`] | a directory with `ratings_train.txt[.gz]`, `ratings_test.txt[.gz]` | header `id document label`; exactly three TAB-separated fields, no quote processing |
//! | [`CorpusFormat::Uci`] | the `sentiment labelled sentences/` folder | `sentence<TAB>label` per line, split on the last TAB, in `amazon_cells_labelled.txt`, `imdb_labelled.txt`, `yelp_labelled.txt` |
//!
//! Labels must be `0` (negative) or `1` (positive). Every problem is a
//! [`DataError`] naming the file and line; nothing is skipped silently. The
//! UCI sentences come without a test split: every fifth line of each file
//! (lines 5, 10, …) is the test split, the rest train, so the split is the
//! same for every run and stratified by source.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::DataError;
use crate::text_file::{Line, bad_line, plain_or_gz, read_lines, read_text};

/// One labelled document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentimentExample {
    /// The text, as stored.
    pub text: String,
    /// 0 = negative, 1 = positive.
    pub label: u8,
}

/// A corpus's training and test splits.
#[derive(Debug, Clone)]
pub struct SentimentCorpus {
    /// Which format it was read from.
    pub format: CorpusFormat,
    /// The training split, in file order.
    pub train: Vec<SentimentExample>,
    /// The test split, in file order.
    pub test: Vec<SentimentExample>,
}

/// The on-disk formats Kindling reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CorpusFormat {
    /// IMDB Large Movie Review Dataset as TSV (`train.tsv[.gz]`, `test.tsv[.gz]`).
    Imdb,
    /// The original aclImdb folder layout (`train/pos/*.txt`, …).
    AclImdb,
    /// Naver Sentiment Movie Corpus (`ratings_train.txt[.gz]`, `ratings_test.txt[.gz]`).
    Nsmc,
    /// UCI Sentiment Labelled Sentences (three `*_labelled.txt` files).
    Uci,
}

/// The UCI files, in the order they are read.
pub const UCI_FILES: [&str; 3] = ["amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt"];

impl CorpusFormat {
    /// Every name accepted by [`CorpusFormat::from_name`].
    pub const NAMES: [&'static str; 4] = ["imdb", "aclimdb", "nsmc", "uci"];

    /// The format with this command-line name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "imdb" => Some(Self::Imdb),
            "aclimdb" => Some(Self::AclImdb),
            "nsmc" => Some(Self::Nsmc),
            "uci" => Some(Self::Uci),
            _ => None,
        }
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Imdb => "imdb",
            Self::AclImdb => "aclimdb",
            Self::Nsmc => "nsmc",
            Self::Uci => "uci",
        }
    }

    /// Reads both splits from `dir`.
    ///
    /// # Errors
    ///
    /// A [`DataError`] naming the directory, file and line of the first problem.
    pub fn load(self, dir: impl AsRef<Path>) -> Result<SentimentCorpus, DataError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(DataError::MissingDirectory { path: dir.to_path_buf(), expected: self.expected_layout() });
        }
        let (train, test) = match self {
            Self::Imdb => {
                (read_imdb_tsv(&plain_or_gz(dir, "train.tsv"))?, read_imdb_tsv(&plain_or_gz(dir, "test.tsv"))?)
            }
            Self::AclImdb => (read_aclimdb_split(&dir.join("train"))?, read_aclimdb_split(&dir.join("test"))?),
            Self::Nsmc => {
                (read_nsmc(&plain_or_gz(dir, "ratings_train.txt"))?, read_nsmc(&plain_or_gz(dir, "ratings_test.txt"))?)
            }
            Self::Uci => {
                let (mut train, mut test) = (Vec::new(), Vec::new());
                for name in UCI_FILES {
                    for (i, example) in read_uci(&dir.join(name))?.into_iter().enumerate() {
                        if i % 5 == 4 { test.push(example) } else { train.push(example) }
                    }
                }
                (train, test)
            }
        };
        Ok(SentimentCorpus { format: self, train, test })
    }

    fn expected_layout(self) -> String {
        match self {
            Self::Imdb => "expected train.tsv[.gz] and test.tsv[.gz] with columns id, rating, label, text",
            Self::AclImdb => {
                "expected the aclImdb layout: train/pos, train/neg, test/pos, test/neg with one .txt per review"
            }
            Self::Nsmc => "expected ratings_train.txt[.gz] and ratings_test.txt[.gz] with columns id, document, label",
            Self::Uci => "expected amazon_cells_labelled.txt, imdb_labelled.txt and yelp_labelled.txt",
        }
        .to_string()
    }
}

/// Parses a `0`/`1` label field.
fn label(path: &Path, line: usize, field: &str) -> Result<u8, DataError> {
    match field {
        "0" => Ok(0),
        "1" => Ok(1),
        other => Err(bad_line(path, line, format!("label must be 0 or 1, found `{}`", shorten(other)))),
    }
}

/// At most 40 characters of a field, for error messages.
fn shorten(field: &str) -> String {
    match field.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &field[..end]),
        None => field.to_string(),
    }
}

/// Checks the header line and returns the data lines. A last line that is
/// empty is the file's final line break, not a record.
fn data_lines(path: &Path, header: &str, what: &str) -> Result<Vec<Line>, DataError> {
    let mut lines = read_lines(path, what)?;
    if lines[0].text != header {
        return Err(bad_line(
            path,
            1,
            format!("expected the header `{}`, found `{}`", header.replace('\t', "<TAB>"), shorten(&lines[0].text)),
        ));
    }
    lines.remove(0);
    if lines.last().is_some_and(|l| l.text.is_empty()) {
        lines.pop();
    }
    if lines.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf(), expected: format!("{what} after the header") });
    }
    Ok(lines)
}

/// Reads an IMDB TSV file: header `id<TAB>rating<TAB>label<TAB>text`, each
/// row split on its first three TABs.
///
/// # Errors
///
/// A [`DataError`] naming the file and line of a missing column, a label
/// other than 0/1, a rating that is not a number, or an unreadable file.
pub fn read_imdb_tsv(path: &Path) -> Result<Vec<SentimentExample>, DataError> {
    data_lines(path, "id\trating\tlabel\ttext", "IMDB reviews")?
        .into_iter()
        .map(|Line { number, text }| {
            let fields: Vec<&str> = text.splitn(4, '\t').collect();
            if fields.len() != 4 {
                return Err(bad_line(
                    path,
                    number,
                    format!("expected 4 TAB-separated fields (id, rating, label, text), found {}", fields.len()),
                ));
            }
            if fields[1].parse::<u8>().is_err() {
                return Err(bad_line(path, number, format!("rating must be a number, found `{}`", shorten(fields[1]))));
            }
            Ok(SentimentExample { label: label(path, number, fields[2])?, text: fields[3].to_string() })
        })
        .collect()
}

/// Reads an NSMC file: header `id<TAB>document<TAB>label`, exactly three
/// fields per row, no quote processing (documents keep their `"` as stored).
///
/// # Errors
///
/// A [`DataError`] naming the file and line of a row without exactly three
/// fields, a label other than 0/1, or an unreadable file.
pub fn read_nsmc(path: &Path) -> Result<Vec<SentimentExample>, DataError> {
    data_lines(path, "id\tdocument\tlabel", "NSMC reviews")?
        .into_iter()
        .map(|Line { number, text }| {
            let fields: Vec<&str> = text.split('\t').collect();
            if fields.len() != 3 {
                return Err(bad_line(
                    path,
                    number,
                    format!("expected 3 TAB-separated fields (id, document, label), found {}", fields.len()),
                ));
            }
            Ok(SentimentExample { label: label(path, number, fields[2])?, text: fields[1].to_string() })
        })
        .collect()
}

/// Reads one UCI file: `sentence<TAB>label` per line, split on the last TAB.
///
/// # Errors
///
/// A [`DataError`] naming the file and line of a line without a TAB, a label
/// other than 0/1, or an unreadable file.
pub fn read_uci(path: &Path) -> Result<Vec<SentimentExample>, DataError> {
    let mut lines = read_lines(path, "UCI labelled sentences")?;
    if lines.last().is_some_and(|l| l.text.is_empty()) {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|Line { number, text }| {
            let (sentence, field) = text
                .rsplit_once('\t')
                .ok_or_else(|| bad_line(path, number, "expected `sentence<TAB>label`, found no TAB".to_string()))?;
            Ok(SentimentExample { label: label(path, number, field)?, text: sentence.to_string() })
        })
        .collect()
}

/// Reads one aclImdb split directory (`pos/` and `neg/`, one review per
/// `.txt` file), positive reviews first, each folder in file-name order
/// (by the numeric id of `<id>_<rating>.txt`).
///
/// # Errors
///
/// [`DataError::MissingDirectory`] without `pos/` or `neg/`, or the error of
/// the first unreadable review file.
pub fn read_aclimdb_split(split: &Path) -> Result<Vec<SentimentExample>, DataError> {
    let mut examples = Vec::new();
    for (folder, label) in [("pos", 1u8), ("neg", 0u8)] {
        let dir = split.join(folder);
        let entries = std::fs::read_dir(&dir).map_err(|_| DataError::MissingDirectory {
            path: dir.clone(),
            expected: "one <id>_<rating>.txt file per review".into(),
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        let id = |p: &PathBuf| -> (u64, PathBuf) {
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            (stem.split('_').next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX), p.clone())
        };
        files.sort_by_cached_key(id);
        if files.is_empty() {
            return Err(DataError::Empty { path: dir, expected: "one <id>_<rating>.txt file per review".into() });
        }
        for file in files {
            examples.push(SentimentExample { text: read_text(&file, "a review")?, label });
        }
    }
    Ok(examples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, content).expect("write");
        path
    }

    #[test]
    fn imdb_rows_split_on_the_first_three_tabs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path =
            write(dir.path(), "train.tsv", "id\trating\tlabel\ttext\n0\t9\t1\tgood\tfilm <br />yes\n3\t2\t0\tbad\n");
        let rows = read_imdb_tsv(&path).expect("valid");
        assert_eq!(rows[0], SentimentExample { text: "good\tfilm <br />yes".into(), label: 1 });
        assert_eq!(rows[1], SentimentExample { text: "bad".into(), label: 0 });
    }

    #[test]
    fn bad_rows_name_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            ("id\trating\tlabel\ttext\n0\t9\t1\tfine\n1\t9\t1\n", 3, "expected 4 TAB-separated fields"),
            ("id\trating\tlabel\ttext\n0\t9\t2\tnot a label\n", 2, "label must be 0 or 1, found `2`"),
            ("id\trating\tlabel\ttext\n0\tnine\t1\tx\n", 2, "rating must be a number"),
            ("id\ttext\n0\t9\t1\tx\n", 1, "expected the header"),
        ];
        for (content, line, message) in cases {
            let path = write(dir.path(), "train.tsv", content);
            let err = read_imdb_tsv(&path).expect_err(message);
            assert!(matches!(err, DataError::BadLine { line: l, .. } if l == line), "{err}");
            assert!(err.to_string().contains(message) && err.to_string().contains("train.tsv"), "{err}");
        }
        let path = write(dir.path(), "train.tsv", "id\trating\tlabel\ttext\n");
        assert!(matches!(read_imdb_tsv(&path), Err(DataError::Empty { .. })));
    }

    #[test]
    fn nsmc_keeps_quotes_and_empty_documents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "r.txt", "id\tdocument\tlabel\n1\t\"\"\"따옴표\"\"\"\t1\n2\t\t0\n");
        let rows = read_nsmc(&path).expect("valid");
        assert_eq!(rows[0].text, "\"\"\"따옴표\"\"\"");
        assert_eq!(rows[1], SentimentExample { text: String::new(), label: 0 });
        let path = write(dir.path(), "r.txt", "id\tdocument\tlabel\n1\ta\tb\t1\n");
        let err = read_nsmc(&path).expect_err("four fields");
        assert!(err.to_string().contains("line 2: expected 3 TAB-separated fields"), "{err}");
    }

    #[test]
    fn uci_splits_on_the_last_tab_and_every_fifth_line_is_test() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lines: String = (0..10).map(|i| format!("sentence\twith tab {i} \t{}\n", i % 2)).collect();
        for name in UCI_FILES {
            write(dir.path(), name, &lines);
        }
        let corpus = CorpusFormat::Uci.load(dir.path()).expect("valid");
        assert_eq!((corpus.train.len(), corpus.test.len()), (24, 6));
        assert_eq!(corpus.test[0], SentimentExample { text: "sentence\twith tab 4 ".into(), label: 0 });
        write(dir.path(), UCI_FILES[1], "no tab here\n");
        let err = CorpusFormat::Uci.load(dir.path()).expect_err("no tab");
        assert!(err.to_string().contains("imdb_labelled.txt, line 1: expected `sentence<TAB>label`"), "{err}");
    }

    #[test]
    fn aclimdb_folders_read_in_id_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        for split in ["train", "test"] {
            write(dir.path(), &format!("{split}/pos/10_9.txt"), "ten");
            write(dir.path(), &format!("{split}/pos/2_8.txt"), "two");
            write(dir.path(), &format!("{split}/neg/0_1.txt"), "zero");
        }
        let corpus = CorpusFormat::AclImdb.load(dir.path()).expect("valid");
        let texts: Vec<&str> = corpus.train.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["two", "ten", "zero"]);
        assert_eq!(corpus.train.iter().map(|e| e.label).collect::<Vec<_>>(), [1, 1, 0]);
        std::fs::write(dir.path().join("test/neg/0_1.txt"), b"\xfe").expect("write");
        let err = CorpusFormat::AclImdb.load(dir.path()).expect_err("invalid UTF-8");
        assert!(err.to_string().contains("0_1.txt, line 1: not valid UTF-8"), "{err}");
    }

    #[test]
    fn a_missing_directory_says_what_belongs_there() {
        let err = CorpusFormat::Nsmc.load("/no/such/dir").expect_err("missing");
        assert!(err.to_string().contains("ratings_train.txt"), "{err}");
    }
}
