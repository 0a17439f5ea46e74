//! The models area's server functions. Registered models come from the
//! team's MLflow workspace once Kubernetes RBAC allows the person
//! (`mlflow.kubeflow.org/registeredmodels`, as for experiments); deployments
//! are KServe InferenceServices read and written as the person.

use super::model::{DeployRequest, ModelDetail, ModelList};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub mod server {
    use crate::error::AppError;
    use crate::models::model::{DeployRequest, Deployment, DeploymentBrief, Promotion, PromotionAction};
    use crate::models::serving;
    use crate::platform::kube::{UserClient, explain};
    use kube::api::{Api, DynamicObject, ListParams};

    pub async fn may(state: &crate::state::AppState, who: &crate::auth::SignedIn, team: &str, group: &str, resource: &str, verb: &str) -> Result<bool, AppError> {
        use crate::platform::access::Ask;
        let client = state.kube.for_user(who)?;
        state.access.may(&client, who.session_key(), Ask { group, resource, verb, namespace: Some(team), name: None }).await
    }

    /// Whether the person may `verb` the team's registered models.
    pub async fn may_models(state: &crate::state::AppState, who: &crate::auth::SignedIn, team: &str, verb: &str) -> Result<bool, AppError> {
        may(state, who, team, crate::experiments::api::GROUP, "registeredmodels", verb).await
    }

    /// Whether the person may `verb` the team's InferenceServices.
    pub async fn may_serve(state: &crate::state::AppState, who: &crate::auth::SignedIn, team: &str, verb: &str) -> Result<bool, AppError> {
        may(state, who, team, serving::GROUP, serving::PLURAL, verb).await
    }

    pub fn registry(state: &crate::state::AppState) -> Result<&crate::experiments::mlflow::Mlflow, AppError> {
        state.mlflow.as_ref().ok_or_else(|| AppError::NotFound("No model registry (MLflow) is set up for this portal.".into()))
    }

    /// The registry, once the person may `verb` the team's models.
    pub async fn gate<'s>(
        state: &'s crate::state::AppState,
        who: &crate::auth::SignedIn,
        team: &str,
        verb: &str,
    ) -> Result<&'s crate::experiments::mlflow::Mlflow, AppError> {
        let mlflow = registry(state)?;
        if !may_models(state, who, team, verb).await? {
            let what = if matches!(verb, "get" | "list") { "see" } else { "change" };
            return Err(AppError::Forbidden(format!("You may not {what} the models of team “{team}”.")));
        }
        Ok(mlflow)
    }

    pub fn api(client: kube::Client, team: &str) -> Api<DynamicObject> {
        Api::namespaced_with(client, team, &serving::api_resource())
    }

    /// The deployments the portal made in the team, as the person reads
    /// them; `None` when the cluster serves no models (no KServe CRD).
    pub async fn deployments(client: &UserClient, team: &str) -> Result<Option<Vec<DynamicObject>>, AppError> {
        let lp = ListParams::default().labels(&format!("{}=true", serving::MANAGED_LABEL));
        match api(client.client(), team).list(&lp).await {
            // Being deleted: gone as far as people are concerned.
            Ok(list) => Ok(Some(list.items.into_iter().filter(|o| o.metadata.deletion_timestamp.is_none()).collect())),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(explain(e, &format!("the model deployments of team “{team}”"))),
        }
    }

    pub fn brief(o: &DynamicObject) -> (String, DeploymentBrief) {
        let d = serving::deployment(&serde_json::to_value(o).unwrap_or_default(), Vec::new(), true);
        (d.model.clone(), DeploymentBrief { name: d.name, version: d.version, state: d.state })
    }

    /// Deployments in full, each with the refusals of its pods found in the
    /// team's events (quota, Pod Security, images), read as the person.
    pub async fn detailed(client: &UserClient, team: &str, objects: Vec<DynamicObject>, gateway_splits: bool) -> Result<Vec<Deployment>, AppError> {
        use k8s_openapi::api::core::v1::Event;
        let events = if objects.is_empty() {
            Vec::new()
        } else {
            Api::<Event>::namespaced(client.client(), team)
                .list(&ListParams::default())
                .await
                .map(|l| l.items)
                .unwrap_or_else(|e| {
                    tracing::info!(error = %e, "events of model deployments not read");
                    Vec::new()
                })
        };
        Ok(objects
            .iter()
            .map(|o| {
                let name = o.metadata.name.clone().unwrap_or_default();
                let prefix = format!("{name}-predictor");
                let ours = events
                    .iter()
                    .filter(|e| e.involved_object.name.as_deref().is_some_and(|n| n == name || n.starts_with(&prefix)))
                    .map(|e| serving::ObjectEvent {
                        object: (e.involved_object.kind.as_deref().unwrap_or_default(), e.involved_object.name.as_deref().unwrap_or_default()),
                        at: e
                            .last_timestamp
                            .as_ref()
                            .map(|t| t.0)
                            .or(e.event_time.as_ref().map(|t| t.0))
                            .map(|t| t.as_millisecond())
                            .unwrap_or_default(),
                        reason: e.reason.as_deref().unwrap_or_default(),
                        message: e.message.as_deref().unwrap_or_default(),
                    })
                    .collect();
                let refusals = serving::current_refusals(ours, 3);
                serving::deployment(&serde_json::to_value(o).unwrap_or_default(), refusals, gateway_splits)
            })
            .collect())
    }

    /// The InferenceService for `req`, after every check that needs no
    /// write: the request in full, the person's right to deploy, the
    /// version (it exists, its files are registered), where its files are,
    /// then Kubernetes' dry-run as the person. Also whether the deployment
    /// is to be asked of the team's admins (`deploy_asks`): then only that
    /// the name is free is checked instead of the dry-run, which the API
    /// server's approval policy would refuse.
    pub async fn prepare(me: &crate::audit::server::Actor, req: &DeployRequest) -> Result<(DynamicObject, bool), AppError> {
        let problems = req.problems(None);
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems.join(" ")));
        }
        let mlflow = gate(&me.state, &me.who, &req.team, "get").await?;
        if !may_serve(&me.state, &me.who, &req.team, "create").await? {
            return Err(AppError::Forbidden(format!("You may not deploy models in team “{}”.", req.team)));
        }
        let asks = deploy_asks(me, &req.team).await?;
        let quota = crate::pipelines::api::server::quota(&me.client, &req.team).await?;
        let problems = req.problems(Some(&quota));
        if !problems.is_empty() {
            return Err(AppError::QuotaExceeded(problems.join(" ")));
        }
        let storage = storage_of(me, mlflow, &req.team, &req.model, &req.version).await?;
        let config = &me.state.config.models;
        let runtime = match req.runtime.trim() {
            "" => config.runtime.clone(),
            asked if runtimes(&me.client, &config.runtime).await.iter().any(|(name, _)| name == asked) => asked.to_string(),
            asked => {
                return Err(AppError::Invalid(format!(
                    "There is no serving runtime “{}” for MLflow models on this cluster; choose one the form offers.",
                    asked.chars().take(63).collect::<String>()
                )));
            }
        };
        let object = serving::inference_service(req, &storage, &runtime, &config.storage_connection, me.username(), crate::pipelines::api::server::now_ms());
        let object: DynamicObject = serde_json::from_value(object).map_err(AppError::internal)?;
        let what = format!("deployment “{}”", req.name);
        let api = api(me.client.client(), &req.team);
        if !asks {
            let dry = kube::api::PostParams { dry_run: true, ..Default::default() };
            api.create(&dry, &object).await.map_err(|e| explain(e, &what))?;
        } else if api.get_opt(&req.name).await.map_err(|e| explain(e, &what))?.is_some() {
            return Err(AppError::Conflict(format!("Team “{}” has a deployment named “{}” already; choose another name.", req.team, req.name)));
        }
        Ok((object, asks))
    }

    /// Creates the deployment `prepare` made, as the person (`approved`:
    /// the request it carries out). Audited.
    pub async fn create(me: &crate::audit::server::Actor, req: &DeployRequest, object: &DynamicObject, approved: Option<&Promotion>) -> Result<(), AppError> {
        let what = format!("deployment “{}”", req.name);
        let asked = approved.map(|p| format!(", asked by {} and approved by {}", p.requested_by, me.username())).unwrap_or_default();
        let audit_object = format!("deployment {} of model {} version {}{asked}", req.name, req.model, req.version);
        let work = async { api(me.client.client(), &req.team).create(&Default::default(), object).await.map(|_| ()).map_err(|e| explain(e, &what)) };
        me.audited(Some(&req.team), "model.deploy", &audit_object, work).await
    }

    /// An approved deployment request, carried out as the approver: every
    /// check `deploy` makes, the dry-run included, then the creation; then
    /// `champion` names the version (the team is marked).
    pub async fn deploy_approved(me: &crate::audit::server::Actor, asked: &Promotion) -> Result<String, AppError> {
        let req: DeployRequest = serde_json::from_str(asked.spec.as_deref().unwrap_or_default()).map_err(AppError::internal)?;
        if req.team != asked.team || req.name != asked.deployment || req.version != asked.version {
            return Err(AppError::internal("a deployment request whose spec is not what was asked"));
        }
        let (object, asks) = prepare(me, &req).await?;
        if asks {
            return Err(AppError::Forbidden(format!("Only the admins of team “{}” approve its deployments.", req.team)));
        }
        create(me, &req, &object, Some(asked)).await?;
        let said = format!("Deployment “{}” created; version {} serves once it is ready.", req.name, req.version);
        Ok(said + &champion_follows(me, &req.team, &req.model, &req.version, &req.name).await)
    }

    /// Points `champion` at the version deployment `name` now serves in a
    /// team whose promotions need approval (audited), and says so; if
    /// MLflow refuses, what was done stands and the sentence says to set it.
    async fn champion_follows(me: &crate::audit::server::Actor, team: &str, model: &str, version: &str, name: &str) -> String {
        let Ok(mlflow) = registry(&me.state) else { return String::new() };
        let object = format!("model {model}: champion → version {version} (now serving on deployment {name})");
        match me.audited(Some(team), "model.alias", &object, mlflow.set_alias(team, model, "champion", version)).await {
            Ok(()) => format!(" “champion” names version {version}."),
            Err(e) => {
                tracing::warn!(error = %e, "champion not moved after a change of what serves");
                " The “champion” alias could not be moved; set it on this page.".into()
            }
        }
    }

    /// Whether the person's deployments in `team` are asked of its admins
    /// (the team is marked and they are no team admin).
    pub async fn deploy_asks(me: &crate::audit::server::Actor, team: &str) -> Result<bool, AppError> {
        let (marked, may) = futures::join!(needs_approval(&me.client, team), may_approve(&me.state, &me.who, team));
        Ok(marked? && !may?)
    }

    /// The cluster's catalog of serving runtimes for MLflow models (its
    /// ClusterServingRuntimes that serve them, read as the person: everyone
    /// signed in may read them), `default` first. If the catalog cannot be
    /// read, `default` alone.
    pub async fn runtimes(client: &UserClient, default: &str) -> Vec<(String, String)> {
        let resource = kube::api::ApiResource {
            group: serving::GROUP.into(),
            version: "v1alpha1".into(),
            api_version: format!("{}/v1alpha1", serving::GROUP),
            kind: "ClusterServingRuntime".into(),
            plural: "clusterservingruntimes".into(),
        };
        let listed = Api::<DynamicObject>::all_with(client.client(), &resource).list(&ListParams::default()).await;
        let mut offered: Vec<(String, String)> = match listed {
            Ok(list) => list.items.iter().filter_map(|o| serving::offered_runtime(&serde_json::to_value(o).unwrap_or_default())).collect(),
            Err(e) => {
                tracing::info!(error = %e, "serving runtimes not read; offering the default");
                Vec::new()
            }
        };
        offered.sort_by_key(|(name, _)| (name != default, name.clone()));
        if offered.first().is_none_or(|(name, _)| name != default) {
            offered.insert(0, (default.to_string(), default.to_string()));
        }
        offered
    }

    /// Where a model server reads `version` of `model` from, once MLflow
    /// says the version is ready.
    pub async fn storage_of(me: &crate::audit::server::Actor, mlflow: &crate::experiments::mlflow::Mlflow, team: &str, model: &str, version: &str) -> Result<String, AppError> {
        let found = mlflow.version(team, model, version).await?;
        if found.status != "READY" {
            return Err(AppError::Conflict(format!("Version {version} of “{model}” is not ready to serve (MLflow says {}).", found.status)));
        }
        let location = mlflow.download_uri(team, model, version).await?;
        serving::storage_uri(&location, &me.state.config.models.artifacts_uri).map_err(AppError::Invalid)
    }

    /// A deployment the portal made, read as the person, once they may
    /// change the team's deployments: the object and the model it serves.
    pub async fn managed(me: &crate::audit::server::Actor, team: &str, name: &str) -> Result<(serde_json::Value, String), AppError> {
        if !may_serve(&me.state, &me.who, team, "update").await? {
            return Err(AppError::Forbidden(format!("You may not change model deployments in team “{team}”.")));
        }
        let what = format!("deployment “{name}”");
        let found = api(me.client.client(), team).get(name).await.map_err(|e| explain(e, &what))?;
        if found.metadata.labels.as_ref().and_then(|l| l.get(serving::MANAGED_LABEL)).is_none() || found.metadata.deletion_timestamp.is_some() {
            return Err(AppError::NotFound(format!("Team “{team}” has no deployment “{name}” made here.")));
        }
        let model = found.metadata.annotations.as_ref().and_then(|a| a.get(serving::MODEL_ANNOTATION)).cloned().unwrap_or_default();
        Ok((serde_json::to_value(&found).map_err(AppError::internal)?, model))
    }

    /// The person, and the deployment of `team` they are about to change
    /// (`managed`), once `name` could name one.
    pub async fn changing(team: &str, name: &str) -> Result<(crate::audit::server::Actor, serde_json::Value, String), AppError> {
        crate::models::model::check_deployment_name(name).map_err(|_| AppError::NotFound(format!("Team “{team}” has no deployment “{name}”.")))?;
        let me = crate::audit::server::Actor::current().await?;
        let (found, model) = managed(&me, team, name).await?;
        Ok((me, found, model))
    }

    /// Replaces a deployment with `changed` as the person: Kubernetes'
    /// dry-run first, then the write, which carries the resourceVersion read.
    /// KServe's controller writes the object's status all the time, which
    /// moves that version too: a conflict is retried while the spec is still
    /// the one read (same generation); a change by someone else is refused
    /// (409). One write: if it is refused, what served before serves on.
    /// Audited.
    pub async fn replace(me: &crate::audit::server::Actor, team: &str, name: &str, changed: serde_json::Value, action: &str, object: &str) -> Result<(), AppError> {
        let mut changed: DynamicObject = serde_json::from_value(changed).map_err(AppError::internal)?;
        if let Some(s) = changed.data.as_object_mut() {
            s.remove("status");
        }
        let generation = changed.metadata.generation;
        let api = api(me.client.client(), team);
        let what = format!("deployment “{name}”");
        let write = |dry_run: bool| {
            let (api, what) = (&api, &what);
            let mut changed = changed.clone();
            async move {
                let params = kube::api::PostParams { dry_run, ..Default::default() };
                for _ in 0..5 {
                    match api.replace(name, &params, &changed).await {
                        Err(kube::Error::Api(s)) if s.code == 409 => {
                            let fresh = api.get(name).await.map_err(|e| explain(e, what))?;
                            if fresh.metadata.generation != generation {
                                return Err(AppError::Conflict(format!("Someone else changed deployment “{name}” meanwhile. Reload and try again.")));
                            }
                            changed.metadata.resource_version = fresh.metadata.resource_version;
                        }
                        other => return other.map(|_| ()).map_err(|e| explain(e, what)),
                    }
                }
                Err(AppError::Conflict(format!("Deployment “{name}” kept changing; try again in a moment.")))
            }
        };
        write(true).await?;
        me.audited(Some(team), action, object, write(false)).await
    }

    /// Kubernetes' own word on who approves promotions: the verb `approve`
    /// on `promotions.atrium.io` in the team (team admins hold it). The
    /// admission policy `promotion-approval` asks the same of the API
    /// server, so the portal is not the only guard.
    pub async fn may_approve(state: &crate::state::AppState, who: &crate::auth::SignedIn, team: &str) -> Result<bool, AppError> {
        may(state, who, team, "atrium.io", "promotions", "approve").await
    }

    /// Whether the team is marked so that changing the version a deployment
    /// serves needs a team admin (its namespace's label), read as the person.
    pub async fn needs_approval(client: &UserClient, team: &str) -> Result<bool, AppError> {
        use k8s_openapi::api::core::v1::Namespace;
        use kube::ResourceExt;
        let (key, value) = crate::models::model::APPROVAL_LABEL;
        let ns = Api::<Namespace>::all(client.client()).get(team).await.map_err(|e| explain(e, &format!("team “{team}”")))?;
        Ok(ns.labels().get(key).is_some_and(|v| v == value))
    }

    /// The deployments with, for the person, whether a change of version
    /// asks approval, and the promotion each has waiting.
    pub async fn with_approvals(
        state: &crate::state::AppState,
        who: &crate::auth::SignedIn,
        client: &UserClient,
        team: &str,
        model: &str,
        mut all: Vec<Deployment>,
    ) -> Result<Vec<Deployment>, AppError> {
        // (The store is at hand; Kubernetes is asked only when it matters.)
        let pending = state.db.promotions_pending(team).await.map_err(AppError::internal)?;
        let asked: Vec<&Promotion> = pending.iter().filter(|p| p.action == PromotionAction::Deploy && p.model == model).collect();
        if all.is_empty() && asked.is_empty() {
            return Ok(all);
        }
        let (need, may) = futures::join!(needs_approval(client, team), may_approve(state, who, team));
        let need = need.unwrap_or_else(|e| {
            tracing::info!(error = %e, "whether promotions need approval not read");
            false
        });
        let may = may?;
        // A deployment asked for and not yet decided is listed as asked.
        for p in asked {
            let Some(req) = p.spec.as_deref().and_then(|s| serde_json::from_str::<DeployRequest>(s).ok()) else { continue };
            if all.iter().any(|d| d.name == req.name) {
                continue;
            }
            all.push(Deployment {
                name: req.name,
                model: req.model,
                version: req.version,
                state: crate::models::model::ServingState::Asked,
                min_replicas: req.min_replicas,
                max_replicas: req.max_replicas,
                cpu: req.cpu,
                memory: req.memory,
                gpus: req.gpus,
                deployed_by: p.requested_by.clone(),
                created_ms: p.requested_at_ms,
                ..Default::default()
            });
        }
        for d in &mut all {
            d.asks_approval = need && !may;
            d.waiting = pending.iter().find(|p| p.deployment == d.name).cloned().map(|mut p| {
                p.may_decide = may;
                p
            });
        }
        Ok(all)
    }

    /// When the team's promotions need approval and the person is no team
    /// admin: records the request (one waiting per deployment, audited) and
    /// says so; `None` when the person may go ahead.
    pub async fn ask_if_needed(me: &crate::audit::server::Actor, asked: Promotion, marked: bool) -> Result<Option<String>, AppError> {
        let team = asked.team.clone();
        if !marked || may_approve(&me.state, &me.who, &team).await? {
            return Ok(None);
        }
        let db = &me.state.db;
        let object = format!("deployment {} of model {}: {} (asked)", asked.deployment, asked.model, asked.sentence());
        let work = async {
            if let Some(p) = db.promotions_pending(&team).await.map_err(AppError::internal)?.into_iter().find(|p| p.deployment == asked.deployment) {
                return Err(AppError::Conflict(format!("A request waits for the team's admins already on deployment “{}”: {}.", p.deployment, p.sentence())));
            }
            db.promotion_create(&asked).await.map_err(|e| match e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    AppError::Conflict(format!("A request waits for the team's admins already on deployment “{}”.", asked.deployment))
                }
                e => AppError::internal(e),
            })
        };
        let said = match asked.action {
            PromotionAction::Deploy => format!(
                "Asked the team's admins to approve deploying version {} as “{}”; it is listed here, and nothing is created until one does.",
                asked.version, asked.deployment
            ),
            _ => format!("Asked the team's admins to approve: version {} serves everything until one does.", asked.from_version),
        };
        me.audited(Some(&team), "model.promote.ask", &object, work).await?;
        Ok(Some(said))
    }

    /// Promoting or serving again as the person: asked of the team's admins
    /// where that is needed (`ask_if_needed`), else done (`change_version`).
    pub async fn ask_or_change(
        me: &crate::audit::server::Actor,
        name: &str,
        found: serde_json::Value,
        model: &str,
        action: PromotionAction,
        version: &str,
        from_version: &str,
    ) -> Result<String, AppError> {
        let team = found["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
        let asked = Promotion {
            team: team.clone(),
            deployment: name.into(),
            model: model.into(),
            version: version.into(),
            action,
            from_version: from_version.into(),
            requested_by: me.username().to_string(),
            requested_at_ms: crate::pipelines::api::server::now_ms(),
            ..Default::default()
        };
        // Read once: whether to ask, and whether champion follows.
        let marked = needs_approval(&me.client, &team).await?;
        if let Some(said) = ask_if_needed(me, asked, marked).await? {
            return Ok(said);
        }
        change_version(me, &team, name, found, model, action, version, None, marked).await
    }

    /// What promoting and serving again do once no approval is missing:
    /// one rewrite as the person (`approved`: the request it carries out),
    /// audited; in a team whose promotions need approval (`marked`), the
    /// `champion` alias then names the version that serves.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_version(
        me: &crate::audit::server::Actor,
        team: &str,
        name: &str,
        found: serde_json::Value,
        model: &str,
        action: PromotionAction,
        version: &str,
        approved: Option<&Promotion>,
        marked: bool,
    ) -> Result<String, AppError> {
        let now = crate::pipelines::api::server::now_ms();
        let before = serving::deployment(&found, Vec::new(), true);
        let asked = approved.map(|p| format!(", asked by {} and approved by {}", p.requested_by, me.username())).unwrap_or_default();
        let (changed, object, action_name) = match action {
            PromotionAction::Promote => {
                let changed = serving::promoted(&found, me.username(), now).map_err(AppError::Conflict)?;
                (changed, format!("deployment {name} of model {model}: version {version} promoted (was version {}){asked}", before.version), "model.promote")
            }
            PromotionAction::Deploy => return Err(AppError::internal("a new deployment is no change of version")),
            PromotionAction::Serve => {
                let mlflow = gate(&me.state, &me.who, team, "get").await?;
                let storage = storage_of(me, mlflow, team, model, version).await?;
                let changed = serving::at_version(&found, version, &storage, me.username(), now).map_err(AppError::Conflict)?;
                (changed, format!("deployment {name} of model {model}: rolled back to version {version} (was version {}){asked}", before.version), "model.rollback")
            }
        };
        replace(me, team, name, changed, action_name, &object).await?;
        let mut said = match action {
            PromotionAction::Promote => format!("Version {version} now serves all traffic."),
            PromotionAction::Serve => format!("Version {version} serves again; version {} serves until it is ready.", before.version),
            PromotionAction::Deploy => String::new(),
        };
        if marked {
            said.push_str(&champion_follows(me, team, model, version, name).await);
        }
        Ok(said)
    }

    /// What the local stack's address map (`models.upstream_map_file`)
    /// says for `key`, read on each request; `None` elsewhere.
    fn mapped(state: &crate::state::AppState, key: &str) -> Option<String> {
        let text = std::fs::read_to_string(state.config.models.upstream_map_file.as_ref()?).ok()?;
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(&text).ok()?.remove(key)
    }

    /// Deployment `name` as the person reads it, if the portal made it.
    async fn made_here(client: &UserClient, team: &str, name: &str) -> Result<serde_json::Value, AppError> {
        let what = format!("deployment “{name}”");
        let found = api(client.client(), team).get(name).await.map_err(|e| explain(e, &what))?;
        if found.metadata.labels.as_ref().and_then(|l| l.get(serving::MANAGED_LABEL)).is_none() {
            return Err(AppError::NotFound(format!("Team “{team}” has no deployment “{name}” made here.")));
        }
        serde_json::to_value(&found).map_err(AppError::internal)
    }

    /// Where deployment `name`'s model server answers, once the person may
    /// read the deployment: for `version` (its stable one or its canary's)
    /// that version's own server, else the deployment's address. The address
    /// map on the local stack; else the addresses KServe reports inside the
    /// cluster.
    pub async fn model_server(state: &crate::state::AppState, client: &UserClient, team: &str, name: &str, version: Option<&str>) -> Result<String, AppError> {
        let found = made_here(client, team, name).await?;
        let d = serving::deployment(&found, Vec::new(), true);
        let version = version.filter(|v| !v.is_empty()).unwrap_or(&d.version);
        let canary = d.canary.filter(|c| c.version == version);
        if version != d.version && canary.is_none() {
            return Err(AppError::NotFound(format!("Deployment “{name}” does not serve version {version}.")));
        }
        if let Some(address) = mapped(state, &format!("{team}/{name}@{version}")) {
            return Ok(address);
        }
        if let Some(c) = canary {
            return Ok(c.address);
        }
        found["status"]["address"]["url"]
            .as_str()
            .filter(|u| !u.is_empty())
            .map(String::from)
            .ok_or_else(|| AppError::Conflict(format!("Deployment “{name}” has no address yet: it is still starting.")))
    }

    /// The requests each version of deployment `name` answered, as its
    /// model servers count them: the pods of each predictor are listed as
    /// the person (running ones, by the label KServe gives them) and each
    /// one's metrics read (on the local stack the address map stands in for
    /// the pods' addresses), all at once, a second or two at most each.
    pub async fn traffic(state: &crate::state::AppState, client: &UserClient, team: &str, name: &str) -> Result<crate::models::model::Traffic, AppError> {
        use crate::models::model::{Traffic, VersionTraffic};
        use k8s_openapi::api::core::v1::Pod;
        static HTTP: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(|| model_server_client(1, 2));
        let found = made_here(client, team, name).await?;
        let predictors = serving::predictors(&found);
        let pods = Api::<Pod>::namespaced(client.client(), team)
            .list(&ListParams::default().labels(&format!("serving.kserve.io/inferenceservice={name}")))
            .await
            .map_err(|e| explain(e, &format!("the model servers of deployment “{name}”")))?;
        let port = state.config.models.metrics_port;
        let per_version = predictors.iter().map(|p| {
            let running: Vec<&Pod> = pods
                .items
                .iter()
                .filter(|pod| pod.metadata.labels.as_ref().and_then(|l| l.get("app")) == Some(&p.app))
                .filter(|pod| pod.metadata.deletion_timestamp.is_none() && pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .collect();
            let stand_in = mapped(state, &format!("{team}/{name}@{}/metrics", p.version));
            let sources: Vec<String> = running
                .iter()
                .filter_map(|pod| {
                    let ip = pod.status.as_ref()?.pod_ip.as_deref()?;
                    // One local server stands in for all of a version's pods.
                    Some(stand_in.clone().unwrap_or_else(|| if ip.contains(':') { format!("http://[{ip}]:{port}/metrics") } else { format!("http://{ip}:{port}/metrics") }))
                })
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            async move {
                let read = futures::future::join_all(sources.iter().map(|url| async move {
                    let res = HTTP.get(url).send().await.and_then(|r| r.error_for_status());
                    match res {
                        Ok(r) => r.text().await.ok().map(|t| serving::request_counts(&t)),
                        Err(e) => {
                            tracing::info!(error = %e, %url, "model server's metrics not read");
                            None
                        }
                    }
                }))
                .await;
                let counted: Vec<(u64, u64)> = read.into_iter().flatten().collect();
                VersionTraffic {
                    version: p.version.clone(),
                    canary: p.canary,
                    asked_percent: p.percent,
                    answered: counted.iter().map(|c| c.0).sum(),
                    failed: counted.iter().map(|c| c.1).sum(),
                    servers: running.len() as u32,
                    counted: if stand_in.is_some() && !counted.is_empty() { running.len() as u32 } else { counted.len() as u32 },
                }
            }
        });
        Ok(Traffic { versions: futures::future::join_all(per_version).await })
    }

    /// A client for model servers: `connect` and `total` seconds at most,
    /// no redirects followed.
    fn model_server_client(connect: u64, total: u64) -> reqwest::Client {
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(connect))
            .timeout(std::time::Duration::from_secs(total))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client")
    }

    /// One call to a model server (V2 protocol): its metadata, or with
    /// `request` an inference. Its status and JSON answer; not answering is
    /// a sentence, and what went wrong goes to the log.
    pub async fn model_server_call(address: &str, name: &str, request: Option<String>) -> Result<(u16, serde_json::Value), AppError> {
        static HTTP: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(|| model_server_client(3, 30));
        let url = format!("{}/v2/models/{name}{}", address.trim_end_matches('/'), if request.is_some() { "/infer" } else { "" });
        let sent = match request {
            Some(body) => HTTP.post(&url).header("content-type", "application/json").body(body).send().await,
            None => HTTP.get(&url).send().await,
        };
        let res = sent.map_err(|e| {
            tracing::info!(error = %e, %url, "model server not answering");
            AppError::ModelServerUnavailable(name.into())
        })?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(|e| {
            tracing::info!(error = %e, %url, "model server's answer not read");
            AppError::ModelServerUnavailable(name.into())
        })?;
        if matches!(status, 502..=504) {
            return Err(AppError::ModelServerUnavailable(name.into()));
        }
        let value = serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({ "error": text.chars().take(500).collect::<String>() }));
        Ok((status, value))
    }

    /// The object as YAML, as it is sent.
    pub fn yaml(object: &DynamicObject) -> String {
        let mut value = serde_json::to_value(object).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.remove("status");
        }
        let mut ordered = serde_json::Map::new();
        for key in ["apiVersion", "kind", "metadata", "spec"] {
            if let Some(v) = value.get(key) {
                ordered.insert(key.into(), v.clone());
            }
        }
        serde_saphyr::to_string(&serde_json::Value::Object(ordered)).unwrap_or_default()
    }
}

/// The registered models of every team the person may see (or of `team`),
/// each with its newest version, aliases and where it is deployed.
#[server(endpoint = "models")]
pub async fn get_models(team: Option<String>) -> Result<ModelList, AppError> {
    let (state, who) = crate::auth::current().await?;
    let mlflow = server::registry(&state)?;
    let names: Vec<String> = match &team {
        Some(t) => vec![t.clone()],
        None => crate::shell::my_teams(&state, &who).await?.into_iter().map(|t| t.name).collect(),
    };
    let checks = names.iter().map(|t| async {
        let (read, deploy, see) = futures::join!(
            server::may_models(&state, &who, t, "list"),
            server::may_serve(&state, &who, t, "create"),
            server::may_serve(&state, &who, t, "list"),
        );
        Ok::<_, AppError>((t.clone(), read?, deploy?, see?))
    });
    let teams: Vec<(String, bool, bool)> =
        futures::future::try_join_all(checks).await?.into_iter().filter(|(_, r, _, _)| *r).map(|(t, _, d, s)| (t, d, s)).collect();
    if let Some(t) = &team
        && teams.is_empty()
    {
        return Err(AppError::Forbidden(format!("You may not see the models of team “{t}”.")));
    }
    let client = state.kube.for_user(&who)?;
    let per_team = futures::future::join_all(teams.iter().map(|(t, _, see)| {
        let client = &client;
        async move {
            let deployed = async {
                if *see { server::deployments(client, t).await } else { Ok(None) }
            };
            // Each team's models with their runs' metrics, teams side by side.
            let models = async {
                let mut rows = mlflow.registered_models(t).await?;
                with_run_metrics(mlflow, t, &mut rows).await;
                Ok::<_, AppError>(rows)
            };
            let (models, deployed) = futures::join!(models, deployed);
            (t.clone(), models, deployed)
        }
    }))
    .await;
    let mut list = ModelList { teams: teams.iter().map(|(t, d, _)| (t.clone(), *d)).collect(), ..Default::default() };
    for (t, models, deployed) in per_team {
        let mut rows = match models {
            Ok(rows) => rows,
            Err(AppError::TrackingServerUnavailable) if team.is_none() => {
                list.unavailable.push(t);
                continue;
            }
            Err(e) => return Err(e),
        };
        let briefs: Vec<_> = deployed?.unwrap_or_default().iter().map(server::brief).collect();
        for row in &mut rows {
            row.deployments = briefs.iter().filter(|(m, _)| *m == row.name).map(|(_, b)| b.clone()).collect();
        }
        list.rows.extend(rows);
    }
    list.rows.sort_by(|a, b| b.updated_ms.cmp(&a.updated_ms).then(a.name.cmp(&b.name)));
    Ok(list)
}

/// Metrics of a model's newest version's run shown in the list.
#[cfg(feature = "ssr")]
const LIST_METRICS: usize = 3;

/// The first metrics of each model's newest version's run, in one MLflow
/// search per 100 runs; left out (and logged) when MLflow cannot say.
#[cfg(feature = "ssr")]
async fn with_run_metrics(mlflow: &crate::experiments::mlflow::Mlflow, team: &str, rows: &mut [super::model::ModelRow]) {
    let runs: Vec<String> = rows.iter().filter_map(|r| r.latest_run.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    match mlflow.metrics_of_runs(team, &runs).await {
        Ok(metrics) => {
            for row in rows.iter_mut() {
                if let Some(m) = row.latest_run.as_ref().and_then(|r| metrics.get(r)) {
                    row.metrics = m.iter().take(LIST_METRICS).cloned().collect();
                }
            }
        }
        Err(e) => tracing::warn!(team, error = %e, "the models' source runs could not be read"),
    }
}

/// One registered model: its versions (newest first, each with its source
/// run's metrics), aliases and deployments.
#[server(endpoint = "model")]
pub async fn get_model(team: String, name: String) -> Result<ModelDetail, AppError> {
    use futures::StreamExt;
    crate::experiments::model::check_model_name(&name).map_err(|_| AppError::NotFound(format!("Team “{team}” has no model “{name}”.")))?;
    let (state, who) = crate::auth::current().await?;
    let mlflow = server::gate(&state, &who, &team, "get").await?;
    let client = state.kube.for_user(&who)?;
    let (found, may_alias, may_deploy, may_see) = futures::join!(
        mlflow.registered_model(&team, &name),
        server::may_models(&state, &who, &team, "update"),
        server::may_serve(&state, &who, &team, "create"),
        server::may_serve(&state, &who, &team, "list"),
    );
    let ((row, tags), may_alias, may_deploy, may_see) = (found?, may_alias?, may_deploy?, may_see?);
    let (deploy_asks, runtimes) = if may_deploy {
        let (marked, may, runtimes) = futures::join!(
            server::needs_approval(&client, &team),
            server::may_approve(&state, &who, &team),
            server::runtimes(&client, &state.config.models.runtime)
        );
        (marked.unwrap_or(false) && !may?, runtimes)
    } else {
        (false, Vec::new())
    };
    let mut versions = mlflow.versions(&team, &name).await?;
    // The source runs of the newest versions: their metrics, to compare.
    let runs: Vec<String> = {
        let mut seen = Vec::new();
        for v in versions.iter().take(20) {
            if let Some(r) = &v.run_id
                && !seen.contains(r)
            {
                seen.push(r.clone());
            }
        }
        seen
    };
    let found: Vec<_> = futures::stream::iter(runs).map(|r| { let team = &team; async move { (r.clone(), mlflow.run(team, &r).await) } }).buffered(6).collect().await;
    for (run, got) in found {
        let Ok((row, experiment, _)) = got else { continue };
        for v in versions.iter_mut().filter(|v| v.run_id.as_deref() == Some(run.as_str())) {
            v.experiment_id = Some(experiment.clone());
            v.run_name = Some(row.name.clone()).filter(|n| !n.is_empty());
            v.metrics = row.metrics.clone();
        }
    }
    let deployments = if may_see {
        let objects: Vec<_> = server::deployments(&client, &team)
            .await?
            .unwrap_or_default()
            .into_iter()
            .filter(|o| o.metadata.annotations.as_ref().and_then(|a| a.get(super::serving::MODEL_ANNOTATION)).is_some_and(|m| *m == name))
            .collect();
        let found = server::detailed(&client, &team, objects, state.config.models.gateway_splits_traffic).await?;
        server::with_approvals(&state, &who, &client, &team, &name, found).await?
    } else {
        Vec::new()
    };
    Ok(ModelDetail {
        team,
        name: row.name,
        description: row.description,
        tags,
        versions,
        aliases: row.aliases,
        deployments,
        may_alias,
        may_deploy,
        deploy_asks,
        runtimes,
    })
}

/// A model's deployments as they are now (the model page follows them
/// while one is starting).
#[server(endpoint = "model-deployments")]
pub async fn get_deployments(team: String, model: String) -> Result<Vec<super::model::Deployment>, AppError> {
    crate::experiments::model::check_model_name(&model).map_err(|_| AppError::NotFound(format!("Team “{team}” has no model “{model}”.")))?;
    let (state, who) = crate::auth::current().await?;
    if !server::may_serve(&state, &who, &team, "list").await? {
        return Err(AppError::Forbidden(format!("You may not see the model deployments of team “{team}”.")));
    }
    let client = state.kube.for_user(&who)?;
    let objects: Vec<_> = server::deployments(&client, &team)
        .await?
        .unwrap_or_default()
        .into_iter()
        .filter(|o| o.metadata.annotations.as_ref().and_then(|a| a.get(super::serving::MODEL_ANNOTATION)).is_some_and(|m| *m == model))
        .collect();
    let found = server::detailed(&client, &team, objects, state.config.models.gateway_splits_traffic).await?;
    server::with_approvals(&state, &who, &client, &team, &model, found).await
}

/// Points an alias (e.g. `champion`) at a version, moving it from the one
/// it named before. Audited.
#[server(endpoint = "model-alias")]
pub async fn set_alias(team: String, name: String, alias: String, version: String) -> Result<(), AppError> {
    let alias = alias.trim().to_string();
    crate::experiments::model::check_model_name(&name).map_err(AppError::Invalid)?;
    super::model::check_alias(&alias).map_err(AppError::Invalid)?;
    super::model::check_version(&version).map_err(AppError::Invalid)?;
    let me = crate::audit::server::Actor::current().await?;
    let mlflow = server::gate(&me.state, &me.who, &team, "update").await?;
    let (row, _) = mlflow.registered_model(&team, &name).await?;
    mlflow.version(&team, &name, &version).await?;
    let before = row.aliases.iter().find(|(a, _)| *a == alias).map(|(_, v)| format!(" (was version {v})")).unwrap_or_default();
    let object = format!("model {name}: {alias} → version {version}{before}");
    me.audited(Some(&team), "model.alias", &object, mlflow.set_alias(&team, &name, &alias, &version)).await
}

/// Removes an alias from a model. Audited.
#[server(endpoint = "model-alias-remove")]
pub async fn remove_alias(team: String, name: String, alias: String) -> Result<(), AppError> {
    crate::experiments::model::check_model_name(&name).map_err(AppError::Invalid)?;
    super::model::check_alias(&alias).map_err(AppError::Invalid)?;
    let me = crate::audit::server::Actor::current().await?;
    let mlflow = server::gate(&me.state, &me.who, &team, "update").await?;
    let (row, _) = mlflow.registered_model(&team, &name).await?;
    let Some((_, version)) = row.aliases.iter().find(|(a, _)| *a == alias) else {
        return Err(AppError::NotFound(format!("Model “{name}” has no alias “{alias}”.")));
    };
    let object = format!("model {name}: {alias} removed (was version {version})");
    me.audited(Some(&team), "model.alias.remove", &object, mlflow.delete_alias(&team, &name, &alias)).await
}

/// The InferenceService a deployment would create, as YAML, after
/// Kubernetes accepted it in a dry-run as the person. Nothing is created.
#[server(endpoint = "model-deploy-preview")]
pub async fn preview_deployment(request: DeployRequest) -> Result<String, AppError> {
    let me = crate::audit::server::Actor::current().await?;
    Ok(server::yaml(&server::prepare(&me, &request).await?.0))
}

/// Deploys a version: the InferenceService is created as the person, once
/// everything `preview_deployment` checks passed. In a team whose
/// promotions need approval, an ML engineer's deployment is asked of the
/// team's admins instead (kept as asked, created as the one who approves).
/// Audited. Says what happened.
#[server(endpoint = "model-deploy")]
pub async fn deploy(request: DeployRequest) -> Result<String, AppError> {
    use super::model::{Promotion, PromotionAction};
    let me = crate::audit::server::Actor::current().await?;
    let (object, asks) = server::prepare(&me, &request).await?;
    if asks {
        let asked = Promotion {
            team: request.team.clone(),
            deployment: request.name.clone(),
            model: request.model.clone(),
            version: request.version.clone(),
            action: PromotionAction::Deploy,
            requested_by: me.username().to_string(),
            requested_at_ms: crate::pipelines::api::server::now_ms(),
            spec: Some(serde_json::to_string(&request).map_err(AppError::internal)?),
            ..Default::default()
        };
        return Ok(server::ask_if_needed(&me, asked, true).await?.unwrap_or_default());
    }
    server::create(&me, &request, &object, None).await?;
    Ok(format!("Deployment “{}” created; it is listed above while it starts.", request.name))
}

/// Stops serving: deletes the deployment's InferenceService as the person
/// (KServe removes what it made for it). Audited.
#[server(endpoint = "model-undeploy")]
pub async fn undeploy(team: String, name: String) -> Result<(), AppError> {
    super::model::check_deployment_name(&name).map_err(|_| AppError::NotFound(format!("Team “{team}” has no deployment “{name}”.")))?;
    let me = crate::audit::server::Actor::current().await?;
    if !server::may_serve(&me.state, &me.who, &team, "delete").await? {
        return Err(AppError::Forbidden(format!("You may not remove model deployments in team “{team}”.")));
    }
    let what = format!("deployment “{name}”");
    let api = server::api(me.client.client(), &team);
    let found = api.get(&name).await.map_err(|e| crate::platform::kube::explain(e, &what))?;
    if found.metadata.labels.as_ref().and_then(|l| l.get(super::serving::MANAGED_LABEL)).is_none() {
        return Err(AppError::NotFound(format!("Team “{team}” has no deployment “{name}” made here.")));
    }
    let model = found.metadata.annotations.as_ref().and_then(|a| a.get(super::serving::MODEL_ANNOTATION)).cloned().unwrap_or_default();
    let object = format!("deployment {name} of model {model}");
    let work = async {
        api.delete(&name, &Default::default()).await.map_err(|e| crate::platform::kube::explain(e, &what))?;
        Ok(())
    };
    me.audited(Some(&team), "model.undeploy", &object, work).await
}

/// Rolls out `version` as a canary of deployment `name`: a second predictor
/// beside the stable one, with the same resources, `percent` of the traffic
/// asked of the cluster's gateway. Checked against the team's quota in all
/// (both versions' replicas). Audited.
#[server(endpoint = "model-canary")]
pub async fn rollout_canary(team: String, name: String, version: String, percent: u32) -> Result<(), AppError> {
    let percent = super::model::check_percent(percent).map_err(AppError::Invalid)?;
    super::model::check_version(&version).map_err(AppError::Invalid)?;
    let (me, found, model) = server::changing(&team, &name).await?;
    let mlflow = server::gate(&me.state, &me.who, &team, "get").await?;
    let storage = server::storage_of(&me, mlflow, &team, &model, &version).await?;
    // Both predictors' replicas must fit in the team's quota at once.
    let now = super::serving::deployment(&found, Vec::new(), true);
    let both = super::model::DeployRequest {
        team: team.clone(),
        model: model.clone(),
        version: version.clone(),
        name: name.clone(),
        cpu: now.cpu.clone(),
        memory: now.memory.clone(),
        gpus: now.gpus,
        min_replicas: now.min_replicas * 2,
        max_replicas: now.max_replicas.max(now.min_replicas * 2),
        runtime: String::new(),
    };
    let quota = crate::pipelines::api::server::quota(&me.client, &team).await?;
    let over = both.problems(Some(&quota)).into_iter().filter(|p| p.contains("quota")).collect::<Vec<_>>();
    if !over.is_empty() {
        return Err(AppError::QuotaExceeded(format!("The canary beside the stable version would not fit: {}", over.join(" "))));
    }
    let changed = super::serving::with_canary(&found, &version, &storage, percent, me.username(), crate::pipelines::api::server::now_ms()).map_err(AppError::Conflict)?;
    let object = format!("deployment {name} of model {model}: canary version {version} at {percent} %");
    server::replace(&me, &team, &name, changed, "model.canary", &object).await
}

/// Promotes deployment `name`'s canary to serve all traffic; the previous
/// version's predictor goes. In a team whose promotions need approval, an
/// ML engineer's promotion is asked of the team's admins instead. Audited.
#[server(endpoint = "model-promote")]
pub async fn promote_canary(team: String, name: String) -> Result<String, AppError> {
    use super::model::PromotionAction;
    let (me, found, model) = server::changing(&team, &name).await?;
    let before = super::serving::deployment(&found, Vec::new(), true);
    let Some(canary) = before.canary.clone() else {
        return Err(AppError::Conflict("This deployment has no canary to promote.".into()));
    };
    server::ask_or_change(&me, &name, found, &model, PromotionAction::Promote, &canary.version, &before.version).await
}

/// Removes deployment `name`'s canary; the stable version serves on. Audited.
#[server(endpoint = "model-canary-rollback")]
pub async fn rollback_canary(team: String, name: String) -> Result<(), AppError> {
    let (me, found, model) = server::changing(&team, &name).await?;
    let canary = super::serving::deployment(&found, Vec::new(), true).canary.map(|c| c.version).unwrap_or_default();
    let changed = super::serving::without_canary(&found, me.username(), crate::pipelines::api::server::now_ms()).map_err(AppError::Conflict)?;
    let object = format!("deployment {name} of model {model}: canary version {canary} rolled back");
    server::replace(&me, &team, &name, changed, "model.canary.rollback", &object).await
}

/// Serves an earlier `version` again on deployment `name` (a rolling update:
/// the current version serves until the earlier one is ready). In a team
/// whose promotions need approval, an ML engineer asks it of the team's
/// admins. Audited.
#[server(endpoint = "model-rollback")]
pub async fn roll_back_to(team: String, name: String, version: String) -> Result<String, AppError> {
    use super::model::PromotionAction;
    super::model::check_version(&version).map_err(AppError::Invalid)?;
    let (me, found, model) = server::changing(&team, &name).await?;
    let before = super::serving::deployment(&found, Vec::new(), true);
    if before.canary.is_some() {
        return Err(AppError::Conflict("Promote or roll back the canary first.".into()));
    }
    if before.version == version {
        return Err(AppError::Conflict(format!("Deployment “{name}” serves version {version} already.")));
    }
    // The version must exist and be ready before anyone is asked.
    let mlflow = server::gate(&me.state, &me.who, &team, "get").await?;
    server::storage_of(&me, mlflow, &team, &model, &version).await?;
    server::ask_or_change(&me, &name, found, &model, PromotionAction::Serve, &version, &before.version).await
}

/// A team admin approves (carrying the change out as themselves) or denies
/// a promotion an ML engineer asked for. The first decision wins; if the
/// approved change cannot be made, what served before serves on and the
/// request waits again. Audited.
#[server(endpoint = "model-promotion-decide")]
pub async fn decide_promotion(team: String, id: i64, approve: bool, reason: String) -> Result<String, AppError> {
    use super::model::PromotionAction;
    let reason = reason.trim().to_string();
    if !approve && reason.chars().count() < 3 {
        return Err(AppError::Invalid("Say why the promotion is denied; whoever asked will read it.".into()));
    }
    if reason.chars().count() > 500 {
        return Err(AppError::Invalid("Keep the reason under 500 characters.".into()));
    }
    let me = crate::audit::server::Actor::current().await?;
    if !server::may_approve(&me.state, &me.who, &team).await? {
        return Err(AppError::Forbidden(format!("Only the admins of team “{team}” approve its promotions.")));
    }
    let db = &me.state.db;
    let asked = db
        .promotion_get(id)
        .await
        .map_err(AppError::internal)?
        .filter(|p| p.team == team)
        .ok_or_else(|| AppError::NotFound(format!("Team “{team}” has no such promotion request.")))?;
    let now = crate::pipelines::api::server::now_ms();
    if !db.promotion_decide(id, approve, me.username(), &reason, now).await.map_err(AppError::internal)? {
        let by = db.promotion_get(id).await.ok().flatten().and_then(|p| p.decided_by).unwrap_or_else(|| "someone".into());
        return Err(AppError::Conflict(format!("{by} has decided this request already.")));
    }
    if !approve {
        let object = format!("deployment {} of model {}: {} — denied: {reason}", asked.deployment, asked.model, asked.sentence());
        me.audited(Some(&team), "model.promote.deny", &object, async { Ok(()) }).await?;
        return Ok(match asked.action {
            PromotionAction::Deploy => format!("Denied; nothing was deployed as “{}”.", asked.deployment),
            _ => format!("Denied; version {} serves on.", asked.from_version),
        });
    }
    let work = async {
        if asked.action == PromotionAction::Deploy {
            return server::deploy_approved(&me, &asked).await;
        }
        let (found, model) = server::managed(&me, &team, &asked.deployment).await?;
        let now = super::serving::deployment(&found, Vec::new(), true);
        let still = match asked.action {
            PromotionAction::Promote => now.canary.as_ref().is_some_and(|c| c.version == asked.version) && now.version == asked.from_version,
            PromotionAction::Serve | PromotionAction::Deploy => now.canary.is_none() && now.version == asked.from_version,
        };
        if !still {
            return Err(AppError::Conflict(format!(
                "Deployment “{}” changed since this was asked (it serves version {} now); deny it and ask again.",
                asked.deployment, now.version
            )));
        }
        // Asked because the team was marked: champion follows, as promised.
        server::change_version(&me, &team, &asked.deployment, found, &model, asked.action, &asked.version, Some(&asked), true).await
    };
    match work.await {
        Ok(said) => Ok(said),
        Err(e) => {
            if let Err(r) = db.promotion_reopen(id).await {
                tracing::warn!(error = %r, id, "promotion request not reopened after a failed approval");
            }
            Err(e)
        }
    }
}

/// A V2 inference request for deployment `name`, filled in from what its
/// model server says it takes (its model's signature): each input with
/// one row of zeros. Asked as the person (who must see the deployment).
#[server(endpoint = "model-predict-example")]
pub async fn prediction_example(team: String, name: String) -> Result<String, AppError> {
    super::model::check_deployment_name(&name).map_err(|_| AppError::NotFound(format!("Team “{team}” has no deployment “{name}”.")))?;
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?;
    let address = server::model_server(&state, &client, &team, &name, None).await?;
    let metadata: serde_json::Value = server::model_server_call(&address, &name, None).await?.1;
    Ok(serde_json::to_string_pretty(&super::serving::example_request(&metadata)).unwrap_or_default())
}

/// Sends `request` (V2 inference protocol JSON) to deployment `name`'s
/// model server through the portal, as the person (who must see the
/// deployment), and says what it answered and how long it took. With
/// `version` (the stable one or the canary's) it goes to that version's
/// own server, whatever the gateway would do.
#[server(endpoint = "model-predict")]
pub async fn predict(team: String, name: String, request: String, version: Option<String>) -> Result<super::model::Prediction, AppError> {
    super::model::check_inference_request(&request).map_err(AppError::Invalid)?;
    super::model::check_deployment_name(&name).map_err(|_| AppError::NotFound(format!("Team “{team}” has no deployment “{name}”.")))?;
    if let Some(v) = version.as_deref().filter(|v| !v.is_empty()) {
        super::model::check_version(v).map_err(AppError::Invalid)?;
    }
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?;
    let address = server::model_server(&state, &client, &team, &name, version.as_deref()).await?;
    let t0 = std::time::Instant::now();
    let (status, answer) = server::model_server_call(&address, &name, Some(request)).await?;
    let latency_ms = t0.elapsed().as_millis() as u64;
    Ok(super::serving::prediction(status, &answer, latency_ms))
}

/// The requests each version of deployment `name` answered, as its model
/// servers count them, beside the share of traffic asked for each. Read as
/// the person, who must see the deployment and its pods.
#[server(endpoint = "model-traffic")]
pub async fn get_traffic(team: String, name: String) -> Result<super::model::Traffic, AppError> {
    super::model::check_deployment_name(&name).map_err(|_| AppError::NotFound(format!("Team “{team}” has no deployment “{name}”.")))?;
    let (state, who) = crate::auth::current().await?;
    let client = state.kube.for_user(&who)?;
    server::traffic(&state, &client, &team, &name).await
}
