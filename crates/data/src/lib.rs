//! Dataset readers and batchers for Kindling. This crate depends on no model
//! code: it turns files in their official formats into burn tensors.
//!
//! - [`Cifar10Dataset`] reads CIFAR-10's binary format and checks every file
//!   and record; problems come back as a [`DataError`] naming the file and
//!   record.
//! - [`Normalization`] and [`Augmentation`] are torchvision's `Normalize`,
//!   `RandomCrop(32, padding=4)` and `RandomHorizontalFlip()`, seeded.
//! - [`Cifar10Batcher`] produces [`ImageBatch`]es for burn's `DataLoader`.
//!
//! # Example
//!
//! ```no_run
//! use burn::backend::NdArray;
//! use burn::data::dataloader::DataLoaderBuilder;
//! use kindling_data::{Augmentation, Cifar10Batcher, Cifar10Dataset, Cifar10Split, Normalization};
//!
//! # fn main() -> Result<(), kindling_data::DataError> {
//! let train = Cifar10Dataset::open("datasets/cifar-10-subset", Cifar10Split::Train)?;
//! let (mean, std) = train.channel_stats();
//! let batcher = Cifar10Batcher::new(Normalization::new(mean, std))
//!     .with_augmentation(Augmentation::default(), 42);
//! let loader = DataLoaderBuilder::<NdArray, _, _>::new(batcher)
//!     .batch_size(64)
//!     .shuffle(42)
//!     .num_workers(1)
//!     .build(train);
//! for batch in loader.iter().take(1) {
//!     assert_eq!(batch.images.dims()[1..], [3, 32, 32]);
//! }
//! # Ok(())
//! # }
//! ```

mod batcher;
pub mod cifar10;
pub mod corpus;
mod error;
mod length_buckets;
mod sentiment_batcher;
pub mod text_file;
mod tokenizer;
mod transform;
mod vocabulary;

pub use batcher::{Cifar10Batcher, ImageBatch};
pub use cifar10::{Cifar10Dataset, Cifar10Item, Cifar10Split};
pub use corpus::{CorpusFormat, SentimentCorpus, SentimentExample};
pub use error::DataError;
pub use length_buckets::{LengthBuckets, POOL_BATCHES, bucket_indices};
pub use sentiment_batcher::{SentimentBatch, SentimentBatcher, SentimentItem};
pub use tokenizer::{EnglishWordTokenizer, SyllableTokenizer, Tokenizer, TokenizerKind, WORD_START};
pub use transform::{Augmentation, Normalization, mix_seed};
pub use vocabulary::{PAD, PAD_ID, UNK, UNK_ID, Vocabulary, VocabularySettings};
