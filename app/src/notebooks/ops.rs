//! Notebook actions, each a Kubernetes call made as the signed-in person:
//! checking a form, dry-running and creating its objects (all or nothing),
//! stopping, starting, deleting, and reading one notebook in detail.

use super::catalog::Catalog;
use super::index::{CATALOG_CONFIGMAP, CATALOG_KEY, NotebookIndex};
use super::kubeflow::{Notebook, STOPPED_ANNOTATION};
use super::manifest::{self, NOTEBOOK_LABEL, Plan, Workload};
use super::model::{Backend, NotebookForm, VolumeChoice, check_env_name, check_name};
use crate::config::NotebooksConfig;
use crate::error::{AppError, AppResult};
use crate::platform::kube::{UserClient, explain};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Event, PersistentVolumeClaim, Pod, PodSpec, PodTemplateSpec, Secret, Service, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use std::sync::atomic::{AtomicU8, Ordering};

/// What serves notebooks: the live index, the chosen backend, the proxy.
pub struct NotebookService {
    pub index: NotebookIndex,
    pub config: NotebooksConfig,
    backend: AtomicU8,
    pub proxy: super::proxy::Proxy,
    /// The key each notebook's Jupyter token is derived from (kept in the
    /// portal's database, the same for every replica).
    token_key: String,
    /// Whether this replica runs the idle culler (it holds the culler's Lease).
    pub culler: std::sync::OnceLock<crate::platform::lease::Leadership>,
    /// Where notebooks reach the portal's MLflow gateway; `None` when the
    /// portal has no tracking server (notebooks then get no MLflow set-up).
    pub tracking_base: Option<String>,
}

impl NotebookService {
    /// Chooses the backend (asking the API server whether Kubeflow's CRD is
    /// there, with the portal's identity) and starts the watches.
    pub async fn start(config: NotebooksConfig, portal: kube::Client, token_key: String) -> NotebookService {
        let kubeflow = match config.backend.as_str() {
            "kubeflow" => true,
            "statefulset" => false,
            _ => kubeflow_installed(&portal).await,
        };
        tracing::info!(backend = if kubeflow { "kubeflow" } else { "statefulset" }, "notebook backend chosen");
        let index = NotebookIndex::default();
        index.start(portal, &config.portal_namespace, kubeflow);
        let backend = AtomicU8::new(if kubeflow { 1 } else { 0 });
        NotebookService {
            index,
            config,
            backend,
            proxy: super::proxy::Proxy::new(),
            token_key,
            culler: Default::default(),
            tracking_base: None,
        }
    }

    pub fn backend(&self) -> Backend {
        if self.backend.load(Ordering::Relaxed) == 1 { Backend::Kubeflow } else { Backend::StatefulSet }
    }

    /// The API group and resource that carry notebooks, for access reviews.
    pub fn kinds(&self) -> (&'static str, &'static str) {
        match self.backend() {
            Backend::Kubeflow => ("kubeflow.org", "notebooks"),
            Backend::StatefulSet => ("apps", "statefulsets"),
        }
    }

    /// The catalog platform admins keep, or the starter one until they save theirs.
    pub fn catalog(&self) -> Catalog {
        self.index.catalog().unwrap_or_else(Catalog::starter)
    }

    /// Where the notebook's server answers: its pod's IP from the index
    /// (or, on the local stack, the address map).
    pub fn upstream(&self, team: &str, name: &str) -> Option<String> {
        if let Some(path) = &self.config.upstream_map_file
            && let Ok(text) = std::fs::read_to_string(path)
            && let Ok(map) = serde_json::from_str::<std::collections::BTreeMap<String, String>>(&text)
            && let Some(address) = map.get(&format!("{team}/{name}"))
        {
            return Some(address.clone());
        }
        let ip = self.index.pod_ip(team, name)?;
        Some(format!("http://{}", std::net::SocketAddr::new(ip, manifest::JUPYTER_PORT as u16)))
    }

    /// The notebook's Jupyter token: derived, so no replica stores it.
    pub fn jupyter_token(&self, team: &str, name: &str) -> String {
        crate::platform::tokens::derive(&self.token_key, &format!("jupyter-token:{team}/{name}"))
    }
}

/// Whether `kubeflow.org/v1` serves `notebooks` (discovery needs no permission).
pub async fn kubeflow_installed(client: &kube::Client) -> bool {
    match client.list_api_group_resources("kubeflow.org/v1").await {
        Ok(list) => list.resources.iter().any(|r| r.name == "notebooks"),
        Err(_) => false,
    }
}

/// Checks the form, builds the manifests with the catalog and the chosen
/// backend, and dry-runs them as the person: what create would apply.
pub async fn prepare(service: &NotebookService, client: &UserClient, form: &NotebookForm) -> AppResult<Plan> {
    let catalog = service.catalog();
    check_form(form, &catalog).map_err(|p| AppError::Invalid(p.join(" ")))?;
    check_connections(client, form).await?;
    let (Some(image), Some(size)) = (catalog.image(&form.image), catalog.size(&form.size)) else {
        return Err(AppError::Invalid("Choose an image and a size from the catalog.".into()));
    };
    let tracking = service.tracking_base.as_deref();
    if tracking.is_some()
        && let Some((key, _)) = form
            .env
            .iter()
            .find(|(k, _)| matches!(k.as_str(), "MLFLOW_TRACKING_URI" | "MLFLOW_TRACKING_TOKEN" | "MLFLOW_WORKSPACE"))
    {
        return Err(AppError::Invalid(format!(
            "{key} is set by the portal: notebooks log to the team's experiments through it. Remove it from the variables."
        )));
    }
    let token = service.jupyter_token(&form.team, &form.name);
    let plan = manifest::plan(form, image, size, client.username(), service.backend(), &token, tracking);
    dry_run(client, &plan, form).await?;
    Ok(plan)
}

/// The GPUs a notebook may ask for at most.
pub const MAX_GPUS: u32 = 16;

/// Checks the form against the catalog and the rules a person can fix.
pub fn check_form(form: &NotebookForm, catalog: &Catalog) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if let Err(e) = check_name(&form.name) {
        problems.push(format!("Name: {e}"));
    }
    match catalog.image(&form.image) {
        Some(i) if i.enabled => {
            if form.gpus > 0 && !i.gpu {
                problems.push(format!("Image: “{}” is not built for GPUs; choose a GPU image or no GPUs.", i.display_name));
            }
        }
        _ => problems.push("Image: choose an image from the catalog.".into()),
    }
    if !catalog.size(&form.size).is_some_and(|s| s.enabled) {
        problems.push("Size: choose a size from the catalog.".into());
    }
    if form.gpus > MAX_GPUS {
        problems.push(format!("GPUs: at most {MAX_GPUS}."));
    }
    match &form.volume {
        VolumeChoice::New { size, storage_class } => {
            if !crate::quantity::parse(size).is_some_and(|b| b >= 1024.0 * 1024.0 * 1024.0) || !size.ends_with("Gi") && !size.ends_with("Ti") {
                problems.push(format!("Volume: “{size}” is not a size like 10Gi (at least 1Gi)."));
            }
            if let Some(class) = storage_class
                && check_name(class).is_err()
                && !class.contains('.')
            {
                problems.push(format!("Volume: “{class}” is not a storage class name."));
            }
        }
        VolumeChoice::Existing { claim } if claim.is_empty() => problems.push("Volume: choose one of the team's volumes.".into()),
        _ => {}
    }
    let mut seen = std::collections::HashSet::new();
    for (k, _) in &form.env {
        if let Err(e) = check_env_name(k) {
            problems.push(format!("Environment: {e}"));
        } else if !seen.insert(k) {
            problems.push(format!("Environment: “{k}” is set twice."));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// The form's data connections must be the team's labelled Secrets, read as the person.
pub async fn check_connections(client: &UserClient, form: &NotebookForm) -> AppResult<()> {
    if form.connections.is_empty() {
        return Ok(());
    }
    let known = connections(client, &form.team).await?;
    match form.connections.iter().find(|c| !known.contains(c)) {
        Some(missing) => Err(AppError::Invalid(format!("Data connection “{missing}” is not one of the team's data connections."))),
        None => Ok(()),
    }
}

/// Names of the team's data connections.
pub async fn connections(client: &UserClient, team: &str) -> AppResult<Vec<String>> {
    Ok(super::connections::server::list(client, team).await?.into_iter().map(|c| c.name).collect())
}

/// Volumes of the team a notebook could use.
pub async fn claims(client: &UserClient, team: &str) -> AppResult<Vec<String>> {
    let list = Api::<PersistentVolumeClaim>::namespaced(client.client(), team)
        .list_metadata(&ListParams::default())
        .await
        .map_err(|e| explain(e, "this team's volumes"))?;
    Ok(list.items.into_iter().filter_map(|s| s.metadata.name).collect())
}

/// The pod the notebook's controller will make: dry-running it shows quota
/// and LimitRange refusals before anything exists.
fn first_pod(plan: &Plan, team: &str, name: &str) -> Option<Pod> {
    let template: PodTemplateSpec = match &plan.workload {
        Workload::StatefulSet(s) => s.spec.as_ref()?.template.clone(),
        Workload::Notebook(n) => PodTemplateSpec { metadata: None, spec: Some(n.spec.template.spec.clone()) },
    };
    Some(Pod {
        metadata: ObjectMeta {
            name: Some(format!("{name}-0")),
            namespace: Some(team.to_string()),
            labels: template.metadata.and_then(|m| m.labels),
            ..Default::default()
        },
        // Its own account does not exist yet during the dry run; quota and
        // limits do not depend on it.
        spec: template.spec.map(|spec| PodSpec {
            service_account_name: None,
            ..spec
        }),
        ..Default::default()
    })
}

/// One object of a plan, created or removed as the person.
enum Step<'a> {
    Token(&'a Secret),
    Account(&'a ServiceAccount),
    TrackingToken(&'a Secret),
    Claim(&'a PersistentVolumeClaim),
    Service(&'a Service),
    Pod(Pod),
    Set(&'a StatefulSet),
    Notebook(&'a Notebook),
    /// Tests only: refused, as the API server might refuse any object.
    #[cfg(any(test, feature = "test-support"))]
    Refused,
}

impl Step<'_> {
    fn what(&self) -> &'static str {
        match self {
            Step::Token(_) => "the notebook's token",
            Step::Account(_) => "the notebook's service account",
            Step::TrackingToken(_) => "the notebook's MLflow token",
            Step::Claim(_) => "the workspace volume",
            Step::Service(_) => "the notebook's service",
            Step::Pod(_) => "the notebook's pod",
            Step::Set(_) | Step::Notebook(_) => "the notebook",
            #[cfg(any(test, feature = "test-support"))]
            Step::Refused => "an object refused by the test",
        }
    }

    async fn create(&self, client: &UserClient, team: &str, dry_run: bool) -> AppResult<()> {
        let pp = PostParams { dry_run, field_manager: Some("atrium".into()) };
        let c = client.client();
        let r = match self {
            Step::Token(o) | Step::TrackingToken(o) => Api::<Secret>::namespaced(c, team).create(&pp, o).await.map(|_| ()),
            Step::Account(o) => Api::<ServiceAccount>::namespaced(c, team).create(&pp, o).await.map(|_| ()),
            Step::Claim(o) => Api::<PersistentVolumeClaim>::namespaced(c, team).create(&pp, o).await.map(|_| ()),
            Step::Service(o) => Api::<Service>::namespaced(c, team).create(&pp, o).await.map(|_| ()),
            Step::Pod(o) => Api::<Pod>::namespaced(c, team).create(&pp, o).await.map(|_| ()),
            Step::Set(o) => Api::<StatefulSet>::namespaced(c, team).create(&pp, o).await.map(|_| ()),
            Step::Notebook(o) => Api::<Notebook>::namespaced(c, team).create(&pp, o).await.map(|_| ()),
            #[cfg(any(test, feature = "test-support"))]
            Step::Refused => return Err(AppError::internal("injected failure (test)")),
        };
        r.map_err(|e| explain(e, self.what()))
    }

    async fn remove(&self, client: &UserClient, team: &str, name: &str) -> AppResult<()> {
        let c = client.client();
        let dp = DeleteParams::background();
        let r = match self {
            Step::Token(_) => Api::<Secret>::namespaced(c, team)
                .delete(&manifest::token_secret_name(name), &dp)
                .await
                .map(|_| ()),
            Step::Account(_) => Api::<ServiceAccount>::namespaced(c, team)
                .delete(&manifest::account_name(name), &dp)
                .await
                .map(|_| ()),
            Step::TrackingToken(_) => Api::<Secret>::namespaced(c, team)
                .delete(&manifest::tracking_secret_name(name), &dp)
                .await
                .map(|_| ()),
            Step::Claim(_) => Api::<PersistentVolumeClaim>::namespaced(c, team)
                .delete(&manifest::claim_name(name), &dp)
                .await
                .map(|_| ()),
            Step::Service(_) => Api::<Service>::namespaced(c, team).delete(name, &dp).await.map(|_| ()),
            Step::Pod(_) => Ok(()),
            Step::Set(_) => Api::<StatefulSet>::namespaced(c, team).delete(name, &dp).await.map(|_| ()),
            Step::Notebook(_) => Api::<Notebook>::namespaced(c, team).delete(name, &dp).await.map(|_| ()),
            #[cfg(any(test, feature = "test-support"))]
            Step::Refused => Ok(()),
        };
        r.map_err(|e| explain(e, self.what()))
    }
}

fn steps<'a>(plan: &'a Plan, team: &str, name: &str, with_pod: bool) -> Vec<Step<'a>> {
    let mut steps = vec![Step::Token(&plan.token)];
    if let Some(t) = &plan.tracking {
        // The account first: the token controller drops a token Secret whose
        // account does not exist.
        steps.push(Step::Account(&t.account));
        steps.push(Step::TrackingToken(&t.token));
    }
    if let Some(c) = &plan.claim {
        steps.push(Step::Claim(c));
    }
    if let Some(s) = &plan.service {
        steps.push(Step::Service(s));
    }
    match &plan.workload {
        Workload::StatefulSet(s) => steps.push(Step::Set(s)),
        Workload::Notebook(n) => steps.push(Step::Notebook(n)),
    }
    if with_pod && let Some(pod) = first_pod(plan, team, name) {
        steps.push(Step::Pod(pod));
    }
    steps
}

/// Server-side dry-run of every object, and of the first pod: the first
/// refusal is returned as a sentence, and nothing is created.
pub async fn dry_run(client: &UserClient, plan: &Plan, form: &NotebookForm) -> AppResult<()> {
    for step in steps(plan, &form.team, &form.name, true) {
        step.create(client, &form.team, true).await?;
    }
    Ok(())
}

/// Creates the objects in order; if one is refused, removes those made
/// before it and returns the refusal.
pub async fn create(client: &UserClient, plan: &Plan, form: &NotebookForm) -> AppResult<()> {
    make_all(client, form, &steps(plan, &form.team, &form.name, false)).await
}

/// As [`create`], with the object after the first `made` refused (tests
/// only): the undo runs as it does after a real refusal.
#[cfg(any(test, feature = "test-support"))]
pub async fn create_refused_after(client: &UserClient, plan: &Plan, form: &NotebookForm, made: usize) -> AppResult<()> {
    let mut steps = steps(plan, &form.team, &form.name, false);
    steps.truncate(made);
    steps.push(Step::Refused);
    make_all(client, form, &steps).await
}

/// Makes `steps` in order; after a refusal, removes those made, newest first.
async fn make_all(client: &UserClient, form: &NotebookForm, steps: &[Step<'_>]) -> AppResult<()> {
    for (done, step) in steps.iter().enumerate() {
        if let Err(e) = step.create(client, &form.team, false).await {
            for made in steps[..done].iter().rev() {
                if let Err(undo) = made.remove(client, &form.team, &form.name).await {
                    tracing::error!(error = %undo, object = made.what(), "could not undo part of a notebook create");
                }
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Stops (frees compute, keeps the volume) or starts a notebook.
pub async fn set_running(client: &kube::Client, backend: Backend, team: &str, name: &str, running: bool) -> AppResult<()> {
    let pp = PatchParams::default();
    match backend {
        Backend::StatefulSet => {
            let patch = serde_json::json!({ "spec": { "replicas": if running { 1 } else { 0 } } });
            Api::<StatefulSet>::namespaced(client.clone(), team)
                .patch(name, &pp, &Patch::Merge(&patch))
                .await
                .map_err(|e| explain(e, &format!("notebook “{name}”")))?;
        }
        Backend::Kubeflow => {
            let value = (!running).then(|| {
                time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            });
            let patch = serde_json::json!({ "metadata": { "annotations": { STOPPED_ANNOTATION: value } } });
            Api::<Notebook>::namespaced(client.clone(), team)
                .patch(name, &pp, &Patch::Merge(&patch))
                .await
                .map_err(|e| explain(e, &format!("notebook “{name}”")))?;
        }
    }
    Ok(())
}

/// What deleting removes: the notebook, its service, and its own workspace
/// volume unless kept. A volume it did not create (an existing one) stays.
pub async fn delete(client: &UserClient, backend: Backend, team: &str, name: &str, keep_volume: bool) -> AppResult<()> {
    let dp = DeleteParams::background();
    let what = format!("notebook “{name}”");
    let c = client.client();
    let own_claim = own_claim(client, team, name).await?;
    match backend {
        Backend::StatefulSet => {
            Api::<StatefulSet>::namespaced(c.clone(), team).delete(name, &dp).await.map_err(|e| explain(e, &what))?;
            match Api::<Service>::namespaced(c.clone(), team).delete(name, &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(explain(e, &what)),
            }
        }
        Backend::Kubeflow => {
            Api::<Notebook>::namespaced(c.clone(), team).delete(name, &dp).await.map_err(|e| explain(e, &what))?;
        }
    }
    // The notebook's tokens go with it (the MLflow one is revoked so).
    for secret in [manifest::token_secret_name(name), manifest::tracking_secret_name(name)] {
        match Api::<Secret>::namespaced(c.clone(), team).delete(&secret, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(explain(e, &what)),
        }
    }
    match Api::<ServiceAccount>::namespaced(c.clone(), team)
        .delete(&manifest::account_name(name), &dp)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(explain(e, &what)),
    }
    if !keep_volume && let Some(claim) = own_claim {
        Api::<PersistentVolumeClaim>::namespaced(c, team)
            .delete(&claim, &dp)
            .await
            .map_err(|e| explain(e, &format!("the volume “{claim}”")))?;
    }
    Ok(())
}

/// The workspace volume made for this notebook (labelled with its name), if any.
pub async fn own_claim(client: &UserClient, team: &str, name: &str) -> AppResult<Option<String>> {
    let claim = manifest::claim_name(name);
    let found = Api::<PersistentVolumeClaim>::namespaced(client.client(), team)
        .get_metadata_opt(&claim)
        .await
        .map_err(|e| explain(e, "the notebook's volume"))?;
    Ok(found.filter(|c| c.metadata.labels.as_ref().and_then(|l| l.get(NOTEBOOK_LABEL)).is_some_and(|n| n == name)).map(|_| claim))
}

/// Reads the notebook as the person (so Kubernetes decides who may see it).
pub async fn check_visible(client: &UserClient, backend: Backend, team: &str, name: &str) -> AppResult<()> {
    let what = format!("notebook “{name}” in team “{team}”");
    match backend {
        Backend::StatefulSet => Api::<StatefulSet>::namespaced(client.client(), team).get_metadata(name).await.map(|_| ()),
        Backend::Kubeflow => Api::<Notebook>::namespaced(client.client(), team).get_metadata(name).await.map(|_| ()),
    }
    .map_err(|e| explain(e, &what))
}

/// Recent events about the notebook, its pod and its volume, newest first.
pub async fn events(client: &UserClient, team: &str, name: &str) -> AppResult<Vec<Event>> {
    let api = Api::<Event>::namespaced(client.client(), team);
    let pod = format!("{name}-0");
    let claim = manifest::claim_name(name);
    let mut all = Vec::new();
    for object in [name, pod.as_str(), claim.as_str()] {
        let lp = ListParams::default().fields(&format!("involvedObject.name={object}"));
        all.extend(api.list(&lp).await.map_err(|e| explain(e, "the notebook's events"))?.items);
    }
    all.sort_by_key(|e| std::cmp::Reverse(e.last_timestamp.as_ref().map(|t| t.0).or(e.event_time.as_ref().map(|t| t.0))));
    Ok(all)
}

/// The last lines the notebook server wrote (for a crashing notebook).
pub async fn last_log_lines(client: &UserClient, team: &str, name: &str) -> Option<Vec<String>> {
    let lp = LogParams { tail_lines: Some(30), previous: true, ..Default::default() };
    let api = Api::<Pod>::namespaced(client.client(), team);
    let pod = format!("{name}-0");
    let text = match api.logs(&pod, &lp).await {
        Ok(t) => t,
        Err(_) => api.logs(&pod, &LogParams { tail_lines: Some(30), ..Default::default() }).await.ok()?,
    };
    Some(text.lines().map(str::to_string).collect())
}

/// Saves the catalog as the person (platform admins may; others are refused by Kubernetes).
pub async fn save_catalog(client: &UserClient, namespace: &str, catalog: &Catalog) -> AppResult<()> {
    let problems = catalog.problems();
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems.join(" ")));
    }
    let json = serde_json::to_string_pretty(catalog).map_err(AppError::internal)?;
    let cm = ConfigMap {
        metadata: ObjectMeta { name: Some(CATALOG_CONFIGMAP.into()), namespace: Some(namespace.into()), ..Default::default() },
        data: Some([(CATALOG_KEY.to_string(), json)].into()),
        ..Default::default()
    };
    Api::<ConfigMap>::namespaced(client.client(), namespace)
        .patch(CATALOG_CONFIGMAP, &PatchParams::apply("atrium").force(), &Patch::Apply(&cm))
        .await
        .map_err(|e| explain(e, "the notebook catalog"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> NotebookForm {
        NotebookForm {
            team: "team-a".into(),
            name: "churn".into(),
            image: "minimal".into(),
            size: "small".into(),
            gpus: 0,
            volume: VolumeChoice::New { size: "10Gi".into(), storage_class: None },
            env: vec![],
            connections: vec![],
        }
    }

    #[test]
    fn a_good_form_passes() {
        assert_eq!(check_form(&form(), &Catalog::starter()), Ok(()));
    }

    #[test]
    fn each_problem_is_named() {
        let mut f = form();
        f.name = "Churn".into();
        f.gpus = 2;
        f.volume = VolumeChoice::New { size: "lots".into(), storage_class: None };
        f.env = vec![("A".into(), "1".into()), ("A".into(), "2".into())];
        let p = check_form(&f, &Catalog::starter()).unwrap_err();
        assert_eq!(
            p,
            vec![
                "Name: Use lowercase letters only.".to_string(),
                "Image: “Minimal Python” is not built for GPUs; choose a GPU image or no GPUs.".into(),
                "Volume: “lots” is not a size like 10Gi (at least 1Gi).".into(),
                "Environment: “A” is set twice.".into(),
            ]
        );
    }

    #[test]
    fn disabled_catalog_entries_are_refused() {
        let mut c = Catalog::starter();
        c.sizes[0].enabled = false;
        assert_eq!(check_form(&form(), &c).unwrap_err(), vec!["Size: choose a size from the catalog.".to_string()]);
    }
}
