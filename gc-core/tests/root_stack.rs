//! The `RootStack` guard's contract: exclusive while alive, put back on
//! drop (also while unwinding), harmless when leaked.

use std::panic::{AssertUnwindSafe, catch_unwind};

use gc_core::{Heap, HeapConfig, NoGc, Value};

fn heap() -> Heap<NoGc> {
    Heap::new(HeapConfig::default()).unwrap()
}

#[test]
fn stack_methods_panic_while_the_guard_lives() {
    let mut h = heap();
    h.mutate(|m| {
        m.stack_push(Value::number(1.0));
        let guard = m.root_stack();
        let r = catch_unwind(AssertUnwindSafe(|| m.stack_push(Value::NIL)));
        assert!(
            r.is_err(),
            "stack_push must refuse while a guard holds the stack"
        );
        let r = catch_unwind(AssertUnwindSafe(|| m.root_stack()));
        assert!(r.is_err(), "a second guard must be refused");
        assert_eq!(guard.len(), 1);
        drop(guard);
        // Back in the heap: the plain methods work again.
        m.stack_push(Value::number(2.0));
        assert_eq!(m.stack_len(), 2);
    });
}

#[test]
fn the_guard_puts_the_stack_back_when_unwinding() {
    let mut h = heap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        h.mutate(|m| {
            let mut s = m.root_stack();
            s.push(Value::number(7.0));
            panic!("embedder bug");
        })
    }));
    assert!(r.is_err());
    h.mutate(|m| {
        assert_eq!(m.stack_len(), 1);
        assert_eq!(m.stack_pop().and_then(|v| v.as_number()), Some(7.0));
    });
}

#[test]
fn a_leaked_guard_does_not_break_the_heap() {
    let mut h = heap();
    h.mutate(|m| {
        // An empty stack has no buffer, so forgetting the guard leaks
        // nothing (this test also runs under valgrind); a guard holding
        // values would leak them, and they would stop being roots.
        let s = m.root_stack();
        std::mem::forget(s);
        let r = catch_unwind(AssertUnwindSafe(|| m.stack_push(Value::NIL)));
        assert!(r.is_err(), "the stack stays taken until the next safepoint");
    });
    // The next safepoint frees the stack for use again.
    h.mutate(|m| {
        assert_eq!(m.stack_len(), 0);
        m.stack_push(Value::NIL);
        assert_eq!(m.stack_len(), 1);
    });
}
