//! Tests scripts/rodata-order.py, which writes the linker script that gathers the read-only data
//! CLI commands read into `.rodata.hot` (build.rs links it into release builds): on a small lld
//! link map and lackey traces, which sections it names, with which patterns, in which order.
//! (Whether a release binary was really linked with the committed script is `.ci/run`'s
//! `symbol-order.sh --check`.) Knows nothing of kpki's code.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// One lld map line: VMA, LMA, size, alignment, then the text indented 1 (output section),
/// 9 (input section) or 17 (symbol) spaces, as lld writes it.
fn line(map: &mut String, addr: u64, size: u64, indent: usize, text: &str) {
    writeln!(
        map,
        "{addr:>16x} {addr:>16x} {size:>8x} {:>5}{}{text}",
        8,
        " ".repeat(indent)
    )
    .unwrap();
}

const OBJ: &str = "/t/release/deps/kpki-0123456789abcdef.kpki.fedcba9876543210-cgu.0.rcgu.o";
const BCM: &str =
    "/t/release/deps/rustcXyZ/libaws_lc_sys-92bc5327854c22e9.rlib(1e176ea429d6cb57-bcm.o)";
const SHA: &str =
    "/t/release/deps/rustcXyZ/libaws_lc_sys-92bc5327854c22e9.rlib(1e176ea429d6cb57-sha1-x86_64.o)";

fn map() -> String {
    let mut m = String::new();
    m.push_str("             VMA              LMA     Size Align Out     In      Symbol\n");
    line(&mut m, 0x1000, 0x100, 1, ".gcc_except_table");
    line(
        &mut m,
        0x1000,
        0x100,
        9,
        &format!("{OBJ}:(.gcc_except_table.main)"),
    );
    line(&mut m, 0x2000, 0x30000, 1, ".rodata");
    line(&mut m, 0x2000, 0x40, 9, &format!("{OBJ}:(.rodata.main)"));
    line(&mut m, 0x2040, 0x100, 9, "<internal>:(.rodata.cst16)");
    line(
        &mut m,
        0x2140,
        0x20,
        9,
        &format!("{OBJ}:(.rodata..Lanon.aa.1)"),
    );
    line(
        &mut m,
        0x2160,
        0x20,
        9,
        &format!("{OBJ}:(.rodata..Lanon.aa.2)"),
    );
    line(&mut m, 0x2180, 0x40, 9, &format!("{BCM}:(.rodata)"));
    line(&mut m, 0x21c0, 0x40, 9, &format!("{SHA}:(.rodata)"));
    line(&mut m, 0x2200, 0x5000, 9, "<internal>:(.rodata.str1.1)");
    line(
        &mut m,
        0x7200,
        0x8,
        9,
        &format!("{OBJ}:(.rodata..Lanon.aa.3)"),
    );
    line(&mut m, 0x7200, 0x0, 17, "some_symbol");
    line(
        &mut m,
        0x8000,
        0x20000,
        9,
        &format!("{BCM}:(.rodata.ecp_nistz256_precomputed)"),
    );
    line(&mut m, 0x28000, 0x10, 9, &format!("{OBJ}:(.rodata.unread)"));
    line(&mut m, 0x40000, 0x1000, 1, ".text");
    line(&mut m, 0x40000, 0x1000, 9, &format!("{OBJ}:(.text.main)"));
    m
}

fn run(dir: &Path, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/rodata-order.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rodata-order.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The pattern lines of a written script, in order.
fn patterns(script: &str) -> Vec<&str> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('*'))
        .collect()
}

#[test]
fn names_what_the_traced_commands_read_small_first_in_first_read_order() {
    if !common::require_program("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("map"), map()).unwrap();
    // lackey: instruction fetches (I), loads (L), stores (S), modifies (M); "==" lines are its log.
    std::fs::write(
        dir.path().join("t1"),
        "==1== Lackey\nI  00002140,4\n L 00008010,8\n L 00002168,8\n L 00002230,1\n M 00002044,4\n L 00002150,8\n",
    )
    .unwrap();
    // The second command: a section the first read, one new, the .gcc_except_table (not .rodata),
    // an address in no section, and one past the end of .rodata.
    std::fs::write(
        dir.path().join("t2"),
        " L 00002168,8\n L 000021c8,8\n L 00001010,4\n L 00007300,8\n S 00040000,8\n L 00002180,8\n L 00002004,4\n",
    )
    .unwrap();
    let said = run(dir.path(), &["write", "map", "out.ld", "t1", "t2"]);
    assert!(said.contains("sections"), "{said}");
    let script = std::fs::read_to_string(dir.path().join("out.ld")).unwrap();
    assert!(
        script.trim_end().ends_with("} INSERT BEFORE .rodata;"),
        "{script}"
    );
    assert!(script.contains(".rodata.hot : {"), "{script}");
    assert_eq!(
        patterns(&script),
        [
            // small sections in first-read order: t1's, then t2's new ones
            "*(.rodata..Lanon.aa.2)",
            "*(.rodata.cst16 .rodata.*.cst16)",
            "*(.rodata..Lanon.aa.1)",
            // `.rodata` is every object's name: qualified by archive and member, hashes wildcarded
            "*libaws_lc_sys-*.rlib:*-sha1-x86_64.o(.rodata)",
            "*libaws_lc_sys-*.rlib:*-bcm.o(.rodata)",
            "*(.rodata.main)",
            // then the big ones (a table of 128 KiB; the merged strings, whole), as first read
            "*(.rodata.ecp_nistz256_precomputed)",
            "*(.rodata.str1.1 .rodata.*.str1.1)",
        ],
        "{script}"
    );
}

#[test]
fn check_counts_what_sits_in_rodata_hot() {
    if !common::require_program("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The same sections after a link with a script: two moved to .rodata.hot, one left behind.
    let mut m = String::new();
    line(&mut m, 0x2000, 0x100, 1, ".rodata.hot");
    line(&mut m, 0x2000, 0x40, 9, &format!("{OBJ}:(.rodata.main)"));
    line(
        &mut m,
        0x2040,
        0x20,
        9,
        &format!("{OBJ}:(.rodata..Lanon.aa.1)"),
    );
    line(&mut m, 0x3000, 0x2000, 1, ".rodata");
    line(
        &mut m,
        0x3000,
        0x800,
        9,
        &format!("{OBJ}:(.rodata..Lanon.aa.2)"),
    );
    std::fs::write(dir.path().join("map"), m).unwrap();
    std::fs::write(
        dir.path().join("t"),
        " L 00002000,8\n L 00002040,8\n L 00003010,8\n",
    )
    .unwrap();
    let said = run(dir.path(), &["check", "map", "unused.ld", "t"]);
    assert!(said.contains("2 of 3 read-only data sections"), "{said}");
    assert!(said.contains("2 KiB elsewhere"), "{said}");
}

#[test]
fn an_empty_map_is_an_error_not_an_empty_script() {
    if !common::require_program("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("map"), "not a map\n").unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/rodata-order.py");
    let out = Command::new("python3")
        .arg(script)
        .args(["write", "map", "out.ld"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no .rodata input sections"));
    assert!(!dir.path().join("out.ld").exists());
}
