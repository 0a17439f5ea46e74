-- Opening a notebook on its own origin: one-time tickets handed from the
-- portal to the notebook's origin, and the sessions they become there.
-- Only SHA-256 digests of the tokens are kept.
CREATE TABLE IF NOT EXISTS notebook_grants (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    team TEXT NOT NULL,
    name TEXT NOT NULL,
    portal_session TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS notebook_grants_expiry ON notebook_grants (expires_at_ms);

-- Keys the portal derives secrets from (each notebook's Jupyter token),
-- made once and shared by every replica.
CREATE TABLE IF NOT EXISTS portal_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
