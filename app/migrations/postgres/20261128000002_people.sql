-- People who have signed in, and the groups their identity provider vouched
-- for: adding a member is checked against them.
CREATE TABLE IF NOT EXISTS people (
    username TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    groups_json TEXT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
