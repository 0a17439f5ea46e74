//! A team's quota: what the quota page (`pages/quota.rs`) shows, and the
//! server functions that read it, change limits and defaults, and ask the
//! platform admins for more.

#[cfg(feature = "ssr")]
use crate::audit::server::Actor;
use crate::error::AppError;
pub use crate::model::quota::QuotaRequest;
#[cfg(feature = "ssr")]
use crate::model::quota::resource_label;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Resources shown and editable, in this order.
pub const RESOURCES: [&str; 8] = [
    "requests.cpu",
    "limits.cpu",
    "requests.memory",
    "limits.memory",
    "requests.nvidia.com/gpu",
    "requests.storage",
    "persistentvolumeclaims",
    "pods",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuotaRow {
    pub resource: String,
    pub used: String,
    pub hard: Option<String>,
    pub ceiling: Option<String>,
    pub fraction: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitDefaults {
    pub cpu_request: String,
    pub memory_request: String,
    pub cpu_limit: String,
    pub memory_limit: String,
}

/// A pod and what it requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Consumer {
    pub name: String,
    pub cpu: f64,
    pub memory_bytes: f64,
    pub gpus: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuotaView {
    pub team: String,
    /// A fingerprint of the limits (`spec.hard`) as read: saving with it detects edits by others.
    /// Not the resourceVersion, which also moves whenever Kubernetes recounts usage.
    pub limits_version: Option<String>,
    pub rows: Vec<QuotaRow>,
    pub defaults: LimitDefaults,
    pub consumers: Vec<Consumer>,
    pub can_edit: bool,
    pub requests: Vec<QuotaRequest>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaChange {
    pub resource: String,
    pub value: String,
}

#[server(endpoint = "team-quota")]
pub async fn get_quota(team: String) -> Result<QuotaView, AppError> {
    let me = Actor::current().await?;
    tracing::Span::current().record("team", team.as_str());
    let (view, can_edit, requests) = futures::join!(
        super::quota_server::view(&me.client, &team),
        crate::platform::access::may(&me.client, "", "resourcequotas", "update", Some(&team)),
        me.state.db.requests_list(Some(&team), false)
    );
    let mut view = view?;
    view.can_edit = can_edit?;
    view.requests = requests.map_err(AppError::internal)?;
    Ok(view)
}

#[server(endpoint = "team-quota-save")]
pub async fn save_quota(team: String, limits_version: String, changes: Vec<QuotaChange>) -> Result<(), AppError> {
    let me = Actor::current().await?;
    let view = super::quota_server::view(&me.client, &team).await?;
    super::quota_server::check_changes(&view, &changes)?;
    let object = changes.iter().map(|c| format!("{}={}", c.resource, c.value)).collect::<Vec<_>>().join(", ");
    let work = super::quota_server::apply_changes(&me.client, &team, &limits_version, &changes);
    me.audited(Some(&team), "quota.update", &object, work).await
}

#[server(endpoint = "team-defaults-save")]
pub async fn save_defaults(team: String, defaults: LimitDefaults) -> Result<(), AppError> {
    let (state, who) = crate::auth::current().await?;
    super::quota_server::check_defaults(&defaults)?;
    let me = Actor::new(state, who)?;
    let object = format!(
        "requests cpu={} memory={}, limits cpu={} memory={}",
        defaults.cpu_request, defaults.memory_request, defaults.cpu_limit, defaults.memory_limit
    );
    me.audited(Some(&team), "limits.update", &object, super::quota_server::set_defaults(&me.client, &team, &defaults)).await
}

/// Asks the platform admins for more than the ceiling allows.
#[server(endpoint = "team-quota-request")]
pub async fn request_more(team: String, resource: String, amount: String, reason: String) -> Result<(), AppError> {
    let me = Actor::current().await?;
    // Only those who may manage the quota may ask for more.
    if !crate::platform::access::may(&me.client, "", "resourcequotas", "update", Some(&team)).await? {
        return Err(AppError::Forbidden("Only the team's admins can ask for more quota.".into()));
    }
    let view = super::quota_server::view(&me.client, &team).await?;
    let Some(row) = view.rows.iter().find(|r| r.resource == resource) else {
        return Err(AppError::Invalid(format!("“{resource}” is not a quota the portal manages.")));
    };
    let Some(value) = crate::quantity::parse(&amount) else {
        return Err(AppError::Invalid(format!("“{amount}” is not a quantity. Use numbers like 4, 500m, 16Gi.")));
    };
    if row.hard.as_deref().and_then(crate::quantity::parse).is_some_and(|h| value <= h) {
        return Err(AppError::Invalid(format!("The team already has {} of {}.", row.hard.clone().unwrap_or_default(), resource_label(&resource))));
    }
    if reason.trim().len() < 5 {
        return Err(AppError::Invalid("Say why the team needs it (a sentence helps the platform admins decide).".into()));
    }
    let request = QuotaRequest {
        id: 0,
        team: team.clone(),
        resource: resource.clone(),
        amount: amount.clone(),
        reason: reason.trim().to_string(),
        requested_by: me.username().to_string(),
        requested_at_ms: now_ms(),
        status: "pending".into(),
        decided_by: None,
        decision_reason: None,
    };
    let object = format!("{resource}={amount}");
    me.audited(Some(&team), "quota.request", &object, async {
        me.state.db.request_create(&request).await.map(drop).map_err(AppError::internal)
    })
    .await
}

#[cfg(feature = "ssr")]
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
