//! The parsed tree: [`Value`]s that remember their position, [`Map`]s with case-insensitive keys,
//! and the typed accessors (`as_str`, `as_i64`, …) the server layer reads them with.

use crate::error::Error;
use crate::pos::Pos;

/// One value of the config file and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// What the value is.
    pub kind: ValueKind,
    /// Where it was written. A value obtained through `$NAME` carries the position of the reference.
    pub pos: Pos,
    /// For an integer written with a size suffix (`1k`, `64MB`, `1m`), the suffix as written.
    ///
    /// Lets [`Value::as_duration`] notice that an unquoted `1m` became the integer 1,000,000.
    pub size_suffix: Option<Box<str>>,
}

/// The kinds of value the config language has.
///
/// Durations are strings (`"2s"`) or numbers of seconds; read them with [`Value::as_duration`].
/// ISO 8601 datetimes (`2016-05-04T18:53:41Z`) are kept as strings.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    Map(Map),
    Array(Vec<Value>),
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

impl ValueKind {
    /// The type with an article, as used in messages: "a map", "an integer", …
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueKind::Map(_) => "a map",
            ValueKind::Array(_) => "an array",
            ValueKind::String(_) => "a string",
            ValueKind::Integer(_) => "an integer",
            ValueKind::Float(_) => "a float",
            ValueKind::Bool(_) => "a boolean",
        }
    }
}

impl Value {
    /// A value without size suffix.
    pub fn new(kind: ValueKind, pos: Pos) -> Self {
        Self {
            kind,
            pos,
            size_suffix: None,
        }
    }

    /// The string, or an error naming this value's position.
    pub fn as_str(&self) -> Result<&str, Error> {
        match &self.kind {
            ValueKind::String(text) => Ok(text),
            _ => Err(self.wrong_type("a string")),
        }
    }

    /// The integer, or an error naming this value's position.
    pub fn as_i64(&self) -> Result<i64, Error> {
        match self.kind {
            ValueKind::Integer(number) => Ok(number),
            _ => Err(self.wrong_type("an integer")),
        }
    }

    /// The number as a float; integers are accepted too (`timeout: 1` and `timeout: 0.5`).
    pub fn as_f64(&self) -> Result<f64, Error> {
        match self.kind {
            ValueKind::Float(number) => Ok(number),
            ValueKind::Integer(number) => Ok(number as f64),
            _ => Err(self.wrong_type("a number")),
        }
    }

    /// The boolean (`true/false/yes/no/on/off`), or an error naming this value's position.
    pub fn as_bool(&self) -> Result<bool, Error> {
        match self.kind {
            ValueKind::Bool(flag) => Ok(flag),
            _ => Err(self.wrong_type("a boolean")),
        }
    }

    /// The map, or an error naming this value's position.
    pub fn as_map(&self) -> Result<&Map, Error> {
        match &self.kind {
            ValueKind::Map(map) => Ok(map),
            _ => Err(self.wrong_type("a map")),
        }
    }

    /// The array elements, or an error naming this value's position.
    pub fn as_array(&self) -> Result<&[Value], Error> {
        match &self.kind {
            ValueKind::Array(items) => Ok(items),
            _ => Err(self.wrong_type("an array")),
        }
    }

    /// The map by value, e.g. to take the root of a parsed file apart.
    pub fn into_map(self) -> Result<Map, Error> {
        match self.kind {
            ValueKind::Map(map) => Ok(map),
            _ => Err(self.wrong_type("a map")),
        }
    }

    /// An error saying this value should have been `expected` (e.g. "a string").
    pub fn wrong_type(&self, expected: &'static str) -> Error {
        Error::WrongType {
            pos: self.pos.clone(),
            expected,
            found: self.kind.type_name(),
        }
    }

    /// How many maps/arrays deep this value goes: 0 for a scalar, 1 for `[1]`, 2 for `[[1]]`…
    pub fn height(&self) -> usize {
        match &self.kind {
            ValueKind::Map(map) => 1 + map.iter().map(|e| e.value.height()).max().unwrap_or(0),
            ValueKind::Array(items) => 1 + items.iter().map(Value::height).max().unwrap_or(0),
            _ => 0,
        }
    }
}

/// One `key: value` of a map.
#[derive(Clone, Debug, PartialEq)]
pub struct MapEntry {
    /// The key as written (after unquoting).
    pub key: String,
    /// Where the key was written, to name it in "unknown key" messages.
    pub key_pos: Pos,
    /// The value.
    pub value: Value,
    /// The key was referenced as `$key` somewhere: it is a variable definition.
    ///
    /// The server layer should not report such keys as unknown (the reference server doesn't).
    pub used_as_variable: bool,
}

/// A map in file order; keys keep their spelling but are looked up ignoring case.
///
/// A key written twice with the same spelling keeps its first slot and takes the later value.
/// Keys that differ only in case stay separate entries, because variables are case-sensitive
/// (`PORT: 4222` then `port: $PORT` is a variable and a setting); [`Map::get`] returns the last.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    entries: Vec<MapEntry>,
}

/// Key equality as the server sees it: `Authorization` is `authorization`.
pub fn keys_match(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    let lower = |s: &str| s.chars().flat_map(char::to_lowercase).collect::<String>();
    lower(a) == lower(b)
}

impl Map {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`, ignoring case (the last entry if several match).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.get_entry(key).map(|entry| &entry.value)
    }

    /// The whole entry of `key` (spelling, position, flags), ignoring case (the last if several match).
    pub fn get_entry(&self, key: &str) -> Option<&MapEntry> {
        self.entries
            .iter()
            .rev()
            .find(|entry| keys_match(&entry.key, key))
    }

    /// Whether `key` is present, ignoring case.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get_entry(key).is_some()
    }

    /// Adds an entry, or replaces the value of an entry with exactly the same key in place.
    /// Returns the replaced entry.
    pub fn insert(&mut self, mut entry: MapEntry) -> Option<MapEntry> {
        match self.entries.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) => {
                entry.used_as_variable |= existing.used_as_variable;
                Some(std::mem::replace(existing, entry))
            }
            None => {
                self.entries.push(entry);
                None
            }
        }
    }

    /// The entries in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, MapEntry> {
        self.entries.iter()
    }

    /// The keys in file order, as written.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|entry| entry.key.as_str())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most recent entry spelled exactly `name` (variables are case-sensitive), for `$name`.
    pub(crate) fn variable_entry_mut(&mut self, name: &str) -> Option<&mut MapEntry> {
        self.entries
            .iter_mut()
            .rev()
            .find(|entry| entry.key == name)
    }
}

impl IntoIterator for Map {
    type Item = MapEntry;
    type IntoIter = std::vec::IntoIter<MapEntry>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = &'a MapEntry;
    type IntoIter = std::slice::Iter<'a, MapEntry>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, number: i64) -> MapEntry {
        let pos = Pos::new("t.conf", 1, 1);
        MapEntry {
            key: key.to_owned(),
            key_pos: pos.clone(),
            value: Value::new(ValueKind::Integer(number), pos),
            used_as_variable: false,
        }
    }

    #[test]
    fn lookup_ignores_case_and_keeps_spelling() {
        let mut map = Map::new();
        map.insert(entry("Authorization", 1));
        assert_eq!(
            map.get("authorization").map(Value::as_i64).transpose().ok(),
            Some(Some(1))
        );
        assert_eq!(map.keys().collect::<Vec<_>>(), ["Authorization"]);
        assert!(keys_match("ÉCOLE", "école"));
    }

    #[test]
    fn a_repeated_key_keeps_its_slot_and_takes_the_new_value() {
        let mut map = Map::new();
        map.insert(entry("port", 1));
        map.insert(entry("host", 2));
        let old = map.insert(entry("port", 3));
        assert_eq!(old.map(|e| e.value.kind), Some(ValueKind::Integer(1)));
        assert_eq!(map.keys().collect::<Vec<_>>(), ["port", "host"]);
        assert_eq!(
            map.get("PORT").map(|v| v.kind.clone()),
            Some(ValueKind::Integer(3))
        );
    }

    #[test]
    fn keys_differing_in_case_stay_apart_and_get_returns_the_last() {
        let mut map = Map::new();
        map.insert(entry("PORT", 1));
        map.insert(entry("port", 2));
        assert_eq!(map.keys().collect::<Vec<_>>(), ["PORT", "port"]);
        assert_eq!(
            map.get("Port").map(|v| v.kind.clone()),
            Some(ValueKind::Integer(2))
        );
    }

    #[test]
    fn values_and_errors_can_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Value>();
        send_sync::<Error>();
    }

    #[test]
    fn typed_accessors_name_the_expected_type_and_position() {
        let value = Value::new(ValueKind::Integer(5), Pos::new("t.conf", 2, 7));
        let error = value.as_str().err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("t.conf:2:7: expected a string, found an integer")
        );
        assert_eq!(value.as_f64().ok(), Some(5.0));
    }
}
