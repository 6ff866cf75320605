-- cfssl's ocsp_responses table (cfssl certdb/sqlite migration 001), unchanged.
CREATE TABLE ocsp_responses (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  body                     blob NOT NULL,
  expiry                   timestamp,
  PRIMARY KEY(serial_number, authority_key_identifier),
  FOREIGN KEY(serial_number, authority_key_identifier)
    REFERENCES certificates(serial_number, authority_key_identifier)
);
