//! veil compiles data-access policies into secure views.
//!
//! ```text
//!  *.veil ──syntax::parse──▶ AST ─┐
//!                                 ├─check::check──▶ Model
//!  identities.yaml ──identities::load──▶ Identities ─┘
//! ```
//!
//! See `ARCHITECTURE.md` for the table of stages.

pub mod ast;
pub mod diagnostic;
pub mod identities;
pub mod span;
pub mod suggest;
pub mod syntax;
pub mod check;
pub mod model;
pub mod sql_expr;
