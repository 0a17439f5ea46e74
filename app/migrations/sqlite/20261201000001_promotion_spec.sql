-- A deployment asked for in a team whose promotions need approval: what was
-- asked (the deployment request as JSON), created when a team admin
-- approves. Empty for promotions and "serve again".
ALTER TABLE promotion_requests ADD COLUMN spec TEXT;
