//! Build script: in release builds for x86_64 Linux (glibc), hands the linker the list of
//! functions kpki's CLI commands execute (scripts/symbol-order.txt) so that they are laid out
//! together at the start of .text. It changes only where code sits, never what it does.
//!
//! Why (BENCHMARKS.md, session 8): most of a short CLI call's CPU time went to the kernel mapping
//! and unmapping pages of the executable (fault-around maps 16 pages per fault, each accounted,
//! and undone at exit); with the executed code packed together `gencert` maps 1.1 MB of text
//! instead of 4.5 MB. Names missing from the binary are skipped by the linker
//! (`--no-warn-symbol-ordering`), so a stale list costs speed, never a build.
//!
//! The flag is lld's. rustc has linked x86_64-unknown-linux-gnu with its bundled lld since 1.90;
//! when RUSTFLAGS or the target's `linker` setting choose another linker, or KPKI_NO_SYMBOL_ORDER is set, nothing is passed.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=scripts/symbol-order.txt");
    println!("cargo:rerun-if-env-changed=KPKI_NO_SYMBOL_ORDER");
    let var = |k: &str| env::var(k).unwrap_or_default();
    let rustflags = var("CARGO_ENCODED_RUSTFLAGS").replace('\x1f', " ");
    let wanted = var("PROFILE") == "release"
        && var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && env::var_os("KPKI_NO_SYMBOL_ORDER").is_none()
        && env::var_os("RUSTC_LINKER").is_none()
        && !["linker-features", "linker-flavor", "fuse-ld", "linker="]
            .iter()
            .any(|flag| rustflags.contains(flag));
    let list = Path::new(&var("CARGO_MANIFEST_DIR")).join("scripts/symbol-order.txt");
    // The list's absolute path is watched too: the path handed to the linker is absolute, and a
    // target directory shared by two checkouts (or a moved checkout) would otherwise keep the
    // first checkout's path after it is gone, and the link would fail.
    println!("cargo:rerun-if-changed={}", list.display());
    if wanted && list.is_file() {
        let list = list.display();
        println!("cargo:rustc-link-arg-bin=kpki=-Wl,--symbol-ordering-file={list}");
        println!("cargo:rustc-link-arg-bin=kpki=-Wl,--no-warn-symbol-ordering");
    }
}
