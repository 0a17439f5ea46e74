//! Teams as Kubernetes sees them, always asked as the user.

use super::overview::{TeamAccess, TeamOverview};
use super::{DISPLAY_NAME, QuotaLine, TEAM_LABEL, TeamSummary};
use crate::auth::SignedIn;
use crate::error::{AppError, AppResult};
use crate::identity::{Memberships, is_dns1123_label};
use crate::platform::access::{AccessCache, Ask};
use crate::platform::kube::{UserClient, explain};
use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use kube::api::{Api, ListParams};

/// The teams this person can see. Platform admins list every team; others
/// get each team their groups name, kept only if Kubernetes lets them read it.
pub async fn list_teams(client: &UserClient, memberships: &Memberships, bound: &[String]) -> AppResult<Vec<TeamSummary>> {
    let api: Api<Namespace> = Api::all(client.client());
    if memberships.platform_admin {
        match api.list(&ListParams::default().labels(&format!("{TEAM_LABEL}=true"))).await {
            Ok(list) => return Ok(sorted(list.items.iter().filter(|ns| is_team(ns)).map(summary).collect())),
            Err(e) => match explain(e, "the list of teams") {
                AppError::Forbidden(_) => {} // fall back to the groups' teams
                other => return Err(other),
            },
        }
    }
    let mut candidates: Vec<&String> = memberships.teams.keys().chain(bound.iter()).collect();
    candidates.sort();
    candidates.dedup();
    let gets = candidates.into_iter().map(|team| {
        let api = api.clone();
        async move { api.get_opt(team).await }
    });
    let mut teams = Vec::new();
    for result in futures::future::join_all(gets).await {
        match result {
            Ok(Some(ns)) if is_team(&ns) => teams.push(summary(&ns)),
            Ok(_) => {}
            Err(e) => match explain(e, "a team") {
                AppError::Forbidden(_) | AppError::NotFound(_) => {}
                other => return Err(other),
            },
        }
    }
    Ok(sorted(teams))
}

/// Which of the team's pages beyond its overview and quota the person may
/// open, each asked as they would be refused: the members page lists
/// RoleBindings; the audit trail asks what `audit::server::may_read` asks.
/// `cache` keeps the answers for the session `key` until RBAC changes.
pub async fn access(cache: &AccessCache, client: &UserClient, key: &str, team: &str) -> AppResult<TeamAccess> {
    if !is_dns1123_label(team) {
        return Ok(TeamAccess::default());
    }
    let members = Ask { group: "rbac.authorization.k8s.io", resource: "rolebindings", verb: "list", namespace: Some(team), name: None };
    let audit = Ask { group: "", resource: "resourcequotas", verb: "update", namespace: Some(team), name: None };
    let (members, audit) = futures::join!(cache.may(client, key, members), cache.may(client, key, audit));
    Ok(TeamAccess { members: members?, audit: audit? })
}

/// A team's page: refused by Kubernetes unless the person may read it.
pub async fn overview(client: &UserClient, who: &SignedIn, team: &str) -> AppResult<TeamOverview> {
    if !is_dns1123_label(team) {
        return Err(AppError::NotFound("There is no such team.".into()));
    }
    let what = "this team";
    let ns = Api::<Namespace>::all(client.client()).get(team).await.map_err(|e| explain(e, what))?;
    if !is_team(&ns) {
        return Err(AppError::NotFound("There is no such team.".into()));
    }
    let quotas = Api::<ResourceQuota>::namespaced(client.client(), team)
        .list(&ListParams::default())
        .await
        .map_err(|e| explain(e, "this team's quota"))?;
    let memberships = &who.identity().memberships;
    let mut your_personas = memberships.teams.get(team).cloned().unwrap_or_default();
    if memberships.platform_admin {
        your_personas.push(crate::identity::Persona::PlatformAdmin);
    }
    Ok(TeamOverview { team: summary(&ns), your_personas, quota: quota_lines(&quotas.items) })
}

pub fn quota_lines(quotas: &[ResourceQuota]) -> Vec<QuotaLine> {
    let mut lines = Vec::new();
    for q in quotas {
        let Some(status) = &q.status else { continue };
        let used = status.used.clone().unwrap_or_default();
        for (resource, hard) in status.hard.clone().unwrap_or_default() {
            let used = used.get(&resource).map(|u| u.0.clone()).unwrap_or_else(|| "0".into());
            let fraction = crate::quantity::fraction(&used, &hard.0);
            lines.push(QuotaLine { resource, used, hard: hard.0, fraction });
        }
    }
    lines.sort_by(|a, b| a.resource.cmp(&b.resource));
    lines
}

/// A live team: labelled, and not being deleted (retired).
fn is_team(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.metadata.labels.as_ref().and_then(|l| l.get(TEAM_LABEL)).is_some_and(|v| v == "true")
}

pub fn summary(ns: &Namespace) -> TeamSummary {
    let name = ns.metadata.name.clone().unwrap_or_default();
    let display_name = ns
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DISPLAY_NAME))
        .cloned()
        .unwrap_or_else(|| name.clone());
    TeamSummary { name, display_name }
}

fn sorted(mut teams: Vec<TeamSummary>) -> Vec<TeamSummary> {
    teams.sort_by(|a, b| a.name.cmp(&b.name));
    teams
}
