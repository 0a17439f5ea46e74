//! A team's members: who holds which persona, and the server functions of
//! the members page (`pages/members.rs`) that read and change them.

#[cfg(feature = "ssr")]
use crate::audit::server::Actor;
use crate::error::AppError;
use crate::identity::Persona;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SubjectKind {
    User,
    Group,
}

impl SubjectKind {
    pub fn rbac(self) -> &'static str {
        match self {
            SubjectKind::User => "User",
            SubjectKind::Group => "Group",
        }
    }

    pub fn from_rbac(s: &str) -> Option<SubjectKind> {
        match s {
            "User" => Some(SubjectKind::User),
            "Group" => Some(SubjectKind::Group),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub kind: SubjectKind,
    pub name: String,
    pub personas: Vec<Persona>,
    /// The RoleBindings that give these personas.
    pub bindings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersView {
    pub members: Vec<Member>,
    /// Whether Kubernetes lets this person change bindings here.
    pub can_manage: bool,
}

#[server(endpoint = "team-members")]
pub async fn get_members(team: String) -> Result<MembersView, AppError> {
    let me = Actor::current().await?;
    tracing::Span::current().record("team", team.as_str());
    let (members, can_manage) = futures::join!(
        super::members_server::list(&me.client, &team),
        crate::platform::access::may(&me.client, "rbac.authorization.k8s.io", "rolebindings", "create", Some(&team))
    );
    Ok(MembersView { members: members?, can_manage: can_manage? })
}

/// Gives a user or group exactly these personas in the team (none removes them).
#[server(endpoint = "team-member-set")]
pub async fn set_member(team: String, kind: SubjectKind, name: String, personas: Vec<Persona>, new: bool) -> Result<(), AppError> {
    let (state, who) = crate::auth::current().await?;
    tracing::Span::current().record("team", team.as_str());
    super::members_server::check_name(kind, &name)?;
    if personas.contains(&Persona::PlatformAdmin) {
        return Err(AppError::Invalid("Platform admin is not a team persona.".into()));
    }
    if new {
        if personas.is_empty() {
            return Err(AppError::Invalid("Choose at least one persona for the new member.".into()));
        }
        let known = match kind {
            SubjectKind::User => state.db.person_exists(&name).await,
            SubjectKind::Group => state.db.group_known(&name).await,
        }
        .map_err(AppError::internal)?;
        if !known {
            return Err(AppError::Invalid(match kind {
                SubjectKind::User => format!("No one called “{name}” has signed in to Atrium yet. Ask them to sign in once, or add a group they belong to."),
                SubjectKind::Group => format!("No one who has signed in belongs to a group called “{name}”. Check the name with your identity provider."),
            }));
        }
    }
    let me = Actor::new(state, who)?;
    let action = if personas.is_empty() { "member.remove" } else if new { "member.add" } else { "member.change" };
    let object = format!(
        "{} {} ({})",
        kind.rbac().to_lowercase(),
        name,
        personas.iter().map(|p| p.slug()).collect::<Vec<_>>().join(", ")
    );
    let work = super::members_server::set_personas(&me.client, &team, kind, &name, &personas);
    me.audited(Some(&team), action, &object, work).await?;
    me.state.access.forget_all();
    Ok(())
}
