-- Promotions waiting for a team admin: in a team whose namespace is labelled
-- atrium.io/promotions=need-approval, changing the version a model
-- deployment serves is asked here and decided once (claim-once, as quota
-- requests are).
CREATE TABLE IF NOT EXISTS promotion_requests (
    id BIGSERIAL PRIMARY KEY,
    team TEXT NOT NULL,
    deployment TEXT NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    action TEXT NOT NULL,
    from_version TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at_ms BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    decided_by TEXT,
    decided_at_ms BIGINT,
    decision_reason TEXT
);
CREATE INDEX IF NOT EXISTS promotion_requests_team ON promotion_requests (team, status, requested_at_ms);
-- One request waiting per deployment.
CREATE UNIQUE INDEX IF NOT EXISTS promotion_requests_one_pending ON promotion_requests (team, deployment) WHERE status = 'pending';
