//! What the database's catalog says about the objects in veil's schemas:
//! each object's owner, grants, options and a fingerprint of its
//! definition; the hashing key's presence and fingerprint (never its
//! value); and a digest of every user's rows in the profile side tables.
//! Apply records what it left; a plan compares what it finds with that
//! record, and everything that differs is drift. Comparing the rows is
//! pure; the queries are `emit::reads`'s, and `db` runs them.

use crate::hash::RowHash;
use crate::ir::Profile;
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
                    crate::hash::checksum(&value)
                };
                object.definition = if object.definition.is_empty() {
                    hash
                } else {
                    crate::hash::checksum(&format!("{}{hash}", object.definition))
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

/// A table's rows as the catalog records them: how many, and a digest.
pub fn rows_object(rows: &str, fingerprint: &str) -> CatalogObject {
    key_object(rows, fingerprint)
}

/// The key as the catalog records it: rows and fingerprint.
pub fn key_object(rows: &str, fingerprint: &str) -> CatalogObject {
    CatalogObject {
        definition: fingerprint.to_string(),
        options: BTreeSet::from([format!("rows {rows}")]),
        ..CatalogObject::default()
    }
}

/// A digest of some rows of a side table: how many, and two sums of a hash
/// of each row ([`RowHash`]). Order does not matter; a row added or
/// changed by hand moves them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RowDigest {
    pub rows: u64,
    pub low: i128,
    pub high: i128,
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
        ("profile_approvals", dedup(profile.approved.iter().cloned())),
    ]
}

fn dedup(values: impl Iterator<Item = String>) -> Vec<String> {
    values.collect::<BTreeSet<_>>().into_iter().collect()
}

/// The digest of some rows, as the digest query computes it.
pub fn digest(rows: &[String], hash: RowHash) -> RowDigest {
    let mut d = RowDigest::default();
    let mut scratch = Vec::new();
    for row in rows {
        d.add(hash, row.as_bytes(), &mut scratch);
    }
    d
}

impl RowDigest {
    /// Counts one row of text (its bytes) in; `scratch` is room to escape it.
    fn add(&mut self, hash: RowHash, row: &[u8], scratch: &mut Vec<u8>) {
        let (low, high) = match hash {
            RowHash::Sha256 => {
                let hash = Sha256::digest(row);
                let slice = |from: usize| -> i128 {
                    // 12 hex digits are 6 bytes.
                    hash[from..from + 6]
                        .iter()
                        .fold(0i128, |acc, b| (acc << 8) | i128::from(*b))
                };
                (slice(0), slice(6))
            }
            RowHash::PostgresText => {
                scratch.clear();
                crate::hash::postgres_escape(row, scratch);
                let hash = |seed| i128::from(crate::hash::postgres_text_hash(scratch, seed));
                (hash(0), hash(1))
            }
        };
        self.rows += 1;
        self.low += low;
        self.high += high;
    }
}

/// The digests the deployed profile rows imply, by (side table, user).
pub fn expected_digests(
    profiles: &[Profile],
    hash: RowHash,
) -> BTreeMap<(String, String), RowDigest> {
    let mut out = BTreeMap::new();
    for p in profiles {
        for (table, rows) in side_row_texts(p) {
            if !rows.is_empty() {
                out.insert((table.to_string(), p.user.clone()), digest(&rows, hash));
            }
        }
    }
    out
}

/// The digest of each side table as a whole that the deployed profile rows
/// imply: every row read with its user, as `emit::reads::side_totals`
/// reads it (the user's length in bytes, `:`, the user, the row).
pub fn expected_totals(profiles: &[Profile], hash: RowHash) -> BTreeMap<&'static str, RowDigest> {
    let mut out: BTreeMap<&'static str, RowDigest> = BTreeMap::new();
    let (mut text, mut scratch) = (Vec::new(), Vec::new());
    for p in profiles {
        for (table, rows) in side_row_texts(p) {
            let digest = out.entry(table).or_default();
            for row in rows {
                text.clear();
                text.extend_from_slice(p.user.len().to_string().as_bytes());
                text.push(b':');
                text.extend_from_slice(p.user.as_bytes());
                text.extend_from_slice(row.as_bytes());
                digest.add(hash, &text, &mut scratch);
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
        "profile_approvals" => profile.approved.clone(),
        _ => Vec::new(),
    };
    rows.sort();
    rows.dedup();
    rows
}

fn shown(name: &str) -> &str {
    if name.is_empty() { "(nobody)" } else { name }
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
        for hash in [RowHash::Sha256, RowHash::PostgresText] {
            let a = digest(&["x".into(), "y".into()], hash);
            assert_eq!(a, digest(&["y".into(), "x".into()], hash));
            assert_ne!(a, digest(&["x".into()], hash));
            assert_ne!(a, digest(&["x".into(), "z".into()], hash));
        }
    }
}
