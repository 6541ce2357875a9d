//! Reading text files line by line, plain or gzip-compressed, with errors
//! that name the file and line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::DataError;

/// The longest line a reader accepts, in bytes. Real reviews are far shorter
/// (IMDB's longest is 13.7 kB); the bound only keeps a file with no line
/// breaks at all from being read into one string unchecked.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// One line of a text file: its one-based number and its text without the
/// line break (a trailing `\r` of a CRLF file is removed too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// One-based line number.
    pub number: usize,
    /// The text.
    pub text: String,
}

/// Opens `path` for reading, decompressing it when it starts with the gzip
/// magic bytes (whatever its name).
fn open(path: &Path) -> Result<Box<dyn BufRead>, DataError> {
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let read = file.read(&mut magic).map_err(io)?;
    let file = File::open(path).map_err(io)?;
    Ok(if read == 2 && magic == GZIP_MAGIC {
        Box::new(BufReader::new(MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    })
}

/// Reads every line of `path` (plain or gzip), splitting on `\n` only: other
/// Unicode line separators (U+0085, U+2028) stay inside the line, as the
/// datasets' own readers expect.
///
/// # Errors
///
/// [`DataError::MissingFile`] if the file does not exist, [`DataError::Io`]
/// if it cannot be read or decompressed, [`DataError::BadLine`] for a line
/// that is not UTF-8 or longer than [`MAX_LINE_BYTES`], and
/// [`DataError::Empty`] for a file with no content.
pub fn read_lines(path: &Path, expected: &str) -> Result<Vec<Line>, DataError> {
    if !path.is_file() {
        return Err(DataError::MissingFile { path: path.to_path_buf(), expected: expected.to_string() });
    }
    let mut reader = open(path)?;
    let mut lines = Vec::new();
    let mut buffer = Vec::new();
    for number in 1.. {
        buffer.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buffer)
            .map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
        if read == 0 {
            break;
        }
        if buffer.last() == Some(&b'\n') {
            buffer.pop();
        } else if buffer.len() > MAX_LINE_BYTES {
            return Err(bad_line(path, number, format!("line is longer than {MAX_LINE_BYTES} bytes")));
        }
        if buffer.last() == Some(&b'\r') {
            buffer.pop();
        }
        let text = String::from_utf8(std::mem::take(&mut buffer)).map_err(|e| {
            bad_line(path, number, format!("not valid UTF-8 (at byte {} of the line)", e.utf8_error().valid_up_to()))
        })?;
        lines.push(Line { number, text });
    }
    if lines.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf(), expected: expected.to_string() });
    }
    Ok(lines)
}

/// Reads a whole file (plain or gzip) as one UTF-8 string.
///
/// # Errors
///
/// As [`read_lines`]; an invalid byte is reported with its line number.
pub fn read_text(path: &Path, expected: &str) -> Result<String, DataError> {
    let mut bytes = Vec::new();
    open(path)?
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    if bytes.len() > MAX_LINE_BYTES {
        return Err(bad_line(path, 1, format!("file is longer than {MAX_LINE_BYTES} bytes")));
    }
    if bytes.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf(), expected: expected.to_string() });
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..valid].iter().filter(|&&b| b == b'\n').count();
        bad_line(path, line, "not valid UTF-8".to_string())
    })
}

/// `dir/name`, or `dir/name.gz` when only the compressed file exists.
pub fn plain_or_gz(dir: &Path, name: &str) -> PathBuf {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if !plain.exists() && gz.exists() { gz } else { plain }
}

pub(crate) fn bad_line(path: &Path, line: usize, problem: String) -> DataError {
    DataError::BadLine { path: path.to_path_buf(), line, problem }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn plain_and_gzip_files_read_the_same_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let content = "first\r\nsecond\u{85}still second\n\nlast";
        std::fs::write(dir.path().join("a.txt"), content).expect("write");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(content.as_bytes()).expect("compress");
        std::fs::write(dir.path().join("b.txt.gz"), gz.finish().expect("finish")).expect("write");
        let a = read_lines(&dir.path().join("a.txt"), "text").expect("plain");
        let b = read_lines(&plain_or_gz(dir.path(), "b.txt"), "text").expect("gzip");
        assert_eq!(a, b);
        let texts: Vec<&str> = a.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["first", "second\u{85}still second", "", "last"]);
        assert_eq!(a[3].number, 4);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.tsv");
        std::fs::write(&path, b"ok\nalso ok\nbad \xff byte\n").expect("write");
        let err = read_lines(&path, "text").expect_err("invalid UTF-8");
        assert!(matches!(err, DataError::BadLine { line: 3, .. }), "{err}");
        assert!(err.to_string().contains("bad.tsv, line 3: not valid UTF-8"), "{err}");
        let err = read_text(&path, "text").expect_err("invalid UTF-8");
        assert!(matches!(err, DataError::BadLine { line: 3, .. }), "{err}");
    }

    #[test]
    fn empty_and_missing_files_are_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("empty.txt");
        std::fs::write(&path, b"").expect("write");
        assert!(matches!(read_lines(&path, "reviews"), Err(DataError::Empty { .. })));
        assert!(matches!(read_lines(&dir.path().join("nope"), "reviews"), Err(DataError::MissingFile { .. })));
    }

    #[test]
    fn truncated_gzip_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&vec![b'a'; 100_000]).expect("compress");
        let mut bytes = gz.finish().expect("finish");
        bytes.truncate(bytes.len() / 2);
        let path = dir.path().join("cut.tsv.gz");
        std::fs::write(&path, bytes).expect("write");
        let err = read_lines(&path, "reviews").expect_err("truncated");
        assert!(matches!(err, DataError::Io { .. }) && err.to_string().contains("cut.tsv.gz"), "{err}");
    }
}
