//! Grants to open one notebook on its own origin: a one-time ticket handed
//! over by the portal, then the session it becomes on the notebook's origin.
//! Rows are keyed by the SHA-256 of the token, so the database never holds
//! a usable token.

use super::db::Db;

/// What a grant lets its bearer open, and for whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub team: String,
    pub name: String,
    /// The portal session the grant was made from: it ends with it.
    pub portal_session: String,
    pub expires_at_ms: i64,
}

/// A ticket lives for one redirect; a notebook session for one portal session at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantKind {
    Ticket,
    Session,
}

impl GrantKind {
    fn as_str(self) -> &'static str {
        match self {
            GrantKind::Ticket => "ticket",
            GrantKind::Session => "session",
        }
    }
}

type Row = (String, String, String, i64);

fn grant((team, name, portal_session, expires_at_ms): Row) -> Grant {
    Grant { team, name, portal_session, expires_at_ms }
}

impl Db {
    /// Stores a grant under the digest of its token, and drops expired ones.
    pub async fn grant_insert(&self, digest: &str, kind: GrantKind, g: &Grant, now_ms: i64) -> Result<(), sqlx::Error> {
        const PURGE: &str = "DELETE FROM notebook_grants WHERE expires_at_ms < $1";
        const SQL: &str = "INSERT INTO notebook_grants (id, kind, team, name, portal_session, expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6)";
        macro_rules! run {
            ($p:expr) => {{
                sqlx::query(PURGE).bind(now_ms).execute($p).await?;
                sqlx::query(SQL)
                    .bind(digest)
                    .bind(kind.as_str())
                    .bind(&g.team)
                    .bind(&g.name)
                    .bind(&g.portal_session)
                    .bind(g.expires_at_ms)
                    .execute($p)
                    .await?;
            }};
        }
        match self {
            Db::Sqlite(p) => run!(p),
            Db::Postgres(p) => run!(p),
        }
        Ok(())
    }

    /// Takes a ticket out, so it works once: the grant if it was there and live.
    pub async fn ticket_redeem(&self, digest: &str, now_ms: i64) -> Result<Option<Grant>, sqlx::Error> {
        const SQL: &str = "DELETE FROM notebook_grants WHERE id = $1 AND kind = 'ticket' \
                           RETURNING team, name, portal_session, expires_at_ms";
        let row: Option<Row> = match self {
            Db::Sqlite(p) => sqlx::query_as(SQL).bind(digest).fetch_optional(p).await?,
            Db::Postgres(p) => sqlx::query_as(SQL).bind(digest).fetch_optional(p).await?,
        };
        Ok(row.map(grant).filter(|g| g.expires_at_ms > now_ms))
    }

    /// A live notebook session.
    pub async fn grant_session(&self, digest: &str, now_ms: i64) -> Result<Option<Grant>, sqlx::Error> {
        const SQL: &str = "SELECT team, name, portal_session, expires_at_ms FROM notebook_grants \
                           WHERE id = $1 AND kind = 'session' AND expires_at_ms > $2";
        let row: Option<Row> = match self {
            Db::Sqlite(p) => sqlx::query_as(SQL).bind(digest).bind(now_ms).fetch_optional(p).await?,
            Db::Postgres(p) => sqlx::query_as(SQL).bind(digest).bind(now_ms).fetch_optional(p).await?,
        };
        Ok(row.map(grant))
    }

    /// The key called `name`, made (from `fresh`) by whichever replica asks first.
    pub async fn portal_key(&self, name: &str, fresh: &str) -> Result<String, sqlx::Error> {
        const INSERT: &str = "INSERT INTO portal_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
        const SELECT: &str = "SELECT value FROM portal_keys WHERE name = $1";
        macro_rules! run {
            ($p:expr) => {{
                sqlx::query(INSERT).bind(name).bind(fresh).execute($p).await?;
                sqlx::query_scalar(SELECT).bind(name).fetch_one($p).await
            }};
        }
        match self {
            Db::Sqlite(p) => run!(p),
            Db::Postgres(p) => run!(p),
        }
    }
}
