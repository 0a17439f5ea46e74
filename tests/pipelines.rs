//! Pipelines against the real stack: pipelines saved through the portal are
//! WorkflowTemplates written as the person, runs are Workflows that Argo's
//! real workflow-controller runs, and kwok plays the nodes (a step's pod
//! completes, or fails with the exit code its annotation names). Logs come
//! through the real pods/log API.

mod common;

use common::{LOGIN_PORT, browser, cluster_admin, login_port, object_store, sign_in, start_portal, unique};
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
    let portal = start_portal(LOGIN_PORT, |c| c.object_store = object_store()).await;
    let base = portal.base.clone();
    let (dave, _) = browser();
    sign_in(&dave, &base, "dave", "/").await;

    let (status, body) = post_form(&dave, &base, "pipeline-images", &[("team", "team-a")]).await;
    assert_eq!(status, 200, "{body}");
    let choices: Value = serde_json::from_str(&body).unwrap();
    let image = choices["images"][0].as_str().expect("the catalog offers a runtime image").to_string();
    assert!(choices["connections"].as_array().unwrap().iter().any(|c| c == "object-storage"), "the team's data connections: {choices}");
    assert_eq!(choices["quota"]["cpu"][1], "16", "the most one step may ask for: {choices}");

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
    assert!(!html.contains("step-log-archived"), "read from the pod while it exists");

    // Once the steps have ended, their logs are archived; after the pods
    // are gone (as Argo's pod GC would do), the log is read from there.
    let admin = cluster_admin().await;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(admin.clone(), "team-a");
    let of_run = kube::api::ListParams::default().labels(&format!("workflows.argoproj.io/workflow={run}"));
    let archive = app::pipelines::archive::LogArchive::new(&object_store()).unwrap().expect("the stack has an object store");
    let t0 = Instant::now();
    for pod in pods.list(&of_run).await.unwrap().items {
        let name = pod.metadata.name.clone().unwrap();
        let step = pod.metadata.labels.as_ref().unwrap()[app::pipelines::workflow::STEP_LABEL].clone();
        while !archive.has("team-a", &run, &step, &name).await.unwrap() {
            assert!(t0.elapsed() < Duration::from_secs(30), "the log of {name} was not archived in 30 s");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    pods.delete_collection(&kube::api::DeleteParams { grace_period_seconds: Some(0), ..Default::default() }, &of_run).await.unwrap();
    while !pods.list(&of_run).await.unwrap().items.is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(60), "the run's pods are not gone");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (status, html) = page(&dave, &base, &format!("/pipelines/team-a/runs/{run}?step=clean")).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-testid=\"step-log-archived\"") && html.contains("a simulated container"), "the archived log");
    // Other members read it too; another team's people do not.
    let (alice, _) = browser();
    sign_in(&alice, &base, "alice", "/").await;
    let (status, body) = post_form(&alice, &base, "pipeline-step-log", &[("team", "team-a"), ("run", &run), ("step", "clean")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"archived\":true"), "{body}");
    let (maria, _) = browser();
    sign_in(&maria, &base, "maria", "/").await;
    let (status, _) = post_form(&maria, &base, "pipeline-step-log", &[("team", "team-a"), ("run", &run), ("step", "clean")]).await;
    assert_eq!(status, 403);

    // On the node, the clean step's command fails with exit code 3 (kwok
    // reads the annotation from the step's template).
    let templates: Api<DynamicObject> = Api::namespaced_with(admin.clone(), "team-a", &app::pipelines::workflow::api_resource("WorkflowTemplate"));
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

    // Runs are listed, newest first across all the team's runs (the
    // portal's index of every run), with who started them; filters narrow
    // them down.
    let (_, html) = page(&dave, &base, &format!("/pipelines/team-a/runs?pipeline={name}")).await;
    assert!(html.contains("data-testid=\"runs-summary\""), "from the index: {html}");
    let (at_run, at_failing) = (html.find(&format!("data-run=\"{run}\"")).expect("the first run"), html.find(&format!("data-run=\"{failing}\"")).expect("the second"));
    assert!(at_failing < at_run, "the newest run comes first");
    let (_, html) = page(&dave, &base, &format!("/pipelines/team-a/runs?pipeline={name}&phase=Failed")).await;
    assert!(html.contains(&failing) && !html.contains(&format!("data-run=\"{run}\"")), "only the failed run");

    // Retried in place: the failed step runs again (a new pod), the step
    // that succeeded is kept as it was. It fails again, as its cause is
    // still there.
    let started = |d: &Value, step: &str| d["steps"].as_array().unwrap().iter().find(|s| s["step"] == step).map(|s| s["started_ms"].clone()).unwrap();
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(admin.clone(), "team-a");
    let clean_pod = || async {
        let of_clean = kube::api::ListParams::default().labels(&format!("workflows.argoproj.io/workflow={failing},{}=clean", app::pipelines::workflow::STEP_LABEL));
        pods.list(&of_clean).await.unwrap().items.into_iter().filter_map(|p| p.metadata.uid).collect::<Vec<_>>()
    };
    let first_pod = clean_pod().await;
    let (status, body) = post_form(&dave, &base, "pipeline-run-retry", &[("team", "team-a"), ("run", &failing)]).await;
    assert_eq!(status, 200, "{body}");
    let retried = finished(&dave, &base, &failing).await;
    assert_eq!(retried["row"]["phase"], "Failed", "{retried}");
    assert_eq!(started(&retried, "fetch"), started(&detail, "fetch"), "fetch is not run again");
    let second_pod = clean_pod().await;
    assert_eq!(second_pod.len(), 1, "{second_pod:?}");
    assert_ne!(second_pod, first_pod, "clean ran again in a new pod");
    // Its cause fixed (as a flaky source recovers: the run's own copy of the
    // pipeline no longer fails on the node), a retry finishes the run.
    let runs: Api<DynamicObject> = Api::namespaced_with(admin.clone(), "team-a", &app::pipelines::workflow::api_resource("Workflow"));
    let mut stored = runs.get(&failing).await.unwrap().data["status"]["storedWorkflowTemplateSpec"].clone();
    stored["templates"][2]["metadata"]["annotations"] = json!({});
    runs.patch(&failing, &PatchParams::default(), &Patch::Merge(&json!({ "status": { "storedWorkflowTemplateSpec": stored } }))).await.unwrap();
    // alice (data scientist) may not retry it; a run that did not fail is not retried.
    let (alice, _) = browser();
    sign_in(&alice, &base, "alice", "/").await;
    let (status, _) = post_form(&alice, &base, "pipeline-run-retry", &[("team", "team-a"), ("run", &failing)]).await;
    assert_eq!(status, 403);
    let (status, body) = post_form(&dave, &base, "pipeline-run-retry", &[("team", "team-a"), ("run", &run)]).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("succeeded: there is nothing to retry"), "{body}");
    let (status, body) = post_form(&dave, &base, "pipeline-run-retry", &[("team", "team-a"), ("run", &failing)]).await;
    assert_eq!(status, 200, "{body}");
    let recovered = finished(&dave, &base, &failing).await;
    assert_eq!(recovered["row"]["phase"], "Succeeded", "{recovered}");
    assert_eq!(phase_of(&recovered, "train"), "Succeeded", "{recovered}");
    // Both runs and the save are in the team's trail.
    let (tom, _) = browser();
    sign_in(&tom, &base, "tom", "/").await;
    let (_, csv) = page(&tom, &base, "/export/audit.csv?team=team-a&action=pipeline.").await;
    assert!(csv.lines().any(|l| l.contains("pipeline.create") && l.contains("dave") && l.contains(&name)), "{csv}");
    assert!(csv.lines().any(|l| l.contains("pipeline.update") && l.contains("dave") && l.contains(&name)), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.contains("pipeline.run") && l.contains(&name)).count(), 2, "{csv}");
    assert_eq!(csv.lines().filter(|l| l.contains("pipeline.retry") && l.contains(&failing) && l.contains("dave")).count(), 2, "{csv}");
}

#[tokio::test]
async fn bad_pipelines_are_refused_in_words_and_other_teams_pipelines_stay_closed() {
    let _port = login_port().await;
    let (portal, dave, image) = dave_signed_in().await;
    let base = portal.base.clone();

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
    // A data connection the team does not have (team-b's is not team-a's).
    let mut borrowing = step("a", &image, &[]);
    borrowing["connections"] = json!(["team-b-storage"]);
    let (status, body) = save(json!({ "name": name, "description": "", "params": [], "steps": [borrowing] })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("“team-b-storage” is not one of the team's data connections"), "{body}");
    // A step larger than the team's whole quota (16 CPU) could never start.
    let mut huge = step("a", &image, &[]);
    huge["cpu"] = json!("64");
    let (status, body) = save(json!({ "name": name, "description": "", "params": [], "steps": [huge] })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("It asks for 64 CPU; the team's quota allows 16 in all."), "{body}");
    // Nothing was made by any of them.
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

/// dave, signed in to a fresh portal, and the catalog's first runtime image.
async fn dave_signed_in() -> (common::Portal, reqwest::Client, String) {
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let (dave, _) = browser();
    sign_in(&dave, &portal.base, "dave", "/").await;
    let (_, body) = post_form(&dave, &portal.base, "pipeline-images", &[("team", "team-a")]).await;
    let image = serde_json::from_str::<Value>(&body).unwrap()["images"][0].as_str().unwrap().to_string();
    (portal, dave, image)
}

/// dave, signed in to a fresh portal, with a saved pipeline of `steps`
/// (built from the catalog's first runtime image) and a parameter `day`.
async fn dave_saves(prefix: &str, steps: impl Fn(&str) -> Vec<Value>) -> (common::Portal, reqwest::Client, String) {
    let (portal, dave, image) = dave_signed_in().await;
    let base = portal.base.clone();
    let name = unique(prefix);
    let pipeline = json!({ "name": name, "description": "", "params": [{ "name": "day", "default": "today" }], "steps": steps(&image) });
    let (status, body) = post_json(&dave, &base, "pipeline-save", json!({ "team": "team-a", "pipeline": pipeline, "new": true })).await;
    assert_eq!(status, 200, "{body}");
    (portal, dave, name)
}

fn schedule(name: &str, cron: &str, zone: &str, params: Value) -> Value {
    json!({ "name": name, "cron": cron, "timezone": zone, "concurrency": "Forbid", "suspended": false, "keep": 5, "params": params })
}

#[tokio::test]
async fn a_schedule_fires_on_argo_and_can_be_suspended_and_deleted_keeping_its_runs() {
    let _port = login_port().await;
    let (portal, dave, name) = dave_saves("nightly", |image| vec![step("a", image, &[])]).await;
    let base = portal.base.clone();

    // The form shows the next five times in the schedule's own time zone.
    let (status, body) = post_form(&dave, &base, "pipeline-schedule-preview", &[("cron", "30 6 * * MON-FRI"), ("timezone", "Europe/Berlin")]).await;
    assert_eq!(status, 200, "{body}");
    let times: Vec<String> = serde_json::from_str(&body).unwrap();
    assert_eq!(times.len(), 5, "{times:?}");
    assert!(times.iter().all(|t| t.contains("06:30 CE") && !t.starts_with("Sat") && !t.starts_with("Sun")), "{times:?}");

    // Bad schedules are refused in words, and nothing is made.
    let save = |s: Value| post_json(&dave, &base, "pipeline-schedule-save", json!({ "team": "team-a", "pipeline": name, "schedule": s }));
    let sched = unique("every");
    for (bad, says) in [
        (schedule(&sched, "0 6 * *", "UTC", json!([])), "five fields"),
        (schedule(&sched, "0 25 * * *", "UTC", json!([])), "hour field"),
        (schedule(&sched, "0 6 * * *", "Mars/Olympus", json!([])), "not a time zone"),
        (schedule(&sched, "0 0 30 2 *", "UTC", json!([])), "never fires"),
        (schedule(&sched, "0 6 * * *", "UTC", json!([["nope", "1"]])), "no parameter “nope”"),
    ] {
        let (status, body) = save(bad).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains(says), "{says}: {body}");
    }
    let admin = cluster_admin().await;
    let crons: Api<DynamicObject> = Api::namespaced_with(admin.clone(), "team-a", &app::pipelines::workflow::api_resource("CronWorkflow"));
    assert!(crons.get_opt(&sched).await.unwrap().is_none(), "nothing half-made");
    // alice (data scientist) may read pipelines but not schedule them.
    let (alice, _) = browser();
    sign_in(&alice, &base, "alice", "/").await;
    let (status, _) = post_json(&alice, &base, "pipeline-schedule-save", json!({ "team": "team-a", "pipeline": name, "schedule": schedule(&sched, "@every 10s", "UTC", json!([])) })).await;
    assert_eq!(status, 403);

    // Every 10 s: the real controller starts runs of the saved pipeline, with
    // the schedule's parameter values, and they run to the end.
    let (status, body) = save(schedule(&sched, "@every 10s", "UTC", json!([["day", "scheduled"]]))).await;
    assert_eq!(status, 200, "{body}");
    let workflows: Api<DynamicObject> = Api::namespaced_with(admin.clone(), "team-a", &app::pipelines::workflow::api_resource("Workflow"));
    let by_schedule = kube::api::ListParams::default().labels(&format!("workflows.argoproj.io/cron-workflow={sched}"));
    let t0 = Instant::now();
    let fired = loop {
        let list = workflows.list(&by_schedule).await.unwrap();
        if let Some(w) = list.items.iter().find(|w| w.data["status"]["phase"] == "Succeeded") {
            break w.clone();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no scheduled run succeeded in 60 s: {:?}", list.items.iter().map(|w| &w.data["status"]["phase"]).collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let run = fired.metadata.name.clone().unwrap();
    assert_eq!(fired.data["spec"]["arguments"]["parameters"][0]["value"], "scheduled");
    // The pipeline's page lists it with its runs and the schedule with its next times.
    let (_, html) = page(&dave, &base, &format!("/pipelines/team-a/p/{name}")).await;
    assert!(html.contains(&run), "a scheduled run is one of the pipeline's runs");
    assert!(html.contains(&format!("schedule {sched}")), "it says the schedule started it");
    assert!(html.contains("data-testid=\"schedule-row\"") && html.contains("data-testid=\"schedule-next\""), "the schedule is listed");

    // Suspended, no new runs start; resumed, they do again. Both audited.
    let (status, body) = post_form(&dave, &base, "pipeline-schedule-suspend", &[("team", "team-a"), ("name", &sched), ("suspend", "true")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(crons.get(&sched).await.unwrap().data["spec"]["suspend"], true);
    let (_, html) = page(&dave, &base, &format!("/pipelines/team-a/p/{name}")).await;
    assert!(html.contains("data-suspended=\"true\""), "shown suspended");
    let (status, _) = post_form(&dave, &base, "pipeline-schedule-suspend", &[("team", "team-a"), ("name", &sched), ("suspend", "false")]).await;
    assert_eq!(status, 200);
    assert_eq!(crons.get(&sched).await.unwrap().data["spec"]["suspend"], false);

    // Deleted, its runs stay (they are orphaned, not collected with it).
    let (status, body) = post_form(&dave, &base, "pipeline-schedule-delete", &[("team", "team-a"), ("name", &sched)]).await;
    assert_eq!(status, 200, "{body}");
    let t0 = Instant::now();
    while crons.get_opt(&sched).await.unwrap().is_some() {
        assert!(t0.elapsed() < Duration::from_secs(20), "the schedule is gone (once its runs are orphaned)");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let kept = workflows.get_opt(&run).await.unwrap().expect("the scheduled run stays after its schedule is deleted");
    assert!(kept.metadata.owner_references.as_ref().is_none_or(|o| o.is_empty()), "the run no longer belongs to the deleted schedule");
    let (tom, _) = browser();
    sign_in(&tom, &base, "tom", "/").await;
    let (_, csv) = page(&tom, &base, "/export/audit.csv?team=team-a&action=schedule.").await;
    for action in ["schedule.create", "schedule.suspend", "schedule.resume", "schedule.delete"] {
        assert!(csv.lines().any(|l| l.contains(action) && l.contains("dave") && l.contains(&sched)), "{action}: {csv}");
    }
}

#[tokio::test]
async fn a_running_pipeline_can_be_stopped_and_an_ended_one_started_again() {
    let _port = login_port().await;
    let (portal, dave, name) = dave_saves("slow", |image| {
        // The first step uses the team's object storage.
        let mut first = step("first", image, &[]);
        first["connections"] = json!(["object-storage"]);
        vec![first, step("second", image, &["first"])]
    })
    .await;
    let base = portal.base.clone();
    // On the node, the first step runs for ten minutes.
    let admin = cluster_admin().await;
    let templates: Api<DynamicObject> = Api::namespaced_with(admin, "team-a", &app::pipelines::workflow::api_resource("WorkflowTemplate"));
    let t = templates.get(&name).await.unwrap();
    let mut spec = t.data["spec"].clone();
    spec["templates"][1]["metadata"]["annotations"] = json!({ "kwok.atrium.dev/delay": "600s" });
    templates.patch(&name, &PatchParams::default(), &Patch::Merge(&json!({ "spec": spec }))).await.unwrap();

    let (status, body) = post_json(&dave, &base, "pipeline-run", json!({ "team": "team-a", "name": name, "params": [["day", "monday"]] })).await;
    assert_eq!(status, 200, "{body}");
    let run: String = serde_json::from_str(&body).unwrap();
    let t0 = Instant::now();
    loop {
        let (_, body) = post_form(&dave, &base, "pipeline-run-detail", &[("team", "team-a"), ("run", &run)]).await;
        let detail: Value = serde_json::from_str(&body).unwrap();
        if phase_of(&detail, "first") == "Running" {
            assert_eq!(detail["may_stop"], true);
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the first step did not start: {detail}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The running step's pod has the data connection's keys, its log is
    // live (the run page follows it) and its events say where it went.
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(cluster_admin().await, "team-a");
    let of_first = kube::api::ListParams::default().labels(&format!("workflows.argoproj.io/workflow={run},{}=first", app::pipelines::workflow::STEP_LABEL));
    let pod = pods.list(&of_first).await.unwrap().items.pop().expect("the first step's pod");
    let main = pod.spec.unwrap().containers.into_iter().find(|c| c.name == "main").unwrap();
    assert_eq!(main.env_from.unwrap()[0].secret_ref.as_ref().unwrap().name, "object-storage");
    let (status, body) = post_form(&dave, &base, "pipeline-step-log", &[("team", "team-a"), ("run", &run), ("step", "first")]).await;
    assert_eq!(status, 200, "{body}");
    let log: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(log["live"], true, "{log}");
    assert!(log["events"].as_array().unwrap().iter().any(|e| e["reason"] == "Scheduled"), "the scheduler's event: {log}");
    // A run page waiting on the run hears of the change that terminating makes.
    let (_, body) = post_form(&dave, &base, "pipeline-run-detail", &[("team", "team-a"), ("run", &run)]).await;
    let seen = serde_json::from_str::<Value>(&body).unwrap()["version"].as_str().unwrap().to_string();
    let waiting = {
        let (dave, base, run, seen) = (dave.clone(), base.clone(), run.clone(), seen.clone());
        tokio::spawn(async move { post_form(&dave, &base, "pipeline-run-await", &[("team", "team-a"), ("run", &run), ("seen", &seen)]).await })
    };
    // Terminated, it ends at once, failed, and the second step never starts.
    let (status, body) = post_form(&dave, &base, "pipeline-run-stop", &[("team", "team-a"), ("run", &run), ("terminate", "true")]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = waiting.await.unwrap();
    assert_eq!(status, 200, "{body}");
    let changed: Option<String> = serde_json::from_str(&body).unwrap();
    assert!(changed.is_some_and(|v| !v.is_empty() && v != seen), "the wait ends with the run's new version: {body}");
    let detail = finished(&dave, &base, &run).await;
    assert_eq!(detail["row"]["phase"], "Failed", "{detail}");
    assert_ne!(phase_of(&detail, "second"), "Succeeded", "{detail}");
    // Stopping an ended run is refused in words.
    let (status, body) = post_form(&dave, &base, "pipeline-run-stop", &[("team", "team-a"), ("run", &run), ("terminate", "false")]).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("has already ended"), "{body}");
    // Started again: a new run of the same pipeline with the same values.
    let (status, body) = post_form(&dave, &base, "pipeline-run-resubmit", &[("team", "team-a"), ("run", &run)]).await;
    assert_eq!(status, 200, "{body}");
    let again: String = serde_json::from_str(&body).unwrap();
    assert_ne!(again, run);
    let (_, body) = post_form(&dave, &base, "pipeline-run-detail", &[("team", "team-a"), ("run", &again)]).await;
    let detail: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(detail["row"]["pipeline"], name.as_str());
    assert_eq!(detail["params"], json!([["day", "monday"]]));
    // alice (data scientist) sees the run but may not stop it.
    let (alice, _) = browser();
    sign_in(&alice, &base, "alice", "/").await;
    let (_, body) = post_form(&alice, &base, "pipeline-run-detail", &[("team", "team-a"), ("run", &again)]).await;
    let seen: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["may_stop"], false);
    let (status, _) = post_form(&alice, &base, "pipeline-run-stop", &[("team", "team-a"), ("run", &again), ("terminate", "true")]).await;
    assert_eq!(status, 403);
    let (status, _) = post_form(&dave, &base, "pipeline-run-stop", &[("team", "team-a"), ("run", &again), ("terminate", "true")]).await;
    assert_eq!(status, 200, "dave ends the second run too");
    let (tom, _) = browser();
    sign_in(&tom, &base, "tom", "/").await;
    let (_, csv) = page(&tom, &base, "/export/audit.csv?team=team-a&action=pipeline.").await;
    assert!(csv.lines().any(|l| l.contains("pipeline.terminate") && l.contains(&run)), "{csv}");
    assert!(csv.lines().any(|l| l.contains("pipeline.resubmit") && l.contains(&run)), "{csv}");
}
