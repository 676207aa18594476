use std::cell::RefCell;

use gc_core::{Gc, Heap, HeapConfig, NoGc};

thread_local! {
    static STASH: RefCell<Option<Gc<'static>>> = const { RefCell::new(None) };
}

fn main() {
    let mut heap = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
    // A thread-local needs 'static, which the brand never is.
    heap.mutate(|m| {
        let g = m.alloc(1, &[], &[]).unwrap();
        STASH.with(|s| *s.borrow_mut() = Some(g));
    });
}
