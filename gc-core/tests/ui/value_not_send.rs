use gc_core::{Heap, HeapConfig, NoGc, Value};

fn main() {
    let mut heap = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
    heap.mutate(|m| {
        let v: Value<'_> = m.alloc(1, &[], &[]).unwrap().into();
        std::thread::scope(|s| {
            s.spawn(move || v.is_nil());
        });
    });
}
