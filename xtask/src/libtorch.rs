//! Finding or installing libtorch, and the environment cargo needs for it.
//!
//! libtorch comes from the PyPI wheel `torch==2.9.0` (the version tch 0.22
//! and burn-tch 0.21 are built for), installed into a virtual environment in
//! the user's cache directory. A `LIBTORCH` variable set by the user wins.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The torch version burn-tch 0.21 (tch 0.22) is written against.
pub const TORCH_VERSION: &str = "2.9.0";

/// The environment a cargo or program invocation needs to build and load
/// against libtorch.
#[derive(Debug, Clone)]
pub struct LibtorchEnv {
    /// Variables to set.
    pub vars: Vec<(String, OsString)>,
    /// Where it came from, for messages.
    pub origin: String,
}

impl LibtorchEnv {
    /// Applies the variables to a command.
    pub fn apply(&self, cmd: &mut Command) {
        for (key, value) in &self.vars {
            cmd.env(key, value);
        }
    }

    /// Prints the variables in shell syntax.
    pub fn print(&self) {
        println!("# libtorch {} ({})", TORCH_VERSION, self.origin);
        for (key, value) in &self.vars {
            println!("export {key}={:?}", value.to_string_lossy());
        }
    }
}

/// The cache directory holding the virtual environment.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KINDLING_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("kindling")
}

/// The virtual environment with PyPI torch.
pub fn venv_dir() -> PathBuf {
    cache_dir().join(format!("torch-{TORCH_VERSION}"))
}

/// The Python interpreter of the venv at `venv`.
fn python_of(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// Returns the libtorch environment, installing torch into the venv first if
/// `install` is true and it is missing.
pub fn ensure(install: bool) -> anyhow::Result<LibtorchEnv> {
    if let Some(dir) = std::env::var_os("LIBTORCH") {
        return from_libtorch_dir(Path::new(&dir));
    }
    let venv = venv_dir();
    match probe_venv(&venv) {
        Ok(env) => Ok(env),
        Err(probe_error) if install => {
            eprintln!(
                "xtask: libtorch not ready ({probe_error:#}); installing torch=={TORCH_VERSION} from PyPI into {}",
                venv.display()
            );
            install_venv(&venv)?;
            probe_venv(&venv).context("torch was installed but cannot be imported")
        }
        Err(probe_error) => Err(probe_error.context(format!(
            "libtorch is not set up: run `cargo xtask libtorch` (installs torch=={TORCH_VERSION} from PyPI into {}), \
             or set LIBTORCH to an unpacked libtorch {TORCH_VERSION}",
            venv.display()
        ))),
    }
}

/// The venv's Python with PyPI torch (for the project's reference scripts),
/// installing it first if it is missing, whatever `LIBTORCH` says.
pub fn python() -> anyhow::Result<PathBuf> {
    let venv = venv_dir();
    if probe_venv(&venv).is_err() {
        install_venv(&venv)?;
        probe_venv(&venv).context("torch was installed but cannot be imported")?;
    }
    Ok(python_of(&venv))
}

/// Honours a user-provided `LIBTORCH` directory after checking it.
fn from_libtorch_dir(dir: &Path) -> anyhow::Result<LibtorchEnv> {
    let lib_dir = dir.join("lib");
    if !lib_dir.join("libtorch_cpu.so").exists() && !lib_dir.join("libtorch_cpu.dylib").exists() {
        bail!(
            "LIBTORCH is set to {} but {} has no libtorch_cpu library: point LIBTORCH at an unpacked \
             libtorch {TORCH_VERSION}, or unset it to let `cargo xtask libtorch` install one",
            dir.display(),
            lib_dir.display()
        );
    }
    if let Ok(version) = std::fs::read_to_string(dir.join("build-version"))
        && !version.trim().starts_with(TORCH_VERSION)
    {
        bail!(
            "LIBTORCH at {} is version {}, but Kindling's tch backend needs {TORCH_VERSION}: \
             unset LIBTORCH to use the project's own torch=={TORCH_VERSION}",
            dir.display(),
            version.trim()
        );
    }
    Ok(LibtorchEnv {
        vars: vec![
            ("LIBTORCH".into(), dir.as_os_str().to_owned()),
            ("LD_LIBRARY_PATH".into(), prepend_path("LD_LIBRARY_PATH", &lib_dir)),
        ],
        origin: format!("LIBTORCH={}", dir.display()),
    })
}

/// Checks the torch version in the venv at `venv` and derives the environment from it.
fn probe_venv(venv: &Path) -> anyhow::Result<LibtorchEnv> {
    let python = python_of(venv);
    if !python.exists() {
        bail!("no virtual environment at {}", venv.display());
    }
    let output = Command::new(&python)
        .args(["-c", "import torch, os; print(torch.__version__); print(os.path.dirname(torch.__file__))"])
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !output.status.success() {
        bail!("torch cannot be imported in {}: {}", venv.display(), String::from_utf8_lossy(&output.stderr).trim());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let version = lines.next().unwrap_or_default().trim().to_string();
    let torch_dir = PathBuf::from(lines.next().unwrap_or_default().trim());
    if !version.starts_with(TORCH_VERSION) {
        bail!("the venv has torch {version}, Kindling needs {TORCH_VERSION}");
    }
    let lib_dir = torch_dir.join("lib");
    Ok(LibtorchEnv {
        vars: vec![
            ("LIBTORCH_USE_PYTORCH".into(), "1".into()),
            // torch-sys runs `python` from PATH when VIRTUAL_ENV is set.
            ("VIRTUAL_ENV".into(), venv.as_os_str().to_owned()),
            ("PATH".into(), prepend_path("PATH", &venv.join("bin"))),
            ("LD_LIBRARY_PATH".into(), prepend_path("LD_LIBRARY_PATH", &lib_dir)),
        ],
        origin: format!("PyPI torch {version} in {}", venv.display()),
    })
}

/// Creates the venv (if needed) and installs torch and the packages the
/// project's Python scripts use.
fn install_venv(venv: &Path) -> anyhow::Result<()> {
    if !python_of(venv).exists() {
        if let Some(parent) = venv.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
        run(Command::new(&python).arg("-m").arg("venv").arg(venv)).with_context(|| {
            format!(
                "cannot create a Python virtual environment at {} (is python3 with venv installed?)",
                venv.display()
            )
        })?;
    }
    run(Command::new(python_of(venv))
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"])
        .arg(format!("torch=={TORCH_VERSION}"))
        .args(["numpy", "safetensors"]))
    .context("pip could not install torch from PyPI")
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn prepend_path(var: &str, dir: &Path) -> OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(existing) = std::env::var_os(var) {
        paths.extend(std::env::split_paths(&existing).filter(|p| p != dir));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_venv_is_reported_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = probe_venv(&dir.path().join("torch")).expect_err("no venv there");
        assert!(format!("{err:#}").contains("no virtual environment at"), "{err:#}");
    }

    #[test]
    fn libtorch_without_libraries_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = from_libtorch_dir(dir.path()).expect_err("empty directory");
        let message = format!("{err:#}");
        assert!(message.contains("LIBTORCH is set to") && message.contains("no libtorch_cpu"), "{message}");
    }

    #[test]
    fn libtorch_of_the_wrong_version_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("lib")).expect("mkdir");
        std::fs::write(dir.path().join("lib/libtorch_cpu.so"), b"").expect("write");
        std::fs::write(dir.path().join("build-version"), "2.1.0+cpu\n").expect("write");
        let err = from_libtorch_dir(dir.path()).expect_err("old version");
        assert!(format!("{err:#}").contains("version 2.1.0+cpu"), "{err:#}");
        std::fs::write(dir.path().join("build-version"), "2.9.0+cpu\n").expect("write");
        let env = from_libtorch_dir(dir.path()).expect("right version");
        assert!(env.vars.iter().any(|(k, _)| k == "LD_LIBRARY_PATH"));
    }
}
