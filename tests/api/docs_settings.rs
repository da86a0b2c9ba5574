//! The configuration table in docs/operations.md lists exactly the settings
//! `enlist::config::Settings` reads, each once, and the shipped config.toml
//! agrees with both.
//!
//! The code's list is derived from `Settings`' own `Deserialize` impl, not
//! written out a second time: serde's derive hands every struct's field names
//! to `Deserializer::deserialize_struct`, so a probing deserializer that asks
//! for one path at a time learns, for each field, whether it is a table (a
//! struct: it calls `deserialize_struct` again), an optional leaf
//! (`deserialize_option`) or a plain leaf (anything else). Nothing is added to
//! `src/`: no `Serialize` on `Settings` (which holds the SMTP password and the
//! database URL, and must never be printable whole by accident) and no second
//! list to keep in step with the fields.

use enlist::config::Settings;
use figment::providers::{Format, Toml};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What the probe found at the path it was sent to.
#[derive(Clone, Copy, Debug)]
enum Found {
    Table(&'static [&'static str]),
    Leaf { optional: bool },
}

#[derive(Debug)]
struct Stop(String);

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Stop(msg.to_string())
    }
}

/// Walks down `rest` (one struct field per level), records what is there in
/// `found`, then stops the deserialization with an error: no value is ever
/// made, so custom `Deserialize` impls (durations, sizes, enums) never run.
struct Probe<'a> {
    rest: &'a [&'static str],
    found: &'a Cell<Option<Found>>,
}

impl Probe<'_> {
    fn leaf(self, optional: bool) -> Result<(), Stop> {
        if !self.rest.is_empty() {
            return Err(Stop(format!("{:?} lies below a leaf", self.rest)));
        }
        self.found.set(Some(Found::Leaf { optional }));
        Err(Stop("probed".into()))
    }
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        self.leaf(false).map(|()| unreachable!())
    }

    fn deserialize_option<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        self.leaf(true).map(|()| unreachable!())
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        match self.rest.split_first() {
            None => {
                self.found.set(Some(Found::Table(fields)));
                Err(Stop("probed".into()))
            }
            Some((field, rest)) => visitor.visit_map(OneField {
                field: Some(field),
                value: Some(Probe {
                    rest,
                    found: self.found,
                }),
            }),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple tuple_struct
        map enum identifier ignored_any
    }
}

/// A map of the one field on the probed path.
struct OneField<'a> {
    field: Option<&'static str>,
    value: Option<Probe<'a>>,
}

impl<'de> MapAccess<'de> for OneField<'_> {
    type Error = Stop;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Stop> {
        self.field
            .take()
            .map(|field| seed.deserialize(field.into_deserializer()))
            .transpose()
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Stop> {
        let probe = self.value.take().ok_or_else(|| Stop("no value".into()))?;
        seed.deserialize(probe)
    }
}

fn probe(path: &[&'static str]) -> Found {
    let found = Cell::new(None);
    let result = Settings::deserialize(Probe {
        rest: path,
        found: &found,
    });
    match (result, found.get()) {
        (Err(_), Some(found)) => found,
        (result, _) => panic!("probing {path:?} found nothing: {:?}", result.err()),
    }
}

/// Every leaf setting as `section.key` (`delivery.smtp.host` for nested
/// tables), with whether it is optional (no default value).
fn code_settings() -> BTreeMap<String, bool> {
    let mut leaves = BTreeMap::new();
    let mut pending: Vec<Vec<&'static str>> = vec![Vec::new()];
    while let Some(path) = pending.pop() {
        match probe(&path) {
            Found::Table(fields) => {
                for field in fields {
                    let mut child = path.clone();
                    child.push(field);
                    pending.push(child);
                }
            }
            Found::Leaf { optional } => {
                leaves.insert(path.join("."), optional);
            }
        }
    }
    leaves
}

/// One row of the docs table: its keys, expanded, and its default column,
/// one entry per key.
struct Row {
    keys: Vec<String>,
    defaults: Vec<String>,
}

/// `a.{x,y}_{1,2}` → `a.x_1`, `a.x_2`, `a.y_1`, `a.y_2`.
fn expand_braces(key: &str) -> Vec<String> {
    let Some(open) = key.find('{') else {
        return vec![key.to_owned()];
    };
    let close = open + key[open..].find('}').expect("an unclosed { in a docs key");
    key[open + 1..close]
        .split(',')
        .flat_map(|choice| expand_braces(&format!("{}{choice}{}", &key[..open], &key[close + 1..])))
        .collect()
}

/// A row's first column: full keys (`auth.sign_in_window`), keys in braces,
/// bare names of the previous key's section (`delivery.max_attempts`,
/// `retry_initial`), and `…_suffix`, which replaces the previous key's name
/// from the first place its first word appears
/// (`auth.account_messages_per_email`, `…_per_address` →
/// `auth.account_messages_per_address`).
fn row_keys(cell: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for part in cell.split(", ") {
        let name = part
            .trim()
            .strip_prefix('`')
            .and_then(|p| p.strip_suffix('`'))
            .unwrap_or_else(|| panic!("`{part}` in `{cell}` is not one `key`"));
        let previous = keys.last().map(String::as_str);
        let key = if let Some(suffix) = name.strip_prefix('…') {
            let previous = previous.expect("`…` needs a full key before it");
            let first_word = suffix
                .char_indices()
                .skip(1)
                .find(|&(_, c)| c == '_')
                .map_or(suffix, |(at, _)| &suffix[..at]);
            let name_start = previous.rfind('.').map_or(0, |dot| dot + 1);
            let at = previous[name_start..]
                .find(first_word)
                .unwrap_or_else(|| panic!("`{name}` does not continue `{previous}`"));
            format!("{}{suffix}", &previous[..name_start + at])
        } else if !name.contains('.') {
            let previous = previous.expect("a bare name needs a full key before it");
            let section = previous.rsplit_once('.').expect("a full key").0;
            format!("{section}.{name}")
        } else {
            name.to_owned()
        };
        keys.push(key);
    }
    keys.iter().flat_map(|key| expand_braces(key)).collect()
}

/// The default column, split at `, ` outside parentheses.
fn row_defaults(cell: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0usize;
    let mut chars = cell.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 && chars.peek() == Some(&' ') => {
                chars.next();
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().unwrap().push(c);
    }
    parts
}

fn docs_rows() -> Vec<Row> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let section = docs
        .split("\n## ")
        .find(|s| s.starts_with("Configuration\n"))
        .expect("docs/operations.md has a `## Configuration` section");
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        if cells[0] == "key" || cells[0].starts_with("---") {
            continue;
        }
        assert_eq!(cells.len(), 3, "a row with other than 3 columns: {line}");
        let keys = row_keys(cells[0]);
        let mut defaults = row_defaults(cells[1]);
        if defaults.len() == 1 {
            defaults = vec![defaults[0].clone(); keys.len()];
        }
        assert_eq!(
            keys.len(),
            defaults.len(),
            "one default per key, or one for all: {line}"
        );
        rows.push(Row { keys, defaults });
    }
    rows
}

#[test]
fn the_docs_list_every_setting_once() {
    let code = code_settings();
    // Deliberately not tiny: a probe that stopped early would find few.
    assert!(code.len() > 90, "{code:?}");
    let rows = docs_rows();
    let mut seen = BTreeSet::new();
    let twice: Vec<&String> = rows
        .iter()
        .flat_map(|row| &row.keys)
        .filter(|key| !seen.insert(key.as_str()))
        .collect();
    let missing: Vec<&String> = code.keys().filter(|k| !seen.contains(k.as_str())).collect();
    let extra: Vec<&&str> = seen.iter().filter(|k| !code.contains_key(**k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && twice.is_empty(),
        "docs/operations.md ## Configuration and src/config.rs disagree.\n\
         settings the docs miss: {missing:?}\n\
         documented keys the code does not read: {extra:?}\n\
         documented more than once: {twice:?}"
    );
}

/// The shipped config.toml sets every setting that has a default, to the
/// value the docs give (src/config.rs checks that it parses to the code's
/// defaults), and names the optional ones in a comment of their section.
#[test]
fn the_docs_defaults_are_the_shipped_config_files() {
    let shipped = figment::Figment::from(Toml::string(include_str!("../../config.toml")));
    let documented: BTreeMap<String, String> = docs_rows()
        .into_iter()
        .flat_map(|row| row.keys.into_iter().zip(row.defaults))
        .collect();
    let mut wrong = Vec::new();
    for (key, optional) in code_settings() {
        let value = shipped.find_value(&key).ok();
        let doc = documented.get(&key).map_or("", String::as_str);
        match (optional, value) {
            (true, None) => {
                if !commented_out(&key) {
                    wrong.push(format!(
                        "{key} has no default and no commented-out line in config.toml"
                    ));
                }
            }
            (true, Some(value)) => wrong.push(format!(
                "{key} has no default, but config.toml sets it to {value:?}"
            )),
            (false, None) => wrong.push(format!("{key} is missing from config.toml")),
            (false, Some(value)) => {
                use figment::value::Value;
                let shown = match &value {
                    Value::String(_, s) => s.clone(),
                    Value::Bool(_, b) => b.to_string(),
                    Value::Num(..) => value.to_i128().map(|n| n.to_string()).unwrap_or_default(),
                    Value::Array(_, items) if items.is_empty() => "[]".into(),
                    other => format!("{other:?}"),
                };
                // The literal first; a remark in parentheses may follow.
                let literal = doc
                    .strip_prefix('`')
                    .and_then(|d| d.split_once('`'))
                    .map(|(literal, _)| literal);
                if literal != Some(shown.as_str()) {
                    wrong.push(format!(
                        "{key}: config.toml says `{shown}`, the docs say {doc}"
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Whether a comment in `key`'s `[section]` of config.toml names its last part
/// as a whole word (`# url = "postgres://…"`, `# password_reset_subject, …`).
fn commented_out(key: &str) -> bool {
    let (section, name) = key.rsplit_once('.').unwrap();
    let mut current = String::new();
    include_str!("../../config.toml").lines().any(|line| {
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = header.to_owned();
        }
        current == section
            && line.trim_start().starts_with('#')
            && line
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|word| word == name)
    })
}
