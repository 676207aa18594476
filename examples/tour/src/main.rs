//! `tour`: a binary-trees workload (Boehm's GCBench shape, smaller) on
//! every collector this build has, with each heap's GC statistics.
//!
//! Run with `cargo run --release -p tour`. The Lox VM and `gcbench`
//! replace it as the main job once they land.

use std::time::Instant;

use gc_runtime::{Collector, Heap, HeapConfig, HeapVisitor, Mutator, Strategy, Value};

const NODE: u16 = 1;

fn tree<'gc, C: Collector>(m: &Mutator<'gc, C>, depth: u32) -> Value<'gc> {
    // Bottom-up, iteratively: build each level from the one below it.
    let mut level: Vec<Value<'gc>> = vec![Value::NIL; 1 << depth];
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| m.alloc(NODE, p, &[]).expect("heap limit").into())
            .collect();
    }
    m.alloc(NODE, &[level[0], Value::NIL], &[])
        .expect("heap limit")
        .into()
}

fn count(v: Value<'_>) -> usize {
    let mut stack = vec![v];
    let mut n = 0;
    while let Some(v) = stack.pop() {
        if let Some(g) = v.as_gc() {
            n += 1;
            stack.extend((0..g.len()).map(|i| g.get(i)));
        }
    }
    n
}

struct BinaryTrees {
    max_depth: u32,
}

impl HeapVisitor for BinaryTrees {
    type Output = (std::time::Duration, usize);

    fn visit<C: Collector>(self, mut heap: Heap<C>) -> Self::Output {
        let start = Instant::now();
        let long_lived = heap.mutate(|m| m.persist(tree(m, self.max_depth).as_gc().unwrap()));
        let mut checked = 0;
        for depth in (4..=self.max_depth).step_by(2) {
            let iterations = 1 << (self.max_depth - depth + 4);
            for _ in 0..iterations / 16 {
                checked += heap.mutate(|m| (0..16).map(|_| count(tree(m, depth))).sum::<usize>());
            }
        }
        checked += heap.mutate(|m| count(m.fetch(&long_lived).into()));
        let elapsed = start.elapsed();
        println!("{}", heap.stats());
        (elapsed, checked)
    }
}

fn main() {
    let max_depth = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(14);
    for s in Strategy::ALL {
        println!("== {s}");
        match s.run(HeapConfig::default(), BinaryTrees { max_depth }) {
            Ok((t, nodes)) => println!("   {nodes} nodes checked in {:.3}s\n", t.as_secs_f64()),
            Err(e) => println!("   error: {e}\n"),
        }
    }
}
