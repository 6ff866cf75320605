-- Issuances in progress with a CA whose signatures are deterministic (RSA PKCS#1 v1.5, Ed25519):
-- the certificate's row without its PEM, plus its TBSCertificate, committed durably while the
-- signature is computed. Completing the issuance moves the row into `certificates` with the PEM
-- (and deletes it here) in one transaction; a row left here by a crash is signed again at the
-- next `kpki serve` start, which gives the same certificate (issue::sign_and_record,
-- issue::recover_pending). Normally empty or a few rows. cfssl never reads it.
CREATE TABLE pending_certificates (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  ca_label                 blob,
  status                   blob NOT NULL,
  reason                   int,
  expiry                   timestamp,
  revoked_at               timestamp,
  issued_at                timestamp,
  not_before               timestamp,
  metadata                 text,
  sans                     text,
  common_name              text,
  profile                  text NOT NULL DEFAULT '',
  tbs                      blob NOT NULL,
  PRIMARY KEY(serial_number, authority_key_identifier)
) WITHOUT ROWID;
