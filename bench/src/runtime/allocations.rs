//! Heap allocations made by the server thread: a figure that, unlike time, does not move with
//! the machine's load, so a change to the call path shows in it even when rates are noise.
//!
//! The counting is off until [`count_server_thread`] runs on the server thread; the other
//! threads (the load generator) and the other subcommands pay one relaxed load per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The system allocator, counting what the server thread allocates.
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static SERVER: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set on the server thread. `const`, without a destructor: reading it never allocates.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if ON.load(Ordering::Relaxed) && COUNTED.with(Cell::get) {
        SERVER.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to `System` unchanged; counting allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Counts from now on the allocations (and reallocations) of the calling thread.
pub fn count_server_thread() {
    COUNTED.with(|counted| counted.set(true));
    ON.store(true, Ordering::Relaxed);
}

/// Allocations the server thread has made so far.
pub fn server_allocations() -> u64 {
    SERVER.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_counted_thread_is_counted() {
        std::thread::spawn(|| {
            let before = server_allocations();
            let boxes: Vec<Box<u64>> = (0..10).map(Box::new).collect();
            assert_eq!(server_allocations(), before, "not counted yet");
            count_server_thread();
            let before = server_allocations();
            let more: Vec<Box<u64>> = (0..10).map(Box::new).collect();
            // Ten boxes and the vector; the test harness's own threads may add none here.
            assert!(server_allocations() - before >= 11);
            drop((boxes, more));
        })
        .join()
        .unwrap();
    }
}
