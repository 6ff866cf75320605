//! kpki's entry point: argv[0] dispatch into the CLI, and the only place exit codes are chosen
//! (0 ok / help, 1 failure with cfssl's `{"code","message"}` on stderr, 2 usage, 101 a panic).
//! It knows nothing of certificates; the library (`#![deny(unsafe_code)]`, allowed in `db::writeback` alone) does the work.
//!
//! kpki has no Rust `fn main`: it exports the C `main` that the C library's start-up calls (glibc,
//! or musl for the static release build), so Rust's runtime start-up does not run. That start-up cost every CLI call ~50 µs (BENCHMARKS.md,
//! session 9): for its stack-overflow message it reads `/proc/self/maps` (`pthread_getattr_np`)
//! to find the main thread's stack, maps an alternate signal stack, and unmaps it at exit. What
//! of it kpki relies on is done here instead: SIGPIPE is ignored (a closed pipe is an EPIPE error,
//! handled below), descriptors 0–2 are opened on /dev/null when closed (so that no file or
//! socket kpki opens becomes its stdout or stderr), and a panic ends the process with 101.
//! A stack overflow is still stopped by the guard page (SIGSEGV), without Rust's message.
//! Built as a test target (`cargo test --all-targets`), the file keeps libtest's own `main`.
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(dead_code))]

// The static musl build's allocator (the glibc build uses glibc's malloc); compiled for the unit
// tests on every target.
#[cfg(any(target_env = "musl", test))]
mod main_alloc;

use kpki::cli::{self, CliError, Ctx};
use std::ffi::c_int;
use std::io::Write;

/// Called by the C library's start-up (`__libc_start_main`) with the process's arguments. They
/// are read from `argv` here: `std::env::args` is empty without Rust's runtime start-up on C
/// libraries other than glibc (glibc alone hands argv to `.init_array` functions, where std
/// captures it).
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const std::ffi::c_char) -> c_int {
    // SAFETY: sets the disposition of one signal to SIG_IGN before any other thread exists; what
    // Rust's own start-up does (`kpki … | head` must see EPIPE, not die).
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    #[cfg(target_env = "musl")]
    // SAFETY: as for c_args below; nothing has been allocated yet.
    main_alloc::choose(unsafe { is_serve(argc, argv) });
    open_closed_standard_fds();
    // SAFETY: the C start-up passes `argc` valid NUL-terminated strings in `argv`.
    let args = unsafe { c_args(argc, argv) };
    // A panic has already been reported by the panic hook; 101 is Rust's exit code for it.
    std::panic::catch_unwind(|| run(args)).unwrap_or(101)
}

/// True when the command is `serve` (`kpki serve`, `cfssl serve`), read without allocating.
///
/// # Safety
/// As for [`c_args`].
#[cfg(all(not(test), target_env = "musl"))]
unsafe fn is_serve(argc: c_int, argv: *const *const std::ffi::c_char) -> bool {
    // SAFETY: argv[1] exists when argc >= 2 and is NUL-terminated.
    argc >= 2 && !argv.is_null() && unsafe { std::ffi::CStr::from_ptr(*argv.add(1)) } == c"serve"
}

/// The arguments as the C start-up passed them.
///
/// # Safety
/// `argv` must hold `argc` pointers to NUL-terminated strings (or be null with `argc` 0).
#[cfg(not(test))]
unsafe fn c_args(argc: c_int, argv: *const *const std::ffi::c_char) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    if argv.is_null() {
        return Vec::new();
    }
    (0..usize::try_from(argc).unwrap_or(0))
        .map(|i| {
            // SAFETY: i < argc, and each entry is a NUL-terminated string (caller's contract).
            let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            std::ffi::OsStr::from_bytes(arg.to_bytes()).to_os_string()
        })
        .collect()
}

/// Opens /dev/null on each of descriptors 0, 1 and 2 that is closed, as Rust's start-up does.
/// Without it, the first file kpki opens (a key, a temp file, the database) would get a closed
/// stdout's number and the JSON meant for stdout, or log lines meant for stderr, would go into it.
fn open_closed_standard_fds() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll reads and writes exactly the three pollfd entries of this array.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } >= 0;
    for p in fds {
        let closed = if polled {
            p.revents & libc::POLLNVAL != 0
        } else {
            // SAFETY: F_GETFD only reads the descriptor's flags.
            let flags = unsafe { libc::fcntl(p.fd, libc::F_GETFD) };
            flags == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        };
        if !closed {
            continue;
        }
        // SAFETY: opens a NUL-terminated constant path; the lowest free descriptor is `p.fd`,
        // since the lower ones are open (or were opened by earlier turns of this loop).
        let opened = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        if opened != p.fd {
            std::process::abort();
        }
    }
}

/// Runs the command named by argv[0] (or argv[1]) and returns the exit code.
fn run(argv: Vec<std::ffi::OsString>) -> c_int {
    // No process-wide rustls provider is installed: every TLS config (serve -tls, certinfo -domain,
    // remote signing) names aws-lc-rs itself, and building one here cost every CLI call time.
    let mut stderr = std::io::stderr();
    let mut argv = argv.into_iter();
    let argv0 = argv
        .next()
        .map_or_else(|| "kpki".into(), |a| a.to_string_lossy().into_owned());
    let mut args = Vec::new();
    for (i, arg) in argv.enumerate() {
        match arg.into_string() {
            Ok(a) => args.push(a),
            // A usage error (2), not a panic: flags, names and paths are taken as UTF-8.
            Err(bad) => {
                let _ = writeln!(stderr, "argument {} is not valid UTF-8: {bad:?}", i + 1);
                return 2;
            }
        }
    }
    // Unlocked handles: server threads log to stderr too, and a lock held here would block them.
    let mut stdin = std::io::stdin();
    let mut stdout = std::io::BufWriter::new(std::io::stdout());
    let result = {
        let mut ctx = Ctx {
            stdin: &mut stdin,
            stdout: &mut stdout,
            stderr: &mut stderr,
        };
        cli::main_with(&argv0, &args, &mut ctx)
    };
    // Flushes the BufWriter and std's stdout under it (nothing flushes it at exit without Rust's
    // runtime). A closed pipe (`kpki … | head`) is not a failure.
    let flushed = stdout.flush();
    let code = match result {
        Ok(()) => 0,
        Err(CliError::Help(text)) => {
            let _ = writeln!(stderr, "{text}");
            0
        }
        Err(CliError::Usage(text)) => {
            let _ = writeln!(stderr, "{text}");
            2
        }
        Err(CliError::Failed(e)) => {
            let _ = writeln!(stderr, "{}", e.to_json());
            1
        }
        Err(CliError::Exit(n)) => n,
    };
    if code == 0
        && let Err(e) = flushed
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        let _ = writeln!(stderr, "{}", kpki::error::Error::io("stdout", &e).to_json());
        return 1;
    }
    // Exit statuses are 8 bits, as ExitCode::from(u8) made them.
    c_int::from(code as u8)
}
