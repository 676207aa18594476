use gc_core::{CollectKind, Heap, HeapConfig, NoGc};

fn main() {
    let mut heap = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
    // A collection while references exist would invalidate them.
    heap.mutate(|m| {
        let g = m.alloc(1, &[], &[]).unwrap();
        heap.collect(CollectKind::Full);
        let _ = g.len();
    });
}
