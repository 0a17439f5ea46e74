//! The experiments area's server functions: MLflow through the portal's
//! gateway. Each call is first allowed by Kubernetes RBAC in the team's
//! namespace, asked as the person (group `mlflow.kubeflow.org`, the names of
//! Kubeflow's MLflow integration), then sent to the team's workspace only.

use super::model::{ChartView, Comparison, ExperimentList, RunDetail, RunsPage, Sort};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub(crate) const GROUP: &str = "mlflow.kubeflow.org";

/// Runs shown per page of the runs table.
pub const RUNS_PER_PAGE: u32 = 50;

/// Whether the person may `verb` the team's experiments.
#[cfg(feature = "ssr")]
pub(crate) async fn may(state: &crate::state::AppState, who: &crate::auth::SignedIn, team: &str, verb: &str) -> Result<bool, AppError> {
    use crate::platform::access::Ask;
    let client = state.kube.for_user(who)?;
    let ask = Ask { group: GROUP, resource: "experiments", verb, namespace: Some(team), name: None };
    state.access.may(&client, who.session_key(), ask).await
}

/// The tracking server, once the person may `verb` the team's experiments.
#[cfg(feature = "ssr")]
pub(crate) async fn gate<'s>(
    state: &'s crate::state::AppState,
    who: &crate::auth::SignedIn,
    team: &str,
    verb: &str,
) -> Result<&'s super::mlflow::Mlflow, AppError> {
    let mlflow = tracking(state)?;
    if !may(state, who, team, verb).await? {
        let what = if matches!(verb, "get" | "list") { "see" } else { "change" };
        return Err(AppError::Forbidden(format!("You may not {what} the experiments of team “{team}”.")));
    }
    Ok(mlflow)
}

#[cfg(feature = "ssr")]
fn tracking(state: &crate::state::AppState) -> Result<&super::mlflow::Mlflow, AppError> {
    state.mlflow.as_ref().ok_or_else(|| AppError::NotFound("No tracking server is set up for this portal.".into()))
}

/// Experiments of every team the person may read (or of `team`), active or
/// deleted ones, each with when its newest run started.
#[server(endpoint = "experiments")]
pub async fn get_experiments(team: Option<String>, deleted: bool) -> Result<ExperimentList, AppError> {
    let (state, who) = crate::auth::current().await?;
    let mlflow = tracking(&state)?;
    let names: Vec<String> = match &team {
        Some(t) => vec![t.clone()],
        None => crate::shell::my_teams(&state, &who).await?.into_iter().map(|t| t.name).collect(),
    };
    let checks = names.iter().map(|t| async {
        let (read, write) = futures::join!(may(&state, &who, t, "list"), may(&state, &who, t, "create"));
        Ok::<_, AppError>((t.clone(), read?, write?))
    });
    let teams: Vec<(String, bool)> =
        futures::future::try_join_all(checks).await?.into_iter().filter(|(_, read, _)| *read).map(|(t, _, w)| (t, w)).collect();
    if let Some(t) = &team
        && teams.is_empty()
    {
        return Err(AppError::Forbidden(format!("You may not see the experiments of team “{t}”.")));
    }
    let lists = futures::future::try_join_all(teams.iter().map(|(t, _)| mlflow.experiments(t, deleted))).await?;
    let mut rows: Vec<_> = lists.into_iter().flatten().collect();
    // One search per experiment (MLflow has no newest run per experiment),
    // a few at a time so a team with hundreds of experiments does not crowd
    // out everyone else's calls (MLflow answers with two workers).
    use futures::StreamExt;
    let keys: Vec<(String, String)> = rows.iter().map(|r| (r.team.clone(), r.id.clone())).collect();
    let last: Vec<_> = futures::stream::iter(keys).map(|(t, i)| async move { mlflow.last_run(&t, &i).await }).buffered(6).collect().await;
    for (row, last) in rows.iter_mut().zip(last) {
        row.last_run_ms = last.unwrap_or(None);
    }
    rows.sort_by(|a, b| b.last_run_ms.unwrap_or(b.updated_ms).cmp(&a.last_run_ms.unwrap_or(a.updated_ms)));
    Ok(ExperimentList { rows, teams, deleted })
}

#[server(endpoint = "experiment-create")]
pub async fn create_experiment(team: String, name: String) -> Result<String, AppError> {
    super::model::check_experiment_name(&name).map_err(AppError::Invalid)?;
    let me = crate::audit::server::Actor::current().await?;
    let mlflow = gate(&me.state, &me.who, &team, "create").await?;
    let object = format!("experiment {}", name.trim());
    me.audited(Some(&team), "experiment.create", &object, mlflow.create_experiment(&team, &name, me.username())).await
}

#[server(endpoint = "experiment-rename")]
pub async fn rename_experiment(team: String, id: String, name: String) -> Result<(), AppError> {
    super::model::check_experiment_name(&name).map_err(AppError::Invalid)?;
    let me = crate::audit::server::Actor::current().await?;
    let mlflow = gate(&me.state, &me.who, &team, "update").await?;
    let before = mlflow.experiment(&team, &id).await?;
    let object = format!("experiment {} → {}", before.name, name.trim());
    me.audited(Some(&team), "experiment.rename", &object, mlflow.rename_experiment(&team, &id, &name)).await
}

/// Deletes (`deleted` true) or restores an experiment.
#[server(endpoint = "experiment-delete")]
pub async fn set_experiment_deleted(team: String, id: String, deleted: bool) -> Result<(), AppError> {
    let me = crate::audit::server::Actor::current().await?;
    let mlflow = gate(&me.state, &me.who, &team, "delete").await?;
    let found = mlflow.experiment(&team, &id).await?;
    let (action, object) = if deleted { ("experiment.delete", format!("experiment {}", found.name)) } else { ("experiment.restore", format!("experiment {}", found.name)) };
    me.audited(Some(&team), action, &object, mlflow.set_deleted(&team, &id, deleted)).await
}

/// Columns a person may pick for one experiment at most.
pub const COLUMNS_MAX: usize = 40;

/// One page of an experiment's runs: `filter` in MLflow's search syntax,
/// sorted by MLflow, `page` a token from the previous page. `columns`, when
/// the person just picked them, are remembered for this experiment; when
/// `None`, the ones picked last time are shown.
#[server(endpoint = "runs")]
pub async fn get_runs(team: String, experiment: String, filter: String, sort: Sort, page: Option<String>, columns: Option<Vec<String>>) -> Result<RunsPage, AppError> {
    if filter.len() > 2000 {
        return Err(AppError::Invalid("The filter is too long (at most 2,000 characters).".into()));
    }
    let picked: Option<Vec<super::model::Column>> = columns.map(|keys| {
        let mut out: Vec<super::model::Column> = Vec::new();
        for c in keys.iter().filter(|k| k.len() <= 250).filter_map(|k| super::model::Column::parse(k)) {
            if !out.contains(&c) && out.len() < COLUMNS_MAX {
                out.push(c);
            }
        }
        out
    });
    let order_by = sort.order_by().map_err(AppError::Invalid)?;
    let (state, who) = crate::auth::current().await?;
    let mlflow = gate(&state, &who, &team, "list").await?;
    let experiment = mlflow.experiment(&team, &experiment).await?;
    let username = who.identity().username.clone();
    let remembered = async {
        match &picked {
            Some(cols) => {
                let keys: Vec<String> = cols.iter().map(|c| c.key()).collect();
                state.db.set_run_columns(&username, &team, &experiment.id, &keys, (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64).await.map(|_| cols.clone())
            }
            None => state
                .db
                .run_columns(&username, &team, &experiment.id)
                .await
                .map(|keys| keys.unwrap_or_default().iter().filter_map(|k| super::model::Column::parse(k)).collect()),
        }
    };
    let (found, columns) = futures::join!(mlflow.runs(&team, &experiment.id, &filter, &order_by, page.as_deref(), RUNS_PER_PAGE), remembered);
    let (runs, next) = found?;
    // Not remembering a choice costs the person nothing on this page.
    let columns = columns.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the columns picked for an experiment could not be read or kept");
        picked.clone().unwrap_or_default()
    });
    let mut keys: Vec<super::model::Column> = Vec::new();
    for r in &runs {
        for (k, _) in &r.metrics {
            let c = super::model::Column::Metric(k.clone());
            if !keys.contains(&c) {
                keys.push(c);
            }
        }
        for (k, _) in &r.params {
            let c = super::model::Column::Param(k.clone());
            if !keys.contains(&c) {
                keys.push(c);
            }
        }
    }
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    Ok(RunsPage { experiment, runs, next, keys, columns, now_ms })
}

/// Metrics charted per run page at most (the rest are listed).
pub const CHARTS_PER_RUN: usize = 12;

#[server(endpoint = "run")]
pub async fn get_run(team: String, run: String, chart: ChartView, dir: String, file: Option<String>) -> Result<RunDetail, AppError> {
    let dir = check_artifact_path(&dir)?;
    let file = file.map(|f| check_artifact_path(&f)).transpose()?.filter(|f| !f.is_empty());
    let (state, who) = crate::auth::current().await?;
    let mlflow = gate(&state, &who, &team, "get").await?;
    let (run, experiment, description) = mlflow.run(&team, &run).await?;
    let registered = async {
        match may_models(&state, &who, &team, "get").await? {
            true => mlflow.versions_of_run(&team, &run.id).await,
            false => Ok(Vec::new()),
        }
    };
    let (experiment, artifacts, models, may_register, may_describe, registered) = futures::join!(
        mlflow.experiment(&team, &experiment),
        mlflow.artifacts(&team, &run.id, &dir),
        mlflow.logged_models(&team, &experiment, &run.id),
        may_models(&state, &who, &team, "create"),
        may(&state, &who, &team, "update"),
        registered,
    );
    let (experiment, artifacts, models, may_register, may_describe, registered) =
        (experiment?, artifacts?, models?, may_register?, may_describe?, registered?);
    let ids = [run.id.clone()];
    let done = super::model::finished(&run.status);
    let keys: Vec<&String> = run.metrics.iter().map(|(k, _)| k).take(CHARTS_PER_RUN).collect();
    let histories = futures::future::try_join_all(
        keys.iter()
            .map(|k| mlflow.history(&team, &ids, k, chart.from, chart.to, super::chart::MAX_POINTS as u32, done)),
    )
    .await?;
    let charts = keys
        .iter()
        .zip(histories)
        .map(|(key, points)| {
            let points = points.into_iter().map(|(_, step, at, v)| (if chart.by_time { at as f64 } else { step as f64 }, v)).collect();
            let series = [super::chart::Series { name: run.name.clone(), points }];
            super::chart::line_chart(key, &series, if chart.by_time { "time" } else { "step" }, chart.by_time)
        })
        .collect();
    let preview = match file {
        Some(path) => Some(preview(mlflow, &team, &run.id, path).await?),
        None => None,
    };
    Ok(RunDetail { team, experiment, run, description, charts, dir, artifacts, models, registered, may_register, may_describe, preview })
}

/// An artifact as the run page shows it: text (its first 64 KB), an image, or neither.
#[cfg(feature = "ssr")]
async fn preview(mlflow: &super::mlflow::Mlflow, team: &str, run: &str, path: String) -> Result<super::model::Preview, AppError> {
    use super::model::{PREVIEW_BYTES, Preview, PreviewKind, is_text};
    use futures::StreamExt;
    let kind = if super::artifacts::served_as(&path).is_some() {
        mlflow.artifact(team, run, &path).await?;
        PreviewKind::Image
    } else if is_text(&path) {
        let mut stream = mlflow.artifact(team, run, &path).await?.bytes_stream();
        let mut bytes = Vec::new();
        let mut cut = false;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| AppError::TrackingServerUnavailable)?;
            bytes.extend_from_slice(&chunk);
            if bytes.len() > PREVIEW_BYTES {
                bytes.truncate(PREVIEW_BYTES);
                cut = true;
                break;
            }
        }
        super::model::text_preview(&path, String::from_utf8_lossy(&bytes).into_owned(), cut)
    } else {
        PreviewKind::Other
    };
    Ok(Preview { path, kind })
}

/// A path inside a run's artifacts, as the person gave it: no way out of them.
pub fn check_artifact_path(path: &str) -> Result<String, AppError> {
    let path = path.trim().trim_matches('/');
    if path.len() > 1000 || path.split('/').any(|seg| seg == ".." || seg == "." || seg.is_empty() && !path.is_empty()) || path.contains('\\') {
        return Err(AppError::Invalid("That is not a path inside the run's artifacts.".into()));
    }
    Ok(path.to_string())
}

#[cfg(feature = "ssr")]
use crate::models::api::server::may_models;

/// Registers a model the run logged as a new version of the registered
/// model `name` (made if the team has none of that name). Audited.
#[server(endpoint = "model-register")]
pub async fn register_model(team: String, run: String, model: String, name: String) -> Result<String, AppError> {
    super::model::check_model_name(name.trim()).map_err(AppError::Invalid)?;
    let name = name.trim().to_string();
    let me = crate::audit::server::Actor::current().await?;
    let mlflow = tracking(&me.state)?;
    if !may_models(&me.state, &me.who, &team, "create").await? {
        return Err(AppError::Forbidden(format!("You may not register models in team “{team}”.")));
    }
    let (found, experiment, _) = mlflow.run(&team, &run).await?;
    let logged = mlflow.logged_models(&team, &experiment, &found.id).await?;
    let Some(m) = logged.iter().find(|m| m.id == model) else {
        return Err(AppError::NotFound("This run logged no such model.".into()));
    };
    if !m.ready {
        return Err(AppError::Conflict("This model's files are still being uploaded; register it once its run has finished logging it.".into()));
    }
    let object = format!("model {name} from run {}", if found.name.is_empty() { &found.id } else { &found.name });
    me.audited(Some(&team), "model.register", &object, mlflow.register(&team, &name, &model, &found.id)).await
}

/// A run's description at most (MLflow keeps tag values up to 8,000 characters).
pub const DESCRIPTION_MAX: usize = 5000;

/// Checks a run description as typed.
pub fn check_description(text: &str) -> Result<(), String> {
    let n = text.chars().count();
    if n > DESCRIPTION_MAX {
        return Err(format!("The description is {n} characters long; at most {DESCRIPTION_MAX} are kept."));
    }
    Ok(())
}

/// Replaces a run's description (empty: none). Audited.
#[server(endpoint = "run-describe")]
pub async fn describe_run(team: String, run: String, text: String) -> Result<(), AppError> {
    check_description(&text).map_err(AppError::Invalid)?;
    let text = text.trim().replace("\r\n", "\n");
    let me = crate::audit::server::Actor::current().await?;
    let mlflow = gate(&me.state, &me.who, &team, "update").await?;
    let (found, _, _) = mlflow.run(&team, &run).await?;
    let object = format!("run {}", if found.name.is_empty() { &found.id } else { &found.name });
    me.audited(Some(&team), "run.describe", &object, mlflow.describe_run(&team, &found.id, &text)).await
}

/// 2 to 100 runs of one experiment side by side: their params and latest
/// metrics, each metric's history overlaid (sampled, drawn on the server),
/// and a param against a metric (`x`, `y`: a param and a metric key).
#[server(endpoint = "runs-compare")]
pub async fn compare_runs(team: String, experiment: String, runs: Vec<String>, x: Option<String>, y: Option<String>) -> Result<Comparison, AppError> {
    super::model::check_compare(&runs).map_err(AppError::Invalid)?;
    let (state, who) = crate::auth::current().await?;
    let mlflow = gate(&state, &who, &team, "list").await?;
    let experiment = mlflow.experiment(&team, &experiment).await?;
    let found = mlflow.runs_by_id(&team, &experiment.id, &runs).await?;
    if found.len() != runs.len() {
        return Err(AppError::NotFound(format!("{} of the runs picked are not in this experiment.", runs.len() - found.len())));
    }
    let mut keys: Vec<String> = Vec::new();
    for r in &found {
        for (k, _) in &r.metrics {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys.sort();
    keys.truncate(CHARTS_PER_RUN);
    let ids: Vec<String> = found.iter().map(|r| r.id.clone()).collect();
    let per_run = (super::chart::MAX_POINTS / ids.len()).max(10) as u32;
    // A metric no run logged beyond step 0 is its latest values already:
    // MLflow is asked only for the histories that have more (each such call
    // costs MLflow about 0.4 s for 100 runs on SQLite).
    let (team_ref, ids_ref) = (&team, &ids);
    let all_done = found.iter().all(|r| super::model::finished(&r.status));
    let histories = futures::future::try_join_all(keys.iter().map(|k| {
        let stepped = found.iter().any(|r| r.stepped.contains(k));
        let latest: Vec<(String, i64, i64, f64)> = found
            .iter()
            .filter_map(|r| Some((r.id.clone(), 0, r.start_ms.unwrap_or(0), r.metric(k)?)))
            .collect();
        async move {
            if stepped {
                mlflow.history(team_ref, ids_ref, k, None, None, per_run, all_done).await
            } else {
                Ok(latest)
            }
        }
    }))
    .await?;
    let name_of = |id: &str| {
        found
            .iter()
            .find(|r| r.id == id)
            .map(|r| if r.name.is_empty() { r.id.clone() } else { r.name.clone() })
            .unwrap_or_default()
    };
    let charts = keys
        .iter()
        .zip(histories)
        .map(|(key, points)| {
            let series: Vec<super::chart::Series> = ids
                .iter()
                .map(|id| super::chart::Series {
                    name: name_of(id),
                    points: points.iter().filter(|p| &p.0 == id).map(|p| (p.1 as f64, p.3)).collect(),
                })
                .collect();
            super::chart::line_chart(key, &series, "step", false)
        })
        .collect();
    // The scatter: the param and metric asked for, else the first numeric param and first metric.
    let numeric_param = |k: &str| found.iter().all(|r| r.param(k).is_none_or(|v| v.trim().parse::<f64>().is_ok()));
    let x = x.filter(|k| numeric_param(k)).or_else(|| {
        let mut params: Vec<&String> = found.iter().flat_map(|r| r.params.iter().map(|(k, _)| k)).collect();
        params.sort();
        params.into_iter().find(|k| numeric_param(k)).cloned()
    });
    let y = y.filter(|k| keys.contains(k)).or_else(|| keys.first().cloned());
    let scatter = match (&x, &y) {
        (Some(x), Some(y)) => {
            let dots: Vec<(String, f64, f64)> = found
                .iter()
                .filter_map(|r| Some((name_of(&r.id), r.param(x)?.trim().parse().ok()?, r.metric(y)?)))
                .collect();
            Some(super::chart::scatter(&format!("{y} by {x}"), &dots, x, y))
        }
        _ => None,
    };
    Ok(Comparison { experiment, runs: found, charts, scatter, scatter_x: x, scatter_y: y })
}
