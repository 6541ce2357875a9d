//! Helpers for checking that two backends compute the same numbers: copy a
//! module's parameters from one backend to another, and compare tensors.

use burn::module::Module;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::TensorData;
use burn::tensor::backend::Backend;

/// Returns two modules holding bit-identical parameters, one on each
/// backend: `source` as it materialises, and `target` loaded with those values.
///
/// `source` is taken by value because burn initialises parameters lazily and
/// a clone of an uninitialised parameter draws its own values: copying from a
/// borrowed, not yet materialised module would silently diverge.
///
/// # Panics
///
/// If the modules' structures differ; this is a test helper.
pub fn twin_modules<B1, B2, M1, M2>(
    source: M1,
    source_device: &B1::Device,
    target: M2,
    target_device: &B2::Device,
) -> (M1, M2)
where
    B1: Backend,
    B2: Backend,
    M1: Module<B1>,
    M2: Module<B2>,
{
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::new();
    let template = source.clone();
    let bytes = recorder.record(source.into_record(), ()).expect("module record serialises");
    let source = template
        .load_record(recorder.load(bytes.clone(), source_device).expect("record has the source module's structure"));
    let target =
        target.load_record(recorder.load(bytes, target_device).expect("record has the target module's structure"));
    (source, target)
}

/// The largest absolute difference between two float tensors of one shape,
/// and the largest magnitude in `reference`.
///
/// # Panics
///
/// If the shapes differ.
pub fn max_abs_diff(actual: TensorData, reference: TensorData) -> (f32, f32) {
    assert_eq!(actual.shape, reference.shape, "shapes differ");
    let a = actual.convert::<f32>().to_vec::<f32>().expect("float data");
    let r = reference.convert::<f32>().to_vec::<f32>().expect("float data");
    let diff = a.iter().zip(&r).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    let scale = r.iter().map(|y| y.abs()).fold(0.0, f32::max);
    (diff, scale)
}

/// Asserts `|actual − reference| ≤ tolerance · max(1, max|reference|)`
/// element-wise: an absolute bound for values of order one, relative to the
/// tensor's scale for larger ones.
///
/// # Panics
///
/// If the bound is exceeded, naming `what`.
pub fn assert_close(what: &str, actual: TensorData, reference: TensorData, tolerance: f32) {
    let (diff, scale) = max_abs_diff(actual, reference);
    let bound = tolerance * scale.max(1.0);
    assert!(diff <= bound, "{what}: max |difference| {diff:e} exceeds {bound:e} (scale {scale:e})");
}

/// Deterministic pseudo-random floats in `[-1, 1)` from a seed (SplitMix64),
/// so property tests can feed identical inputs to every backend.
pub fn seeded_floats(seed: u64, n: usize) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            // 24 random bits -> [0, 1) exactly representable in f32, then [-1, 1).
            ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::nn::LinearConfig;

    #[test]
    fn twins_hold_identical_parameters() {
        let device = Default::default();
        let config = LinearConfig::new(3, 2);
        let (a, b) =
            twin_modules::<NdArray, NdArray, _, _>(config.init(&device), &device, config.init(&device), &device);
        let (diff, scale) = max_abs_diff(b.weight.val().into_data(), a.weight.val().into_data());
        assert_eq!(diff, 0.0);
        assert!(scale > 0.0, "parameters were not initialised");
    }

    #[test]
    fn seeded_floats_are_reproducible_and_bounded() {
        let v = seeded_floats(9, 1000);
        assert_eq!(v, seeded_floats(9, 1000));
        assert_ne!(v, seeded_floats(10, 1000));
        assert!(v.iter().all(|x| (-1.0..1.0).contains(x)));
    }

    #[test]
    fn assert_close_scales_with_magnitude() {
        let r = TensorData::new(vec![1000.0f32, 1.0], [2]);
        assert_close("ok", TensorData::new(vec![1000.05f32, 1.0], [2]), r, 1e-4);
    }

    #[test]
    #[should_panic(expected = "bad: max |difference|")]
    fn assert_close_rejects_a_larger_difference() {
        let r = TensorData::new(vec![1000.0f32, 1.0], [2]);
        assert_close("bad", TensorData::new(vec![1000.5f32, 1.0], [2]), r, 1e-4);
    }
}
