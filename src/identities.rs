//! `identities.yaml`: the declared vocabulary (groups, attribute keys and
//! values, purposes, projects) and the users, read with serde_yaml into typed
//! structures. Every name keeps the span it was read from, so the checker can
//! point at it; YAML errors point at their line and column.

use crate::diagnostic::Diagnostic;
use crate::span::{FileId, Node, Span, floor_char_boundary};
use crate::suggest::did_you_mean;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::fmt;

/// A name read from the file, with its span.
pub type Name = Node<String>;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Identities {
    #[serde(default)]
    pub groups: Vec<YamlName>,
    #[serde(default)]
    pub attributes: Ordered<YamlName, Vec<YamlName>>,
    #[serde(default)]
    pub purposes: Ordered<YamlName, String>,
    #[serde(default)]
    pub projects: Ordered<YamlName, ProjectDef>,
    #[serde(default)]
    pub users: Ordered<YamlName, UserDef>,
}

/// One project: the purposes its members act under.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectDef {
    #[serde(default)]
    pub purposes: Vec<YamlName>,
}

/// One user.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserDef {
    #[serde(default)]
    pub groups: Vec<YamlName>,
    #[serde(default)]
    pub attributes: Ordered<YamlName, OneOrMany>,
    #[serde(default)]
    pub projects: Vec<YamlName>,
    #[serde(default)]
    pub current_project: Option<YamlName>,
    #[serde(default)]
    pub acknowledged: Vec<YamlName>,
    #[serde(default)]
    pub approved: Vec<YamlName>,
}

/// A string scalar with its span; numbers, booleans and nulls are refused,
/// quoted or not, because they would not survive as names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct YamlName(pub Name);

impl std::ops::Deref for YamlName {
    type Target = Name;
    fn deref(&self) -> &Name {
        &self.0
    }
}

/// A mapping that keeps its order and the span of each key.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Ordered<K, V>(pub Vec<(K, V)>);

impl<K, V> Default for Ordered<K, V> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

/// One attribute value or a list of them.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct OneOrMany(pub Vec<YamlName>);

thread_local! {
    /// The text being deserialized, as (address, length), so that a borrowed
    /// scalar can be turned into a span by address arithmetic.
    static INPUT: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Loads `identities.yaml` from its text.
pub fn load(file: FileId, text: &str) -> Result<Identities, Diagnostic> {
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Ok(Identities::default());
    }
    INPUT.with(|input| input.set((text.as_ptr() as usize, text.len())));
    TEXT.with(|t| *t.borrow_mut() = text.to_string());
    let result = serde_yaml::from_str::<Identities>(text);
    INPUT.with(|input| input.set((0, 0)));
    TEXT.with(|t| t.borrow_mut().clear());
    result.map_err(|error| yaml_error(file, text, &error))
}

fn yaml_error(file: FileId, text: &str, error: &serde_yaml::Error) -> Diagnostic {
    let message = without_position(&error.to_string());
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_string);
    let help = if let Some(field) = message
        .contains("unknown field")
        .then(|| quoted(&message))
        .flatten()
    {
        let expected: Vec<&str> = message
            .split("expected ")
            .nth(1)
            .map(|list| list.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        did_you_mean(&field, expected.iter().copied()).unwrap_or_else(|| {
            "remove the key or correct its spelling; the allowed keys are listed above".into()
        })
    } else if message.contains("must be quoted") && message.contains("null") {
        "write a name here in quotes, or remove the empty entry".into()
    } else if let Some(value) = message
        .contains("must be quoted")
        .then(|| quoted(&message))
        .flatten()
    {
        format!("write it in quotes: \"{value}\"")
    } else if message.contains("invalid type") {
        "check the shape of this entry against the identities.yaml reference in docs/language.md"
            .into()
    } else {
        "fix the YAML syntax at this point".into()
    };
    let diagnostic = Diagnostic::error("identities::yaml", message).help(help);
    match error.location() {
        Some(location) => {
            let start = floor_char_boundary(text, location.index().min(text.len()));
            let end = text[start..]
                .find(['\n', ':', ','])
                .map_or(text.len(), |n| start + n)
                .max((start + 1).min(text.len()));
            diagnostic.at(
                file,
                Span::new(start, floor_char_boundary(text, end)),
                "here",
            )
        }
        None => diagnostic,
    }
}

/// The message without the "at line L column C" serde_yaml puts in it: the
/// rendered span says where.
fn without_position(message: &str) -> String {
    let mut out = message.to_string();
    while let Some(i) = out.find(" at line ") {
        let rest = &out[i + " at line ".len()..];
        let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let line_len = digits(rest);
        let after_line = &rest[line_len..];
        let Some(col) = after_line.strip_prefix(" column ") else {
            break;
        };
        let end = i + " at line ".len() + line_len + " column ".len() + digits(col);
        out.replace_range(i..end, "");
    }
    out
}

/// The span of `s` if it borrows from the text being loaded.
fn span_of(s: &str) -> Span {
    let (base, len) = INPUT.with(Cell::get);
    let address = s.as_ptr() as usize;
    if base != 0 && address >= base && address + s.len() <= base + len {
        let start = address - base;
        return Span::new(start, start + s.len());
    }
    Span::default()
}

/// Whether the scalar at `span` was written in quotes.
fn is_quoted(span: Span) -> bool {
    span.start > 0
        && TEXT.with(|text| {
            matches!(
                text.borrow().as_bytes().get(span.start - 1),
                Some(b'"' | b'\'')
            )
        })
}

thread_local! {
    /// A copy of the text being loaded, to look at the byte before a scalar.
    static TEXT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Words YAML 1.1 reads as booleans or null when they are not quoted; a
/// tool reading the file with another YAML library would see no string.
const AMBIGUOUS: [&str; 22] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF", "true", "True", "TRUE", "false", "False", "FALSE",
];

struct NameVisitor;

impl<'de> Visitor<'de> for NameVisitor {
    type Value = YamlName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a name (a string)")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<YamlName, E> {
        let span = span_of(v);
        if AMBIGUOUS.contains(&v) && !is_quoted(span) {
            return Err(E::custom(format_args!(
                "`{v}` reads as a boolean in YAML and must be quoted to be a name"
            )));
        }
        name(v, span)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<YamlName, E> {
        name(v, Span::default())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<YamlName, E> {
        Err(E::custom(format_args!(
            "`{v}` is a boolean; a name must be quoted to be a string"
        )))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<YamlName, E> {
        Err(E::custom(format_args!(
            "`{v}` is a number; a name that looks like a number must be quoted"
        )))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<YamlName, E> {
        self.visit_i128(i128::from(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<YamlName, E> {
        Err(E::custom(format_args!(
            "`{v}` is a number; a name that looks like a number must be quoted"
        )))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<YamlName, E> {
        Err(E::custom(format_args!(
            "`{v}` is a number; a name that looks like a number must be quoted"
        )))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<YamlName, E> {
        Err(E::custom(format_args!(
            "`{v}` is a number; a name that looks like a number must be quoted"
        )))
    }

    fn visit_unit<E: de::Error>(self) -> Result<YamlName, E> {
        Err(E::custom(
            "this value is null (empty, `~` or `null`); a name must be quoted to be a string",
        ))
    }
}

fn name<E: de::Error>(v: &str, span: Span) -> Result<YamlName, E> {
    if v.is_empty() {
        return Err(E::custom("a name may not be empty"));
    }
    if v.contains('\0') {
        return Err(E::custom("a name may not contain the character U+0000"));
    }
    Ok(YamlName(Node::new(v.to_string(), span)))
}

impl<'de> Deserialize<'de> for YamlName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<YamlName, D::Error> {
        deserializer.deserialize_any(NameVisitor)
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OneOrMany, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut values = Vec::new();
                while let Some(v) = seq.next_element::<YamlName>()? {
                    values.push(v);
                }
                Ok(OneOrMany(values))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<OneOrMany, E> {
                NameVisitor
                    .visit_borrowed_str(v)
                    .map(|n| OneOrMany(vec![n]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                NameVisitor.visit_str(v).map(|n| OneOrMany(vec![n]))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<OneOrMany, E> {
                NameVisitor.visit_bool(v).map(|n| OneOrMany(vec![n]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<OneOrMany, E> {
                NameVisitor.visit_i64(v).map(|n| OneOrMany(vec![n]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<OneOrMany, E> {
                NameVisitor.visit_u64(v).map(|n| OneOrMany(vec![n]))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<OneOrMany, E> {
                NameVisitor.visit_f64(v).map(|n| OneOrMany(vec![n]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<OneOrMany, E> {
                NameVisitor.visit_unit().map(|n| OneOrMany(vec![n]))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Ordered<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Ordered<K, V>, D::Error> {
        struct MapVisitor<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for MapVisitor<K, V> {
            type Value = Ordered<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<K, V>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<K, V>()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Ordered<K, V>, E> {
                Ok(Ordered(Vec::new()))
            }
        }
        deserializer.deserialize_map(MapVisitor(std::marker::PhantomData))
    }
}
