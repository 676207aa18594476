use gc_core::{Heap, HeapConfig, NoGc, Value};

fn main() {
    let mut heap = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
    let mut outside: Value<'_> = Value::NIL;
    // Storing a Value in a variable that outlives the closure.
    heap.mutate(|m| {
        outside = m.alloc(1, &[], &[]).unwrap().into();
    });
    let _ = outside;
}
