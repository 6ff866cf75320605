//! kpki: a drop-in replacement for cfssl, cfssljson and cfssl-certinfo, with a Kubernetes layer.
//! This file is the table of contents; it holds no logic.
#![forbid(unsafe_code)]

pub mod db;
pub mod error;
