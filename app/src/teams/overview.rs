//! A team at a glance: its overview, and which of its pages a person may
//! open (the tabs).

#[cfg(feature = "ssr")]
use crate::audit::server::Actor;
use crate::error::AppError;
use crate::identity::Persona;
use crate::model::team::{QuotaLine, TeamSummary};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamOverview {
    pub team: TeamSummary,
    pub your_personas: Vec<Persona>,
    pub quota: Vec<QuotaLine>,
}

/// What of a team a person may open beyond its overview and quota, as
/// Kubernetes answers for them: the pages are refused to everyone else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamAccess {
    /// The members page: who may list the team's RoleBindings.
    pub members: bool,
    /// The audit trail and its CSV export: who may change the team's quota.
    pub audit: bool,
}

#[server(endpoint = "team-access")]
pub async fn get_team_access(team: String) -> Result<TeamAccess, AppError> {
    let me = Actor::current().await?;
    tracing::Span::current().record("team", team.as_str());
    super::server::access(&me.state.access, &me.client, me.who.session_key(), &team).await
}

#[server(endpoint = "team-overview")]
pub async fn get_team_overview(team: String) -> Result<TeamOverview, AppError> {
    let me = Actor::current().await?;
    tracing::Span::current().record("team", team.as_str());
    super::server::overview(&me.client, &me.who, &team).await
}
