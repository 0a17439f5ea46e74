//! Requests for more quota than a team's ceiling, and their decisions.

use super::db::Db;
use crate::model::quota::QuotaRequest;

type Row = (i64, String, String, String, String, String, i64, String, Option<String>, Option<String>);
const COLUMNS: &str = "id, team, resource, amount, reason, requested_by, requested_at_ms, status, decided_by, decision_reason";

fn request((id, team, resource, amount, reason, requested_by, requested_at_ms, status, decided_by, decision_reason): Row) -> QuotaRequest {
    QuotaRequest { id, team, resource, amount, reason, requested_by, requested_at_ms, status, decided_by, decision_reason }
}

impl Db {
    pub async fn request_create(&self, r: &QuotaRequest) -> Result<i64, sqlx::Error> {
        const SQL: &str = "INSERT INTO quota_requests (team, resource, amount, reason, requested_by, requested_at_ms, status) \
                           VALUES ($1, $2, $3, $4, $5, $6, 'pending') RETURNING id";
        macro_rules! run {
            ($p:expr) => {
                sqlx::query_scalar(SQL)
                    .bind(&r.team)
                    .bind(&r.resource)
                    .bind(&r.amount)
                    .bind(&r.reason)
                    .bind(&r.requested_by)
                    .bind(r.requested_at_ms)
                    .fetch_one($p)
                    .await
            };
        }
        match self {
            Db::Sqlite(p) => run!(p),
            Db::Postgres(p) => run!(p),
        }
    }

    /// Requests of one team (newest first), or every pending one.
    pub async fn requests_list(&self, team: Option<&str>, pending_only: bool) -> Result<Vec<QuotaRequest>, sqlx::Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM quota_requests WHERE ($1 IS NULL OR team = $1) AND ($2 = 0 OR status = 'pending') \
             ORDER BY requested_at_ms DESC, id DESC LIMIT 200"
        );
        let flag = i64::from(pending_only);
        let rows: Vec<Row> = match self {
            Db::Sqlite(p) => sqlx::query_as(&sql).bind(team).bind(flag).fetch_all(p).await?,
            Db::Postgres(p) => sqlx::query_as(&sql).bind(team).bind(flag).fetch_all(p).await?,
        };
        Ok(rows.into_iter().map(request).collect())
    }

    pub async fn request_get(&self, id: i64) -> Result<Option<QuotaRequest>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM quota_requests WHERE id = $1");
        let row: Option<Row> = match self {
            Db::Sqlite(p) => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?,
            Db::Postgres(p) => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?,
        };
        Ok(row.map(request))
    }

    /// Decides a pending request; false when it was no longer pending (someone
    /// else decided first).
    pub async fn request_decide(&self, id: i64, approved: bool, by: &str, reason: &str, at_ms: i64) -> Result<bool, sqlx::Error> {
        self.decide_pending("quota_requests", id, approved, by, reason, at_ms).await
    }

    /// Puts a decided request back to pending, undecided: its decision could
    /// not be carried out, so it can be decided again.
    pub async fn request_reopen(&self, id: i64) -> Result<(), sqlx::Error> {
        self.reopen_decided("quota_requests", id).await
    }

    /// Decides a pending row of `table` (quota or promotion requests): the
    /// first decision wins; false when it was no longer pending.
    pub(super) async fn decide_pending(&self, table: &'static str, id: i64, approved: bool, by: &str, reason: &str, at_ms: i64) -> Result<bool, sqlx::Error> {
        let sql = format!("UPDATE {table} SET status = $1, decided_by = $2, decision_reason = $3, decided_at_ms = $4 WHERE id = $5 AND status = 'pending'");
        let status = if approved { "approved" } else { "denied" };
        let n = match self {
            Db::Sqlite(p) => sqlx::query(&sql).bind(status).bind(by).bind(reason).bind(at_ms).bind(id).execute(p).await?.rows_affected(),
            Db::Postgres(p) => sqlx::query(&sql).bind(status).bind(by).bind(reason).bind(at_ms).bind(id).execute(p).await?.rows_affected(),
        };
        Ok(n == 1)
    }

    /// Puts a decided row of `table` back to pending, undecided.
    pub(super) async fn reopen_decided(&self, table: &'static str, id: i64) -> Result<(), sqlx::Error> {
        let sql = format!("UPDATE {table} SET status = 'pending', decided_by = NULL, decided_at_ms = NULL, decision_reason = NULL WHERE id = $1");
        match self {
            Db::Sqlite(p) => sqlx::query(&sql).bind(id).execute(p).await.map(drop),
            Db::Postgres(p) => sqlx::query(&sql).bind(id).execute(p).await.map(drop),
        }
    }
}
