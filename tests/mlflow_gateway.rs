//! Notebooks log to their team's MLflow with no set-up, through the portal's
//! gateway, against the real stack: the API server's token controller makes
//! the notebook's ServiceAccount token, the real MLflow Python client logs
//! with the variables the notebook's pod gets, TokenReview and
//! SubjectAccessReview decide, MLflow keeps the run in the team's workspace.

mod common;

use app::notebooks::manifest;
use app::notebooks::ops;
use common::notebooks::{Team, create};
use common::{cluster_admin, unique};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};
use std::time::Duration;

/// The notebook's environment as its pod would get it: plain values, and
/// the Secret's value where the variable comes from one (what a kubelet does).
async fn pod_environment(team: &str, name: &str) -> Vec<(String, String)> {
    let admin = cluster_admin().await;
    let set = Api::<StatefulSet>::namespaced(admin.clone(), team).get(name).await.unwrap();
    let pod = set.spec.unwrap().template.spec.unwrap();
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some(manifest::account_name(name).as_str()),
        "the notebook runs as its own account"
    );
    let mut env = Vec::new();
    for var in pod.containers[0].env.clone().unwrap_or_default() {
        if let Some(v) = var.value {
            env.push((var.name, v));
        } else if let Some(key) = var.value_from.and_then(|f| f.secret_key_ref) {
            let secrets = Api::<Secret>::namespaced(admin.clone(), team);
            let mut value = None;
            // The token controller fills the MLflow token Secret shortly after it is made.
            for _ in 0..100 {
                let s = secrets.get(&key.name).await.unwrap();
                if let Some(v) = s.data.and_then(|d| d.get(&key.key).cloned()) {
                    value = Some(String::from_utf8(v.0).unwrap());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            env.push((var.name, value.unwrap_or_else(|| panic!("{} never got its {}", key.name, key.key))));
        }
    }
    env
}

fn html_attr(html: &str, attr: &str) -> Option<String> {
    let start = html.find(&format!("{attr}=\""))? + attr.len() + 2;
    Some(html[start..].split('"').next()?.to_string())
}

fn var<'a>(env: &'a [(String, String)], name: &str) -> &'a str {
    env.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{name} is not set"))
}

/// Runs `script` with the real MLflow client, in the notebook's environment
/// (off the test's runtime, which also serves the portal).
async fn python(env: &[(String, String)], script: &str) -> Result<String, String> {
    let bin = common::stack("STACK_MLFLOW_BIN");
    let vars: Vec<(String, String)> = env.iter().filter(|(k, _)| k.starts_with("MLFLOW_")).cloned().collect();
    let script = script.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(format!("{bin}/python"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .envs(vars)
            .args(["-c", &script])
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        Ok(text)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// MLflow itself, in a workspace, bypassing the portal (the test's view).
async fn mlflow(workspace: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let base = common::stack("ATRIUM_MLFLOW__URL");
    let http = reqwest::Client::new();
    let req = match body {
        Some(b) => http.post(format!("{base}{path}")).json(&b),
        None => http.get(format!("{base}{path}")),
    };
    let res = req.header("X-MLFLOW-WORKSPACE", workspace).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_notebook_logs_to_its_teams_experiments_with_a_plain_mlflow_client_and_nowhere_else() {
    let _port = common::login_port().await;
    let portal = common::start_portal(common::LOGIN_PORT, |_| {}).await;
    let team = Team::new("it-mlgw").await;
    let other = Team::new("it-mlgw-x").await;
    let nb = &portal.state.notebooks;
    create(nb, &team.alice, &team.form("trainer")).await.expect("alice creates a notebook");

    let env = pod_environment(&team.name, "trainer").await;
    assert_eq!(var(&env, "MLFLOW_TRACKING_URI"), format!("{}/mlflow/{}", portal.base, team.name));
    assert_eq!(var(&env, "MLFLOW_WORKSPACE"), team.name);
    let token = var(&env, "MLFLOW_TRACKING_TOKEN").to_string();

    // A plain training script: nothing but the variables the notebook has.
    let experiment = unique("churn");
    let script = format!(
        "import mlflow, numpy as np\n\
         from sklearn.linear_model import LinearRegression\n\
         mlflow.set_experiment('{experiment}')\n\
         X = np.arange(20, dtype=float).reshape(-1, 2)\n\
         with mlflow.start_run() as run:\n\
         \x20   mlflow.log_param('lr', 0.01)\n\
         \x20   for step in range(5):\n\
         \x20       mlflow.log_metric('loss', 1.0 / (step + 1), step=step)\n\
         \x20   mlflow.sklearn.log_model(LinearRegression().fit(X, X.sum(1)), name='model', input_example=X[:2])\n\
         \x20   mlflow.log_text('hello', 'notes/readme.txt')\n\
         \x20   mlflow.log_text('name,score\\nalpha,0.5\\n\"beta, the second\",0.25\\n', 'notes/scores.csv')\n\
         \x20   mlflow.log_text('x' * 3_000_000, 'data/big.txt')\n\
         \x20   mlflow.log_text('<script>alert(1)</script>', 'notes/evil.html')\n\
         print(run.info.run_id)\n"
    );
    let printed = python(&env, &script).await.expect("the notebook logs a run");
    let run_id = printed.lines().last().unwrap_or_default().to_string();
    assert_eq!(run_id.len(), 32, "a run id: {run_id}");

    // The run is in the team's workspace, with its notebook named; not in the other team's.
    let (status, got) = mlflow(&team.name, &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"), None).await;
    assert_eq!(status, 200, "{got}");
    let tags = got["run"]["data"]["tags"].as_array().unwrap();
    assert!(tags.contains(&json!({ "key": "atrium.notebook", "value": "trainer" })), "{tags:?}");
    assert_eq!(got["run"]["data"]["metrics"][0]["value"], json!(0.2), "the last of five steps");
    let (status, _) = mlflow(&other.name, &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"), None).await;
    assert_eq!(status, 404);
    let exp_id = got["run"]["info"]["experiment_id"].as_str().unwrap().to_string();
    let charted = got["run"]["data"]["metrics"].as_array().unwrap().len() as u64;

    // alice sees the run in the portal: its notebook, the model it logged
    // (with its signature), its artifacts; she downloads one and registers the model.
    let (alice, _) = common::browser();
    common::sign_in(&alice, &portal.base, "alice", "/").await;
    let run_page = format!("{}/experiments/{}/{exp_id}/runs/{run_id}", portal.base, team.name);
    // The run ended through the gateway, so its charts were sampled then:
    // the first view asks MLflow for no history, a zoomed one does.
    let calls = || async {
        let text = reqwest::get(format!("{}/metrics", portal.base)).await.unwrap().text().await.unwrap();
        text.lines().find_map(|l| l.strip_prefix("atrium_mlflow_calls_total ")).and_then(|v| v.trim().parse::<u64>().ok()).unwrap()
    };
    let mut settled = calls().await;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = calls().await;
        if now == settled {
            break;
        }
        settled = now;
    }
    let html = alice.get(&run_page).send().await.unwrap().text().await.unwrap();
    let first = calls().await - settled;
    // Zoomed to the steps up to 3 (one end of the range given): four points.
    let zoomed_page = alice.get(format!("{run_page}?to=3")).send().await.unwrap();
    assert_eq!(zoomed_page.status(), 200);
    let zoomed_html = zoomed_page.text().await.unwrap();
    assert!(zoomed_html.contains("data-values=\"0,1 1,0.5 2,0.333333 3,0.25\""), "the zoomed chart: {}", zoomed_html.len());
    let zoomed = calls().await - settled - first;
    assert_eq!(zoomed - first, charted, "the first view of the finished run fetched no history ({first} calls, zoomed {zoomed})");
    assert!(html.contains("data-values=\"0,1 1,0.5 2,0.333333 3,0.25 4,0.2\""), "the chart carries each point's value for the hover readout");
    assert!(html.contains(&format!("/notebooks/{}/trainer", team.name)), "the run links to its notebook");
    assert!(html.contains("data-testid=\"logged-model\"") && html.contains("sklearn"), "the logged model and its flavors");
    assert!(html.contains("tensor-spec") && html.contains("float64"), "its signature");
    assert!(html.contains("notes/"), "the artifacts' top folder");
    // Larger than the portal's limit for requests: an artifact streams through.
    let html = alice.get(format!("{run_page}?dir=data")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("big.txt") && html.contains("3.0 MB"), "a 3 MB artifact uploaded through the gateway");
    let html = alice.get(format!("{run_page}?dir=notes")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("readme.txt") && html.contains("evil.html"), "a folder's files");
    // A CSV artifact is shown as a table.
    let html = alice.get(format!("{run_page}?dir=notes&file=notes/scores.csv")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-testid=\"artifact-table\""), "a table");
    assert!(html.contains("<th>score</th>") && html.contains(">beta, the second</td>"), "its header and quoted cells");
    // Shown in the page as text, escaped: the script stays words.
    let html = alice.get(format!("{run_page}?dir=notes&file=notes/evil.html")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the file's text, escaped");
    assert!(!html.contains("<script>alert(1)</script>"));
    // A file a notebook uploaded never runs on the portal's origin: a download, sandboxed.
    let file = alice.get(format!("{run_page}/artifact?path=notes/evil.html")).send().await.unwrap();
    assert_eq!(file.status(), 200);
    let header = |n: &str| file.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(header("content-type"), "application/octet-stream");
    assert!(header("content-disposition").starts_with("attachment"), "{}", header("content-disposition"));
    assert_eq!(header("content-security-policy"), "sandbox");
    assert_eq!(file.text().await.unwrap(), "<script>alert(1)</script>");
    let outside = alice.get(format!("{run_page}/artifact?path=../../other")).send().await.unwrap();
    assert_eq!(outside.status(), 422);
    let model_id = html_attr(&alice.get(&run_page).send().await.unwrap().text().await.unwrap(), "data-model").expect("a model id on the page");
    let register = |name: &str| {
        let form = [("team", team.name.as_str()), ("run", run_id.as_str()), ("model", model_id.as_str()), ("name", name)];
        alice.post(format!("{}/api/model-register", portal.base)).header("Origin", &portal.base).form(&form).send()
    };
    assert_eq!(register("no spaces allowed").await.unwrap().status(), 422);
    let model_name = unique("churn-model");
    let made = register(&model_name).await.unwrap();
    assert_eq!(made.status(), 200);
    assert_eq!(made.text().await.unwrap(), "\"1\"", "the first version");
    let got = format!("/api/2.0/mlflow/registered-models/get?name={model_name}");
    assert_eq!(mlflow(&team.name, &got, None).await.0, 200, "in the team's registry");
    assert_eq!(mlflow(&other.name, &got, None).await.0, 404, "and in no other");
    assert_eq!(register(&model_name).await.unwrap().text().await.unwrap(), "\"2\"", "again: a new version");

    let http = reqwest::Client::new();
    let call = |team: &str, path: &str, token: Option<&str>| {
        let mut req = http.get(format!("{}/mlflow/{team}/{path}", portal.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req
    };
    let status = |r: reqwest::Response| r.status().as_u16();

    // The links the client printed lead to the team's experiments in the portal.
    assert!(printed.contains(&format!("{}/mlflow/{}/#/experiments/", portal.base, team.name)), "{printed}");
    let opened = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = opened.get(format!("{}/mlflow/{}/", portal.base, team.name)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("/experiments/{}", team.name).as_str());
    // No token, a made-up one, or a person's session: 401, and MLflow is not reached.
    let search = format!("api/2.0/mlflow/experiments/get-by-name?experiment_name={experiment}");
    assert_eq!(status(call(&team.name, &search, None).send().await.unwrap()), 401);
    assert_eq!(status(call(&team.name, &search, Some("not-a-token")).send().await.unwrap()), 401);
    assert_eq!(status(call(&team.name, &search, Some(&token)).send().await.unwrap()), 200);
    // Another team's experiments: refused, though its workspace is named in the path.
    let refused = call(&other.name, &search, Some(&token)).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("another team"));
    // A workspace the client names itself is ignored: this experiment lands in the team's own.
    let spoofed = unique("spoofed");
    let made = http
        .post(format!("{}/mlflow/{}/api/2.0/mlflow/experiments/create", portal.base, team.name))
        .bearer_auth(&token)
        .header("X-MLFLOW-WORKSPACE", &other.name)
        .json(&json!({ "name": spoofed }))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 200);
    let by_name = format!("/api/2.0/mlflow/experiments/get-by-name?experiment_name={spoofed}");
    assert_eq!(mlflow(&team.name, &by_name, None).await.0, 200);
    assert_eq!(mlflow(&other.name, &by_name, None).await.0, 404);
    // MLflow's workspace management is not served to workloads at all.
    for path in ["api/3.0/mlflow/workspaces", &format!("api/3.0/mlflow/workspaces/{}", other.name)] {
        assert_eq!(status(call(&team.name, path, Some(&token)).send().await.unwrap()), 404, "{path}");
    }
    let deleted = http
        .delete(format!("{}/mlflow/{}/api/3.0/mlflow/workspaces/{}", portal.base, team.name, other.name))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 404);
    // Another team's run id, through this team's gateway: not found, no data.
    portal.state.mlflow.as_ref().unwrap().ensure_workspace(&other.name).await.unwrap();
    let (_, theirs) = mlflow(&other.name, "/api/2.0/mlflow/experiments/create", Some(json!({ "name": unique("theirs") }))).await;
    let exp = theirs["experiment_id"].as_str().unwrap();
    let (_, their_run) = mlflow(&other.name, "/api/2.0/mlflow/runs/create", Some(json!({ "experiment_id": exp }))).await;
    let their_run = their_run["run"]["info"]["run_id"].as_str().unwrap();
    let res = call(&team.name, &format!("api/2.0/mlflow/runs/get?run_id={their_run}"), Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let told = res.text().await.unwrap();
    assert!(!told.contains("experiment_id") && !told.contains("artifact_uri"), "nothing of the other run is told: {told}");

    // RBAC decides for workloads too: without the team's workloads binding, logging is refused.
    let bindings = Api::<RoleBinding>::namespaced(cluster_admin().await, &team.name);
    bindings
        .delete(app::admin::server::WORKLOADS_ROLE, &DeleteParams::default())
        .await
        .expect("binding removed");
    tokio::time::sleep(app::experiments::gateway::REMEMBER + Duration::from_secs(1)).await;
    let err = python(&env, &format!("import mlflow\nmlflow.set_experiment('{experiment}')\nmlflow.start_run()\n"))
        .await
        .unwrap_err();
    assert!(err.contains("may not"), "the client shows the gateway's sentence: {err}");
    bindings
        .create(&Default::default(), &app::admin::server::workloads_binding(&team.name))
        .await
        .unwrap();

    // Deleting the notebook revokes its token.
    ops::delete(&team.alice, nb.backend(), &team.name, "trainer", false)
        .await
        .expect("alice deletes the notebook");
    let mut revoked = false;
    for _ in 0..40 {
        if status(call(&team.name, &search, Some(&token)).send().await.unwrap()) == 401 {
            revoked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(revoked, "the deleted notebook's token still works");
    team.retire().await;
    other.retire().await;
}

/// A pipeline step's pod as Argo made it: its main container's environment
/// as the kubelet would give it (Secret values read, the pod's own labels
/// put in for `fieldRef`s, `$(VAR)` of earlier variables expanded).
async fn step_environment(team: &str, run: &str) -> Vec<(String, String)> {
    use k8s_openapi::api::core::v1::Pod;
    let admin = cluster_admin().await;
    let pods = Api::<Pod>::namespaced(admin.clone(), team);
    let of_run = kube::api::ListParams::default().labels(&format!("workflows.argoproj.io/workflow={run}"));
    let mut pod = None;
    for _ in 0..300 {
        if let Some(p) = pods.list(&of_run).await.unwrap().items.into_iter().next() {
            pod = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pod = pod.expect("Argo made the step's pod within a minute");
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let main = pod.spec.unwrap().containers.into_iter().find(|c| c.name == "main").expect("Argo's main container");
    let secrets = Api::<Secret>::namespaced(admin.clone(), team);
    let mut env: Vec<(String, String)> = Vec::new();
    for var in main.env.unwrap_or_default() {
        let from = var.value_from.clone().unwrap_or_default();
        let value = if let Some(v) = var.value {
            // The kubelet's expansion of variables defined before this one.
            env.iter().fold(v, |v, (k, x)| v.replace(&format!("$({k})"), x))
        } else if let Some(key) = from.secret_key_ref {
            let mut value = None;
            for _ in 0..100 {
                if let Some(v) = secrets.get_opt(&key.name).await.unwrap().and_then(|s| s.data).and_then(|d| d.get(&key.key).cloned()) {
                    value = Some(String::from_utf8(v.0).unwrap());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            value.unwrap_or_else(|| panic!("{} never got its {}", key.name, key.key))
        } else if let Some(field) = from.field_ref {
            let label = field.field_path.strip_prefix("metadata.labels['").and_then(|l| l.strip_suffix("']")).expect("a label of the pod");
            labels.get(label).cloned().unwrap_or_default()
        } else {
            continue;
        };
        env.push((var.name, value));
    }
    env
}

#[tokio::test]
async fn a_pipeline_step_logs_to_mlflow_named_by_its_run_and_each_page_links_to_the_other() {
    let _port = common::login_port().await;
    let portal = common::start_portal(common::LOGIN_PORT, |_| {}).await;
    let base = portal.base.clone();
    let (dave, _) = common::browser();
    common::sign_in(&dave, &base, "dave", "/").await;
    let post = |endpoint: &str, body: Value| {
        let req = dave.post(format!("{base}/api/{endpoint}")).header("Origin", &base).json(&body);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let images = dave.post(format!("{base}/api/pipeline-images")).header("Origin", &base).form(&[("team", "team-a")]).send().await.unwrap();
    let image = images.json::<Value>().await.unwrap()["images"][0].as_str().unwrap().to_string();
    let name = unique("train");
    let step = json!({
        "name": "train", "image": image, "work": { "Command": "python train.py" },
        "after": [], "env": [], "cpu": "100m", "memory": "128Mi", "gpus": 0, "retries": 0, "timeout_seconds": null
    });
    let pipeline = json!({ "name": name, "description": "", "params": [], "steps": [step] });
    let (status, body) = post("pipeline-save", json!({ "team": "team-a", "pipeline": pipeline, "new": true })).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post("pipeline-run", json!({ "team": "team-a", "name": name, "params": [] })).await;
    assert_eq!(status, 200, "{body}");
    let run: String = serde_json::from_str(&body).unwrap();

    // The step's pod has what a plain MLflow client needs, its run's name included.
    let env = step_environment("team-a", &run).await;
    assert_eq!(var(&env, "MLFLOW_TRACKING_URI"), format!("{base}/mlflow/team-a"));
    assert_eq!(var(&env, "MLFLOW_RUN_CONTEXT"), format!("{{\"atrium.pipeline-run\": \"{run}\"}}"));
    // kwok runs no container: the step's training script runs here, with the step's variables.
    let experiment = unique("pipeline-churn");
    let script = format!(
        "import mlflow\n\
         mlflow.set_experiment('{experiment}')\n\
         with mlflow.start_run() as run:\n\
         \x20   mlflow.log_metric('accuracy', 0.91)\n\
         print(run.info.run_id)\n"
    );
    let printed = python(&env, &script).await.expect("the step logs a run through the gateway");
    let run_id = printed.lines().last().unwrap_or_default().to_string();
    let (status, got) = mlflow("team-a", &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"), None).await;
    assert_eq!(status, 200, "{got}");
    let tags = got["run"]["data"]["tags"].as_array().unwrap();
    assert!(tags.contains(&json!({ "key": "atrium.pipeline-run", "value": run })), "{tags:?}");
    let exp_id = got["run"]["info"]["experiment_id"].as_str().unwrap().to_string();

    // One click each way: the MLflow run's page names the pipeline run, and
    // the pipeline run's page lists the MLflow runs its steps logged.
    let html = dave.get(format!("{base}/experiments/team-a/{exp_id}/runs/{run_id}")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("href=\"/pipelines/team-a/runs/{run}\"")), "the MLflow run links to its pipeline run");
    let html = dave.get(format!("{base}/pipelines/team-a/runs/{run}")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("href=\"/experiments/team-a/{exp_id}/runs/{run_id}\"")), "the pipeline run links to its MLflow run");
}
