use gc_core::{Heap, HeapConfig, NoGc};

fn main() {
    let mut a = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
    let mut b = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
    // Same backend type, different heaps: the brands never unify.
    a.mutate(|ma| {
        let from_a = ma.alloc(1, &[], &[]).unwrap();
        b.mutate(|mb| {
            let obj = mb.alloc(1, &[gc_core::Value::NIL], &[]).unwrap();
            mb.set(obj, 0, from_a.into());
        });
    });
}
