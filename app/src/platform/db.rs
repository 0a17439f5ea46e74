//! The portal's own database: sessions today, the audit trail and requests
//! later. SQLite by default (one machine), PostgreSQL for several replicas;
//! the URL's scheme decides.

use async_trait::async_trait;
use sqlx::{PgPool, SqlitePool};
use std::time::Duration;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// A connection pool of either kind.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await?;
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
            Ok(Db::Sqlite(pool))
        }
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
            Db::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
        }
    }

    /// The pool's connections: (open, idle, the most it opens).
    pub fn pool_use(&self) -> (u32, u32, u32) {
        match self {
            Db::Sqlite(p) => (p.size(), p.num_idle() as u32, p.options().get_max_connections()),
            Db::Postgres(p) => (p.size(), p.num_idle() as u32, p.options().get_max_connections()),
        }
    }

    /// Sessions not yet expired (the session store's table).
    pub async fn active_sessions(&self) -> Result<i64, sqlx::Error> {
        match self {
            Db::Sqlite(p) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM atrium_sessions WHERE expiry_date > CAST(strftime('%s', 'now') AS INTEGER)").fetch_one(p).await
            }
            Db::Postgres(p) => sqlx::query_scalar("SELECT COUNT(*) FROM public.atrium_sessions WHERE expiry_date > now()").fetch_one(p).await,
        }
    }

    /// The session store on this database, with its table created.
    pub async fn session_store(&self) -> Result<Sessions, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => {
                let s = SqliteStore::new(p.clone()).with_table_name("atrium_sessions").map_err(|e| sqlx::Error::Configuration(e.into()))?;
                s.migrate().await?;
                Sessions::Sqlite(s)
            }
            Db::Postgres(p) => {
                let s = PostgresStore::new(p.clone())
                    .with_schema_name("public")
                    .and_then(|s| s.with_table_name("atrium_sessions"))
                    .map_err(|e| sqlx::Error::Configuration(e.into()))?;
                s.migrate().await?;
                Sessions::Postgres(s)
            }
        })
    }
}

/// Sessions kept in the portal's database, whichever kind it is.
#[derive(Clone, Debug)]
pub enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(s) => s.create(record).await,
            Sessions::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(s) => s.save(record).await,
            Sessions::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Sessions::Sqlite(s) => s.load(id).await,
            Sessions::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(s) => s.delete(id).await,
            Sessions::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(s) => s.delete_expired().await,
            Sessions::Postgres(s) => s.delete_expired().await,
        }
    }
}
