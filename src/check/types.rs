//! Column types: the spelling a source declares, classified for the masks.

use crate::ast::TypeExpr;
use crate::model::{Dialect, SqlType, TypeKind};

/// The type names veil knows, for "did you mean".
pub const KNOWN: [&str; 35] = [
    "smallint",
    "int2",
    "integer",
    "int",
    "int4",
    "bigint",
    "int8",
    "decimal",
    "numeric",
    "real",
    "float4",
    "double precision",
    "float8",
    "float",
    "boolean",
    "bool",
    "char",
    "character",
    "nchar",
    "bpchar",
    "varchar",
    "character varying",
    "nvarchar",
    "text",
    "date",
    "timestamp",
    "timestamptz",
    "time",
    "timetz",
    "super",
    "varbyte",
    "uuid",
    "json",
    "jsonb",
    "bytea",
];

/// Classifies a declared type, or says why it is not valid.
///
/// Long, because it is one arm per type name, each with its arguments and limits.
pub fn classify(ty: &TypeExpr, dialect: Dialect) -> Result<SqlType, String> {
    let sql = dialect.sql();
    let args: Vec<Option<u32>> = ty
        .args
        .iter()
        .map(|a| if a == "max" { None } else { a.parse().ok() })
        .collect();
    let no_args = |kind: TypeKind, sql: &str| -> Result<SqlType, String> {
        if !ty.args.is_empty() {
            return Err(format!("`{}` takes no arguments", ty.name));
        }
        Ok(SqlType {
            kind,
            sql: sql.to_string(),
        })
    };
    let length = |default: Option<u32>, max: u32| -> Result<Option<u32>, String> {
        match args.as_slice() {
            [] => Ok(default),
            [Some(n)] if (1..=max).contains(n) => Ok(Some(*n)),
            [None] if ty.args[0] == "max" && sql.has_varchar_max() => Ok(Some(max)),
            _ => Err(format!("`{}` takes one length from 1 to {max}", ty.name)),
        }
    };
    if ty.time_zone.is_some() && !matches!(ty.name.as_str(), "timestamp" | "time") {
        return Err("only `timestamp` and `time` take a time zone".into());
    }
    let with_tz = ty.time_zone == Some(true);
    let text_max = sql.max_varchar();
    match ty.name.as_str() {
        "smallint" | "int2" => no_args(TypeKind::SmallInt, "smallint"),
        "integer" | "int" | "int4" => no_args(TypeKind::Integer, "integer"),
        "bigint" | "int8" => no_args(TypeKind::BigInt, "bigint"),
        "decimal" | "numeric" => {
            let (p, s) = match args.as_slice() {
                [] => (18, 0),
                [Some(p)] => (*p, 0),
                [Some(p), Some(s)] => (*p, *s),
                _ => return Err("`numeric` takes a precision and an optional scale".into()),
            };
            if !(1..=38).contains(&p) || s > p {
                return Err(
                    "a numeric precision is 1 to 38 and its scale at most the precision".into(),
                );
            }
            Ok(SqlType {
                kind: TypeKind::Decimal(p, s),
                sql: format!("numeric({p},{s})"),
            })
        }
        "real" | "float4" => no_args(TypeKind::Real, "real"),
        "double precision" | "float8" | "float" => no_args(TypeKind::Double, "double precision"),
        "boolean" | "bool" => no_args(TypeKind::Boolean, "boolean"),
        "char" | "character" | "nchar" | "bpchar" => {
            let n = length(Some(1), 4096)?.unwrap_or(1);
            Ok(SqlType {
                kind: TypeKind::Char(n),
                sql: format!("char({n})"),
            })
        }
        "varchar" | "character varying" | "nvarchar" => {
            let n = length(sql.default_varchar(), text_max)?;
            Ok(SqlType {
                kind: TypeKind::Varchar(n),
                sql: n.map_or("varchar".to_string(), |n| format!("varchar({n})")),
            })
        }
        "text" => {
            let (kind, spelled) = sql.text_is();
            no_args(kind, spelled)
        }
        "date" => no_args(TypeKind::Date, "date"),
        "timestamp" if with_tz => no_args(TypeKind::TimestampTz, "timestamptz"),
        "timestamp" => no_args(TypeKind::Timestamp, "timestamp"),
        "timestamptz" => no_args(TypeKind::TimestampTz, "timestamptz"),
        "time" if with_tz => no_args(TypeKind::TimeTz, "timetz"),
        "time" => no_args(TypeKind::Time, "time"),
        "timetz" => no_args(TypeKind::TimeTz, "timetz"),
        own if sql.own_types().contains(&own) => no_args(TypeKind::Other, own),
        other if KNOWN.contains(&other) => {
            Err(format!("`{other}` is not a {} type", dialect.name()))
        }
        other => Err(format!("unknown column type `{other}`")),
    }
}
