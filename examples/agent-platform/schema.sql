-- The agent platform's own tables, as its backend keeps them.
CREATE TABLE agents (
  name text PRIMARY KEY,
  url text NOT NULL,
  execution_timeout_seconds integer            -- the agent's own timeout, when set
);

CREATE TABLE schedules (
  id integer PRIMARY KEY,
  agent_name text NOT NULL REFERENCES agents (name),
  name text NOT NULL,
  timeout_seconds integer                      -- the schedule's own timeout, when set
);

CREATE TABLE schedule_executions (
  id text PRIMARY KEY,                         -- the id the agent knows the execution by
  schedule_id integer REFERENCES schedules (id),
  agent_name text NOT NULL REFERENCES agents (name),
  status text NOT NULL,                        -- pending, running, success, failed
  started_at timestamptz NOT NULL,
  completed_at timestamptz,
  error text
);
