//! Turning items into tensors for burn's `DataLoader`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use crate::cifar10::{CHANNELS, Cifar10Item, IMAGE_BYTES, IMAGE_SIDE};
use crate::transform::{Augmentation, Normalization, mix_seed};

/// A batch of images and their class labels.
#[derive(Debug, Clone)]
pub struct ImageBatch<B: Backend> {
    /// Normalised images, `[batch, channels, height, width]`.
    pub images: Tensor<B, 4>,
    /// Class indices, `[batch]`.
    pub targets: Tensor<B, 1, Int>,
}

/// Batches [`Cifar10Item`]s: optional augmentation, then normalisation, into
/// one `[B, 3, 32, 32]` float tensor and one `[B]` label tensor.
///
/// Augmentation draws come from `(seed, batch number, item index)`. The batch
/// number is shared by all clones of a batcher, so with one loader worker the
/// sequence of augmented images is a pure function of the seed; set the
/// first batch number with [`Cifar10Batcher::starting_at_batch`] to continue
/// a resumed run's sequence.
#[derive(Debug, Clone)]
pub struct Cifar10Batcher {
    normalization: Normalization,
    augmentation: Option<Augmentation>,
    seed: u64,
    batches: Arc<AtomicU64>,
}

impl Cifar10Batcher {
    /// A batcher that only normalises (evaluation).
    pub fn new(normalization: Normalization) -> Self {
        Self { normalization, augmentation: None, seed: 0, batches: Arc::new(AtomicU64::new(0)) }
    }

    /// Adds training augmentation seeded by `seed`.
    pub fn with_augmentation(mut self, augmentation: Augmentation, seed: u64) -> Self {
        self.augmentation = Some(augmentation);
        self.seed = seed;
        self
    }

    /// Numbers the next batch `first`, e.g. after resuming at a later epoch.
    pub fn starting_at_batch(self, first: u64) -> Self {
        self.batches.store(first, Ordering::Relaxed);
        self
    }

    /// Fills the normalised floats of `items` into one contiguous buffer.
    fn images_to_floats(&self, items: &[Cifar10Item]) -> Vec<f32> {
        let batch_number = self.batches.fetch_add(1, Ordering::Relaxed);
        let mut floats = vec![0f32; items.len() * IMAGE_BYTES];
        for (item, out) in items.iter().zip(floats.chunks_exact_mut(IMAGE_BYTES)) {
            match &self.augmentation {
                Some(aug) => {
                    let seed = mix_seed(&[self.seed, batch_number, item.index as u64]);
                    self.normalization.apply(&aug.apply(&item.pixels, seed), out);
                }
                None => self.normalization.apply(&item.pixels, out),
            }
        }
        floats
    }
}

impl<B: Backend> Batcher<B, Cifar10Item, ImageBatch<B>> for Cifar10Batcher {
    fn batch(&self, items: Vec<Cifar10Item>, device: &B::Device) -> ImageBatch<B> {
        let n = items.len();
        let floats = self.images_to_floats(&items);
        let labels: Vec<i64> = items.iter().map(|item| i64::from(item.label)).collect();
        let images = Tensor::from_data(TensorData::new(floats, [n, CHANNELS, IMAGE_SIDE, IMAGE_SIDE]), device);
        let targets = Tensor::from_data(TensorData::new(labels, [n]), device);
        ImageBatch { images, targets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f32>;

    fn item(index: usize, value: u8, label: u8) -> Cifar10Item {
        Cifar10Item { pixels: vec![value; IMAGE_BYTES], label, index }
    }

    #[test]
    fn batch_has_pytorch_layout_and_labels() {
        let batcher = Cifar10Batcher::new(Normalization::new([0.0; 3], [1.0; 3]));
        let batch: ImageBatch<B> = batcher.batch(vec![item(0, 255, 3), item(1, 0, 7)], &Default::default());
        assert_eq!(batch.images.dims(), [2, 3, 32, 32]);
        let labels: Vec<i64> = batch.targets.into_data().convert::<i64>().to_vec().expect("ints");
        assert_eq!(labels, vec![3, 7]);
        let values: Vec<f32> = batch.images.into_data().to_vec().expect("floats");
        assert!(values[..IMAGE_BYTES].iter().all(|&v| v == 1.0));
        assert!(values[IMAGE_BYTES..].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn augmentation_is_reproducible_from_the_seed() {
        let make = || {
            Cifar10Batcher::new(Normalization::new([0.0; 3], [1.0; 3])).with_augmentation(Augmentation::default(), 42)
        };
        let items: Vec<Cifar10Item> = (0..8)
            .map(|i| Cifar10Item {
                pixels: (0..IMAGE_BYTES).map(|p| (p % 200) as u8 + 1).collect(),
                label: 0,
                index: i,
            })
            .collect();
        let (a, b) = (make(), make());
        let first_a = a.images_to_floats(&items);
        assert_eq!(first_a, b.images_to_floats(&items));
        // The next batch draws differently, and a resumed batcher continues the sequence.
        let second_a = a.images_to_floats(&items);
        assert_ne!(first_a, second_a);
        assert_eq!(second_a, make().starting_at_batch(1).images_to_floats(&items));
    }
}
