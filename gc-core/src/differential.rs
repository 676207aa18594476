//! Differential testing: mutator programs run on a plain Rust model of the
//! object graph and on a heap; after every safepoint the graph reachable
//! from the roots, the weak handles' states and the identity hashes must
//! agree with the model.
//!
//! A program is a list of [`Op`]s. Operations name objects indirectly (an
//! index into the objects live at that moment, taken modulo their number),
//! so that every sub-list of a program is a valid program: that is what
//! lets proptest shrink a failing program to a minimal one (the workspace's
//! `tests/differential.rs`), and what the `gcbench soak` command uses with
//! seeded random programs ([`random_program`]).
//!
//! Each object's bytes start with its model id, so the heap's graph is
//! matched against the model without a side table.

use crate::{CollectKind, Collector, Gc, Heap, Persistent, Value, WeakHandle};

/// A value an operation stores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pick {
    /// `nil`.
    Nil,
    /// A number.
    Num(u16),
    /// The `k % n`-th of the `n` objects reachable now (nil if none).
    Obj(u16),
}

/// One step of a mutator program.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Allocates an object with these slots and 8 + `extra % 9` bytes.
    Alloc {
        /// Slot values.
        slots: Vec<Pick>,
        /// Extra raw bytes after the id.
        extra: u8,
    },
    /// Writes slot `slot % len` of a reachable object.
    Set {
        /// Which object.
        obj: u16,
        /// Which slot.
        slot: u8,
        /// The value.
        val: Pick,
    },
    /// Makes a persistent root for a reachable object (and records its
    /// identity hash, which must not change while it lives).
    Root(u16),
    /// Drops the `k % n`-th persistent root.
    Unroot(u16),
    /// Makes a weak handle to a reachable object.
    Weak(u16),
    /// Pushes a value on the root stack.
    Push(Pick),
    /// Pops the root stack.
    Pop,
    /// Ends the current `mutate` call, then forces a collection if given.
    End(Option<CollectKind>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum MVal {
    Nil,
    Num(f64),
    Ref(usize),
}

struct MObj {
    slots: Vec<MVal>,
    bytes: Vec<u8>,
}

/// What a run did.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunStats {
    /// `mutate` calls.
    pub rounds: u64,
    /// Objects allocated.
    pub allocated: u64,
    /// Allocations that failed with an error (heap limit).
    pub alloc_errors: u64,
}

/// A small xorshift generator (programs must be reproducible from a seed).
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A random program of about `rounds` `mutate` calls, reproducible from
/// `seed`.
pub fn random_program(seed: u64, rounds: usize) -> Vec<Op> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let pick = |rng: &mut Rng| match rng.below(4) {
        0 => Pick::Nil,
        1 => Pick::Num(rng.below(1000) as u16),
        _ => Pick::Obj(rng.below(1 << 16) as u16),
    };
    let mut ops = Vec::new();
    for _ in 0..rounds {
        for _ in 0..1 + rng.below(24) {
            let k = rng.below(1 << 16) as u16;
            ops.push(match rng.below(10) {
                0..=3 => Op::Alloc {
                    slots: (0..rng.below(4)).map(|_| pick(&mut rng)).collect(),
                    extra: rng.below(9) as u8,
                },
                4 | 5 => Op::Set {
                    obj: k,
                    slot: rng.below(4) as u8,
                    val: pick(&mut rng),
                },
                6 => Op::Root(k),
                7 => Op::Unroot(k),
                8 => Op::Weak(k),
                _ if rng.below(2) == 0 => Op::Push(pick(&mut rng)),
                _ => Op::Pop,
            });
        }
        ops.push(Op::End(match rng.below(6) {
            0 => Some(CollectKind::Minor),
            1 => Some(CollectKind::Major),
            2 => Some(CollectKind::Full),
            _ => None,
        }));
    }
    ops
}

fn id_of(g: Gc<'_>) -> usize {
    let b = g.bytes();
    u64::from_le_bytes(b[..8].try_into().expect("id bytes")) as usize
}

/// Ids reachable from `roots` in the model.
fn reachable(objs: &[MObj], roots: impl Iterator<Item = usize>) -> Vec<bool> {
    let mut seen = vec![false; objs.len()];
    let mut work: Vec<usize> = roots.collect();
    while let Some(i) = work.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        work.extend(objs[i].slots.iter().filter_map(|s| match *s {
            MVal::Ref(j) => Some(j),
            _ => None,
        }));
    }
    seen
}

fn to_value<'gc>(v: MVal, map: &[Option<Gc<'gc>>]) -> Value<'gc> {
    match v {
        MVal::Nil => Value::NIL,
        MVal::Num(n) => Value::number(n),
        MVal::Ref(i) => map[i].expect("reachable object").into(),
    }
}

/// Runs `ops` on `heap` and on the model, checking after every safepoint.
/// `Err` describes the first disagreement.
pub fn run<C: Collector>(heap: &mut Heap<C>, ops: &[Op]) -> Result<RunStats, String> {
    let reclaims = C::CAPABILITIES.reclaims;
    let mut objs: Vec<MObj> = Vec::new();
    let mut roots: Vec<(usize, Persistent)> = Vec::new();
    let mut stack: Vec<MVal> = Vec::new();
    let mut weaks: Vec<(usize, WeakHandle)> = Vec::new();
    let mut hashes: Vec<Option<u64>> = Vec::new();
    let mut last_full = false;
    let mut stats = RunStats::default();
    let mut rest = ops;
    loop {
        let round = stats.rounds;
        let n = rest
            .iter()
            .position(|o| matches!(o, Op::End(_)))
            .map_or(rest.len(), |i| i + 1);
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let root_ids = roots
            .iter()
            .map(|r| r.0)
            .chain(stack.iter().filter_map(|v| match v {
                MVal::Ref(i) => Some(*i),
                _ => None,
            }));
        let live = reachable(&objs, root_ids);
        stats.rounds += 1;
        let step: Result<(), String> = heap.mutate(|m| {
            // Map every live model id to its object, checking the graph.
            let mut map: Vec<Option<Gc<'_>>> = vec![None; objs.len()];
            let mut work: Vec<Gc<'_>> = roots.iter().map(|(_, p)| m.fetch(p)).collect();
            work.extend((0..m.stack_len()).filter_map(|i| m.stack_get(i).as_gc()));
            while let Some(g) = work.pop() {
                let id = id_of(g);
                if id >= objs.len() || !live[id] {
                    return Err(format!(
                        "round {round}: reached object {id}, which the model says is dead or unknown"
                    ));
                }
                if map[id].is_some() {
                    continue;
                }
                map[id] = Some(g);
                let o = &objs[id];
                if g.bytes() != o.bytes.as_slice() || g.len() != o.slots.len() {
                    return Err(format!("round {round}: object {id} has wrong bytes or length"));
                }
                for (k, s) in o.slots.iter().enumerate() {
                    let v = g.get(k);
                    let ok = match *s {
                        MVal::Nil => v.is_nil(),
                        MVal::Num(n) => v.as_number() == Some(n),
                        MVal::Ref(j) => v.as_gc().is_some_and(|t| {
                            work.push(t);
                            id_of(t) == j
                        }),
                    };
                    if !ok {
                        return Err(format!("round {round}: slot {k} of object {id} differs"));
                    }
                }
                if let Some(h) = hashes[id]
                    && m.identity_hash(g) != h
                {
                    return Err(format!("round {round}: identity hash of {id} changed"));
                }
            }
            let reached = map.iter().filter(|g| g.is_some()).count();
            let expected = live.iter().filter(|&&l| l).count();
            if reached != expected {
                return Err(format!(
                    "round {round}: reached {reached} objects, the model has {expected}"
                ));
            }
            for (id, w) in &weaks {
                match (m.upgrade(w), live[*id]) {
                    (Some(g), _) if id_of(g) != *id => {
                        return Err(format!("round {round}: weak handle to {id} points elsewhere"));
                    }
                    (None, true) => {
                        return Err(format!("round {round}: weak handle to live {id} cleared"));
                    }
                    (Some(_), false) if reclaims && last_full => {
                        return Err(format!(
                            "round {round}: weak handle to dead {id} survived a full collection"
                        ));
                    }
                    _ => {}
                }
            }
            // This round's operations.
            let mut access: Vec<usize> = (0..objs.len()).filter(|&i| live[i]).collect();
            let resolve = |p: Pick, access: &[usize]| match p {
                Pick::Nil => MVal::Nil,
                Pick::Num(n) => MVal::Num(f64::from(n)),
                Pick::Obj(_) if access.is_empty() => MVal::Nil,
                Pick::Obj(k) => MVal::Ref(access[k as usize % access.len()]),
            };
            let obj = |k: u16, access: &[usize]| {
                (!access.is_empty()).then(|| access[k as usize % access.len()])
            };
            for op in chunk {
                match op {
                    Op::Alloc { slots, extra } => {
                        let slots: Vec<MVal> = slots.iter().map(|p| resolve(*p, &access)).collect();
                        let id = objs.len();
                        let mut bytes = (id as u64).to_le_bytes().to_vec();
                        bytes.extend(0..extra % 9);
                        let vals: Vec<Value<'_>> = slots.iter().map(|v| to_value(*v, &map)).collect();
                        match m.alloc(1, &vals, &bytes) {
                            Ok(g) => {
                                objs.push(MObj { slots, bytes });
                                map.push(Some(g));
                                hashes.push(None);
                                access.push(id);
                                stats.allocated += 1;
                            }
                            Err(_) => stats.alloc_errors += 1,
                        }
                    }
                    Op::Set { obj: o, slot, val } => {
                        if let Some(id) = obj(*o, &access)
                            && !objs[id].slots.is_empty()
                        {
                            let k = *slot as usize % objs[id].slots.len();
                            let v = resolve(*val, &access);
                            m.set(map[id].expect("reachable"), k, to_value(v, &map));
                            objs[id].slots[k] = v;
                        }
                    }
                    Op::Root(o) => {
                        if let Some(id) = obj(*o, &access) {
                            let g = map[id].expect("reachable");
                            roots.push((id, m.persist(g)));
                            hashes[id] = Some(m.identity_hash(g));
                        }
                    }
                    Op::Unroot(k) => {
                        if !roots.is_empty() {
                            roots.swap_remove(*k as usize % roots.len());
                        }
                    }
                    Op::Weak(o) => {
                        if let Some(id) = obj(*o, &access) {
                            weaks.push((id, m.downgrade(map[id].expect("reachable"))));
                        }
                    }
                    Op::Push(p) => {
                        let v = resolve(*p, &access);
                        m.stack_push(to_value(v, &map));
                        stack.push(v);
                    }
                    Op::Pop => {
                        if stack.pop().is_some() {
                            m.stack_pop();
                        }
                    }
                    Op::End(_) => {}
                }
            }
            Ok(())
        });
        step?;
        last_full = false;
        match chunk.last() {
            // An empty round after the last operation checked the final
            // state.
            None => return Ok(stats),
            Some(Op::End(Some(kind))) => {
                heap.collect(*kind);
                last_full = *kind == CollectKind::Full;
            }
            Some(_) => {}
        }
    }
}
