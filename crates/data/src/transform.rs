//! Per-image transforms: normalisation and seeded training augmentation, with
//! torchvision's semantics.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::cifar10::{CHANNELS, IMAGE_SIDE};

/// `transforms.Normalize(mean, std)` applied after scaling bytes to `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Per-channel mean of the `[0, 1]`-scaled pixels.
    pub mean: [f32; CHANNELS],
    /// Per-channel standard deviation of the `[0, 1]`-scaled pixels.
    pub std: [f32; CHANNELS],
}

impl Normalization {
    /// Builds a normalisation; a zero deviation (a constant channel) is
    /// replaced by 1 so that channel is only centred, never divided by zero.
    pub fn new(mean: [f32; CHANNELS], std: [f32; CHANNELS]) -> Self {
        Self { mean, std: std.map(|s| if s > 0.0 { s } else { 1.0 }) }
    }

    /// Writes the normalised CHW floats of `pixels` into `out`.
    pub fn apply(&self, pixels: &[u8], out: &mut [f32]) {
        let plane = IMAGE_SIDE * IMAGE_SIDE;
        for c in 0..CHANNELS {
            // One multiply-add per pixel: (v/255 - mean)/std = v*scale + shift.
            let scale = 1.0 / (255.0 * self.std[c]);
            let shift = -self.mean[c] / self.std[c];
            let range = c * plane..(c + 1) * plane;
            for (o, &v) in out[range.clone()].iter_mut().zip(&pixels[range]) {
                *o = f32::from(v) * scale + shift;
            }
        }
    }
}

/// torchvision's `RandomCrop(32, padding=p)` (zero fill) followed by
/// `RandomHorizontalFlip(0.5)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Augmentation {
    /// Zero padding added on every side before the random crop; 0 disables cropping.
    pub crop_padding: usize,
    /// Whether to flip left-right with probability one half.
    pub horizontal_flip: bool,
}

impl Default for Augmentation {
    /// The standard CIFAR-10 recipe: 4-pixel padding and flips.
    fn default() -> Self {
        Self { crop_padding: 4, horizontal_flip: true }
    }
}

impl Augmentation {
    /// Returns the augmented copy of `pixels` (CHW bytes, 32 × 32), with all
    /// random draws taken from `seed`, so equal seeds give equal images.
    pub fn apply(&self, pixels: &[u8], seed: u64) -> Vec<u8> {
        let mut rng = StdRng::seed_from_u64(seed);
        let pad = self.crop_padding as i64;
        let (dy, dx) = if pad > 0 {
            (rng.random_range(-pad..=pad) as isize, rng.random_range(-pad..=pad) as isize)
        } else {
            (0, 0)
        };
        let flip = self.horizontal_flip && rng.random_bool(0.5);
        let side = IMAGE_SIDE as isize;
        let mut out = vec![0u8; pixels.len()];
        for c in 0..CHANNELS {
            let plane = c * IMAGE_SIDE * IMAGE_SIDE;
            for y in 0..side {
                let sy = y + dy;
                if !(0..side).contains(&sy) {
                    continue; // the padded border stays zero
                }
                for x in 0..side {
                    let cx = if flip { side - 1 - x } else { x };
                    let sx = cx + dx;
                    if (0..side).contains(&sx) {
                        out[plane + (y * side + x) as usize] = pixels[plane + (sy * side + sx) as usize];
                    }
                }
            }
        }
        out
    }
}

/// Mixes several integers into one well-spread 64-bit seed (SplitMix64
/// finaliser), so neighbouring indices give unrelated random streams.
pub fn mix_seed(parts: &[u64]) -> u64 {
    parts.iter().fold(0x9E37_79B9_7F4A_7C15u64, |acc, &p| {
        let mut z = acc ^ p.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cifar10::IMAGE_BYTES;
    use proptest::prelude::*;

    fn ramp() -> Vec<u8> {
        (0..IMAGE_BYTES).map(|i| (i % 251) as u8 + 1).collect()
    }

    #[test]
    fn normalisation_matches_the_formula() {
        let norm = Normalization::new([0.5, 0.25, 0.0], [0.5, 0.25, 0.0]);
        let mut px = vec![0u8; IMAGE_BYTES];
        px[0] = 255;
        px[1024] = 0;
        px[2048] = 51;
        let mut out = vec![0.0; IMAGE_BYTES];
        norm.apply(&px, &mut out);
        assert!((out[0] - 1.0).abs() < 1e-6);
        assert!((out[1024] + 1.0).abs() < 1e-6);
        // std 0 is treated as 1: only centred.
        assert!((out[2048] - 0.2).abs() < 1e-6);
    }

    #[test]
    fn no_augmentation_is_identity() {
        let aug = Augmentation { crop_padding: 0, horizontal_flip: false };
        assert_eq!(aug.apply(&ramp(), 5), ramp());
    }

    proptest! {
        #[test]
        fn augmentation_is_a_shifted_possibly_flipped_copy(seed in any::<u64>()) {
            let src = ramp();
            let out = Augmentation::default().apply(&src, seed);
            prop_assert_eq!(out.clone(), Augmentation::default().apply(&src, seed));
            // Every non-zero output byte comes from the same channel of the source,
            // at most 4 pixels away vertically, and source bytes are never zero.
            let side = IMAGE_SIDE;
            let mut found_shift = None;
            'search: for dy in -4isize..=4 {
                for dx in -4isize..=4 {
                    for flip in [false, true] {
                        let ok = (0..IMAGE_BYTES).all(|i| {
                            let (c, y, x) = (i / 1024, (i % 1024) / side, i % side);
                            let cx = if flip { side - 1 - x } else { x } as isize;
                            let (sy, sx) = (y as isize + dy, cx + dx);
                            let expected = if (0..32).contains(&sy) && (0..32).contains(&sx) {
                                src[c * 1024 + sy as usize * side + sx as usize]
                            } else { 0 };
                            out[i] == expected
                        });
                        if ok { found_shift = Some((dy, dx, flip)); break 'search; }
                    }
                }
            }
            prop_assert!(found_shift.is_some());
        }
    }

    #[test]
    fn seeds_spread() {
        let a = mix_seed(&[1, 0]);
        let b = mix_seed(&[1, 1]);
        assert_ne!(a, b);
        assert_ne!(mix_seed(&[0, 1]), mix_seed(&[1, 0]));
    }
}
