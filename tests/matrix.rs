//! The access matrix (issue 8): every page, every server function and every
//! route of the portal's own, for every persona × (own team, another team, a
//! team that does not exist), signed in through the real Keycloak against
//! the local stack. Each answer must have a status that persona may get, and
//! no other team's object names (marker notebooks, connections, owners, audit
//! entries and quota requests made for this run) may appear in it.
//!
//! Routes are enumerated from the router — the Leptos route list, the server
//! function registry and `atrium::router::portal_routes` — so a new route
//! fails here until it is classified in [`page_rule`], [`server_functions`]
//! or [`portal_route`]. `ATRIUM_MATRIX_REPORT=1 cargo test --test matrix --
//! --nocapture` prints every answer.

mod common;

use app::audit::server::{Action, audited};
use common::{LOGIN_PORT, browser, location, login_port, sign_in, start_portal, unique};
use leptos::server_fn::ServerFn;
use leptos::server_fn::serde::Serialize;
use reqwest::Method;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Who asks, and about which team.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    SignedOut,
    NoTeam,
    Scientist,
    Engineer,
    MlEngineer,
    TeamAdmin,
    PlatformAdmin,
}
use Who::*;

/// A demo person (README's sign-ins) and the team that is theirs.
struct Person {
    who: Who,
    user: Option<&'static str>,
    team: Option<&'static str>,
}

static PEOPLE: [Person; 7] = [
    Person { who: Scientist, user: Some("alice"), team: Some("team-a") },
    Person { who: Engineer, user: Some("dave"), team: Some("team-a") },
    Person { who: MlEngineer, user: Some("maria"), team: Some("team-b") },
    Person { who: TeamAdmin, user: Some("tom"), team: Some("team-a") },
    // Platform admins hold every team; team-a stands for "theirs".
    Person { who: PlatformAdmin, user: Some("paula"), team: Some("team-a") },
    Person { who: NoTeam, user: Some(common::NO_TEAM_USER), team: None },
    Person { who: SignedOut, user: None, team: None },
];

const TEAMS: [&str; 2] = ["team-a", "team-b"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The person's own team.
    Own,
    /// A team the person does not belong to.
    Other,
    /// A team that does not exist.
    Missing,
    /// The route names no team.
    Unnamed,
}

/// What one probe fills into a route: the team, and an object of it.
struct Target {
    kind: Kind,
    team: String,
    /// A notebook of `team` (a marker of this run; made up for a missing team).
    notebook: String,
    /// A name nothing has in any team (for calls that would change what they name).
    nothing: String,
    /// `notebook` is a name that team does not have: only routes naming a
    /// notebook are probed with it (and must answer as for one it has).
    unknown: bool,
}

impl Person {
    fn label(&self) -> &'static str {
        self.user.unwrap_or("(signed out)")
    }

    fn targets(&self, m: &Markers) -> Vec<Target> {
        let target = |kind, team: &str| Target {
            kind,
            team: team.to_string(),
            notebook: m.notebook(team),
            nothing: format!("{}-nothing", m.run),
            unknown: false,
        };
        let other = match self.team {
            Some("team-a") => "team-b",
            _ => "team-a",
        };
        let mut out = Vec::new();
        if let Some(own) = self.team {
            out.push(target(Kind::Own, own));
        }
        out.push(target(Kind::Other, other));
        out.push(Target { notebook: format!("{}-unknown", m.run), unknown: true, ..target(Kind::Other, other) });
        out.push(target(Kind::Missing, &m.missing_team()));
        out
    }

    /// The markers this person must never see (beyond those the request names).
    fn foreign(&self, m: &Markers) -> Vec<String> {
        match (self.who, self.team) {
            (PlatformAdmin, _) => vec![],
            (_, Some(own)) => TEAMS.iter().filter(|t| **t != own).flat_map(|t| m.of(t)).collect(),
            (_, None) => TEAMS.iter().flat_map(|t| m.of(t)).collect(),
        }
    }
}

// ---------------------------------------------------------------------------
// Marker objects: one of each kind per demo team, named for this run.

struct Markers {
    run: String,
    /// Set once the first is made: only then is there anything to remove.
    made: AtomicBool,
}

impl Markers {
    fn notebook(&self, team: &str) -> String {
        format!("{}-nb-{}", self.run, team)
    }
    fn connection(&self, team: &str) -> String {
        format!("{}-conn-{}", self.run, team)
    }
    fn missing_team(&self) -> String {
        format!("{}-none", self.run)
    }

    /// Every name that exists only in `team`, its display name included.
    fn of(&self, team: &str) -> Vec<String> {
        let display = match team {
            "team-a" => "Team A",
            _ => "Team B",
        };
        vec![
            self.notebook(team),
            self.connection(team),
            format!("{}-owner-{team}", self.run),
            format!("{}-audit-{team}", self.run),
            format!("{}-request-{team}", self.run),
            display.to_string(),
        ]
    }

    /// A stopped notebook StatefulSet (no pod, no volume) and a data
    /// connection in each demo team, as the cluster admin.
    async fn make(&self) {
        use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::Secret};
        use kube::api::{Api, PostParams};
        let admin = common::cluster_admin().await;
        self.made.store(true, Ordering::SeqCst);
        for team in TEAMS {
            let name = self.notebook(team);
            let pod = serde_json::to_value(common::restricted_pod("unused")).unwrap();
            let set: StatefulSet = serde_json::from_value(serde_json::json!({
                "metadata": {
                    "name": name,
                    "labels": {"atrium.io/notebook": name},
                    "annotations": {"atrium.io/owner": format!("{}-owner-{team}", self.run)}
                },
                "spec": {
                    "replicas": 0, "serviceName": name,
                    "selector": {"matchLabels": {"atrium.io/notebook": name}},
                    "template": {"metadata": {"labels": {"atrium.io/notebook": name}}, "spec": pod["spec"]}
                }
            }))
            .unwrap();
            Api::<StatefulSet>::namespaced(admin.clone(), team).create(&PostParams::default(), &set).await.expect("marker notebook");
            let secret: Secret = serde_json::from_value(serde_json::json!({
                "metadata": {
                    "name": self.connection(team),
                    "labels": {"atrium.io/data-connection": "true"},
                    "annotations": {"atrium.io/connection-type": "s3", "atrium.io/endpoint": "http://s3.invalid", "atrium.io/bucket": "matrix"}
                },
                "stringData": {"AWS_S3_ENDPOINT": "http://s3.invalid", "AWS_S3_BUCKET": "matrix", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
            }))
            .unwrap();
            Api::<Secret>::namespaced(admin.clone(), team).create(&PostParams::default(), &secret).await.expect("marker connection");
        }
    }

    /// An audit entry and a pending quota request per team, in the portal's database.
    async fn record(&self, db: &app::platform::db::Db) {
        for team in TEAMS {
            let object = format!("{}-audit-{team}", self.run);
            let action = Action { actor: "it-matrix", team: Some(team), action: "notebook.create", object: &object };
            audited(db, action, async { Ok::<_, app::error::AppError>(()) }).await.unwrap();
            let request = app::teams::quota::QuotaRequest {
                id: 0,
                team: team.into(),
                resource: "requests.nvidia.com/gpu".into(),
                amount: "64".into(),
                reason: format!("{}-request-{team}", self.run),
                requested_by: "tom".into(),
                requested_at_ms: 0,
                status: "pending".into(),
                decided_by: None,
                decision_reason: None,
            };
            db.request_create(&request).await.unwrap();
        }
    }
}

/// Removes the markers from the demo teams, even when the test fails.
impl Drop for Markers {
    fn drop(&mut self) {
        if !self.made.load(Ordering::SeqCst) {
            return;
        }
        for team in TEAMS {
            let _ = std::process::Command::new(common::stack("STACK_BIN"))
                .args(["kubectl", &format!("--kubeconfig={}", common::stack("STACK_ADMIN_KUBECONFIG")), "-n", team])
                .args(["delete", "--ignore-not-found", "--wait=false"])
                .args([format!("statefulset/{}", self.notebook(team)), format!("secret/{}", self.connection(team))])
                .output();
        }
    }
}

// ---------------------------------------------------------------------------
// Expectations.

/// Who may get what from a route.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// Everyone signed in gets this status.
    Anyone(u16),
    /// Platform admins get this status, everyone else 403.
    PlatformAdmins(u16),
    /// One team's data. In their own team the personas in `may` get `ok`
    /// and the team's other personas 403; another team and a missing one
    /// answer 403, whether the notebook named exists there or not. What
    /// platform admins get is `admins`.
    Team { ok: u16, may: &'static [Who], admins: Admins },
    /// The call's own checks refuse its (deliberately wrong) arguments before
    /// anything else: this status for everyone signed in.
    Refused(u16),
    /// Served without a session: this status for everyone.
    Public(u16),
    /// Anything else, spelled out.
    Table(fn(Who, Kind) -> &'static [u16]),
}

/// What platform admins get from a route of one team's data.
#[derive(Clone, Copy, Debug)]
enum Admins {
    /// They read every team: `ok`, and 404 for a team or notebook that does not exist.
    Read,
    /// They list in every namespace: `ok`, even an empty list for a team
    /// that does not exist (or no longer does: audit trails outlive teams).
    List,
    /// Their role lacks it: 403, like anyone outside the team.
    No,
}

impl Rule {
    fn allows(self, who: Who, kind: Kind, unknown: bool) -> Vec<u16> {
        match (self, who) {
            (Rule::Public(s), _) => vec![s],
            (_, SignedOut) => vec![], // decided by the session gate: see `signed_out`
            (Rule::Anyone(s), _) | (Rule::Refused(s), _) => vec![s],
            (Rule::PlatformAdmins(s), PlatformAdmin) => vec![s],
            (Rule::PlatformAdmins(_), _) => vec![403],
            (Rule::Team { admins: Admins::No, .. }, PlatformAdmin) => vec![403],
            (Rule::Team { admins: Admins::Read, .. }, PlatformAdmin) if kind == Kind::Missing || unknown => vec![404],
            (Rule::Team { ok, .. }, PlatformAdmin) => vec![ok],
            (Rule::Team { ok, may, .. }, _) => match kind {
                Kind::Own if may.contains(&who) => vec![ok],
                Kind::Own | Kind::Other | Kind::Missing => vec![403],
                Kind::Unnamed => vec![],
            },
            (Rule::Table(f), _) => f(who, kind).to_vec(),
        }
    }
}

// Personas by what their roles (deploy/chart/atrium/templates/rbac/personas.yaml) give them in their team.
const MEMBERS: &[Who] = &[Scientist, Engineer, MlEngineer, TeamAdmin];
/// Change the team's MLflow experiments (read: every member).
const EXPERIMENT_WRITERS: &[Who] = &[Scientist, MlEngineer];
/// Save and run the team's pipelines (read: every member).
const PIPELINE_AUTHORS: &[Who] = &[Engineer];
/// An MLflow experiment id and a run id no workspace has.
const NO_EXPERIMENT: &str = "987654321";
const NO_RUN: &str = "00000000000000000000000000000000";
/// Read and change notebooks (StatefulSets), and open them.
const SCIENTISTS: &[Who] = &[Scientist];
/// Read the team's Secrets, hence its data connections.
const SECRET_READERS: &[Who] = &[Scientist, Engineer];
/// Remove model deployments (delete the team's InferenceServices).
const MODEL_DEPLOYERS: &[Who] = &[MlEngineer];
/// Create deployments and change what one serves (create and update
/// InferenceServices): team admins too, who carry out the deployments and
/// promotions they approve.
const MODEL_CHANGERS: &[Who] = &[MlEngineer, TeamAdmin];
/// Read members (RoleBindings) and the audit trail.
const TEAM_ADMINS: &[Who] = &[TeamAdmin];

/// Reading one team's data.
const fn team(may: &'static [Who], admins: Admins) -> Rule {
    Rule::Team { ok: 200, may, admins }
}

/// Arguments the portal refuses (422) once Kubernetes has let the person
/// read what they are checked against.
const fn checked(may: &'static [Who]) -> Rule {
    Rule::Team { ok: 422, may, admins: Admins::Read }
}

/// Changing a notebook or connection that does not exist: those who may
/// change such things in the team learn that it is not there (404).
const fn change_of_nothing(may: &'static [Who]) -> Rule {
    Rule::Team { ok: 404, may, admins: Admins::No }
}

/// Pages, by the route pattern the Leptos router lists.
fn page_rule(path: &str) -> Option<Rule> {
    Some(match path {
        "/" | "/teams" | "/notebooks" | "/experiments" | "/pipelines" | "/models" => Rule::Anyone(200),
        "/admin" | "/admin/requests" | "/admin/audit" | "/admin/catalog" => Rule::PlatformAdmins(200),
        "/teams/{team}" | "/teams/{team}/quota" => team(MEMBERS, Admins::Read),
        "/teams/{team}/members" | "/teams/{team}/audit" => team(TEAM_ADMINS, Admins::List),
        "/notebooks/{team}" => team(SCIENTISTS, Admins::List),
        "/notebooks/{team}/new" => team(SCIENTISTS, Admins::No),
        "/notebooks/{team}/{name}" => team(SCIENTISTS, Admins::Read),
        // MLflow through the gateway: every member reads their team's
        // experiments (platform admins' role has no MLflow rules); the ids
        // probed exist nowhere, so members learn just that (404).
        "/experiments/{team}" => team(MEMBERS, Admins::No),
        "/experiments/{team}/{id}" | "/experiments/{team}/{id}/runs/{run}" => change_of_nothing(MEMBERS),
        // No runs picked (one, at most, below): refused before anything is asked.
        "/experiments/{team}/{id}/compare" => Rule::Refused(422),
        // Argo Workflows: every member reads the team's pipelines and runs;
        // data engineers author them. The names probed exist nowhere.
        "/pipelines/{team}" | "/pipelines/{team}/runs" => team(MEMBERS, Admins::No),
        "/pipelines/{team}/new" => team(PIPELINE_AUTHORS, Admins::No),
        "/pipelines/{team}/runs/{run}" | "/pipelines/{team}/p/{name}" => change_of_nothing(MEMBERS),
        // The MLflow registry through the portal: every member reads the
        // team's models (platform admins' role has no MLflow rules); the
        // model probed exists nowhere.
        "/models/{team}" => team(MEMBERS, Admins::No),
        "/models/{team}/{name}" => change_of_nothing(MEMBERS),
        _ => return None,
    })
}

/// The portal's own routes: what to ask each (with the method the router
/// gives it; GET where it takes any) and who may get what.
fn portal_route(path: &str, t: &Target) -> Option<(String, Rule)> {
    let team_ = &t.team;
    Some(match path {
        "/healthz" | "/readyz" | "/metrics" | "/signed-out" => (path.into(), Rule::Public(200)),
        // Off to Keycloak, signed in or not.
        "/auth/login" => (path.into(), Rule::Public(303)),
        "/auth/callback" => (path.into(), Rule::Public(400)),
        // Ends the session: probed after everything else.
        "/auth/logout" => (path.into(), Rule::Public(303)),
        "/export/audit.csv" => (format!("{path}?team={team_}"), team(TEAM_ADMINS, Admins::List)),
        "/api/notebooks/stream" => (format!("{path}?team={team_}"), team(SCIENTISTS, Admins::List)),
        // The hand-over to a notebook's origin (303): reading a notebook, as
        // platform admins may, is not enough to run code in it.
        "/notebook/{team}/{name}" | "/notebook/{team}/{name}/{*rest}" => (
            fill(path, t),
            Rule::Table(|who, kind| if (who, kind) == (Scientist, Kind::Own) { &[303] } else { &[403] }),
        ),
        // A file of a run no workspace has: members learn just that.
        "/experiments/{team}/{id}/runs/{run}/artifact" => (format!("{}?path=notes.txt", fill(path, t)), change_of_nothing(MEMBERS)),
        // MLflow for workloads: a ServiceAccount's Bearer token or nothing;
        // people's sessions never count there (tests/mlflow_gateway.rs).
        "/mlflow/{team}/{*rest}" => (format!("/mlflow/{team_}/api/2.0/mlflow/experiments/search"), Rule::Public(401)),
        // Where the links an MLflow client prints lead: the team's experiments.
        "/mlflow/{team}/" => (format!("/mlflow/{team_}/"), Rule::Public(303)),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Server functions: harmless arguments for each, and who may get what. Calls
// that would change something name nothing that exists, or carry arguments
// their checks refuse, so no demo object is touched.

enum Body {
    Form(serde_json::Value),
    Json(serde_json::Value),
}

struct Call {
    path: &'static str,
    body: Body,
    rule: Rule,
}

fn form<T: ServerFn + Serialize>(args: T, rule: Rule) -> Call {
    Call { path: T::PATH, body: Body::Form(serde_json::to_value(args).unwrap()), rule }
}

fn json<T: ServerFn + Serialize>(args: T, rule: Rule) -> Call {
    Call { path: T::PATH, body: Body::Json(serde_json::to_value(args).unwrap()), rule }
}

fn server_functions(t: &Target) -> Vec<Call> {
    use app::experiments::api as experiments;
    use app::models::api as models;
    use app::pipelines::api as pipelines;
    use app::pipelines::schedules;
    use app::notebooks::{api, catalog::Catalog, connections, model};
    use app::teams::{members, quota};
    use app::{admin, audit, shell, teams};
    let team_ = t.team.clone();
    let nothing = t.nothing.clone();
    let deploy_request = |model: &str, version: &str| app::models::model::DeployRequest {
        team: team_.clone(),
        model: model.into(),
        version: version.into(),
        name: model.into(),
        cpu: "500m".into(),
        memory: "1Gi".into(),
        gpus: 0,
        min_replicas: 1,
        max_replicas: 1,
        runtime: String::new(),
    };
    let notebook_form = |name: &str| model::NotebookForm {
        team: team_.clone(),
        name: name.into(),
        image: "minimal".into(),
        size: "small".into(),
        gpus: 0,
        volume: model::VolumeChoice::None,
        env: vec![],
        connections: vec![],
    };
    let bad_connection = connections::ConnectionForm { name: "Not A Name!".into(), ..Default::default() };
    let bad_defaults = quota::LimitDefaults {
        cpu_request: "lots".into(),
        memory_request: "lots".into(),
        cpu_limit: "lots".into(),
        memory_limit: "lots".into(),
    };
    let no_quota = "not-a-quota".to_string();
    vec![
        form(shell::GetShell {}, Rule::Anyone(200)),
        form(api::GetNotebooks { team: None }, Rule::Anyone(200)),
        form(api::GetNotebooks { team: Some(team_.clone()) }, team(SCIENTISTS, Admins::List)),
        form(api::GetNotebook { team: team_.clone(), name: t.notebook.clone() }, team(SCIENTISTS, Admins::Read)),
        form(api::GetFormChoices { team: team_.clone() }, team(SCIENTISTS, Admins::No)),
        // A dry-run only.
        json(api::PreviewNotebook { form: notebook_form(&nothing) }, team(SCIENTISTS, Admins::No)),
        json(api::CreateNotebook { form: notebook_form("Not A Name!") }, Rule::Refused(422)),
        form(api::SetNotebookRunning { team: team_.clone(), name: nothing.clone(), running: false }, change_of_nothing(SCIENTISTS)),
        form(api::DeleteNotebook { team: team_.clone(), name: nothing.clone(), keep_volume: true }, change_of_nothing(SCIENTISTS)),
        form(api::GetCatalog {}, Rule::PlatformAdmins(200)),
        // An empty catalog: nobody could create a notebook.
        json(api::SaveCatalog { catalog: Catalog { images: vec![], sizes: vec![] } }, Rule::Refused(422)),
        form(api::SetIdleLimit { team: team_.clone(), minutes: "not a number".into() }, Rule::Refused(422)),
        form(connections::GetConnections { team: team_.clone() }, team(SECRET_READERS, Admins::No)),
        json(connections::CreateConnection { team: team_.clone(), form: bad_connection }, Rule::Refused(422)),
        form(connections::DeleteConnection { team: team_.clone(), name: nothing.clone() }, change_of_nothing(SECRET_READERS)),
        form(teams::GetTeamOverview { team: team_.clone() }, team(MEMBERS, Admins::Read)),
        // Which tabs to offer: yes or no for any team, as Kubernetes answers the asker.
        form(teams::GetTeamAccess { team: team_.clone() }, Rule::Anyone(200)),
        form(members::GetMembers { team: team_.clone() }, team(TEAM_ADMINS, Admins::List)),
        // A new member who has never signed in.
        form(
            members::SetMember {
                team: team_.clone(),
                kind: members::SubjectKind::User,
                name: nothing.clone(),
                personas: vec![app::identity::Persona::DataScientist],
                new: true,
            },
            Rule::Refused(422),
        ),
        form(quota::GetQuota { team: team_.clone() }, team(MEMBERS, Admins::Read)),
        form(
            quota::SaveQuota {
                team: team_.clone(),
                limits_version: "0".into(),
                changes: vec![quota::QuotaChange { resource: no_quota.clone(), value: "1".into() }],
            },
            checked(MEMBERS),
        ),
        form(
            quota::SaveDefaults {
                team: team_.clone(),
                defaults: bad_defaults,
            },
            Rule::Refused(422),
        ),
        form(
            quota::RequestMore {
                team: team_.clone(),
                resource: no_quota.clone(),
                amount: "1".into(),
                reason: "matrix".into(),
            },
            checked(TEAM_ADMINS),
        ),
        form(
            audit::GetAudit {
                filter: audit::AuditFilter {
                    team: Some(team_.clone()),
                    actor: None,
                    action: None,
                    since_ms: None,
                    until_ms: None,
                    limit: 50,
                },
            },
            team(TEAM_ADMINS, Admins::List),
        ),
        form(admin::AllTeams {}, Rule::PlatformAdmins(200)),
        form(admin::requests::PendingRequests {}, Rule::PlatformAdmins(200)),
        // Denying without a reason.
        form(admin::requests::DecideRequest { id: -1, approve: false, reason: String::new() }, Rule::PlatformAdmins(422)),
        // A first team admin who has never signed in.
        form(admin::CreateTeam { name: team_.clone(), display_name: "Matrix".into(), admin: nothing.clone() }, Rule::Refused(422)),
        form(admin::SetTeamCeiling { team: team_.clone(), resource: no_quota.clone(), value: "1".into() }, Rule::PlatformAdmins(422)),
        // Marking a team that does not exist: platform admins learn so, others are refused.
        form(admin::SetTeamPromotions { team: nothing.clone(), need_approval: true }, Rule::PlatformAdmins(404)),
        // What retiring would delete: counted by platform admins only.
        form(admin::TeamHoldings { team: team_.clone() }, team(&[], Admins::List)),
        // A confirmation that is not the team's name.
        form(admin::RetireTeam { team: team_.clone(), typed: nothing.clone() }, Rule::Refused(422)),
        form(experiments::GetExperiments { team: None, deleted: false }, Rule::Anyone(200)),
        form(experiments::GetExperiments { team: Some(team_.clone()), deleted: false }, team(MEMBERS, Admins::No)),
        // Names that are refused before anything is asked.
        form(
            experiments::CreateExperiment {
                team: team_.clone(),
                name: " ".into(),
            },
            Rule::Refused(422),
        ),
        form(
            experiments::RenameExperiment {
                team: team_.clone(),
                id: NO_EXPERIMENT.into(),
                name: " ".into(),
            },
            Rule::Refused(422),
        ),
        form(
            experiments::SetExperimentDeleted {
                team: team_.clone(),
                id: NO_EXPERIMENT.into(),
                deleted: true,
            },
            change_of_nothing(EXPERIMENT_WRITERS),
        ),
        form(
            experiments::GetRuns { team: team_.clone(), experiment: NO_EXPERIMENT.into(), filter: String::new(), sort: Default::default(), page: None, columns: None },
            change_of_nothing(MEMBERS),
        ),
        form(
            experiments::GetRun {
                team: team_.clone(),
                run: NO_RUN.into(),
                chart: Default::default(),
                dir: String::new(),
                file: None,
            },
            change_of_nothing(MEMBERS),
        ),
        form(pipelines::GetPipelines { team: None }, Rule::Anyone(200)),
        form(pipelines::GetPipelines { team: Some(team_.clone()) }, team(MEMBERS, Admins::No)),
        form(pipelines::GetStepChoices { team: team_.clone() }, team(PIPELINE_AUTHORS, Admins::No)),
        json(pipelines::CheckPipeline { pipeline: Default::default() }, Rule::Anyone(200)),
        // No name, no steps: refused before anything is asked.
        json(pipelines::SavePipeline { team: team_.clone(), pipeline: Default::default(), new: true }, Rule::Refused(422)),
        form(pipelines::GetPipeline { team: team_.clone(), name: nothing.clone() }, change_of_nothing(MEMBERS)),
        json(pipelines::RunPipeline { team: team_.clone(), name: nothing.clone(), params: vec![] }, change_of_nothing(MEMBERS)),
        form(pipelines::GetRuns { team: team_.clone(), page: None, phase: None, pipeline: None, by: None, sort: None }, team(MEMBERS, Admins::No)),
        form(pipelines::GetRun { team: team_.clone(), run: nothing.clone() }, change_of_nothing(MEMBERS)),
        form(pipelines::GetRunMlflowRuns { team: team_.clone(), run: nothing.clone() }, change_of_nothing(MEMBERS)),
        // A run that is not there has "changed" from any version: answered at once.
        form(pipelines::AwaitRun { team: team_.clone(), run: nothing.clone(), seen: "1".into() }, team(MEMBERS, Admins::No)),
        // Stopping or starting again reads the run first: members learn it is not there.
        form(pipelines::StopRun { team: team_.clone(), run: nothing.clone(), terminate: false }, change_of_nothing(MEMBERS)),
        form(pipelines::ResubmitRun { team: team_.clone(), run: nothing.clone() }, change_of_nothing(MEMBERS)),
        form(pipelines::RetryRun { team: team_.clone(), run: nothing.clone() }, change_of_nothing(PIPELINE_AUTHORS)),
        // The editor's conversions touch no team: anyone signed in; bad input is refused.
        json(pipelines::ConvertPipeline { conversion: pipelines::Conversion::FromYaml(String::new()) }, Rule::Refused(422)),
        form(schedules::PreviewSchedule { cron: "0 6 * * *".into(), timezone: "UTC".into() }, Rule::Anyone(200)),
        json(
            schedules::SaveSchedule {
                team: team_.clone(),
                pipeline: nothing.clone(),
                schedule: schedules::Schedule {
                    name: "nightly".into(),
                    cron: "0 6 * * *".into(),
                    timezone: "UTC".into(),
                    concurrency: schedules::Concurrency::Forbid,
                    suspended: false,
                    keep: 5,
                    params: vec![],
                },
            },
            change_of_nothing(MEMBERS),
        ),
        // Kubernetes refuses the patch to those who may not change schedules before looking.
        form(schedules::SuspendSchedule { team: team_.clone(), name: nothing.clone(), suspend: true }, Rule::Team { ok: 404, may: PIPELINE_AUTHORS, admins: Admins::No }),
        form(schedules::DeleteSchedule { team: team_.clone(), name: nothing.clone() }, change_of_nothing(MEMBERS)),
        // Logs are pods' logs: platform admins read those in every team too.
        form(pipelines::GetStepLog { team: team_.clone(), run: nothing.clone(), step: "fetch".into() }, Rule::Team { ok: 404, may: MEMBERS, admins: Admins::Read }),
        // Writers learn there is no such run; others are refused first.
        form(
            experiments::DescribeRun { team: team_.clone(), run: NO_RUN.into(), text: "Tuned learning rate.".into() },
            change_of_nothing(EXPERIMENT_WRITERS),
        ),
        // A name refused before anything is asked.
        form(
            experiments::RegisterModel { team: team_.clone(), run: NO_RUN.into(), model: "m-0".into(), name: " ".into() },
            Rule::Refused(422),
        ),
        form(models::GetModels { team: None }, Rule::Anyone(200)),
        form(models::GetModels { team: Some(team_.clone()) }, team(MEMBERS, Admins::No)),
        form(models::GetModel { team: team_.clone(), name: nothing.clone() }, change_of_nothing(MEMBERS)),
        // Every member sees the team's deployments (none, of a model that does not exist).
        form(models::GetDeployments { team: team_.clone(), model: nothing.clone() }, team(MEMBERS, Admins::No)),
        form(
            models::SetAlias { team: team_.clone(), name: nothing.clone(), alias: "champion".into(), version: "1".into() },
            change_of_nothing(EXPERIMENT_WRITERS),
        ),
        // `latest` names a version in MLflow: refused before anything is asked.
        form(models::SetAlias { team: team_.clone(), name: nothing.clone(), alias: "latest".into(), version: "1".into() }, Rule::Refused(422)),
        form(models::RemoveAlias { team: team_.clone(), name: nothing.clone(), alias: "champion".into() }, change_of_nothing(EXPERIMENT_WRITERS)),
        form(models::PreviewDeployment { request: deploy_request(&nothing, "1") }, change_of_nothing(MODEL_CHANGERS)),
        form(models::Deploy { request: deploy_request(&nothing, "1") }, change_of_nothing(MODEL_CHANGERS)),
        // No such amount of CPU: refused before anything is asked.
        form(models::Deploy { request: app::models::model::DeployRequest { cpu: "lots".into(), ..deploy_request(&nothing, "1") } }, Rule::Refused(422)),
        form(models::Undeploy { team: team_.clone(), name: nothing.clone() }, change_of_nothing(MODEL_DEPLOYERS)),
        form(
            models::RolloutCanary { team: team_.clone(), name: nothing.clone(), version: "2".into(), percent: 20 },
            change_of_nothing(MODEL_CHANGERS),
        ),
        // A share over 100 %: refused before anything is asked.
        form(models::RolloutCanary { team: team_.clone(), name: nothing.clone(), version: "2".into(), percent: 150 }, Rule::Refused(422)),
        form(models::PromoteCanary { team: team_.clone(), name: nothing.clone() }, change_of_nothing(MODEL_CHANGERS)),
        form(models::RollbackCanary { team: team_.clone(), name: nothing.clone() }, change_of_nothing(MODEL_CHANGERS)),
        form(models::RollBackTo { team: team_.clone(), name: nothing.clone(), version: "1".into() }, change_of_nothing(MODEL_CHANGERS)),
        // Trying a deployment: those who see the team's deployments learn there is no such one.
        form(models::PredictionExample { team: team_.clone(), name: nothing.clone() }, change_of_nothing(MEMBERS)),
        form(
            models::Predict { team: team_.clone(), name: nothing.clone(), request: r#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]}]}"#.into(), version: Some("1".into()) },
            change_of_nothing(MEMBERS),
        ),
        // A request that is not JSON, or a version that is not a number: refused before anything is asked.
        form(models::Predict { team: team_.clone(), name: nothing.clone(), request: "{".into(), version: None }, Rule::Refused(422)),
        form(
            models::Predict { team: team_.clone(), name: nothing.clone(), request: r#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]}]}"#.into(), version: Some("x".into()) },
            Rule::Refused(422),
        ),
        // Request counts: those who see the team's deployments learn there is no such one.
        form(models::GetTraffic { team: team_.clone(), name: nothing.clone() }, change_of_nothing(MEMBERS)),
        // Denying a promotion without a reason: refused before anything is asked.
        form(models::DecidePromotion { team: team_.clone(), id: -1, approve: false, reason: String::new() }, Rule::Refused(422)),
        form(
            experiments::CompareRuns {
                team: team_.clone(),
                experiment: NO_EXPERIMENT.into(),
                runs: vec![NO_RUN.into()],
                x: None,
                y: None,
            },
            Rule::Refused(422),
        ),
    ]
}

// ---------------------------------------------------------------------------
// The routes, from the router.

#[derive(Clone, Debug)]
enum Route {
    Page(String),
    ServerFn(String, Method),
    Portal(String, Option<Method>),
}

fn enumerate() -> Vec<Route> {
    let mut routes: Vec<Route> = leptos_axum::generate_route_list(app::App).iter().map(|r| Route::Page(r.path().to_string())).collect();
    let mut fns: Vec<(String, Method)> = leptos::server_fn::axum::server_fn_paths().map(|(p, m)| (p.to_string(), m)).collect();
    fns.sort_by(|a, b| a.0.cmp(&b.0));
    routes.extend(fns.into_iter().map(|(p, m)| Route::ServerFn(p, m)));
    routes.extend(atrium::router::portal_routes().into_iter().map(|r| Route::Portal(r.path.to_string(), r.method)));
    routes
}

/// Every route the router serves must be classified; nothing classified may be stale.
fn unclassified(routes: &[Route], probe: &Target) -> Vec<String> {
    let calls = server_functions(probe);
    let mut out = Vec::new();
    let registered: BTreeSet<&str> = routes
        .iter()
        .filter_map(|r| match r {
            Route::ServerFn(p, _) => Some(p.as_str()),
            _ => None,
        })
        .collect();
    for r in routes {
        match r {
            Route::Page(p) if page_rule(p).is_none() => out.push(format!("page {p}: add it to `page_rule`")),
            Route::ServerFn(p, _) if !calls.iter().any(|c| c.path == p) => {
                out.push(format!("server function {p}: add a harmless call and its rule to `server_functions`"))
            }
            Route::Portal(p, _) if portal_route(p, probe).is_none() => out.push(format!("route {p}: add it to `portal_route`")),
            _ => {}
        }
    }
    for c in &calls {
        if !registered.contains(c.path) {
            out.push(format!("server function {} is classified but not registered", c.path));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Probing.

struct Probe {
    route: String,
    method: Method,
    path: String,
    body: Option<(&'static str, String)>,
    rule: Rule,
    kind: Kind,
    /// Named a notebook the team does not have.
    unknown: bool,
}

/// A page path with its parameters filled in.
fn fill(pattern: &str, t: &Target) -> String {
    pattern
        .split('/')
        .map(|seg| match seg.trim_start_matches(':').trim_start_matches('{').trim_end_matches('}') {
            "team" => t.team.clone(),
            "name" => t.notebook.clone(),
            "id" => NO_EXPERIMENT.to_string(),
            "run" => NO_RUN.to_string(),
            "*rest" => "lab".to_string(),
            _ if seg.starts_with(':') || seg.starts_with('{') => {
                panic!("{pattern}: teach `fill` the parameter {seg}")
            }
            _ => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn probes(routes: &[Route], person: &Person, m: &Markers) -> Vec<Probe> {
    let mut out = Vec::new();
    for (i, t) in person.targets(m).iter().enumerate() {
        for r in routes {
            let mut probe = |route: &str, method, path: String, body: Option<(&'static str, String)>, rule| {
                let asked = format!("{path} {}", body.as_ref().map_or("", |b| b.1.as_str()));
                let teamed = asked.contains(&t.team);
                // Routes that name no team once per person; unknown names only where a notebook is named.
                if (!teamed && i > 0) || (t.unknown && !asked.contains(&t.notebook)) {
                    return;
                }
                let kind = if teamed { t.kind } else { Kind::Unnamed };
                out.push(Probe { route: route.to_string(), method, path, body, rule, kind, unknown: t.unknown });
            };
            match r {
                Route::Page(p) => probe(p, Method::GET, fill(p, t), None, page_rule(p).unwrap()),
                Route::Portal(p, method) => {
                    let (path, rule) = portal_route(p, t).unwrap();
                    probe(p, method.clone().unwrap_or(Method::GET), path, None, rule)
                }
                Route::ServerFn(p, method) => {
                    for c in server_functions(t).into_iter().filter(|c| c.path == p) {
                        match (c.body, method) {
                            (Body::Form(v), &Method::GET) => probe(p, Method::GET, format!("{p}?{}", url_form(&v)), None, c.rule),
                            (Body::Form(v), _) => {
                                let body = ("application/x-www-form-urlencoded", url_form(&v));
                                probe(p, method.clone(), p.clone(), Some(body), c.rule)
                            }
                            (Body::Json(v), _) => probe(p, method.clone(), p.clone(), Some(("application/json", v.to_string())), c.rule),
                        }
                    }
                }
            }
        }
    }
    out
}

/// Arguments as the browser sends them (`serde_qs`: `a[b]=…`, `a[0]=…`).
fn url_form(v: &serde_json::Value) -> String {
    fn walk(key: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Null => {}
            serde_json::Value::Object(o) => {
                for (k, v) in o {
                    walk(&if key.is_empty() { k.clone() } else { format!("{key}[{k}]") }, v, out)
                }
            }
            serde_json::Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(&format!("{key}[{i}]"), v, out)
                }
            }
            serde_json::Value::String(s) => out.push(format!("{}={}", enc(key), enc(s))),
            other => out.push(format!("{}={}", enc(key), other)),
        }
    }
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'[' | b']' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out.join("&")
}

/// Status, `Location` and body (for a stream, its first event).
async fn send(client: &reqwest::Client, base: &str, p: &Probe) -> Result<(u16, String, String), String> {
    let mut req = client.request(p.method.clone(), format!("{base}{}", p.path)).header("Origin", base);
    if let Some((content_type, body)) = &p.body {
        req = req.header("Content-Type", *content_type).body(body.clone());
    }
    let work = async {
        let mut res = req.send().await.map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let to = location(&res);
        let streaming = res.headers().get("content-type").is_some_and(|c| c.as_bytes().starts_with(b"text/event-stream"));
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(&chunk);
            if streaming && body.windows(2).any(|w| w == b"\n\n") {
                break;
            }
        }
        Ok((status, to, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(Duration::from_secs(60), work).await.map_err(|_| "no answer in 60 s".to_string())?
}

/// What a signed-out browser gets from the session gate, or the route's own
/// answer for public routes.
fn signed_out(p: &Probe) -> (Vec<u16>, Option<String>) {
    match p.rule {
        Rule::Public(s) => (vec![s], None),
        _ if p.path.starts_with("/api/") => (vec![401], None),
        _ => (vec![303], Some("/auth/login?next=".into())),
    }
}

/// Checks one answer; returns the problem, if any.
fn check(person: &Person, m: &Markers, p: &Probe, answer: Result<(u16, String, String), String>) -> Option<String> {
    let (status, to, body) = match answer {
        Ok(a) => a,
        Err(e) => return Some(format!("no answer: {e}")),
    };
    let (allowed, redirect) = match person.who {
        SignedOut => signed_out(p),
        who => (p.rule.allows(who, p.kind, p.unknown), None),
    };
    let mut problems = Vec::new();
    if allowed.is_empty() {
        problems.push(format!("no expectation for {:?} in a {:?} team: classify it", person.who, p.kind));
    } else if !allowed.contains(&status) {
        let excerpt: String = body.chars().take(160).collect();
        problems.push(format!("status {status}, expected {allowed:?} ({excerpt:?})"));
    }
    if let Some(prefix) = redirect
        && !to.starts_with(&prefix)
    {
        problems.push(format!("redirected to {to:?}, expected {prefix}…"));
    }
    let asked = format!("{} {}", p.path, p.body.as_ref().map_or("", |b| b.1.as_str()));
    for marker in person.foreign(m) {
        if !asked.contains(&marker) && (body.contains(&marker) || to.contains(&marker)) {
            problems.push(format!("the answer names {marker:?}, which belongs to another team"));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Every probe of one person, at most eight at a time; the sign-out last.
async fn run_person(base: String, person: &'static Person, m: Arc<Markers>, routes: Arc<Vec<Route>>) -> Outcome {
    use futures::StreamExt;
    let (client, _jar) = browser();
    if let Some(user) = person.user {
        let (_, res) = sign_in(&client, &base, user, "/").await;
        assert_eq!(res.status(), 303, "{user} signs in");
    }
    let (last, first): (Vec<Probe>, Vec<Probe>) = probes(&routes, person, &m).into_iter().partition(|p| p.route == "/auth/logout");
    let mut out = Outcome::default();
    let mut answers: Vec<(Probe, _)> = futures::stream::iter(first.into_iter().map(|p| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let answer = send(&client, &base, &p).await;
            (p, answer)
        }
    }))
    .buffer_unordered(8)
    .collect()
    .await;
    for p in last {
        let answer = send(&client, &base, &p).await;
        answers.push((p, answer));
    }
    let entitled: Vec<String> = match (person.who, person.team) {
        (PlatformAdmin, _) => TEAMS.iter().flat_map(|t| m.of(t)).collect(),
        (_, Some(own)) => m.of(own),
        (_, None) => vec![],
    };
    for (p, answer) in answers {
        let status = answer.as_ref().map_or(0, |a| a.0);
        let kind = format!("{:?}{}", p.kind, if p.unknown { "?" } else { "" });
        out.report.push(format!("{:<8} {kind:<8} {:>3} {} {}", person.label(), status, p.method, p.path));
        if let Ok((_, _, body)) = &answer {
            out.seen.extend(entitled.iter().filter(|marker| body.contains(marker.as_str())).cloned());
        }
        if let Some(problem) = check(person, &m, &p, answer) {
            out.failures.push(format!("{} {} as {} ({kind} team): {problem}", p.method, p.path, person.label()));
        }
    }
    out
}

#[derive(Default)]
struct Outcome {
    failures: Vec<String>,
    report: Vec<String>,
    /// Markers shown to someone entitled to them: proof the leak check can see each kind.
    seen: BTreeSet<String>,
}

#[test]
fn every_route_for_every_persona_and_team() {
    // Rendering pages in a debug build needs more than the default stack (see src/main.rs).
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 << 20).build().unwrap();
    runtime.block_on(matrix());
}

async fn matrix() {
    let started = Instant::now();
    let m = Arc::new(Markers { run: unique("it-mx"), made: AtomicBool::new(false) });
    let routes = Arc::new(enumerate());
    let unknown = unclassified(&routes, &PEOPLE[0].targets(&m)[0]);
    assert!(unknown.is_empty(), "routes nobody has classified for the access matrix:\n  {}", unknown.join("\n  "));

    let _port = login_port().await;
    let (portal, ()) = tokio::join!(start_portal(LOGIN_PORT, |_| {}), common::ensure_no_team_user());
    m.make().await;
    m.record(&portal.state.db).await;
    // The index shows both marker notebooks before anyone looks.
    portal.state.notebooks.index.wait_synced(Duration::from_secs(10)).await;
    for team in TEAMS {
        let mut tries = 0;
        while portal.state.notebooks.index.row(team, &m.notebook(team)).is_none() {
            tries += 1;
            assert!(tries < 100, "the index never showed {}", m.notebook(team));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let runs = PEOPLE.iter().map(|person| tokio::spawn(run_person(portal.base.clone(), person, m.clone(), routes.clone())));
    let mut failures = Vec::new();
    let mut report = String::new();
    let mut seen = BTreeSet::new();
    let mut probes = 0;
    for run in futures::future::join_all(runs).await {
        let outcome = run.expect("a person's probes ran");
        probes += outcome.report.len();
        failures.extend(outcome.failures);
        seen.extend(outcome.seen);
        for line in outcome.report {
            writeln!(report, "{line}").unwrap();
        }
    }
    let kinds = ["notebook", "connection", "owner", "audit entry", "quota request", "display name"];
    for (i, what) in kinds.iter().enumerate() {
        let shown = TEAMS.iter().any(|t| seen.contains(&m.of(t)[i]));
        assert!(shown, "no answer showed a marker {what} to anyone entitled to it, so the leak check could not notice one leaking");
    }
    if std::env::var_os("ATRIUM_MATRIX_REPORT").is_some() {
        println!("{report}");
    }
    println!("{} routes, {probes} probes in {:.1} s", routes.len(), started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{} of {probes} answers are wrong:\n  {}", failures.len(), failures.join("\n  "));
}
