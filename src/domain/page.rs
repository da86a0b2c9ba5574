//! Offset paging: the `limit` and `offset` a list takes, checked, and the
//! page it answers with its exact total.

use serde::Serialize;

/// A validated `limit`/`offset` pair. Out-of-range values are refused, never clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PageError {
    #[error("limit must be between 1 and {MAX_LIMIT}, got {0}")]
    Limit(i64),
    #[error("offset must be 0 or more, got {0}")]
    Offset(i64),
}

impl PageError {
    pub fn field(&self) -> &'static str {
        match self {
            PageError::Limit(_) => "limit",
            PageError::Offset(_) => "offset",
        }
    }
}

impl Page {
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<Self, PageError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        let offset = offset.unwrap_or(0);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(PageError::Limit(limit));
        }
        if offset < 0 {
            return Err(PageError::Offset(offset));
        }
        Ok(Page { limit, offset })
    }
}

impl Page {
    /// This page's `items`, with the exact number of matching rows.
    pub fn of<T>(self, items: Vec<T>, total_count: i64) -> Paged<T> {
        Paged {
            items,
            limit: self.limit,
            offset: self.offset,
            total_count,
        }
    }
}

/// One page of results plus the exact number of matching rows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub limit: i64,
    pub offset: i64,
    pub total_count: i64,
}

impl<T> Paged<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            limit: self.limit,
            offset: self.offset,
            total_count: self.total_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            Page::new(None, None),
            Ok(Page {
                limit: 100,
                offset: 0
            })
        );
        assert_eq!(
            Page::new(Some(1), Some(5)),
            Ok(Page {
                limit: 1,
                offset: 5
            })
        );
        assert_eq!(Page::new(Some(1000), None).map(|p| p.limit), Ok(1000));
        assert_eq!(Page::new(Some(0), None), Err(PageError::Limit(0)));
        assert_eq!(Page::new(Some(1001), None), Err(PageError::Limit(1001)));
        assert_eq!(Page::new(None, Some(-1)), Err(PageError::Offset(-1)));
    }
}
