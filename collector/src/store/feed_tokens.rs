//! Read-only feed tokens: a credential a feed reader can carry in a URL (`?token=`), accepted by
//! the feeds only and revocable. Only the token's SHA-256 is stored; the token itself is shown
//! once, when it is created.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::hosts::rfc3339;
use super::StoreError;

/// A feed token as listed (never the token itself).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedToken {
    pub id: i64,
    /// What it is for, e.g. the reader's name.
    pub name: String,
    pub created_at: String,
    /// Null while it works.
    pub revoked_at: Option<String>,
}

/// Store a new token's hash under `name`; its id.
pub fn create(conn: &Connection, name: &str, hash: &[u8], now: i64) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO feed_tokens(name, token_hash, created_at) VALUES (?1, ?2, ?3)",
        params![name, hash, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Every token, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<FeedToken>, StoreError> {
    let mut st =
        conn.prepare("SELECT id, name, created_at, revoked_at FROM feed_tokens ORDER BY id")?;
    let rows = st.query_map([], |r| {
        Ok(FeedToken {
            id: r.get(0)?,
            name: r.get(1)?,
            created_at: rfc3339(r.get(2)?),
            revoked_at: r.get::<_, Option<i64>>(3)?.map(rfc3339),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revoke token `id`: false when there is no such token; revoking twice keeps the first time.
pub fn revoke(conn: &Connection, id: i64, now: i64) -> Result<bool, StoreError> {
    let found = conn
        .query_row(
            "SELECT 1 FROM feed_tokens WHERE id = ?1",
            params![id],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    conn.execute(
        "UPDATE feed_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )?;
    Ok(found)
}

/// Whether a token with this hash exists and is not revoked.
pub fn valid(conn: &Connection, hash: &[u8]) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM feed_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
            params![hash],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_tokens_are_valid_until_revoked_and_listed_without_the_secret() {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut c).unwrap();
        let h = crate::auth::hash_secret("vft1_abc");
        let id = create(&c, "reader", &h, 100).unwrap();
        assert!(valid(&c, &h).unwrap());
        assert!(!valid(&c, &crate::auth::hash_secret("vft1_abd")).unwrap());
        let l = list(&c).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].name, "reader");
        assert!(l[0].revoked_at.is_none());
        assert!(revoke(&c, id, 200).unwrap());
        assert!(!valid(&c, &h).unwrap());
        assert!(revoke(&c, id, 300).unwrap());
        assert_eq!(
            list(&c).unwrap()[0].revoked_at.as_deref(),
            Some("1970-01-01T00:03:20Z")
        );
        assert!(!revoke(&c, 99, 300).unwrap());
    }
}
