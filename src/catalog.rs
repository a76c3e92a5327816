//! What the database's catalog says about the objects in veil's schemas:
//! each object's owner, grants, options and a fingerprint of its
//! definition; the hashing key's presence and fingerprint (never its
//! value); and a digest of every user's rows in the profile side tables.
//! Apply records what it left; a plan compares what it finds with that
//! record, and everything that differs is drift. Building the queries and
//! comparing their rows are pure functions; `db` runs the queries.

use crate::emit::quote::{ident, literal};
use crate::ir::{Profile, Schemas};
use crate::live::in_list;
use crate::model::Dialect;
use crate::object::{ObjectId, ObjectKind, QualifiedName};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// What the catalog says about one object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogObject {
    pub owner: String,
    /// `grantee PRIVILEGE`, or `grantee PRIVILEGE (column)`, the owner's
    /// own left out.
    pub grants: BTreeSet<String>,
    /// View options, row security, rules and triggers on a table.
    pub options: BTreeSet<String>,
    /// A fingerprint of the definition: a view's query, a routine's whole
    /// text, the key's rows.
    pub definition: String,
    /// Routines: the signature of every routine of that name (more than one
    /// means somebody added an overload).
    pub signatures: BTreeSet<String>,
}

/// One row of the catalog query: kind, name, aspect, value.
pub type CatalogRow = (String, String, String, String);

/// The catalog query: one row per (object, aspect), for every schema,
/// relation and routine in `schemas`.
pub fn catalog_sql(dialect: Dialect, schemas: &[String]) -> String {
    let ours = in_list(schemas.iter().map(String::as_str), dialect);
    match dialect {
        Dialect::Postgres => format!(
            "WITH rel AS (
               SELECT c.oid, c.relowner, c.relacl, c.reloptions, c.relrowsecurity, c.relkind,
                      CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END AS kind,
                      n.nspname || '.' || c.relname AS name
                 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname {ours} AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
             ), pro AS (
               SELECT p.oid, p.proowner, p.proacl, p.prokind,
                      CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END AS kind,
                      n.nspname || '.' || p.proname AS name
                 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname {ours}
             ), grantee AS (
               SELECT 0::oid AS oid, 'PUBLIC' AS name
               UNION ALL SELECT r.oid, r.rolname::text FROM pg_catalog.pg_roles r
             )
             SELECT 'schema', n.nspname::text, 'owner', pg_catalog.pg_get_userbyid(n.nspowner)::text
               FROM pg_catalog.pg_namespace n WHERE n.nspname {ours}
             UNION ALL
             SELECT 'schema', n.nspname::text, 'grant', g.name || ' ' || a.privilege_type
               FROM pg_catalog.pg_namespace n
               CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
               JOIN grantee g ON g.oid = a.grantee
              WHERE n.nspname {ours} AND a.grantee <> n.nspowner
             UNION ALL
             SELECT kind, name, 'owner', pg_catalog.pg_get_userbyid(relowner)::text FROM rel
             UNION ALL
             SELECT r.kind, r.name, 'grant', g.name || ' ' || a.privilege_type
               FROM rel r
               CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(r.relacl, pg_catalog.acldefault('r', r.relowner))) a
               JOIN grantee g ON g.oid = a.grantee
              WHERE a.grantee <> r.relowner
             UNION ALL
             SELECT r.kind, r.name, 'grant', g.name || ' ' || a.privilege_type || ' (' || t.attname || ')'
               FROM rel r
               JOIN pg_catalog.pg_attribute t ON t.attrelid = r.oid AND t.attnum > 0 AND NOT t.attisdropped
               CROSS JOIN LATERAL pg_catalog.aclexplode(t.attacl) a
               JOIN grantee g ON g.oid = a.grantee
              WHERE a.grantee <> r.relowner
             UNION ALL
             SELECT r.kind, r.name, 'option', o FROM rel r CROSS JOIN LATERAL pg_catalog.unnest(r.reloptions) o
             UNION ALL
             SELECT kind, name, 'option', 'row level security' FROM rel WHERE relrowsecurity
             UNION ALL
             SELECT r.kind, r.name, 'option', 'rule ' || w.rulename
               FROM rel r JOIN pg_catalog.pg_rewrite w ON w.ev_class = r.oid WHERE w.rulename <> '_RETURN'
             UNION ALL
             SELECT r.kind, r.name, 'option', 'trigger ' || t.tgname
               FROM rel r JOIN pg_catalog.pg_trigger t ON t.tgrelid = r.oid WHERE NOT t.tgisinternal
             UNION ALL
             SELECT r.kind, r.name, 'definition',
                    pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(w.ev_action::text, 'UTF8')), 'hex')
               FROM rel r JOIN pg_catalog.pg_rewrite w ON w.ev_class = r.oid AND w.rulename = '_RETURN'
             UNION ALL
             SELECT kind, name, 'owner', pg_catalog.pg_get_userbyid(proowner)::text FROM pro
             UNION ALL
             SELECT p.kind, p.name, 'grant', g.name || ' ' || a.privilege_type
               FROM pro p
               CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
               JOIN grantee g ON g.oid = a.grantee
              WHERE a.grantee <> p.proowner
             UNION ALL
             SELECT kind, name, 'definition',
                    pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.pg_get_functiondef(oid), 'UTF8')), 'hex')
               FROM pro
             UNION ALL
             SELECT kind, name, 'signature', CAST(oid::pg_catalog.regprocedure AS text) FROM pro"
        ),
        // Redshift's views carry no options; grants come from its privilege
        // views (which show a non-superuser only what it may see: the live
        // checks warn of that).
        // The first branch's columns are text (`|| ''`): a `name` there
        // would make every later value a `name`, cut at its length.
        Dialect::Redshift => format!(
            "SELECT 'schema', n.nspname || '', 'owner', u.usename || ''
               FROM pg_catalog.pg_namespace n LEFT JOIN pg_catalog.pg_user u ON u.usesysid = n.nspowner
              WHERE n.nspname {ours}
             UNION ALL
             SELECT 'schema', s.namespace_name, 'grant', s.identity_type || ' ' || s.identity_name || ' ' || s.privilege_type
               FROM pg_catalog.svv_schema_privileges s
               LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.namespace_name
               LEFT JOIN pg_catalog.pg_user u ON u.usesysid = n.nspowner
              WHERE s.namespace_name {ours} AND s.identity_name <> COALESCE(u.usename, '')
             UNION ALL
             SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END, n.nspname || '.' || c.relname, 'owner', u.usename
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_catalog.pg_user u ON u.usesysid = c.relowner
              WHERE n.nspname {ours} AND c.relkind IN ('r', 'v')
             UNION ALL
             SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END, p.namespace_name || '.' || p.relation_name, 'grant',
                    p.identity_type || ' ' || p.identity_name || ' ' || p.privilege_type
               FROM pg_catalog.svv_relation_privileges p
               JOIN pg_catalog.pg_namespace n ON n.nspname = p.namespace_name
               JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = p.relation_name
               LEFT JOIN pg_catalog.pg_user u ON u.usesysid = c.relowner
              WHERE p.namespace_name {ours} AND p.identity_name <> COALESCE(u.usename, '')
             UNION ALL
             SELECT 'view', v.schemaname || '.' || v.viewname, 'definition', v.definition
               FROM pg_catalog.pg_views v WHERE v.schemaname {ours}
             UNION ALL
             SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, n.nspname || '.' || p.proname, 'owner', u.usename
               FROM pg_catalog.pg_proc_info p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
               LEFT JOIN pg_catalog.pg_user u ON u.usesysid = p.proowner
              WHERE n.nspname {ours}
             UNION ALL
             SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, n.nspname || '.' || p.proname, 'definition',
                    CASE WHEN p.prosecdef THEN 'definer ' ELSE 'invoker ' END || p.prosrc
               FROM pg_catalog.pg_proc_info p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname {ours}
             UNION ALL
             SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, n.nspname || '.' || p.proname, 'signature',
                    n.nspname || '.' || p.proname || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')'
               FROM pg_catalog.pg_proc_info p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname {ours}
             UNION ALL
             SELECT DISTINCT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, f.namespace_name || '.' || f.function_name, 'grant',
                    f.identity_type || ' ' || f.identity_name || ' ' || f.privilege_type
               FROM pg_catalog.svv_function_privileges f
               JOIN pg_catalog.pg_namespace n ON n.nspname = f.namespace_name
               JOIN pg_catalog.pg_proc_info p ON p.pronamespace = n.oid AND p.proname = f.function_name
               LEFT JOIN pg_catalog.pg_user u ON u.usesysid = p.proowner
              WHERE f.namespace_name {ours} AND f.identity_name <> COALESCE(u.usename, '')"
        ),
    }
}

/// Gathers the catalog query's rows by object. Definitions are kept as a
/// fingerprint (Redshift's view text is hashed here).
pub fn collect(rows: impl IntoIterator<Item = CatalogRow>) -> BTreeMap<ObjectId, CatalogObject> {
    let mut objects: BTreeMap<ObjectId, CatalogObject> = BTreeMap::new();
    for (kind, name, aspect, value) in rows {
        // The catalog queries name only kinds veil creates.
        let Some(kind) = ObjectKind::parse(&kind) else {
            continue;
        };
        let id = ObjectId::new(kind, QualifiedName::parse(&name));
        let object = objects.entry(id).or_default();
        match aspect.as_str() {
            "owner" => object.owner = value,
            "grant" => {
                object.grants.insert(value);
            }
            "option" => {
                object.options.insert(value);
            }
            "definition" => {
                // Several definitions of one name are several routines.
                let hash = if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
                    value
                } else {
                    crate::state::checksum(&value)
                };
                object.definition = if object.definition.is_empty() {
                    hash
                } else {
                    crate::state::checksum(&format!("{}{hash}", object.definition))
                };
            }
            "signature" => {
                object.signatures.insert(value);
            }
            _ => {}
        }
    }
    objects
}

/// The hashing key's rows: how many, and a fingerprint of them, never
/// their value.
pub fn key_sql(dialect: Dialect, schemas: &Schemas) -> String {
    let table = format!("{}.{}", ident(&schemas.system), ident("hash_key"));
    match dialect {
        Dialect::Postgres => format!(
            "SELECT CAST(pg_catalog.count(*) AS text),
                    pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(COALESCE(pg_catalog.string_agg(k.\"k\", ',' ORDER BY k.\"k\"), ''), 'UTF8')), 'hex')
               FROM {table} AS k"
        ),
        // One key is the rule; with more the count tells already.
        Dialect::Redshift => format!(
            "SELECT CAST(COUNT(*) AS VARCHAR(20)),
                    pg_catalog.sha2(COALESCE(MIN(k.\"k\"), '') || ',' || COALESCE(MAX(k.\"k\"), ''), 256)
               FROM {table} AS k"
        ),
    }
}

/// The key as the catalog records it: rows and fingerprint.
pub fn key_object(rows: &str, fingerprint: &str) -> CatalogObject {
    CatalogObject {
        definition: fingerprint.to_string(),
        options: BTreeSet::from([format!("rows {rows}")]),
        ..CatalogObject::default()
    }
}

/// The profile side tables and the columns of one row (a digest reads an
/// attribute row as the key's length in bytes, `:`, the key and the value).
const SIDE_TABLES: [(&str, &[&str]); 4] = [
    ("profile_groups", &["name"]),
    ("profile_attributes", &["key", "value"]),
    ("profile_purposes", &["name"]),
    ("profile_tables", &["source"]),
];

/// One side-table row as text, in SQL.
fn row_text(columns: &[&str], dialect: Dialect) -> String {
    match columns {
        [value] => format!("x.{}", ident(value)),
        [key, value] => {
            let text = match dialect {
                Dialect::Postgres => "text",
                Dialect::Redshift => "VARCHAR(10)",
            };
            format!(
                "CAST(pg_catalog.octet_length(x.{k}) AS {text}) || ':' || x.{k} || x.{v}",
                k = ident(key),
                v = ident(value)
            )
        }
        _ => "''".into(),
    }
}

/// A digest of one user's rows in one side table: how many, and two sums of
/// 48-bit slices of each row's SHA-256 (order does not matter; a row added
/// or changed by hand moves them).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RowDigest {
    pub rows: u64,
    pub low: u128,
    pub high: u128,
}

/// The digest query: per side table and user, the row count and both sums.
/// `present` are the side tables that exist.
pub fn side_digest_sql(dialect: Dialect, schemas: &Schemas, present: &[&str]) -> String {
    SIDE_TABLES
        .iter()
        .filter(|(table, _)| present.contains(table))
        .map(|(table, columns)| {
            let row = row_text(columns, dialect);
            let slice = |at: u32| match dialect {
                Dialect::Postgres => format!(
                    "CAST(pg_catalog.sum(CAST(CAST('x' || pg_catalog.substr(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to({row}, 'UTF8')), 'hex'), {at}, 12) AS bit(48)) AS bigint)) AS text)"
                ),
                Dialect::Redshift => format!(
                    "CAST(SUM(CAST(pg_catalog.strtol(pg_catalog.substring(pg_catalog.sha2({row}, 256), {at}, 12), 16) AS NUMERIC(38,0))) AS VARCHAR(40))"
                ),
            };
            format!(
                "SELECT {}, x.\"userid\", pg_catalog.count(*), {}, {} FROM {}.{} AS x GROUP BY x.\"userid\"",
                literal(table, dialect),
                slice(1),
                slice(13),
                ident(&schemas.system),
                ident(table)
            )
        })
        .collect::<Vec<_>>()
        .join("\nUNION ALL\n")
}

/// The rows of the side tables for some users, to show what differs:
/// table, user, row text.
pub fn side_rows_sql(
    dialect: Dialect,
    schemas: &Schemas,
    present: &[&str],
    users: &[&str],
) -> String {
    let who = in_list(users.iter().copied(), dialect);
    SIDE_TABLES
        .iter()
        .filter(|(table, _)| present.contains(table))
        .map(|(table, columns)| {
            let text = columns
                .iter()
                .map(|c| format!("x.{}", ident(c)))
                .collect::<Vec<_>>()
                .join(" || '=' || ");
            format!(
                "SELECT {}, x.\"userid\", {text} FROM {}.{} AS x WHERE x.\"userid\" {who}",
                literal(table, dialect),
                ident(&schemas.system),
                ident(table)
            )
        })
        .collect::<Vec<_>>()
        .join("\nUNION ALL\n")
}

/// The rows a profile implies in each side table, as the digest reads them.
fn side_row_texts(profile: &Profile) -> [(&'static str, Vec<String>); 4] {
    [
        ("profile_groups", dedup(profile.groups.iter().cloned())),
        (
            "profile_attributes",
            dedup(
                profile
                    .attributes
                    .iter()
                    .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{}:{k}{v}", k.len()))),
            ),
        ),
        ("profile_purposes", dedup(profile.purposes.iter().cloned())),
        (
            "profile_tables",
            dedup(profile.valid_tables.iter().cloned()),
        ),
    ]
}

fn dedup(values: impl Iterator<Item = String>) -> Vec<String> {
    values.collect::<BTreeSet<_>>().into_iter().collect()
}

/// The digest of some rows, as the digest query computes it.
pub fn digest(rows: &[String]) -> RowDigest {
    let mut d = RowDigest::default();
    for row in rows {
        let hash = Sha256::digest(row.as_bytes());
        let slice = |from: usize| -> u128 {
            // 12 hex digits are 6 bytes.
            hash[from..from + 6]
                .iter()
                .fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
        };
        d.rows += 1;
        d.low += slice(0);
        d.high += slice(6);
    }
    d
}

/// The digests the deployed profile rows imply, by (side table, user).
pub fn expected_digests(profiles: &[Profile]) -> BTreeMap<(String, String), RowDigest> {
    let mut out = BTreeMap::new();
    for p in profiles {
        for (table, rows) in side_row_texts(p) {
            if !rows.is_empty() {
                out.insert((table.to_string(), p.user.clone()), digest(&rows));
            }
        }
    }
    out
}

/// The users whose side-table rows differ from what their profile rows
/// imply (a user with rows but no profile row among them), each with the
/// tables that differ.
pub fn side_drift(
    expected: &BTreeMap<(String, String), RowDigest>,
    found: &BTreeMap<(String, String), RowDigest>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let keys: BTreeSet<&(String, String)> = expected.keys().chain(found.keys()).collect();
    for key in keys {
        if expected.get(key) != found.get(key) {
            users
                .entry(key.1.clone())
                .or_default()
                .insert(key.0.clone());
        }
    }
    users
}

/// How the recorded and the current catalog of one object differ, in
/// words; empty when they agree.
pub fn differences(recorded: &CatalogObject, now: &CatalogObject) -> Vec<String> {
    let mut out = Vec::new();
    if recorded.owner != now.owner {
        out.push(format!(
            "owner changed from {} to {}",
            shown(&recorded.owner),
            shown(&now.owner)
        ));
    }
    let set_change = |what: &str, before: &BTreeSet<String>, after: &BTreeSet<String>| {
        let added: Vec<&str> = after.difference(before).map(String::as_str).collect();
        let removed: Vec<&str> = before.difference(after).map(String::as_str).collect();
        added_removed(&added, &removed).map(|words| format!("{what} changed: {words}"))
    };
    out.extend(set_change("grants", &recorded.grants, &now.grants));
    out.extend(set_change("options", &recorded.options, &now.options));
    if now.signatures.len() > 1 {
        out.push(format!(
            "{} routines share this name: {}",
            now.signatures.len(),
            now.signatures
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if recorded.definition != now.definition {
        out.push("redefined by hand".into());
    }
    out
}

/// `+ a, + b, - c`: what was added and removed, or `None` when nothing was.
pub fn added_removed(added: &[&str], removed: &[&str]) -> Option<String> {
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("+ {}", added.join(", + ")));
    }
    if !removed.is_empty() {
        parts.push(format!("- {}", removed.join(", - ")));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// How the key's record and the key now differ, in words.
pub fn key_differences(recorded: &CatalogObject, now: &CatalogObject) -> Vec<String> {
    if recorded == now {
        return Vec::new();
    }
    let rows = now
        .options
        .iter()
        .find_map(|o| o.strip_prefix("rows "))
        .unwrap_or("0");
    let what = match rows {
        "0" => "the hash key was deleted by hand".to_string(),
        "1" => "the hash key was replaced by hand".to_string(),
        n => format!("the hash key table holds {n} keys, added by hand"),
    };
    vec![format!(
        "{what}: apply makes a new key from a random source (every hashed value changes)"
    )]
}

/// A profile's rows of one side table as shown in a plan (attributes as
/// `key=value`), sorted.
pub fn side_rows_shown(profile: &Profile, table: &str) -> Vec<String> {
    let mut rows: Vec<String> = match table {
        "profile_groups" => profile.groups.clone(),
        "profile_attributes" => profile
            .attributes
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}={v}")))
            .collect(),
        "profile_purposes" => profile.purposes.clone(),
        "profile_tables" => profile.valid_tables.to_vec(),
        _ => Vec::new(),
    };
    rows.sort();
    rows.dedup();
    rows
}

/// The statements that put an object other than a view back as veil made
/// it: every grant revoked (the object's own statements grant again what
/// veil grants), the owner set back to the account applying, and the
/// object's statements run again.
pub fn repair_sql(
    id: &ObjectId,
    recorded: &CatalogObject,
    now: &CatalogObject,
    object_sql: &str,
    owner: &str,
    dialect: Dialect,
) -> String {
    let qualified = crate::emit::quote::qualified_name(&id.name);
    let signature = recorded
        .signatures
        .iter()
        .next()
        .cloned()
        .unwrap_or_else(|| qualified.clone());
    let target = match id.kind {
        ObjectKind::Schema => format!("SCHEMA {qualified}"),
        ObjectKind::Table => format!("TABLE {qualified}"),
        ObjectKind::Function => format!("FUNCTION {signature}"),
        ObjectKind::Procedure => format!("PROCEDURE {signature}"),
        _ => return object_sql.to_string(),
    };
    let mut sql = String::new();
    for grantee in grantees(&now.grants, dialect) {
        sql.push_str(&format!("REVOKE ALL ON {target} FROM {grantee};\n"));
    }
    if now.owner != owner && !owner.is_empty() {
        sql.push_str(&format!("ALTER {target} OWNER TO {};\n", ident(owner)));
    }
    sql.push_str(object_sql);
    sql
}

fn shown(name: &str) -> &str {
    if name.is_empty() { "(nobody)" } else { name }
}

/// The grantees of a set of grants (`grantee PRIVILEGE …`), for revoking
/// what was granted by hand; `PUBLIC` as is, others quoted. On Redshift a
/// grant reads `kind name PRIVILEGE`.
pub fn grantees(grants: &BTreeSet<String>, dialect: Dialect) -> BTreeSet<String> {
    grants
        .iter()
        .filter_map(|g| {
            let mut words = g.splitn(3, ' ');
            match dialect {
                Dialect::Postgres => {
                    // The name may hold spaces: the privilege is the last word
                    // (before a column list).
                    let g = g.split(" (").next().unwrap_or(g);
                    let (name, _) = g.rsplit_once(' ')?;
                    Some(if name == "PUBLIC" {
                        "PUBLIC".to_string()
                    } else {
                        ident(name)
                    })
                }
                Dialect::Redshift => {
                    let kind = words.next()?;
                    let rest = words.next()?;
                    let rest = format!("{rest} {}", words.next().unwrap_or(""));
                    let (name, _) = rest.trim_end().rsplit_once(' ')?;
                    Some(match kind {
                        "public" => "PUBLIC".to_string(),
                        "group" => format!("GROUP {}", ident(name)),
                        "role" => format!("ROLE {}", ident(name)),
                        _ => ident(name),
                    })
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(owner: &str, grants: &[&str], options: &[&str], definition: &str) -> CatalogObject {
        CatalogObject {
            owner: owner.into(),
            grants: grants.iter().map(|g| g.to_string()).collect(),
            options: options.iter().map(|o| o.to_string()).collect(),
            definition: definition.into(),
            signatures: BTreeSet::new(),
        }
    }

    #[test]
    fn differences_name_what_changed() {
        let recorded = object("veil", &["PUBLIC SELECT"], &["security_barrier=true"], "a");
        assert!(differences(&recorded, &recorded).is_empty());
        let now = object(
            "mallory",
            &["PUBLIC SELECT", "mallory UPDATE"],
            &["security_barrier=false"],
            "b",
        );
        assert_eq!(
            differences(&recorded, &now),
            [
                "owner changed from veil to mallory",
                "grants changed: + mallory UPDATE",
                "options changed: + security_barrier=false, - security_barrier=true",
                "redefined by hand",
            ]
        );
    }

    #[test]
    fn digests_ignore_order_and_see_every_row() {
        let a = digest(&["x".into(), "y".into()]);
        assert_eq!(a, digest(&["y".into(), "x".into()]));
        assert_ne!(a, digest(&["x".into()]));
        assert_ne!(a, digest(&["x".into(), "z".into()]));
    }

    #[test]
    fn grantees_are_quoted_for_revoking() {
        let grants: BTreeSet<String> = ["PUBLIC EXECUTE", "a b SELECT", "a\"c SELECT (k)"]
            .iter()
            .map(|g| g.to_string())
            .collect();
        let got: Vec<String> = grantees(&grants, Dialect::Postgres).into_iter().collect();
        assert_eq!(got, ["\"a b\"", "\"a\"\"c\"", "PUBLIC"]);
        let grants: BTreeSet<String> = [
            "group analysts SELECT",
            "public public SELECT",
            "user bo b USAGE",
        ]
        .iter()
        .map(|g| g.to_string())
        .collect();
        let got: Vec<String> = grantees(&grants, Dialect::Redshift).into_iter().collect();
        assert_eq!(got, ["\"bo b\"", "GROUP \"analysts\"", "PUBLIC"]);
    }
}
