-- The audit trail and quota requests: what the portal knows that Kubernetes does not.
CREATE TABLE IF NOT EXISTS audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    team TEXT,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_events_team_at ON audit_events (team, at_ms);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at_ms);

CREATE TABLE IF NOT EXISTS quota_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team TEXT NOT NULL,
    resource TEXT NOT NULL,
    amount TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at_ms BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    decided_by TEXT,
    decided_at_ms BIGINT,
    decision_reason TEXT
);
CREATE INDEX IF NOT EXISTS quota_requests_status ON quota_requests (status, requested_at_ms);
