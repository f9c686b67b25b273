//! The stack machine behind [`super::load`]: reads opcodes, keeps the stack, the MARK stack and the
//! memo. What `REDUCE` and `BUILD` mean for the allow-listed numpy globals is in [`numpy`].

mod numpy;
mod opcodes;

use std::collections::HashMap;
use std::io::Read;
use std::rc::Rc;

use super::value::{Dtype, NdArray, PyValue};
use super::{PickleError, MAX_DEPTH};
use numpy::{allowed_global, resolve, Global};
use opcodes::*;

/// A value on the stack or in the memo; cheap to clone. Mutable objects live in the arena.
#[derive(Debug, Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Bytes(Rc<Vec<u8>>),
    Str(Rc<str>),
    Tuple(Rc<Vec<Value>>, usize),
    Global(Global),
    Obj(usize),
}

impl Value {
    fn depth(&self) -> usize {
        match self {
            Value::Tuple(_, d) => *d,
            _ => 0,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Bytes(_) => "bytes",
            Value::Str(_) => "str",
            Value::Tuple(..) => "tuple",
            Value::Global(_) => "global",
            Value::Obj(_) => "object",
        }
    }

    fn text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.to_string()),
            Value::Bytes(b) => std::str::from_utf8(b).ok().map(str::to_string),
            _ => None,
        }
    }
}

#[derive(Debug)]
enum Obj {
    List(Vec<Value>),
    Dtype { dtype: Dtype, order_set: bool },
    Array(Option<NdArray>),
    Taken,
}

pub(super) struct Machine<R> {
    r: R,
    pos: u64,
    op_at: u64,
    op: &'static str,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    objs: Vec<Obj>,
}

impl<R: Read> Machine<R> {
    pub(super) fn new(r: R) -> Self {
        Machine {
            r,
            pos: 0,
            op_at: 0,
            op: "",
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            objs: Vec::new(),
        }
    }

    pub(super) fn run(mut self) -> Result<PyValue, PickleError> {
        loop {
            self.op_at = self.pos;
            let opcode = self.byte("an opcode")?;
            if self.step(opcode)? {
                break;
            }
        }
        if self.stack.len() != 1 || !self.marks.is_empty() {
            return Err(self.malformed(format!(
                "STOP with {} values and {} marks left",
                self.stack.len(),
                self.marks.len()
            )));
        }
        let top = self.stack.pop().unwrap_or(Value::None);
        let mut objs = std::mem::take(&mut self.objs);
        resolve(&top, &mut objs, 0)
    }

    /// Executes one opcode; true on `STOP`.
    fn step(&mut self, opcode: u8) -> Result<bool, PickleError> {
        self.op = opcodes::name(opcode);
        match opcode {
            PROTO => {
                let version = self.byte("PROTO")?;
                if version > 5 {
                    return Err(PickleError::Protocol {
                        offset: self.op_at,
                        version,
                    });
                }
            }
            FRAME => {
                self.bytes_fixed::<8>()?;
            }
            STOP => return Ok(true),
            MARK => self.marks.push(self.stack.len()),
            GLOBAL => {
                let module = self.line()?;
                let name = self.line()?;
                self.push_global(module, name)?;
            }
            STACK_GLOBAL => {
                let name = self
                    .pop()?
                    .text()
                    .ok_or_else(|| self.malformed("name is not a string".into()))?;
                let module = self
                    .pop()?
                    .text()
                    .ok_or_else(|| self.malformed("module is not a string".into()))?;
                self.push_global(module, name)?;
            }
            BINPUT => {
                let i = u32::from(self.byte("BINPUT")?);
                self.put(i)?;
            }
            LONG_BINPUT => {
                let i = u32::from_le_bytes(self.bytes_fixed::<4>()?);
                self.put(i)?;
            }
            MEMOIZE => {
                let i = u32::try_from(self.memo.len())
                    .map_err(|_| self.malformed("memo full".into()))?;
                self.put(i)?;
            }
            BINGET => {
                let i = u32::from(self.byte("BINGET")?);
                self.get(i)?;
            }
            LONG_BINGET => {
                let i = u32::from_le_bytes(self.bytes_fixed::<4>()?);
                self.get(i)?;
            }
            TUPLE => {
                let items = self.pop_mark()?;
                self.push_tuple(items)?;
            }
            EMPTY_TUPLE => self.push_tuple(Vec::new())?,
            TUPLE1..=TUPLE3 => {
                let n = usize::from(opcode - TUPLE1 + 1);
                let floor = self.marks.last().copied().unwrap_or(0);
                if self.stack.len() < floor + n {
                    return Err(self.malformed(format!(
                        "needs {n} values above the MARK, stack has {}",
                        self.stack.len() - floor
                    )));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push_tuple(items)?;
            }
            EMPTY_LIST => {
                self.objs.push(Obj::List(Vec::new()));
                self.stack.push(Value::Obj(self.objs.len() - 1));
            }
            APPEND => {
                let v = self.pop()?;
                self.append(vec![v])?;
            }
            APPENDS => {
                let items = self.pop_mark()?;
                self.append(items)?;
            }
            REDUCE => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let v = self.reduce(callable, args)?;
                self.stack.push(v);
            }
            BUILD => {
                let state = self.pop()?;
                self.build(state)?;
            }
            SHORT_BINSTRING | SHORT_BINBYTES => {
                let n = usize::from(self.byte("a string length")?);
                let b = self.bytes(n as u64)?;
                self.stack.push(Value::Bytes(Rc::new(b)));
            }
            BINSTRING => {
                let n = i32::from_le_bytes(self.bytes_fixed::<4>()?);
                let n =
                    u64::try_from(n).map_err(|_| self.malformed(format!("negative length {n}")))?;
                let b = self.bytes(n)?;
                self.stack.push(Value::Bytes(Rc::new(b)));
            }
            BINBYTES => {
                let n = u32::from_le_bytes(self.bytes_fixed::<4>()?);
                let b = self.bytes(u64::from(n))?;
                self.stack.push(Value::Bytes(Rc::new(b)));
            }
            BINUNICODE | SHORT_BINUNICODE => {
                let n = if opcode == BINUNICODE {
                    u64::from(u32::from_le_bytes(self.bytes_fixed::<4>()?))
                } else {
                    u64::from(self.byte("a string length")?)
                };
                let b = self.bytes(n)?;
                let s = String::from_utf8(b)
                    .map_err(|_| self.malformed("string is not UTF-8".into()))?;
                self.stack.push(Value::Str(Rc::from(s)));
            }
            BININT => {
                let v = i32::from_le_bytes(self.bytes_fixed::<4>()?);
                self.stack.push(Value::Int(i64::from(v)));
            }
            BININT1 => {
                let v = self.byte("BININT1")?;
                self.stack.push(Value::Int(i64::from(v)));
            }
            BININT2 => {
                let v = u16::from_le_bytes(self.bytes_fixed::<2>()?);
                self.stack.push(Value::Int(i64::from(v)));
            }
            LONG1 => {
                let n = usize::from(self.byte("LONG1")?);
                if n > 8 {
                    return Err(self.malformed(format!("{n}-byte integer does not fit i64")));
                }
                let b = self.bytes(n as u64)?;
                let fill = if b.last().is_some_and(|&x| x & 0x80 != 0) {
                    0xff
                } else {
                    0
                };
                let mut le = [fill; 8];
                le[..n].copy_from_slice(&b);
                self.stack.push(Value::Int(i64::from_le_bytes(le)));
            }
            NEWTRUE => self.stack.push(Value::Bool(true)),
            NEWFALSE => self.stack.push(Value::Bool(false)),
            NONE => self.stack.push(Value::None),
            _ => {
                return Err(PickleError::UnsupportedOpcode {
                    offset: self.op_at,
                    opcode,
                })
            }
        }
        Ok(false)
    }

    fn malformed(&self, reason: String) -> PickleError {
        PickleError::Malformed {
            offset: self.op_at,
            opcode: self.op,
            reason,
        }
    }

    fn numpy(&self, what: &'static str, reason: String) -> PickleError {
        PickleError::Numpy {
            offset: self.op_at,
            what,
            reason,
        }
    }

    fn read_err(&self, what: &'static str, e: std::io::Error) -> PickleError {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            PickleError::Eof {
                offset: self.op_at,
                what,
            }
        } else {
            PickleError::Read {
                offset: self.op_at,
                source: e,
            }
        }
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, PickleError> {
        let mut b = [0u8; 1];
        self.r
            .read_exact(&mut b)
            .map_err(|e| self.read_err(what, e))?;
        self.pos += 1;
        Ok(b[0])
    }

    fn bytes_fixed<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let mut b = [0u8; N];
        self.r
            .read_exact(&mut b)
            .map_err(|e| self.read_err(self.op, e))?;
        self.pos += N as u64;
        Ok(b)
    }

    /// Reads `n` bytes, growing the buffer as data arrives (a length field alone allocates nothing).
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, PickleError> {
        let mut out = Vec::new();
        let got = (&mut self.r)
            .take(n)
            .read_to_end(&mut out)
            .map_err(|e| self.read_err(self.op, e))?;
        self.pos += got as u64;
        if (got as u64) < n {
            return Err(PickleError::Eof {
                offset: self.op_at,
                what: self.op,
            });
        }
        Ok(out)
    }

    /// A `GLOBAL` operand: up to 256 bytes of UTF-8 ending with LF.
    fn line(&mut self) -> Result<String, PickleError> {
        let mut out = Vec::new();
        loop {
            let b = self.byte("GLOBAL")?;
            if b == b'\n' {
                break;
            }
            if out.len() == 256 {
                return Err(self.malformed("name longer than 256 bytes".into()));
            }
            out.push(b);
        }
        String::from_utf8(out).map_err(|_| self.malformed("name is not UTF-8".into()))
    }

    fn push_global(&mut self, module: String, name: String) -> Result<(), PickleError> {
        let g = allowed_global(&module, &name).ok_or(PickleError::ForbiddenGlobal {
            offset: self.op_at,
            module,
            name,
        })?;
        self.stack.push(Value::Global(g));
        Ok(())
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(self.malformed("pops across a MARK".into()));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.malformed("stack is empty".into()))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| self.malformed("no MARK".into()))?;
        Ok(self.stack.split_off(m.min(self.stack.len())))
    }

    fn push_tuple(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(PickleError::TooDeep { offset: self.op_at });
        }
        self.stack.push(Value::Tuple(Rc::new(items), depth));
        Ok(())
    }

    fn put(&mut self, i: u32) -> Result<(), PickleError> {
        let top = self
            .stack
            .last()
            .cloned()
            .ok_or_else(|| self.malformed("stack is empty".into()))?;
        self.memo.insert(i, top);
        Ok(())
    }

    fn get(&mut self, i: u32) -> Result<(), PickleError> {
        let v = self
            .memo
            .get(&i)
            .cloned()
            .ok_or_else(|| self.malformed(format!("memo has no entry {i}")))?;
        self.stack.push(v);
        Ok(())
    }

    fn append(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        match self.stack.last() {
            Some(Value::Obj(i)) => match self.objs.get_mut(*i) {
                Some(Obj::List(list)) => {
                    list.extend(items);
                    Ok(())
                }
                _ => Err(self.malformed("target is not a list".into())),
            },
            other => Err(self.malformed(format!(
                "target is {}, not a list",
                other.map_or("nothing", Value::kind)
            ))),
        }
    }
}
