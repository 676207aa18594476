use gc_core::{CollectKind, Heap, HeapConfig, NoGc, Persistent, Value};

fn main() {
    let mut heap = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
    // A Persistent has no brand: it is the way to keep an object across
    // mutate calls and collections.
    let root: Persistent = heap.mutate(|m| {
        let g = m.alloc(1, &[Value::number(7.0)], b"kept").unwrap();
        m.persist(g)
    });
    heap.collect(CollectKind::Full);
    let n = heap.mutate(|m| m.fetch(&root).get(0).as_number());
    assert_eq!(n, Some(7.0));
    // Plain data computed from branded values can leave, of course.
    let bytes: Vec<u8> = heap.mutate(|m| m.fetch(&root).bytes().to_vec());
    assert_eq!(bytes, b"kept");
}
