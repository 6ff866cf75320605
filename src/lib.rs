//! kpki: a drop-in replacement for cfssl, cfssljson and cfssl-certinfo, with a Kubernetes layer.
//! This file is the table of contents; it holds no logic.
#![forbid(unsafe_code)]

pub mod error;
pub mod jsonci;
pub mod duration;
pub mod der;
pub mod keys;
pub mod csr;
pub mod config;
pub mod profiles;
pub mod policy;
pub mod signer;
pub mod certinfo;
pub mod issue;
pub mod crl;
