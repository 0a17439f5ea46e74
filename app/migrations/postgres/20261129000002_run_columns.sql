-- The columns each person picked for an experiment's runs table, so the
-- table looks the same the next time (and on another device).
CREATE TABLE IF NOT EXISTS run_columns (
    username TEXT NOT NULL,
    team TEXT NOT NULL,
    experiment TEXT NOT NULL,
    columns_json TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (username, team, experiment)
);
