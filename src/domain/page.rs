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
    #[error("after continues a list by cursor and cannot be combined with offset; send one")]
    AfterWithOffset,
}

impl PageError {
    pub fn field(&self) -> &'static str {
        match self {
            PageError::Limit(_) => "limit",
            PageError::Offset(_) => "offset",
            PageError::AfterWithOffset => "after",
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

/// A page of a list that also continues by cursor: the offset page's
/// fields, and `nextCursor` (none on the last page).
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub paged: Paged<T>,
    pub next_cursor: Option<String>,
}

/// Where a list page starts: `offset` rows in, or after a cursor's row
/// (then the answer's `offset` reads 0). The two exclude each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub page: Page,
    pub after: Option<String>,
}

impl Window {
    /// `after` with an `offset` (any, even 0) is refused, naming `after`.
    pub fn new(page: Page, offset_given: bool, after: Option<String>) -> Result<Self, PageError> {
        if after.is_some() && offset_given {
            return Err(PageError::AfterWithOffset);
        }
        Ok(Self { page, after })
    }

    /// The page the storage reads: one row more than asked (so the answer
    /// knows whether another page follows), from the start of the cursor's
    /// range when there is one.
    pub fn probe(&self) -> Page {
        Page {
            limit: self.page.limit + 1,
            offset: if self.after.is_some() {
                0
            } else {
                self.page.offset
            },
        }
    }

    /// The page the answer reports.
    pub fn shown(&self) -> Page {
        Page {
            limit: self.page.limit,
            offset: self.probe().offset,
        }
    }

    /// Cuts the probe's extra row; says whether there was one.
    pub fn cut<T>(&self, items: &mut Vec<T>) -> bool {
        let limit = usize::try_from(self.page.limit).unwrap_or(usize::MAX);
        let more = items.len() > limit;
        items.truncate(limit);
        more
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
