//! A file recorder whose writes are atomic.

use std::fs;
use std::path::PathBuf;

use burn::record::{FileRecorder, Recorder, RecorderError};
use burn::tensor::backend::Backend;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Wraps a burn [`FileRecorder`] so that each file appears complete or not at
/// all: the record is written under `.partial/` beside its target, flushed to
/// disk, and renamed over the target. A process killed at any instant leaves
/// the previous file intact (burn's own recorders truncate the target first).
#[derive(Debug, Default, Clone)]
pub struct AtomicFileRecorder<R> {
    inner: R,
}

impl<R> AtomicFileRecorder<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self { inner }
    }
}

fn unknown(action: &str, path: &std::path::Path, err: std::io::Error) -> RecorderError {
    RecorderError::Unknown(format!("cannot {action} {}: {err}", path.display()))
}

impl<B: Backend, R: FileRecorder<B>> Recorder<B> for AtomicFileRecorder<R> {
    type Settings = R::Settings;
    type RecordArgs = PathBuf;
    type RecordOutput = ();
    type LoadArgs = PathBuf;

    fn save_item<I: Serialize>(&self, item: I, file: PathBuf) -> Result<(), RecorderError> {
        let target = file.with_extension(R::file_extension());
        let parent = target.parent().map(PathBuf::from).unwrap_or_default();
        let staging = parent.join(".partial");
        fs::create_dir_all(&staging).map_err(|e| unknown("create", &staging, e))?;
        let name = target.file_stem().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("record"));
        let partial_stem = staging.join(name);
        // The inner recorder adds its extension to the staging stem too.
        self.inner.save_item(item, partial_stem.clone())?;
        let partial = partial_stem.with_extension(R::file_extension());
        fs::File::open(&partial).and_then(|f| f.sync_all()).map_err(|e| unknown("flush", &partial, e))?;
        fs::rename(&partial, &target).map_err(|e| unknown("rename into place", &target, e))?;
        // Persist the rename itself (best effort: not every filesystem allows it).
        if let Ok(dir) = fs::File::open(&parent) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    fn load_item<I: DeserializeOwned>(&self, file: &mut PathBuf) -> Result<I, RecorderError> {
        self.inner.load_item(file)
    }
}

impl<B: Backend, R: FileRecorder<B>> FileRecorder<B> for AtomicFileRecorder<R> {
    fn file_extension() -> &'static str {
        R::file_extension()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::module::Module;
    use burn::nn::LinearConfig;
    use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};

    type B = NdArray<f32>;

    #[test]
    fn writes_through_staging_and_reloads_exactly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let recorder = AtomicFileRecorder::new(NamedMpkFileRecorder::<FullPrecisionSettings>::new());
        let device = Default::default();
        let linear = LinearConfig::new(4, 3).init::<B>(&device);
        let weight = linear.weight.val().into_data();
        let stem = dir.path().join("model-1");
        linear.clone().save_file(stem.clone(), &recorder).expect("saved");
        assert!(dir.path().join("model-1.mpk").exists());
        assert_eq!(fs::read_dir(dir.path().join(".partial")).expect("staging").count(), 0);
        let back = LinearConfig::new(4, 3).init::<B>(&device).load_file(stem, &recorder, &device).expect("loads");
        assert_eq!(back.weight.val().into_data(), weight);
    }
}
