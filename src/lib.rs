//! kpki: a drop-in replacement for cfssl, cfssljson and cfssl-certinfo, with a Kubernetes layer.
//! This file is the table of contents; it holds no logic.
#![forbid(unsafe_code)]

pub mod certinfo;
pub mod cli;
pub mod config;
pub mod crl;
pub mod csr;
pub mod der;
pub mod duration;
pub mod error;
pub mod issue;
pub mod jsonci;
pub mod keys;
pub mod policy;
pub mod profiles;
pub mod signer;
