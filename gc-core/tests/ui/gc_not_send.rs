use gc_core::{Heap, HeapConfig, NoGc};

fn main() {
    let mut heap = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
    // Branded references belong to the mutator thread.
    heap.mutate(|m| {
        let g = m.alloc(1, &[], &[]).unwrap();
        std::thread::scope(|s| {
            s.spawn(move || g.len());
        });
    });
}
