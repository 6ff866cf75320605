//! Paced write-back of a database file before its sync: the dirty pages a checkpoint copied into
//! the file are written in windows of `FLUSH_WINDOW` bytes of file offsets, each waited for before
//! the next, so that the WAL's own syncs (every request's commit) queue behind one window's pages
//! at most instead of behind the whole checkpoint (BENCHMARKS.md, session 14: the `/sign` p99 tail).
//! Knows files and the `sync_file_range` system call, nothing of SQLite, X.509, HTTP or the CLI.
//! The one module of the library allowed `unsafe`: a system call the safe crates do not wrap.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

/// Bytes of file offsets written back per step (measured against 256 KiB and 4 MiB in
/// BENCHMARKS.md, session 14).
pub(super) const FLUSH_WINDOW: u64 = 1 << 20;

/// The (offset, length) windows covering `len` bytes, `window` bytes each (the last one shorter).
fn windows(len: u64, window: u64) -> impl Iterator<Item = (u64, u64)> {
    let window = window.max(1);
    (0..len.div_ceil(window)).map(move |i| {
        let off = i * window;
        (off, window.min(len - off))
    })
}

/// Writes back the file's dirty pages window by window, waiting for each window's writes to
/// finish before starting the next; returns how many windows it went through. Does not sync the
/// file's metadata or the device's cache: follow it with `sync_data`, which then has little left
/// to write.
pub(super) fn write_back_paced(f: &File, window: u64) -> io::Result<u64> {
    let len = f.metadata()?.len();
    let mut done = 0;
    for (off, n) in windows(len, window) {
        sync_range(f, off, n)?;
        done += 1;
    }
    Ok(done)
}

/// Writes the file back paced, then syncs it: what the checkpointer calls. Returns the windows
/// written back (0 when the file system refuses `sync_file_range`: then the plain sync does it).
pub(super) fn flush(f: &File) -> io::Result<u64> {
    let windows = write_back_paced(f, FLUSH_WINDOW).unwrap_or(0);
    f.sync_data()?;
    Ok(windows)
}

#[cfg(target_os = "linux")]
fn sync_range(f: &File, off: u64, n: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(off), Ok(n)) = (i64::try_from(off), i64::try_from(n)) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: `f` is an open file for the whole call; the call reads only its integer arguments.
    let r = unsafe { libc::sync_file_range(f.as_raw_fd(), off, n, flags) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn sync_range(_: &File, _: u64, _: u64) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn windows_cover_the_file_once_in_order() {
        assert_eq!(windows(0, 4).count(), 0);
        assert_eq!(windows(4, 4).collect::<Vec<_>>(), [(0, 4)]);
        assert_eq!(windows(10, 4).collect::<Vec<_>>(), [(0, 4), (4, 4), (8, 2)]);
        assert_eq!(windows(3, 0).collect::<Vec<_>>(), [(0, 1), (1, 1), (2, 1)]);
        let big = 5 * FLUSH_WINDOW + 17;
        let w: Vec<_> = windows(big, FLUSH_WINDOW).collect();
        assert_eq!(w.len(), 6);
        assert_eq!(w.iter().map(|(_, n)| n).sum::<u64>(), big);
        assert!(w.windows(2).all(|p| p[0].0 + p[0].1 == p[1].0));
    }

    /// (pages in the page cache, dirty, under write-back) for the whole file: Linux's
    /// `cachestat` (6.5+); None where the kernel lacks it.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn cachestat(f: &File) -> Option<(u64, u64, u64)> {
        use std::os::fd::AsRawFd;
        const SYS_CACHESTAT: libc::c_long = 451;
        let range = [0u64, 0u64]; // offset 0, length 0 = to the end
        let mut st = [0u64; 5];
        // SAFETY: both pointers are to live, correctly sized buffers for the call's duration.
        let r = unsafe {
            libc::syscall(
                SYS_CACHESTAT,
                f.as_raw_fd(),
                range.as_ptr(),
                st.as_mut_ptr(),
                0u32,
            )
        };
        (r == 0).then_some((st[0], st[1], st[2]))
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn paced_write_back_leaves_no_dirty_page_and_flush_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.db");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let block = vec![0xa5u8; 64 << 10];
        for _ in 0..48 {
            f.write_all(&block).unwrap(); // 3 MiB: three windows and a bit of a fourth
        }
        f.write_all(b"tail").unwrap();
        let Some((cached, dirty, _)) = cachestat(&f) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "cachestat(2) is not available on this kernel (Linux 6.5+ needed)"
            );
            eprintln!("SKIP: cachestat(2) is not available on this kernel (Linux 6.5+ needed)");
            return;
        };
        assert!(
            cached > 0 && dirty > 0,
            "nothing dirty to write back: {dirty}"
        );
        assert_eq!(write_back_paced(&f, FLUSH_WINDOW).unwrap(), 4);
        let (_, dirty, writeback) = cachestat(&f).unwrap();
        assert_eq!((dirty, writeback), (0, 0), "pages left dirty or in flight");
        // A window smaller than a page, and a file written again: still everything.
        f.write_all(b"more").unwrap();
        assert_eq!(
            write_back_paced(&f, 1000).unwrap(),
            (3 * (1 << 20) + 8u64).div_ceil(1000)
        );
        assert_eq!(cachestat(&f).unwrap().1, 0);
        f.write_all(&block).unwrap();
        assert_eq!(flush(&f).unwrap(), 4, "the checkpointer's flush is paced");
        assert_eq!(cachestat(&f).unwrap().1, 0);
        drop(f);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            3 * (1 << 20) + 8 + (64 << 10)
        );
    }
}
