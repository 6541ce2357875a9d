//! The token ↔ id table of a text model.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::DataError;

/// Token id of padding; the embedding row the model keeps at zero.
pub const PAD_ID: u32 = 0;
/// Token id of every token outside the vocabulary.
pub const UNK_ID: u32 = 1;
/// The padding token's text.
pub const PAD: &str = "<pad>";
/// The unknown token's text.
pub const UNK: &str = "<unk>";

/// How a vocabulary is chosen from the training split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VocabularySettings {
    /// Tokens seen fewer times than this are `<unk>`.
    pub min_frequency: usize,
    /// At most this many entries, `<pad>` and `<unk>` included.
    pub max_size: usize,
}

/// Token ids: `<pad>` = 0, `<unk>` = 1, then tokens by falling frequency
/// (ties in code-point order, so the same data always gives the same ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabulary {
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
}

/// The file form: the tokens in id order.
#[derive(Serialize, Deserialize)]
struct VocabularyFile {
    tokens: Vec<String>,
}

impl Vocabulary {
    /// Counts the tokens of `documents` (the training split only: test
    /// tokens must not leak into the model) and keeps the most frequent.
    ///
    /// # Panics
    ///
    /// Never for valid settings; `max_size` below 2 keeps only `<pad>` and `<unk>`.
    pub fn build<'a>(documents: impl IntoIterator<Item = &'a [String]>, settings: VocabularySettings) -> Self {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for document in documents {
            for token in document {
                *counts.entry(token.as_str()).or_default() += 1;
            }
        }
        let mut ranked: Vec<(&str, usize)> = counts
            .into_iter()
            .filter(|&(token, n)| n >= settings.min_frequency.max(1) && token != PAD && token != UNK)
            .collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let keep = settings.max_size.saturating_sub(2);
        let tokens = [PAD, UNK].into_iter().chain(ranked.into_iter().take(keep).map(|(t, _)| t)).map(String::from);
        Self::from_tokens(tokens.collect())
    }

    fn from_tokens(tokens: Vec<String>) -> Self {
        let ids = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        Self { tokens, ids }
    }

    /// Number of entries, `<pad>` and `<unk>` included: the embedding's row count.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Always false: `<pad>` and `<unk>` are always there.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The id of `token`, [`UNK_ID`] when it is not in the vocabulary.
    pub fn id(&self, token: &str) -> u32 {
        self.ids.get(token).copied().unwrap_or(UNK_ID)
    }

    /// The token with `id`, if there is one.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The ids of `tokens`.
    pub fn encode(&self, tokens: &[String]) -> Vec<u32> {
        tokens.iter().map(|t| self.id(t)).collect()
    }

    /// Writes the vocabulary as JSON (`{"tokens": [...]}` in id order).
    ///
    /// # Errors
    ///
    /// [`DataError::Io`] when the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), DataError> {
        let json = serde_json::to_vec(&VocabularyFile { tokens: self.tokens.clone() })
            .map_err(|e| DataError::Io { path: path.to_path_buf(), source: e.into() })?;
        std::fs::write(path, json).map_err(|source| DataError::Io { path: path.to_path_buf(), source })
    }

    /// Reads a vocabulary written by [`Vocabulary::save`], checking it.
    ///
    /// # Errors
    ///
    /// [`DataError::MissingFile`], [`DataError::Io`], or
    /// [`DataError::BadLine`] when the file is not such a vocabulary: not
    /// JSON of that shape, `<pad>`/`<unk>` not at ids 0 and 1, an empty or
    /// repeated token.
    pub fn load(path: &Path) -> Result<Self, DataError> {
        if !path.is_file() {
            return Err(DataError::MissingFile {
                path: path.to_path_buf(),
                expected: "the run's vocabulary, written when training started".into(),
            });
        }
        let bytes = std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
        let bad = |line: usize, problem: String| DataError::BadLine { path: path.to_path_buf(), line, problem };
        let file: VocabularyFile =
            serde_json::from_slice(&bytes).map_err(|e| bad(e.line(), format!("not a vocabulary file: {e}")))?;
        if file.tokens.len() < 2 || file.tokens[0] != PAD || file.tokens[1] != UNK {
            return Err(bad(1, format!("the first two tokens must be `{PAD}` and `{UNK}`")));
        }
        let vocabulary = Self::from_tokens(file.tokens);
        if vocabulary.ids.len() != vocabulary.tokens.len() {
            return Err(bad(1, "a token appears twice".into()));
        }
        if let Some(i) = vocabulary.tokens.iter().position(String::is_empty) {
            return Err(bad(1, format!("token {i} is empty")));
        }
        Ok(vocabulary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn docs(texts: &[&str]) -> Vec<Vec<String>> {
        texts.iter().map(|t| t.split_whitespace().map(String::from).collect()).collect()
    }

    #[test]
    fn ids_follow_frequency_then_code_point_order() {
        let documents = docs(&["b a c a", "c a d", "e"]);
        let settings = VocabularySettings { min_frequency: 2, max_size: 100 };
        let vocab = Vocabulary::build(documents.iter().map(Vec::as_slice), settings);
        assert_eq!(vocab.tokens, ["<pad>", "<unk>", "a", "c"]);
        assert_eq!(vocab.encode(&docs(&["a d c"])[0]), [2, UNK_ID, 3]);
        let small = Vocabulary::build(
            documents.iter().map(Vec::as_slice),
            VocabularySettings { min_frequency: 1, max_size: 3 },
        );
        assert_eq!(small.tokens, ["<pad>", "<unk>", "a"]);
    }

    #[test]
    fn damaged_vocabulary_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vocab.json");
        for (content, message) in [
            (r#"{"tokens": ["<pad>", "<unk>", "a", "a"]}"#, "twice"),
            (r#"{"tokens": ["a", "<unk>"]}"#, "first two tokens"),
            (r#"{"tokens": ["<pad>", "<unk>", ""]}"#, "empty"),
            (r#"{"tokens": ["<pad>", "<unk>""#, "not a vocabulary file"),
        ] {
            std::fs::write(&path, content).expect("write");
            let err = Vocabulary::load(&path).expect_err(message);
            assert!(err.to_string().contains(message) && err.to_string().contains("vocab.json"), "{err}");
        }
        assert!(matches!(Vocabulary::load(&dir.path().join("none.json")), Err(DataError::MissingFile { .. })));
    }

    proptest! {
        /// Save → load gives the same vocabulary, and every kept token maps
        /// to an id whose token is itself.
        #[test]
        fn round_trips_through_its_file(texts in proptest::collection::vec("[a-e ]{0,30}", 1..20), max_size in 2usize..10) {
            let documents: Vec<Vec<String>> = texts.iter().map(|t| t.split_whitespace().map(String::from).collect()).collect();
            let vocab = Vocabulary::build(documents.iter().map(Vec::as_slice), VocabularySettings { min_frequency: 1, max_size });
            prop_assert!(vocab.len() <= max_size);
            for id in 0..vocab.len() as u32 {
                prop_assert_eq!(vocab.id(vocab.token(id).expect("in range")), id);
            }
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("vocab.json");
            vocab.save(&path).expect("save");
            prop_assert_eq!(Vocabulary::load(&path).expect("load"), vocab);
        }
    }
}
