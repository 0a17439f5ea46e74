//! Promotions waiting for a team admin, and their decisions (claim-once,
//! as quota requests are: the first decision wins).

use super::db::Db;
use crate::model::promotion::{Promotion, PromotionAction};

type Row = (i64, String, String, String, String, String, String, String, i64, String, Option<String>, Option<String>, Option<String>);
const COLUMNS: &str = "id, team, deployment, model, version, action, from_version, requested_by, requested_at_ms, status, decided_by, decision_reason, spec";

fn promotion((id, team, deployment, model, version, action, from_version, requested_by, requested_at_ms, status, decided_by, decision_reason, spec): Row) -> Promotion {
    Promotion {
        id,
        team,
        deployment,
        model,
        version,
        action: PromotionAction::parse(&action).unwrap_or_default(),
        from_version,
        requested_by,
        requested_at_ms,
        status,
        decided_by,
        decision_reason,
        spec,
        may_decide: false,
    }
}

impl Db {
    pub async fn promotion_create(&self, p: &Promotion) -> Result<i64, sqlx::Error> {
        const SQL: &str = "INSERT INTO promotion_requests (team, deployment, model, version, action, from_version, requested_by, requested_at_ms, spec, status) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending') RETURNING id";
        macro_rules! run {
            ($p:expr) => {
                sqlx::query_scalar(SQL)
                    .bind(&p.team)
                    .bind(&p.deployment)
                    .bind(&p.model)
                    .bind(&p.version)
                    .bind(p.action.as_str())
                    .bind(&p.from_version)
                    .bind(&p.requested_by)
                    .bind(p.requested_at_ms)
                    .bind(&p.spec)
                    .fetch_one($p)
                    .await
            };
        }
        match self {
            Db::Sqlite(pool) => run!(pool),
            Db::Postgres(pool) => run!(pool),
        }
    }

    /// The team's pending promotions, oldest first.
    pub async fn promotions_pending(&self, team: &str) -> Result<Vec<Promotion>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM promotion_requests WHERE team = $1 AND status = 'pending' ORDER BY requested_at_ms, id LIMIT 200");
        let rows: Vec<Row> = match self {
            Db::Sqlite(p) => sqlx::query_as(&sql).bind(team).fetch_all(p).await?,
            Db::Postgres(p) => sqlx::query_as(&sql).bind(team).fetch_all(p).await?,
        };
        Ok(rows.into_iter().map(promotion).collect())
    }

    pub async fn promotion_get(&self, id: i64) -> Result<Option<Promotion>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM promotion_requests WHERE id = $1");
        let row: Option<Row> = match self {
            Db::Sqlite(p) => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?,
            Db::Postgres(p) => sqlx::query_as(&sql).bind(id).fetch_optional(p).await?,
        };
        Ok(row.map(promotion))
    }

    /// Decides a pending promotion; false when it was no longer pending
    /// (someone decided first).
    pub async fn promotion_decide(&self, id: i64, approved: bool, by: &str, reason: &str, at_ms: i64) -> Result<bool, sqlx::Error> {
        self.decide_pending("promotion_requests", id, approved, by, reason, at_ms).await
    }

    /// Puts a decided promotion back to pending: the approval could not be
    /// carried out, so what served before serves on and it can be decided
    /// again.
    pub async fn promotion_reopen(&self, id: i64) -> Result<(), sqlx::Error> {
        self.reopen_decided("promotion_requests", id).await
    }
}
