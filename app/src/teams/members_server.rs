//! Team members as RoleBindings from users or groups to persona
//! ClusterRoles, read and written as the signed-in person: Kubernetes
//! decides who may change them, and refuses escalation.

use super::members::{Member, SubjectKind};
use crate::error::{AppError, AppResult};
use crate::identity::{Persona, is_impersonable};
use crate::platform::kube::{UserClient, explain};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use std::collections::BTreeMap;

/// Label on RoleBindings the portal made for one member and one persona.
pub const MEMBER_LABEL: &str = "atrium.io/member";

/// Everyone with a persona in `team`, and through which bindings.
pub async fn list(client: &UserClient, team: &str) -> AppResult<Vec<Member>> {
    let bindings = api(client, team)
        .list(&ListParams::default())
        .await
        .map_err(|e| explain(e, "this team's members"))?;
    Ok(members_of(&bindings.items, |s| client.person_name(s)))
}

/// Groups bindings by subject, named as people know them (`person` takes
/// the identity provider's prefix off); bindings to non-persona roles are
/// ignored.
pub fn members_of<'a>(bindings: &'a [RoleBinding], person: impl Fn(&'a str) -> &'a str) -> Vec<Member> {
    let mut by_subject: BTreeMap<(SubjectKind, String), Member> = BTreeMap::new();
    for b in bindings {
        let Some(persona) = Persona::from_cluster_role(&b.role_ref.name).filter(|_| b.role_ref.kind == "ClusterRole") else {
            continue;
        };
        for s in b.subjects.iter().flatten() {
            let Some(kind) = SubjectKind::from_rbac(&s.kind) else { continue };
            let name = person(&s.name).to_string();
            let m = by_subject.entry((kind, name.clone())).or_insert_with(|| Member {
                kind,
                name,
                personas: vec![],
                bindings: vec![],
            });
            if !m.personas.contains(&persona) {
                m.personas.push(persona);
                m.personas.sort();
            }
            m.bindings.push(b.metadata.name.clone().unwrap_or_default());
        }
    }
    by_subject.into_values().collect()
}

/// The RoleBinding granting `persona` to one member, `name` as people know
/// it and `subject` as RBAC names it (with the provider's prefix).
pub fn binding_for(team: &str, kind: SubjectKind, name: &str, subject: &str, persona: Persona) -> RoleBinding {
    let mut labels = BTreeMap::new();
    labels.insert("app.kubernetes.io/part-of".to_string(), "atrium".to_string());
    labels.insert(MEMBER_LABEL.to_string(), "true".to_string());
    RoleBinding {
        metadata: ObjectMeta {
            name: Some(binding_name(kind, name, persona)),
            namespace: Some(team.to_string()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([("atrium.io/member-name".to_string(), name.to_string())])),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: persona.cluster_role().into(),
        },
        subjects: Some(vec![Subject {
            kind: kind.rbac().into(),
            name: subject.to_string(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            namespace: None,
        }]),
    }
}

/// A stable, valid object name for (member, persona); the hash keeps names
/// that differ only in characters we drop apart.
pub fn binding_name(kind: SubjectKind, name: &str, persona: Persona) -> String {
    let mut slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    slug.truncate(30);
    let slug = slug.trim_matches('-');
    let k = match kind {
        SubjectKind::User => 'u',
        SubjectKind::Group => 'g',
    };
    format!("atrium-{}-{k}-{slug}-{:08x}", persona.slug(), fnv1a(name))
}

fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x01000193))
}

/// Checks a new member's name; the existence check against people who have
/// signed in is made by the caller (it needs the database).
pub fn check_name(kind: SubjectKind, name: &str) -> AppResult<()> {
    let what = match kind {
        SubjectKind::User => "user name",
        SubjectKind::Group => "group name",
    };
    if name.trim().is_empty() {
        return Err(AppError::Invalid(format!("Enter a {what}.")));
    }
    if name != name.trim() || name.len() > 253 || name.chars().any(char::is_control) {
        return Err(AppError::Invalid(format!("“{name}” is not a valid {what}.")));
    }
    if !is_impersonable(name) {
        return Err(AppError::Invalid("Names starting with “system:” are reserved by Kubernetes.".into()));
    }
    Ok(())
}

/// Gives `kind name` exactly `personas` in `team`: creates what is missing
/// and removes what is no longer wanted. Creates are dry-run first, so a
/// refusal changes nothing; a failure part-way undoes what this call made.
pub async fn set_personas(
    client: &UserClient,
    team: &str,
    kind: SubjectKind,
    name: &str,
    personas: &[Persona],
) -> AppResult<()> {
    let api = api(client, team);
    let current = list(client, team).await?;
    let existing = current.iter().find(|m| m.kind == kind && m.name == name);
    let had: Vec<Persona> = existing.map(|m| m.personas.clone()).unwrap_or_default();
    let removing: Vec<Persona> = had.iter().copied().filter(|p| !personas.contains(p)).collect();
    if removing.contains(&Persona::TeamAdmin) && !other_admin_exists(&current, kind, name) {
        return Err(AppError::Invalid(
            "A team needs at least one team admin: add another team admin before removing this one.".into(),
        ));
    }
    let adding: Vec<RoleBinding> = personas
        .iter()
        .filter(|p| !had.contains(p))
        .map(|p| binding_for(team, kind, name, &client.subject_name(name), *p))
        .collect();
    let dry = PostParams { dry_run: true, ..Default::default() };
    for b in &adding {
        api.create(&dry, b).await.map_err(|e| explain_grant(e, name))?;
    }
    let mut made = Vec::new();
    for b in &adding {
        match api.create(&PostParams::default(), b).await {
            Ok(_) => made.push(b.metadata.name.clone().unwrap_or_default()),
            Err(e) => {
                undo(&api, &made).await;
                return Err(explain_grant(e, name));
            }
        }
    }
    for persona in removing {
        remove_persona(&api, &current, (kind, name, &client.subject_name(name)), persona).await?;
    }
    Ok(())
}

fn other_admin_exists(members: &[Member], kind: SubjectKind, name: &str) -> bool {
    members.iter().any(|m| !(m.kind == kind && m.name == name) && m.personas.contains(&Persona::TeamAdmin))
}

async fn undo(api: &Api<RoleBinding>, names: &[String]) {
    for n in names {
        if let Err(e) = api.delete(n, &DeleteParams::default()).await {
            tracing::error!(binding = %n, error = %e, "could not undo a partial member change");
        }
    }
}

/// Removes one persona from a member: deletes a binding that holds only this
/// member, or takes the member out of a shared (group) binding.
async fn remove_persona(
    api: &Api<RoleBinding>,
    members: &[Member],
    (kind, name, subject): (SubjectKind, &str, &str),
    persona: Persona,
) -> AppResult<()> {
    let Some(member) = members.iter().find(|m| m.kind == kind && m.name == name) else { return Ok(()) };
    for binding in &member.bindings {
        let mut b = api.get(binding).await.map_err(|e| explain(e, "a member's access"))?;
        if b.role_ref.name != persona.cluster_role() {
            continue;
        }
        let subjects = b.subjects.take().unwrap_or_default();
        let rest: Vec<Subject> = subjects.into_iter().filter(|s| !(s.kind == kind.rbac() && (s.name == subject || s.name == name))).collect();
        if rest.is_empty() {
            api.delete(binding, &DeleteParams::default()).await.map_err(|e| explain(e, "a member's access"))?;
        } else {
            b.subjects = Some(rest);
            // resourceVersion is kept: a concurrent change is a conflict, not lost.
            api.replace(binding, &PostParams::default(), &b).await.map_err(|e| explain(e, "a member's access"))?;
        }
    }
    Ok(())
}

/// Kubernetes refuses to let anyone grant more than they hold; say so.
fn explain_grant(e: kube::Error, name: &str) -> AppError {
    if let kube::Error::Api(s) = &e
        && s.code == 403
        && (s.message.contains("escalat") || s.message.contains("not currently held"))
    {
        return AppError::Forbidden(format!(
            "Kubernetes refused to give {name} this access: you can only grant permissions you hold yourself."
        ));
    }
    explain(e, &format!("the access of {name}"))
}

fn api(client: &UserClient, team: &str) -> Api<RoleBinding> {
    Api::namespaced(client.client(), team)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_names_are_valid_stable_and_distinct() {
        let a = binding_name(SubjectKind::User, "alice@example.org", Persona::DataScientist);
        assert_eq!(a, binding_name(SubjectKind::User, "alice@example.org", Persona::DataScientist));
        assert!(a.starts_with("atrium-data-scientist-u-alice-example-org-"));
        assert!(a.len() <= 253 && a.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        assert_ne!(a, binding_name(SubjectKind::User, "alice.example.org", Persona::DataScientist));
        assert_ne!(a, binding_name(SubjectKind::Group, "alice@example.org", Persona::DataScientist));
    }

    #[test]
    fn members_are_grouped_by_subject_across_bindings() {
        let mut ds = binding_for("t", SubjectKind::User, "alice", "oidc:alice", Persona::DataScientist);
        let admin = binding_for("t", SubjectKind::User, "alice", "oidc:alice", Persona::TeamAdmin);
        let group = binding_for("t", SubjectKind::Group, "t-data-engineers", "oidc:t-data-engineers", Persona::DataEngineer);
        ds.subjects.as_mut().unwrap().push(Subject { kind: "User".into(), name: "bob".into(), ..Default::default() });
        let bindings = [ds, admin, group];
        let members = members_of(&bindings, |s| s.strip_prefix("oidc:").unwrap_or(s));
        let names: Vec<_> = members.iter().map(|m| (m.kind, m.name.as_str(), m.personas.clone())).collect();
        assert_eq!(
            names,
            vec![
                (SubjectKind::User, "alice", vec![Persona::DataScientist, Persona::TeamAdmin]),
                (SubjectKind::User, "bob", vec![Persona::DataScientist]),
                (SubjectKind::Group, "t-data-engineers", vec![Persona::DataEngineer]),
            ]
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name(SubjectKind::User, "alice").is_ok());
        assert!(check_name(SubjectKind::User, "").is_err());
        assert!(check_name(SubjectKind::User, " alice").is_err());
        assert!(check_name(SubjectKind::Group, "system:masters").is_err());
    }
}
