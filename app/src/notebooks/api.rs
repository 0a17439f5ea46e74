//! Server functions of the notebook pages. Each asks Kubernetes, as the
//! signed-in person, before showing or doing anything.

use super::catalog::Catalog;
use super::model::{NotebookForm, NotebookRow};
#[cfg(feature = "ssr")]
use crate::audit::server::Actor;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The list page: rows of the teams the person may see, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotebookList {
    pub rows: Vec<NotebookRow>,
    /// Teams shown (name, display name) and whether the person may create there.
    pub teams: Vec<(String, String, bool)>,
    /// Idle limit per team, in words ("30 min").
    pub idle: Vec<(String, String)>,
    /// Server time, so ages render the same on the server and in the browser.
    pub now_ms: i64,
    /// Whether the person may change the team's idle limit (one team only).
    pub can_set_idle: bool,
    /// How many rows there are; `rows` holds the newest page, the live
    /// stream then sends them all (so the page itself stays small).
    pub total: usize,
    /// Teams whose notebooks the person may open (run code in), and who they
    /// are: owners may open their own notebooks too.
    pub openable: Vec<String>,
    pub me: String,
    /// One team's data connections, when the person may create notebooks
    /// there: listed here, with the rows, so a page load lists them once.
    pub connections: Option<Result<Vec<super::connections::Connection>, AppError>>,
}

/// What the create form offers for a team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FormChoices {
    pub catalog: Catalog,
    pub claims: Vec<String>,
    pub connections: Vec<String>,
    /// GPUs left in the team's quota, when it has one.
    pub gpus_left: Option<f64>,
}

/// One notebook in detail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotebookDetail {
    pub row: NotebookRow,
    /// (when, reason, message), newest first.
    pub events: Vec<(String, String, String)>,
    pub log: Option<Vec<String>>,
    pub own_volume: Option<String>,
    pub idle: Option<String>,
    pub now_ms: i64,
    /// Whether Kubernetes lets the person stop, start and delete it.
    pub can_change: bool,
    /// Whether the person may open it (its owner, or `notebooks/connect`).
    pub can_open: bool,
}

#[cfg(feature = "ssr")]
fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(feature = "ssr")]
fn idle_words(seconds: u64) -> String {
    if seconds % 60 == 0 { format!("{} min", seconds / 60) } else { format!("{seconds} s") }
}

/// The teams this session may list notebooks in (asked of Kubernetes, cached briefly).
#[cfg(feature = "ssr")]
pub async fn visible_teams(
    state: &crate::state::AppState,
    who: &crate::auth::SignedIn,
    only: Option<&str>,
) -> Result<Vec<(String, String, bool)>, AppError> {
    use crate::platform::access::Ask;
    let client = state.kube.for_user(who)?;
    let key = who.session_key();
    let teams: Vec<(String, String)> = match only {
        Some(t) => vec![(t.to_string(), t.to_string())],
        None => crate::shell::my_teams(state, who).await?.into_iter().map(|t| (t.name, t.display_name)).collect(),
    };
    let (group, resource) = state.notebooks.kinds();
    let checks = teams.iter().map(|(t, _)| async {
        let list = Ask { group, resource, verb: "list", namespace: Some(t), name: None };
        let create = Ask { verb: "create", ..list };
        let (l, c) = futures::join!(state.access.may(&client, key, list), state.access.may(&client, key, create));
        Ok::<_, AppError>((l?, c?))
    });
    let answers = futures::future::try_join_all(checks).await?;
    let visible: Vec<_> =
        teams.into_iter().zip(answers).filter(|(_, (list, _))| *list).map(|((n, d), (_, c))| (n, d, c)).collect();
    if let Some(t) = only
        && visible.is_empty()
    {
        return Err(AppError::Forbidden(format!("You do not have access to the notebooks of team “{t}”.")));
    }
    Ok(visible)
}

#[server(endpoint = "notebooks")]
pub async fn get_notebooks(team: Option<String>) -> Result<NotebookList, AppError> {
    let (state, who) = crate::auth::current().await?;
    let teams = visible_teams(&state, &who, team.as_deref()).await?;
    let names: Vec<String> = teams.iter().map(|t| t.0.clone()).collect();
    let idle = names.iter().filter_map(|t| state.notebooks.index.idle_limit(t).map(|s| (t.clone(), idle_words(s)))).collect();
    let can_set_idle = match &team {
        Some(t) => {
            let client = state.kube.for_user(&who)?;
            let ask = crate::platform::access::Ask { group: "", resource: "namespaces", verb: "patch", namespace: None, name: Some(t) };
            state.access.may(&client, who.session_key(), ask).await?
        }
        None => false,
    };
    let (rows, total) = state.notebooks.index.page(&names, super::pages::PAGE);
    let openable = openable_teams(&state, &who, &names).await?;
    let me = who.identity().username.clone();
    let connections = match (&team, teams.first()) {
        (Some(t), Some((_, _, true))) => Some(super::connections::server::list(&state.kube.for_user(&who)?, t).await),
        _ => None,
    };
    Ok(NotebookList { rows, teams, idle, now_ms: now_ms(), can_set_idle, total, openable, me, connections })
}

/// Teams where Kubernetes lets the person open any notebook.
#[cfg(feature = "ssr")]
async fn openable_teams(state: &crate::state::AppState, who: &crate::auth::SignedIn, teams: &[String]) -> Result<Vec<String>, AppError> {
    use crate::platform::access::Ask;
    let client = state.kube.for_user(who)?;
    let checks = teams.iter().map(|t| {
        let ask = Ask { group: "atrium.io", resource: "notebooks/connect", verb: "create", namespace: Some(t), name: None };
        state.access.may(&client, who.session_key(), ask)
    });
    let answers = futures::future::try_join_all(checks).await?;
    Ok(teams.iter().zip(answers).filter(|(_, ok)| *ok).map(|(t, _)| t.clone()).collect())
}

#[server(endpoint = "notebook-choices")]
pub async fn get_form_choices(team: String) -> Result<FormChoices, AppError> {
    let me = Actor::current().await?;
    let (claims, connections, quota) = futures::join!(
        super::ops::claims(&me.client, &team),
        super::ops::connections(&me.client, &team),
        crate::teams::quota_server::view(&me.client, &team)
    );
    let gpus_left = quota.ok().and_then(|q| {
        let row = q.rows.into_iter().find(|r| r.resource == "requests.nvidia.com/gpu")?;
        Some(crate::quantity::parse(row.hard.as_deref()?)? - crate::quantity::parse(&row.used)?)
    });
    let mut catalog = me.state.notebooks.catalog();
    catalog.images.retain(|i| i.enabled);
    catalog.sizes.retain(|s| s.enabled);
    Ok(FormChoices { catalog, claims: claims?, connections: connections?, gpus_left })
}

/// The manifests that creating would apply, after a server-side dry-run.
#[server(endpoint = "notebook-preview", input = leptos::server_fn::codec::Json)]
pub async fn preview_notebook(form: NotebookForm) -> Result<String, AppError> {
    let me = Actor::current().await?;
    Ok(super::ops::prepare(&me.state.notebooks, &me.client, &form).await?.yaml())
}

#[server(endpoint = "notebook-create", input = leptos::server_fn::codec::Json)]
pub async fn create_notebook(form: NotebookForm) -> Result<(), AppError> {
    let me = Actor::current().await?;
    let object = format!("notebook {} ({}, {}, {} GPUs)", form.name, form.image, form.size, form.gpus);
    me.audited(Some(&form.team), "notebook.create", &object, async {
        let plan = super::ops::prepare(&me.state.notebooks, &me.client, &form).await?;
        super::ops::create(&me.client, &plan, &form).await
    })
    .await
}

#[server(endpoint = "notebook-running")]
pub async fn set_notebook_running(team: String, name: String, running: bool) -> Result<(), AppError> {
    let me = Actor::current().await?;
    let action = if running { "notebook.start" } else { "notebook.stop" };
    let object = format!("notebook {name}");
    let client = me.client.client();
    let work = super::ops::set_running(&client, me.state.notebooks.backend(), &team, &name, running);
    me.audited(Some(&team), action, &object, work).await
}

#[server(endpoint = "notebook-delete")]
pub async fn delete_notebook(team: String, name: String, keep_volume: bool) -> Result<(), AppError> {
    let me = Actor::current().await?;
    let object = format!("notebook {name}{}", if keep_volume { " (volume kept)" } else { " and its volume" });
    let work = super::ops::delete(&me.client, me.state.notebooks.backend(), &team, &name, keep_volume);
    me.audited(Some(&team), "notebook.delete", &object, work).await
}

#[server(endpoint = "notebook")]
pub async fn get_notebook(team: String, name: String) -> Result<NotebookDetail, AppError> {
    use super::model::Phase;
    let Actor { state, who, client } = Actor::current().await?;
    let backend = state.notebooks.backend();
    super::ops::check_visible(&client, backend, &team, &name).await?;
    let row = state.notebooks.index.row(&team, &name).ok_or_else(|| {
        AppError::NotFound(format!("Notebook “{name}” is being set up; reload in a moment."))
    })?;
    let (group, resource) = state.notebooks.kinds();
    let patch = crate::platform::access::Ask { group, resource, verb: "patch", namespace: Some(&team), name: Some(&name) };
    let (events, own_volume, can_change, can_open) = futures::join!(
        super::ops::events(&client, &team, &name),
        super::ops::own_claim(&client, &team, &name),
        state.access.may(&client, who.session_key(), patch),
        super::handover::may_connect(&state, &who, &team, &name)
    );
    let events = events?
        .into_iter()
        .take(15)
        .map(|e| {
            let when = e.last_timestamp.map(|t| t.0.to_string()).or(e.event_time.map(|t| t.0.to_string())).unwrap_or_default();
            (when, e.reason.unwrap_or_default(), e.message.unwrap_or_default())
        })
        .collect();
    let log = if row.phase == Phase::Failed { super::ops::last_log_lines(&client, &team, &name).await } else { None };
    let idle = state.notebooks.index.idle_limit(&team).map(idle_words);
    Ok(NotebookDetail { row, events, log, own_volume: own_volume?, idle, now_ms: now_ms(), can_change: can_change?, can_open: can_open? })
}

#[server(endpoint = "notebook-catalog")]
pub async fn get_catalog() -> Result<Catalog, AppError> {
    let me = Actor::current().await?;
    crate::admin::require_platform_admin(&me.client).await?;
    Ok(me.state.notebooks.catalog())
}

#[server(endpoint = "notebook-catalog-save", input = leptos::server_fn::codec::Json)]
pub async fn save_catalog(catalog: Catalog) -> Result<(), AppError> {
    let me = Actor::current().await?;
    let object = format!("{} images, {} sizes", catalog.images.len(), catalog.sizes.len());
    let work = super::ops::save_catalog(&me.client, &me.state.notebooks.config.portal_namespace, &catalog);
    me.audited(None, "catalog.update", &object, work).await
}

/// Sets a team's idle limit ("" or "off" turns culling off), as the person.
#[server(endpoint = "notebook-idle")]
pub async fn set_idle_limit(team: String, minutes: String) -> Result<(), AppError> {
    let me = Actor::current().await?;
    let value = match minutes.trim() {
        "" | "off" | "0" => None,
        m => match m.parse::<u32>() {
            Ok(n) if (1..=10_080).contains(&n) => Some(format!("{n}m")),
            _ => return Err(AppError::Invalid(format!("“{m}” is not a number of minutes between 1 and 10080 (a week)."))),
        },
    };
    let object = format!("idle stop {}", value.as_deref().unwrap_or("off"));
    me.audited(Some(&team), "notebook.idle-limit", &object, async {
        use k8s_openapi::api::core::v1::Namespace;
        use kube::api::{Api, Patch, PatchParams};
        let patch = serde_json::json!({ "metadata": { "annotations": { super::index::IDLE_ANNOTATION: value } } });
        Api::<Namespace>::all(me.client.client())
            .patch(&team, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| crate::platform::kube::explain(e, &format!("team “{team}”")))?;
        Ok(())
    })
    .await
}
