//! Parsing query and path values with errors that name the parameter.
//! Values arrive as text so a bad one is refused with a precise message
//! instead of a generic deserializer error, and never silently clamped.

use crate::domain::search::Search;
use crate::domain::{Page, PageError, Window};
use crate::http::problem::ApiError;

pub fn integer(field: &'static str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    raw.map(|text| {
        text.trim().parse::<i64>().map_err(|_| {
            ApiError::bad_request(
                field,
                format!("{field} must be an integer, got `{}`", clip(text)),
            )
        })
    })
    .transpose()
}

pub fn boolean(field: &'static str, raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    raw.map(|text| match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(ApiError::bad_request(
            field,
            format!("{field} must be `true` or `false`, got `{}`", clip(other)),
        )),
    })
    .transpose()
}

pub fn page(limit: Option<&str>, offset: Option<&str>) -> Result<Page, ApiError> {
    Page::new(integer("limit", limit)?, integer("offset", offset)?)
        .map_err(|e: PageError| ApiError::bad_request(e.field(), e.to_string()))
}

/// Where a list page starts: `limit` with `offset`, or `limit` with `after`
/// (a cursor); both `offset` and `after` is refused naming `after`.
pub fn window(
    limit: Option<&str>,
    offset: Option<&str>,
    after: Option<&str>,
) -> Result<Window, ApiError> {
    Window::new(
        page(limit, offset)?,
        offset.is_some(),
        after.map(str::to_owned),
    )
    .map_err(|e: PageError| ApiError::bad_request(e.field(), e.to_string()))
}

/// The lists' search: `email` (an address) and `q` (a prefix).
pub fn search(email: Option<&str>, q: Option<&str>) -> Result<Search, ApiError> {
    Search::parse(email, q).map_err(|e| ApiError::bad_request(e.field(), e.to_string()))
}

/// A numeric id from the path: a positive integer, as the API documents.
pub fn id(raw: &str) -> Result<i64, ApiError> {
    // Digits only: Rust's parser would also take a leading `+`.
    let digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
    match raw.parse::<i64>() {
        Ok(id) if digits && id >= 1 => Ok(id),
        _ => Err(ApiError::bad_request(
            "id",
            format!("id must be a positive integer, got `{}`", clip(raw)),
        )),
    }
}

/// Echoed input is cut short so an error body never balloons.
pub fn clip(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut clipped: String = text.chars().take(MAX).collect();
        clipped.push('…');
        clipped
    }
}
