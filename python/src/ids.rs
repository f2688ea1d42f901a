//! Token ids from Python: a list of ints (one sequence), a list of such lists or 1-D arrays (a
//! batch), or a 1-D or 2-D integer numpy array. Only what Rust cannot represent is refused here
//! (non-integers, negative ids, ids of more than 32 bits); the engine checks the rest (empty
//! batches, lengths, ids ≥ V) before any device work, with its own messages.

use numpy::ndarray::{ArrayViewD, Axis};
use numpy::{PyArrayDescrMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyString};

use crate::error;

/// Sequences of token ids, and whether the input was one sequence (1-D) rather than a batch.
pub struct Rows {
    pub rows: Vec<Vec<u32>>,
    pub one: bool,
}

/// The token-id rows `obj` holds; `what` names the argument in messages.
pub fn rows(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Rows> {
    if let Ok(arr) = obj.cast::<PyUntypedArray>() {
        return array_rows(arr, what);
    }
    let items = sequence_items(obj, what)?;
    if items.is_empty() {
        // An empty batch (the engine refuses it with its message).
        return Ok(Rows { rows: Vec::new(), one: false });
    }
    // A batch is a sequence of sequences; a sequence of ints is one sequence.
    if is_int(&items[0]) {
        let row = items.iter().enumerate().map(|(i, x)| id(x, what, None, i)).collect::<PyResult<_>>()?;
        return Ok(Rows { rows: vec![row], one: true });
    }
    let mut rows = Vec::with_capacity(items.len());
    for (b, item) in items.iter().enumerate() {
        let row = if let Ok(arr) = item.cast::<PyUntypedArray>() {
            let r = array_rows(arr, what)?;
            if !r.one {
                return Err(error(format!("{what}: sequence {b} is a {}-D array; a sequence is 1-D", arr.ndim())));
            }
            r.rows.into_iter().next().unwrap_or_default()
        } else {
            let ids = sequence_items(item, what).map_err(|_| {
                error(format!("{what}: item {b} is neither a token id nor a sequence of them (a batch mixes them?)"))
            })?;
            ids.iter().enumerate().map(|(i, x)| id(x, what, Some(b), i)).collect::<PyResult<_>>()?
        };
        rows.push(row);
    }
    Ok(Rows { rows, one: false })
}

/// One sequence: refuses a batch.
pub fn one_row(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u32>> {
    let r = rows(obj, what)?;
    if !r.one {
        return Err(error(format!("{what} must be one sequence of token ids (a list of ints or a 1-D array)")));
    }
    Ok(r.rows.into_iter().next().unwrap_or_default())
}

fn is_int(x: &Bound<'_, PyAny>) -> bool {
    !x.is_instance_of::<PyBool>() && x.extract::<i128>().is_ok()
}

/// The items of a list, tuple or other sequence (not of a string: its characters are no ids).
fn sequence_items<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let bad = || {
        error(format!(
            "{what} must be token ids: a list of ints, a list of int lists, or a 1-D or 2-D integer numpy array; got {}",
            obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "an object".into())
        ))
    };
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() || is_int(obj) {
        return Err(bad());
    }
    obj.extract::<Vec<Bound<'py, PyAny>>>().map_err(|_| bad())
}

fn id(x: &Bound<'_, PyAny>, what: &str, seq: Option<usize>, pos: usize) -> PyResult<u32> {
    let at = || match seq {
        Some(b) => format!("{what}: sequence {b}, position {pos}"),
        None => format!("{what}: position {pos}"),
    };
    if !is_int(x) {
        let repr = x.repr().map(|r| r.to_string()).unwrap_or_default();
        return Err(error(format!("{}: {repr} is not an integer token id", at())));
    }
    checked(x.extract::<i128>()?, &at)
}

fn checked(t: i128, at: &dyn Fn() -> String) -> PyResult<u32> {
    if t < 0 {
        return Err(error(format!("{}: token id {t} is negative", at())));
    }
    u32::try_from(t).map_err(|_| error(format!("{}: token id {t} does not fit 32 bits", at())))
}

fn array_rows(arr: &Bound<'_, PyUntypedArray>, what: &str) -> PyResult<Rows> {
    let dtype = arr.dtype();
    let one = match arr.ndim() {
        1 => true,
        2 => false,
        n => return Err(error(format!("{what}: a {n}-D array; token ids are 1-D (a sequence) or 2-D (a batch)"))),
    };
    // Widening to 64 bits keeps every value of a signed or unsigned integer array.
    let rows = match dtype.kind() {
        b'i' => view_rows(
            arr.call_method1("astype", ("int64",))?.extract::<PyReadonlyArrayDyn<'_, i64>>()?.as_array(),
            what,
        ),
        b'u' => view_rows(
            arr.call_method1("astype", ("uint64",))?.extract::<PyReadonlyArrayDyn<'_, u64>>()?.as_array(),
            what,
        ),
        _ => return Err(error(format!("{what}: token ids must be integers, got a {dtype} array"))),
    }?;
    Ok(Rows { rows, one })
}

fn view_rows<T: Copy + Into<i128>>(a: ArrayViewD<'_, T>, what: &str) -> PyResult<Vec<Vec<u32>>> {
    let one = a.ndim() == 1;
    let a = if one { a.insert_axis(Axis(0)) } else { a };
    a.outer_iter()
        .enumerate()
        .map(|(b, row)| {
            row.iter()
                .enumerate()
                .map(|(i, &t)| {
                    let at = || {
                        if one {
                            format!("{what}: position {i}")
                        } else {
                            format!("{what}: sequence {b}, position {i}")
                        }
                    };
                    checked(t.into(), &at)
                })
                .collect()
        })
        .collect()
}
