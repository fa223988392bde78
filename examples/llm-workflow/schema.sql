-- The LLM workflow runner's own tables. Vigil needs no change to them: vigil.yaml maps them.
CREATE TABLE workflow_runs (
  workflow_run_id bigint PRIMARY KEY,
  name            text NOT NULL,
  status          text NOT NULL,          -- running | completed | failed
  started_at      timestamptz NOT NULL,
  completed_at    timestamptz,
  error           text
);

CREATE TABLE interactions (
  interaction_id  bigint PRIMARY KEY,
  conversation_id text NOT NULL,
  actor_id        text NOT NULL,          -- the worker (cron script, agent) running it
  workflow_run_id bigint REFERENCES workflow_runs,
  status          text NOT NULL,          -- running | completed | failed
  started_at      timestamptz NOT NULL,
  updated_at      timestamptz,            -- touched by the worker while it streams tokens
  completed_at    timestamptz,
  output          jsonb
);
