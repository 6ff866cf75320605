//! `gencsr`: a CSR for an existing key, from CSR JSON or from an existing certificate.

use super::common::read_csr_json;
use super::input::{read_key, read_source};
use super::output::print_json;
use super::{CliError, CmdResult, Command, Ctx};
use crate::cli::flags::Parsed;
use crate::csr::{self, CertificateRequest, Name};
use crate::der::oid;
use crate::error::Error;
use std::collections::BTreeMap;

/// The command.
pub const COMMAND: Command = Command {
    name: "gencsr",
    summary: "generate a CSR for an existing key",
    usage: "Generate a CSR for an existing key\n\nUsage of gencsr:\n        kpki gencsr -key private_key CSRJSON\n        kpki gencsr -key private_key -cert certificate\n\nArguments:\n        CSRJSON:    JSON file containing the request, use '-' for reading JSON from stdin",
    flags: &["key", "cert", "hostname", "ca-key-passphrase"],
    run,
};

fn from_cert(der_bytes: &[u8]) -> Result<CertificateRequest, Error> {
    use x509_parser::prelude::*;
    let (_, c) = X509Certificate::from_der(der_bytes)
        .map_err(|e| Error::Certificate(1003, format!("Failed to parse certificate: {e}")))?;
    let attrs = csr::name_attrs(c.subject())?;
    let mut req = CertificateRequest::default();
    for a in attrs {
        let mut n = Name::default();
        match a.oid.as_slice() {
            o if o == oid::CN => req.cn = a.value,
            o if o == oid::SERIAL_NUMBER => req.serialnumber = a.value,
            o if o == oid::C => n.c = a.value,
            o if o == oid::ST => n.st = a.value,
            o if o == oid::L => n.l = a.value,
            o if o == oid::O => n.o = a.value,
            o if o == oid::OU => n.ou = a.value,
            _ => {}
        }
        if n != Name::default() {
            req.names.push(n);
        }
    }
    let info = crate::certinfo::certificate(der_bytes)?;
    if !info.sans.is_empty() {
        req.hosts = Some(info.sans);
    }
    Ok(req)
}

fn run(p: &Parsed, ctx: &mut Ctx<'_>) -> CmdResult {
    let key_path = p.str("key");
    if key_path.is_empty() {
        return Err(Error::BadRequest(
            "private key file is required through '-key', please check with usage".into(),
        )
        .into());
    }
    let key_text = read_source(&key_path, ctx.stdin)?;
    let (key, _) = read_key(&key_path, &p.str("ca-key-passphrase"), ctx.stdin)?;
    let mut req = if !p.str("cert").is_empty() {
        if !p.args.is_empty() {
            return Err(CliError::Usage(
                "no CSRJSON argument is allowed with -cert".into(),
            ));
        }
        let cert = read_source(&p.str("cert"), ctx.stdin)?;
        from_cert(&crate::signer::first_certificate_der(&cert)?)?
    } else {
        let input = super::common::one_input(p, &COMMAND, "CSRJSON")?;
        read_csr_json(&input, ctx)?
    };
    let h = p.str("hostname");
    if !h.is_empty() {
        req.hosts = Some(h.split(',').map(str::to_string).collect());
    }
    let (_, csr_pem) = csr::csr_for_key(&req, &key)?;
    let mut out = BTreeMap::new();
    out.insert("csr", csr_pem);
    // cfssl compat: the key file is echoed verbatim.
    out.insert("key", String::from_utf8_lossy(&key_text).into_owned());
    Ok(print_json(ctx.stdout, &out)?)
}
