use gc_core::{Heap, HeapConfig, NoGc};

fn main() {
    let mut heap = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
    // Returning a Gc from the closure would let it outlive the safepoint.
    let escaped = heap.mutate(|m| m.alloc(1, &[], &[]).unwrap());
    let _ = escaped.len();
}
