//! Three-way merge of serialized token caches: what this process changed since it last read the
//! store, applied on top of what the store holds now, so no process's tokens are dropped by
//! another's write.

use serde_json::{Map, Value};

/// A serialized cache as a JSON object; an empty (or all-whitespace) text is an empty cache.
pub(super) fn parse(text: &str) -> Result<Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the serialized token cache is not a JSON object".into()),
        Err(e) => Err(format!(
            "the serialized token cache is not valid JSON ({e})"
        )),
    }
}

/// `theirs` (the store now) with every change from `base` (the store when this process last
/// read or wrote it) to `ours` (this process's cache now) applied: entries this process added,
/// replaced or removed win; every other entry is `theirs`. Sections (`AccessToken`,
/// `RefreshToken`, ...) merge entry by entry; other top-level values as a whole.
pub(super) fn three_way(
    base: &Map<String, Value>,
    ours: &Map<String, Value>,
    theirs: &Map<String, Value>,
) -> Map<String, Value> {
    let mut result = theirs.clone();
    let empty = Map::new();
    let keys: Vec<&String> = ours
        .keys()
        .chain(base.keys().filter(|k| !ours.contains_key(*k)))
        .collect();
    for key in keys {
        match (base.get(key), ours.get(key)) {
            (b, Some(Value::Object(o))) if b.is_none_or(Value::is_object) => {
                let b = b.and_then(Value::as_object).unwrap_or(&empty);
                merge_section(&mut result, key, b, o);
            }
            (Some(Value::Object(b)), None) => merge_section(&mut result, key, b, &empty),
            (b, o) if b == o => {}
            (_, Some(o)) => {
                result.insert(key.clone(), o.clone());
            }
            (_, None) => {
                result.remove(key);
            }
        }
    }
    result
}

fn merge_section(
    result: &mut Map<String, Value>,
    key: &str,
    base: &Map<String, Value>,
    ours: &Map<String, Value>,
) {
    let changed: Vec<(&String, Option<&Value>)> = ours
        .iter()
        .filter(|(k, v)| base.get(*k) != Some(*v))
        .map(|(k, v)| (k, Some(v)))
        .chain(
            base.keys()
                .filter(|k| !ours.contains_key(*k))
                .map(|k| (k, None)),
        )
        .collect();
    if changed.is_empty() {
        return;
    }
    let section = result
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !section.is_object() {
        *section = Value::Object(Map::new());
    }
    let Some(section) = section.as_object_mut() else {
        return;
    };
    for (k, v) in changed {
        match v {
            Some(v) => {
                section.insert(k.clone(), v.clone());
            }
            None => {
                section.remove(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn our_changes_land_on_theirs_and_theirs_survive() {
        let base = map(json!({"AccessToken": {"a": 1, "b": 2, "gone": 0}, "X": 1}));
        let ours = map(json!({"AccessToken": {"a": 1, "b": 3, "mine": 4}, "X": 1}));
        let theirs = map(json!({"AccessToken": {"a": 9, "b": 2, "gone": 0, "theirs": 5}, "Y": 2}));
        let merged = three_way(&base, &ours, &theirs);
        assert_eq!(
            Value::Object(merged),
            json!({"AccessToken": {"a": 9, "b": 3, "mine": 4, "theirs": 5}, "Y": 2})
        );
    }

    #[test]
    fn nothing_changed_gives_theirs() {
        let base = map(json!({"AccessToken": {"a": 1}}));
        let theirs = map(json!({"RefreshToken": {"r": 1}}));
        assert_eq!(three_way(&base, &base, &theirs), theirs);
        assert_eq!(parse("  ").unwrap(), Map::new());
        assert!(parse("[]").is_err() && parse("{").is_err());
    }
}
