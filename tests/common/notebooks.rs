//! Notebook test support: a team with a data scientist, the portal's live
//! notebook index, forms, and waiting for what the index shows.

use super::{as_user, cluster_admin, unique};
use app::admin::server as admin;
use app::config::NotebooksConfig;
use app::identity::Persona;
use app::notebooks::model::{NotebookForm, NotebookRow, Phase, VolumeChoice};
use app::notebooks::ops::{self, NotebookService};
use app::platform::kube::UserClient;
use app::teams::members::SubjectKind;
use std::time::Duration;

/// Deletes a namespace when dropped (a team a test made another way).
pub struct Doomed(pub String);

impl Drop for Doomed {
    fn drop(&mut self) {
        let _ = std::process::Command::new(super::stack("STACK_BIN"))
            .args(["kubectl", &format!("--kubeconfig={}", super::stack("STACK_ADMIN_KUBECONFIG"))])
            .args(["delete", "namespace", &self.0, "--ignore-not-found", "--wait=false"])
            .output();
    }
}

/// A fresh team: paula made it with tom as admin; alice is its data scientist.
pub struct Team {
    pub name: String,
    pub alice: UserClient,
}

/// A failed test still removes its team, so other tests see the cluster they expect.
impl Drop for Team {
    fn drop(&mut self) {
        let _ = std::process::Command::new(super::stack("STACK_BIN"))
            .args(["kubectl", &format!("--kubeconfig={}", super::stack("STACK_ADMIN_KUBECONFIG"))])
            .args(["delete", "namespace", &self.name, "--ignore-not-found", "--wait=false"])
            .output();
    }
}

impl Team {
    pub async fn new(prefix: &str) -> Team {
        let name = unique(prefix);
        let paula = as_user("paula").await;
        admin::create_team(&paula, &name, "Notebook tests", "tom").await.expect("platform admin creates a team");
        let tom = as_user("tom").await;
        app::teams::members_server::set_personas(&tom, &name, SubjectKind::User, "alice", &[Persona::DataScientist])
            .await
            .expect("team admin adds alice");
        let alice = as_user("alice").await;
        // The API server's authorizer learns of a new RoleBinding from its
        // watch, a moment after it is made: wait for it, not for luck.
        for _ in 0..100 {
            if app::platform::access::may(&alice, "", "secrets", "create", Some(&name)).await.unwrap_or(false) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Team { name, alice }
    }

    /// Retires the team as its platform admin would.
    pub async fn retire(self) {
        let paula = as_user("paula").await;
        admin::retire_team(&paula, &self.name, &self.name).await.expect("team retired");
    }

    pub fn form(&self, name: &str) -> NotebookForm {
        NotebookForm {
            team: self.name.clone(),
            name: name.into(),
            image: "minimal".into(),
            size: "small".into(),
            gpus: 0,
            volume: VolumeChoice::New { size: "1Gi".into(), storage_class: None },
            env: vec![("PROJECT".into(), "churn".into())],
            connections: vec![],
        }
    }
}

/// The portal's notebook service on the local stack, with `backend` forced.
pub async fn service(backend: &str, tweak: impl FnOnce(&mut NotebooksConfig)) -> NotebookService {
    let db = tempfile::tempdir().unwrap();
    let cfg = super::config(0, &db);
    let gateway = app::platform::kube::KubeGateway::new(&cfg).await.unwrap();
    let mut nb = cfg.notebooks.clone();
    nb.backend = backend.into();
    tweak(&mut nb);
    let service = NotebookService::start(nb, gateway.portal_client().unwrap(), app::platform::tokens::random_token()).await;
    service.index.wait_synced(Duration::from_secs(10)).await;
    service
}

/// Checks, plans, dry-runs and creates as the portal's create action does.
pub async fn create(service: &NotebookService, client: &UserClient, form: &NotebookForm) -> Result<(), app::error::AppError> {
    let plan = ops::prepare(service, client, form).await?;
    ops::create(client, &plan, form).await
}

/// Waits until the index shows the notebook in `phase` (or gone, for None).
pub async fn wait_for(service: &NotebookService, team: &str, name: &str, phase: Option<Phase>) -> Option<NotebookRow> {
    let mut last = None;
    for _ in 0..300 {
        let row = service.index.row(team, name);
        if row.as_ref().map(|r| r.phase) == phase {
            return row;
        }
        last = row;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{team}/{name} never reached {phase:?}; last seen {last:?}");
}

/// Raises a team's GPU ceiling and quota (as the cluster admin would).
pub async fn allow_gpus(team: &str, gpus: u32) {
    use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
    use kube::api::{Api, Patch, PatchParams};
    let admin = cluster_admin().await;
    let n = gpus.to_string();
    let ns = serde_json::json!({"metadata": {"annotations": {"ceiling.atrium.io/requests.nvidia.com_gpu": n}}});
    Api::<Namespace>::all(admin.clone()).patch(team, &PatchParams::default(), &Patch::Merge(&ns)).await.unwrap();
    let q = serde_json::json!({"spec": {"hard": {"requests.nvidia.com/gpu": n}}});
    for _ in 0..30 {
        // Admission reads namespaces from a cache: the new ceiling can lag.
        match Api::<ResourceQuota>::namespaced(admin.clone(), team).patch("atrium-quota", &PatchParams::default(), &Patch::Merge(&q)).await {
            Ok(_) => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("could not raise the GPU quota of {team}");
}

/// A real JupyterLab (`scripts/jupyter.sh`) serving one notebook's path, as
/// its pod would; stopped when dropped.
pub struct Jupyter(std::process::Child);

impl Drop for Jupyter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts JupyterLab for `team/name` with the notebook's `token`; returns it
/// and its address, once it answers.
pub async fn jupyter(team: &str, name: &str, token: &str) -> (Jupyter, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/jupyter.sh");
    let child = std::process::Command::new("bash")
        .args([script, "serve", team, name, &port.to_string()])
        .env("JUPYTER_TOKEN", token)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("JupyterLab starts");
    let guard = Jupyter(child);
    let address = format!("http://127.0.0.1:{port}");
    let status = format!("{address}/notebook/{team}/{name}/api/status");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        let res = client.get(&status).header("authorization", format!("token {token}")).send().await;
        if res.is_ok_and(|r| r.status().is_success()) {
            return (guard, address);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("JupyterLab did not answer at {status}");
}

/// The notebook's Jupyter token as the kubelet would hand it to the pod.
pub async fn token_of(team: &str, name: &str) -> String {
    use k8s_openapi::api::core::v1::Secret;
    let secret = kube::Api::<Secret>::namespaced(cluster_admin().await, team).get(&format!("{name}-jupyter")).await.unwrap();
    let data = secret.data.expect("token secret data");
    String::from_utf8(data["token"].0.clone()).unwrap()
}

/// Starts a Python kernel through a notebook's origin (`lab` is its
/// `/notebook/<team>/<name>` URL there); returns the kernel's id.
pub async fn start_kernel(client: &reqwest::Client, lab: &str, origin: &str) -> String {
    let kernel: serde_json::Value = client
        .post(format!("{lab}/api/kernels"))
        .header("origin", origin)
        .json(&serde_json::json!({"name": "python3"}))
        .send()
        .await
        .expect("JupyterLab answers")
        .json()
        .await
        .expect("a kernel as JSON");
    kernel["id"].as_str().expect("a kernel id").to_string()
}

/// A running notebook `name` of `team`, created as alice and served by a
/// real JupyterLab holding the notebook's token (as the pod would get it);
/// `map` (the portal's upstream map) learns its address.
pub async fn served(service: &NotebookService, team: &Team, name: &str, map: &std::path::Path) -> (Jupyter, String) {
    service.index.wait_synced(Duration::from_secs(10)).await;
    create(service, &team.alice, &team.form(name)).await.unwrap();
    wait_for(service, &team.name, name, Some(Phase::Running)).await;
    let token = token_of(&team.name, name).await;
    let (lab, address) = jupyter(&team.name, name, &token).await;
    std::fs::write(map, serde_json::json!({ format!("{}/{name}", team.name): address }).to_string()).unwrap();
    (lab, address)
}
