//! Resolution: a condition or a filter as written, against one source,
//! into the model's resolved form (columns by index, escape hatches
//! parsed). The checker has reported whatever does not resolve before this
//! runs; should something still not resolve, the result fails closed: a
//! filter keeps no row, a mask's condition is dropped so the mask applies.

use super::rules::{find_column, resolve_tagged};
use crate::ast;
use crate::hash::FastMap;
use crate::model::{Filter, Lookup, Operand, Predicate, Source, TableRef};
use crate::span::Node;
use crate::sql_expr;

/// Every declared source, and each by id: what a lookup names.
#[derive(Clone, Copy)]
pub struct Sources<'m> {
    pub all: &'m [Source],
    pub index: &'m FastMap<String, usize>,
}

impl Sources<'_> {
    /// A lookup table's base table and columns, as the catalog names them.
    pub fn lookup(&self, id: &str, key: &str, value: &str) -> Option<Lookup> {
        let source = &self.all[*self.index.get(id)?];
        let catalog = |name: &str| source.dialect.catalog_name(name);
        let column = |name: &str| Some(catalog(&source.columns[find_column(source, name)?].name));
        Some(Lookup {
            source: source.id.clone(),
            table: TableRef {
                database: catalog(&source.table.database),
                schema: catalog(&source.table.schema),
                table: catalog(&source.table.table),
            },
            cross_database: source.cross_database,
            key: column(key)?,
            value: column(value)?,
        })
    }
}

/// A condition resolved against `source`; `None` if a column does not
/// resolve or an escape hatch does not parse.
pub fn predicate(
    p: &ast::Predicate,
    source: &Source,
    sources: Sources<'_>,
) -> Option<Predicate<usize>> {
    let operand = |o: &Node<ast::Operand>| self::operand(&o.node, source, sources);
    let all = |parts: &[Node<ast::Predicate>]| -> Option<Vec<Predicate<usize>>> {
        parts
            .iter()
            .map(|p| predicate(&p.node, source, sources))
            .collect()
    };
    Some(match p {
        ast::Predicate::Or(parts) => Predicate::Or(all(parts)?),
        ast::Predicate::And(parts) => Predicate::And(all(parts)?),
        ast::Predicate::Not(inner) => {
            Predicate::Not(Box::new(predicate(&inner.node, source, sources)?))
        }
        ast::Predicate::Compare { left, op, right } => Predicate::Compare {
            left: operand(left)?,
            op: *op,
            right: operand(right)?,
        },
        ast::Predicate::IsNull {
            operand: o,
            negated,
        } => Predicate::IsNull {
            operand: operand(o)?,
            negated: *negated,
        },
        ast::Predicate::InList {
            operand: o,
            negated,
            values,
        } => Predicate::InList {
            operand: operand(o)?,
            negated: *negated,
            values: values.iter().map(|v| v.node.clone()).collect(),
        },
        ast::Predicate::InUserGroups {
            operand: o,
            negated,
        } => Predicate::InUserGroups {
            operand: operand(o)?,
            negated: *negated,
        },
        ast::Predicate::InUserAttribute {
            operand: o,
            negated,
            key,
        } => Predicate::InUserAttribute {
            operand: operand(o)?,
            negated: *negated,
            key: key.node.clone(),
        },
        ast::Predicate::InLookup {
            operand: o,
            negated,
            source: lookup,
            key,
            value,
        } => Predicate::InLookup {
            operand: operand(o)?,
            negated: *negated,
            lookup: sources.lookup(&lookup.node.dotted(), &key.node, &value.node)?,
        },
        ast::Predicate::Operand(o) => Predicate::Operand(operand(o)?),
    })
}

fn operand(o: &ast::Operand, source: &Source, sources: Sources<'_>) -> Option<Operand<usize>> {
    Some(match o {
        ast::Operand::Literal(l) => Operand::Literal(l.clone()),
        ast::Operand::Column(name) => Operand::Column(find_column(source, name)?),
        ast::Operand::UserName => Operand::UserName,
        ast::Operand::ColumnTagged(tag) => {
            Operand::Column(resolve_tagged(source, &tag.dotted()).ok()?)
        }
        ast::Operand::Sql(text) => {
            let expr = sql_expr::parse_for(text, source.dialect).ok()?;
            let mut names = Vec::new();
            expr.columns(&mut names);
            if names.iter().any(|n| find_column(source, n).is_none()) {
                return None;
            }
            // The declared column of each name, as the dialect compares.
            let declared = |name: &str| {
                find_column(source, name)
                    .map_or_else(|| name.to_string(), |c| source.columns[c].name.clone())
            };
            Operand::Sql(expr.rename_columns(&declared))
        }
        ast::Operand::Paren(inner) => {
            Operand::Paren(Box::new(predicate(&inner.node, source, sources)?))
        }
    })
}

/// What a filter keeps of `source`.
pub fn filter(kind: &ast::FilterKind, source: &Source, sources: Sources<'_>) -> Filter {
    let resolved = match kind {
        ast::FilterKind::Where(p) => predicate(&p.node, source, sources).map(Filter::Rows),
        ast::FilterKind::Time {
            newer,
            amount,
            unit,
        } => source.event_time.map(|column| {
            Filter::Rows(Predicate::Age {
                column,
                column_type: source.columns[column].ty.kind,
                newer: *newer,
                amount: *amount,
                unit: *unit,
            })
        }),
        ast::FilterKind::Sample { percent, column } => {
            let threshold = percent
                .parse::<f64>()
                .map(|p| (p * 100.0).round().clamp(0.0, 10_000.0) as u32)
                .unwrap_or(0);
            find_column(source, &column.node).map(|column| {
                Filter::Rows(Predicate::Sample {
                    column,
                    column_type: source.columns[column].ty.clone(),
                    threshold,
                })
            })
        }
        ast::FilterKind::LimitToPurpose(purpose) => {
            Some(Filter::LimitToPurpose(purpose.node.clone()))
        }
        ast::FilterKind::LimitToAnyPurpose => Some(Filter::LimitToAnyPurpose),
        ast::FilterKind::Never => Some(Filter::Never),
    };
    resolved.unwrap_or(Filter::Never)
}
