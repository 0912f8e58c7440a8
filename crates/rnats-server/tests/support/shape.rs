//! Comparing the shape of two JSON documents (keys and value types), for
//! the differential tests of monitoring and the system account against
//! nats-server: values differ between two servers, shapes must not.

use serde_json::Value;

/// A JSON value's type, as the comparison sees it.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The shape of a non-empty array's elements: for objects, every key any
/// element has (with the first value seen for it).
fn element_shape(items: &[Value]) -> Option<Value> {
    let first = items.first()?;
    let Value::Object(_) = first else {
        return Some(first.clone());
    };
    let mut union = serde_json::Map::new();
    for item in items {
        if let Value::Object(fields) = item {
            for (k, v) in fields {
                union.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    Some(Value::Object(union))
}

/// Where `ours` differs from `theirs` in keys or types (an array by the
/// union of its elements' keys). Keys in `skip` are not compared. With
/// `both_ways`, keys only `ours` has are differences too.
pub fn differences(
    path: &str,
    theirs: &Value,
    ours: &Value,
    skip: &[&str],
    both_ways: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    if kind(theirs) != kind(ours) {
        out.push(format!(
            "{path}: nats-server has {}, rnats {}",
            kind(theirs),
            kind(ours)
        ));
        return out;
    }
    match (theirs, ours) {
        (Value::Object(t), Value::Object(o)) => {
            for (key, tv) in t.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
                let here = format!("{path}.{key}");
                match o.get(key) {
                    Some(ov) => out.extend(differences(&here, tv, ov, skip, both_ways)),
                    None => out.push(format!("{here}: missing in rnats")),
                }
            }
            if both_ways {
                for key in o.keys().filter(|k| !t.contains_key(*k)) {
                    out.push(format!("{path}.{key}: only in rnats"));
                }
            }
        }
        (Value::Array(t), Value::Array(o)) => {
            if let (Some(tv), Some(ov)) = (element_shape(t), element_shape(o)) {
                out.extend(differences(&format!("{path}[]"), &tv, &ov, skip, both_ways));
            }
        }
        _ => {}
    }
    out
}
