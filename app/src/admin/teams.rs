//! Platform administration: creating, listing, capping and retiring teams
//! (server functions and the row type they return). The pages are in
//! `pages/`; the Kubernetes work is in `server.rs`.

#[cfg(feature = "ssr")]
use super::{require_platform_admin, server};
#[cfg(feature = "ssr")]
use crate::audit::server::Actor;
use crate::error::AppError;
use crate::teams::{QuotaLine, TeamSummary};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Creates a team with its quota, default limits and first team admin.
#[server(endpoint = "admin-team-create")]
pub async fn create_team(name: String, display_name: String, admin: String) -> Result<(), AppError> {
    let (state, who) = crate::auth::current().await?;
    let name = name.trim().to_string();
    server::check_new_team(&name, &display_name)?;
    crate::teams::members_server::check_name(crate::teams::members::SubjectKind::User, admin.trim())?;
    if !state.db.person_exists(admin.trim()).await.map_err(AppError::internal)? {
        return Err(AppError::Invalid(format!(
            "No one called “{}” has signed in to Atrium yet; the first team admin must have signed in once.",
            admin.trim()
        )));
    }
    let me = Actor::new(state, who)?;
    let object = format!("team {name} (admin {})", admin.trim());
    let work = server::create_team(&me.client, &name, &display_name, admin.trim());
    me.audited(Some(&name), "team.create", &object, work).await?;
    me.state.access.forget_all();
    // The team's MLflow workspace. Not fatal: it is also made on first use.
    if let Some(mlflow) = &me.state.mlflow
        && let Err(e) = mlflow.ensure_workspace(&name).await
    {
        tracing::warn!(team = %name, error = %e, "could not make the team's MLflow workspace yet");
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamRow {
    pub team: TeamSummary,
    pub quota: Vec<QuotaLine>,
    /// Users and groups holding a persona in the team.
    pub members: usize,
    pub notebooks: usize,
    /// Whether a team admin approves every change of the version a model
    /// deployment serves (the namespace's `atrium.io/promotions` label).
    #[serde(default)]
    pub promotions_need_approval: bool,
}

/// Every team with its quota use, members and notebooks: four list calls
/// in parallel, made as the platform admin.
#[server(endpoint = "admin-teams")]
pub async fn all_teams() -> Result<Vec<TeamRow>, AppError> {
    let me = Actor::current().await?;
    server::team_rows(&me.client).await
}

/// Sets one ceiling of a team (never under its current limit).
#[server(endpoint = "admin-team-ceiling")]
pub async fn set_team_ceiling(team: String, resource: String, value: String) -> Result<(), AppError> {
    let me = Actor::current().await?;
    require_platform_admin(&me.client).await?;
    if !crate::teams::quota::RESOURCES.contains(&resource.as_str()) {
        return Err(AppError::Invalid(format!("“{resource}” is not a quota the portal manages.")));
    }
    let object = format!("{resource}={}", value.trim());
    me.audited(Some(&team), "ceiling.update", &object, server::set_ceiling(&me.client, &team, &resource, value.trim())).await
}

/// Marks a team's promotions as needing a team admin's approval (its
/// namespace's label `atrium.io/promotions=need-approval`), or unmarks it.
/// Kubernetes then refuses anyone but the team's admins a change of the
/// version a model deployment serves there. Audited.
#[server(endpoint = "admin-team-promotions")]
pub async fn set_team_promotions(team: String, need_approval: bool) -> Result<(), AppError> {
    let me = Actor::current().await?;
    require_platform_admin(&me.client).await?;
    let object = format!("team {team}: promotions {}", if need_approval { "need a team admin's approval" } else { "need no approval" });
    me.audited(Some(&team), "team.promotions", &object, server::set_promotions(&me.client, &team, need_approval)).await
}

/// What retiring the team would delete.
#[server(endpoint = "admin-team-holdings")]
pub async fn team_holdings(team: String) -> Result<Vec<(String, usize)>, AppError> {
    let me = Actor::current().await?;
    require_platform_admin(&me.client).await?;
    server::holdings(&me.client, &team).await
}

/// Deletes the team's namespace and everything in it, once the name is typed.
#[server(endpoint = "admin-team-retire")]
pub async fn retire_team(team: String, typed: String) -> Result<(), AppError> {
    let me = Actor::current().await?;
    let object = format!("team {team}");
    me.audited(Some(&team), "team.retire", &object, server::retire_team(&me.client, &team, typed.trim())).await?;
    me.state.access.forget_all();
    // Its runs are kept in an archived workspace that no page serves.
    if let Some(mlflow) = &me.state.mlflow
        && let Err(e) = mlflow.archive_workspace(&team).await
    {
        tracing::warn!(%team, error = %e, "could not mark the retired team's MLflow workspace archived");
    }
    Ok(())
}
