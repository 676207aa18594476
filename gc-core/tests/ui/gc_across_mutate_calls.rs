use gc_core::{Gc, Heap, HeapConfig, NoGc};

fn main() {
    let mut heap = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
    let mut saved: Vec<Gc<'_>> = Vec::new();
    // Keeping a Gc from one mutate call for the next one.
    heap.mutate(|m| saved.push(m.alloc(1, &[], &[]).unwrap()));
    heap.mutate(|m| {
        let obj = m.alloc(1, &[gc_core::Value::NIL], &[]).unwrap();
        m.set(obj, 0, saved[0].into());
    });
}
