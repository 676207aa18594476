//! The disassembler (clox's `debug.c`), behind `lox --disassemble`.
//!
//! The format is clox's: a `== name ==` header per function, then one
//! line per instruction, `OFFSET LINE OPNAME operands`, with `   |` for a
//! line that repeats the previous byte's. Names, operand layouts and
//! lengths come from the opcode table ([`crate::chunk::info`]). Code is
//! shown as the VM runs it, after the peephole pass: a superinstruction
//! is printed under its own name with its first instruction's operands,
//! and the instructions it fuses follow at their own offsets, since their
//! bytes stay in place.
//!
//! A global access's constant holds the global's slot
//! ([`crate::compiler::Globals`]); it is printed as the name clox's
//! constant would hold.

use std::io::{self, Write};

use crate::chunk::{Operands, info};
use crate::compiler::Globals;
use crate::object::{FUNCTION, Function, display, str_text};

/// Writes the disassembly of `function` and of every function nested in
/// it, inner functions first (the order in which clox's compiler prints
/// them, as each is finished).
pub fn disassemble_all(
    out: &mut dyn Write,
    function: Function<'_>,
    globals: &Globals,
) -> io::Result<()> {
    for k in 0..function.constants() {
        if let Some(f) = function
            .constant(k)
            .as_gc()
            .filter(|g| g.kind() == FUNCTION)
        {
            disassemble_all(out, Function(f), globals)?;
        }
    }
    let name = function.name().map_or("<script>", str_text);
    disassemble(out, function, name, globals)
}

/// Writes the disassembly of one function's code (clox's
/// `disassembleChunk`).
pub fn disassemble(
    out: &mut dyn Write,
    function: Function<'_>,
    name: &str,
    globals: &Globals,
) -> io::Result<()> {
    writeln!(out, "== {name} ==")?;
    let mut offset = 0;
    while offset < function.info().code.len() {
        offset = disassemble_instruction(out, function, offset, globals)?;
    }
    Ok(())
}

/// Writes the instruction at `offset`; returns the next one's offset
/// (clox's `disassembleInstruction`).
pub fn disassemble_instruction(
    out: &mut dyn Write,
    function: Function<'_>,
    offset: usize,
    globals: &Globals,
) -> io::Result<usize> {
    let fi = function.info();
    let byte = |i: usize| fi.code.get(i).copied().unwrap_or(0);
    write!(out, "{offset:04} ")?;
    if offset > 0 && fi.line(offset) == fi.line(offset - 1) {
        write!(out, "   | ")?;
    } else {
        write!(out, "{:4} ", fi.line(offset))?;
    }
    let opcode = byte(offset);
    let Some(op) = info(opcode) else {
        writeln!(out, "Unknown opcode {opcode}")?;
        return Ok(offset + 1);
    };
    let name = op.name;
    let constant = |k: u8| display(function.constant(usize::from(k)));
    let operand = byte(offset + 1);
    match op.operands {
        Operands::None => writeln!(out, "{name}")?,
        Operands::Byte => writeln!(out, "{name:<16} {operand:4}")?,
        Operands::Constant => writeln!(out, "{name:<16} {operand:4} '{}'", constant(operand))?,
        Operands::Global => {
            let slot = function.constant(usize::from(operand)).as_number();
            let global = slot.map_or("?", |s| globals.name(s as usize));
            writeln!(out, "{name:<16} {operand:4} '{global}'")?;
        }
        Operands::Jump | Operands::Loop => {
            let jump = (usize::from(operand) << 8) | usize::from(byte(offset + 2));
            let next = offset + 3;
            let target = if op.operands == Operands::Jump {
                next + jump
            } else {
                next.wrapping_sub(jump)
            };
            writeln!(out, "{name:<16} {offset:4} -> {target}")?;
        }
        Operands::Invoke => {
            let argc = byte(offset + 2);
            writeln!(
                out,
                "{name:<16} ({argc} args) {operand:4} '{}'",
                constant(operand)
            )?;
        }
        Operands::Closure => {
            writeln!(out, "{name:<16} {operand:4} {}", constant(operand))?;
            let f = function.constant(usize::from(operand)).as_gc();
            let upvalues = f.map_or(0, |f| Function(f).upvalue_count());
            let mut at = offset + 2;
            for _ in 0..upvalues {
                let kind = if byte(at) == 1 { "local" } else { "upvalue" };
                let index = byte(at + 1);
                writeln!(out, "{at:04}      |                     {kind} {index}")?;
                at += 2;
            }
            return Ok(at);
        }
    }
    Ok(offset + op.operands.bytes())
}
