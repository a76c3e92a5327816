//! What veil creates in a database, named: an object's kind, its
//! schema-qualified name, and the one record of an object that emit
//! produces, the state keeps, the plan diffs and apply runs.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The kinds of object veil creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Schema,
    Table,
    /// The rows of the hashing key's table.
    Key,
    View,
    Function,
    Procedure,
    /// The rows of the access-rule table: the rule set of every source.
    Rules,
    /// The profile rows of every user (one object, written by the profile
    /// procedures rather than created).
    Profile,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 8] = [
        ObjectKind::Schema,
        ObjectKind::Table,
        ObjectKind::Key,
        ObjectKind::View,
        ObjectKind::Function,
        ObjectKind::Procedure,
        ObjectKind::Rules,
        ObjectKind::Profile,
    ];

    /// The kind as the state table, the plan and the catalog query spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Schema => "schema",
            ObjectKind::Table => "table",
            ObjectKind::Key => "key",
            ObjectKind::View => "view",
            ObjectKind::Function => "function",
            ObjectKind::Procedure => "procedure",
            ObjectKind::Rules => "rules",
            ObjectKind::Profile => "profile",
        }
    }

    /// The kind a catalog row or a state row names, if veil knows it.
    pub fn parse(text: &str) -> Option<ObjectKind> {
        ObjectKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Functions and procedures: replaced in place, their grants kept.
    pub fn is_routine(self) -> bool {
        matches!(self, ObjectKind::Function | ObjectKind::Procedure)
    }

    /// Tables and views: what a relation of another kind can stand in the
    /// place of.
    pub fn is_relation(self) -> bool {
        matches!(self, ObjectKind::Table | ObjectKind::View)
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A schema, or an object in a schema. Shown (and stored) as `schema` or
/// `schema.object`: veil's schema names hold no dot, so the first dot
/// separates the two however many the object's name holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualifiedName {
    pub schema: String,
    /// `None` for a schema itself.
    pub object: Option<String>,
}

impl QualifiedName {
    pub fn schema(schema: impl Into<String>) -> QualifiedName {
        QualifiedName {
            schema: schema.into(),
            object: None,
        }
    }

    pub fn new(schema: impl Into<String>, object: impl Into<String>) -> QualifiedName {
        QualifiedName {
            schema: schema.into(),
            object: Some(object.into()),
        }
    }

    /// Reads the shown form back.
    pub fn parse(text: &str) -> QualifiedName {
        match text.split_once('.') {
            Some((schema, object)) => QualifiedName::new(schema, object),
            None => QualifiedName::schema(text),
        }
    }

    /// The object's own name, or the schema's for a schema.
    pub fn last(&self) -> &str {
        self.object.as_deref().unwrap_or(&self.schema)
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.object {
            Some(object) => write!(f, "{}.{object}", self.schema),
            None => f.write_str(&self.schema),
        }
    }
}

impl Serialize for QualifiedName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QualifiedName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<QualifiedName, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(QualifiedName::parse(&text))
    }
}

/// Which object: its kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectId {
    pub kind: ObjectKind,
    #[serde(rename = "object")]
    pub name: QualifiedName,
}

impl ObjectId {
    pub fn new(kind: ObjectKind, name: QualifiedName) -> ObjectId {
        ObjectId { kind, name }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// One object veil creates: what emit renders, the state table records and
/// the plan compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Object {
    #[serde(flatten)]
    pub id: ObjectId,
    pub sql: String,
    /// For views, the columns and their types: when they change, the view
    /// must be dropped and created again rather than replaced.
    pub columns: Option<Vec<(String, String)>>,
}

impl Object {
    pub fn kind(&self) -> ObjectKind {
        self.id.kind
    }

    pub fn name(&self) -> &QualifiedName {
        &self.id.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_shown() {
        for name in [
            QualifiedName::schema("veil_system"),
            QualifiedName::new("governed", "orders"),
            QualifiedName::new("governed", "a.b \"c\""),
        ] {
            assert_eq!(QualifiedName::parse(&name.to_string()), name);
        }
        for kind in ObjectKind::ALL {
            assert_eq!(ObjectKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ObjectKind::parse("column"), None);
    }
}
