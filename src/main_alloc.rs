//! The static musl build's memory allocator, chosen once per process before its first allocation
//! (binary only: the library knows nothing of it, and the glibc build uses glibc's malloc).
//!
//! - `serve` uses mimalloc (musl's malloc maps and unmaps under a server's load). Its process
//!   set-up, which reads every `MIMALLOC_*` option from the environment and seeds its random
//!   state, runs here when `serve` is chosen instead of in a constructor of every process
//!   (`.cargo/config.toml` builds mimalloc with `MI_PRIM_HAS_PROCESS_ATTACH`).
//! - Every other command is one short call: its main thread allocates from an arena in `.bss`
//!   with a free list per size class and no locking. musl's malloc mapped and unmapped a page or
//!   two for about every tenth allocation of a `gencert` (26 `mmap`/`munmap` calls, a fifth of
//!   the call's CPU time). Other threads (the database commands' tokio runtime, TLS dialling),
//!   blocks above [`LARGEST`], alignments above 16 and whatever no longer fits the arena use
//!   musl's malloc; a block is returned to whichever allocator its address says made it. A
//!   thread other than the main one that frees an arena block leaves it unused (the arena is
//!   bounded and the process short); it never touches the arena's lists.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// Size of the arena. Only the pages an allocation touches are ever faulted in.
const ARENA_BYTES: usize = 16 << 20;
/// Small blocks come in steps of 16 bytes up to this size …
const SMALL_MAX: usize = 1024;
/// … larger ones in powers of two up to this size; bigger requests go to musl's malloc.
pub const LARGEST: usize = 1 << 20;
const SMALL_CLASSES: usize = SMALL_MAX / 16;
const CLASSES: usize =
    SMALL_CLASSES + (LARGEST.trailing_zeros() - SMALL_MAX.trailing_zeros()) as usize;
/// Every arena block is aligned to this (and so is every size class).
const ALIGN: usize = 16;

static SERVER: AtomicBool = AtomicBool::new(false);
/// `pthread_self()` of the thread that owns the arena; 0 until [`choose`] runs.
static OWNER: AtomicUsize = AtomicUsize::new(0);

#[repr(C, align(4096))]
struct Memory(UnsafeCell<[u8; ARENA_BYTES]>);

struct Lists {
    /// Offset of the first never-used byte of the arena.
    next: usize,
    /// Head of each size class's free list; a free block holds the next one's address.
    free: [*mut u8; CLASSES],
}

struct State(UnsafeCell<Lists>);

// SAFETY: only the owner thread reads or writes the lists and the arena's blocks it hands out
// (see `owned`); other threads compare addresses against the arena's bounds only.
unsafe impl Sync for Memory {}
// SAFETY: as above.
unsafe impl Sync for State {}

static MEMORY: Memory = Memory(UnsafeCell::new([0; ARENA_BYTES]));
static STATE: State = State(UnsafeCell::new(Lists {
    next: 0,
    free: [std::ptr::null_mut(); CLASSES],
}));

#[cfg(not(target_env = "musl"))]
use System as ServerAlloc;
/// The allocator behind `serve`. (The unit tests, built for the glibc target, use the system's.)
#[cfg(target_env = "musl")]
use mimalloc::MiMalloc as ServerAlloc;

#[cfg(target_env = "musl")]
unsafe extern "C" {
    /// mimalloc's process set-up (what its constructor would have run): options, OS page size,
    /// the main heap, random seed. Idempotent.
    fn _mi_auto_process_init();
}

/// Picks the allocator for this process. Must be called from the main thread before the first
/// allocation, once.
pub fn choose(serve: bool) {
    if serve {
        #[cfg(target_env = "musl")]
        // SAFETY: runs before any allocation, on the main thread, as mimalloc's constructor would.
        unsafe {
            _mi_auto_process_init()
        };
        SERVER.store(true, Relaxed);
    } else {
        // SAFETY: pthread_self has no preconditions.
        OWNER.store(unsafe { libc::pthread_self() } as usize, Relaxed);
    }
}

/// The size class of a block of `size` bytes and the class's block size.
fn class(size: usize) -> Option<(usize, usize)> {
    if size <= SMALL_MAX {
        let rounded = size.max(1).next_multiple_of(16);
        Some((rounded / 16 - 1, rounded))
    } else if size <= LARGEST {
        let rounded = size.next_power_of_two();
        let step = (rounded.trailing_zeros() - SMALL_MAX.trailing_zeros()) as usize;
        Some((SMALL_CLASSES + step - 1, rounded))
    } else {
        None
    }
}

fn base() -> *mut u8 {
    MEMORY.0.get().cast()
}

fn in_arena(p: *mut u8) -> bool {
    (p as usize).wrapping_sub(base() as usize) < ARENA_BYTES
}

/// True on the thread that owns the arena.
fn owned() -> bool {
    // SAFETY: pthread_self has no preconditions.
    OWNER.load(Relaxed) == unsafe { libc::pthread_self() } as usize
}

/// A block of class `(index, size)` from the arena, or null when it is full.
///
/// # Safety
/// Only on the owner thread.
unsafe fn take(index: usize, size: usize) -> *mut u8 {
    // SAFETY: the owner thread alone uses the lists (caller's contract).
    let lists = unsafe { &mut *STATE.0.get() };
    let head = lists.free[index];
    if !head.is_null() {
        // SAFETY: a free block's first word holds the next free block of its class.
        lists.free[index] = unsafe { head.cast::<*mut u8>().read() };
        return head;
    }
    if ARENA_BYTES - lists.next < size {
        return std::ptr::null_mut();
    }
    // SAFETY: next + size <= ARENA_BYTES, inside the arena.
    let p = unsafe { base().add(lists.next) };
    lists.next += size;
    p
}

/// Returns an arena block of `size` (its layout's size) to its class's list.
///
/// # Safety
/// Only on the owner thread, with a block `take` handed out for this size's class.
unsafe fn give(p: *mut u8, size: usize) {
    // SAFETY: the owner thread alone uses the lists (caller's contract).
    let lists = unsafe { &mut *STATE.0.get() };
    if let Some((index, _)) = class(size) {
        // SAFETY: the block is at least 16 bytes, 16-aligned, and no longer in use.
        unsafe { p.cast::<*mut u8>().write(lists.free[index]) };
        lists.free[index] = p;
    }
}

/// The arena's place for a layout, when it takes it on this thread.
fn arena_class(l: Layout) -> Option<(usize, usize)> {
    if l.align() > ALIGN || !owned() {
        return None;
    }
    class(l.size())
}

pub struct Chosen;

// SAFETY: every block is freed and reallocated by the allocator that made it: mimalloc's when
// `serve` chose it before the first allocation; otherwise the address says whether the arena
// made it, and the arena hands each block to one user at a time.
unsafe impl GlobalAlloc for Chosen {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if SERVER.load(Relaxed) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { ServerAlloc.alloc(l) };
        }
        if let Some((index, size)) = arena_class(l) {
            // SAFETY: arena_class checked that this is the owner thread.
            let p = unsafe { take(index, size) };
            if !p.is_null() {
                return p;
            }
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(l) }
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if SERVER.load(Relaxed) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { ServerAlloc.alloc_zeroed(l) };
        }
        if let Some((index, size)) = arena_class(l) {
            // SAFETY: arena_class checked that this is the owner thread.
            let p = unsafe { take(index, size) };
            if !p.is_null() {
                // SAFETY: the block holds at least l.size() bytes.
                unsafe { p.write_bytes(0, l.size()) };
                return p;
            }
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if SERVER.load(Relaxed) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { ServerAlloc.dealloc(p, l) };
        }
        if in_arena(p) {
            if owned() {
                // SAFETY: an arena block allocated with this layout (caller's contract).
                unsafe { give(p, l.size()) };
            }
            return;
        }
        // SAFETY: not an arena block, so musl's malloc made it.
        unsafe { System.dealloc(p, l) }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if SERVER.load(Relaxed) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { ServerAlloc.realloc(p, l, new) };
        }
        if !in_arena(p) {
            // SAFETY: not an arena block, so musl's malloc made it.
            return unsafe { System.realloc(p, l, new) };
        }
        if owned()
            && let (Some((from, size)), Some((to, grown))) = (class(l.size()), class(new))
        {
            if from == to {
                return p;
            }
            // The last block handed out grows (or shrinks) in place.
            // SAFETY: the owner thread alone uses the lists.
            let lists = unsafe { &mut *STATE.0.get() };
            let offset = p as usize - base() as usize;
            if offset + size == lists.next && grown <= ARENA_BYTES - offset {
                lists.next = offset + grown;
                return p;
            }
        }
        // SAFETY: the caller guarantees `new` is a valid size for this alignment.
        let moved = unsafe { self.alloc(Layout::from_size_align_unchecked(new, l.align())) };
        if !moved.is_null() {
            // SAFETY: both blocks hold at least min(old, new) bytes and do not overlap.
            unsafe { std::ptr::copy_nonoverlapping(p, moved, l.size().min(new)) };
            // SAFETY: the old block, with its layout, is no longer used.
            unsafe { self.dealloc(p, l) };
        }
        moved
    }
}

#[cfg(all(target_env = "musl", not(test)))]
#[global_allocator]
static GLOBAL: Chosen = Chosen;

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 8).unwrap()
    }

    #[test]
    fn size_classes() {
        assert_eq!(class(0), Some((0, 16)));
        assert_eq!(class(1), Some((0, 16)));
        assert_eq!(class(16), Some((0, 16)));
        assert_eq!(class(17), Some((1, 32)));
        assert_eq!(class(1000), Some((62, 1008)));
        assert_eq!(class(SMALL_MAX), Some((63, 1024)));
        assert_eq!(class(SMALL_MAX + 1), Some((64, 2048)));
        assert_eq!(class(4096), Some((65, 4096)));
        assert_eq!(class(4097), Some((66, 8192)));
        assert_eq!(class(LARGEST), Some((CLASSES - 1, LARGEST)));
        assert_eq!(class(LARGEST + 1), None);
        for size in 1..=LARGEST {
            let (index, block) = class(size).unwrap();
            assert!(
                block >= size && block.is_multiple_of(ALIGN) && index < CLASSES,
                "{size}"
            );
        }
    }

    // Pure: compares addresses against the arena's bounds, touches no state.
    #[test]
    fn arena_bounds_are_half_open() {
        let start = base();
        assert!(in_arena(start));
        assert!(in_arena(start.wrapping_add(ARENA_BYTES).wrapping_sub(1)));
        assert!(!in_arena(start.wrapping_add(ARENA_BYTES)));
        assert!(!in_arena(start.wrapping_sub(1)));
        assert!(!in_arena(std::ptr::null_mut()));
    }

    // One test owns the arena (its statics are the process's): the others must not call choose.
    #[test]
    fn arena_blocks_reuse_grow_and_fall_back() {
        let a = Chosen;
        // SAFETY (whole test): every block is used within its layout and freed with it once.
        unsafe {
            // Before choose(), nothing comes from the arena.
            let early = a.alloc(layout(32));
            assert!(!in_arena(early));
            choose(false);
            // Blocks are 16-aligned, disjoint and keep what is written to them.
            let blocks: Vec<(*mut u8, usize)> = (1..40)
                .map(|i| {
                    let size = i * 37;
                    let p = a.alloc(layout(size));
                    assert!(in_arena(p) && (p as usize).is_multiple_of(ALIGN), "{size}");
                    p.write_bytes(i as u8, size);
                    (p, size)
                })
                .collect();
            for (i, &(p, size)) in blocks.iter().enumerate() {
                let bytes = std::slice::from_raw_parts(p, size);
                assert!(
                    bytes.iter().all(|&b| b == (i + 1) as u8),
                    "block {i} overwritten"
                );
            }
            // A freed block is the next one of its class; alloc_zeroed clears a reused one.
            let (p, size) = blocks[3];
            a.dealloc(p, layout(size));
            let again = a.alloc_zeroed(layout(size));
            assert_eq!(again, p);
            assert!(
                std::slice::from_raw_parts(again, size)
                    .iter()
                    .all(|&b| b == 0)
            );
            // The last block grows in place; another block moves and keeps its bytes.
            let top = a.alloc(layout(100));
            top.write_bytes(7, 100);
            let grown = a.realloc(top, layout(100), 5000);
            assert_eq!(grown, top);
            assert!(
                std::slice::from_raw_parts(grown, 100)
                    .iter()
                    .all(|&b| b == 7)
            );
            let (p, size) = blocks[10];
            let moved = a.realloc(p, layout(size), 3 * size + 1000);
            assert_ne!(moved, p);
            assert!(in_arena(moved));
            assert!(
                std::slice::from_raw_parts(moved, size)
                    .iter()
                    .all(|&b| b == 11)
            );
            // Same class: stays put.
            let same = a.realloc(moved, layout(3 * size + 1000), 3 * size + 1001);
            assert_eq!(same, moved);
            // So does a block that is not the last one (no move within its class) ...
            let (p, size) = blocks[0];
            assert_eq!(a.realloc(p, layout(size), size + 10), p);
            // ... while one shrunk to another class moves, copying only what fits: here into a
            // freed block, whose neighbour keeps its bytes.
            let (hole, hole_size) = blocks[5];
            a.dealloc(hole, layout(hole_size));
            let (p, size) = blocks[20];
            let shrunk = a.realloc(p, layout(size), hole_size);
            assert_eq!(shrunk, hole);
            assert!(
                std::slice::from_raw_parts(shrunk, hole_size)
                    .iter()
                    .all(|&b| b == 21)
            );
            let (neighbour, neighbour_size) = blocks[6];
            assert!(
                std::slice::from_raw_parts(neighbour, neighbour_size)
                    .iter()
                    .all(|&b| b == 7),
                "shrinking move wrote past the new block"
            );
            // Alignment 16 is the arena's own, so such blocks come from it.
            let align16 = Layout::from_size_align(48, ALIGN).unwrap();
            let sixteen = a.alloc(align16);
            assert!(in_arena(sixteen) && (sixteen as usize).is_multiple_of(ALIGN));
            a.dealloc(sixteen, align16);
            // Over-aligned and huge blocks come from the system, and go back to it.
            let aligned = a.alloc(Layout::from_size_align(64, 64).unwrap());
            assert!(!in_arena(aligned) && (aligned as usize).is_multiple_of(64));
            a.dealloc(aligned, Layout::from_size_align(64, 64).unwrap());
            let huge = a.alloc(layout(LARGEST + 1));
            assert!(!in_arena(huge));
            let huge2 = a.realloc(huge, layout(LARGEST + 1), 2 * LARGEST);
            a.dealloc(huge2, layout(2 * LARGEST));
            // An arena block grown past LARGEST moves to the system with its bytes.
            let small = a.alloc(layout(64));
            small.write_bytes(9, 64);
            let out = a.realloc(small, layout(64), LARGEST + 5);
            assert!(!in_arena(out));
            assert!(std::slice::from_raw_parts(out, 64).iter().all(|&b| b == 9));
            a.dealloc(out, layout(LARGEST + 5));
            // Another thread allocates from the system; its free of an arena block leaves the
            // block unused, so the owner does not get it back.
            let victim = a.alloc(layout(48)) as usize;
            let (theirs, in_arena_there) = std::thread::spawn(move || {
                let a = Chosen;
                let mine = a.alloc(layout(48));
                let there = in_arena(mine);
                a.dealloc(victim as *mut u8, layout(48));
                (mine as usize, there)
            })
            .join()
            .unwrap();
            assert!(!in_arena_there);
            a.dealloc(theirs as *mut u8, layout(48));
            assert_ne!(a.alloc(layout(48)) as usize, victim);
            // When the arena is full, blocks come from the system.
            let mut last = std::ptr::null_mut();
            for _ in 0..=ARENA_BYTES / LARGEST {
                last = a.alloc(layout(LARGEST));
                assert!(!last.is_null());
            }
            assert!(!in_arena(last));
            a.dealloc(last, layout(LARGEST));
            // The last block, with less room after it than it grows to, moves to the system
            // instead of growing past the arena's end.
            let tail = a.alloc(layout(16));
            assert!(in_arena(tail), "room for a small block is left");
            tail.write_bytes(5, 16);
            let out = a.realloc(tail, layout(16), LARGEST);
            assert!(!in_arena(out));
            assert!(std::slice::from_raw_parts(out, 16).iter().all(|&b| b == 5));
            a.dealloc(out, layout(LARGEST));
            // The arena's last bytes go to a request that fits them exactly (the largest class's
            // list is empty: none of its arena blocks was freed); then it is full.
            let room = ARENA_BYTES - (*STATE.0.get()).next;
            assert_eq!(take(CLASSES - 1, room), base().add(ARENA_BYTES - room));
            assert!(take(CLASSES - 1, 16).is_null());
            a.dealloc(early, layout(32));
        }
    }
}
