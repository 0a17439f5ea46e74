//! Models against the real parts: MLflow's model registry (the team's
//! workspace) and KServe's real controller on the local stack, whose
//! Deployments' pods kwok runs. Who may see, alias and deploy a team's
//! models is Kubernetes RBAC; a deployment is an InferenceService written as
//! the person, and what the page says of it is what KServe reports.

mod common;

use common::{LOGIN_PORT, browser, cluster_admin, login_port, sign_in, stack, start_portal, unique};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Logs `n` runs in `team`'s workspace straight to MLflow (a seed, as a
/// notebook would), each with a fitted scikit-learn model and an `rmse`;
/// returns (run id, logged model id) per run.
async fn trained(team: &str, n: usize) -> Vec<(String, String)> {
    let bin = stack("STACK_MLFLOW_BIN");
    let script = format!(
        "import mlflow, numpy as np\n\
         from sklearn.linear_model import LinearRegression\n\
         mlflow.set_experiment('{}')\n\
         X = np.arange(20, dtype=float).reshape(-1, 2)\n\
         for i in range({n}):\n\
         \x20   with mlflow.start_run(run_name=f'fit-{{i + 1}}') as run:\n\
         \x20       mlflow.log_metric('rmse', 0.5 / (i + 1))\n\
         \x20       info = mlflow.sklearn.log_model(LinearRegression().fit(X, X.sum(1) * (i + 1)), name='model', input_example=X[:2])\n\
         \x20   print(run.info.run_id, info.model_id)\n",
        unique("models")
    );
    let (uri, team) = (stack("ATRIUM_MLFLOW__URL"), team.to_string());
    // The team's workspace, as the portal makes it on first use.
    let http = reqwest::Client::new();
    if http.get(format!("{uri}/api/3.0/mlflow/workspaces/{team}")).send().await.unwrap().status() == 404 {
        http.post(format!("{uri}/api/3.0/mlflow/workspaces")).json(&json!({ "name": team })).send().await.unwrap();
    }
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(format!("{bin}/python"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("MLFLOW_TRACKING_URI", uri)
            .env("MLFLOW_WORKSPACE", team)
            .args(["-c", &script])
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "seeding runs: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // (MLflow's client prints links to the runs too.)
    let runs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.trim().split_once(' '))
        .filter(|(r, m)| r.len() == 32 && r.chars().all(|c| c.is_ascii_hexdigit()) && m.starts_with("m-"))
        .map(|(r, m)| (r.to_string(), m.to_string()))
        .collect();
    assert_eq!(runs.len(), n, "{text}");
    runs
}

/// The files under an `s3://bucket/prefix` storage URI, listed with the
/// keys of `team`'s data connection (its `object-storage` Secret), as
/// KServe's storage initializer lists them before downloading.
async fn model_files(admin: &kube::Client, team: &str, uri: &str) -> Result<Vec<String>, object_store::Error> {
    use futures::TryStreamExt;
    use object_store::ObjectStore;
    let secret = kube::Api::<k8s_openapi::api::core::v1::Secret>::namespaced(admin.clone(), team).get("object-storage").await.unwrap();
    let data = secret.data.unwrap_or_default();
    let get = |k: &str| String::from_utf8(data.get(k).unwrap_or_else(|| panic!("{k} in {team}'s data connection")).0.clone()).unwrap();
    let (bucket, prefix) = uri.strip_prefix("s3://").and_then(|r| r.split_once('/')).expect("an s3:// storage URI");
    let endpoint = get("AWS_S3_ENDPOINT");
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_allow_http(endpoint.starts_with("http://"))
        .with_bucket_name(bucket)
        .with_region(get("AWS_DEFAULT_REGION"))
        .with_access_key_id(get("AWS_ACCESS_KEY_ID"))
        .with_secret_access_key(get("AWS_SECRET_ACCESS_KEY"))
        .build()?;
    let listed: Vec<_> = store.list(Some(&object_store::path::Path::from(prefix))).try_collect().await?;
    // Reading, not only listing: the storage initializer downloads them.
    for meta in &listed {
        store.get(&meta.location).await?;
    }
    Ok(listed.into_iter().map(|m| m.location.to_string()).collect())
}

/// The portal on the login port, serving model files from the bucket
/// MLflow keeps its artifacts in (kwok's pods read none of them).
async fn serving_portal() -> common::Portal {
    start_portal(LOGIN_PORT, |c| {
        c.models.artifacts_uri = stack("ATRIUM_MODELS__ARTIFACTS_URI");
        c.models.upstream_map_file = Some(model_servers_map());
    })
    .await
}

/// Where this test binary's model servers are mapped (the portal's
/// `models.upstream_map_file`).
fn model_servers_map() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("atrium-model-servers-{}.json", std::process::id()))
}

/// A real MLServer serving `model` `version` for `team`'s deployment `name`
/// on `port` (scripts/model-server.sh), stopped when dropped.
struct ModelServer(String, String);

impl ModelServer {
    async fn start(team: &str, name: &str, model: &str, version: &str, port: u16) -> ModelServer {
        let args: Vec<String> = vec![
            "scripts/model-server.sh".into(),
            "serve".into(),
            team.into(),
            name.into(),
            model.into(),
            version.into(),
            port.to_string(),
            model_servers_map().display().to_string(),
        ];
        let out = tokio::task::spawn_blocking(move || std::process::Command::new("bash").args(&args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap())
            .await
            .unwrap();
        assert!(out.status.success(), "model server: {}", String::from_utf8_lossy(&out.stderr));
        ModelServer(team.into(), name.into())
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .args(["scripts/model-server.sh", "stop", &self.0, &self.1])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output();
    }
}

/// Calls a server function as the signed-in browser (form arguments).
async fn call(client: &reqwest::Client, base: &str, endpoint: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = client.post(format!("{base}/api/{endpoint}")).header("Origin", base).form(form).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Calls a server function whose one argument is a struct (`{"request": {…}}`),
/// form-encoded as the browser sends it (`request[team]=…`).
async fn call_struct(client: &reqwest::Client, base: &str, endpoint: &str, body: Value) -> (u16, String) {
    let pairs: Vec<(String, String)> = body["request"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (format!("request[{k}]"), v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
        .collect();
    let res = client.post(format!("{base}/api/{endpoint}")).header("Origin", base).form(&pairs).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn page(client: &reqwest::Client, base: &str, path: &str) -> (u16, String) {
    let res = client.get(format!("{base}{path}")).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

fn request(team: &str, model: &str, version: &str, name: &str) -> Value {
    json!({ "request": {
        "team": team, "model": model, "version": version, "name": name,
        "cpu": "500m", "memory": "1Gi", "gpus": 0, "min_replicas": 1, "max_replicas": 2,
    }})
}

/// The deployment `name` as the page's server function reports it, once
/// `done` holds (or after 90 s, when it fails the test).
async fn deployment_when(client: &reqwest::Client, base: &str, team: &str, model: &str, name: &str, done: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let (status, body) = call(client, base, "model-deployments", &[("team", team), ("model", model)]).await;
        assert_eq!(status, 200, "{body}");
        let list: Value = serde_json::from_str(&body).unwrap();
        if let Some(d) = list.as_array().unwrap().iter().find(|d| d["name"] == name)
            && done(d)
        {
            return d.clone();
        }
        assert!(t0.elapsed() < Duration::from_secs(90), "deployment {name} never got there: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn an_ml_engineer_registers_aliases_deploys_and_removes_a_model_that_kserve_serves() {
    let runs = trained("team-b", 2).await;
    let _port = login_port().await;
    let portal = serving_portal().await;
    let base = portal.base.clone();
    let model = unique("Churn_Model");
    let deployment = unique("churn");

    // maria: ML engineer of team-b. She registers both runs' models.
    let (maria, _) = browser();
    sign_in(&maria, &base, "maria", "/").await;
    for (i, (run, logged)) in runs.iter().enumerate() {
        let (status, body) = call(&maria, &base, "model-register", &[("team", "team-b"), ("run", run), ("model", logged), ("name", &model)]).await;
        assert_eq!((status, body.trim_matches('"')), (200, (i + 1).to_string().as_str()), "version {} registered", i + 1);
    }

    // The team's list: the model with its newest version.
    let (status, html) = page(&maria, &base, "/models/team-b").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("data-model=\"{model}\"")) && html.contains(">v2<"), "listed with its newest version");
    let row = &html[html.find(&format!("data-model=\"{model}\"")).unwrap()..];
    let metrics = &row[row.find("model-metrics").unwrap()..];
    assert!(metrics[..metrics.find("</td>").unwrap()].contains("rmse 0.25"), "the newest version's run's rmse (0.5 / 2)");
    // Its page: both versions, each linked to its run, and their metrics charted side by side.
    let (status, html) = page(&maria, &base, &format!("/models/team-b/{model}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-version=\"1\"") && html.contains("data-version=\"2\""), "both versions");
    assert!(html.contains(&format!("/runs/{}\"", runs[0].0)) && html.contains("fit-1"), "version 1 links to its run");
    assert!(html.contains("data-metric=\"rmse\""), "the runs' rmse compared");

    // Aliases: set, then moved (both audited); names that are versions refused.
    let (status, body) = call(&maria, &base, "model-alias", &[("team", "team-b"), ("name", &model), ("alias", "champion"), ("version", "1")]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&maria, &base, "model-alias", &[("team", "team-b"), ("name", &model), ("alias", "champion"), ("version", "2")]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&maria, &base, "model-alias", &[("team", "team-b"), ("name", &model), ("alias", "latest"), ("version", "2")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("names a version"), "{body}");
    let (status, body) = call(&maria, &base, "model-alias", &[("team", "team-b"), ("name", &model), ("alias", "challenger"), ("version", "7")]).await;
    assert_eq!(status, 404, "an unknown version: {body}");
    let (_, html) = page(&maria, &base, "/models/team-b").await;
    assert!(html.contains("champion → v2"), "the list shows where the alias points");

    // The preview: Kubernetes' dry-run as maria, and the object that would be sent.
    let (status, yaml) = call_struct(&maria, &base, "model-deploy-preview", request("team-b", &model, "1", &deployment)).await;
    assert_eq!(status, 200, "{yaml}");
    let yaml: String = serde_json::from_str(&yaml).unwrap();
    assert!(yaml.contains("storageUri:") && yaml.contains("s3://atrium-mlflow/workspaces/team-b/"), "served from the object store: {yaml}");
    assert!(yaml.contains("runtime: kserve-mlserver") && yaml.contains("name: mlflow"), "{yaml}");
    let admin = cluster_admin().await;
    let isvcs: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(admin.clone(), "team-b", &app::models::serving::api_resource());
    assert!(isvcs.get_opt(&deployment).await.unwrap().is_none(), "a preview creates nothing");

    // The runtime comes from the cluster's catalog: a platform team adds a
    // second MLflow runtime, and the form offers it after the default; one
    // the catalog does not have is refused in words before anything is asked.
    let runtimes = kube::Api::<kube::api::DynamicObject>::all_with(
        admin.clone(),
        &kube::api::ApiResource {
            group: "serving.kserve.io".into(),
            version: "v1alpha1".into(),
            api_version: "serving.kserve.io/v1alpha1".into(),
            kind: "ClusterServingRuntime".into(),
            plural: "clusterservingruntimes".into(),
        },
    );
    let mut second = runtimes.get("kserve-mlserver").await.expect("the stack's MLServer runtime");
    let second_name = unique("mlserver-large");
    second.metadata = kube::api::ObjectMeta {
        name: Some(second_name.clone()),
        annotations: Some([("openshift.io/display-name".to_string(), "MLServer, large".to_string())].into()),
        ..Default::default()
    };
    // (No priority of its own: KServe allows one runtime per format and priority.)
    second.data["spec"]["supportedModelFormats"] = json!([{ "name": "mlflow", "version": "2" }]);
    let mut sklearn_only = second.clone();
    let sklearn_name = unique("sklearn-only");
    sklearn_only.metadata = kube::api::ObjectMeta { name: Some(sklearn_name.clone()), ..Default::default() };
    sklearn_only.data["spec"]["supportedModelFormats"] = json!([{ "name": "sklearn", "version": "1" }]);
    // Removed however the test ends: on a runtime of its own, with a client
    // of its own (the test's client is driven by the test's runtime, which
    // waits here).
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let name = self.0.clone();
            let resource = kube::api::ApiResource {
                group: "serving.kserve.io".into(),
                version: "v1alpha1".into(),
                api_version: "serving.kserve.io/v1alpha1".into(),
                kind: "ClusterServingRuntime".into(),
                plural: "clusterservingruntimes".into(),
            };
            let _ = std::thread::spawn(move || {
                tokio::runtime::Runtime::new().unwrap().block_on(async {
                    let api = kube::Api::<kube::api::DynamicObject>::all_with(cluster_admin().await, &resource);
                    api.delete(&name, &Default::default()).await
                })
            })
            .join();
        }
    }
    runtimes.create(&Default::default(), &second).await.unwrap();
    let _gone = Gone(second_name.clone());
    runtimes.create(&Default::default(), &sklearn_only).await.unwrap();
    let _gone_too = Gone(sklearn_name.clone());
    let (status, detail) = call(&maria, &base, "model", &[("team", "team-b"), ("name", &model)]).await;
    assert_eq!(status, 200, "{detail}");
    let offered: Vec<(String, String)> = serde_json::from_value(serde_json::from_str::<Value>(&detail).unwrap()["runtimes"].clone()).unwrap();
    assert_eq!(offered.first().map(|r| r.0.as_str()), Some("kserve-mlserver"), "the default first: {offered:?}");
    assert!(offered.contains(&(second_name.clone(), "MLServer, large".to_string())), "{offered:?}");
    assert!(offered.iter().all(|(n, _)| *n != sklearn_name), "only runtimes that serve MLflow models: {offered:?}");
    let mut on_second = request("team-b", &model, "1", &deployment);
    on_second["request"]["runtime"] = json!(second_name);
    let (status, yaml) = call_struct(&maria, &base, "model-deploy-preview", on_second).await;
    assert_eq!(status, 200, "{yaml}");
    assert!(serde_json::from_str::<String>(&yaml).unwrap().contains(&format!("runtime: {second_name}")), "{yaml}");
    let mut unknown = request("team-b", &model, "1", &deployment);
    unknown["request"]["runtime"] = json!("no-such-runtime");
    let (status, body) = call_struct(&maria, &base, "model-deploy-preview", unknown).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("There is no serving runtime “no-such-runtime” for MLflow models"), "{body}");

    // Deployed: KServe's controller makes its Deployment, kwok runs the pod,
    // and the page reports Ready with the address KServe gives it.
    let (status, body) = call_struct(&maria, &base, "model-deploy", request("team-b", &model, "1", &deployment)).await;
    assert_eq!(status, 200, "{body}");
    let ready = deployment_when(&maria, &base, "team-b", &model, &deployment, |d| d["state"] == "Ready").await;
    assert_eq!(ready["url"], format!("http://{deployment}-team-b.models.localhost"));
    assert_eq!((ready["version"].as_str(), ready["deployed_by"].as_str()), (Some("1"), Some("maria")));
    let made = kube::Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(admin.clone(), "team-b")
        .get(&format!("{deployment}-predictor"))
        .await
        .expect("KServe made the predictor's Deployment");
    assert_eq!(made.status.and_then(|s| s.ready_replicas), Some(1));
    let (_, html) = page(&maria, &base, "/models/team-b").await;
    assert!(html.contains(&format!("{deployment} (v1)")), "the list says where it is served");
    // Lineage, one click each way: run → version → deployment, and back.
    let (_, html) = page(&maria, &base, &format!("/models/team-b/{model}")).await;
    assert!(html.contains("id=\"v1\"") && html.contains(&format!("href=\"#deployment-{deployment}\"")), "version 1 links to the deployment serving it");
    assert!(html.contains(&format!("id=\"deployment-{deployment}\"")) && html.contains("href=\"#v1\""), "the deployment links to its version");
    let end = html.find(&format!("/runs/{}\"", runs[0].0)).expect("version 1 links to its run");
    let run_page = format!("{}/runs/{}", &html[html[..end].rfind("href=\"").unwrap() + 6..end], runs[0].0);
    let (status, run_html) = page(&maria, &base, &run_page).await;
    assert_eq!(status, 200, "{run_page}");
    assert!(run_html.contains(&format!("href=\"/models/team-b/{model}#v1\"")), "the run links to the version made from it");
    assert!(!run_html.contains(&format!("/models/team-b/{model}#v2")), "and to no version made from another run");

    // The files KServe's storage initializer would download are in MinIO
    // where storageUri says, readable with team-b's own data connection
    // (the Secret the InferenceService names) and not with team-a's.
    let isvc = isvcs.get(&deployment).await.unwrap();
    let uri = isvc.data["spec"]["predictor"]["model"]["storageUri"].as_str().unwrap().to_string();
    let in_store = model_files(&admin, "team-b", &uri).await.expect("team-b reads its version's files");
    assert!(in_store.iter().any(|f| f.ends_with("/MLmodel")) && in_store.iter().any(|f| f.rsplit('/').next().is_some_and(|n| n.starts_with("model."))), "{uri}: {in_store:?}");
    let other = model_files(&admin, "team-a", &uri).await;
    assert!(other.is_err(), "team-a's data connection reads no file of team-b's: {other:?}");
    // And KServe's webhook gave the model server's pod a storage
    // initializer that downloads them from there with those keys.
    let pods = kube::Api::<k8s_openapi::api::core::v1::Pod>::namespaced(admin.clone(), "team-b");
    let pod = pods
        .list(&kube::api::ListParams::default().labels(&format!("serving.kserve.io/inferenceservice={deployment}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .next()
        .expect("the model server's pod");
    let init = pod.spec.unwrap().init_containers.unwrap_or_default().into_iter().find(|c| c.name == "storage-initializer").expect("a storage initializer");
    assert_eq!(init.args.as_ref().and_then(|a| a.first()), Some(&uri), "it downloads what storageUri names");
    let env = init.env.unwrap_or_default();
    let value = |n: &str| env.iter().find(|e| e.name == n).and_then(|e| e.value.clone());
    let secret_of = |n: &str| env.iter().find(|e| e.name == n).and_then(|e| e.value_from.clone()?.secret_key_ref).map(|r| r.name);
    assert_eq!(value("AWS_ENDPOINT_URL"), Some(stack("ATRIUM_OBJECT_STORE__ENDPOINT")), "the stack's MinIO: {env:?}");
    assert_eq!(secret_of("AWS_ACCESS_KEY_ID").as_deref(), Some("object-storage"), "the team's data connection: {env:?}");

    // Try it: a real MLServer serves version 1 (kwok's pod runs nothing);
    // the example is filled in from what the model takes, and the answer is
    // the model's: version 1 learnt y = x1 + x2.
    let server = ModelServer::start("team-b", &deployment, &model, "1", 18960).await;
    let (status, example) = call(&maria, &base, "model-predict-example", &[("team", "team-b"), ("name", &deployment)]).await;
    assert_eq!(status, 200, "{example}");
    let example: Value = serde_json::from_str(&serde_json::from_str::<String>(&example).unwrap()).unwrap();
    assert_eq!((example["inputs"][0]["shape"].clone(), example["inputs"][0]["datatype"].clone()), (json!([1, 2]), json!("FP64")), "{example}");
    let ask = |data: Value| json!({ "inputs": [{ "name": "input-0", "shape": [1, 2], "datatype": "FP64", "data": data }] }).to_string();
    let (status, body) = call(&maria, &base, "model-predict", &[("team", "team-b"), ("name", &deployment), ("request", &ask(json!([1.0, 2.0])))]).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["status"], 200, "{answer}");
    let predicted: Vec<f64> = serde_json::from_str(answer["outputs"][0][1].as_str().unwrap()).unwrap();
    assert!((predicted[0] - 3.0).abs() < 1e-6, "the model's answer: {answer}");
    // A request of the wrong shape: the model server's refusal, in its words.
    let wrong = json!({ "inputs": [{ "name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": [1.0, 2.0, 3.0] }] }).to_string();
    let (status, body) = call(&maria, &base, "model-predict", &[("team", "team-b"), ("name", &deployment), ("request", &wrong)]).await;
    assert_eq!(status, 200, "{body}");
    let refused: Value = serde_json::from_str(&body).unwrap();
    assert!(refused["status"].as_u64().unwrap() >= 400 && refused["response"].as_str().unwrap().starts_with("The model server refused the request"), "{refused}");
    // alice (team-a) may not send anything to team-b's deployment.
    let (alice_b, _) = browser();
    sign_in(&alice_b, &base, "alice", "/").await;
    let (status, _) = call(&alice_b, &base, "model-predict", &[("team", "team-b"), ("name", &deployment), ("request", &ask(json!([1.0, 2.0])))]).await;
    assert_eq!(status, 403);
    // The model server goes down: said in words, with 503.
    drop(server);
    let (status, body) = call(&maria, &base, "model-predict", &[("team", "team-b"), ("name", &deployment), ("request", &ask(json!([1.0, 2.0])))]).await;
    assert_eq!(status, 503, "{body}");
    let said: app::error::AppError = serde_json::from_str(&body).unwrap();
    assert!(said.to_string().starts_with(&format!("The model server of deployment “{deployment}” is not answering")), "{said}");

    // The same name again: a plain conflict, nothing changed.
    let (status, body) = call_struct(&maria, &base, "model-deploy", request("team-b", &model, "2", &deployment)).await;
    assert_eq!(status, 409, "{body}");
    // Beyond the team's quota (16 CPU in all): refused with the quota's words.
    let mut big = request("team-b", &model, "2", &unique("big"));
    big["request"]["cpu"] = json!("6");
    big["request"]["min_replicas"] = json!(3);
    big["request"]["max_replicas"] = json!(3);
    let (status, body) = call_struct(&maria, &base, "model-deploy", big).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("quota allows in all (16)"), "{body}");
    // A version that does not exist, and a wrong amount: refused before anything is made.
    let (status, _) = call_struct(&maria, &base, "model-deploy", request("team-b", &model, "9", &unique("nine"))).await;
    assert_eq!(status, 404);
    let mut wrong = request("team-b", &model, "1", &unique("wrong"));
    wrong["request"]["memory"] = json!("lots");
    let (status, body) = call_struct(&maria, &base, "model-deploy", wrong).await;
    assert_eq!(status, 422);
    assert!(body.contains("“lots” is not an amount of memory"), "{body}");

    // alice (team-a's data scientist) sees nothing of team-b's models.
    let (alice, _) = browser();
    sign_in(&alice, &base, "alice", "/").await;
    assert_eq!(page(&alice, &base, "/models/team-b").await.0, 403);
    assert_eq!(page(&alice, &base, &format!("/models/team-b/{model}")).await.0, 403);
    let (status, _) = call(&alice, &base, "model-deployments", &[("team", "team-b"), ("model", &model)]).await;
    assert_eq!(status, 403);
    // In her own team she may look but not deploy; team-b's model is unknown there.
    assert_eq!(page(&alice, &base, &format!("/models/team-a/{model}")).await.0, 404);
    let (status, body) = call_struct(&alice, &base, "model-deploy", request("team-a", &model, "1", &unique("mine"))).await;
    assert_eq!(status, 403, "{body}");

    // Removed: the InferenceService goes (KServe's objects with it).
    let (status, body) = call(&maria, &base, "model-undeploy", &[("team", "team-b"), ("name", &deployment)]).await;
    assert_eq!(status, 200, "{body}");
    let t0 = Instant::now();
    while isvcs.get_opt(&deployment).await.unwrap().is_some() {
        assert!(t0.elapsed() < Duration::from_secs(30), "the InferenceService is deleted");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, _) = call(&maria, &base, "model-undeploy", &[("team", "team-b"), ("name", &deployment)]).await;
    assert_eq!(status, 404, "gone");

    // Everything maria did is in the audit trail, once each.
    let entries = portal
        .state
        .db
        .audit_list(&app::model::audit::AuditFilter { team: Some("team-b".into()), actor: Some("maria".into()), action: Some("model.".into()), limit: 100, ..Default::default() })
        .await
        .unwrap();
    let count = |action: &str, object: &str| entries.iter().filter(|e| e.action == action && e.object.contains(object)).count();
    assert_eq!(count("model.register", &model), 2);
    assert_eq!(count("model.alias", "champion → version 2 (was version 1)"), 1);
    assert_eq!(count("model.deploy", &deployment), 1, "the deploy (the refused ones were refused before anything was tried)");
    assert_eq!(count("model.undeploy", &deployment), 1);
}

/// The predictor Deployments KServe keeps for `deployment` in team-b, by name.
async fn predictors(admin: &kube::Client, deployment: &str) -> Vec<String> {
    let all = kube::Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(admin.clone(), "team-b").list(&Default::default()).await.unwrap();
    let mut names: Vec<String> = all
        .items
        .into_iter()
        .filter(|d| d.metadata.deletion_timestamp.is_none())
        .filter_map(|d| d.metadata.name)
        .filter(|n| n.starts_with(&format!("{deployment}-")))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_canary_is_promoted_or_rolled_back_in_one_step_and_any_earlier_version_serves_again() {
    let runs = trained("team-b", 3).await;
    let _port = login_port().await;
    let portal = serving_portal().await;
    let base = portal.base.clone();
    let admin = cluster_admin().await;
    let model = unique("rollout");
    let deployment = unique("rollout");
    let (maria, _) = browser();
    sign_in(&maria, &base, "maria", "/").await;
    for (run, logged) in &runs {
        let (status, body) = call(&maria, &base, "model-register", &[("team", "team-b"), ("run", run), ("model", logged), ("name", &model)]).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = call_struct(&maria, &base, "model-deploy", request("team-b", &model, "1", &deployment)).await;
    assert_eq!(status, 200, "{body}");
    deployment_when(&maria, &base, "team-b", &model, &deployment, |d| d["state"] == "Ready").await;
    assert_eq!(predictors(&admin, &deployment).await, [format!("{deployment}-predictor")]);

    // A share outside 0-100 is refused before anything is asked.
    let canary = |version: &'static str, percent: &'static str| {
        [("team", "team-b"), ("name", deployment.as_str()), ("version", version), ("percent", percent)]
    };
    let (status, body) = call(&maria, &base, "model-canary", &canary("2", "150")).await;
    assert_eq!(status, 422);
    assert!(body.contains("0 to 100 %"), "{body}");

    // Version 2 as a 20 % canary: a second predictor, its own Deployment, reported Ready by KServe.
    let (status, body) = call(&maria, &base, "model-canary", &canary("2", "20")).await;
    assert_eq!(status, 200, "{body}");
    let d = deployment_when(&maria, &base, "team-b", &model, &deployment, |d| d["canary"]["state"] == "Ready").await;
    assert_eq!((d["version"].as_str(), d["canary"]["version"].as_str(), d["canary"]["percent"].as_u64()), (Some("1"), Some("2"), Some(20)));
    assert!(d["traffic_note"].as_str().unwrap().contains("reach version 1 only"), "no gateway splits here, and the page says so: {d}");
    assert_eq!(predictors(&admin, &deployment).await, [format!("{deployment}-predictor"), format!("{deployment}-v2-predictor")]);

    // Each version has its own real model server (kwok's pods run nothing:
    // the map stands in for each version's pods, which KServe made). Try it
    // reaches either version, and each version's count is its own.
    let _servers = (
        ModelServer::start("team-b", &deployment, &model, "1", 18970).await,
        ModelServer::start("team-b", &deployment, &model, "2", 18973).await,
    );
    let traffic = |who: &reqwest::Client| {
        let (who, base, deployment) = (who.clone(), base.clone(), deployment.clone());
        async move { call(&who, &base, "model-traffic", &[("team", "team-b"), ("name", &deployment)]).await }
    };
    let counts = |body: &str| -> Vec<(String, bool, u64, u64, u64, u64, u64)> {
        let t: Value = serde_json::from_str(body).unwrap();
        t["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let n = |k: &str| v[k].as_u64().unwrap();
                (v["version"].as_str().unwrap().to_string(), v["canary"].as_bool().unwrap(), n("asked_percent"), n("answered"), n("failed"), n("servers"), n("counted"))
            })
            .collect()
    };
    let (status, body) = traffic(&maria).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(counts(&body), [("1".to_string(), false, 80, 0, 0, 1, 1), ("2".to_string(), true, 20, 0, 0, 1, 1)], "one running pod each, nothing asked yet");
    let ask = |data: Value| json!({ "inputs": [{ "name": "input-0", "shape": [1, 2], "datatype": "FP64", "data": data }] }).to_string();
    let predict = |version: &str, request: String| {
        let (maria, base, deployment, version) = (maria.clone(), base.clone(), deployment.clone(), version.to_string());
        async move {
            let (status, body) = call(&maria, &base, "model-predict", &[("team", "team-b"), ("name", &deployment), ("request", &request), ("version", &version)]).await;
            (status, serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body)))
        }
    };
    let answer = |p: &Value| -> Vec<f64> {
        let values = serde_json::from_str::<Vec<f64>>(p["outputs"][0][1].as_str().unwrap_or("[]")).unwrap_or_default();
        values.iter().map(|v| (v * 1e6).round() / 1e6).collect()
    };
    // Version 1 learnt y = x1 + x2, version 2 twice that.
    for _ in 0..2 {
        let (status, p) = predict("2", ask(json!([1.0, 2.0]))).await;
        assert_eq!((status, answer(&p)), (200, vec![6.0]), "the canary's own answer: {p}");
    }
    let (status, p) = predict("1", ask(json!([1.0, 2.0]))).await;
    assert_eq!((status, answer(&p)), (200, vec![3.0]), "the stable version's answer: {p}");
    let wrong = json!({ "inputs": [{ "name": "input-0", "shape": [1, 3], "datatype": "FP64", "data": [1.0, 2.0, 3.0] }] }).to_string();
    let (status, p) = predict("2", wrong).await;
    assert!(status == 200 && p["status"].as_u64().unwrap() >= 400, "refused by the canary's server: {p}");
    let (status, p) = predict("3", ask(json!([1.0, 2.0]))).await;
    assert_eq!(status, 404, "{p}");
    assert!(p.to_string().contains("does not serve version 3"), "{p}");
    let (status, body) = traffic(&maria).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(counts(&body), [("1".to_string(), false, 80, 1, 0, 1, 1), ("2".to_string(), true, 20, 2, 1, 1, 1)], "as each version's server counted them");
    // Only those who see the deployment see its counts.
    let (alice, _) = browser();
    sign_in(&alice, &base, "alice", "/").await;
    let (status, body) = traffic(&alice).await;
    assert!(status == 403 || status == 404, "{status} {body}");
    // Another canary at once, or a rollback under it: refused in words.
    let (status, body) = call(&maria, &base, "model-rollback", &[("team", "team-b"), ("name", &deployment), ("version", "3")]).await;
    assert_eq!(status, 409, "{body}");

    // Promoted: version 2's predictor serves everything, the previous one is gone.
    let (status, body) = call(&maria, &base, "model-promote", &[("team", "team-b"), ("name", &deployment)]).await;
    assert_eq!(status, 200, "{body}");
    let d = deployment_when(&maria, &base, "team-b", &model, &deployment, |d| d["version"] == "2" && d["canary"].is_null() && d["state"] == "Ready").await;
    let t0 = Instant::now();
    while predictors(&admin, &deployment).await != [format!("{deployment}-v2-predictor")] {
        assert!(t0.elapsed() < Duration::from_secs(60), "the previous predictor goes: {:?}", predictors(&admin, &deployment).await);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let history: Vec<(String, String)> =
        d["history"].as_array().unwrap().iter().map(|r| (r["version"].as_str().unwrap().into(), r["action"].as_str().unwrap().into())).collect();
    assert_eq!(
        history,
        [("2".into(), "promoted to 100 %".into()), ("2".into(), "canary at 20 %".into()), ("1".into(), "deployed".into())],
        "every revision, newest first"
    );

    // Version 3 as a canary, rolled back: version 2 serves on, untouched.
    let (status, body) = call(&maria, &base, "model-canary", &canary("3", "50")).await;
    assert_eq!(status, 200, "{body}");
    deployment_when(&maria, &base, "team-b", &model, &deployment, |d| d["canary"]["version"] == "3").await;
    let (status, body) = call(&maria, &base, "model-canary-rollback", &[("team", "team-b"), ("name", &deployment)]).await;
    assert_eq!(status, 200, "{body}");
    let d = deployment_when(&maria, &base, "team-b", &model, &deployment, |d| d["canary"].is_null()).await;
    assert_eq!(d["version"], "2");

    // Any earlier version serves again in one action.
    let (status, body) = call(&maria, &base, "model-rollback", &[("team", "team-b"), ("name", &deployment), ("version", "1")]).await;
    assert_eq!(status, 200, "{body}");
    let d = deployment_when(&maria, &base, "team-b", &model, &deployment, |d| d["version"] == "1" && d["state"] == "Ready").await;
    assert_eq!(d["history"][0]["action"], "rolled back to");
    let isvcs: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(admin.clone(), "team-b", &app::models::serving::api_resource());
    let served = isvcs.get(&deployment).await.unwrap();
    assert!(served.data["spec"]["predictor"]["model"]["storageUri"].as_str().unwrap().contains(&format!("/models/{}/", runs[0].1)), "version 1's files");

    // alice may not touch team-b's deployments.
    let (alice, _) = browser();
    sign_in(&alice, &base, "alice", "/").await;
    let (status, _) = call(&alice, &base, "model-promote", &[("team", "team-b"), ("name", &deployment)]).await;
    assert_eq!(status, 403);

    let entries = portal
        .state
        .db
        .audit_list(&app::model::audit::AuditFilter { team: Some("team-b".into()), actor: Some("maria".into()), action: Some("model.".into()), limit: 100, ..Default::default() })
        .await
        .unwrap();
    for (action, words) in [
        ("model.canary", "canary version 2 at 20 %"),
        ("model.promote", "version 2 promoted (was version 1)"),
        ("model.canary.rollback", "canary version 3 rolled back"),
        ("model.rollback", "rolled back to version 1 (was version 2)"),
    ] {
        assert_eq!(entries.iter().filter(|e| e.action == action && e.object.contains(words) && e.object.contains(&deployment)).count(), 1, "{action} audited once");
    }
    let (status, _) = call(&maria, &base, "model-undeploy", &[("team", "team-b"), ("name", &deployment)]).await;
    assert_eq!(status, 200);
}

/// In a team marked so that promotions need approval, an ML engineer's
/// promotion is a request a team admin approves (carried out as them, and
/// `champion` follows) or denies; Kubernetes itself refuses the engineer a
/// direct change of what a deployment serves there.
#[tokio::test]
async fn in_a_team_needing_approval_a_deployment_and_a_promotion_wait_for_a_team_admin() {
    use app::identity::Persona;
    use app::teams::members::SubjectKind;
    let _port = login_port().await;
    let portal = serving_portal().await;
    let base = portal.base.clone();
    let team = unique("prod");
    let _doomed = common::notebooks::Doomed(team.clone());

    // paula makes the team with tom as its admin and marks it; tom adds
    // maria as its ML engineer; its data connection is team-b's.
    let (tom, _) = browser();
    sign_in(&tom, &base, "tom", "/").await;
    let (paula, _) = browser();
    sign_in(&paula, &base, "paula", "/").await;
    let (status, body) = call(&paula, &base, "admin-team-create", &[("name", &team), ("display_name", "Production"), ("admin", "tom")]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&paula, &base, "admin-team-promotions", &[("team", &team), ("need_approval", "true")]).await;
    assert_eq!(status, 200, "{body}");
    app::teams::members_server::set_personas(&common::as_user("tom").await, &team, SubjectKind::User, "maria", &[Persona::MlEngineer])
        .await
        .expect("tom adds maria");
    let admin = cluster_admin().await;
    let secrets = kube::Api::<k8s_openapi::api::core::v1::Secret>::namespaced(admin.clone(), "team-b");
    let mut connection = secrets.get("object-storage").await.expect("team-b's data connection");
    connection.metadata = kube::api::ObjectMeta { name: Some("object-storage".into()), labels: connection.metadata.labels.clone(), annotations: connection.metadata.annotations.clone(), ..Default::default() };
    kube::Api::<k8s_openapi::api::core::v1::Secret>::namespaced(admin.clone(), &team).create(&Default::default(), &connection).await.unwrap();
    let maria_kube = common::as_user("maria").await;
    for _ in 0..100 {
        if app::platform::access::may(&maria_kube, "serving.kserve.io", "inferenceservices", "create", Some(&team)).await.unwrap_or(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // maria registers two versions, deploys the first and tries the second as a canary.
    let runs = trained(&team, 2).await;
    let (maria, _) = browser();
    sign_in(&maria, &base, "maria", "/").await;
    let model = unique("Fraud");
    let deployment = unique("fraud");
    for (run, logged) in &runs {
        let (status, body) = call(&maria, &base, "model-register", &[("team", &team), ("run", run), ("model", logged), ("name", &model)]).await;
        assert_eq!(status, 200, "{body}");
    }
    // Her deployment is asked, not made: nothing serves in production that a
    // team admin did not approve. It is listed as waiting, with what she asked.
    let (status, body) = call_struct(&maria, &base, "model-deploy-preview", request(&team, &model, "1", &deployment)).await;
    assert_eq!(status, 200, "her preview passes every check but the policy's dry-run: {body}");
    let (status, body) = call_struct(&maria, &base, "model-deploy", request(&team, &model, "1", &deployment)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("Asked the team's admins to approve deploying version 1 as “{deployment}”")), "{body}");
    let isvcs: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(maria_kube.client(), &team, &app::models::serving::api_resource());
    assert!(isvcs.get_opt(&deployment).await.unwrap().is_none(), "nothing created before approval");
    let d = deployment_when(&maria, &base, &team, &model, &deployment, |d| d["state"] == "Asked").await;
    assert_eq!((d["version"].as_str(), d["cpu"].as_str(), d["deployed_by"].as_str()), (Some("1"), Some("500m"), Some("maria")), "{d}");
    assert_eq!((d["waiting"]["action"].as_str(), d["waiting"]["may_decide"].as_bool()), (Some("Deploy"), Some(false)), "{d}");
    let asked_id = d["waiting"]["id"].as_i64().unwrap().to_string();
    let (status, body) = call_struct(&maria, &base, "model-deploy", request(&team, &model, "2", &deployment)).await;
    assert_eq!(status, 409, "one request waits per deployment: {body}");
    // Nor can she go around the portal: the API server refuses her the creation.
    let object: kube::api::DynamicObject = serde_json::from_value(app::models::serving::inference_service(
        &serde_json::from_value(request(&team, &model, "1", &deployment)["request"].clone()).unwrap(),
        "s3://atrium-mlflow/x",
        "kserve-mlserver",
        "object-storage",
        "maria",
        0,
    ))
    .unwrap();
    match isvcs.create(&Default::default(), &object).await {
        Err(kube::Error::Api(s)) => assert!(s.message.contains("only a team admin deploys a model"), "{s:?}"),
        other => panic!("maria deployed in a team needing approval: {other:?}"),
    }
    // tom approves: created as him (every check again, the dry-run included); champion names version 1.
    let (status, body) = call(&tom, &base, "model-promotion-decide", &[("team", &team), ("id", &asked_id), ("approve", "true"), ("reason", "")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("Deployment “{deployment}” created")) && body.contains("“champion” names version 1."), "{body}");
    deployment_when(&maria, &base, &team, &model, &deployment, |d| d["state"] == "Ready" && d["waiting"].is_null()).await;
    let (status, body) = call(&maria, &base, "model-canary", &[("team", &team), ("name", &deployment), ("version", "2"), ("percent", "20")]).await;
    assert_eq!(status, 200, "a canary needs no approval: {body}");

    // Her promotion is asked, not made: version 1 serves on.
    let (status, body) = call(&maria, &base, "model-promote", &[("team", &team), ("name", &deployment)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Asked the team's admins to approve: version 1 serves everything until one does."), "{body}");
    let d = deployment_when(&maria, &base, &team, &model, &deployment, |d| !d["waiting"].is_null()).await;
    assert_eq!((d["version"].as_str(), d["canary"]["version"].as_str()), (Some("1"), Some("2")));
    assert_eq!((d["asks_approval"].as_bool(), d["waiting"]["may_decide"].as_bool(), d["waiting"]["requested_by"].as_str()), (Some(true), Some(false), Some("maria")));
    let id = d["waiting"]["id"].as_i64().unwrap().to_string();
    let (status, body) = call(&maria, &base, "model-promote", &[("team", &team), ("name", &deployment)]).await;
    assert_eq!(status, 409, "one request waits per deployment: {body}");
    let (status, _) = call(&maria, &base, "model-promotion-decide", &[("team", &team), ("id", &id), ("approve", "true"), ("reason", "")]).await;
    assert_eq!(status, 403, "maria may not approve her own promotion");

    // Nor can she go around the portal: the API server refuses her a change of what serves.
    let refused = loop {
        let mut direct = isvcs.get(&deployment).await.unwrap();
        direct.data["spec"]["predictor"] = direct.data["spec"]["canary"][0]["predictor"].clone();
        direct.data["spec"].as_object_mut().unwrap().remove("canary");
        match isvcs.replace(&deployment, &Default::default(), &direct).await {
            // KServe's status writes move the object's version meanwhile.
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(kube::Error::Api(s)) => break s,
            other => panic!("maria changed what serves in a team needing approval: {other:?}"),
        }
    };
    assert!(refused.message.contains("only a team admin changes the version a deployment serves"), "{refused:?}");

    // tom sees it and may decide; denying needs a reason; he approves.
    let d = deployment_when(&tom, &base, &team, &model, &deployment, |d| !d["waiting"].is_null()).await;
    assert_eq!((d["asks_approval"].as_bool(), d["waiting"]["may_decide"].as_bool()), (Some(false), Some(true)));
    let (status, body) = call(&tom, &base, "model-promotion-decide", &[("team", &team), ("id", &id), ("approve", "false"), ("reason", "")]).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = call(&tom, &base, "model-promotion-decide", &[("team", &team), ("id", &id), ("approve", "true"), ("reason", "")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Version 2 now serves all traffic.") && body.contains("“champion” names version 2."), "{body}");
    let (status, body) = call(&tom, &base, "model-promotion-decide", &[("team", &team), ("id", &id), ("approve", "false"), ("reason", "too late")]).await;
    assert_eq!(status, 409, "decided once: {body}");
    assert!(body.contains("tom has decided this request already"), "{body}");
    let d = deployment_when(&maria, &base, &team, &model, &deployment, |d| d["version"] == "2" && d["canary"].is_null() && d["state"] == "Ready").await;
    assert!(d["waiting"].is_null());
    assert_eq!(d["history"][0]["by"], "tom", "carried out as the approver");
    let (_, html) = page(&maria, &base, &format!("/models/{team}")).await;
    assert!(html.contains("champion → v2"), "champion moved when the promotion landed");

    // Serving version 1 again is asked too; tom denies it with a reason, and version 2 serves on.
    let (status, body) = call(&maria, &base, "model-rollback", &[("team", &team), ("name", &deployment), ("version", "1")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Asked the team's admins"), "{body}");
    let d = deployment_when(&tom, &base, &team, &model, &deployment, |d| !d["waiting"].is_null()).await;
    let id = d["waiting"]["id"].as_i64().unwrap().to_string();
    let (status, body) = call(&tom, &base, "model-promotion-decide", &[("team", &team), ("id", &id), ("approve", "false"), ("reason", "v1 misses the new fraud pattern")]).await;
    assert_eq!(status, 200, "{body}");
    let d = deployment_when(&maria, &base, &team, &model, &deployment, |d| d["waiting"].is_null()).await;
    assert_eq!(d["version"], "2");

    // All of it in the team's audit trail.
    let entries = portal.state.db.audit_list(&app::model::audit::AuditFilter { team: Some(team.clone()), limit: 100, ..Default::default() }).await.unwrap();
    let has = |actor: &str, action: &str, text: &str| {
        let found = entries.iter().any(|e| e.actor == actor && e.action == action && e.object.contains(text));
        if !found {
            eprintln!("not in the trail: {actor} {action} “{text}”; it holds: {:#?}", entries.iter().map(|e| (&e.actor, &e.action, &e.object)).collect::<Vec<_>>());
        }
        found
    };
    assert!(has("paula", "team.promotions", "need a team admin's approval"));
    assert!(has("maria", "model.promote.ask", &format!("maria asks to deploy version 1 as “{deployment}”")));
    assert!(has("tom", "model.deploy", &format!("deployment {deployment} of model {model} version 1, asked by maria and approved by tom")));
    assert!(has("maria", "model.promote.ask", "maria asks to promote version 2"));
    assert!(has("tom", "model.promote", "version 2 promoted (was version 1), asked by maria and approved by tom"));
    assert!(has("tom", "model.alias", "champion → version 2"));
    assert!(has("maria", "model.promote.ask", "maria asks to serve version 1 again"));
    assert!(has("tom", "model.promote.deny", "v1 misses the new fraud pattern"));
}
