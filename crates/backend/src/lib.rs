//! The one place where Kindling turns a backend name and a device string into
//! concrete burn types.
//!
//! Every model, data pipeline and training routine in Kindling is generic over
//! `B: Backend` (or, for training, [`TrainingBackend`]). Only this crate names
//! [`NdArray`](burn::backend::NdArray) and
//! [`LibTorch`](burn::backend::LibTorch); callers describe their work as a
//! [`BackendJob`] and [`run`] instantiates it for the backend the user chose.
//!
//! The libtorch backend exists only when the `tch` feature is enabled; asking
//! for it otherwise is a [`BackendError::NotCompiled`], not a link error.
//!
//! # Example
//!
//! ```
//! use burn::tensor::{ElementConversion, Tensor};
//! use kindling_backend::{BackendJob, BackendKind, DeviceSpec, TrainingBackend, run};
//!
//! /// Sums a small tensor on whichever backend was selected.
//! struct SumJob;
//!
//! impl BackendJob for SumJob {
//!     type Output = f32;
//!     fn run<B: TrainingBackend>(self, device: B::Device) -> f32 {
//!         let t = Tensor::<B, 1>::from_floats([1.0, 2.0, 3.0], &device);
//!         t.sum().into_scalar().elem()
//!     }
//! }
//!
//! let backend: BackendKind = "ndarray".parse().unwrap();
//! let device: DeviceSpec = "cpu".parse().unwrap();
//! assert_eq!(run(backend, device, SumJob).unwrap(), 6.0);
//! ```

pub mod parity;

use std::fmt;
use std::str::FromStr;

use burn::backend::Autodiff;
pub use kindling_kernels::TrainingBackend;

/// The pure-Rust CPU backend Kindling uses by default (f32).
pub type NdArray = burn::backend::NdArray<f32>;
/// [`NdArray`] with automatic differentiation, for training.
pub type NdArrayAutodiff = Autodiff<NdArray>;

/// The libtorch backend (f32), from the PyPI `torch` wheel.
#[cfg(feature = "tch")]
pub type Tch = burn::backend::LibTorch<f32>;
/// [`Tch`] with automatic differentiation, for training.
#[cfg(feature = "tch")]
pub type TchAutodiff = Autodiff<Tch>;

/// Which tensor backend runs the computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// burn-ndarray: pure Rust, CPU only, always available.
    NdArray,
    /// burn-tch: libtorch on CPU or CUDA; needs the `tch` feature.
    Tch,
}

impl BackendKind {
    /// Every backend name accepted by [`FromStr`], for help texts and errors.
    pub const NAMES: &'static [&'static str] = &["ndarray", "tch"];

    /// The name used on the command line and in run configurations.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::NdArray => "ndarray",
            BackendKind::Tch => "tch",
        }
    }

    /// Whether this build of Kindling contains the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            BackendKind::NdArray => true,
            BackendKind::Tch => cfg!(feature = "tch"),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ndarray" => Ok(BackendKind::NdArray),
            "tch" | "libtorch" | "torch" => Ok(BackendKind::Tch),
            _ => Err(BackendError::UnknownBackend(s.to_string())),
        }
    }
}

/// Where the computation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The host CPU.
    Cpu,
    /// The CUDA GPU with this index (`cuda:0` is the first).
    Cuda(usize),
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(index) => write!(f, "cuda:{index}"),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        match lower.as_str() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            _ => lower
                .strip_prefix("cuda:")
                .and_then(|index| index.parse().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| BackendError::UnknownDevice(s.to_string())),
        }
    }
}

/// Why a backend/device pair cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendError {
    /// The name is not one of [`BackendKind::NAMES`].
    #[error("unknown backend `{0}`: expected one of ndarray, tch")]
    UnknownBackend(String),
    /// The device string is not `cpu`, `cuda` or `cuda:N`.
    #[error("unknown device `{0}`: expected cpu, cuda or cuda:N (N = GPU index)")]
    UnknownDevice(String),
    /// The backend exists but this binary was built without it.
    #[error(
        "this build of Kindling has no `{0}` backend: it was compiled without the `{0}` feature. \
         Run through `cargo xtask`, which enables it and sets up libtorch, or build with \
         `--features tch` and LIBTORCH_USE_PYTORCH=1"
    )]
    NotCompiled(BackendKind),
    /// The backend cannot drive that kind of device.
    #[error("the {backend} backend runs on the CPU only; `{device}` needs `--backend tch`")]
    UnsupportedDevice {
        /// The backend asked for.
        backend: BackendKind,
        /// The device asked for.
        device: DeviceSpec,
    },
    /// CUDA was requested but libtorch sees no such GPU.
    #[error(
        "`{device}` was requested but libtorch sees {available} CUDA device(s): \
         check the NVIDIA driver (`nvidia-smi`) or use `--device cpu`"
    )]
    CudaUnavailable {
        /// The device asked for.
        device: DeviceSpec,
        /// How many CUDA devices libtorch reports.
        available: usize,
    },
}

/// Work that is written once, generically, and run on the backend chosen at
/// run time. See the crate example.
pub trait BackendJob {
    /// What the job returns.
    type Output;

    /// Runs the job on backend `B` and `device`. The backend's random number
    /// generator has not been seeded: jobs that draw random numbers seed it.
    fn run<B: TrainingBackend>(self, device: B::Device) -> Self::Output;
}

/// Checks that `backend` can run on `device` in this build and on this machine.
pub fn check(backend: BackendKind, device: DeviceSpec) -> Result<(), BackendError> {
    if !backend.is_compiled() {
        return Err(BackendError::NotCompiled(backend));
    }
    match (backend, device) {
        (_, DeviceSpec::Cpu) => Ok(()),
        (BackendKind::NdArray, DeviceSpec::Cuda(_)) => Err(BackendError::UnsupportedDevice { backend, device }),
        (BackendKind::Tch, DeviceSpec::Cuda(index)) => {
            let available = cuda_device_count();
            if index < available { Ok(()) } else { Err(BackendError::CudaUnavailable { device, available }) }
        }
    }
}

#[cfg(feature = "tch")]
fn cuda_device_count() -> usize {
    usize::try_from(tch::Cuda::device_count()).unwrap_or(0)
}

#[cfg(not(feature = "tch"))]
fn cuda_device_count() -> usize {
    0
}

/// Runs `job` on the chosen backend and device after [`check`]ing them.
pub fn run<J: BackendJob>(backend: BackendKind, device: DeviceSpec, job: J) -> Result<J::Output, BackendError> {
    check(backend, device)?;
    match backend {
        BackendKind::NdArray => Ok(job.run::<NdArrayAutodiff>(Default::default())),
        BackendKind::Tch => run_tch(device, job),
    }
}

#[cfg(feature = "tch")]
fn run_tch<J: BackendJob>(device: DeviceSpec, job: J) -> Result<J::Output, BackendError> {
    use burn::backend::libtorch::LibTorchDevice;
    let device = match device {
        DeviceSpec::Cpu => LibTorchDevice::Cpu,
        DeviceSpec::Cuda(index) => LibTorchDevice::Cuda(index),
    };
    Ok(job.run::<TchAutodiff>(device))
}

#[cfg(not(feature = "tch"))]
fn run_tch<J: BackendJob>(_device: DeviceSpec, _job: J) -> Result<J::Output, BackendError> {
    Err(BackendError::NotCompiled(BackendKind::Tch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backend_names() {
        assert_eq!("ndarray".parse(), Ok(BackendKind::NdArray));
        assert_eq!("TCH".parse(), Ok(BackendKind::Tch));
        assert_eq!("wgpu".parse::<BackendKind>(), Err(BackendError::UnknownBackend("wgpu".into())));
    }

    #[test]
    fn parses_devices() {
        assert_eq!("cpu".parse(), Ok(DeviceSpec::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceSpec::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(DeviceSpec::Cuda(3)));
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
        assert!("tpu".parse::<DeviceSpec>().is_err());
        assert_eq!(DeviceSpec::Cuda(2).to_string(), "cuda:2");
    }

    #[test]
    fn ndarray_refuses_cuda() {
        let err = check(BackendKind::NdArray, DeviceSpec::Cuda(0)).unwrap_err();
        assert!(err.to_string().contains("CPU only"), "{err}");
    }

    #[cfg(not(feature = "tch"))]
    #[test]
    fn tch_without_feature_is_a_clear_error() {
        let err = check(BackendKind::Tch, DeviceSpec::Cpu).unwrap_err();
        assert_eq!(err, BackendError::NotCompiled(BackendKind::Tch));
        assert!(err.to_string().contains("cargo xtask"), "{err}");
    }

    #[cfg(feature = "tch")]
    #[test]
    fn tch_reports_missing_gpu_by_count() {
        // These machines have no GPU; with one present the check passes instead.
        let count = cuda_device_count();
        match check(BackendKind::Tch, DeviceSpec::Cuda(count)) {
            Err(BackendError::CudaUnavailable { available, .. }) => assert_eq!(available, count),
            other => panic!("expected CudaUnavailable, got {other:?}"),
        }
    }
}
