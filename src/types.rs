//! Column types as veil classifies them: the family a mask cares about and
//! the canonical spelling. Below every stage that reads a type.

use serde::Serialize;

/// A column type, classified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlType {
    pub kind: TypeKind,
    /// The canonical SQL spelling, such as `varchar(256)` or `numeric(12,2)`.
    pub sql: String,
}

/// The families of column types the masks care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeKind {
    SmallInt,
    Integer,
    BigInt,
    /// `numeric(precision, scale)`.
    Decimal(u32, u32),
    Real,
    Double,
    Boolean,
    /// Fixed-length text of n characters (bytes on Redshift).
    Char(u32),
    /// Variable-length text; `None` is unbounded (`text`).
    Varchar(Option<u32>),
    Date,
    Timestamp,
    TimestampTz,
    Time,
    TimeTz,
    /// A type veil passes through but cannot mask except by `hash`, `null`
    /// or `none` (`super`, `jsonb`, `uuid`, …).
    Other,
}

impl TypeKind {
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            TypeKind::SmallInt
                | TypeKind::Integer
                | TypeKind::BigInt
                | TypeKind::Decimal(..)
                | TypeKind::Real
                | TypeKind::Double
        )
    }

    pub fn is_text(self) -> bool {
        matches!(self, TypeKind::Char(_) | TypeKind::Varchar(_))
    }

    pub fn is_temporal(self) -> bool {
        matches!(
            self,
            TypeKind::Date | TypeKind::Timestamp | TypeKind::TimestampTz
        )
    }
}
