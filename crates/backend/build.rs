//! This build script does nothing at build time. It exists for its
//! build-dependencies: with the `tch` feature, torch-sys's own build
//! dependencies turn on `syn`'s `fold` and `visit` features, `getrandom`'s
//! `std` and `crc32fast`'s defaults. A different `syn` recompiles every proc
//! macro (serde's among them) and so nearly the whole dependency tree.
//! Requesting those features here in every build keeps the ndarray-only and
//! the libtorch builds sharing one set of compiled dependencies.
fn main() {}
