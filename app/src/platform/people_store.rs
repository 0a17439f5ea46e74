//! People who have signed in (and their groups), so a team admin adds
//! members who exist rather than typos.

use super::db::Db;

impl Db {
    /// Records a sign-in.
    pub async fn person_seen(&self, username: &str, display_name: &str, groups: &[String], at_ms: i64) -> Result<(), sqlx::Error> {
        const SQL: &str = "INSERT INTO people (username, display_name, groups_json, last_seen_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (username) DO UPDATE SET display_name = excluded.display_name, \
             groups_json = excluded.groups_json, last_seen_ms = excluded.last_seen_ms";
        let groups = serde_json::to_string(groups).unwrap_or_else(|_| "[]".into());
        match self {
            Db::Sqlite(p) => sqlx::query(SQL).bind(username).bind(display_name).bind(&groups).bind(at_ms).execute(p).await.map(drop)?,
            Db::Postgres(p) => sqlx::query(SQL).bind(username).bind(display_name).bind(&groups).bind(at_ms).execute(p).await.map(drop)?,
        };
        Ok(())
    }

    pub async fn person_exists(&self, username: &str) -> Result<bool, sqlx::Error> {
        const SQL: &str = "SELECT COUNT(*) FROM people WHERE username = $1";
        let n: i64 = match self {
            Db::Sqlite(p) => sqlx::query_scalar(SQL).bind(username).fetch_one(p).await?,
            Db::Postgres(p) => sqlx::query_scalar(SQL).bind(username).fetch_one(p).await?,
        };
        Ok(n > 0)
    }

    /// True when some signed-in person's token named this group.
    pub async fn group_known(&self, group: &str) -> Result<bool, sqlx::Error> {
        const SQL: &str = "SELECT groups_json FROM people";
        let all: Vec<String> = match self {
            Db::Sqlite(p) => sqlx::query_scalar(SQL).fetch_all(p).await?,
            Db::Postgres(p) => sqlx::query_scalar(SQL).fetch_all(p).await?,
        };
        Ok(all.iter().any(|json| {
            serde_json::from_str::<Vec<String>>(json).is_ok_and(|g| g.iter().any(|x| x.trim_start_matches('/') == group))
        }))
    }
}
