-- Kubernetes bootstrap tokens. Only a hash of the secret is stored, never the secret itself.
-- groups and usages are comma-separated lists; timestamps as in certificates.
CREATE TABLE bootstrap_tokens (
  token_id    TEXT NOT NULL PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  expires_at  TEXT,
  groups      TEXT NOT NULL DEFAULT '',
  usages      TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  created_at  TEXT NOT NULL,
  revoked_at  TEXT
);
