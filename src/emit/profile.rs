//! The profile tables, described once: the profile row of each user and
//! the side tables that list its values one row each. The table
//! definitions, the profile rows, the reads, the digests and the plan's
//! field changes all take their names from here (the SQL templates spell
//! them too).

/// The profile table.
pub const TABLE: &str = "profile";

/// The profile table's user column.
pub const USER: &str = "immuta__userid";

/// The profile row's fields, between the user and the time it was written.
pub const FIELDS: [&str; 6] = [
    "groups",
    "attributes",
    "projects",
    "current_project",
    "purposes",
    "approved",
];

/// The table of every source's rule set, which the valid tables view reads.
pub const RULES: &str = "access_rules";

/// The view of the sources the querying user may query.
pub const VALID_TABLES: &str = "valid_tables";

/// When the row was written.
pub const WRITTEN: &str = "updated_at";

/// A side table's user column.
pub const SIDE_USER: &str = "userid";

/// A side table: one row per user and value, the value in `columns`.
pub struct Side {
    pub table: &'static str,
    pub columns: &'static [&'static str],
}

/// The side tables, in order.
pub const SIDES: [Side; 4] = [
    Side {
        table: "profile_groups",
        columns: &["name"],
    },
    Side {
        table: "profile_attributes",
        columns: &["key", "value"],
    },
    Side {
        table: "profile_purposes",
        columns: &["name"],
    },
    Side {
        table: "profile_approvals",
        columns: &["source"],
    },
];

/// The side tables' names.
pub const SIDE_TABLES: [&str; 4] = [
    SIDES[0].table,
    SIDES[1].table,
    SIDES[2].table,
    SIDES[3].table,
];

/// The profile table's columns, in order.
pub fn columns() -> impl Iterator<Item = &'static str> {
    std::iter::once(USER)
        .chain(FIELDS)
        .chain(std::iter::once(WRITTEN))
}
