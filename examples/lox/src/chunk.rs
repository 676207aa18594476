//! Bytecode: the opcodes and the one table that describes them (clox's
//! `chunk.h`), and the peephole pass that fuses common sequences into
//! superinstructions.
//!
//! `opcodes!` lists every opcode once, with its number, its operand
//! layout ([`Operands`], which gives its length) and, for a
//! superinstruction, the sequence of base instructions it stands for. From
//! that list come the `op` constants and the table ([`info`]), whose
//! names are clox's (`OP_` and the constant's name). The compiler emits `op` constants, [`fuse`] walks code with the table's
//! lengths, the VM skips sequences by their lengths ([`len_of`],
//! [`rest_of`], evaluated at compile time) and the disassembler
//! ([`crate::debug`]) prints with the table's names and layouts.
//!
//! A chunk's code lives in its `FUNCTION` object's bytes (see
//! [`crate::object`]); its constants are the function's slots.

/// How an instruction's operand bytes follow its opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operands {
    /// No operand.
    None,
    /// One byte: a stack slot or an argument count.
    Byte,
    /// One byte: a constant index.
    Constant,
    /// One byte: the index of a constant holding a global's slot
    /// ([`crate::compiler::Globals`]).
    Global,
    /// Two bytes, big-endian: a forward jump from the next instruction.
    Jump,
    /// Two bytes, big-endian: a backward jump from the next instruction.
    Loop,
    /// A constant index (the method name), then an argument count.
    Invoke,
    /// A constant index (the function), then two bytes (is-local, index)
    /// per upvalue of that function.
    Closure,
}

impl Operands {
    /// The instruction's length in bytes, opcode included (for `Closure`,
    /// without the upvalue pairs).
    pub const fn bytes(self) -> usize {
        match self {
            Operands::None => 1,
            Operands::Byte | Operands::Constant | Operands::Global | Operands::Closure => 2,
            Operands::Jump | Operands::Loop | Operands::Invoke => 3,
        }
    }
}

/// What the table knows about one opcode.
#[derive(Clone, Copy, Debug)]
pub struct OpInfo {
    /// clox's name (`OP_CONSTANT`), or a superinstruction's own.
    pub name: &'static str,
    /// The operands after the opcode. A superinstruction is only the first
    /// byte of its sequence, so these are its first instruction's.
    pub operands: Operands,
    /// For a superinstruction, the base instructions it stands for, in
    /// order; empty for a base instruction.
    pub fuses: &'static [u8],
}

impl OpInfo {
    /// Whether this is a superinstruction.
    pub const fn is_fused(&self) -> bool {
        !self.fuses.is_empty()
    }
}

macro_rules! opcodes {
    ($(
        $(#[$doc:meta])*
        $name:ident = $code:literal, $operands:ident $(, fuses [$($part:ident),+])?;
    )*) => {
        /// The opcodes, named and numbered as in clox's `chunk.h`, then
        /// the superinstructions (see [`fuse`](crate::chunk::fuse)): only ever
        /// the first byte of a sequence of base instructions, whose bytes
        /// stay in place.
        #[allow(missing_docs)]
        pub mod op {
            $( $(#[$doc])* pub const $name: u8 = $code; )*
        }

        const TABLE: [Option<OpInfo>; 256] = {
            let mut t = [None; 256];
            $(
                t[op::$name as usize] = Some(OpInfo {
                    name: concat!("OP_", stringify!($name)),
                    operands: Operands::$operands,
                    fuses: &[$($(op::$part),+)?],
                });
            )*
            t
        };
    };
}

opcodes! {
    CONSTANT = 0, Constant;
    NIL = 1, None;
    TRUE = 2, None;
    FALSE = 3, None;
    POP = 4, None;
    GET_LOCAL = 5, Byte;
    SET_LOCAL = 6, Byte;
    GET_GLOBAL = 7, Global;
    DEFINE_GLOBAL = 8, Constant;
    SET_GLOBAL = 9, Global;
    GET_UPVALUE = 10, Byte;
    SET_UPVALUE = 11, Byte;
    GET_PROPERTY = 12, Constant;
    SET_PROPERTY = 13, Constant;
    GET_SUPER = 14, Constant;
    EQUAL = 15, None;
    GREATER = 16, None;
    LESS = 17, None;
    ADD = 18, None;
    SUBTRACT = 19, None;
    MULTIPLY = 20, None;
    DIVIDE = 21, None;
    NOT = 22, None;
    NEGATE = 23, None;
    PRINT = 24, None;
    JUMP = 25, Jump;
    JUMP_IF_FALSE = 26, Jump;
    LOOP = 27, Loop;
    CALL = 28, Byte;
    INVOKE = 29, Invoke;
    SUPER_INVOKE = 30, Invoke;
    CLOSURE = 31, Closure;
    CLOSE_UPVALUE = 32, None;
    RETURN = 33, None;
    CLASS = 34, Constant;
    INHERIT = 35, None;
    METHOD = 36, Constant;

    /// `GET_LOCAL a; GET_PROPERTY k`.
    LOCAL_PROPERTY = 37, Byte, fuses [GET_LOCAL, GET_PROPERTY];
    /// `JUMP_IF_FALSE off; POP` where the jump lands on a `POP` too.
    TEST_POP = 40, Jump, fuses [JUMP_IF_FALSE, POP];
    /// `GET_LOCAL a; GET_LOCAL b`.
    LOCAL_LOCAL = 41, Byte, fuses [GET_LOCAL, GET_LOCAL];
    /// `NIL; POP`, `TRUE; POP` or `FALSE; POP`: nothing.
    LITERAL_POP = 42, None, fuses [NIL, POP];
    /// `POP; GET_LOCAL a`.
    POP_LOCAL = 43, None, fuses [POP, GET_LOCAL];
    /// `CONSTANT k; POP`: nothing.
    CONSTANT_POP = 44, Constant, fuses [CONSTANT, POP];
    /// `NIL; RETURN`.
    RETURN_NIL = 45, None, fuses [NIL, RETURN];
    /// `GET_LOCAL a; RETURN`.
    RETURN_LOCAL = 46, Byte, fuses [GET_LOCAL, RETURN];
    /// `GET_GLOBAL g; INVOKE k argc`.
    GLOBAL_INVOKE = 47, Global, fuses [GET_GLOBAL, INVOKE];
    /// `GET_LOCAL a; GET_PROPERTY k; RETURN` (a getter's body).
    LOCAL_PROPERTY_RETURN = 48, Byte, fuses [GET_LOCAL, GET_PROPERTY, RETURN];
    /// `GET_LOCAL a; GET_PROPERTY k; INVOKE k2 argc` (`this.field.method()`).
    LOCAL_PROPERTY_INVOKE = 49, Byte, fuses [GET_LOCAL, GET_PROPERTY, INVOKE];

    // `GET_LOCAL a; CONSTANT k; <op>`, `GET_GLOBAL g; CONSTANT k; <op>`
    // and `CONSTANT k; <op>` (applied to whatever is on top): one opcode
    // per operator (`<FAMILY>_EQ + (op - EQUAL)`), so that the operator
    // costs no second dispatch.
    LOCAL_CONSTANT_EQ = 64, Byte, fuses [GET_LOCAL, CONSTANT, EQUAL];
    LOCAL_CONSTANT_GT = 65, Byte, fuses [GET_LOCAL, CONSTANT, GREATER];
    LOCAL_CONSTANT_LT = 66, Byte, fuses [GET_LOCAL, CONSTANT, LESS];
    LOCAL_CONSTANT_ADD = 67, Byte, fuses [GET_LOCAL, CONSTANT, ADD];
    LOCAL_CONSTANT_SUB = 68, Byte, fuses [GET_LOCAL, CONSTANT, SUBTRACT];
    LOCAL_CONSTANT_MUL = 69, Byte, fuses [GET_LOCAL, CONSTANT, MULTIPLY];
    LOCAL_CONSTANT_DIV = 70, Byte, fuses [GET_LOCAL, CONSTANT, DIVIDE];
    GLOBAL_CONSTANT_EQ = 72, Global, fuses [GET_GLOBAL, CONSTANT, EQUAL];
    GLOBAL_CONSTANT_GT = 73, Global, fuses [GET_GLOBAL, CONSTANT, GREATER];
    GLOBAL_CONSTANT_LT = 74, Global, fuses [GET_GLOBAL, CONSTANT, LESS];
    GLOBAL_CONSTANT_ADD = 75, Global, fuses [GET_GLOBAL, CONSTANT, ADD];
    GLOBAL_CONSTANT_SUB = 76, Global, fuses [GET_GLOBAL, CONSTANT, SUBTRACT];
    GLOBAL_CONSTANT_MUL = 77, Global, fuses [GET_GLOBAL, CONSTANT, MULTIPLY];
    GLOBAL_CONSTANT_DIV = 78, Global, fuses [GET_GLOBAL, CONSTANT, DIVIDE];
    CONSTANT_EQ = 80, Constant, fuses [CONSTANT, EQUAL];
    CONSTANT_GT = 81, Constant, fuses [CONSTANT, GREATER];
    CONSTANT_LT = 82, Constant, fuses [CONSTANT, LESS];
    CONSTANT_ADD = 83, Constant, fuses [CONSTANT, ADD];
    CONSTANT_SUB = 84, Constant, fuses [CONSTANT, SUBTRACT];
    CONSTANT_MUL = 85, Constant, fuses [CONSTANT, MULTIPLY];
    CONSTANT_DIV = 86, Constant, fuses [CONSTANT, DIVIDE];
}

// The fused arithmetic families index by `op - EQUAL`.
const _: () = assert!(
    op::GREATER == op::EQUAL + 1
        && op::LESS == op::EQUAL + 2
        && op::ADD == op::EQUAL + 3
        && op::SUBTRACT == op::EQUAL + 4
        && op::MULTIPLY == op::EQUAL + 5
        && op::DIVIDE == op::EQUAL + 6
);

/// The table, where code reads it at run time.
static OPCODES: [Option<OpInfo>; 256] = TABLE;

/// The table's entry for `opcode`, if it is one.
#[inline]
pub fn info(opcode: u8) -> Option<&'static OpInfo> {
    OPCODES[usize::from(opcode)].as_ref()
}

/// The length of a fixed-length opcode (a `CLOSURE` counts 2), at
/// compile time.
const fn len(opcode: u8) -> usize {
    match TABLE[opcode as usize] {
        Some(i) => i.operands.bytes(),
        None => panic!("not an opcode"),
    }
}

/// Total length of the instructions `ops`, in bytes (for the VM, at
/// compile time: how far a superinstruction skips).
pub const fn len_of(ops: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < ops.len() {
        n += len(ops[i]);
        i += 1;
    }
    n
}

/// [`len_of`] less the first opcode: how far `ip`, just past a sequence's
/// first opcode, moves to get past the whole sequence.
pub const fn rest_of(ops: &[u8]) -> usize {
    len_of(ops) - 1
}

/// Length in bytes of the instruction at `at` of `code`
/// (`closure_upvalues` gives the upvalue count of a function constant,
/// for `CLOSURE`'s operands), if its opcode is in the table and its
/// operands are within `code`'s bounds as far as the length needs.
pub fn instruction_len(
    code: &[u8],
    at: usize,
    closure_upvalues: impl Fn(u8) -> usize,
) -> Option<usize> {
    let i = info(*code.get(at)?)?;
    Some(match i.operands {
        Operands::Closure => 2 + 2 * closure_upvalues(*code.get(at + 1)?),
        o => o.bytes(),
    })
}

/// The peephole pass: rewrites the first byte of common instruction
/// sequences to a superinstruction that does the whole sequence in one
/// dispatch. Only that byte changes, so the code keeps clox's length
/// (every limit on jumps and constants falls where clox's does), a jump
/// into the middle of a sequence still finds the original instructions
/// there, and the line table still matches. When its fast path does not
/// apply (a local that is not an instance, operands that are not
/// numbers), a superinstruction does what its first instruction would
/// and carries on with the second, so errors are exactly clox's.
pub fn fuse(code: &mut [u8], closure_upvalues: impl Fn(u8) -> usize) {
    use op::*;
    let mut at = 0;
    let mut lens = Vec::new();
    while at < code.len() {
        // Only base instructions: anything else is not code this pass
        // understands, and it leaves it alone.
        let base = info(code[at]).is_some_and(|i| !i.is_fused());
        let Some(n) = instruction_len(code, at, &closure_upvalues).filter(|_| base) else {
            return;
        };
        lens.push((at, n));
        at += n;
    }
    let op_at = |i: usize| lens.get(i).map(|&(a, _)| code[a]);
    let mut rewrites = Vec::new();
    for (i, &(a, _)) in lens.iter().enumerate() {
        let arith = |o: Option<u8>| {
            matches!(
                o,
                Some(ADD | SUBTRACT | MULTIPLY | DIVIDE | LESS | GREATER | EQUAL)
            )
        };
        let fused = match (op_at(i), op_at(i + 1), op_at(i + 2)) {
            (Some(GET_LOCAL), Some(GET_PROPERTY), Some(RETURN)) => Some(LOCAL_PROPERTY_RETURN),
            (Some(GET_LOCAL), Some(GET_PROPERTY), Some(INVOKE)) => Some(LOCAL_PROPERTY_INVOKE),
            (Some(GET_LOCAL), Some(GET_PROPERTY), _) => Some(LOCAL_PROPERTY),
            (Some(GET_GLOBAL), Some(INVOKE), _) => Some(GLOBAL_INVOKE),
            (Some(GET_LOCAL), Some(RETURN), _) => Some(RETURN_LOCAL),
            (Some(NIL), Some(RETURN), _) => Some(RETURN_NIL),
            (Some(GET_LOCAL), Some(CONSTANT), Some(third)) if arith(Some(third)) => {
                Some(LOCAL_CONSTANT_EQ + (third - EQUAL))
            }
            (Some(GET_GLOBAL), Some(CONSTANT), Some(third)) if arith(Some(third)) => {
                Some(GLOBAL_CONSTANT_EQ + (third - EQUAL))
            }
            (Some(JUMP_IF_FALSE), Some(POP), _) => {
                let off = (usize::from(code[a + 1]) << 8) | usize::from(code[a + 2]);
                (code.get(a + 3 + off) == Some(&POP)).then_some(TEST_POP)
            }
            (Some(GET_LOCAL), Some(GET_LOCAL), _) => Some(LOCAL_LOCAL),
            (Some(CONSTANT), Some(POP), _) => Some(CONSTANT_POP),
            (Some(CONSTANT), Some(second), _) if arith(Some(second)) => {
                Some(CONSTANT_EQ + (second - EQUAL))
            }
            (Some(NIL | TRUE | FALSE), Some(POP), _) => Some(LITERAL_POP),
            (Some(POP), Some(GET_LOCAL), _) => Some(POP_LOCAL),
            _ => None,
        };
        if let Some(f) = fused {
            rewrites.push((a, f));
        }
    }
    for (a, f) in rewrites {
        code[a] = f;
    }
}

#[cfg(test)]
mod tests {
    use super::{Operands, fuse, info, op::*};

    #[test]
    fn fuse_rewrites_first_bytes_only() {
        // if (a < k) {...}: GET_LOCAL 1; CONSTANT 0; LESS;
        // JUMP_IF_FALSE +2 (onto the else-branch POP); POP; POP; RETURN
        // (the POP at offset 9 is the jump's target).
        let original = [
            GET_LOCAL,
            1,
            CONSTANT,
            0,
            LESS,
            JUMP_IF_FALSE,
            0,
            1,
            POP,
            POP,
            RETURN,
        ];
        let mut code = original;
        fuse(&mut code, |_| 0);
        assert_eq!(code[0], LOCAL_CONSTANT_LT);
        // Overlapping sequences fuse too: entering at the CONSTANT (a jump
        // there) still takes a fused path.
        assert_eq!(code[2], CONSTANT_LT);
        assert_eq!(code[5], TEST_POP);
        // Every other byte is untouched, so jumps into the middle of a
        // sequence find the original instructions.
        for i in (0..code.len()).filter(|&i| ![0, 2, 5].contains(&i)) {
            assert_eq!(code[i], original[i], "byte {i}");
        }
    }

    #[test]
    fn fuse_leaves_unfusable_code_alone() {
        // The jump lands on RETURN, not on a POP: no TEST_POP.
        let mut code = [TRUE, JUMP_IF_FALSE, 0, 1, POP, RETURN];
        fuse(&mut code, |_| 0);
        assert_eq!(code, [TRUE, JUMP_IF_FALSE, 0, 1, POP, RETURN]);
        // Unknown bytes stop the pass without touching anything.
        let mut junk = [GET_LOCAL, 0, GET_PROPERTY, 1, 250, GET_LOCAL, 0, GET_LOCAL];
        fuse(&mut junk, |_| 0);
        assert_eq!(junk[0], GET_LOCAL);
        // So does a superinstruction: the pass only reads base code.
        let mut fused = [GET_LOCAL, 0, GET_PROPERTY, 1, LOCAL_LOCAL, 0, GET_LOCAL, 1];
        fuse(&mut fused, |_| 0);
        assert_eq!(fused[0], GET_LOCAL);
    }

    #[test]
    fn fuse_skips_closure_operands() {
        // CLOSURE 0 with two upvalues (4 operand bytes that look like
        // GET_LOCAL/GET_PROPERTY), then GET_LOCAL 0; GET_LOCAL 1.
        let mut code = [
            CLOSURE,
            0,
            GET_LOCAL,
            1,
            GET_PROPERTY,
            1,
            GET_LOCAL,
            0,
            GET_LOCAL,
            1,
            RETURN,
        ];
        fuse(&mut code, |_| 2);
        assert_eq!(code[2], GET_LOCAL, "an operand is not an instruction");
        assert_eq!(code[6], LOCAL_LOCAL);
    }

    /// Every superinstruction's table entry agrees with the pass: its
    /// sequence (with zero operands) fuses to it, and its operands are
    /// its first instruction's.
    #[test]
    fn table_matches_fuse() {
        for opcode in 0..=u8::MAX {
            let Some(i) = info(opcode) else { continue };
            if !i.is_fused() {
                assert!(i.name.starts_with("OP_"));
                continue;
            }
            let first = info(i.fuses[0]).expect("a base instruction");
            assert_eq!(i.operands, first.operands, "{}", i.name);
            let mut code = Vec::new();
            for &part in i.fuses {
                code.push(part);
                let n = info(part).expect("a base instruction").operands.bytes();
                code.extend(std::iter::repeat_n(0, n - 1));
            }
            if opcode == TEST_POP {
                // The jump must land on a POP: jump over nothing, onto a
                // second POP.
                code.push(POP);
            }
            fuse(&mut code, |_| 0);
            assert_eq!(code[0], opcode, "{}", i.name);
        }
        assert_eq!(info(CLOSURE).map(|i| i.operands), Some(Operands::Closure));
    }
}
