//! Platform administration as the platform admin: creating and retiring
//! teams, ceilings, and deciding quota requests.

use crate::error::{AppError, AppResult};
use crate::identity::{Persona, is_dns1123_label};
use crate::model::quota::QuotaRequest;
use crate::platform::kube::{UserClient, explain};
use crate::teams::members::SubjectKind;
use crate::teams::members_server::binding_for;
use crate::teams::quota_server::{LIMITS_NAME, QUOTA_NAME, ceiling_key, explain_quota};
use crate::teams::{DISPLAY_NAME, TEAM_LABEL};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, PersistentVolumeClaim, Pod, ResourceQuota, ResourceQuotaSpec};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use std::collections::BTreeMap;

/// A new team's quota and ceiling, as the demo teams have.
pub const DEFAULT_QUOTA: [(&str, &str, &str); 8] = [
    ("requests.cpu", "16", "32"),
    ("limits.cpu", "32", "64"),
    ("requests.memory", "64Gi", "128Gi"),
    ("limits.memory", "128Gi", "256Gi"),
    ("requests.nvidia.com/gpu", "2", "4"),
    ("requests.storage", "200Gi", "500Gi"),
    ("persistentvolumeclaims", "20", "40"),
    ("pods", "40", "80"),
];

/// The platform admin's overview of every team, from four list calls.
pub async fn team_rows(client: &UserClient) -> AppResult<Vec<super::TeamRow>> {
    use std::collections::{HashMap, HashSet};
    let namespaces = Api::<Namespace>::all(client.client());
    let quotas = Api::<ResourceQuota>::all(client.client());
    let bindings = Api::<RoleBinding>::all(client.client());
    let sets = Api::<StatefulSet>::all(client.client());
    // NB: `match_any` lets the API server answer from its watch cache instead
    // of a quorum read from etcd: milliseconds behind at most, many times faster.
    let (teams_lp, all, notebooks_lp) = (
        ListParams::default().labels(&format!("{TEAM_LABEL}=true")).match_any(),
        ListParams::default().match_any(),
        ListParams::default().labels("atrium.io/notebook").match_any(),
    );
    let (teams, quotas, bindings, sets) = futures::join!(
        namespaces.list(&teams_lp),
        quotas.list(&all),
        bindings.list(&all),
        sets.list_metadata(&notebooks_lp)
    );
    let teams = teams.map_err(|e| explain(e, "the list of all teams"))?;
    let mut quotas_by: HashMap<String, Vec<ResourceQuota>> = HashMap::new();
    for q in quotas.map_err(|e| explain(e, "the teams' quotas"))?.items {
        quotas_by.entry(q.metadata.namespace.clone().unwrap_or_default()).or_default().push(q);
    }
    let mut members_by: HashMap<String, HashSet<(String, String)>> = HashMap::new();
    for b in bindings.map_err(|e| explain(e, "the teams' members"))?.items {
        if Persona::from_cluster_role(&b.role_ref.name).is_none() {
            continue;
        }
        let entry = members_by.entry(b.metadata.namespace.clone().unwrap_or_default()).or_default();
        for s in b.subjects.unwrap_or_default() {
            entry.insert((s.kind, s.name));
        }
    }
    let mut notebooks_by: HashMap<String, usize> = HashMap::new();
    for s in sets.map_err(|e| explain(e, "the teams' notebooks"))?.items {
        *notebooks_by.entry(s.metadata.namespace.unwrap_or_default()).or_default() += 1;
    }
    let mut rows: Vec<super::TeamRow> = teams
        .items
        .iter()
        .filter(|ns| ns.metadata.deletion_timestamp.is_none())
        .map(|ns| {
            let team = crate::teams::server::summary(ns);
            super::TeamRow {
                quota: crate::teams::server::quota_lines(quotas_by.get(&team.name).map(Vec::as_slice).unwrap_or_default()),
                members: members_by.get(&team.name).map_or(0, HashSet::len),
                notebooks: notebooks_by.get(&team.name).copied().unwrap_or(0),
                promotions_need_approval: {
                    let (key, value) = crate::models::model::APPROVAL_LABEL;
                    ns.metadata.labels.as_ref().and_then(|l| l.get(key)).is_some_and(|v| v == value)
                },
                team,
            }
        })
        .collect();
    rows.sort_by(|a, b| a.team.name.cmp(&b.team.name));
    Ok(rows)
}

pub fn check_new_team(name: &str, display_name: &str) -> AppResult<()> {
    if !is_dns1123_label(name) {
        return Err(AppError::Invalid(format!(
            "“{name}” cannot be a team name: use up to 63 lowercase letters, digits and dashes, starting and ending with a letter or digit."
        )));
    }
    if name.starts_with("kube-") || matches!(name, "default" | "atrium") {
        return Err(AppError::Invalid(format!("“{name}” is reserved.")));
    }
    if display_name.trim().is_empty() {
        return Err(AppError::Invalid("Give the team a display name.".into()));
    }
    Ok(())
}

/// Namespace, quota, default limits and the first team admin — all or
/// nothing: if any part is refused, the namespace (and what it holds) goes.
pub async fn create_team(client: &UserClient, name: &str, display_name: &str, admin: &str) -> AppResult<()> {
    let namespaces: Api<Namespace> = Api::all(client.client());
    let mut annotations = BTreeMap::from([(DISPLAY_NAME.to_string(), display_name.trim().to_string())]);
    for (resource, _, ceiling) in DEFAULT_QUOTA {
        annotations.insert(ceiling_key(resource), ceiling.to_string());
    }
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(crate::teams::namespace_labels()),
            annotations: Some(annotations),
            ..Default::default()
        },
        ..Default::default()
    };
    let what = format!("team “{name}”");
    namespaces.create(&PostParams { dry_run: true, ..Default::default() }, &ns).await.map_err(|e| explain(e, &what))?;
    namespaces.create(&PostParams::default(), &ns).await.map_err(|e| explain(e, &what))?;
    if let Err(e) = fill_team(client, name, admin).await {
        if let Err(cleanup) = namespaces.delete(name, &DeleteParams::default()).await {
            tracing::error!(team = name, error = %cleanup, "could not remove a half-created team");
        }
        return Err(e);
    }
    Ok(())
}

async fn fill_team(client: &UserClient, team: &str, admin: &str) -> AppResult<()> {
    let q = |s: &str| Quantity(s.to_string());
    let quota = ResourceQuota {
        metadata: ObjectMeta { name: Some(QUOTA_NAME.into()), ..Default::default() },
        spec: Some(ResourceQuotaSpec {
            hard: Some(DEFAULT_QUOTA.iter().map(|(r, v, _)| (r.to_string(), q(v))).collect()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let limits = LimitRange {
        metadata: ObjectMeta { name: Some(LIMITS_NAME.into()), ..Default::default() },
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".into(),
                default_request: Some(BTreeMap::from([("cpu".into(), q("500m")), ("memory".into(), q("1Gi"))])),
                default: Some(BTreeMap::from([("cpu".into(), q("1")), ("memory".into(), q("2Gi"))])),
                ..Default::default()
            }],
        }),
    };
    let binding = binding_for(team, SubjectKind::User, admin, &client.subject_name(admin), Persona::TeamAdmin);
    let pp = PostParams::default();
    Api::<ResourceQuota>::namespaced(client.client(), team).create(&pp, &quota).await.map_err(explain_quota)?;
    Api::<LimitRange>::namespaced(client.client(), team)
        .create(&pp, &limits)
        .await
        .map_err(|e| explain(e, "the team's default limits"))?;
    Api::<RoleBinding>::namespaced(client.client(), team)
        .create(&pp, &binding)
        .await
        .map_err(|e| explain(e, "the team admin's access"))?;
    Api::<RoleBinding>::namespaced(client.client(), team)
        .create(&pp, &workloads_binding(team))
        .await
        .map_err(|e| explain(e, "the team's workloads' access to its experiments"))?;
    Api::<NetworkPolicy>::namespaced(client.client(), team)
        .create(&pp, &notebook_ingress())
        .await
        .map_err(|e| explain(e, "the team's notebook network policy"))?;
    Ok(())
}

/// The team's workloads (every ServiceAccount of its namespace, e.g. a
/// notebook's own) log to the team's experiments through the portal's MLflow
/// gateway, with the rights of `atrium-team-workloads`.
pub fn workloads_binding(team: &str) -> RoleBinding {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": WORKLOADS_ROLE, "labels": {"app.kubernetes.io/part-of": "atrium"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": WORKLOADS_ROLE},
        "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": format!("system:serviceaccounts:{team}")}]
    }))
    .expect("a valid RoleBinding")
}
pub const WORKLOADS_ROLE: &str = "atrium-team-workloads";

/// Notebook servers run without a token of their own (the portal signs people
/// in): only the portal's namespace may reach them.
pub fn notebook_ingress() -> NetworkPolicy {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "atrium-notebooks"},
        "spec": {
            "podSelector": {"matchExpressions": [{"key": "atrium.io/notebook", "operator": "Exists"}]},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {"atrium.io/portal": "true"}}}],
                "ports": [{"port": crate::notebooks::manifest::JUPYTER_PORT}]
            }]
        }
    }))
    .expect("a valid NetworkPolicy")
}

/// What retiring a team would delete, counted as the platform admin sees it.
/// NB: not its secrets: platform admins may not read them, and listing them
/// would (the page says they go too, uncounted).
pub async fn holdings(client: &UserClient, team: &str) -> AppResult<Vec<(String, usize)>> {
    let (pods, pvcs, sets) = futures::join!(
        count::<Pod>(client, team),
        count::<PersistentVolumeClaim>(client, team),
        count::<StatefulSet>(client, team),
    );
    Ok(vec![
        ("notebooks and other stateful sets".into(), sets?),
        ("pods".into(), pods?),
        ("volumes".into(), pvcs?),
    ])
}

async fn count<K>(client: &UserClient, team: &str) -> AppResult<usize>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.client(), team);
    let list = api.list_metadata(&ListParams::default()).await.map_err(|e| explain(e, "what this team holds"))?;
    Ok(list.items.len())
}

pub async fn retire_team(client: &UserClient, team: &str, typed: &str) -> AppResult<()> {
    if typed != team {
        return Err(AppError::Invalid(format!("Type the team's name, “{team}”, to confirm.")));
    }
    let ns = Api::<Namespace>::all(client.client()).get(team).await.map_err(|e| explain(e, "this team"))?;
    if !ns.metadata.labels.as_ref().and_then(|l| l.get(TEAM_LABEL)).is_some_and(|v| v == "true") {
        return Err(AppError::NotFound("There is no such team.".into()));
    }
    Api::<Namespace>::all(client.client())
        .delete(team, &DeleteParams::default())
        .await
        .map_err(|e| explain(e, "this team"))?;
    Ok(())
}

/// Sets or removes the label that makes a team's promotions need approval.
pub async fn set_promotions(client: &UserClient, team: &str, need_approval: bool) -> AppResult<()> {
    let ns = Api::<Namespace>::all(client.client()).get(team).await.map_err(|e| explain(e, "this team"))?;
    if !ns.metadata.labels.as_ref().and_then(|l| l.get(TEAM_LABEL)).is_some_and(|v| v == "true") {
        return Err(AppError::NotFound("There is no such team.".into()));
    }
    let (key, value) = crate::models::model::APPROVAL_LABEL;
    let value = if need_approval { serde_json::json!(value) } else { serde_json::Value::Null };
    let patch = serde_json::json!({ "metadata": { "labels": { key: value } } });
    Api::<Namespace>::all(client.client())
        .patch(team, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| explain(e, "this team"))?;
    Ok(())
}

/// Sets a ceiling; refuses one under the team's current limit. A resource
/// the quota does not limit yet gets the ceiling as its limit: the ceiling
/// policy wants a limit for every resource with a ceiling.
pub async fn set_ceiling(client: &UserClient, team: &str, resource: &str, value: &str) -> AppResult<()> {
    let Some(v) = crate::quantity::parse(value) else {
        return Err(AppError::Invalid(format!("“{value}” is not a quantity. Use numbers like 4, 500m, 16Gi.")));
    };
    let quota = Api::<ResourceQuota>::namespaced(client.client(), team)
        .get_opt(QUOTA_NAME)
        .await
        .map_err(|e| explain(e, "this team's quota"))?;
    let has_quota = quota.is_some();
    let hard = quota.and_then(|q| q.spec).and_then(|s| s.hard).and_then(|h| h.get(resource).cloned());
    if let Some(h) = &hard
        && crate::quantity::parse(&h.0).is_some_and(|h| v < h)
    {
        return Err(AppError::Invalid(format!(
            "The ceiling cannot be under the team's current limit ({}); lower the limit first.",
            h.0
        )));
    }
    raise_ceiling(client, team, resource, value).await?;
    if has_quota && hard.is_none() {
        set_limit(client, team, resource, value).await?;
    }
    Ok(())
}

async fn raise_ceiling(client: &UserClient, team: &str, resource: &str, value: &str) -> AppResult<()> {
    let patch = serde_json::json!({ "metadata": { "annotations": { ceiling_key(resource): value } } });
    Api::<Namespace>::all(client.client())
        .patch(team, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| explain(e, "this team's ceiling"))?;
    Ok(())
}

/// Applies an approved request: the ceiling first (if needed), then the limit.
pub async fn grant(client: &UserClient, r: &QuotaRequest) -> AppResult<()> {
    let ns = Api::<Namespace>::all(client.client()).get(&r.team).await.map_err(|e| explain(e, "this team"))?;
    let ceilings = crate::teams::quota_server::ceilings(&ns);
    let amount = crate::quantity::parse(&r.amount).ok_or_else(|| AppError::Invalid("The request's amount is not a quantity.".into()))?;
    if ceilings.get(&r.resource).and_then(|c| crate::quantity::parse(c)).is_some_and(|c| c < amount) {
        raise_ceiling(client, &r.team, &r.resource, &r.amount).await?;
    }
    set_limit(client, &r.team, &r.resource, &r.amount).await
}

/// Sets one limit of the team's quota.
async fn set_limit(client: &UserClient, team: &str, resource: &str, value: &str) -> AppResult<()> {
    let patch = serde_json::json!({ "spec": { "hard": { resource: value } } });
    let quotas = Api::<ResourceQuota>::namespaced(client.client(), team);
    // NB: admission reads namespaces from a cache, so a just-raised ceiling
    // can take a moment to count; retry the ceiling refusal briefly.
    let mut tries = 0;
    loop {
        match quotas.patch(QUOTA_NAME, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.message.contains("quota ceiling") && tries < 30 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(explain_quota(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_names() {
        assert!(check_new_team("risk-models", "Risk models").is_ok());
        assert!(check_new_team("Risk", "x").unwrap_err().to_string().contains("lowercase"));
        assert!(check_new_team("kube-system", "x").unwrap_err().to_string().contains("reserved"));
        assert!(check_new_team("ok", " ").unwrap_err().to_string().contains("display name"));
    }

    #[test]
    fn default_quota_fits_its_ceiling() {
        for (r, v, c) in DEFAULT_QUOTA {
            assert!(crate::quantity::parse(v).unwrap() <= crate::quantity::parse(c).unwrap(), "{r}");
        }
    }
}
