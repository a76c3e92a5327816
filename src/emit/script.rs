//! The SQL of an apply script that creates no object: the session settings,
//! the lock and the guard on the deployment, veil's state rows, the key,
//! the profile rows of the users whose rows change, and drops. Every name
//! and value goes through `quote`, as for the objects.

use super::profile;
use super::quote::{comment, ident, literal, qualified, qualified_name};
use crate::catalog::CatalogObject;
use crate::ir::{Integration, Profile, Schemas};
use crate::model::Dialect;
use crate::object::{Object, ObjectId, ObjectKind, QualifiedName};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

pub use crate::dialect::STATEMENT_TIMEOUT_MS;

/// Text of a Redshift VARCHAR(65535) column, with room for multi-byte
/// characters cut at a boundary.
pub const TEXT_PART_BYTES: usize = 60_000;

/// Parts per `INSERT` of a text in parts: about a megabyte a statement.
const PARTS_PER_INSERT: usize = 16;

/// The checksum (`state::checksum`) of each part a policy file's `text` is
/// recorded in.
pub fn part_checksums(text: &str) -> Vec<String> {
    chunks(text, TEXT_PART_BYTES)
        .map(crate::state::checksum)
        .collect()
}

/// `text` in pieces of at most `max` bytes, cut at character boundaries.
pub fn chunks(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

/// The settings every session of veil's runs with: a search path no one
/// else can add to, veil's statement bound, the integration's zone and
/// fixed display settings. An apply script sets them again at its start,
/// so that a hand run gets them too.
pub fn session_settings(dialect: Dialect, time_zone: &str) -> String {
    dialect.sql().session_settings(&literal(time_zone, dialect))
}

/// What every session veil opens runs first: the role's own search path
/// (read before it is pinned), the settings, and the role it runs as.
pub fn session_setup(dialect: Dialect, time_zone: &str) -> String {
    format!(
        "SHOW search_path;\n{}\nSELECT {}",
        session_settings(dialect, time_zone),
        dialect.sql().current_user()
    )
}

fn state_table(schemas: &Schemas) -> String {
    qualified(&[&schemas.system, "state"])
}

/// The lock on veil's state table, held until the transaction ends.
pub fn lock(dialect: Dialect, schemas: &Schemas) -> String {
    dialect.sql().lock_table(&state_table(schemas))
}

/// The statements that bound the wait for the lock (`end`: that end the
/// bound); empty where the dialect has nothing to send.
pub fn lock_timeout(dialect: Dialect, timeout: Duration, end: bool) -> String {
    dialect.sql().lock_timeout(timeout.as_millis(), end)
}

/// A lock taken before any table of veil's exists, where the dialect has
/// one (PostgreSQL's transaction-scoped advisory lock, keyed by veil's
/// system schema), so that two applies to one database never run at once.
pub fn first_lock(dialect: Dialect, schemas: &Schemas) -> Option<String> {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(format!("veil apply {}", schemas.system).as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash[..8]);
    dialect.sql().advisory_lock(i64::from_be_bytes(bytes))
}

/// A statement that fails unless the deployment is the one planned: the
/// serial it was planned against, or no veil state at all for a first
/// deployment. (A failed cast is the error both dialects can raise from a
/// plain query.)
pub fn guard(dialect: Dialect, schemas: &Schemas, initialized: bool, serial: i64) -> String {
    let moved = "'the deployment moved since this script was planned: plan again'";
    let test = if initialized {
        format!(
            "({}) = {serial}",
            deployment_serial(schemas).trim_end_matches(';')
        )
    } else {
        format!("({}) = 0", state_exists(dialect, schemas))
    };
    format!("SELECT CAST(CASE WHEN {test} THEN '1' ELSE {moved} END AS INTEGER) AS planned;")
}

/// Whether veil's state table exists: a count of 0 or 1.
pub fn state_exists(dialect: Dialect, schemas: &Schemas) -> String {
    format!(
        "SELECT COUNT(*) FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = {} AND c.relname = 'state'",
        literal(&schemas.system, dialect)
    )
}

/// The last deployment's serial (0 before the first).
pub fn deployment_serial(schemas: &Schemas) -> String {
    format!(
        "SELECT COALESCE(MAX(d.serial), 0) FROM {} AS d;",
        qualified(&[&schemas.system, "deployments"])
    )
}

/// The column a deployment by an earlier veil lacks.
pub fn add_catalog_column(dialect: Dialect, schemas: &Schemas) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMN \"catalog_json\" {};",
        state_table(schemas),
        dialect.sql().long_text()
    )
}

/// What was recorded at the last apply, and what the plan changes, for
/// [`state_rows`].
pub struct Recorded<'a> {
    pub objects: &'a [crate::state::Applied],
    /// The objects the plan creates, replaces or recreates.
    pub changed: HashSet<&'a ObjectId>,
    pub serial: i64,
    pub policy_files: &'a [crate::state::RecordedFile],
}

/// The statements that record veil's state after the changes: the state
/// rows of the objects the plan changes, or whose place in the order moved
/// (others stay as they are), their texts in parts a Redshift VARCHAR holds, the policy
/// files when they changed, and the new deployment serial. Returns them and
/// the objects whose rows are rewritten.
pub fn state_rows(
    dialect: Dialect,
    schemas: &Schemas,
    objects: &[Object],
    recorded: &Recorded<'_>,
    policy_files: &[(String, String)],
) -> (Vec<String>, Vec<ObjectId>) {
    let system = ident(&schemas.system);
    let lit = |s: &str| literal(s, dialect);
    let version = lit(env!("CARGO_PKG_VERSION"));
    let clock = dialect.clock();
    let before: HashMap<&ObjectId, usize> = recorded
        .objects
        .iter()
        .enumerate()
        .map(|(position, o)| (&o.id, position))
        .collect();
    let objects: Vec<&Object> = objects
        .iter()
        .filter(|o| o.kind() != ObjectKind::Profile)
        .collect();
    let wanted: HashSet<&ObjectId> = objects.iter().map(|o| &o.id).collect();
    let mut out = Vec::new();
    let delete = |id: &ObjectId| {
        format!(
            "DELETE FROM {system}.\"state\" WHERE object_kind = {k} AND object_name = {n};\nDELETE FROM {system}.\"state_text\" WHERE object_kind = {k} AND object_name = {n};",
            k = lit(id.kind.as_str()),
            n = lit(&id.name.to_string())
        )
    };
    for old in recorded.objects {
        if !wanted.contains(&old.id) {
            out.push(delete(&old.id));
        }
    }
    let mut rewritten = Vec::new();
    for (position, object) in objects.iter().enumerate() {
        if let Some(old_position) = before.get(&object.id) {
            if *old_position == position && !recorded.changed.contains(&object.id) {
                continue;
            }
            out.push(delete(&object.id));
        }
        rewritten.push(object.id.clone());
        out.push(object_row(dialect, schemas, object, position));
    }
    // The policies this deployment enforces, in parts a Redshift VARCHAR
    // holds: the files that changed, appeared or went, and only those; the
    // parts of a file in statements of about a megabyte.
    let before: HashMap<&str, &[String]> = recorded
        .policy_files
        .iter()
        .map(|f| (f.path.as_str(), f.parts.as_slice()))
        .collect();
    let after: HashMap<&str, &str> = policy_files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let mut paths: Vec<&str> = before.keys().chain(after.keys()).copied().collect();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        let unchanged = match (before.get(path), after.get(path)) {
            (Some(parts), Some(text)) => *parts == part_checksums(text).as_slice(),
            _ => false,
        };
        if unchanged {
            continue;
        }
        out.push(format!(
            "DELETE FROM {system}.\"policy_files\" WHERE path = {};",
            lit(path)
        ));
        let Some(text) = after.get(path) else {
            continue;
        };
        let rows: Vec<String> = chunks(text, TEXT_PART_BYTES)
            .enumerate()
            .map(|(part, chunk)| format!("({}, {part}, {})", lit(path), lit(chunk)))
            .collect();
        for batch in rows.chunks(PARTS_PER_INSERT) {
            out.push(format!(
                "INSERT INTO {system}.\"policy_files\" (path, part, text) VALUES\n  {};",
                batch.join(",\n  ")
            ));
        }
    }
    out.push(format!(
        "INSERT INTO {system}.\"deployments\" (serial, veil_version, applied_at) VALUES ({}, {version}, {clock});",
        recorded.serial + 1
    ));
    (out, rewritten)
}

/// The state row of one object at `position`, its texts in parts.
fn object_row(dialect: Dialect, schemas: &Schemas, object: &Object, position: usize) -> String {
    let system = ident(&schemas.system);
    let lit = |s: &str| literal(s, dialect);
    let version = lit(env!("CARGO_PKG_VERSION"));
    let clock = dialect.clock();
    let (kind, name) = (lit(object.kind().as_str()), lit(&object.name().to_string()));
    let mut row = format!(
        "INSERT INTO {system}.\"state\" (object_kind, object_name, position, checksum, sql_text, columns_json, catalog_checksum, veil_version, applied_at) VALUES ({kind}, {name}, {position}, {}, '', NULL, NULL, {version}, {clock});",
        lit(&crate::state::checksum(&object.sql)),
    );
    let columns = object
        .columns
        .as_ref()
        .map(|c| serde_json::to_string(c).unwrap_or_default());
    for (field, text) in [
        ("sql", Some(object.sql.as_str())),
        ("columns", columns.as_deref()),
    ] {
        let Some(text) = text else { continue };
        for (part, chunk) in chunks(text, TEXT_PART_BYTES).enumerate() {
            row.push_str(&format!(
                "\nINSERT INTO {system}.\"state_text\" (object_kind, object_name, field, part, text) VALUES ({kind}, {name}, '{field}', {part}, {});",
                lit(chunk)
            ));
        }
    }
    row
}

/// The catalog's word on an object after apply, written to its state row:
/// the JSON and its checksum, or `NULL`s when the catalog has nothing.
pub fn catalog_record(
    dialect: Dialect,
    schemas: &Schemas,
    id: &ObjectId,
    found: Option<(&str, &str)>,
) -> String {
    let lit = |s: &str| literal(s, dialect);
    let (json, checksum) = found.map_or(("NULL".to_string(), "NULL".to_string()), |(j, c)| {
        (lit(j), lit(c))
    });
    format!(
        "UPDATE {} SET catalog_json = {json}, catalog_checksum = {checksum} WHERE object_kind = {} AND object_name = {};",
        state_table(schemas),
        lit(id.kind.as_str()),
        lit(&id.name.to_string())
    )
}

/// The key insert: `value` is a parameter (`$1`) when apply sends it, a
/// psql variable when a person runs the script. It writes only into an
/// empty table.
pub fn key_insert(table: &QualifiedName, value: &str) -> String {
    let table = qualified_name(table);
    format!(
        "INSERT INTO {table} (\"k\") SELECT CAST({value} AS VARCHAR(64)) FROM (SELECT COUNT(*) AS n FROM {table}) AS existing WHERE existing.n = 0;"
    )
}

/// Empties the key's table, for a key made anew.
pub fn key_delete(table: &QualifiedName) -> String {
    format!("DELETE FROM {};", qualified_name(table))
}

/// The statement that removes an object veil created. Routines and the
/// key go with their schema.
pub fn drop(id: &ObjectId) -> String {
    let name = qualified_name(&id.name);
    match id.kind {
        ObjectKind::View => format!("DROP VIEW IF EXISTS {name};"),
        ObjectKind::Table => format!("DROP TABLE IF EXISTS {name};"),
        ObjectKind::Schema => format!("DROP SCHEMA IF EXISTS {name};"),
        kind => format!(
            "-- {kind} {} stays until its schema goes",
            comment(&id.name.to_string())
        ),
    }
}

/// The statements that rewrite the profile rows of `users`: their rows
/// deleted from every side table and the profile, then `keep` (those
/// still in the project) inserted again, each statement below the limit of
/// one message.
pub fn profile_rewrite(
    integration: &Integration,
    users: &[&str],
    keep: &[&Profile],
) -> Vec<String> {
    let dialect = integration.dialect;
    let system = &integration.schemas.system;
    let users: Vec<String> = users.iter().map(|u| literal(u, dialect)).collect();
    let mut out = Vec::new();
    for chunk in users.chunks(500) {
        let list = chunk.join(", ");
        let mut sql = String::new();
        for table in profile::SIDE_TABLES {
            sql.push_str(&format!(
                "DELETE FROM {} WHERE {} IN ({list});\n",
                qualified(&[system, table]),
                ident(profile::SIDE_USER)
            ));
        }
        sql.push_str(&format!(
            "DELETE FROM {} WHERE {} IN ({list});",
            qualified(&[system, profile::TABLE]),
            ident(profile::USER)
        ));
        out.push(sql);
    }
    let inserts = super::profile_insert_sql(integration, keep);
    out.extend(
        inserts
            .split_inclusive(";\n")
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string),
    );
    out
}

/// The statements that put an object other than a view back as veil made
/// it: every grant revoked (the object's own statements grant again what
/// veil grants), the owner set back to the account applying, and the
/// object's statements run again.
pub fn repair(
    id: &ObjectId,
    recorded: &CatalogObject,
    now: &CatalogObject,
    object_sql: &str,
    owner: &str,
    dialect: Dialect,
) -> String {
    let qualified = qualified_name(&id.name);
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

/// The grantees of a set of grants (`grantee PRIVILEGE …`), for revoking
/// what was granted by hand; `PUBLIC` as is, others quoted. On Redshift a
/// grant reads `kind name PRIVILEGE`.
pub fn grantees(grants: &BTreeSet<String>, dialect: Dialect) -> BTreeSet<String> {
    grants
        .iter()
        .filter_map(|g| {
            Some(match dialect.sql().grant_holder(g)? {
                None => "PUBLIC".to_string(),
                Some((kind, name)) => dialect.sql().grantee(kind, &ident(name)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_at_character_boundaries() {
        let text = "é".repeat(40_000);
        let parts: Vec<&str> = chunks(&text, TEXT_PART_BYTES).collect();
        assert_eq!(parts.concat(), text);
        assert!(parts.iter().all(|p| p.len() <= TEXT_PART_BYTES));
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn redshift_locks_without_a_mode() {
        let schemas = Schemas {
            system: "s".into(),
            functions: "f".into(),
            procedures: "p".into(),
            views: "v".into(),
        };
        assert_eq!(
            lock(Dialect::Redshift, &schemas),
            "LOCK TABLE \"s\".\"state\";"
        );
        assert_eq!(
            lock_timeout(Dialect::Redshift, Duration::from_secs(30), false),
            "SET statement_timeout TO 30000;"
        );
        assert_eq!(
            lock_timeout(Dialect::Redshift, Duration::from_secs(30), true),
            format!("SET statement_timeout TO {STATEMENT_TIMEOUT_MS};")
        );
        assert_eq!(first_lock(Dialect::Redshift, &schemas), None);
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
