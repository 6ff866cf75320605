//! kpki: a drop-in replacement for cfssl, cfssljson and cfssl-certinfo, with a Kubernetes layer.
//! This file is the table of contents; it holds no logic.
//!
//! Layers (a module uses only those above it): `error` → the pure core (`jsonci`, `duration`,
//! `der`, `keys`, `csr`, `config`, `profiles`, `policy`, `signer`, `certinfo`, `crl`, `auth`,
//! `kubeconfig`) → `db` (storage) → `issue` (the one signing path) and the pure Kubernetes logic
//! over records (`token`, `cluster`) → adapters `cli` and `api`.
// `deny`, not `forbid`: `db::writeback` alone allows it, for one system call (sync_file_range).
#![deny(unsafe_code)]

/// cfssl-coded error type shared by everything.
pub mod error;

/// cfssl's HMAC-authenticated requests.
pub mod auth;
/// certinfo JSON for certificates, CSRs and CRLs.
pub mod certinfo;
/// ca-config.json: signing profiles, auth keys, remotes.
pub mod config;
/// CRL assembly and revocation reasons.
pub mod crl;
/// CSR JSON, SAN classification, PKCS#10 generation and verification.
pub mod csr;
/// DER encoding of certificates, CSRs, CRLs and their parts.
pub mod der;
/// Go duration strings.
pub mod duration;
/// Go-style case-insensitive JSON decoding and Go escaping.
pub mod jsonci;
/// Private keys: generate, load, write, sign.
pub mod keys;
/// kubeconfig files: build (kubectl's layout), webhook config, read embedded certificates.
pub mod kubeconfig;
/// Profile + CSR + overrides → certificate template.
pub mod policy;
/// The built-in profile pack and print-defaults templates.
pub mod profiles;
/// Signs templates and CRLs with a CA key; serial numbers.
pub mod signer;

/// The certificate database (SQLite via sqlx).
pub mod db;

/// The one signing path used by the CLI and the server.
pub mod issue;

/// A cluster's PKI plan from an inventory, and keep/renew decisions for existing files.
pub mod cluster;
/// Kubernetes tokens: token.csv lines and checks, bootstrap tokens, TokenReview decisions.
pub mod token;

/// TLS dialing for certinfo -domain (network I/O helper for the adapters).
pub mod tlsdial;

/// The HTTP API (cfssl wire-compatible, plus kpki's).
pub mod api;
/// The command line (kpki, cfssl, cfssljson, cfssl-certinfo).
pub mod cli;
