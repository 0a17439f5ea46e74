//! What a person chose to see, kept between visits: the columns of each
//! experiment's runs table.

use super::db::Db;

impl Db {
    /// The column keys `username` last picked for an experiment, if any.
    pub async fn run_columns(&self, username: &str, team: &str, experiment: &str) -> Result<Option<Vec<String>>, sqlx::Error> {
        const SQL: &str = "SELECT columns_json FROM run_columns WHERE username = $1 AND team = $2 AND experiment = $3";
        let json: Option<String> = match self {
            Db::Sqlite(p) => sqlx::query_scalar(SQL).bind(username).bind(team).bind(experiment).fetch_optional(p).await?,
            Db::Postgres(p) => sqlx::query_scalar(SQL).bind(username).bind(team).bind(experiment).fetch_optional(p).await?,
        };
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Remembers the columns picked (none: back to the default ones).
    pub async fn set_run_columns(&self, username: &str, team: &str, experiment: &str, columns: &[String], at_ms: i64) -> Result<(), sqlx::Error> {
        const SQL: &str = "INSERT INTO run_columns (username, team, experiment, columns_json, updated_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (username, team, experiment) DO UPDATE SET columns_json = excluded.columns_json, updated_ms = excluded.updated_ms";
        let json = serde_json::to_string(columns).unwrap_or_else(|_| "[]".into());
        match self {
            Db::Sqlite(p) => sqlx::query(SQL).bind(username).bind(team).bind(experiment).bind(&json).bind(at_ms).execute(p).await.map(drop)?,
            Db::Postgres(p) => sqlx::query(SQL).bind(username).bind(team).bind(experiment).bind(&json).bind(at_ms).execute(p).await.map(drop)?,
        };
        Ok(())
    }
}
