//! The audit trail and quota requests in the portal's database. The same SQL
//! runs on SQLite and PostgreSQL (`$n` placeholders, `RETURNING`).

use super::db::Db;
use crate::model::audit::{AuditEntry, AuditFilter, Outcome};

impl Db {
    /// Creates or updates the portal's own tables. Migrations a later
    /// release applied are left alone: migrations are additive, so this
    /// release runs on that schema, as it must when that release is rolled
    /// back or while it rolls out (decision 0021).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        let mut migrator = match self {
            Db::Sqlite(_) => sqlx::migrate!("./migrations/sqlite"),
            Db::Postgres(_) => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.set_ignore_missing(true);
        match self {
            Db::Sqlite(p) => migrator.run(p).await,
            Db::Postgres(p) => migrator.run(p).await,
        }
    }

    /// Records that `actor` is about to do something; returns the entry's id.
    pub async fn audit_begin(
        &self,
        at_ms: i64,
        actor: &str,
        team: Option<&str>,
        action: &str,
        object: &str,
    ) -> Result<i64, sqlx::Error> {
        const SQL: &str = "INSERT INTO audit_events (at_ms, actor, team, action, object, outcome) \
                           VALUES ($1, $2, $3, $4, $5, 'started') RETURNING id";
        match self {
            Db::Sqlite(p) => {
                sqlx::query_scalar(SQL).bind(at_ms).bind(actor).bind(team).bind(action).bind(object).fetch_one(p).await
            }
            Db::Postgres(p) => {
                sqlx::query_scalar(SQL).bind(at_ms).bind(actor).bind(team).bind(action).bind(object).fetch_one(p).await
            }
        }
    }

    /// Records how it ended.
    pub async fn audit_finish(&self, id: i64, outcome: Outcome, detail: &str) -> Result<(), sqlx::Error> {
        const SQL: &str = "UPDATE audit_events SET outcome = $1, detail = $2 WHERE id = $3";
        let rows = match self {
            Db::Sqlite(p) => sqlx::query(SQL).bind(outcome.as_str()).bind(detail).bind(id).execute(p).await?.rows_affected(),
            Db::Postgres(p) => sqlx::query(SQL).bind(outcome.as_str()).bind(detail).bind(id).execute(p).await?.rows_affected(),
        };
        if rows == 1 { Ok(()) } else { Err(sqlx::Error::RowNotFound) }
    }

    /// Newest first, at most `filter.limit` entries.
    pub async fn audit_list(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, sqlx::Error> {
        const SQL: &str = "SELECT id, at_ms, actor, team, action, object, outcome, detail FROM audit_events \
             WHERE ($1 IS NULL OR team = $1) AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR action LIKE $3) \
             AND ($4 IS NULL OR at_ms >= $4) AND ($5 IS NULL OR at_ms < $5) \
             ORDER BY at_ms DESC, id DESC LIMIT $6";
        let action = filter.action.as_ref().map(|a| format!("{a}%"));
        type Row = (i64, i64, String, Option<String>, String, String, String, String);
        macro_rules! run {
            ($pool:expr) => {
                sqlx::query_as(SQL)
                    .bind(&filter.team)
                    .bind(&filter.actor)
                    .bind(&action)
                    .bind(filter.since_ms)
                    .bind(filter.until_ms)
                    .bind(filter.limit)
                    .fetch_all($pool)
                    .await?
            };
        }
        let rows: Vec<Row> = match self {
            Db::Sqlite(p) => run!(p),
            Db::Postgres(p) => run!(p),
        };
        Ok(rows
            .into_iter()
            .map(|(id, at_ms, actor, team, action, object, outcome, detail)| AuditEntry {
                id,
                at_ms,
                actor,
                team,
                action,
                object,
                outcome: Outcome::parse(&outcome),
                detail,
            })
            .collect())
    }
}
