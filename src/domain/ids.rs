//! The row ids of an organization and of a person. Many calls take both
//! (a membership is the pair), and as two bare `i64`s a swapped pair would
//! compile and quietly read or change the wrong membership; as two types it
//! does not compile.

/// An organization's row id (never shown outside: the API shows its UUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(pub i64);

/// A person's (user's) row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);
