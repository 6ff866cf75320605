//! The Go-style flag parser (`kpki::cli::flags::parse`): NUL-separated arguments, parsed
//! against one command's flag set (chosen by the first byte); values are then read back.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let cmds = kpki::cli::commands();
    let cmd = cmds[usize::from(which) % cmds.len()];
    let args: Vec<String> = rest
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let mut allowed: Vec<&str> = cmd.flags.to_vec();
    allowed.push("loglevel");
    if let Ok(p) = kpki::cli::flags::parse(&args, &allowed) {
        for name in &allowed {
            let _ = p.str(name);
            let _ = p.bool(name);
            let _ = p.int(name);
            let _ = p.is_set(name);
        }
        assert!(p.args.len() <= args.len());
    }
    let _ = kpki::cli::flags::usage(cmd.usage, cmd.flags);
});
