//! veil compiles data-access policies into secure views.
//!
//! ```text
//!  *.veil ──syntax::parse──▶ ast::File ──┐
//!                                        ├──check::check──▶ model::Model
//!  identities.yaml ──identities::load──▶ ┘
//!
//!  ast::File + comments ──fmt::format──▶ canonical text
//! ```
//!
//! `ARCHITECTURE.md` has the table of stages and what each one owns.

pub mod ast;
pub mod check;
pub mod cli;
pub mod commands;
pub mod diagnostic;
pub mod fmt;
pub mod identities;
pub mod model;
pub mod project;
pub mod span;
pub mod sql_expr;
pub mod suggest;
pub mod syntax;
