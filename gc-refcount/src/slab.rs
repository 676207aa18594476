//! Size-class slab pages: where gc-refcount's objects live.
//!
//! Small objects (at most [`MAX_SMALL`] bytes) come from 64 KiB pages, each
//! holding cells of one size class. A page keeps its own free list (through
//! the first word of each free cell) and a bump offset for cells never used
//! yet. Each class keeps a doubly linked list of the pages that have a free
//! cell; allocation takes from the head of that list, so the fast path is
//! a free-list pop or a bump plus a counter update. A page whose last cell
//! is freed leaves its class (unless it is the class's only page with free
//! space) and goes to a pool of empty pages that any class can reuse; the
//! pool keeps at most [`POOL_MIN_PAGES`] pages or half the pages in use,
//! whichever is more, and returns the rest to the system. (Returning every
//! empty page at once would make a workload that frees and rebuilds large
//! structures fault its pages back in on every rebuild.) Pages are
//! aligned to their size, so the page of a cell is its address rounded
//! down.
//!
//! Size classes are a [`SizeClasses`] table, so the class of a small
//! object is one table lookup. Large objects get one system allocation
//! each through [`gc_core::large`]; the slab remembers them (address to
//! size) to walk and release them.
//!
//! Free cells are marked with [`FREE_MARK`] in the header's `aux` word, so
//! the heap verifier can tell allocated cells from free ones. That test
//! reads the header of every cell below a page's bump offset, so it needs
//! every allocated cell to hold an initialised header: the slab cannot see
//! that, which is why [`Slab::for_each_allocated`] is `unsafe` and the
//! module is private to the crate.

use std::alloc::{Layout, alloc, dealloc};
use std::ptr::{self, NonNull};

use gc_core::SizeClasses;
use hashbrown::HashMap;

/// Bytes per slab page (also its alignment).
pub(crate) const PAGE_SIZE: usize = 64 << 10;
/// Bytes at the start of a page reserved for its header.
const PAGE_HEADER: usize = 64;
/// Largest object served from a size class.
pub(crate) const MAX_SMALL: usize = 4096;
/// Empty pages the pool may always keep (4 MiB).
pub(crate) const POOL_MIN_PAGES: usize = 64;
/// `aux` value of a free cell.
pub(crate) const FREE_MARK: u32 = 0xF4EE_F4EE;

/// Cell sizes: 8-byte steps up to 80, then roughly 1.25x apart, up to
/// [`MAX_SMALL`].
const CLASS_SIZES: [u32; 31] = [
    24, 32, 40, 48, 56, 64, 72, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768,
    896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096,
];
const NUM_CLASSES: usize = CLASS_SIZES.len();

/// The class table: every small size is classed by one lookup.
static CLASSES: SizeClasses<{ MAX_SMALL / 8 + 1 }> = SizeClasses::new(&CLASS_SIZES);

const _: () = assert!(CLASS_SIZES[NUM_CLASSES - 1] as usize == MAX_SMALL);

/// Size class of an object of `size` bytes (at most [`MAX_SMALL`]), and
/// the size of its cells.
#[inline]
pub(crate) fn class_of(size: usize) -> (usize, usize) {
    let c = CLASSES.lookup(size);
    (c, CLASSES.size(c))
}

/// Bytes an object of `size` really takes (its cell, or itself if large).
#[inline]
pub(crate) fn footprint(size: usize) -> usize {
    if size <= MAX_SMALL {
        class_of(size).1
    } else {
        size
    }
}

#[repr(C)]
struct Page {
    /// First free cell (its first word links to the next), or null.
    free: *mut u8,
    /// Offset of the first never-used cell.
    bump: u32,
    /// Offset past the last cell that fits.
    end: u32,
    /// Allocated cells.
    used: u32,
    /// Cell size.
    cell: u32,
    class: u32,
    /// Index in `Slab::pages`.
    index: u32,
    /// Links of the class's list of pages with a free cell.
    prev: *mut Page,
    next: *mut Page,
    in_list: bool,
}

const _: () = assert!(std::mem::size_of::<Page>() <= PAGE_HEADER);

fn page_layout() -> Layout {
    Layout::from_size_align(PAGE_SIZE, PAGE_SIZE).expect("page layout is valid")
}

/// The allocator state. Single-threaded; owned by the collector.
pub(crate) struct Slab {
    /// Head of each class's list of pages with a free cell.
    heads: [*mut Page; NUM_CLASSES],
    /// Every page, for iteration and teardown.
    pages: Vec<*mut Page>,
    /// Large objects: address -> size.
    large: HashMap<usize, usize>,
    /// Empty pages kept for reuse (not in `pages`).
    pool: Vec<*mut Page>,
    /// Bytes of pages and large objects obtained from the system.
    pub(crate) mapped: usize,
}

impl Default for Slab {
    fn default() -> Self {
        Slab {
            heads: [ptr::null_mut(); NUM_CLASSES],
            pages: Vec::new(),
            large: HashMap::new(),
            pool: Vec::new(),
            mapped: 0,
        }
    }
}

impl Slab {
    /// Memory for an object of `size` bytes (a multiple of 8), 8-aligned;
    /// `None` if the system is out of memory.
    #[inline]
    pub(crate) fn alloc(&mut self, size: usize) -> Option<NonNull<u8>> {
        if size > MAX_SMALL {
            return self.alloc_large(size);
        }
        let (c, _) = class_of(size);
        let mut page = self.heads[c];
        if page.is_null() {
            page = self.new_page(c)?;
        }
        // SAFETY: pages on a class list are live pages of that class, with
        // at least one free or never-used cell.
        unsafe {
            let p = &mut *page;
            let cell = if !p.free.is_null() {
                let cell = p.free;
                p.free = cell.cast::<*mut u8>().read();
                cell
            } else {
                let cell = page.cast::<u8>().add(p.bump as usize);
                p.bump += p.cell;
                cell
            };
            p.used += 1;
            if p.free.is_null() && p.bump + p.cell > p.end {
                self.unlink(page);
            }
            Some(NonNull::new_unchecked(cell))
        }
    }

    #[cold]
    fn new_page(&mut self, c: usize) -> Option<*mut Page> {
        let mem = match self.pool.pop() {
            Some(p) => p.cast::<u8>(),
            None => {
                // SAFETY: the layout has a non-zero size.
                let mem = unsafe { alloc(page_layout()) };
                if mem.is_null() {
                    return None;
                }
                if !gc_core::object::addressable(mem as usize, PAGE_SIZE) {
                    // SAFETY: just allocated with this layout; unused.
                    unsafe { dealloc(mem, page_layout()) };
                    return None;
                }
                self.mapped += PAGE_SIZE;
                mem
            }
        };
        let cell = CLASS_SIZES[c];
        let fits = (PAGE_SIZE - PAGE_HEADER) / cell as usize;
        let page = mem.cast::<Page>();
        // SAFETY: `mem` is a fresh, page-aligned allocation of PAGE_SIZE
        // bytes, and the header fits in PAGE_HEADER.
        unsafe {
            page.write(Page {
                free: ptr::null_mut(),
                bump: PAGE_HEADER as u32,
                end: (PAGE_HEADER + fits * cell as usize) as u32,
                used: 0,
                cell,
                class: c as u32,
                index: self.pages.len() as u32,
                prev: ptr::null_mut(),
                next: ptr::null_mut(),
                in_list: false,
            });
        }
        self.pages.push(page);
        self.push_front(page);
        Some(page)
    }

    #[cold]
    fn alloc_large(&mut self, size: usize) -> Option<NonNull<u8>> {
        let mem = gc_core::large::alloc(size)?;
        self.large.insert(mem.as_ptr() as usize, size);
        self.mapped += size;
        Some(mem)
    }

    /// Returns an object's memory.
    ///
    /// # Safety
    ///
    /// 1. `mem` came from `alloc(size)` of this slab and was not freed
    ///    since.
    /// 2. Nothing reads it as an object afterwards.
    #[inline]
    pub(crate) unsafe fn free(&mut self, mem: NonNull<u8>, size: usize) {
        if size > MAX_SMALL {
            self.large.remove(&(mem.as_ptr() as usize));
            self.mapped -= size;
            // SAFETY: obligations 1 and 2: a large object of this size
            // from `alloc_large`, freed once and unused from now on.
            unsafe { gc_core::large::free(mem, size) };
            return;
        }
        let cell = mem.as_ptr();
        let page = (cell as usize & !(PAGE_SIZE - 1)) as *mut Page;
        // SAFETY: obligation 1: the cell lies in a live page of ours (pages
        // are released only when no cell is allocated); cells are at least
        // 24 bytes, so the link word and the aux mark fit.
        unsafe {
            let p = &mut *page;
            cell.cast::<*mut u8>().write(p.free);
            cell.add(8).cast::<u32>().write(FREE_MARK);
            p.free = cell;
            p.used -= 1;
            if !p.in_list {
                self.push_front(page);
            }
            if p.used == 0 && !(p.prev.is_null() && p.next.is_null()) {
                self.release(page);
            }
        }
    }

    fn push_front(&mut self, page: *mut Page) {
        // SAFETY: `page` is a live page of ours, not on a list.
        unsafe {
            let p = &mut *page;
            let c = p.class as usize;
            p.prev = ptr::null_mut();
            p.next = self.heads[c];
            if !p.next.is_null() {
                (*p.next).prev = page;
            }
            self.heads[c] = page;
            p.in_list = true;
        }
    }

    fn unlink(&mut self, page: *mut Page) {
        // SAFETY: `page` is a live page of ours, on its class list.
        unsafe {
            let p = &mut *page;
            if p.prev.is_null() {
                self.heads[p.class as usize] = p.next;
            } else {
                (*p.prev).next = p.next;
            }
            if !p.next.is_null() {
                (*p.next).prev = p.prev;
            }
            p.prev = ptr::null_mut();
            p.next = ptr::null_mut();
            p.in_list = false;
        }
    }

    fn release(&mut self, page: *mut Page) {
        self.unlink(page);
        // SAFETY: the page is live, empty and now on no list; its index is
        // its slot in `pages`.
        unsafe {
            let i = (*page).index as usize;
            self.pages.swap_remove(i);
            if let Some(&moved) = self.pages.get(i) {
                (*moved).index = i as u32;
            }
            if self.pool.len() < POOL_MIN_PAGES.max(self.pages.len() / 2) {
                self.pool.push(page);
            } else {
                dealloc(page.cast(), page_layout());
                self.mapped -= PAGE_SIZE;
            }
        }
    }

    /// Calls `f` on every allocated small cell and large object.
    ///
    /// # Safety
    ///
    /// 1. Every small cell (of at most [`MAX_SMALL`] bytes) that `alloc`
    ///    handed out and `free` did not take back holds an initialised
    ///    object header (written by `ObjPtr::init`): its `aux` word is
    ///    read to tell it from a free cell.
    pub(crate) unsafe fn for_each_allocated(&self, mut f: impl FnMut(NonNull<u8>)) {
        for &page in &self.pages {
            // SAFETY: `pages` holds live pages; cells below `bump` were
            // handed out once and are either allocated (with an initialised
            // header: obligation 1) or free (marked by `free`).
            unsafe {
                let p = &*page;
                let mut off = PAGE_HEADER as u32;
                while off < p.bump {
                    let cell = page.cast::<u8>().add(off as usize);
                    if cell.add(8).cast::<u32>().read() != FREE_MARK {
                        f(NonNull::new_unchecked(cell));
                    }
                    off += p.cell;
                }
            }
        }
        for &a in self.large.keys() {
            // SAFETY: large objects are non-null allocations.
            f(unsafe { NonNull::new_unchecked(a as *mut u8) });
        }
    }

    /// Number of pages held.
    #[cfg(test)]
    pub(crate) fn page_count(&self) -> usize {
        self.pages.len()
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        for &page in self.pages.iter().chain(&self.pool) {
            // SAFETY: every page was allocated with the page layout.
            unsafe { dealloc(page.cast(), page_layout()) };
        }
        for (&a, &size) in &self.large {
            // SAFETY: a large object of this size from `alloc_large`, not
            // freed yet; the slab (and every object in it) dies here.
            unsafe { gc_core::large::free(NonNull::new_unchecked(a as *mut u8), size) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_every_size() {
        // Waste is at most a quarter (plus the 8-byte steps).
        CLASSES.check(24, 0.25).unwrap();
        assert_eq!(CLASSES.max(), MAX_SMALL);
        for size in (8..=MAX_SMALL).step_by(8) {
            assert_eq!(class_of(size).0, CLASSES.class_of(size).unwrap());
        }
    }

    #[test]
    fn cells_are_reused_and_pages_returned() {
        let mut s = Slab::default();
        let cells: Vec<_> = (0..10_000).map(|_| s.alloc(48).unwrap()).collect();
        let pages = s.page_count();
        assert!(pages >= 10_000 * 48 / PAGE_SIZE);
        for c in &cells {
            assert_eq!(c.as_ptr() as usize % 8, 0);
        }
        let mut sorted: Vec<usize> = cells.iter().map(|c| c.as_ptr() as usize).collect();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 10_000, "no cell handed out twice");
        // Free every other cell: they come back before new pages are made.
        for c in cells.iter().step_by(2) {
            // SAFETY: allocated above with this size, freed once.
            unsafe { s.free(*c, 48) };
        }
        let again: Vec<_> = (0..5_000).map(|_| s.alloc(48).unwrap()).collect();
        assert_eq!(s.page_count(), pages, "freed cells were reused");
        // Free everything: all pages but one spare go back.
        for c in cells.iter().skip(1).step_by(2).chain(&again) {
            // SAFETY: each allocated once above and not freed yet.
            unsafe { s.free(*c, 48) };
        }
        assert_eq!(s.page_count(), 1);
        // The empty pages wait in the pool (bounded), the rest went back.
        assert!(s.pool.len() <= POOL_MIN_PAGES);
        assert_eq!(s.mapped, PAGE_SIZE * (1 + s.pool.len()));
        // Pooled pages are reused before new ones are mapped.
        let mapped = s.mapped;
        let more: Vec<_> = (0..5_000).map(|_| s.alloc(64).unwrap()).collect();
        assert_eq!(s.mapped, mapped);
        for c in more {
            // SAFETY: allocated just above.
            unsafe { s.free(c, 64) };
        }
        let mut n = 0;
        // SAFETY: no small cell is allocated.
        unsafe { s.for_each_allocated(|_| n += 1) };
        assert_eq!(n, 0);
    }

    #[test]
    fn large_objects() {
        let mut s = Slab::default();
        let a = s.alloc(100_000).unwrap();
        let mut n = 0;
        // SAFETY: no small cell is allocated (a large object's memory is
        // not read).
        unsafe { s.for_each_allocated(|_| n += 1) };
        assert_eq!(n, 1);
        // SAFETY: allocated above with this size.
        unsafe { s.free(a, 100_000) };
        assert_eq!(s.mapped, 0);
    }
}
