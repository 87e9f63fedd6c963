//! A global allocator that keeps freed large buffers for reuse instead of returning them to the kernel.
//!
//! # Why
//! A ConvNeXt forward pass allocates one activation buffer per op (tens to hundreds of MB at 64², batch 8)
//! and frees it a few ops later. glibc serves every request above its mmap threshold (at most 32 MiB)
//! with a fresh `mmap` and returns it with `munmap` on free, so each activation is faulted in page by page
//! and zeroed by the kernel again: `perf` put ~25 % of encoder inference in the page-fault/unmap path
//! (BENCHMARKS.md, "Buffer cache"). The shapes repeat exactly from block to block and step to step, so a
//! small cache keyed by size turns those faults into a pointer hand-back.
//!
//! # Contract
//! * Requests of at least [`LARGE`] bytes are rounded up to a multiple of [`GRANULE`] (their *class*) and
//!   allocated from [`System`] at that size. On free, the block is kept in a fixed table of
//!   [`SLOTS`] entries while the cached total stays within the byte limit ([`BufferCache::set_limit`],
//!   default [`DEFAULT_LIMIT`]); otherwise it goes back to [`System`]. A request of the same class and the
//!   same alignment takes a cached block (zeroed first for `alloc_zeroed`), so every block is returned to
//!   [`System`] with exactly the layout it was allocated with.
//! * Smaller requests go straight to [`System`]. The allocator never allocates for itself (the table is
//!   an array behind a `Mutex`, whose lock does not allocate).
//! * The memory cost is bounded: at most the limit in idle cached bytes, plus up to `GRANULE` of unused
//!   tail per live large block (virtual only; untouched pages are never faulted in).
//!
//! Install it in a binary with
//! `#[global_allocator] static ALLOC: physrep_core::BufferCache = physrep_core::BufferCache::new();`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Smallest request (bytes) that goes through the cache.
pub const LARGE: usize = 1 << 20;
/// Size classes are multiples of this many bytes.
pub const GRANULE: usize = 64 << 10;
/// Number of idle blocks the cache can hold.
pub const SLOTS: usize = 128;
/// Default bound on the bytes held by idle cached blocks (4 GiB: for a JEPA training step at 64², batch 8,
/// a 1 GiB bound was no faster than no cache; BENCHMARKS.md "Buffer cache").
pub const DEFAULT_LIMIT: usize = 4 << 30;

/// One idle block: its address (0 = empty slot), its class (bytes) and the alignment it was allocated with.
#[derive(Clone, Copy)]
struct Slot {
    addr: usize,
    class: usize,
    align: usize,
}

const EMPTY: Slot = Slot { addr: 0, class: 0, align: 0 };

struct Table {
    slots: [Slot; SLOTS],
    cached_bytes: usize,
}

/// The caching allocator (see the module docs).
pub struct BufferCache {
    table: Mutex<Table>,
    limit: AtomicUsize,
}

impl Default for BufferCache {
    fn default() -> Self {
        Self::new()
    }
}

impl BufferCache {
    /// An empty cache with the default limit.
    pub const fn new() -> Self {
        Self { table: Mutex::new(Table { slots: [EMPTY; SLOTS], cached_bytes: 0 }), limit: AtomicUsize::new(DEFAULT_LIMIT) }
    }

    /// Sets the bound on idle cached bytes; `0` disables caching (already cached blocks are released as
    /// they are reused or by [`BufferCache::release_all`]).
    pub fn set_limit(&self, bytes: usize) {
        self.limit.store(bytes, Ordering::Relaxed);
    }

    /// Bytes currently held by idle cached blocks.
    pub fn cached_bytes(&self) -> usize {
        self.lock().cached_bytes
    }

    /// Returns every idle block to the system.
    pub fn release_all(&self) {
        let mut t = self.lock();
        for s in t.slots.iter_mut().filter(|s| s.addr != 0) {
            // SAFETY: the block was allocated by `System` with exactly this class and alignment.
            unsafe { System.dealloc(s.addr as *mut u8, block_layout(s.class, s.align)) };
            *s = EMPTY;
        }
        t.cached_bytes = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes an idle block of `class` bytes allocated with alignment `align`.
    fn take(&self, class: usize, align: usize) -> Option<*mut u8> {
        let mut t = self.lock();
        let i = t.slots.iter().position(|s| s.addr != 0 && s.class == class && s.align == align)?;
        let s = std::mem::replace(&mut t.slots[i], EMPTY);
        t.cached_bytes -= class;
        Some(s.addr as *mut u8)
    }

    /// Keeps an idle block if the limit and the table allow; `false` means the caller must free it.
    fn keep(&self, ptr: *mut u8, class: usize, align: usize) -> bool {
        let limit = self.limit.load(Ordering::Relaxed);
        let mut t = self.lock();
        if t.cached_bytes + class > limit {
            return false;
        }
        match t.slots.iter().position(|s| s.addr == 0) {
            Some(i) => {
                t.slots[i] = Slot { addr: ptr as usize, class, align };
                t.cached_bytes += class;
                true
            }
            None => false,
        }
    }
}

/// The class of a request of `size` bytes, or `None` when it bypasses the cache.
fn class_of(size: usize) -> Option<usize> {
    (size >= LARGE).then(|| size.div_ceil(GRANULE) * GRANULE)
}

/// The layout a cached block of `class` bytes was allocated with.
fn block_layout(class: usize, align: usize) -> Layout {
    // A class is a multiple of GRANULE (a power of two ≥ any alignment this cache sees in practice), and
    // `align` came from a valid `Layout`; rounding `class` never overflows `isize` for sizes `System` served.
    Layout::from_size_align(class, align).expect("cached block layout was valid when allocated")
}

// SAFETY: every block handed out is either from `System` with the caller's layout (small requests) or from
// `System` with the request's alignment and its class as size (large requests); a large block is freed with
// the same class/alignment it was allocated with, because the class is recomputed from the caller's layout
// size (which `GlobalAlloc` guarantees is the one it was allocated for) and a cached block is only reused
// for a request of the same class and alignment.
unsafe impl GlobalAlloc for BufferCache {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class_of(layout.size()) {
            None => unsafe { System.alloc(layout) },
            Some(class) => match self.take(class, layout.align()) {
                Some(p) => p,
                None => unsafe { System.alloc(block_layout(class, layout.align())) },
            },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match class_of(layout.size()) {
            None => unsafe { System.alloc_zeroed(layout) },
            Some(class) => match self.take(class, layout.align()) {
                Some(p) => {
                    // SAFETY: the block holds at least `class ≥ layout.size()` writable bytes.
                    unsafe { std::ptr::write_bytes(p, 0, layout.size()) };
                    p
                }
                None => unsafe { System.alloc_zeroed(block_layout(class, layout.align())) },
            },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match class_of(layout.size()) {
            None => unsafe { System.dealloc(ptr, layout) },
            Some(class) => {
                if !self.keep(ptr, class, layout.align()) {
                    unsafe { System.dealloc(ptr, block_layout(class, layout.align())) };
                }
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (class_of(layout.size()), class_of(new_size)) {
            (None, None) => unsafe { System.realloc(ptr, layout, new_size) },
            (Some(a), Some(b)) if a == b => ptr,
            _ => {
                // SAFETY: `new_size` with the old alignment is a valid layout (GlobalAlloc's contract).
                let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
                let new = unsafe { self.alloc(new_layout) };
                if !new.is_null() {
                    // SAFETY: both blocks hold at least `min(old, new)` bytes and do not overlap.
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                new
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 64).unwrap()
    }

    #[test]
    fn a_freed_large_block_is_handed_back_for_the_same_class() {
        let c = BufferCache::new();
        unsafe {
            let a = c.alloc(layout(3 << 20));
            assert!(!a.is_null());
            a.write_bytes(7, 3 << 20);
            c.dealloc(a, layout(3 << 20));
            assert_eq!(c.cached_bytes(), 3 << 20);
            // Same class (rounded to the granule), different exact size.
            let b = c.alloc(layout((3 << 20) - 100));
            assert_eq!(a, b);
            assert_eq!(c.cached_bytes(), 0);
            // A different class does not take it.
            c.dealloc(b, layout((3 << 20) - 100));
            let d = c.alloc(layout(5 << 20));
            assert_ne!(d, b);
            c.dealloc(d, layout(5 << 20));
            c.release_all();
            assert_eq!(c.cached_bytes(), 0);
        }
    }

    #[test]
    fn zeroed_allocations_are_zero_even_when_reusing_a_dirty_block() {
        let c = BufferCache::new();
        let n = 2 << 20;
        unsafe {
            let a = c.alloc(layout(n));
            a.write_bytes(0xAB, n);
            c.dealloc(a, layout(n));
            let b = c.alloc_zeroed(layout(n));
            assert_eq!(a, b, "the dirty block must be the one reused");
            let s = std::slice::from_raw_parts(b, n);
            assert!(s.iter().all(|&x| x == 0));
            c.dealloc(b, layout(n));
            c.release_all();
        }
    }

    #[test]
    fn the_limit_bounds_idle_bytes_and_small_blocks_bypass_the_cache() {
        let c = BufferCache::new();
        c.set_limit(5 << 20);
        unsafe {
            let blocks: Vec<_> = (0..3).map(|_| c.alloc(layout(2 << 20))).collect();
            for &b in &blocks {
                c.dealloc(b, layout(2 << 20));
            }
            // Two fit under 5 MiB, the third was released.
            assert_eq!(c.cached_bytes(), 4 << 20);
            let s = c.alloc(layout(4096));
            c.dealloc(s, layout(4096));
            assert_eq!(c.cached_bytes(), 4 << 20);
            c.set_limit(0);
            let b = c.alloc(layout(2 << 20));
            c.dealloc(b, layout(2 << 20));
            assert_eq!(c.cached_bytes(), 2 << 20, "limit 0 keeps nothing new");
            c.release_all();
        }
    }

    #[test]
    fn alignment_is_honoured_and_reuse_respects_it() {
        let c = BufferCache::new();
        unsafe {
            let big = Layout::from_size_align(2 << 20, 1 << 16).unwrap();
            let a = c.alloc(big);
            assert_eq!(a as usize % (1 << 16), 0);
            c.dealloc(a, big);
            // A block is reused only for the alignment it was allocated with …
            let b = c.alloc(layout(2 << 20));
            assert_ne!(a, b);
            c.dealloc(b, layout(2 << 20));
            let d = c.alloc(big);
            assert_eq!(a, d);
            c.dealloc(d, big);
            // … and a 2 MiB alignment is honoured.
            let huge = Layout::from_size_align(2 << 20, 2 << 20).unwrap();
            let e = c.alloc(huge);
            assert_eq!(e as usize % (2 << 20), 0);
            c.dealloc(e, huge);
            c.release_all();
        }
    }

    #[test]
    fn realloc_keeps_contents_across_classes() {
        let c = BufferCache::new();
        unsafe {
            // small → large → same class → smaller large → small
            let mut p = c.alloc(layout(1000));
            for i in 0..1000 {
                *p.add(i) = (i % 251) as u8;
            }
            let sizes = [1000, 3 << 20, (3 << 20) + 10, 2 << 20, 500];
            let mut valid = 1000;
            for w in sizes.windows(2) {
                p = c.realloc(p, layout(w[0]), w[1]);
                assert!(!p.is_null());
                valid = valid.min(w[1]);
                for i in 0..valid {
                    assert_eq!(*p.add(i), (i % 251) as u8, "byte {i} after {} → {}", w[0], w[1]);
                }
            }
            c.dealloc(p, layout(500));
            c.release_all();
        }
    }
}
