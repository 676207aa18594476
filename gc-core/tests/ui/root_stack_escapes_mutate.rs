use gc_core::{Heap, HeapConfig, NoGc};

fn main() {
    let mut heap = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
    // The guard borrows the mutator: it cannot outlive the closure (or the
    // values in it would survive a safepoint without being roots).
    let stack = heap.mutate(|m| m.root_stack());
    drop(stack);
}
