//! veil compiles data-access policies into secure views.
//!
//! ```text
//!  *.veil ──syntax::parse──▶ ast::File ──┐
//!                                        ├──check::check──▶ model::Model ──ir::lower──▶ ir::Project
//!  identities.yaml ──identities::load──▶ ┘                                                  │
//!                                                                          emit::compile_ir │
//!                                                                                           ▼
//!  db::read_state ──▶ state::State ──▶ plan::online::plan_online ◀────────────── object::Object[]
//!                                        │ (diff, drift, access impact, recovery)
//!                                        ▼
//!                      plan::Plan + plan::script::Prepared ──apply::apply──▶ the database
//!
//!  ast::File + comments ──fmt::format──▶ canonical text
//!  model::Model ──explain::explain_user──▶ what a user sees, and why
//!  model::Model ──verify::verify──▶ each expectation's statements, held or not (`veil test`)
//! ```
//!
//! The SQL text veil writes, reads included, comes from `emit` through the
//! quoting in `emit::quote`; how the dialects differ is `dialect`.
//!
//! `ARCHITECTURE.md` has the table of stages and what each one owns.
//!
//! Every stage is a function a program can call:
//!
//! ```
//! use veil::span::FileId;
//!
//! let text = "filter sales.orders where region = \"EU\" // EU rows only";
//! let parsed = veil::syntax::parse(FileId(0), text).expect("valid syntax");
//! assert_eq!(parsed.file.items.len(), 1);
//! assert_eq!(parsed.comments[0].text, "// EU rows only");
//! assert_eq!(
//!     veil::fmt::format(&parsed, text),
//!     "filter sales.orders where region = \"EU\"  // EU rows only\n"
//! );
//! ```

pub mod apply;
pub mod ast;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod commands;
pub mod db;
pub mod diagnostic;
pub mod dialect;
pub mod emit;
pub mod eval;
pub mod explain;
pub mod fmt;
pub mod hash;
pub mod identities;
pub mod impact;
pub mod ir;
pub mod live;
pub mod model;
pub mod object;
pub mod parallel;
pub mod plan;
pub mod project;
pub mod settings;
pub mod span;
pub mod sql_expr;
pub mod state;
pub mod suggest;
pub mod syntax;
pub mod types;
pub mod verify;
