//! The global allocator of the `standin` binary, the benchmark and its reference: mimalloc, asked
//! for a plain block whenever a plain block is aligned enough.
//!
//! The `mimalloc` crate's allocator passes every request to `mi_malloc_aligned`, and mimalloc 3
//! serves an aligned request of a size whose block is not a power of two (48 bytes, 80, any
//! request over 1 KiB) by over-allocating and aligning inside the block: about 150 instructions
//! where `mi_malloc` takes 20, and a larger block. A request allocates a dozen blocks (the
//! decoder's buffers, header vectors, the body), two or three of them that way; std's own
//! `System` allocator makes the same choice this one does.
//!
//! ```
//! #[global_allocator]
//! static ALLOCATOR: standin::alloc::Mimalloc = standin::alloc::Mimalloc;
//!
//! fn main() {
//!     let blocks: Vec<Vec<u64>> = (1..100).map(|n| vec![n; n as usize]).collect();
//!     assert_eq!(blocks[47].iter().sum::<u64>(), 48 * 48);
//! }
//! ```

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every plain mimalloc block of at least that size has: its size classes are
/// 8 bytes and then multiples of 16, and a page's first block is 16-aligned (what C's `malloc`
/// promises: `alignof(max_align_t)`).
const PLAIN_ALIGN: usize = 16;

/// mimalloc, through its plain entry points for ordinary alignments (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Mimalloc;

/// Whether a plain block of `size` bytes is aligned to `align`: an alignment no larger than the
/// size (a smaller block is aligned to 8 at least, and any alignment no larger than its size is
/// then at most 8) and no larger than [`PLAIN_ALIGN`].
fn plain(align: usize, size: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

/// A new block for `layout` from mimalloc's `plain_call` (`mi_malloc`, `mi_zalloc`) when a plain
/// block is aligned enough, else from its `aligned` counterpart.
///
/// # Safety
/// As [`GlobalAlloc::alloc`]: `layout` has a non-zero size.
#[inline]
unsafe fn new_block(
    layout: Layout,
    plain_call: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    // SAFETY: plain C allocation calls; the size and alignment come from a valid `Layout`.
    unsafe {
        if plain(layout.align(), layout.size()) {
            plain_call(layout.size()).cast()
        } else {
            aligned(layout.size(), layout.align()).cast()
        }
    }
}

// SAFETY: every block comes from mimalloc and goes back to it through `mi_free` or `mi_realloc*`,
// which take any block mimalloc handed out, aligned or not; a block is aligned as `layout` asks:
// by `plain` for the plain calls, by mimalloc itself for the aligned ones.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's promise about `layout`, passed on.
        unsafe { new_block(layout, mi::mi_malloc, mi::mi_malloc_aligned) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe { new_block(layout, mi::mi_zalloc, mi::mi_zalloc_aligned) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller hands back a block this allocator returned, once.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` is a live block of this allocator with `layout`'s alignment, which the
        // new block keeps.
        unsafe {
            if plain(layout.align(), new_size) {
                mi::mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the size and alignment, a block (new, zeroed, grown or shrunk) is aligned
        /// as asked, holds what was written, and a zeroed one reads zero.
        #[test]
        fn blocks_are_aligned_as_asked(size in 1usize..20_000, align_log in 0u32..13, grown in 1usize..20_000) {
            let align = 1usize << align_log;
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: each block is used within its size and freed once, with its layout.
            unsafe {
                let p = Mimalloc.alloc_zeroed(layout);
                prop_assert!(!p.is_null());
                prop_assert_eq!(p as usize % align, 0);
                prop_assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                p.write_bytes(0xA5, size);
                let q = Mimalloc.realloc(p, layout, grown);
                prop_assert!(!q.is_null());
                prop_assert_eq!(q as usize % align, 0);
                prop_assert!(std::slice::from_raw_parts(q, size.min(grown)).iter().all(|&b| b == 0xA5));
                Mimalloc.dealloc(q, Layout::from_size_align(grown, align).unwrap());
                let r = Mimalloc.alloc(layout);
                prop_assert_eq!(r as usize % align, 0);
                Mimalloc.dealloc(r, layout);
            }
        }
    }
}
