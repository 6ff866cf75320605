-- The last CRL number issued per issuer (authority key identifier, lowercase hex).
-- RFC 5280 5.2.3: the CRL number is monotonically increasing for a given CRL scope and issuer.
CREATE TABLE crl_numbers (
  authority_key_identifier TEXT NOT NULL PRIMARY KEY,
  number                   INTEGER NOT NULL CHECK (number > 0)
);
