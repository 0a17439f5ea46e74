//! Experiments through the portal's MLflow gateway, against the real MLflow
//! of the local stack and the real API server: who may see and change a
//! team's experiments is Kubernetes RBAC; ids of another team are unknown;
//! MLflow's refusals and silences read as sentences.

mod common;

use common::{LOGIN_PORT, browser, login_port, sign_in, stack, start_portal, unique};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// MLflow's own REST API, as the seed scripts use it (tests only: nothing
/// else may reach MLflow directly).
async fn mlflow(workspace: &str, path: &str, body: Value) -> Value {
    let base = stack("ATRIUM_MLFLOW__URL");
    let client = reqwest::Client::new();
    if client.get(format!("{base}/api/3.0/mlflow/workspaces/{workspace}")).send().await.unwrap().status() == 404 {
        client.post(format!("{base}/api/3.0/mlflow/workspaces")).json(&json!({ "name": workspace })).send().await.unwrap();
    }
    let res = client.post(format!("{base}{path}")).header("X-MLFLOW-WORKSPACE", workspace).json(&body).send().await.unwrap();
    assert!(res.status().is_success(), "MLflow {path}: {}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// An experiment with one finished run logging `rmse`, made in `team`'s workspace.
async fn seed(team: &str, name: &str) -> (String, String) {
    let exp = mlflow(team, "/api/2.0/mlflow/experiments/create", json!({ "name": name })).await;
    let id = exp["experiment_id"].as_str().unwrap().to_string();
    let run = mlflow(team, "/api/2.0/mlflow/runs/create", json!({ "experiment_id": id, "run_name": "baseline", "start_time": 1_700_000_000_000i64 })).await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    mlflow(team, "/api/2.0/mlflow/runs/log-metric", json!({ "run_id": run_id, "key": "rmse", "value": 0.25, "timestamp": 1, "step": 0 })).await;
    mlflow(team, "/api/2.0/mlflow/runs/log-parameter", json!({ "run_id": run_id, "key": "lr", "value": "0.01" })).await;
    (id, run_id)
}

/// Calls a server function as the signed-in browser: its status and body.
async fn call(client: &reqwest::Client, base: &str, endpoint: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = client.post(format!("{base}/api/{endpoint}")).header("Origin", base).form(form).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn page(client: &reqwest::Client, base: &str, path: &str) -> (u16, String) {
    let res = client.get(format!("{base}{path}")).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn who_may_see_and_change_a_teams_experiments_is_kubernetes_rbac() {
    let (b_id, b_run) = seed("team-b", &unique("secret-b")).await;
    let (a_id, a_run) = seed("team-a", &unique("churn")).await;
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let base = portal.base.clone();

    // alice: data scientist of team-a (read and write there, nothing in team-b).
    let (alice, _) = browser();
    sign_in(&alice, &base, "alice", "/").await;
    let name = unique("from-portal");
    let (status, body) = call(&alice, &base, "experiment-create", &[("team", "team-a"), ("name", &name)]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&alice, &base, "experiments", &[("deleted", "false")]).await;
    assert_eq!(status, 200, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    let rows = list["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["name"] == name.as_str()) && rows.iter().any(|r| r["id"] == a_id.as_str()), "alice sees team-a's experiments: {body}");
    assert!(rows.iter().all(|r| r["team"] == "team-a" && r["id"] != b_id.as_str()), "and none of team-b's: {body}");
    let (status, body) = page(&alice, &base, &format!("/experiments/team-a/{a_id}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("baseline") && body.contains("0.25"), "the run with its metric: {body}");
    assert_eq!(page(&alice, &base, &format!("/experiments/team-a/{a_id}/runs/{a_run}")).await.0, 200);

    // Another team's ids are unknown in this team's workspace: 404, never its data.
    let (status, body) = page(&alice, &base, &format!("/experiments/team-a/{b_id}")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = page(&alice, &base, &format!("/experiments/team-a/{a_id}/runs/{b_run}")).await;
    assert_eq!(status, 404);
    assert!(!body.contains("rmse"), "nothing of team-b's run shows");
    // And team-b itself is closed to her.
    assert_eq!(page(&alice, &base, &format!("/experiments/team-b/{b_id}")).await.0, 403);
    let (status, _) = call(&alice, &base, "experiment-create", &[("team", "team-b"), ("name", "intruder")]).await;
    assert_eq!(status, 403);

    // dave: data engineer of team-a reads but may not change.
    let (dave, _) = browser();
    sign_in(&dave, &base, "dave", "/").await;
    assert_eq!(page(&dave, &base, &format!("/experiments/team-a/{a_id}")).await.0, 200);
    let (status, body) = call(&dave, &base, "experiment-create", &[("team", "team-a"), ("name", "not-allowed")]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("You may not change the experiments of team"), "{body}");
    let (status, _) = call(&dave, &base, "experiment-delete", &[("team", "team-a"), ("id", &a_id), ("deleted", "true")]).await;
    assert_eq!(status, 403);

    // maria: ML engineer of team-b only.
    let (maria, _) = browser();
    sign_in(&maria, &base, "maria", "/").await;
    assert_eq!(page(&maria, &base, &format!("/experiments/team-b/{b_id}")).await.0, 200);
    assert_eq!(page(&maria, &base, &format!("/experiments/team-a/{a_id}")).await.0, 403);
}

#[tokio::test]
async fn rename_delete_and_restore_are_audited_and_names_are_checked() {
    let (id, _) = seed("team-a", &unique("to-rename")).await;
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let base = portal.base.clone();
    let (alice, _) = browser();
    sign_in(&alice, &base, "alice", "/").await;

    let (status, body) = call(&alice, &base, "experiment-create", &[("team", "team-a"), ("name", "  ")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Give the experiment a name."), "{body}");
    let renamed = unique("renamed");
    assert_eq!(call(&alice, &base, "experiment-rename", &[("team", "team-a"), ("id", &id), ("name", &renamed)]).await.0, 200);
    assert_eq!(call(&alice, &base, "experiment-delete", &[("team", "team-a"), ("id", &id), ("deleted", "true")]).await.0, 200);
    let (_, active) = call(&alice, &base, "experiments", &[("team", "team-a"), ("deleted", "false")]).await;
    assert!(!active.contains(&renamed), "a deleted experiment leaves the active list");
    let (_, deleted) = call(&alice, &base, "experiments", &[("team", "team-a"), ("deleted", "true")]).await;
    assert!(deleted.contains(&renamed), "and shows among deleted ones: {deleted}");
    assert_eq!(call(&alice, &base, "experiment-delete", &[("team", "team-a"), ("id", &id), ("deleted", "false")]).await.0, 200);
    let (_, active) = call(&alice, &base, "experiments", &[("team", "team-a"), ("deleted", "false")]).await;
    assert!(active.contains(&renamed), "restored");

    // The team admin reads the trail.
    let (tom, _) = browser();
    sign_in(&tom, &base, "tom", "/").await;
    let (_, csv) = page(&tom, &base, "/export/audit.csv?team=team-a&action=experiment.").await;
    for action in ["experiment.rename", "experiment.delete", "experiment.restore"] {
        assert!(csv.lines().any(|l| l.contains(action) && l.contains("alice") && l.contains(&renamed)), "{action} audited: {csv}");
    }
}

#[tokio::test]
async fn a_wrong_filter_gets_a_plain_message_naming_the_bad_part() {
    let (id, _) = seed("team-a", &unique("filters")).await;
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let (alice, _) = browser();
    sign_in(&alice, &portal.base, "alice", "/").await;
    let (status, body) = page(&alice, &portal.base, &format!("/experiments/team-a/{id}?filter=metrics.rmse+%3E%3E+3")).await;
    assert_eq!(status, 422, "{body}");
    let at = body.find("data-testid=\"runs-error\"").expect("the refusal is shown");
    let said = body[at..].split_once('>').and_then(|(_, s)| s.split("</p>").next()).unwrap();
    assert!(said.starts_with("MLflow cannot use this filter or sort:") && said.contains("&gt;&gt;"), "{said}");
    assert!(body.contains("data-testid=\"runs-filter\""), "the filter stays on the page to fix");
    // Sorting by a metric happens in MLflow; a good filter narrows the runs.
    let (status, body) = page(&alice, &portal.base, &format!("/experiments/team-a/{id}?filter=metrics.rmse+%3C+0.5&sort=metrics.rmse&dir=asc")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("baseline"));
    let (_, body) = page(&alice, &portal.base, &format!("/experiments/team-a/{id}?filter=metrics.rmse+%3E+0.5")).await;
    assert!(body.contains("No runs match."), "{body}");
}

#[tokio::test]
async fn a_silent_tracking_server_is_said_within_seconds_and_the_rest_keeps_working() {
    // A server that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |c| {
        c.mlflow.url = format!("http://{addr}");
        c.mlflow.timeout_seconds = 2;
    })
    .await;
    let (alice, _) = browser();
    sign_in(&alice, &portal.base, "alice", "/").await;
    let t0 = Instant::now();
    let (status, body) = page(&alice, &portal.base, "/experiments").await;
    assert!(t0.elapsed() < Duration::from_secs(5), "answered in {:?}", t0.elapsed());
    assert_eq!(status, 503);
    assert!(body.contains("The tracking server is not answering right now."), "{body}");
    assert_eq!(page(&alice, &portal.base, "/notebooks").await.0, 200, "the rest of the portal works");
}

#[tokio::test]
async fn a_team_gets_its_workspace_when_it_is_created_and_keeps_its_runs_when_retired() {
    let team = unique("it-exp");
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    // The first team admin must have signed in once.
    sign_in(&browser().0, &portal.base, "tom", "/").await;
    let (paula, _) = browser();
    sign_in(&paula, &portal.base, "paula", "/").await;
    let (status, body) = call(&paula, &portal.base, "admin-team-create", &[("name", &team), ("display_name", "Experiment tests"), ("admin", "tom")]).await;
    let _cleanup = common::notebooks::Doomed(team.clone());
    assert_eq!(status, 200, "{body}");
    let base = stack("ATRIUM_MLFLOW__URL");
    let workspace = |team: String| {
        let base = base.clone();
        async move { reqwest::get(format!("{base}/api/3.0/mlflow/workspaces/{team}")).await.unwrap().json::<Value>().await.unwrap() }
    };
    let ws = workspace(team.clone()).await;
    assert_eq!(ws["workspace"]["name"], team.as_str(), "creating the team made its workspace: {ws}");
    seed(&team, "kept").await;

    let (status, body) = call(&paula, &portal.base, "admin-team-retire", &[("team", &team), ("typed", &team)]).await;
    assert_eq!(status, 200, "{body}");
    let ws = workspace(team.clone()).await;
    assert!(ws["workspace"]["description"].as_str().unwrap_or_default().starts_with("Archived"), "{ws}");
    let kept = reqwest::Client::new()
        .post(format!("{base}/api/2.0/mlflow/experiments/search"))
        .header("X-MLFLOW-WORKSPACE", &team)
        .json(&json!({ "max_results": 10 }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(kept.contains("\"kept\""), "the retired team's runs are kept: {kept}");
}

#[tokio::test]
async fn runs_are_compared_within_their_experiment_and_charted_within_the_point_budget() {
    let (a_id, a_run) = seed("team-a", &unique("cmp")).await;
    let (_, b_run) = seed("team-b", &unique("cmp-b")).await;
    // A second run in alice's experiment with a long history: 5,000 steps.
    let run = mlflow("team-a", "/api/2.0/mlflow/runs/create", json!({ "experiment_id": a_id, "run_name": "long" })).await;
    let long = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let metrics: Vec<Value> = (0..5000).map(|s| json!({ "key": "rmse", "value": 1.0 / (s as f64 + 1.0), "timestamp": s, "step": s })).collect();
    for batch in metrics.chunks(1000) {
        mlflow("team-a", "/api/2.0/mlflow/runs/log-batch", json!({ "run_id": long, "metrics": batch })).await;
    }
    mlflow("team-a", "/api/2.0/mlflow/runs/log-parameter", json!({ "run_id": long, "key": "lr", "value": "0.1" })).await;

    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let (alice, _) = browser();
    sign_in(&alice, &portal.base, "alice", "/").await;
    let (status, body) = page(&alice, &portal.base, &format!("/experiments/team-a/{a_id}/compare?run={a_run}&run={long}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("2 runs compared"));
    assert!(body.contains("data-param=\"lr\" data-differs=\"true\""), "lr differs: 0.01 and 0.1");
    let points: usize = body
        .split("data-points=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse::<usize>().ok())
        .sum();
    assert!(points <= 1000, "at most 1,000 points drawn, got {points}");
    assert!(points > 100, "the long history is drawn, not dropped: {points}");

    // A run of another team is not in this experiment: nothing of it shows.
    let (status, body) = page(&alice, &portal.base, &format!("/experiments/team-a/{a_id}/compare?run={a_run}&run={b_run}")).await;
    assert_eq!(status, 404, "{body}");
    // Ids are checked before anything reaches MLflow's filter.
    let (status, body) = page(&alice, &portal.base, &format!("/experiments/team-a/{a_id}/compare?run={a_run}&run=x%27)%20OR%20(1=1")).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("is not a run id"));
}

#[tokio::test]
async fn a_runs_description_is_edited_by_writers_and_each_persons_columns_are_remembered() {
    let (id, run) = seed("team-a", &unique("describe")).await;
    let _port = login_port().await;
    let portal = start_portal(LOGIN_PORT, |_| {}).await;
    let base = portal.base.clone();
    let (alice, _) = browser();
    sign_in(&alice, &base, "alice", "/").await;
    let run_page = format!("/experiments/team-a/{id}/runs/{run}");

    // alice describes the run; the page shows it, the trail has it.
    let text = "Baseline with the <default> learning rate.";
    let (status, body) = call(&alice, &base, "run-describe", &[("team", "team-a"), ("run", &run), ("text", text)]).await;
    assert_eq!(status, 200, "{body}");
    let (_, html) = page(&alice, &base, &run_page).await;
    assert!(html.contains("Baseline with the &lt;default&gt; learning rate."), "the description, escaped");
    assert!(html.contains("data-testid=\"description-edit\""), "alice may edit it");
    let long = "x".repeat(5001);
    let (status, body) = call(&alice, &base, "run-describe", &[("team", "team-a"), ("run", &run), ("text", &long)]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("at most 5000 are kept"), "{body}");
    let (_, html) = page(&alice, &base, &run_page).await;
    assert!(html.contains("Baseline with the"), "a refused description changes nothing");
    // dave reads it but may not change it.
    let (dave, _) = browser();
    sign_in(&dave, &base, "dave", "/").await;
    let (_, html) = page(&dave, &base, &run_page).await;
    assert!(html.contains("Baseline with the") && !html.contains("description-edit"), "dave reads, without an edit button");
    let (status, _) = call(&dave, &base, "run-describe", &[("team", "team-a"), ("run", &run), ("text", "mine now")]).await;
    assert_eq!(status, 403);
    let (tom, _) = browser();
    sign_in(&tom, &base, "tom", "/").await;
    let (_, csv) = page(&tom, &base, "/export/audit.csv?team=team-a&action=run.describe").await;
    assert!(csv.lines().any(|l| l.contains("run.describe") && l.contains("alice") && l.contains("baseline")), "audited: {csv}");
    assert!(!csv.contains("dave"), "a refusal before any change is not an action: {csv}");

    // Columns: alice picks the param only; the next visit shows the same,
    // and dave still sees the default (metrics first).
    let runs = format!("/experiments/team-a/{id}");
    let (_, html) = page(&alice, &base, &runs).await;
    assert!(html.contains("data-testid=\"cell-metrics.rmse\""), "by default the metrics are shown");
    page(&alice, &base, &format!("{runs}?cols=1&col=params.lr")).await;
    let (_, html) = page(&alice, &base, &runs).await;
    assert!(html.contains("data-testid=\"cell-params.lr\"") && !html.contains("data-testid=\"cell-metrics.rmse\""), "her choice is remembered");
    let (_, html) = page(&dave, &base, &runs).await;
    assert!(html.contains("data-testid=\"cell-metrics.rmse\""), "dave's table is his own");
    // Picking none goes back to the default.
    page(&alice, &base, &format!("{runs}?cols=1")).await;
    let (_, html) = page(&alice, &base, &runs).await;
    assert!(html.contains("data-testid=\"cell-metrics.rmse\""), "back to the default columns");
}
