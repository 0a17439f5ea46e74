//! Pipelines against the real stack: pipelines saved through the portal are
//! WorkflowTemplates written as the person, runs are Workflows that Argo's
//! real workflow-controller runs, and kwok plays the nodes (a step's pod
//! completes, or fails with the exit code its annotation names). Logs come
//! through the real pods/log API.

mod common;

use common::{LOGIN_PORT, browser, cluster_admin, login_port, sign_in, start_portal, unique};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn post_json(client: &reqwest::Client, base: &str, endpoint: &str, body: Value) -> (u16, String) {
    let res = client.post(format!("{base}/api/{endpoint}")).header("Origin", base).json(&body).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn post_form(client: &reqwest::Client, base: &str, endpoint: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = client.post(format!("{base}/api/{endpoint}")).header("Origin", base).form(form).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn page(client: &reqwest::Client, base: &str, path: &str) -> (u16, String) {
    let res = client.get(format!("{base}{path}")).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

fn step(name: &str, image: &str, after: &[&str]) -> Value {
    json!({
        "name": name, "image": image, "work": { "Command": format!("python -c 'print(\"{name}\")'") },
        "after": after, "env": [], "cpu": "100m", "memory": "128Mi", "gpus": 0, "retries": 0, "timeout_seconds": null
    })
}

/// Waits for the run to end; its detail as the portal gives it.
async fn finished(client: &reqwest::Client, base: &str, run: &str) -> Value {
    let t0 = Instant::now();
    loop {
        let (status, body) = post_form(client, base, "pipeline-run-detail", &[("team", "team-a"), ("run", run)]).await;
        assert_eq!(status, 200, "{body}");
        let detail: Value = serde_json::from_str(&body).unwrap();
        if !matches!(detail["row"]["phase"].as_str(), Some("Pending" | "Running")) {
            return detail;
        }
        assert!(t0.elapsed() < Duration::from_secs(90), "the run did not end in 90 s: {detail}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn phase_of<'a>(detail: &'a Value, step: &str) -> &'a str {
    detail["steps"].as_array().unwrap().iter().find(|s| s["step"] == step).and_then(|s| s["phase"].as_str()).unwrap_or("missing")
}

#[tokio::test]
async fn a_pipeline_saved_in_the_portal_runs_on_argo_and_a_failing_step_says_why() {
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let base = portal.base.clone();
    let (dave, _) = browser();
    sign_in(&dave, &base, "dave", "/").await;

    let (status, body) = post_form(&dave, &base, "pipeline-images", &[("team", "team-a")]).await;
    assert_eq!(status, 200, "{body}");
    let images: Vec<String> = serde_json::from_str(&body).unwrap();
    let image = images.first().expect("the catalog offers a runtime image").clone();

    // dave saves a three-step pipeline.
    let name = unique("etl");
    let pipeline = json!({
        "name": name, "description": "Fetch, clean, train",
        "params": [{ "name": "day", "default": "2026-11-29" }],
        "steps": [step("fetch", &image, &[]), step("clean", &image, &["fetch"]), step("train", &image, &["clean"])],
    });
    let (status, body) = post_json(&dave, &base, "pipeline-save", json!({ "team": "team-a", "pipeline": pipeline, "new": true })).await;
    assert_eq!(status, 200, "{body}");
    // Saving it again as new is refused in words; nothing changes.
    let (status, body) = post_json(&dave, &base, "pipeline-save", json!({ "team": "team-a", "pipeline": pipeline, "new": true })).await;
    assert_eq!(status, 409, "{body}");
    // Saved again over itself (the editor's edit mode, linked from its page).
    let mut edited = pipeline.clone();
    edited["description"] = json!("Fetch, clean, train daily");
    let (status, body) = post_json(&dave, &base, "pipeline-save", json!({ "team": "team-a", "pipeline": edited, "new": false })).await;
    assert_eq!(status, 200, "{body}");
    let (status, html) = page(&dave, &base, &format!("/pipelines/team-a/p/{name}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Fetch, clean, train daily"), "the change is saved");
    assert!(html.contains(&format!("/pipelines/team-a/new?edit={name}")), "dave may edit it");
    assert_eq!(html.matches("data-testid=\"dag-node\"").count(), 3, "the diagram has the three steps");
    assert_eq!(html.matches("class=\"dag-edge\"").count(), 2);

    // It runs to Succeeded on the real controller, each step in turn.
    let (status, body) = post_json(&dave, &base, "pipeline-run", json!({ "team": "team-a", "name": name, "params": [["day", "2026-12-01"]] })).await;
    assert_eq!(status, 200, "{body}");
    let run: String = serde_json::from_str(&body).unwrap();
    assert!(run.starts_with(&format!("{name}-")), "{run}");
    let detail = finished(&dave, &base, &run).await;
    assert_eq!(detail["row"]["phase"], "Succeeded", "{detail}");
    for s in ["fetch", "clean", "train"] {
        assert_eq!(phase_of(&detail, s), "Succeeded", "{s}: {detail}");
    }
    assert_eq!(detail["params"], json!([["day", "2026-12-01"]]));
    let (_, html) = page(&dave, &base, &format!("/pipelines/team-a/runs/{run}")).await;
    assert_eq!(html.matches("data-phase=\"Succeeded\"").count() >= 3, true, "the diagram is green");
    // A step's log, read through Kubernetes' pods/log (kwok prints one line for any container).
    let (status, html) = page(&dave, &base, &format!("/pipelines/team-a/runs/{run}?step=clean")).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-testid=\"step-log\"") && html.contains("a simulated container"), "the step's log");

    // On the node, the clean step's command fails with exit code 3 (kwok
    // reads the annotation from the step's template).
    let admin = cluster_admin().await;
    let templates: Api<DynamicObject> = Api::namespaced_with(admin, "team-a", &app::pipelines::workflow::api_resource("WorkflowTemplate"));
    let mut t = templates.get(&name).await.unwrap();
    t.data["spec"]["templates"][2]["metadata"]["annotations"] = json!({ "kwok.atrium.dev/exit-code": "3" });
    t.metadata.managed_fields = None;
    templates.patch(&name, &PatchParams::default(), &Patch::Merge(&json!({ "spec": t.data["spec"] }))).await.unwrap();
    let (status, body) = post_json(&dave, &base, "pipeline-run", json!({ "team": "team-a", "name": name, "params": [] })).await;
    assert_eq!(status, 200, "{body}");
    let failing: String = serde_json::from_str(&body).unwrap();
    let detail = finished(&dave, &base, &failing).await;
    assert_eq!(detail["row"]["phase"], "Failed", "{detail}");
    assert_eq!(phase_of(&detail, "fetch"), "Succeeded");
    assert_eq!(phase_of(&detail, "clean"), "Failed", "{detail}");
    assert_ne!(phase_of(&detail, "train"), "Succeeded", "what waits for a failed step never runs");
    let (_, html) = page(&dave, &base, &format!("/pipelines/team-a/runs/{failing}")).await;
    assert!(html.contains("The step&#x27;s command failed with exit code 3.") || html.contains("The step's command failed with exit code 3."), "the reason in words");

    // Runs are listed, newest first, with who started them.
    let (_, html) = page(&dave, &base, "/pipelines/team-a/runs").await;
    assert!(html.contains(&run) && html.contains(&failing));
    // Both runs and the save are in the team's trail.
    let (tom, _) = browser();
    sign_in(&tom, &base, "tom", "/").await;
    let (_, csv) = page(&tom, &base, "/export/audit.csv?team=team-a&action=pipeline.").await;
    assert!(csv.lines().any(|l| l.contains("pipeline.create") && l.contains("dave") && l.contains(&name)), "{csv}");
    assert!(csv.lines().any(|l| l.contains("pipeline.update") && l.contains("dave") && l.contains(&name)), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.contains("pipeline.run") && l.contains(&name)).count(), 2, "{csv}");
}

#[tokio::test]
async fn bad_pipelines_are_refused_in_words_and_other_teams_pipelines_stay_closed() {
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let base = portal.base.clone();
    let (dave, _) = browser();
    sign_in(&dave, &base, "dave", "/").await;
    let (_, body) = post_form(&dave, &base, "pipeline-images", &[("team", "team-a")]).await;
    let image = serde_json::from_str::<Vec<String>>(&body).unwrap()[0].clone();

    let save = |pipeline: Value| post_json(&dave, &base, "pipeline-save", json!({ "team": "team-a", "pipeline": pipeline, "new": true }));
    // A cycle.
    let name = unique("loop");
    let (status, body) = save(json!({ "name": name, "description": "", "params": [],
        "steps": [step("a", &image, &["b"]), step("b", &image, &["a"])] })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("part of a cycle"), "{body}");
    // An image outside the catalog.
    let (status, body) = save(json!({ "name": name, "description": "", "params": [],
        "steps": [step("a", "docker.io/someone/miner:latest", &[])] })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("is not a runtime image of the catalog"), "{body}");
    // Nothing was made by either.
    assert_eq!(page(&dave, &base, &format!("/pipelines/team-a/p/{name}")).await.0, 404);

    // A run with a parameter the pipeline does not have.
    let ok = unique("one");
    let (status, body) = save(json!({ "name": ok, "description": "", "params": [], "steps": [step("a", &image, &[])] })).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post_json(&dave, &base, "pipeline-run", json!({ "team": "team-a", "name": ok, "params": [["nope", "1"]] })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("no parameter “nope”"), "{body}");

    // alice (data scientist) reads team-a but may not author pipelines.
    let (alice, _) = browser();
    sign_in(&alice, &base, "alice", "/").await;
    let (status, _) = post_json(&alice, &base, "pipeline-save", json!({ "team": "team-a", "new": true,
        "pipeline": { "name": unique("nope"), "description": "", "params": [], "steps": [step("a", &image, &[])] } })).await;
    assert_eq!(status, 403);
    // maria (team-b) does not see team-a's pipelines; a team-a pipeline
    // asked for under team-b does not exist there.
    let (maria, _) = browser();
    sign_in(&maria, &base, "maria", "/").await;
    assert_eq!(page(&maria, &base, &format!("/pipelines/team-a/p/{ok}")).await.0, 403);
    assert_eq!(page(&maria, &base, &format!("/pipelines/team-b/p/{ok}")).await.0, 404);
    assert_eq!(page(&maria, &base, "/pipelines/team-a/runs/none-such").await.0, 403);
}
