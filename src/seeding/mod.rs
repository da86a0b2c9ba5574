//! Made-up data, in one place: `enlist demo`'s small organization with
//! something of every kind (`demo.rs`), and `enlist dev seed`'s bulk fill
//! for benchmarks (`bulk.rs`). Neither is a use case of the running
//! service, so they live apart from `services`, which they call like any
//! other caller does; the bulk fill's prepared inserts are SQL, and stay in
//! `db::seed`.

pub mod bulk;
pub mod demo;
