//! Cursor pagination shared by every list endpoint: `limit` (default [`DEFAULT_LIMIT`], at most
//! [`MAX_LIMIT`]) and an opaque `cursor` in the query; `next` in the body is the cursor of the
//! following page, `null` on the last one.

use axum::http::StatusCode;

use super::ApiError;

/// Items per page when the query names no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest accepted `limit`.
pub const MAX_LIMIT: usize = 1000;

/// The query of a list that has no filters: only the page.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Items per page.
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

/// The page size asked for, or 400 `bad_query`.
pub fn limit(asked: Option<usize>) -> Result<usize, ApiError> {
    match asked {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("limit: {n} is not between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// 400 `bad_cursor`: a cursor this endpoint did not hand out.
pub fn bad_cursor() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_cursor",
        "cursor: not a cursor from this endpoint's `next`; start again without one",
    )
}

/// One page of a list already in memory (the registers: risks, actions, exceptions, incidents,
/// identities are hundreds of rows, filtered in memory): the items after the one whose key is
/// the cursor, in the list's order. The cursor is `k1.` and the hex of that key, so it stays
/// valid when rows are added or removed before it.
pub fn page_of<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    cursor: Option<&str>,
    limit: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match cursor {
        None => 0,
        Some(c) => {
            let k = c
                .strip_prefix("k1.")
                .and_then(|h| hex::decode(h).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(bad_cursor)?;
            // A cursor whose item has gone (or no longer passes the filters) is refused: the
            // client starts again rather than silently skipping or repeating rows.
            items
                .iter()
                .position(|i| key(i) == k)
                .map(|p| p + 1)
                .ok_or_else(bad_cursor)?
        }
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let next = if rest.len() > limit {
        rest.truncate(limit);
        rest.last().map(|i| format!("k1.{}", hex::encode(key(i))))
    } else {
        None
    };
    Ok((rest, next))
}
