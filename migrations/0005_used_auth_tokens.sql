-- Hashes of authsign tokens already accepted, kept until they expire, to refuse replays.
CREATE TABLE used_auth_tokens (
  token_hash TEXT NOT NULL PRIMARY KEY,
  expires_at TEXT NOT NULL
);
CREATE INDEX idx_used_auth_tokens_expires_at ON used_auth_tokens(expires_at);
