//! What veil has deployed in one database, as a plan reads it: the state
//! rows apply recorded, what the catalog says now, and the profile rows.
//! `db` fills it; `plan` compares a compilation with it; `apply` records
//! the next one.

use crate::catalog::{CatalogObject, RowDigest};
use crate::ir::{Profile, Schemas};
use crate::object::{Object, ObjectId, ObjectKind, QualifiedName};
use std::collections::{BTreeMap, BTreeSet};

pub use crate::hash::checksum;

/// What veil finds deployed in one database.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// veil's state table exists: veil has applied here before.
    pub initialized: bool,
    pub serial: i64,
    pub deployed: Deployed,
    /// What the catalog said of each object right after the last apply.
    pub recorded_catalog: BTreeMap<ObjectId, CatalogObject>,
    /// What the catalog says of every object in veil's schemas now, the key
    /// included.
    pub catalog: BTreeMap<ObjectId, CatalogObject>,
    /// Per side table, a digest of all its rows now (each read with its
    /// user).
    pub side_totals: BTreeMap<String, RowDigest>,
    /// The users whose side-table rows differ from what their profile rows
    /// imply (or who have rows but no profile row), each with the tables
    /// that differ. Read only for a plan, and only where a table's digest
    /// differs from what the profile rows imply.
    pub side_drift: BTreeMap<String, BTreeSet<String>>,
    /// The rows (as text) of side tables whose digest differs from what
    /// the user's profile row implies, by (table, user).
    pub side_rows: BTreeMap<(String, String), Vec<String>>,
    /// Objects that exist in veil's schemas (or are veil's schemas).
    pub existing: Vec<ObjectId>,
    /// The state table records catalogs (a deployment by an earlier veil
    /// lacks the column; apply adds it).
    pub records_catalog: bool,
    /// The project files recorded at the last apply, by path.
    pub policy_files: Vec<RecordedFile>,
    /// For each relation in veil's schemas, the views elsewhere (or not
    /// veil's) that read it: dropping it would fail.
    pub dependents: BTreeMap<QualifiedName, Vec<QualifiedName>>,
}

/// A project file recorded at the last apply: the checksum of each part
/// it is stored in (`emit::script::part_checksums`), and its text where a
/// plan reads it: when the files differ from the project's, to load the
/// policies they held (and always for the environment's name). The files
/// of a large project are megabytes a plan changing nothing would read for
/// nothing.
#[derive(Debug, Clone)]
pub struct RecordedFile {
    pub path: String,
    pub parts: Vec<String>,
    pub text: Option<String>,
}

/// What is deployed in one integration, as far as the plan compares it.
#[derive(Debug, Clone, Default)]
pub struct Deployed {
    /// The objects applied, in the order they were (the profile excepted).
    pub objects: Vec<Applied>,
    pub profiles: Vec<Profile>,
}

/// An object as veil's record of the last apply has it: the checksum of
/// its SQL, and its SQL and columns where a plan reads them: for the
/// objects it changes or drops, to show what changes (the SQL of 5,000
/// views is 22 MB that a plan changing nothing would read for nothing).
#[derive(Debug, Clone)]
pub struct Applied {
    pub id: ObjectId,
    /// [`checksum`] of its SQL.
    pub checksum: String,
    pub text: Option<AppliedText>,
}

/// An applied object's SQL and (for views) columns, as recorded.
#[derive(Debug, Clone, Default)]
pub struct AppliedText {
    pub sql: String,
    pub columns: Option<Vec<(String, String)>>,
}

impl Applied {
    /// A compiled object as its apply records it.
    pub fn of(object: &Object) -> Applied {
        Applied {
            id: object.id.clone(),
            checksum: checksum(&object.sql),
            text: Some(AppliedText {
                sql: object.sql.clone(),
                columns: object.columns.clone(),
            }),
        }
    }

    pub fn name(&self) -> &QualifiedName {
        &self.id.name
    }
}

/// The deployed objects of a compiled integration: what a previous apply
/// of that compilation would have left.
pub fn deployed_from(objects: &[Object], profiles: &[Profile]) -> Deployed {
    Deployed {
        objects: objects
            .iter()
            .filter(|o| o.kind() != ObjectKind::Profile)
            .map(Applied::of)
            .collect(),
        profiles: profiles.to_vec(),
    }
}

impl State {
    /// A digest of everything the plan was made against: the serial, each
    /// object veil applied, every profile row and side-table digest, and
    /// what the catalog says of every object in veil's schemas. Apply
    /// refuses a plan whose fingerprint moved.
    pub fn fingerprint(&self) -> String {
        let parts = self.fingerprints();
        checksum(&serde_json::to_string(&parts).unwrap_or_default())
    }

    /// The fingerprint of each part of what a plan read, by what a person
    /// would call it: a stale plan names the parts that moved.
    pub fn fingerprints(&self) -> BTreeMap<String, String> {
        let mut parts = BTreeMap::new();
        let mut part = |name: &str, text: String| {
            parts.insert(name.to_string(), checksum(&text));
        };
        part(
            "the deployment serial",
            format!("initialized={} serial={}", self.initialized, self.serial),
        );
        let mut text = String::new();
        for o in &self.deployed.objects {
            text.push_str(&format!("{} {} {}\n", o.id.kind, o.name(), o.checksum));
        }
        part("the objects veil applied", text);
        let mut text = String::new();
        for p in &self.deployed.profiles {
            text.push_str(&serde_json::to_string(p).unwrap_or_default());
            text.push('\n');
        }
        part("the profile rows", text);
        part(
            "the profile side-table rows",
            serde_json::to_string(&self.side_totals.iter().collect::<Vec<_>>()).unwrap_or_default(),
        );
        part(
            "what the catalog says of veil's objects (owners, grants, options, definitions, the key)",
            serde_json::to_string(&self.catalog.iter().collect::<Vec<_>>()).unwrap_or_default(),
        );
        part(
            "the objects in veil's schemas",
            serde_json::to_string(&self.existing).unwrap_or_default(),
        );
        parts
    }

    /// Whether a table of veil's system schema exists.
    pub(crate) fn has_table(&self, schemas: &Schemas, table: &str) -> bool {
        let id = ObjectId::new(
            ObjectKind::Table,
            QualifiedName::new(&schemas.system, table),
        );
        self.existing.contains(&id)
    }
}
