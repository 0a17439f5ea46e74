//! Quota requests waiting for a platform admin's decision.

#[cfg(feature = "ssr")]
use crate::audit::server::Actor;
use crate::error::AppError;
use crate::model::quota::QuotaRequest;
use leptos::prelude::*;

#[server(endpoint = "admin-requests")]
pub async fn pending_requests() -> Result<Vec<QuotaRequest>, AppError> {
    let me = Actor::current().await?;
    super::require_platform_admin(&me.client).await?;
    me.state.db.requests_list(None, true).await.map_err(AppError::internal)
}

/// Approves (applying the new limit as the approving admin) or denies.
#[server(endpoint = "admin-request-decide")]
pub async fn decide_request(id: i64, approve: bool, reason: String) -> Result<(), AppError> {
    let me = Actor::current().await?;
    super::require_platform_admin(&me.client).await?;
    if !approve && reason.trim().len() < 3 {
        return Err(AppError::Invalid("Say why the request is denied; the team admin will read it.".into()));
    }
    let request = me
        .state
        .db
        .request_get(id)
        .await
        .map_err(AppError::internal)?
        .ok_or_else(|| AppError::NotFound("There is no such request.".into()))?;
    let object = format!("request {id}: {}={}", request.resource, request.amount);
    let action = if approve { "quota.approve" } else { "quota.deny" };
    let now = crate::teams::quota::now_ms();
    me.audited(Some(&request.team), action, &object, async {
        let db = &me.state.db;
        // Claim the decision first, so two admins cannot both act on it.
        if !db.request_decide(id, approve, me.username(), reason.trim(), now).await.map_err(AppError::internal)? {
            return Err(AppError::Conflict("Another admin has already decided this request.".into()));
        }
        if approve && let Err(e) = super::server::grant(&me.client, &request).await {
            // Not applied: back to pending, so it can be decided again.
            let _ = db.request_reopen(id).await;
            return Err(e);
        }
        Ok(())
    })
    .await
}
