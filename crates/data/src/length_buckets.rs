//! Grouping documents of similar length into batches, so little of each
//! batch is padding (a recurrent layer's cost grows with the longest
//! document of its batch).

use std::sync::Arc;

use burn::data::dataset::Dataset;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::SentimentItem;

/// Batches to sort at once: documents are shuffled, cut into pools of
/// `POOL_BATCHES` batches, and sorted by length inside each pool. Larger
/// pools pad less; smaller ones mix lengths more across the epoch.
pub const POOL_BATCHES: usize = 50;

/// A dataset whose items are whole batches of similar-length documents. Use
/// it with a `DataLoader` of batch size 1 (and shuffling, which then shuffles
/// the order of the batches every epoch): each document appears in exactly
/// one batch.
#[derive(Debug, Clone)]
pub struct LengthBuckets {
    items: Arc<Vec<SentimentItem>>,
    batches: Vec<Vec<usize>>,
}

impl LengthBuckets {
    /// Groups `items` into batches of `batch_size` (the last of each pool may
    /// be smaller) from a seeded shuffle.
    pub fn new(items: Arc<Vec<SentimentItem>>, batch_size: usize, seed: u64) -> Self {
        let batches = bucket_indices(&items.iter().map(|i| i.ids.len()).collect::<Vec<_>>(), batch_size, seed);
        Self { items, batches }
    }

    /// The document indices of every batch.
    pub fn batches(&self) -> &[Vec<usize>] {
        &self.batches
    }
}

/// The bucketing itself: indices of `lengths`, shuffled with `seed`, in
/// pools of [`POOL_BATCHES`] batches sorted by length, cut into batches.
pub fn bucket_indices(lengths: &[usize], batch_size: usize, seed: u64) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut batches = Vec::with_capacity(lengths.len().div_ceil(batch_size));
    for pool in order.chunks_mut(batch_size * POOL_BATCHES) {
        pool.sort_by_key(|&i| lengths[i]);
        batches.extend(pool.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches
}

impl Dataset<Vec<SentimentItem>> for LengthBuckets {
    fn get(&self, index: usize) -> Option<Vec<SentimentItem>> {
        let batch = self.batches.get(index)?;
        Some(batch.iter().map(|&i| self.items[i].clone()).collect())
    }

    fn len(&self) -> usize {
        self.batches.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sorted_pools_pad_less_than_random_batches() {
        let lengths: Vec<usize> = (0..6400).map(|i| 1 + (i * 7919) % 400).collect();
        let padded = |batches: &[Vec<usize>]| -> usize {
            batches.iter().map(|b| b.iter().map(|&i| lengths[i]).max().unwrap_or(0) * b.len()).sum()
        };
        let bucketed = padded(&bucket_indices(&lengths, 64, 1));
        let random: Vec<Vec<usize>> =
            (0..lengths.len()).collect::<Vec<_>>().chunks(64).map(<[usize]>::to_vec).collect();
        let real: usize = lengths.iter().sum();
        assert!(bucketed < real * 11 / 10, "bucketed batches hold {bucketed} slots for {real} tokens");
        assert!(padded(&random) > real * 3 / 2);
    }

    proptest! {
        /// Every document is in exactly one batch, no batch is larger than
        /// asked, and the same seed gives the same batches.
        #[test]
        fn every_sample_exactly_once(lengths in proptest::collection::vec(1usize..100, 0..500), batch_size in 1usize..40, seed: u64) {
            let batches = bucket_indices(&lengths, batch_size, seed);
            let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
            prop_assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= batch_size));
            prop_assert_eq!(batches, bucket_indices(&lengths, batch_size, seed));
        }
    }
}
