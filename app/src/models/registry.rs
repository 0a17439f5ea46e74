//! The MLflow model registry of a team's workspace: registered models,
//! their versions and aliases. MLflow is the source of truth for them; the
//! portal only calls it after Kubernetes RBAC allowed the person
//! (`super::api`), always naming the team's workspace.

use super::model::{ModelRow, VersionRow};
use crate::error::AppResult;
use crate::experiments::mlflow::{Mlflow, enc, not_found, tags};
use reqwest::Method;
use serde_json::{Value, json};

/// Registered models per registry search (MLflow's own ceiling is 1,000).
pub const MODELS_PER_SEARCH: u32 = 1000;
/// Versions shown on a model's page, newest first.
pub const VERSIONS_SHOWN: u32 = 100;

fn aliases(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| Some((a["alias"].as_str()?.to_string(), a["version"].as_str()?.to_string())))
        .collect()
}

fn model_row(team: &str, m: &Value) -> ModelRow {
    let newest = m["latest_versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| Some((v["version"].as_str()?.parse::<u64>().ok()?, v)))
        .max_by_key(|(n, _)| *n);
    let latest = newest.map(|(n, _)| n.to_string());
    let latest_run = newest.and_then(|(_, v)| v["run_id"].as_str()).filter(|r| !r.is_empty()).map(String::from);
    let mut aliases = aliases(&m["aliases"]);
    aliases.sort();
    ModelRow {
        team: team.to_string(),
        name: m["name"].as_str().unwrap_or_default().to_string(),
        description: m["description"].as_str().unwrap_or_default().to_string(),
        latest,
        latest_run,
        metrics: Vec::new(),
        aliases,
        updated_ms: m["last_updated_timestamp"].as_i64().unwrap_or_default(),
        deployments: Vec::new(),
    }
}

fn version_row(v: &Value) -> VersionRow {
    VersionRow {
        version: v["version"].as_str().unwrap_or_default().to_string(),
        created_ms: v["creation_timestamp"].as_i64().unwrap_or_default(),
        status: v["status"].as_str().unwrap_or_default().to_string(),
        run_id: v["run_id"].as_str().filter(|r| !r.is_empty()).map(String::from),
        experiment_id: None,
        run_name: None,
        metrics: Vec::new(),
        description: v["description"].as_str().unwrap_or_default().to_string(),
        tags: tags(&v["tags"]).into_iter().filter(|(k, _)| !k.starts_with("mlflow.")).collect(),
        aliases: v["aliases"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(String::from)).collect(),
        source: v["source"].as_str().unwrap_or_default().to_string(),
        created_by: v["user_id"].as_str().unwrap_or_default().to_string(),
    }
}

impl Mlflow {
    /// Every registered model of the team (all pages of MLflow's search).
    pub async fn registered_models(&self, team: &str) -> AppResult<Vec<ModelRow>> {
        self.ensure_workspace(team).await?;
        let mut rows = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = format!("/api/2.0/mlflow/registered-models/search?max_results={MODELS_PER_SEARCH}");
            if let Some(t) = &token {
                path.push_str(&format!("&page_token={}", enc(t)));
            }
            let got: Value = self.call(Some(team), Method::GET, &path, None).await?;
            rows.extend(got["registered_models"].as_array().into_iter().flatten().map(|m| model_row(team, m)));
            token = got["next_page_token"].as_str().filter(|t| !t.is_empty()).map(String::from);
            if token.is_none() {
                return Ok(rows);
            }
        }
    }

    /// One registered model, with its description, tags and aliases.
    pub async fn registered_model(&self, team: &str, name: &str) -> AppResult<(ModelRow, Vec<(String, String)>)> {
        self.ensure_workspace(team).await?;
        let got: Value = self
            .call(Some(team), Method::GET, &format!("/api/2.0/mlflow/registered-models/get?name={}", enc(name)), None)
            .await
            .map_err(|e| not_found(e, &format!("Team “{team}” has no model “{name}”.")))?;
        let m = &got["registered_model"];
        let tags = tags(&m["tags"]).into_iter().filter(|(k, _)| !k.starts_with("mlflow.")).collect();
        Ok((model_row(team, m), tags))
    }

    /// A model's newest versions (at most [`VERSIONS_SHOWN`]), newest first.
    pub async fn versions(&self, team: &str, name: &str) -> AppResult<Vec<VersionRow>> {
        let filter = format!("name='{}'", name.replace('\'', "\\'"));
        let path = format!(
            "/api/2.0/mlflow/model-versions/search?filter={}&max_results={VERSIONS_SHOWN}&order_by={}",
            enc(&filter),
            enc("version_number DESC")
        );
        let got: Value = self.call(Some(team), Method::GET, &path, None).await?;
        Ok(got["model_versions"].as_array().into_iter().flatten().map(version_row).collect())
    }

    /// The versions registered from a run's models, as (model, version),
    /// newest first: the run page's way on to the registry.
    pub async fn versions_of_run(&self, team: &str, run: &str) -> AppResult<Vec<(String, String)>> {
        let filter = format!("run_id='{}'", run.replace('\'', "\\'"));
        let path = format!(
            "/api/2.0/mlflow/model-versions/search?filter={}&max_results={VERSIONS_SHOWN}&order_by={}",
            enc(&filter),
            enc("creation_timestamp DESC")
        );
        let got: Value = self.call(Some(team), Method::GET, &path, None).await?;
        Ok(got["model_versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| Some((v["name"].as_str()?.to_string(), v["version"].as_str()?.to_string())))
            .collect())
    }

    /// One version of a model.
    pub async fn version(&self, team: &str, name: &str, version: &str) -> AppResult<VersionRow> {
        let path = format!("/api/2.0/mlflow/model-versions/get?name={}&version={}", enc(name), enc(version));
        let got: Value = self
            .call(Some(team), Method::GET, &path, None)
            .await
            .map_err(|e| not_found(e, &format!("Model “{name}” of team “{team}” has no version {version}.")))?;
        Ok(version_row(&got["model_version"]))
    }

    /// Where a version's files are, as MLflow resolves them (for a version
    /// of a logged model, that model's artifact location).
    pub async fn download_uri(&self, team: &str, name: &str, version: &str) -> AppResult<String> {
        let path = format!("/api/2.0/mlflow/model-versions/get-download-uri?name={}&version={}", enc(name), enc(version));
        let got: Value = self
            .call(Some(team), Method::GET, &path, None)
            .await
            .map_err(|e| not_found(e, &format!("Model “{name}” of team “{team}” has no version {version}.")))?;
        Ok(got["artifact_uri"].as_str().unwrap_or_default().to_string())
    }

    /// Points `alias` at `version` (moving it from another version).
    pub async fn set_alias(&self, team: &str, name: &str, alias: &str, version: &str) -> AppResult<()> {
        let body = json!({ "name": name, "alias": alias, "version": version });
        let _: Value = self.call(Some(team), Method::POST, "/api/2.0/mlflow/registered-models/alias", Some(body)).await?;
        Ok(())
    }

    /// Removes `alias` from the model.
    pub async fn delete_alias(&self, team: &str, name: &str, alias: &str) -> AppResult<()> {
        let path = format!("/api/2.0/mlflow/registered-models/alias?name={}&alias={}", enc(name), enc(alias));
        let _: Value = self.call(Some(team), Method::DELETE, &path, None).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_row_has_the_newest_version_and_sorted_aliases() {
        let m = json!({
            "name": "flights", "last_updated_timestamp": 5,
            "latest_versions": [{ "version": "9", "current_stage": "None" }, { "version": "12", "current_stage": "Production" }],
            "aliases": [{ "alias": "challenger", "version": "12" }, { "alias": "champion", "version": "9" }],
        });
        let row = model_row("team-a", &m);
        assert_eq!(row.latest.as_deref(), Some("12"));
        assert_eq!(row.aliases, vec![("challenger".into(), "12".into()), ("champion".into(), "9".into())]);
    }

    #[test]
    fn a_version_keeps_its_run_and_hides_mlflow_tags() {
        let v = json!({ "version": "3", "run_id": "abc", "status": "READY", "aliases": ["champion"],
            "tags": [{ "key": "mlflow.internal", "value": "x" }, { "key": "dataset", "value": "2024" }] });
        let row = version_row(&v);
        assert_eq!(row.run_id.as_deref(), Some("abc"));
        assert_eq!(row.aliases, vec!["champion".to_string()]);
        assert_eq!(row.tags, vec![("dataset".into(), "2024".into())]);
        assert_eq!(version_row(&json!({ "version": "1", "run_id": "" })).run_id, None);
    }
}
