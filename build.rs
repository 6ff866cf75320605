//! Build script: in release builds for x86_64 Linux (glibc, or musl), hands the linker the list of
//! functions kpki's CLI commands execute (scripts/symbol-order.txt; -musl.txt for musl) so that they are laid out
//! together at the start of .text. It changes only where code sits, never what it does.
//!
//! Why (BENCHMARKS.md, session 8): most of a short CLI call's CPU time went to the kernel mapping
//! and unmapping pages of the executable (fault-around maps 16 pages per fault, each accounted,
//! and undone at exit); with the executed code packed together `gencert` maps 1.1 MB of text
//! instead of 4.5 MB. Names missing from the binary are skipped by the linker
//! (`--no-warn-symbol-ordering`), so a stale list costs speed, never a build.
//!
//! The same goes for the read-only data those commands read (string and table constants, jump
//! tables): most of it has no symbol to order by, so scripts/rodata-order.ld (-musl.ld) names the
//! input sections in a linker-script `INSERT BEFORE .rodata` that gathers them into `.rodata.hot`
//! (BENCHMARKS.md, session 13: `gencert` touched 20 scattered 64 KiB windows of .rodata, 7 now).
//! Sections a stale script names and the binary lacks match nothing. A link map
//! (`$OUT_DIR/kpki.map`) is written for scripts/symbol-order.sh, which regenerates both lists.
//!
//! The flag is lld's. rustc has linked x86_64-unknown-linux-gnu with its bundled lld since 1.90;
//! the musl target is pointed at the same lld here.
//! when RUSTFLAGS or the target's `linker` setting choose another linker, or KPKI_NO_SYMBOL_ORDER is set, nothing is passed.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=scripts/symbol-order.txt");
    println!("cargo:rerun-if-changed=scripts/symbol-order-musl.txt");
    println!("cargo:rerun-if-changed=scripts/rodata-order.ld");
    println!("cargo:rerun-if-changed=scripts/rodata-order-musl.ld");
    println!("cargo:rerun-if-env-changed=KPKI_NO_SYMBOL_ORDER");
    let var = |k: &str| env::var(k).unwrap_or_default();
    let rustflags = var("CARGO_ENCODED_RUSTFLAGS").replace('\x1f', " ");
    let env_ = var("CARGO_CFG_TARGET_ENV");
    let wanted = var("PROFILE") == "release"
        && var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && (env_ == "gnu" || env_ == "musl")
        && env::var_os("KPKI_NO_SYMBOL_ORDER").is_none()
        && env::var_os("RUSTC_LINKER").is_none()
        && !["linker-features", "linker-flavor", "fuse-ld", "linker="]
            .iter()
            .any(|flag| rustflags.contains(flag));
    // musl's start-up and string functions have other names: the musl build has its own list.
    let (name, data_name) = if env_ == "musl" {
        (
            "scripts/symbol-order-musl.txt",
            "scripts/rodata-order-musl.ld",
        )
    } else {
        ("scripts/symbol-order.txt", "scripts/rodata-order.ld")
    };
    let list = Path::new(&var("CARGO_MANIFEST_DIR")).join(name);
    let data_script = Path::new(&var("CARGO_MANIFEST_DIR")).join(data_name);
    // The list's absolute path is watched too: the path handed to the linker is absolute, and a
    // target directory shared by two checkouts (or a moved checkout) would otherwise keep the
    // first checkout's path after it is gone, and the link would fail.
    println!("cargo:rerun-if-changed={}", list.display());
    println!("cargo:rerun-if-changed={}", data_script.display());
    // The musl target links through `cc` and the system's GNU ld, which has no symbol ordering:
    // use rustc's own lld there, through the `gcc-ld/ld.lld` wrapper rustc itself uses for glibc.
    let mut lld = None;
    if wanted && env_ == "musl" {
        lld = bundled_gcc_ld();
        if lld.is_none() {
            println!(
                "cargo:warning=rustc's bundled lld not found: the musl build is linked without the symbol order"
            );
        }
    }
    if wanted && list.is_file() && (env_ == "gnu" || lld.is_some()) {
        if let Some(dir) = lld {
            println!("cargo:rustc-link-arg-bin=kpki=-fuse-ld=lld");
            println!("cargo:rustc-link-arg-bin=kpki=-B{}", dir.display());
        }
        let list = list.display();
        println!("cargo:rustc-link-arg-bin=kpki=-Wl,--symbol-ordering-file={list}");
        println!("cargo:rustc-link-arg-bin=kpki=-Wl,--no-warn-symbol-ordering");
        if data_script.is_file() {
            let script = data_script.display();
            println!("cargo:rustc-link-arg-bin=kpki=-Wl,-T,{script}");
        }
        let map = Path::new(&var("OUT_DIR")).join("kpki.map");
        println!("cargo:rustc-link-arg-bin=kpki=-Wl,-Map={}", map.display());
    }
}

/// rustc's `lib/rustlib/<host>/bin/gcc-ld` directory (its `ld.lld` runs the bundled `rust-lld`).
fn bundled_gcc_ld() -> Option<std::path::PathBuf> {
    let rustc = env::var_os("RUSTC")?;
    let out = std::process::Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let sysroot = String::from_utf8(out.stdout).ok()?;
    let dir = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(env::var("HOST").ok()?)
        .join("bin/gcc-ld");
    dir.join("ld.lld").is_file().then_some(dir)
}
