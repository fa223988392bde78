-- The app's own tables, as its runner uses them. Vigil needs no change to them: vigil.yaml maps them.
CREATE TABLE workflow_runs (
  workflow_run_id bigint PRIMARY KEY,
  posting_id      bigint NOT NULL,
  status          text NOT NULL,          -- running | completed | failed
  started_at      timestamptz NOT NULL,
  completed_at    timestamptz,
  error           text
);

CREATE TABLE interactions (
  interaction_id  bigint PRIMARY KEY,
  conversation_id bigint NOT NULL,
  actor_id        bigint NOT NULL,
  actor_type      text NOT NULL,          -- ai_model | script | …
  workflow_run_id bigint REFERENCES workflow_runs,
  status          text NOT NULL,          -- pending | running | completed | failed
  runner_id       text,                   -- the runner that claimed it
  attempts        integer NOT NULL DEFAULT 0,  -- how many times it was queued again
  not_before      timestamptz,            -- the runner leaves it alone until then
  started_at      timestamptz,
  completed_at    timestamptz,
  input           jsonb,
  output          jsonb
);
