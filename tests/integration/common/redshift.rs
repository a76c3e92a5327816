//! A Redshift emulation on the local PostgreSQL server, so that the
//! Redshift dialect's apply script runs somewhere. It has three parts:
//!
//! - the functions Redshift has and PostgreSQL lacks, created in the
//!   database's `pg_catalog` (where Redshift keeps its built-ins), each
//!   written from the semantics its page of the Redshift SQL reference
//!   states, the page named beside it;
//! - Redshift's system views veil reads (`svv_all_columns`,
//!   `svv_relation_privileges`, …, `pg_proc_info`) as views over
//!   PostgreSQL's own catalog, in `pg_catalog`;
//! - `translate`, which first refuses what Redshift refuses (a built-in
//!   Redshift does not have, or called with arguments it does not take),
//!   then rewrites the few forms PostgreSQL's grammar lacks.
//!
//! What it proves: the Redshift script is complete and in order, its
//! statements do what veil means on data (masks, filters, access,
//! procedures), and plan reads its own deployment back. What only a real
//! cluster can: Redshift's grammar beyond what `sqlparser` checks, its
//! numeric precision rules, its leader-node restrictions, TLS and IAM.

use super::{Database, Session};
use std::collections::HashMap;

/// The compatibility layer, installed in `db`.
pub fn emulate(db: &Database) {
    db.psql(SETUP).expect("installs the Redshift emulation");
    db.psql(&format!(
        "ALTER DATABASE {} SET standard_conforming_strings = off;
         ALTER DATABASE {} SET escape_string_warning = off;",
        super::ident(&db.name),
        super::ident(&db.name)
    ))
    .expect("reads literals as Redshift does");
}

/// Functions and views of Redshift's, on PostgreSQL.
const SETUP: &str = r#"
-- r_GETDATE: the start of the current statement, in the session's time zone.
CREATE FUNCTION pg_catalog.getdate() RETURNS timestamp LANGUAGE sql STABLE
RETURN CAST(pg_catalog.statement_timestamp() AS timestamp);

-- r_LEN: the number of characters.
CREATE FUNCTION pg_catalog.len(text) RETURNS integer LANGUAGE sql IMMUTABLE STRICT
RETURN pg_catalog.char_length($1);

-- r_SHA2: the hex digest of 224, 256 (also 0), 384 or 512 bits; an empty
-- string for any other bit length.
CREATE FUNCTION pg_catalog.sha2(text, integer) RETURNS varchar LANGUAGE sql IMMUTABLE STRICT
RETURN CASE $2
  WHEN 0 THEN pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to($1, 'UTF8')), 'hex')
  WHEN 224 THEN pg_catalog.encode(pg_catalog.sha224(pg_catalog.convert_to($1, 'UTF8')), 'hex')
  WHEN 256 THEN pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to($1, 'UTF8')), 'hex')
  WHEN 384 THEN pg_catalog.encode(pg_catalog.sha384(pg_catalog.convert_to($1, 'UTF8')), 'hex')
  WHEN 512 THEN pg_catalog.encode(pg_catalog.sha512(pg_catalog.convert_to($1, 'UTF8')), 'hex')
  ELSE '' END;

-- r_FNV_HASH: the 64-bit FNV-1a hash of the value's bytes, as a BIGINT.
CREATE FUNCTION pg_catalog.fnv_hash(text) RETURNS bigint LANGUAGE plpgsql IMMUTABLE STRICT AS $f$
DECLARE
  bytes bytea := pg_catalog.convert_to($1, 'UTF8');
  h numeric := 14695981039346656037;
  b integer;
BEGIN
  FOR i IN 0 .. pg_catalog.length(bytes) - 1 LOOP
    b := pg_catalog.get_byte(bytes, i);
    -- XOR with the byte touches the low eight bits only.
    h := h - pg_catalog.mod(h, 256) + ((pg_catalog.mod(h, 256)::integer # b));
    h := pg_catalog.mod(h * 1099511628211, 18446744073709551616);
  END LOOP;
  IF h >= 9223372036854775808 THEN
    h := h - 18446744073709551616;
  END IF;
  RETURN h::bigint;
END $f$;

-- r_STRTOL: a number written in base 2 to 36, as a BIGINT.
CREATE FUNCTION pg_catalog.strtol(text, integer) RETURNS bigint LANGUAGE plpgsql IMMUTABLE STRICT AS $f$
DECLARE
  n numeric := 0;
  d integer;
BEGIN
  FOR i IN 1 .. pg_catalog.length($1) LOOP
    d := pg_catalog.strpos('0123456789abcdefghijklmnopqrstuvwxyz', pg_catalog.lower(pg_catalog.substr($1, i, 1))) - 1;
    IF d < 0 OR d >= $2 THEN
      RAISE EXCEPTION 'strtol: % is not a number in base %', $1, $2;
    END IF;
    n := n * $2 + d;
  END LOOP;
  RETURN n::bigint;
END $f$;

-- r_JSON_ARRAY_LENGTH: the number of elements of the outer array.
CREATE FUNCTION pg_catalog.json_array_length(text) RETURNS integer LANGUAGE sql IMMUTABLE STRICT
RETURN pg_catalog.json_array_length(CAST($1 AS json));

-- r_JSON_EXTRACT_ARRAY_ELEMENT_TEXT: the element at a zero-based index of
-- the outer array, as text.
CREATE FUNCTION pg_catalog.json_extract_array_element_text(text, integer) RETURNS varchar LANGUAGE sql IMMUTABLE STRICT
RETURN CAST($1 AS json) ->> $2;

-- r_REGEXP_REPLACE: every match replaced (PostgreSQL's three-argument form
-- replaces the first only, so the emulation calls this one instead).
CREATE SCHEMA redshift_emulation;
GRANT USAGE ON SCHEMA redshift_emulation TO PUBLIC;
CREATE FUNCTION redshift_emulation.regexp_replace(text, text, text) RETURNS varchar LANGUAGE sql IMMUTABLE STRICT
RETURN pg_catalog.regexp_replace($1, $2, $3, 'g');

SET allow_system_table_mods = on;

-- r_PG_PROC_INFO: pg_proc with the routine's kind.
CREATE VIEW pg_catalog.pg_proc_info AS SELECT p.oid AS prooid, p.* FROM pg_catalog.pg_proc p;

-- r_SVV_ALL_COLUMNS, for this database and for schemas `db__schema` standing
-- for schema `schema` of another database `db` of the cluster.
CREATE VIEW pg_catalog.svv_all_columns AS
SELECT CAST(CASE WHEN pg_catalog.strpos(c.table_schema, '__') > 0 THEN pg_catalog.split_part(c.table_schema, '__', 1)
                 ELSE pg_catalog.current_database() END AS varchar(128)) AS database_name,
       CAST(CASE WHEN pg_catalog.strpos(c.table_schema, '__') > 0 THEN pg_catalog.split_part(c.table_schema, '__', 2)
                 ELSE c.table_schema END AS varchar(128)) AS schema_name,
       CAST(c.table_name AS varchar(128)) AS table_name, CAST(c.column_name AS varchar(128)) AS column_name,
       CAST(c.ordinal_position AS integer) AS ordinal_position, CAST(c.column_default AS varchar(4000)) AS column_default,
       CAST(c.is_nullable AS varchar(3)) AS is_nullable, CAST(c.data_type AS varchar(128)) AS data_type,
       CAST(c.character_maximum_length AS integer) AS character_maximum_length,
       CAST(c.numeric_precision AS integer) AS numeric_precision, CAST(c.numeric_scale AS integer) AS numeric_scale,
       CAST(NULL AS varchar(256)) AS remarks
  FROM information_schema.columns c
 WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema');

-- The privilege views (r_SVV_RELATION_PRIVILEGES, r_SVV_COLUMN_PRIVILEGES,
-- r_SVV_SCHEMA_PRIVILEGES, r_SVV_FUNCTION_PRIVILEGES): one row per grantee
-- and privilege, the owner's own included; a role that may log in is a
-- `user`, PUBLIC is `public`.
CREATE VIEW pg_catalog.svv_relation_privileges AS
SELECT CAST(n.nspname AS text) AS namespace_name, CAST(c.relname AS text) AS relation_name,
       a.privilege_type, CAST(a.grantee AS integer) AS identity_id,
       CASE WHEN a.grantee = 0 THEN 'public' ELSE CAST(r.rolname AS text) END AS identity_name,
       CASE WHEN a.grantee = 0 THEN 'public' WHEN r.rolcanlogin THEN 'user' ELSE 'role' END AS identity_type,
       a.is_grantable AS admin_option
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(c.relacl, pg_catalog.acldefault('r', c.relowner))) a
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
 WHERE c.relkind IN ('r', 'v', 'm', 'p');

CREATE VIEW pg_catalog.svv_column_privileges AS
SELECT CAST(n.nspname AS text) AS namespace_name, CAST(c.relname AS text) AS relation_name,
       CAST(t.attname AS text) AS column_name, a.privilege_type, CAST(a.grantee AS integer) AS identity_id,
       CASE WHEN a.grantee = 0 THEN 'public' ELSE CAST(r.rolname AS text) END AS identity_name,
       CASE WHEN a.grantee = 0 THEN 'public' WHEN r.rolcanlogin THEN 'user' ELSE 'role' END AS identity_type,
       a.is_grantable AS admin_option
  FROM pg_catalog.pg_attribute t
  JOIN pg_catalog.pg_class c ON c.oid = t.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL pg_catalog.aclexplode(t.attacl) a
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
 WHERE t.attnum > 0 AND NOT t.attisdropped;

CREATE VIEW pg_catalog.svv_schema_privileges AS
SELECT CAST(n.nspname AS text) AS namespace_name, a.privilege_type, CAST(a.grantee AS integer) AS identity_id,
       CASE WHEN a.grantee = 0 THEN 'public' ELSE CAST(r.rolname AS text) END AS identity_name,
       CASE WHEN a.grantee = 0 THEN 'public' WHEN r.rolcanlogin THEN 'user' ELSE 'role' END AS identity_type,
       a.is_grantable AS admin_option
  FROM pg_catalog.pg_namespace n
 CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee;

CREATE VIEW pg_catalog.svv_function_privileges AS
SELECT CAST(n.nspname AS text) AS namespace_name, CAST(p.proname AS text) AS function_name,
       pg_catalog.oidvectortypes(p.proargtypes) AS argument_types, a.privilege_type,
       CAST(a.grantee AS integer) AS identity_id,
       CASE WHEN a.grantee = 0 THEN 'public' ELSE CAST(r.rolname AS text) END AS identity_name,
       CASE WHEN a.grantee = 0 THEN 'public' WHEN r.rolcanlogin THEN 'user' ELSE 'role' END AS identity_type,
       a.is_grantable AS admin_option
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
  LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee;
"#;

/// Redshift's built-ins that veil's Redshift SQL may call as
/// `pg_catalog.name(…)`, with the arguments each takes (least, most), from
/// the SQL reference.
fn builtins() -> HashMap<&'static str, (usize, usize)> {
    HashMap::from([
        ("count", (1, 1)),
        ("min", (1, 1)),
        ("max", (1, 1)),
        ("abs", (1, 1)),
        ("round", (1, 2)),
        ("date_trunc", (2, 2)),
        ("regexp_replace", (2, 5)),
        ("to_char", (2, 2)),
        ("len", (1, 1)),
        ("length", (1, 1)),
        ("lower", (1, 1)),
        ("upper", (1, 1)),
        ("octet_length", (1, 1)),
        ("sha2", (2, 2)),
        ("left", (2, 2)),
        ("right", (2, 2)),
        ("repeat", (2, 2)),
        ("mod", (2, 2)),
        ("fnv_hash", (1, 2)),
        ("md5", (1, 1)),
        ("strtol", (2, 2)),
        ("substring", (2, 3)),
        ("concat", (2, 2)),
        ("getdate", (0, 0)),
        ("rtrim", (1, 2)),
    ])
}

/// Every `pg_catalog.name(…)` call of a script, with its argument count.
fn calls(script: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let bytes = script.as_bytes();
    let mut from = 0;
    while let Some(found) = script[from..].find("pg_catalog.") {
        let start = from + found + "pg_catalog.".len();
        from = start;
        let name: String = script[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let open = start + name.len();
        if bytes.get(open) != Some(&b'(') {
            continue;
        }
        // Count the arguments at depth one, skipping quoted text.
        let (mut depth, mut args, mut empty, mut quote) = (0usize, 1usize, true, None::<u8>);
        for &b in &bytes[open..] {
            match (quote, b) {
                (Some(q), _) if b == q => quote = None,
                (Some(_), _) => {}
                (None, b'\'' | b'"') => {
                    quote = Some(b);
                    empty = false;
                }
                (None, b'(') => depth += 1,
                (None, b')') => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                (None, b',') if depth == 1 => args += 1,
                (None, b) if depth >= 1 && !b.is_ascii_whitespace() => empty = false,
                _ => {}
            }
        }
        out.push((name.to_ascii_lowercase(), if empty { 0 } else { args }));
    }
    out
}

/// Redshift SQL as PostgreSQL runs it. Refuses (panics on) a call of a
/// built-in Redshift does not have or with arguments it does not take,
/// then rewrites what PostgreSQL's grammar lacks: `DISTSTYLE`/`SORTKEY`
/// (r_CREATE_TABLE_NEW), `WITH NO SCHEMA BINDING` (r_CREATE_VIEW), the
/// `ROLE` keyword of a grantee (r_GRANT), Redshift's every-match
/// `REGEXP_REPLACE`, and three-part names of other databases of the
/// cluster (as schemas `db__schema`). String literals and comments are
/// left as they are.
pub fn translate(script: &str, database: &str) -> String {
    let known = builtins();
    // The code alone, literals as empty ones, for the calls it makes.
    let code: String = segments(script)
        .into_iter()
        .map(|(code, text)| match (code, text.starts_with('\'')) {
            (true, _) => text,
            (false, true) => "''",
            (false, false) => "",
        })
        .collect();
    for (name, args) in calls(&code) {
        let Some((least, most)) = known.get(name.as_str()) else {
            panic!("the script calls pg_catalog.{name}, which Redshift does not have");
        };
        assert!(
            (*least..=*most).contains(&args),
            "the script calls pg_catalog.{name} with {args} arguments; Redshift takes {least} to {most}"
        );
    }
    let mut out = String::with_capacity(script.len());
    for (code, text) in segments(script) {
        if !code {
            out.push_str(text);
            continue;
        }
        let mut text = text.to_string();
        while let Some(at) = text.find("\nDISTSTYLE ALL\nSORTKEY (") {
            let end = text[at..].find(')').map_or(text.len(), |i| at + i + 1);
            text.replace_range(at..end, "");
        }
        let text = text
            .replace("\nWITH NO SCHEMA BINDING;", ";")
            .replace(" TO ROLE ", " TO ")
            .replace(" FROM ROLE ", " FROM ")
            .replace(
                "pg_catalog.regexp_replace(",
                "redshift_emulation.regexp_replace(",
            );
        out.push_str(&other_databases(&text, database));
    }
    out
}

/// A script cut into code and what is not code (string literals, which a
/// backslash escapes inside, and `--` comments), in order.
fn segments(script: &str) -> Vec<(bool, &str)> {
    let bytes = script.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        let literal_end = match bytes[i] {
            b'\'' => {
                let mut j = i + 1;
                while j < bytes.len() {
                    match bytes[j] {
                        b'\\' => j += 2,
                        b'\'' if bytes.get(j + 1) == Some(&b'\'') => j += 2,
                        b'\'' => break,
                        _ => j += 1,
                    }
                }
                Some((j + 1).min(bytes.len()))
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                Some(script[i..].find('\n').map_or(bytes.len(), |n| i + n))
            }
            b'"' => {
                // A quoted identifier is code; skip it whole.
                i += quoted_len(&script[i..]).unwrap_or(script.len() - i);
                continue;
            }
            _ => None,
        };
        match literal_end {
            Some(end) => {
                out.push((true, &script[start..i]));
                out.push((false, &script[i..end]));
                start = end;
                i = end;
            }
            None => i += 1,
        }
    }
    out.push((true, &script[start..]));
    out
}

/// `FROM "db"."schema"."table"` of another database as
/// `FROM "db__schema"."table"` (veil names a table by three parts only
/// there).
fn other_databases(sql: &str, database: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find("FROM \"") {
        let (head, tail) = rest.split_at(at + "FROM ".len());
        out.push_str(head);
        match three_part(tail) {
            Some((db, schema, table, len)) if db != database => {
                out.push_str(&format!("\"{db}__{schema}\".\"{table}\""));
                rest = &tail[len..];
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// The length of a quoted identifier at the start of `text`.
fn quoted_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            if bytes.get(i + 1) == Some(&b'"') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// A `"a"."b"."c"` name at the start of `text`: its parts and length.
fn three_part(text: &str) -> Option<(String, String, String, usize)> {
    let mut parts = Vec::new();
    let mut at = 0;
    for i in 0..3 {
        let len = quoted_len(&text[at..])?;
        parts.push(text[at + 1..at + len - 1].to_string());
        at += len;
        if i < 2 {
            if text[at..].starts_with('.') && text[at + 1..].starts_with('"') {
                at += 1;
            } else {
                return None;
            }
        }
    }
    if text[at..].starts_with('.') {
        return None;
    }
    Some((parts[0].clone(), parts[1].clone(), parts[2].clone(), at))
}

/// Runs a Redshift script on the emulation with psql, the key given as the
/// script's psql variable.
pub fn run_script(db: &Database, script: &str) -> Session {
    let translated = translate(script, &db.name);
    let key: String = (0..64)
        .map(|i| char::from(b"0123456789abcdef"[(i * 7 + 3) % 16]))
        .collect();
    db.session_with_key("postgres", &translated, &key)
}

/// The statements of a script, split at each `;` outside quotes, dollar
/// quotes and comments (a backslash escapes inside a Redshift literal).
pub fn split_sql(script: &str) -> Vec<String> {
    let chars: Vec<char> = script.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        current.push(c);
        match c {
            '\'' | '"' => {
                i += 1;
                while i < chars.len() {
                    let d = chars[i];
                    current.push(d);
                    if c == '\'' && d == '\\' && i + 1 < chars.len() {
                        current.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    if d == c {
                        if chars.get(i + 1) == Some(&c) {
                            current.push(c);
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            '$' if chars.get(i + 1) == Some(&'$') => {
                current.push('$');
                i += 2;
                while i < chars.len() && !(chars[i] == '$' && chars.get(i + 1) == Some(&'$')) {
                    current.push(chars[i]);
                    i += 1;
                }
                current.push_str("$$");
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                i += 1;
                while i < chars.len() && chars[i] != '\n' {
                    current.push(chars[i]);
                    i += 1;
                }
                continue;
            }
            ';' => {
                out.push(std::mem::take(&mut current));
            }
            _ => {}
        }
        i += 1;
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}
