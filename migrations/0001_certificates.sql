-- cfssl's certificates table (cfssl certdb/sqlite migrations 001 + 002), same column names and
-- declared types, plus kpki's `profile`. Timestamps are TEXT 'YYYY-MM-DD HH:MM:SS+00:00' (UTC).
CREATE TABLE certificates (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  ca_label                 blob,
  status                   blob NOT NULL,
  reason                   int,
  expiry                   timestamp,
  revoked_at               timestamp,
  pem                      blob NOT NULL,
  issued_at                timestamp,
  not_before               timestamp,
  metadata                 text,
  sans                     text,
  common_name              text,
  profile                  text NOT NULL DEFAULT '',
  PRIMARY KEY(serial_number, authority_key_identifier)
);

-- Listing ordered by expiry (keyset pagination on (expiry, serial_number)); the AKI column lets an
-- issuer filter be checked in the index without reading the row.
CREATE INDEX idx_certificates_expiry
  ON certificates(expiry, serial_number, authority_key_identifier);
-- Lookups by common name, ordered by expiry.
CREATE INDEX idx_certificates_common_name ON certificates(common_name, expiry, serial_number);
-- Status filters (good/revoked) with expiry ranges: listing, earliest valid expiry.
CREATE INDEX idx_certificates_status_expiry ON certificates(status, expiry, serial_number);
-- CRL generation (revoked and unexpired certificates of one issuer); listing by issuer and status.
CREATE INDEX idx_certificates_aki_status_expiry
  ON certificates(authority_key_identifier, status, expiry, serial_number);
