//! `identities.yaml`: the declared vocabulary (groups, attribute keys and
//! values, purposes, projects) and the users, read into typed structures:
//! by `identities::subset` when the file is written in the plain shape, else with
//! serde (`serde-saphyr`). Every name keeps the span it was read from, so
//! the checker can point at it; YAML errors point at their line and column.

use crate::diagnostic::{Code, Diagnostic};
use crate::span::{FileId, Node, Span, floor_char_boundary};
use crate::suggest::did_you_mean;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

mod subset;

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

/// Loads `identities.yaml` from its text.
pub fn load(file: FileId, text: &str) -> Result<Identities, Diagnostic> {
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Ok(Identities::default());
    }
    if let Some(identities) = subset::read(text) {
        return Ok(identities);
    }
    read_yaml(file, text)
}

/// The full YAML reader, for every text (the subset reader's files too).
fn read_yaml(file: FileId, text: &str) -> Result<Identities, Diagnostic> {
    serde_saphyr::from_str_with_options::<Identities>(text, options(text))
        .map_err(|error| yaml_error(file, text, &error))
}

/// The loader's limits: as many nodes and events as the text can hold
/// (each takes at least a byte or two of it), so an estate of any size
/// loads; nesting and alias replay stay bounded, as the defaults have them.
fn options(text: &str) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    let room = text.len().saturating_mul(2).saturating_add(64);
    budget.max_nodes = budget.max_nodes.max(room);
    budget.max_events = budget.max_events.max(room);
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(text.len());
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

pub(crate) fn yaml_error(file: FileId, text: &str, error: &serde_saphyr::Error) -> Diagnostic {
    use serde_saphyr::MessageFormatter;
    let inner = error.without_snippet();
    let mut message = serde_saphyr::UserMessageFormatter
        .format_message(inner)
        .into_owned();
    if let Some(key) = message
        .strip_prefix("duplicate mapping key `")
        .and_then(|rest| rest.split('`').next())
    {
        message = format!("duplicate mapping key: `{key}` is written twice in this mapping");
    }
    let at = error.location().map(|l| text_span(text, &l));
    // A flow list or mapping left open on an earlier line makes the
    // parser fail later, at whatever follows: say where it opened.
    let unclosed = at.and_then(|at| {
        let open = unclosed_flow(text, at.start)?;
        text[open..at.start].contains('\n').then_some(open)
    });
    let help = if let Some(field) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        let expected: Vec<&str> = message
            .split("expected ")
            .nth(1)
            .map(|list| {
                list.trim_start_matches("one of ")
                    .split([',', ' ', '`'])
                    .filter(|w| !w.is_empty() && *w != "or")
                    .collect()
            })
            .unwrap_or_default();
        did_you_mean(field, expected.iter().copied()).unwrap_or_else(|| {
            "remove the key or correct its spelling; the allowed keys are listed above".into()
        })
    } else if message.starts_with("duplicate mapping key") {
        "a key is written once in a mapping: remove or merge the second".into()
    } else if message.contains("recursion limit") {
        "identities.yaml nests a few levels deep at most: check the brackets".into()
    } else if unclosed.is_some() {
        "close the list with `]` (or the mapping with `}`) where it ends".into()
    } else if message.contains("is null") {
        "write a name here in quotes, or remove the empty entry".into()
    } else if let Some(value) = message
        .contains("must be quoted")
        .then(|| message.split('`').nth(1))
        .flatten()
    {
        format!("write it in quotes: \"{value}\"")
    } else if message.starts_with("expected") || message.contains("invalid type") {
        "check the shape of this entry against the identities.yaml reference in docs/language.md"
            .into()
    } else {
        "fix the YAML syntax at this point".into()
    };
    let mut diagnostic = Diagnostic::error(Code::IdentitiesYaml, message).help(help);
    if let Some(at) = at {
        diagnostic = diagnostic.at(file, at, "here");
    }
    if let Some(open) = unclosed {
        diagnostic = diagnostic.related(
            crate::span::Loc {
                file,
                span: Span::new(open, open + 1),
            },
            "opened here, never closed",
        );
    }
    diagnostic
}

/// The innermost `[` or `{` still open at byte `to`, outside quoted
/// scalars and comments.
fn unclosed_flow(text: &str, to: usize) -> Option<usize> {
    let bytes = &text.as_bytes()[..to.min(text.len())];
    let mut open = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' if i == 0 || bytes[i - 1].is_ascii_whitespace() => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            quote @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if quote == b'"' && bytes[i] == b'\\' {
                        2
                    } else {
                        1
                    };
                }
            }
            b'[' | b'{' => open.push(i),
            b']' | b'}' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    open.pop()
}

/// The bytes a YAML location covers: its own span where the parser knows
/// it, else the token at its line and column (at least one character).
fn text_span(text: &str, location: &serde_saphyr::Location) -> Span {
    let span = location.span();
    let start = match span.byte_offset() {
        Some(offset) => usize::try_from(offset).unwrap_or(text.len()),
        None => {
            let line = usize::try_from(location.line()).unwrap_or(1).max(1);
            let column = usize::try_from(location.column()).unwrap_or(1).max(1);
            let line_start: usize = text
                .split_inclusive('\n')
                .take(line - 1)
                .map(str::len)
                .sum();
            text[line_start.min(text.len())..]
                .char_indices()
                .nth(column - 1)
                .map_or(text.len(), |(i, _)| line_start + i)
        }
    };
    let start = floor_char_boundary(text, start.min(text.len()));
    let len = span
        .byte_len()
        .and_then(|l| usize::try_from(l).ok())
        .filter(|&l| l > 0)
        .unwrap_or_else(|| {
            text[start..]
                .find(['\n', ':', ','])
                .unwrap_or(text.len() - start)
                .max(1)
        });
    let end = floor_char_boundary(text, (start + len).min(text.len()));
    Span::new(start, end.max(start))
}

/// The span a value was read from.
fn span_of<T>(value: &serde_saphyr::Spanned<T>) -> Span {
    let span = value.referenced.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(offset), Some(len)) => {
            let start = usize::try_from(offset).unwrap_or_default();
            Span::new(start, start + usize::try_from(len).unwrap_or_default())
        }
        _ => Span::default(),
    }
}

/// Words YAML 1.1 reads as booleans or null when they are not quoted; a
/// tool reading the file with another YAML library would see no string.
const AMBIGUOUS: [&str; 22] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF", "true", "True", "TRUE", "false", "False", "FALSE",
];

/// Whether a plain scalar reads as a number in YAML's core schema.
fn reads_as_number(v: &str) -> bool {
    let unsigned = v.strip_prefix(['-', '+']).unwrap_or(v);
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if let Some(hex) = v.strip_prefix("0x") {
        return digits(hex, 16);
    }
    if let Some(octal) = v.strip_prefix("0o") {
        return digits(octal, 8);
    }
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(v, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() || digits(int, 10))
                && (frac.is_empty() || digits(frac, 10))
                && !(int.is_empty() && frac.is_empty())
        }
        None => digits(mantissa, 10),
    };
    mantissa_ok && exponent.is_none_or(|e| digits(e, 10))
}

impl<'de> Deserialize<'de> for YamlName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<YamlName, D::Error> {
        let written = serde_saphyr::Spanned::<Option<String>>::deserialize(deserializer)?;
        let span = span_of(&written);
        checked_name(written.value, span).map_err(de::Error::custom)
    }
}

/// A scalar read as a name, refused where a reader could take it for
/// something else: null, and plain words YAML reads as booleans or
/// numbers.
fn checked_name(value: Option<String>, span: Span) -> Result<YamlName, String> {
    let Some(value) = value else {
        return Err(
            "this value is null (empty, `~` or `null`); a name must be quoted to be a string"
                .into(),
        );
    };
    // A plain scalar spans exactly its text; a quoted one its quotes too.
    let plain = span.end - span.start == value.len();
    if plain && AMBIGUOUS.contains(&value.as_str()) {
        return Err(format!(
            "`{value}` reads as a boolean in YAML and must be quoted to be a name"
        ));
    }
    if plain && reads_as_number(&value) {
        return Err(format!(
            "`{value}` is a number; a name that looks like a number must be quoted"
        ));
    }
    if value.is_empty() {
        return Err("a name may not be empty".into());
    }
    if value.contains('\0') {
        return Err("a name may not contain the character U+0000".into());
    }
    Ok(YamlName(Node::new(value, span)))
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OneOrMany, D::Error> {
        /// A value or a list, before its names are checked.
        enum Written {
            List(Vec<YamlName>),
            Text(String),
            Other(String),
            Null,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Written;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Written, A::Error> {
                let mut values = Vec::new();
                while let Some(v) = seq.next_element::<YamlName>()? {
                    values.push(v);
                }
                Ok(Written::List(values))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Written, E> {
                Ok(Written::Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Written, E> {
                Ok(Written::Other(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Written, E> {
                Ok(Written::Other(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Written, E> {
                Ok(Written::Other(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Written, E> {
                Ok(Written::Other(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Written, E> {
                Ok(Written::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Written, E> {
                Ok(Written::Null)
            }
        }
        impl<'de> Deserialize<'de> for Written {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Written, D::Error> {
                deserializer.deserialize_any(V)
            }
        }
        let written = serde_saphyr::Spanned::<Written>::deserialize(deserializer)?;
        let span = span_of(&written);
        let value = match written.value {
            Written::List(values) => return Ok(OneOrMany(values)),
            Written::Text(v) => Some(v),
            // A plain scalar YAML reads as a boolean or a number.
            Written::Other(v) => Some(v),
            Written::Null => None,
        };
        checked_name(value, span)
            .map(|n| OneOrMany(vec![n]))
            .map_err(de::Error::custom)
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
