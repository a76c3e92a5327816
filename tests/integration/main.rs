//! veil's integration tests, one binary: each module tests one area (the
//! command line, compiled SQL, plans, apply on PostgreSQL, the Redshift
//! script and emulation, attacks, …); `common` has what they share, the
//! builder that runs veil (`common::Veil`) among it.

// Not every test uses every helper.
#[allow(dead_code)]
mod common;

mod bench;
mod ci_files;
mod cli;
mod compile;
mod e2e;
mod environments;
mod examples;
mod expectations;
mod explain;
mod fixtures;
mod hostile;
mod impact;
mod layers;
mod methods;
mod plan;
mod redshift;
mod redshift_catalog;
mod review;
mod robustness;
mod schemas;
mod script;
mod semantics;
mod textmate;
