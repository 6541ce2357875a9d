//! Encoded documents, and batching them into padded id tensors with lengths.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use crate::vocabulary::{PAD_ID, UNK_ID};
use crate::{SentimentExample, Tokenizer, Vocabulary};

/// One document as the model reads it: token ids, at most `max_len` of them,
/// and at least one (an empty document becomes a single `<unk>`, so it is
/// still classified rather than silently dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentimentItem {
    /// Token ids, `1 ≤ len ≤ max_len`.
    pub ids: Vec<u32>,
    /// 0 = negative, 1 = positive.
    pub label: u8,
}

impl SentimentItem {
    /// Tokenizes and encodes `example`, keeping its first `max_len` tokens.
    pub fn encode(
        example: &SentimentExample,
        tokenizer: &dyn Tokenizer,
        vocabulary: &Vocabulary,
        max_len: usize,
    ) -> Self {
        Self::from_tokens(&tokenizer.tokenize(&example.text), example.label, vocabulary, max_len)
    }

    /// Encodes already tokenized text, keeping the first `max_len` tokens.
    pub fn from_tokens(tokens: &[String], label: u8, vocabulary: &Vocabulary, max_len: usize) -> Self {
        let mut ids = vocabulary.encode(&tokens[..tokens.len().min(max_len.max(1))]);
        if ids.is_empty() {
            ids.push(UNK_ID);
        }
        Self { ids, label }
    }
}

/// A batch of documents: ids padded with `<pad>` to the longest document of
/// the batch, each document's real length, and the labels.
#[derive(Debug, Clone)]
pub struct SentimentBatch<B: Backend> {
    /// Token ids, `[batch, longest]`, padded with [`PAD_ID`].
    pub ids: Tensor<B, 2, Int>,
    /// Real tokens per document, each in `1..=longest`.
    pub lengths: Vec<usize>,
    /// Labels, `[batch]`.
    pub targets: Tensor<B, 1, Int>,
}

/// Pads [`SentimentItem`]s into a [`SentimentBatch`]. Items come either one
/// by one or already grouped by a [`LengthBuckets`](crate::LengthBuckets)
/// dataset (each "item" then is a whole batch, and the loader's batch size is 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct SentimentBatcher;

impl SentimentBatcher {
    /// The padded ids (row-major `[batch, longest]`), lengths and labels of `items`.
    pub fn pad(items: &[SentimentItem]) -> (Vec<i64>, usize, Vec<usize>, Vec<i64>) {
        let longest = items.iter().map(|i| i.ids.len()).max().unwrap_or(1).max(1);
        let mut ids = vec![i64::from(PAD_ID); items.len() * longest];
        for (item, row) in items.iter().zip(ids.chunks_exact_mut(longest)) {
            for (slot, &id) in row.iter_mut().zip(&item.ids) {
                *slot = i64::from(id);
            }
        }
        let lengths = items.iter().map(|i| i.ids.len().max(1)).collect();
        let labels = items.iter().map(|i| i64::from(i.label)).collect();
        (ids, longest, lengths, labels)
    }

    fn tensors<B: Backend>(items: &[SentimentItem], device: &B::Device) -> SentimentBatch<B> {
        let (ids, longest, lengths, labels) = Self::pad(items);
        let n = items.len();
        SentimentBatch {
            ids: Tensor::from_data(TensorData::new(ids, [n, longest]), device),
            lengths,
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

impl<B: Backend> Batcher<B, SentimentItem, SentimentBatch<B>> for SentimentBatcher {
    fn batch(&self, items: Vec<SentimentItem>, device: &B::Device) -> SentimentBatch<B> {
        Self::tensors(&items, device)
    }
}

impl<B: Backend> Batcher<B, Vec<SentimentItem>, SentimentBatch<B>> for SentimentBatcher {
    fn batch(&self, groups: Vec<Vec<SentimentItem>>, device: &B::Device) -> SentimentBatch<B> {
        Self::tensors(&groups.concat(), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TokenizerKind, VocabularySettings};
    use burn::backend::NdArray;
    use proptest::prelude::*;

    type B = NdArray<f32>;

    #[test]
    fn truncates_keeps_empty_documents_and_reads_huge_ones() {
        let tokenizer = TokenizerKind::EnglishWords;
        let train = [SentimentExample { text: "good film good".into(), label: 1 }];
        let tokens: Vec<Vec<String>> = train.iter().map(|e| tokenizer.tokenize(&e.text)).collect();
        let vocab =
            Vocabulary::build(tokens.iter().map(Vec::as_slice), VocabularySettings { min_frequency: 1, max_size: 10 });
        let item = SentimentItem::encode(&train[0], &tokenizer, &vocab, 2);
        assert_eq!(item.ids, [vocab.id("good"), vocab.id("film")]);
        let empty = SentimentItem::encode(&SentimentExample { text: " ".into(), label: 0 }, &tokenizer, &vocab, 5);
        assert_eq!(empty.ids, [UNK_ID]);
        // A 1 MB review is read whole and cut to max_len tokens.
        let huge = SentimentExample { text: "good ".repeat(200_000), label: 1 };
        assert_eq!(SentimentItem::encode(&huge, &tokenizer, &vocab, 400).ids.len(), 400);
    }

    proptest! {
        /// Every row holds its item's ids then only padding; lengths are the
        /// items' lengths; the batch is as wide as its longest item.
        #[test]
        fn padding_and_lengths_are_consistent(
            docs in proptest::collection::vec((proptest::collection::vec(1u32..50, 1..30), 0u8..2), 1..12)
        ) {
            let items: Vec<SentimentItem> = docs.into_iter().map(|(ids, label)| SentimentItem { ids, label }).collect();
            let batch: SentimentBatch<B> = SentimentBatcher.batch(items.clone(), &Default::default());
            let [n, longest] = batch.ids.dims();
            prop_assert_eq!(n, items.len());
            prop_assert_eq!(longest, items.iter().map(|i| i.ids.len()).max().unwrap_or(0));
            let ids: Vec<i64> = batch.ids.into_data().convert::<i64>().to_vec().expect("ints");
            for ((item, row), &len) in items.iter().zip(ids.chunks(longest)).zip(&batch.lengths) {
                prop_assert_eq!(len, item.ids.len());
                prop_assert!(row[..len].iter().zip(&item.ids).all(|(&a, &b)| a == i64::from(b)));
                prop_assert!(row[len..].iter().all(|&id| id == i64::from(PAD_ID)));
            }
            let labels: Vec<i64> = batch.targets.into_data().convert::<i64>().to_vec().expect("ints");
            prop_assert_eq!(labels, items.iter().map(|i| i64::from(i.label)).collect::<Vec<_>>());
        }
    }
}
