//! The numpy part of the reader: the allow-listed globals, what `REDUCE` and `BUILD` do with them
//! (build a dtype, build an array from its pickled state), and the final conversion of the stack
//! value into an owned [`PyValue`]. Nothing here calls into Python or numpy; it only interprets
//! the pickled state.

use std::io::Read;
use std::rc::Rc;

use super::{Machine, Obj, Value};
use crate::pickle::value::{Dtype, NdArray, PyValue};
use crate::pickle::{PickleError, MAX_DEPTH};

/// The callables a `GLOBAL` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Global {
    Reconstruct,
    NdArrayClass,
    DtypeClass,
}

pub(super) fn allowed_global(module: &str, name: &str) -> Option<Global> {
    match (module, name) {
        ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => {
            Some(Global::Reconstruct)
        }
        ("numpy", "ndarray") => Some(Global::NdArrayClass),
        ("numpy", "dtype") => Some(Global::DtypeClass),
        _ => None,
    }
}

impl<R: Read> Machine<R> {
    pub(super) fn reduce(&mut self, callable: Value, args: Value) -> Result<Value, PickleError> {
        let Value::Tuple(args, _) = args else {
            return Err(self.malformed(format!("arguments are {}, not a tuple", args.kind())));
        };
        match callable {
            Value::Global(Global::Reconstruct) => {
                if !matches!(args.first(), Some(Value::Global(Global::NdArrayClass))) {
                    return Err(self.numpy(
                        "ndarray",
                        "_reconstruct of something other than numpy.ndarray".into(),
                    ));
                }
                self.objs.push(Obj::Array(None));
            }
            Value::Global(Global::DtypeClass) => {
                let name = args
                    .first()
                    .and_then(Value::text)
                    .ok_or_else(|| self.numpy("dtype", "no type name".into()))?;
                let dtype = Dtype::from_name(&name)
                    .ok_or_else(|| self.numpy("dtype", format!("unsupported type {name:?}")))?;
                self.objs.push(Obj::Dtype {
                    dtype,
                    order_set: false,
                });
            }
            other => return Err(self.malformed(format!("cannot call {}", other.kind()))),
        }
        Ok(Value::Obj(self.objs.len() - 1))
    }

    pub(super) fn build(&mut self, state: Value) -> Result<(), PickleError> {
        let Some(Value::Obj(target)) = self.stack.last().cloned() else {
            return Err(self.malformed("target is not a numpy object".into()));
        };
        let Value::Tuple(state, _) = state else {
            return Err(self.malformed(format!("state is {}, not a tuple", state.kind())));
        };
        match self.objs.get(target) {
            Some(Obj::Dtype { dtype, .. }) => {
                let dtype = *dtype;
                let order = state
                    .get(1)
                    .and_then(Value::text)
                    .ok_or_else(|| self.numpy("dtype", "no byte order in state".into()))?;
                let ok = match order.as_str() {
                    "<" => true,
                    "|" => dtype.size() == 1,
                    _ => false,
                };
                if !ok {
                    return Err(self.numpy(
                        "dtype",
                        format!("byte order {order:?} for {dtype:?} is not little-endian"),
                    ));
                }
                self.objs[target] = Obj::Dtype {
                    dtype,
                    order_set: true,
                };
            }
            Some(Obj::Array(None)) => {
                let state = Rc::try_unwrap(state).unwrap_or_else(|rc| rc.as_ref().clone());
                let array = self.array_state(state)?;
                self.objs[target] = Obj::Array(Some(array));
            }
            Some(Obj::Array(Some(_))) => return Err(self.numpy("ndarray", "BUILD twice".into())),
            _ => return Err(self.malformed("target is not a numpy object".into())),
        }
        Ok(())
    }

    /// `(version, shape, dtype, is_fortran, data)` or, before numpy 1.0, without the version.
    fn array_state(&self, mut state: Vec<Value>) -> Result<NdArray, PickleError> {
        let s = match state.len() {
            5 => &mut state[1..],
            4 => &mut state[..],
            n => return Err(self.numpy("ndarray", format!("state has {n} items, expected 4 or 5"))),
        };
        let Value::Tuple(shape, _) = &s[0] else {
            return Err(self.numpy("ndarray", format!("shape is {}", s[0].kind())));
        };
        let shape = shape
            .iter()
            .map(|v| match v {
                Value::Int(n) => usize::try_from(*n).ok(),
                _ => None,
            })
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| {
                self.numpy("ndarray", "shape holds something other than sizes".into())
            })?;
        let dtype = match &s[1] {
            Value::Obj(i) => match self.objs.get(*i) {
                Some(Obj::Dtype {
                    dtype,
                    order_set: true,
                }) => *dtype,
                Some(Obj::Dtype {
                    dtype,
                    order_set: false,
                }) if dtype.size() == 1 => *dtype,
                _ => {
                    return Err(
                        self.numpy("ndarray", "dtype is not a little-endian numpy.dtype".into())
                    )
                }
            },
            other => return Err(self.numpy("ndarray", format!("dtype is {}", other.kind()))),
        };
        let fortran = matches!(s[2], Value::Bool(true)) || matches!(s[2], Value::Int(n) if n != 0);
        if fortran && shape.len() > 1 {
            return Err(self.numpy("ndarray", "Fortran order is not supported".into()));
        }
        let data = match std::mem::replace(&mut s[3], Value::None) {
            Value::Bytes(d) => d,
            other => {
                let reason = format!(
                    "data is {}, not bytes (object arrays are not supported)",
                    other.kind()
                );
                return Err(self.numpy("ndarray", reason));
            }
        };
        let expected = shape
            .iter()
            .try_fold(dtype.size(), |a, &d| a.checked_mul(d));
        if expected != Some(data.len()) {
            return Err(self.numpy(
                "ndarray",
                format!(
                    "shape {shape:?} of {dtype:?} needs {expected:?} bytes, data has {}",
                    data.len()
                ),
            ));
        }
        let data = Rc::try_unwrap(data).unwrap_or_else(|rc| rc.as_ref().clone());
        Ok(NdArray { shape, dtype, data })
    }
}

/// Turns a stack value into an owned [`PyValue`], moving arrays out of the arena.
pub(super) fn resolve(v: &Value, objs: &mut [Obj], depth: usize) -> Result<PyValue, PickleError> {
    if depth > MAX_DEPTH {
        return Err(PickleError::Result {
            reason: format!("nesting deeper than {MAX_DEPTH} (or a cycle)"),
        });
    }
    Ok(match v {
        Value::None => PyValue::None,
        Value::Bool(b) => PyValue::Bool(*b),
        Value::Int(n) => PyValue::Int(*n),
        Value::Bytes(b) => PyValue::Bytes(b.as_ref().clone()),
        Value::Str(s) => PyValue::Str(s.to_string()),
        Value::Tuple(items, _) => PyValue::Tuple(
            items
                .iter()
                .map(|i| resolve(i, objs, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Global(g) => {
            return Err(PickleError::Result {
                reason: format!("holds the class or function {g:?}"),
            })
        }
        Value::Obj(i) => {
            let i = *i;
            match objs.get_mut(i).map(|o| std::mem::replace(o, Obj::Taken)) {
                Some(Obj::List(items)) => PyValue::List(
                    items
                        .iter()
                        .map(|it| resolve(it, objs, depth + 1))
                        .collect::<Result<_, _>>()?,
                ),
                Some(Obj::Dtype { dtype, order_set }) => {
                    objs[i] = Obj::Dtype { dtype, order_set };
                    PyValue::Dtype(dtype)
                }
                Some(Obj::Array(Some(a))) => PyValue::Array(a),
                Some(Obj::Array(None)) => {
                    return Err(PickleError::Result {
                        reason: "an ndarray was never filled by BUILD".into(),
                    })
                }
                _ => {
                    return Err(PickleError::Result {
                        reason: "an ndarray or list is reachable twice".into(),
                    })
                }
            }
        }
    })
}
