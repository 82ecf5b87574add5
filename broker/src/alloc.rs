//! The broker binary's global allocator: the system allocator, except that very large
//! allocations only reserve address space (`mmap` with `MAP_NORESERVE`) and commit memory as
//! it is written.
//!
//! Why: kafka-protocol's decoders preallocate `Vec::with_capacity(n)` for an array whose
//! count `n` comes straight from the request. A 20-byte request declaring 2^31 elements
//! asks for ~150 GB; the system allocator refuses and Rust aborts the process. With this
//! allocator the reservation succeeds without using memory, decoding fails at the next
//! missing byte, and the connection is closed. Real memory use stays bounded by what the
//! decoder actually writes, which the frame size (`socket.request.max.bytes`) bounds.

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations at least this large are reserved rather than committed.
const RESERVE_THRESHOLD: usize = 256 << 20;
/// mmap'd memory is page aligned; larger alignments go to the system allocator.
const PAGE: usize = 4096;

pub struct ReservingAllocator;

fn reserved(layout: &Layout) -> bool {
    layout.size() >= RESERVE_THRESHOLD && layout.align() <= PAGE
}

unsafe fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping has no preconditions; failure is MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

// SAFETY: every pointer handed out is either the system allocator's (for layouts it served)
// or a fresh mapping of at least `layout.size()` bytes, page aligned (>= `layout.align()`),
// unmapped exactly once in `dealloc`; which path served a pointer is decided by its layout
// alone, and GlobalAlloc callers pass the same layout back.
unsafe impl GlobalAlloc for ReservingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if reserved(&layout) {
            unsafe { map(layout.size()) }
        } else {
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if reserved(&layout) {
            // Anonymous mappings are zero-filled.
            unsafe { map(layout.size()) }
        } else {
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if reserved(&layout) {
            unsafe {
                libc::munmap(ptr.cast(), layout.size());
            }
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        if !reserved(&layout) && !reserved(&new_layout) {
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_reservation_succeeds_without_committing_and_small_ones_round_trip() {
        let a = ReservingAllocator;
        let huge = Layout::from_size_align(200 << 30, 8).unwrap();
        let p = unsafe { a.alloc(huge) };
        assert!(!p.is_null(), "200 GiB of address space is reservable");
        unsafe {
            *p = 7;
            *p.add((200 << 30) - 1) = 9;
            assert_eq!((*p, *p.add((200 << 30) - 1)), (7, 9));
            a.dealloc(p, huge);
        }
        let small = Layout::from_size_align(64, 8).unwrap();
        let q = unsafe { a.alloc_zeroed(small) };
        assert!(!q.is_null());
        let q = unsafe { a.realloc(q, small, RESERVE_THRESHOLD * 2) };
        assert!(!q.is_null());
        unsafe {
            assert_eq!(*q, 0);
            let big = Layout::from_size_align(RESERVE_THRESHOLD * 2, 8).unwrap();
            let r = a.realloc(q, big, 128);
            assert_eq!(*r, 0);
            a.dealloc(r, Layout::from_size_align(128, 8).unwrap());
        }
    }
}
