//! A team's models page at scale, side by side with MLflow's own REST API
//! in the same run. A bench team (`mdbench`, maria its ML engineer) whose
//! MLflow workspace holds ATRIUM_BENCH_MODELS (default 500) registered
//! models of ATRIUM_BENCH_VERSIONS (default 10) versions each (each model's
//! from a run with three metrics, which the page shows), seeded once
//! through MLflow's REST API and kept for later runs, and 20 of them
//! deployed as InferenceServices (KServe's controller reconciles them; kwok
//! runs their pods). Then, signed in as maria, ATRIUM_BENCH_VIEWS (default
//! 100) sequential views of `/models/mdbench`, each beside what that page
//! needs sent straight to MLflow (the registry search, the team's
//! experiments, the newest versions' runs by id) and the InferenceService
//! list sent straight to the API server as maria. Prints p50 and p99 of
//! each, the ratio, and MLflow and Kubernetes calls per view. Removes the
//! namespace it made (the MLflow workspace stays, seeded). Run through
//! `bench/run.sh` (ATRIUM_BENCHES=models).

#[path = "../tests/common/mod.rs"]
mod common;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, ObjectMeta, PostParams};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const TEAM: &str = "mdbench";
const DEPLOYED: usize = 20;

fn env(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Mlflow {
    base: String,
    http: reqwest::Client,
}

impl Mlflow {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Result<reqwest::Response> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).header("X-MLFLOW-WORKSPACE", TEAM);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let res = self.send(reqwest::Method::POST, path, Some(body)).await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.text().await.unwrap());
        res.json().await.unwrap()
    }
}

#[tokio::main]
async fn main() {
    let base = std::env::var("ATRIUM_BENCH_URL").unwrap_or_else(|_| "http://localhost:3101".into());
    let (models, versions, views) = (env("ATRIUM_BENCH_MODELS", 500), env("ATRIUM_BENCH_VERSIONS", 10), env("ATRIUM_BENCH_VIEWS", 100));
    let mlflow = Mlflow { base: common::stack("ATRIUM_MLFLOW__URL"), http: reqwest::Client::builder().tcp_nodelay(true).build().unwrap() };
    seed(&mlflow, models, versions).await;
    let admin = common::cluster_admin().await;
    let maria = common::as_user("maria").await.subject_name("maria");
    team(&admin, &maria).await;
    let t = Instant::now();
    deploy(&admin).await;
    println!("{DEPLOYED} InferenceServices made and reconciled by KServe in {:.1} s", t.elapsed().as_secs_f64());

    let (client, _jar) = common::browser();
    common::sign_in(&client, &base, "maria", "/models").await;
    let path = format!("/models/{TEAM}");
    let html = client.get(format!("{base}{path}")).send().await.unwrap().text().await.unwrap();
    let rows = html.matches("data-model=\"").count();
    let served = html.matches("-bench (v").count();
    println!("{path}: {rows} models listed, {served} with their deployment; page {} KB\n", html.len() / 1024);
    assert_eq!(rows, models, "every model listed");

    let portal = || {
        let (client, url) = (client.clone(), format!("{base}{path}"));
        async move {
            match client.get(url).send().await {
                Ok(res) => res.status() == 200 && res.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    };
    // What the page needs, straight from MLflow: the registry search, all
    // pages of it (1,000 models a page, MLflow's ceiling), then the newest
    // versions' runs by id across the team's experiments.
    let direct = || async {
        let json = |res: reqwest::Result<reqwest::Response>| async move {
            match res {
                Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
                _ => None,
            }
        };
        let mut token: Option<String> = None;
        let mut runs: Vec<String> = Vec::new();
        loop {
            let mut p = "/api/2.0/mlflow/registered-models/search?max_results=1000".to_string();
            if let Some(t) = &token {
                p.push_str(&format!("&page_token={t}"));
            }
            let Some(v) = json(mlflow.send(reqwest::Method::GET, &p, None).await).await else { return false };
            for m in v["registered_models"].as_array().into_iter().flatten() {
                let newest = m["latest_versions"].as_array().into_iter().flatten().max_by_key(|x| x["version"].as_str().and_then(|n| n.parse::<u64>().ok()));
                runs.extend(newest.and_then(|x| x["run_id"].as_str()).map(String::from));
            }
            token = v["next_page_token"].as_str().filter(|t| !t.is_empty()).map(String::from);
            if token.is_none() {
                break;
            }
        }
        let body = json!({ "max_results": 1000, "view_type": "ACTIVE_ONLY" });
        let Some(exps) = json(mlflow.send(reqwest::Method::POST, "/api/2.0/mlflow/experiments/search", Some(body)).await).await else { return false };
        let ids: Vec<Value> = exps["experiments"].as_array().into_iter().flatten().map(|e| e["experiment_id"].clone()).collect();
        for chunk in runs.chunks(100) {
            let list = chunk.iter().map(|r| format!("'{r}'")).collect::<Vec<_>>().join(", ");
            let body = json!({ "experiment_ids": ids, "filter": format!("attributes.run_id IN ({list})"), "max_results": chunk.len() });
            if json(mlflow.send(reqwest::Method::POST, "/api/2.0/mlflow/runs/search", Some(body)).await).await.is_none() {
                return false;
            }
        }
        true
    };
    let as_maria = common::as_user("maria").await.client();
    let isvcs: Api<DynamicObject> = Api::namespaced_with(as_maria, TEAM, &app::models::serving::api_resource());
    let kube_direct = || async { isvcs.list(&ListParams::default()).await.is_ok() };

    // One of each first: connections open, caches as a person meets them after a first view.
    portal().await;
    direct().await;
    kube_direct().await;
    let (kube_before, mlflow_before) = (common::kube_calls(&base).await, mlflow_calls(&base).await);
    let (mut p, mut d, mut k) = (Vec::new(), Vec::new(), Vec::new());
    let (mut pf, mut df) = (0, 0);
    for _ in 0..views {
        let t = Instant::now();
        pf += usize::from(!portal().await);
        p.push(t.elapsed());
        let t = Instant::now();
        df += usize::from(!direct().await);
        d.push(t.elapsed());
        let t = Instant::now();
        df += usize::from(!kube_direct().await);
        k.push(t.elapsed());
    }
    let kube = (common::kube_calls(&base).await - kube_before) as f64 / views as f64;
    let ml = (mlflow_calls(&base).await - mlflow_before) as f64 / views as f64;
    for v in [&mut p, &mut d, &mut k] {
        v.sort();
    }
    let ms = |v: &[Duration], q: f64| v[((v.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
    println!("{models} models × {versions} versions, {DEPLOYED} deployed; {views} sequential views each, as maria");
    println!("{:<58} {:>8} {:>8}", "", "p50 ms", "p99 ms");
    println!("{:<58} {:>8.1} {:>8.1}", format!("portal {path} (whole page)"), ms(&p, 0.5), ms(&p, 0.99));
    println!("{:<58} {:>8.1} {:>8.1}", "MLflow straight: registry search + runs of newest versions", ms(&d, 0.5), ms(&d, 0.99));
    println!("{:<58} {:>8.1} {:>8.1}", "API server: the team's InferenceServices, as maria", ms(&k, 0.5), ms(&k, 0.99));
    println!(
        "portal / (MLflow + API server) at p50: {:.2}x; per view the portal made {ml:.2} MLflow and {kube:.2} Kubernetes calls; failed {pf} (portal) / {df} (straight)",
        ms(&p, 0.5) / (ms(&d, 0.5) + ms(&k, 0.5))
    );
    let _ = Api::<Namespace>::all(admin.clone()).delete(TEAM, &DeleteParams::default()).await;
}

/// The bench models (made once, kept): `bench-NNN`, each with `versions`
/// versions whose files are named in the object store.
async fn seed(m: &Mlflow, models: usize, versions: usize) {
    if m.http.get(format!("{}/api/3.0/mlflow/workspaces/{TEAM}", m.base)).send().await.unwrap().status() == 404 {
        m.http.post(format!("{}/api/3.0/mlflow/workspaces", m.base)).json(&json!({ "name": TEAM })).send().await.unwrap();
    }
    let last = format!("bench-{:03}", models - 1);
    let got = m.send(reqwest::Method::GET, &format!("/api/2.0/mlflow/registered-models/get?name={last}"), None).await.unwrap();
    let got: Value = if got.status().is_success() { got.json().await.unwrap() } else { json!(null) };
    let have = got["registered_model"]["latest_versions"][0]["version"].as_str().and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    if have >= versions {
        return;
    }
    let t = Instant::now();
    let experiment = m.send(reqwest::Method::GET, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=bench-models", None).await.unwrap();
    let experiment: Value = if experiment.status().is_success() {
        experiment.json::<Value>().await.unwrap()["experiment"]["experiment_id"].clone()
    } else {
        m.post("/api/2.0/mlflow/experiments/create", json!({ "name": "bench-models" })).await["experiment_id"].clone()
    };
    let experiment = &experiment;
    futures::stream::iter(0..models)
        .map(|i| async move {
            let name = format!("bench-{i:03}");
            // The run the versions came from, with the metrics the list shows.
            let run = m.post("/api/2.0/mlflow/runs/create", json!({ "experiment_id": experiment, "run_name": format!("train-{i:03}") })).await;
            let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
            let metrics: Vec<Value> = ["accuracy", "f1", "rmse"].iter().enumerate().map(|(k, key)| json!({ "key": key, "value": ((i * 31 + k * 17) % 1000) as f64 / 1000.0, "timestamp": 1, "step": 0 })).collect();
            m.post("/api/2.0/mlflow/runs/log-batch", json!({ "run_id": run_id, "metrics": metrics })).await;
            let found = m.send(reqwest::Method::GET, &format!("/api/2.0/mlflow/registered-models/get?name={name}"), None).await.unwrap();
            if !found.status().is_success() {
                m.post("/api/2.0/mlflow/registered-models/create", json!({ "name": name, "description": format!("bench model {i}") })).await;
            }
            let search = m
                .send(reqwest::Method::GET, &format!("/api/2.0/mlflow/model-versions/search?filter=name%3D%27{name}%27&max_results=100"), None)
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap();
            let made = search["model_versions"].as_array().map_or(0, Vec::len);
            for v in made..versions {
                m.post(
                    "/api/2.0/mlflow/model-versions/create",
                    json!({ "name": name, "source": format!("s3://atrium-mlflow/bench/{name}/{v}"), "run_id": run_id, "description": format!("version {}", v + 1) }),
                )
                .await;
            }
            if i % 3 == 0 {
                m.post("/api/2.0/mlflow/registered-models/alias", json!({ "name": name, "alias": "champion", "version": versions.to_string() })).await;
            }
        })
        .buffer_unordered(8)
        .count()
        .await;
    println!("seeded {models} models × {versions} versions through MLflow's REST API in {:.0} s", t.elapsed().as_secs_f64());
}

async fn team(admin: &kube::Client, maria: &str) {
    common::bench_team(admin, TEAM, maria, "atrium-ml-engineer").await;
    // The data connection model servers download with: KServe's webhook
    // refuses a model server's pod whose Secret is missing.
    let secrets = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(admin.clone(), "team-b");
    let mut connection = secrets.get("object-storage").await.unwrap();
    connection.metadata = ObjectMeta { name: Some("object-storage".into()), annotations: connection.metadata.annotations, labels: connection.metadata.labels, ..Default::default() };
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(admin.clone(), TEAM).create(&PostParams::default(), &connection).await.unwrap();
}

/// Deploys the first [`DEPLOYED`] models' newest versions as the portal
/// would (the same object), and waits until KServe says each is Ready.
async fn deploy(admin: &kube::Client) {
    let isvcs: Api<DynamicObject> = Api::namespaced_with(admin.clone(), TEAM, &app::models::serving::api_resource());
    for i in 0..DEPLOYED {
        let req = app::models::model::DeployRequest {
            team: TEAM.into(),
            model: format!("bench-{i:03}"),
            version: "10".into(),
            name: format!("m{i:03}-bench"),
            cpu: "100m".into(),
            memory: "256Mi".into(),
            gpus: 0,
            min_replicas: 1,
            max_replicas: 1,
            runtime: String::new(),
        };
        let object = app::models::serving::inference_service(&req, &format!("s3://atrium-mlflow/bench/bench-{i:03}/9"), "kserve-mlserver", "object-storage", "maria", 0);
        let object: DynamicObject = serde_json::from_value(object).unwrap();
        isvcs.create(&PostParams::default(), &object).await.unwrap();
    }
    for _ in 0..600 {
        let list = isvcs.list(&ListParams::default()).await.unwrap();
        let ready = list
            .items
            .iter()
            .filter(|o| app::models::serving::deployment(&o.data, Vec::new(), false).state == app::models::model::ServingState::Ready)
            .count();
        if ready == DEPLOYED {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("(not every bench InferenceService became Ready within 5 minutes; measuring anyway)");
}

async fn mlflow_calls(base: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix("atrium_mlflow_calls_total ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}
