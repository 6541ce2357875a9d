//! Splitting text into tokens.
//!
//! Two tokenizers share the [`Tokenizer`] trait:
//!
//! - [`EnglishWordTokenizer`] (IMDB, UCI): lowercases, removes the `<br />`
//!   tags IMDB reviews carry, keeps runs of letters and digits (with inner
//!   apostrophes, so `don't` stays one word) as words, and makes every other
//!   visible character a token of its own (`!`, `?`, `.` carry sentiment).
//! - [`SyllableTokenizer`] (NSMC): Korean reviews glue particles and endings
//!   to their stems (`재밌었다`, `재밌네요`), so a word vocabulary explodes and
//!   most test words are unseen. Hangul syllables are a closed set of a few
//!   thousand, so each character is a token, and the first character of every
//!   whitespace-separated word is marked (`▁재`, `밌`, `었`, `다`) so the
//!   network still sees where words begin. Runs of Latin letters and digits
//!   stay whole words, as in English.
//!
//! [`TokenizerKind`] names them in run configurations.

use serde::{Deserialize, Serialize};

/// Turns a document into tokens.
pub trait Tokenizer: Send + Sync {
    /// The tokens of `text`, in order.
    fn tokenize(&self, text: &str) -> Vec<String>;
}

/// The tokenizer of a run, stored in its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenizerKind {
    /// [`EnglishWordTokenizer`].
    EnglishWords,
    /// [`SyllableTokenizer`].
    Syllables,
}

impl Tokenizer for TokenizerKind {
    fn tokenize(&self, text: &str) -> Vec<String> {
        match self {
            Self::EnglishWords => EnglishWordTokenizer.tokenize(text),
            Self::Syllables => SyllableTokenizer.tokenize(text),
        }
    }
}

/// Lowercased English words and punctuation; see the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnglishWordTokenizer;

/// Hangul syllables with word-start marks, Latin words whole; see the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyllableTokenizer;

/// The mark on a word's first syllable (U+2581, as SentencePiece uses it).
pub const WORD_START: char = '\u{2581}';

/// IMDB's line breaks, in the spellings that occur.
const BREAKS: [&str; 3] = ["<br />", "<br/>", "<br>"];

fn without_breaks(text: &str) -> String {
    let mut lower = text.to_lowercase();
    for tag in BREAKS {
        if lower.contains(tag) {
            lower = lower.replace(tag, " ");
        }
    }
    lower
}

/// Whether `c` belongs inside a word: letters, digits and marks (accents).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '\u{300}'..='\u{36f}')
}

impl Tokenizer for EnglishWordTokenizer {
    fn tokenize(&self, text: &str) -> Vec<String> {
        let text = without_breaks(text);
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::new();
        let mut word = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let inner_apostrophe = matches!(c, '\'' | '’')
                && !word.is_empty()
                && chars.get(i + 1).copied().is_some_and(char::is_alphanumeric);
            if is_word_char(c) || inner_apostrophe {
                word.push(if c == '’' { '\'' } else { c });
                continue;
            }
            if !word.is_empty() {
                tokens.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() && !c.is_control() {
                tokens.push(c.to_string());
            }
        }
        if !word.is_empty() {
            tokens.push(word);
        }
        tokens
    }
}

/// Whether `c` is a Hangul syllable or jamo (`ㅋ`, `ㅠ` are common in reviews).
fn is_hangul(c: char) -> bool {
    matches!(c, '\u{ac00}'..='\u{d7a3}' | '\u{1100}'..='\u{11ff}' | '\u{3130}'..='\u{318f}')
}

impl Tokenizer for SyllableTokenizer {
    fn tokenize(&self, text: &str) -> Vec<String> {
        let text = without_breaks(text);
        let mut tokens = Vec::new();
        for word in text.split_whitespace() {
            let mut start = true;
            let mut latin = String::new();
            let emit = |token: String, tokens: &mut Vec<String>, start: &mut bool| {
                tokens.push(if *start { format!("{WORD_START}{token}") } else { token });
                *start = false;
            };
            for c in word.chars().filter(|c| !c.is_control()) {
                if is_word_char(c) && !is_hangul(c) {
                    latin.push(c);
                    continue;
                }
                if !latin.is_empty() {
                    emit(std::mem::take(&mut latin), &mut tokens, &mut start);
                }
                emit(c.to_string(), &mut tokens, &mut start);
            }
            if !latin.is_empty() {
                emit(latin, &mut tokens, &mut start);
            }
        }
        tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn english_words_lowercase_and_split_punctuation() {
        let tokens = EnglishWordTokenizer.tokenize("I didn't LIKE it.<br /><br />Worst film... ever!!");
        assert_eq!(tokens, ["i", "didn't", "like", "it", ".", "worst", "film", ".", ".", ".", "ever", "!", "!"]);
        assert_eq!(EnglishWordTokenizer.tokenize("'quoted' rock’n’roll"), ["'", "quoted", "'", "rock'n'roll"]);
        assert!(EnglishWordTokenizer.tokenize(" \t\u{85} ").is_empty());
    }

    #[test]
    fn syllables_mark_word_starts_and_keep_latin_words() {
        let tokens = SyllableTokenizer.tokenize("재밌었다 ㅋㅋ CGI는 별로..");
        assert_eq!(tokens, ["▁재", "밌", "었", "다", "▁ㅋ", "ㅋ", "▁cgi", "는", "▁별", "로", ".", "."]);
        assert!(SyllableTokenizer.tokenize("").is_empty());
    }

    proptest! {
        /// Tokens are never empty and never hold whitespace, whatever the
        /// input, so a vocabulary file of one token per entry round-trips.
        #[test]
        fn tokens_are_nonempty_without_whitespace(text in "\\PC{0,200}") {
            for kind in [TokenizerKind::EnglishWords, TokenizerKind::Syllables] {
                for token in kind.tokenize(&text) {
                    prop_assert!(!token.is_empty());
                    prop_assert!(!token.chars().any(char::is_whitespace), "{:?}", token);
                }
            }
        }

        /// English tokens concatenated are the text's visible characters,
        /// lowercased, with `<br />` removed: tokenizing loses nothing else.
        #[test]
        fn english_tokens_keep_every_visible_character(text in "[a-zA-Z0-9 .,!?'<>/]{0,120}") {
            let tokens = EnglishWordTokenizer.tokenize(&text);
            let visible: String = without_breaks(&text).chars().filter(|c| !c.is_whitespace()).collect();
            prop_assert_eq!(tokens.concat(), visible);
        }

        /// Syllable tokens without their word-start marks concatenate to the
        /// text's visible characters, and exactly one token per word is marked.
        #[test]
        fn syllable_tokens_keep_every_visible_character(text in "[가-힣ㄱ-ㅎa-zA-Z0-9 .!?~]{0,80}") {
            let tokens = SyllableTokenizer.tokenize(&text);
            let visible: String = text.to_lowercase().chars().filter(|c| !c.is_whitespace()).collect();
            prop_assert_eq!(tokens.concat().replace(WORD_START, ""), visible);
            let marked = tokens.iter().filter(|t| t.starts_with(WORD_START)).count();
            prop_assert_eq!(marked, text.split_whitespace().count());
        }
    }
}
