//! Running an action with its audit entry.

use crate::auth::SignedIn;
use crate::error::{AppError, AppResult};
use crate::model::audit::Outcome;
use crate::platform::db::Db;
use crate::platform::kube::UserClient;
use crate::state::AppState;

/// What is being done, in the audit trail's words.
pub struct Action<'a> {
    pub actor: &'a str,
    pub team: Option<&'a str>,
    pub action: &'a str,
    pub object: &'a str,
}

/// Runs `work` between two audit writes. If the first write fails nothing is
/// done; if the last one fails the action is reported as failed (the entry
/// still shows it was started, so nothing is lost).
pub async fn audited<T>(db: &Db, a: Action<'_>, work: impl Future<Output = AppResult<T>>) -> AppResult<T> {
    let now = time::OffsetDateTime::now_utc();
    let at_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let id = db
        .audit_begin(at_ms, a.actor, a.team, a.action, a.object)
        .await
        .map_err(|e| {
            crate::platform::metrics::metrics().audit_write_failures.inc();
            AppError::internal(format!("audit entry not written, action not attempted: {e}"))
        })?;
    let result = work.await;
    let (outcome, detail) = match &result {
        Ok(_) => (Outcome::Succeeded, String::new()),
        Err(e @ (AppError::Forbidden(_) | AppError::QuotaExceeded(_) | AppError::Invalid(_) | AppError::Conflict(_) | AppError::NotFound(_))) => {
            (Outcome::Refused, e.to_string())
        }
        Err(e) => (Outcome::Failed, e.to_string()),
    };
    db.audit_finish(id, outcome, &detail).await.map_err(|e| {
        crate::platform::metrics::metrics().audit_write_failures.inc();
        AppError::internal(format!("audit entry {id} not completed: {e}"))
    })?;
    result
}

/// The signed-in person a server function acts for: the portal's services,
/// their session, and a Kubernetes client acting as them. What they change
/// runs through [`Actor::audited`], so the trail names them.
pub struct Actor {
    pub state: AppState,
    pub who: SignedIn,
    pub client: UserClient,
}

impl Actor {
    /// The person signed in to this request, with their client.
    pub async fn current() -> AppResult<Actor> {
        let (state, who) = crate::auth::current().await?;
        Actor::new(state, who)
    }

    /// For a server function that checks its input against the database
    /// before it needs Kubernetes: the client is made after those checks.
    pub fn new(state: AppState, who: SignedIn) -> AppResult<Actor> {
        let client = state.kube.for_user(&who)?;
        Ok(Actor { state, who, client })
    }

    /// The Kubernetes username, as the trail records it.
    pub fn username(&self) -> &str {
        &self.who.identity().username
    }

    /// Runs `work` (made with [`Actor::client`]) as `action` on `object` in
    /// `team`, between the two writes of its audit entry.
    pub async fn audited<T>(
        &self,
        team: Option<&str>,
        action: &str,
        object: &str,
        work: impl Future<Output = AppResult<T>>,
    ) -> AppResult<T> {
        audited(&self.state.db, Action { actor: self.username(), team, action, object }, work).await
    }
}

/// Team admins read their team's trail; platform admins read every trail.
/// Asked of Kubernetes as the person: who may change the team's quota (or
/// create namespaces, for all teams) may read what was done.
pub async fn may_read(client: &crate::platform::kube::UserClient, team: Option<&str>) -> AppResult<()> {
    use crate::platform::access::may;
    let allowed = match team {
        Some(t) => may(client, "", "resourcequotas", "update", Some(t)).await?,
        None => may(client, "", "namespaces", "create", None).await?,
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::Forbidden("Only the team's admins and platform admins can read this audit trail.".into()))
    }
}

#[derive(serde::Deserialize)]
pub struct CsvQuery {
    team: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    since_ms: Option<i64>,
}

/// `GET /export/audit.csv`: the filtered trail as a CSV download.
pub async fn export_csv(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    axum::Extension(who): axum::Extension<crate::auth::SignedIn>,
    axum::extract::Query(q): axum::extract::Query<CsvQuery>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let result = async {
        let client = state.kube.for_user(&who)?;
        may_read(&client, q.team.as_deref()).await?;
        let filter = super::AuditFilter { team: q.team, actor: q.actor, action: q.action, since_ms: q.since_ms, until_ms: None, limit: 100_000 };
        state.db.audit_list(&filter).await.map_err(AppError::internal)
    }
    .await;
    match result {
        Ok(entries) => (
            [
                (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
            ],
            super::to_csv(&entries),
        )
            .into_response(),
        Err(e) => (axum::http::StatusCode::from_u16(e.status()).unwrap_or_default(), e.to_string()).into_response(),
    }
}
