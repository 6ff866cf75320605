//! Kubernetes tokens: kube-apiserver `--token-auth-file` lines (generation, and a checker that
//! reads a file exactly as the apiserver's Go `encoding/csv` reader does), kubeadm-style bootstrap
//! tokens (generation, validation, secret hashing, the `bootstrap-token-<id>` Secret) and the
//! decision a TokenReview takes on a stored token. Pure: no files, no database, no HTTP.

use crate::db::TokenRecord;
use crate::error::{Error, Result};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

/// Group every bootstrap token authenticates into.
pub const BOOTSTRAPPERS_GROUP: &str = "system:bootstrappers";
/// Prefix of bootstrap token user names (`system:bootstrap:<id>`).
pub const BOOTSTRAP_USER_PREFIX: &str = "system:bootstrap:";
/// kubeadm's default extra group.
pub const DEFAULT_EXTRA_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";
/// Usages a bootstrap token may have (kubeadm's `KnownTokenUsages`).
pub const KNOWN_USAGES: [&str; 2] = ["signing", "authentication"];

const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn rng_err() -> Error {
    Error::Internal("random number generator failed".into())
}

/// The symbol a random byte stands for, or None for the 4 rejected values (252..=255).
fn symbol(b: u8) -> Option<char> {
    (b < 252).then(|| ALPHABET[(b % 36) as usize] as char)
}

/// `n` characters drawn uniformly from `[a-z0-9]` by rejection sampling: bytes ≥ 252 (= 7·36)
/// are thrown away, so every symbol has probability exactly 1/36 (no modulo bias).
pub fn random_alnum(n: usize) -> Result<String> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 32];
    while out.len() < n {
        rng.fill(&mut buf).map_err(|_| rng_err())?;
        for b in buf {
            if let Some(c) = symbol(b)
                && out.len() < n
            {
                out.push(c);
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Static token file (token.csv)
// ---------------------------------------------------------------------------------------------

/// A static token: 128 random bits as 32 lower-case hex characters (what
/// `head -c 16 /dev/urandom | od -An -t x | tr -d ' '` prints).
pub fn static_token() -> Result<String> {
    let mut b = [0u8; 16];
    SystemRandom::new().fill(&mut b).map_err(|_| rng_err())?;
    Ok(hex::encode(b))
}

/// One CSV field as Go's `csv.Writer` writes it: quoted when it holds a comma, a quote, CR or
/// LF, or starts with a space or tab; quotes inside are doubled.
fn csv_field(f: &str, force_quotes: bool) -> String {
    let needs = force_quotes
        || f.contains([',', '"', '\r', '\n'])
        || f.starts_with([' ', '\t'])
        || f == r"\.";
    if needs {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

/// A `token,user,uid[,"group1,group2"]` line (with trailing newline) for `--token-auth-file`.
/// The groups column is always quoted, as the classic guides write it; groups may not contain
/// commas (the apiserver splits the column on them) and may not be empty.
pub fn csv_line(token: &str, user: &str, uid: &str, groups: &[String]) -> Result<String> {
    if token.is_empty() {
        return Err(Error::BadRequest("the token may not be empty".into()));
    }
    // Refuse everything the checker (and kube-apiserver) would trip on: separators, any
    // whitespace or control character, a leading '#' (reads as a comment), a byte-order mark.
    if token.contains(|c: char| c == ',' || c == '"' || c.is_whitespace() || c.is_control())
        || token.starts_with('#')
        || token.contains('\u{feff}')
    {
        return Err(Error::BadRequest(
            "the token may not contain commas, quotes, whitespace or control characters, start with '#', or hold a byte-order mark".into(),
        ));
    }
    if user.is_empty() {
        return Err(Error::BadRequest("the user name may not be empty".into()));
    }
    for (what, v) in [("user name", user), ("uid", uid)] {
        if v.contains(['\r', '\n']) || v.trim() != v {
            return Err(Error::BadRequest(format!(
                "the {what} {v:?} has line breaks or surrounding spaces (the apiserver keeps them)"
            )));
        }
    }
    for g in groups {
        if g.is_empty() || g.contains([',', '\r', '\n']) || g.trim() != g {
            return Err(Error::BadRequest(format!(
                "invalid group {g:?}: groups may not be empty, contain commas or line breaks, or have surrounding spaces"
            )));
        }
    }
    let mut line = format!(
        "{},{},{}",
        csv_field(token, false),
        csv_field(user, false),
        csv_field(uid, false)
    );
    if !groups.is_empty() {
        line.push(',');
        line.push_str(&csv_field(&groups.join(","), true));
    }
    line.push('\n');
    Ok(line)
}

/// One record of a token file, as the apiserver reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLine {
    /// line number where the record starts (1-based)
    pub line: usize,
    /// the fields, unquoted
    pub fields: Vec<String>,
}

impl TokenLine {
    /// The token column.
    pub fn token(&self) -> &str {
        self.fields.first().map(String::as_str).unwrap_or("")
    }
    /// The user name column.
    pub fn user(&self) -> &str {
        self.fields.get(1).map(String::as_str).unwrap_or("")
    }
    /// The groups (column 4 split on commas, as the apiserver does).
    pub fn groups(&self) -> Vec<String> {
        match self.fields.get(3) {
            Some(g) => g.split(',').map(str::to_string).collect(),
            None => vec![],
        }
    }
}

/// How bad a token file problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// kube-apiserver refuses to start
    Fatal,
    /// kube-apiserver starts, but the line does not do what it looks like
    Warning,
}

/// One problem in a token file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// line number (1-based)
    pub line: usize,
    /// severity
    pub severity: Severity,
    /// explanation
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self.severity {
            Severity::Fatal => "error",
            Severity::Warning => "warning",
        };
        write!(f, "line {}: {s}: {}", self.line, self.message)
    }
}

/// A token file read by the apiserver's rules: the records it accepts and every problem.
#[derive(Debug, Clone, Default)]
pub struct TokenFile {
    /// records with at least 3 columns and a non-empty token, in file order
    pub records: Vec<TokenLine>,
    /// problems, in file order
    pub problems: Vec<Problem>,
}

impl TokenFile {
    /// True when kube-apiserver would refuse to start on this file.
    pub fn is_fatal(&self) -> bool {
        self.problems.iter().any(|p| p.severity == Severity::Fatal)
    }
}

/// A line of input with its terminator: `\r\n` normalised to `\n`, and a `\r` right before
/// EOF dropped (Go's `csv.Reader.readLine`).
fn split_lines(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (mut line, next) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (rest[..=i].to_vec(), &rest[i + 1..]),
            None => {
                let mut l = rest.to_vec();
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                (l, &rest[rest.len()..])
            }
        };
        let n = line.len();
        if n >= 2 && line[n - 2] == b'\r' && line[n - 1] == b'\n' {
            line.truncate(n - 2);
            line.push(b'\n');
        }
        out.push(line);
        rest = next;
    }
    out
}

fn strip_nl(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\n").unwrap_or(l)
}

/// A CSV record: (start line, fields).
pub type CsvRecord = (usize, Vec<String>);

/// Reads records as Go's `encoding/csv` Reader does with kube-apiserver's settings (comma `,`,
/// no comment character, strict quotes, no trimming, any number of fields). Parse errors are
/// reported with their line; reading resumes on the next line, as repeated `Read` calls do.
/// Returns (start line, fields) per record and the parse errors.
pub fn read_csv(data: &[u8]) -> (Vec<CsvRecord>, Vec<(usize, String)>) {
    let lines = split_lines(data);
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i + 1;
        let mut line: &[u8] = &lines[i];
        i += 1;
        if strip_nl(line).is_empty() {
            continue; // empty lines are skipped
        }
        let mut fields: Vec<Vec<u8>> = Vec::new();
        let mut err: Option<String> = None;
        let mut owned;
        'fields: loop {
            if line.first() != Some(&b'"') {
                let body = strip_nl(line);
                let (field, more) = match body.iter().position(|b| *b == b',') {
                    Some(j) => (&body[..j], Some(j + 1)),
                    None => (body, None),
                };
                if field.contains(&b'"') {
                    err = Some("bare \" in non-quoted field".into());
                    break 'fields;
                }
                fields.push(field.to_vec());
                match more {
                    Some(j) => line = &line[j..],
                    None => break 'fields,
                }
            } else {
                let mut buf = Vec::new();
                line = &line[1..];
                loop {
                    if let Some(j) = line.iter().position(|b| *b == b'"') {
                        buf.extend_from_slice(&line[..j]);
                        line = &line[j + 1..];
                        match line.first() {
                            Some(b'"') => {
                                buf.push(b'"');
                                line = &line[1..];
                            }
                            Some(b',') => {
                                line = &line[1..];
                                fields.push(buf);
                                continue 'fields;
                            }
                            None | Some(b'\n') if strip_nl(line).is_empty() => {
                                fields.push(buf);
                                break 'fields;
                            }
                            _ => {
                                err = Some("extraneous or missing \" in quoted field".into());
                                break 'fields;
                            }
                        }
                    } else if !line.is_empty() {
                        // The quoted field goes on on the next line.
                        buf.extend_from_slice(line);
                        match lines.get(i) {
                            Some(next) => {
                                owned = next.clone();
                                line = &owned;
                                i += 1;
                            }
                            None => {
                                err = Some(
                                    "extraneous or missing \" in quoted field (the quote is never closed)"
                                        .into(),
                                );
                                break 'fields;
                            }
                        }
                    } else {
                        err = Some(
                            "extraneous or missing \" in quoted field (the quote is never closed)"
                                .into(),
                        );
                        break 'fields;
                    }
                }
            }
        }
        match err {
            Some(e) => errors.push((start, e)),
            None => records.push((
                start,
                fields
                    .into_iter()
                    .map(|f| String::from_utf8_lossy(&f).into_owned())
                    .collect(),
            )),
        }
    }
    (records, errors)
}

/// Checks a token file by kube-apiserver's rules (`tokenfile.NewCSV`): CSV parse errors and
/// records with fewer than 3 columns stop the apiserver; an empty token is skipped with a
/// warning; a duplicate token is a warning and the later line wins. Also warns about what the
/// apiserver accepts silently but is almost certainly a mistake: `#` lines (there is no comment
/// syntax), spaces around fields (no trimming), a byte-order mark, empty groups.
pub fn check_token_file(data: &[u8]) -> TokenFile {
    let (records, errors) = read_csv(data);
    let mut out = TokenFile::default();
    for (line, e) in errors {
        out.problems.push(Problem {
            line,
            severity: Severity::Fatal,
            message: format!("{e}: kube-apiserver refuses to start"),
        });
    }
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (line, fields) in records {
        let warn = |m: String| Problem {
            line,
            severity: Severity::Warning,
            message: m,
        };
        let looks_comment = fields
            .first()
            .is_some_and(|f| f.trim_start().starts_with('#'));
        if fields.len() < 3 {
            let mut m = format!(
                "{} column(s); kube-apiserver needs at least 3 (token,user name,user uid) and refuses to start",
                fields.len()
            );
            if looks_comment {
                m.push_str(" (there is no comment syntax: a `#` line is a record)");
            }
            out.problems.push(Problem {
                line,
                severity: Severity::Fatal,
                message: m,
            });
            continue;
        }
        if fields[0].is_empty() {
            out.problems
                .push(warn("empty token: kube-apiserver skips this line".into()));
            continue;
        }
        if looks_comment {
            out.problems.push(warn(format!(
                "looks like a comment, but there is no comment syntax: this is a token {:?}",
                fields[0]
            )));
        }
        if fields[0].starts_with('\u{feff}') {
            out.problems.push(warn(
                "the file starts with a byte-order mark; it becomes part of the first token".into(),
            ));
        }
        for (n, f) in fields.iter().enumerate().take(4) {
            if f.trim() != f {
                let name = ["token", "user name", "uid", "groups"][n];
                out.problems.push(warn(format!(
                    "the {name} {f:?} has surrounding spaces; kube-apiserver does not trim them"
                )));
            }
        }
        if let Some(g) = fields.get(3)
            && !g.is_empty()
            && g.split(',').any(|x| x.is_empty())
        {
            out.problems
                .push(warn(format!("the groups column {g:?} has an empty group")));
        }
        if let Some(prev) = seen.insert(fields[0].clone(), line) {
            out.problems.push(warn(format!(
                "duplicate token (also on line {prev}); kube-apiserver keeps this later line"
            )));
        }
        out.records.push(TokenLine { line, fields });
    }
    out.problems.sort_by_key(|p| p.line);
    out
}

// ---------------------------------------------------------------------------------------------
// Bootstrap tokens
// ---------------------------------------------------------------------------------------------

/// A bootstrap token `<id>.<secret>`.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    /// public id, `[a-z0-9]{6}`
    pub id: String,
    /// secret, `[a-z0-9]{16}`
    pub secret: String,
}

impl std::fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BootstrapToken({}.<secret>)", self.id)
    }
}

impl std::fmt::Display for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.id, self.secret)
    }
}

fn is_alnum_lower(s: &str, n: usize) -> bool {
    s.len() == n
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// True for a valid token id (`[a-z0-9]{6}`).
pub fn is_token_id(s: &str) -> bool {
    is_alnum_lower(s, 6)
}

impl BootstrapToken {
    /// A new token from the system CSPRNG (6 + 16 symbols of 36: ≈ 82.7 bits of secret).
    pub fn generate() -> Result<Self> {
        Ok(BootstrapToken {
            id: random_alnum(6)?,
            secret: random_alnum(16)?,
        })
    }

    /// Parses `\A([a-z0-9]{6})\.([a-z0-9]{16})\z` (kubeadm's `BootstrapTokenPattern`).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || {
            Error::BadRequest(
                "invalid bootstrap token: the format is [a-z0-9]{6}.[a-z0-9]{16}".into(),
            )
        };
        let (id, secret) = s.split_once('.').ok_or_else(bad)?;
        if !is_token_id(id) || !is_alnum_lower(secret, 16) {
            return Err(bad());
        }
        Ok(BootstrapToken {
            id: id.into(),
            secret: secret.into(),
        })
    }

    /// What the database stores for the secret: SHA-256, lower-case hex. The secret has ~83 bits
    /// of entropy, so an unsalted fast hash cannot be reversed by search.
    pub fn secret_hash(&self) -> String {
        hash_secret(&self.secret)
    }

    /// The user name it authenticates as.
    pub fn username(&self) -> String {
        format!("{BOOTSTRAP_USER_PREFIX}{}", self.id)
    }
}

/// SHA-256 hex of a token secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes()).as_ref())
}

/// Compares a presented secret with a stored hash in constant time.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let h = hash_secret(secret);
    aws_lc_rs::constant_time::verify_slices_are_equal(h.as_bytes(), stored_hash.as_bytes()).is_ok()
}

/// Validates an extra group by kubeadm's `\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\z`.
pub fn validate_group(g: &str) -> Result<()> {
    let bad = || {
        Error::BadRequest(format!(
            "invalid group {g:?}: bootstrap token groups must match \\Asystem:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9]\\z"
        ))
    };
    let rest = g.strip_prefix("system:bootstrappers:").ok_or_else(bad)?;
    let b = rest.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 256
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b':' || *c == b'-')
        && b.last()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok { Ok(()) } else { Err(bad()) }
}

/// Splits a comma list, trims, drops empties and duplicates (keeping order).
pub fn split_list(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        if !out.iter().any(|y| y == x) {
            out.push(x.to_string());
        }
    }
    out
}

/// Validates groups (kubeadm's regex); returns them deduplicated.
pub fn validate_groups(groups: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for g in groups {
        validate_group(g)?;
        if !out.contains(g) {
            out.push(g.clone());
        }
    }
    Ok(out)
}

/// Validates usages (`signing`, `authentication`); returns them deduplicated.
pub fn validate_usages(usages: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for u in usages {
        if !KNOWN_USAGES.contains(&u.as_str()) {
            return Err(Error::BadRequest(format!(
                "invalid token usage {u:?}: valid usages are signing, authentication"
            )));
        }
        if !out.contains(u) {
            out.push(u.clone());
        }
    }
    if out.is_empty() {
        return Err(Error::BadRequest(
            "a bootstrap token needs at least one usage (signing, authentication)".into(),
        ));
    }
    Ok(out)
}

/// Description text: one line, at most 1024 characters.
pub fn validate_description(d: &str) -> Result<()> {
    if d.contains(['\r', '\n']) || d.chars().count() > 1024 {
        return Err(Error::BadRequest(
            "the description must be one line of at most 1024 characters".into(),
        ));
    }
    Ok(())
}

/// What `token create` and `POST /api/v1/kpki/tokens` ask for.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// lifetime; zero means the token never expires
    pub ttl: time::Duration,
    /// extra groups
    pub groups: Vec<String>,
    /// usages
    pub usages: Vec<String>,
    /// description
    pub description: String,
}

/// A new token and the record to store (which holds only the secret's hash).
pub fn create(req: &CreateRequest, now: OffsetDateTime) -> Result<(BootstrapToken, TokenRecord)> {
    if req.ttl.is_negative() {
        return Err(Error::BadRequest(
            "the token TTL may not be negative".into(),
        ));
    }
    let groups = validate_groups(&req.groups)?;
    let usages = validate_usages(&req.usages)?;
    validate_description(&req.description)?;
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let expires_at = if req.ttl.is_zero() {
        None
    } else {
        Some(
            now.checked_add(req.ttl)
                .ok_or_else(|| Error::BadRequest("the token TTL is too large".into()))?,
        )
    };
    let token = BootstrapToken::generate()?;
    let rec = TokenRecord {
        token_id: token.id.clone(),
        secret_hash: token.secret_hash(),
        expires_at,
        groups,
        usages,
        description: req.description.clone(),
        created_at: now,
        revoked_at: None,
    };
    Ok((token, rec))
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML here).
fn yq(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The `bootstrap-token-<id>` Secret for `kubectl apply -f` (kube-system,
/// `type: bootstrap.kubernetes.io/token`), as the bootstrap token authenticator reads it.
pub fn secret_yaml(token: &BootstrapToken, rec: &TokenRecord) -> String {
    let mut s = String::new();
    s.push_str("apiVersion: v1\nkind: Secret\nmetadata:\n");
    s.push_str(&format!("  name: bootstrap-token-{}\n", token.id));
    s.push_str("  namespace: kube-system\n");
    s.push_str("type: bootstrap.kubernetes.io/token\nstringData:\n");
    if !rec.description.is_empty() {
        s.push_str(&format!("  description: {}\n", yq(&rec.description)));
    }
    s.push_str(&format!("  token-id: {}\n", yq(&token.id)));
    s.push_str(&format!("  token-secret: {}\n", yq(&token.secret)));
    if let Some(e) = rec.expires_at {
        s.push_str(&format!(
            "  expiration: {}\n",
            yq(&crate::certinfo::rfc3339(e))
        ));
    }
    for u in &rec.usages {
        s.push_str(&format!("  usage-bootstrap-{u}: \"true\"\n"));
    }
    if !rec.groups.is_empty() {
        s.push_str(&format!(
            "  auth-extra-groups: {}\n",
            yq(&rec.groups.join(","))
        ));
    }
    s
}

/// The outcome of reviewing a presented token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review {
    /// valid: user name and groups
    Authenticated {
        /// `system:bootstrap:<id>`
        username: String,
        /// `system:bootstrappers` plus the token's extra groups
        groups: Vec<String>,
    },
    /// not valid, with the reason (for logs; never sent to the client in detail)
    Rejected(&'static str),
}

/// Decides a TokenReview: the token must parse, exist, not be deleted or expired, allow
/// `authentication`, and its secret must match (compared in constant time).
pub fn review(presented: &str, rec: Option<&TokenRecord>, now: OffsetDateTime) -> Review {
    let Ok(tok) = BootstrapToken::parse(presented) else {
        return Review::Rejected("malformed token");
    };
    let Some(rec) = rec else {
        return Review::Rejected("unknown token");
    };
    if rec.token_id != tok.id {
        return Review::Rejected("unknown token");
    }
    // Compare first so every known id costs the same work whatever its state.
    let matches = secret_matches(&tok.secret, &rec.secret_hash);
    if !matches {
        return Review::Rejected("wrong secret");
    }
    if rec.revoked_at.is_some() {
        return Review::Rejected("deleted token");
    }
    if rec.expires_at.is_some_and(|e| e <= now) {
        return Review::Rejected("expired token");
    }
    if !rec.usages.iter().any(|u| u == "authentication") {
        return Review::Rejected("token not usable for authentication");
    }
    let mut groups = vec![BOOTSTRAPPERS_GROUP.to_string()];
    for g in &rec.groups {
        if !groups.contains(g) {
            groups.push(g.clone());
        }
    }
    Review::Authenticated {
        username: tok.username(),
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn static_tokens_are_128_bit_lowercase_hex_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let t = static_token().unwrap();
            assert_eq!(t.len(), 32);
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert!(seen.insert(t), "duplicate token");
        }
        // Every hex digit shows up in every position over 2000 draws (a stuck nibble fails).
        let all: Vec<String> = seen.into_iter().collect();
        for pos in [0, 15, 31] {
            let digits: std::collections::HashSet<u8> =
                all.iter().map(|t| t.as_bytes()[pos]).collect();
            assert_eq!(digits.len(), 16, "position {pos}");
        }
    }

    #[test]
    fn csv_lines_match_the_classic_form_and_parse_back() {
        let l = csv_line(
            "0123456789abcdef0123456789abcdef",
            "kubelet-bootstrap",
            "10001",
            &v(&["system:kubelet-bootstrap"]),
        )
        .unwrap();
        assert_eq!(
            l,
            "0123456789abcdef0123456789abcdef,kubelet-bootstrap,10001,\"system:kubelet-bootstrap\"\n"
        );
        let l2 = csv_line("tok", "u,x", "1", &v(&["g1", "g2", "g3"])).unwrap();
        assert_eq!(l2, "tok,\"u,x\",1,\"g1,g2,g3\"\n");
        let f = check_token_file(format!("{l}{l2}").as_bytes());
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        assert_eq!(f.records[1].user(), "u,x");
        assert_eq!(f.records[1].groups(), v(&["g1", "g2", "g3"]));
        assert_eq!(f.records[0].groups(), v(&["system:kubelet-bootstrap"]));
        assert_eq!(csv_line("t", "u", "1", &[]).unwrap(), "t,u,1\n");
        for (t, u, g) in [
            ("", "u", vec![]),
            ("a,b", "u", vec![]),
            ("t", "", vec![]),
            ("t", " u", vec![]),
            ("t", "u", v(&["a,b"])),
            ("t", "u", v(&[""])),
        ] {
            assert!(csv_line(t, u, "1", &g).is_err(), "{t:?} {u:?} {g:?}");
        }
    }

    #[test]
    fn the_od_recipe_form_parses() {
        // `head -c 16 /dev/urandom | od -An -t x | tr -d ' '` prints 32 hex chars + newline.
        let f = check_token_file(
            b"c47ffb939f5ca36231d9e3121a252940,kubelet-bootstrap,10001,\"system:kubelet-bootstrap\"\n",
        );
        assert!(f.problems.is_empty());
        assert_eq!(f.records[0].token(), "c47ffb939f5ca36231d9e3121a252940");
    }

    fn problems(s: &str) -> Vec<(usize, Severity, String)> {
        check_token_file(s.as_bytes())
            .problems
            .into_iter()
            .map(|p| (p.line, p.severity, p.message))
            .collect()
    }

    #[test]
    fn apiserver_rules_table() {
        use Severity::*;
        // (file, [(line, severity, message fragment)])
        type Want<'a> = &'a [(usize, Severity, &'a str)];
        let cases: &[(&str, Want)] = &[
            ("a,b,c\n", &[]),
            ("a,b,c", &[]),
            ("a,b,c\r\n\r\nd,e,f\r\n", &[]),
            ("a,b,c,\"g1,g2\",extra,columns\n", &[]),
            ("\n\n a,b,c\n", &[(3, Warning, "surrounding spaces")]),
            ("# tokens\na,b,c\n", &[(1, Fatal, "no comment syntax")]),
            ("#x,b,c\n", &[(1, Warning, "looks like a comment")]),
            ("a,b\n", &[(1, Fatal, "2 column(s)")]),
            ("a,b,c\nd\n", &[(2, Fatal, "1 column(s)")]),
            (",b,c\n", &[(1, Warning, "empty token")]),
            (
                "a,b,c\nx,y,z\na,d,e\n",
                &[(3, Warning, "duplicate token (also on line 1)")],
            ),
            ("a,b\"x,c\n", &[(1, Fatal, "bare \"")]),
            ("\"a\"x,b,c\n", &[(1, Fatal, "extraneous or missing")]),
            ("a,b,\"c\n", &[(1, Fatal, "never closed")]),
            ("a,b,c,\"g1,,g2\"\n", &[(1, Warning, "empty group")]),
            ("\u{feff}a,b,c\n", &[(1, Warning, "byte-order mark")]),
            // A quoted field spanning lines: the record starts on line 1; the next is line 3.
            ("a,b,\"c\nd\"\nx\n", &[(3, Fatal, "1 column(s)")]),
            ("a,b,\"c\"\"q\"\n", &[]),
        ];
        for (file, want) in cases {
            let got = problems(file);
            assert_eq!(got.len(), want.len(), "{file:?}: {got:?}");
            for ((l, s, m), (wl, ws, wm)) in got.iter().zip(want.iter()) {
                assert_eq!((l, s), (wl, ws), "{file:?}: {got:?}");
                assert!(m.contains(wm), "{file:?}: {m:?} lacks {wm:?}");
            }
        }
        let (recs, _) = read_csv(b"a,b,\"c\nd\"\n\"q\"\"x\",y,z\r\n");
        assert_eq!(recs[0], (1, v(&["a", "b", "c\nd"])));
        assert_eq!(recs[1], (3, v(&["q\"x", "y", "z"])));
        let (recs, errs) = read_csv(b"a,\"b\" ,c\nok,1,2\n");
        assert_eq!(errs.len(), 1);
        assert_eq!(
            recs,
            vec![(2, v(&["ok", "1", "2"]))],
            "resumes on the next line"
        );
    }

    #[test]
    fn every_symbol_stands_for_exactly_seven_byte_values() {
        let mut counts = std::collections::HashMap::new();
        for b in 0..=255u8 {
            if let Some(c) = symbol(b) {
                *counts.entry(c).or_insert(0) += 1;
            }
        }
        assert_eq!(counts.len(), 36);
        assert!(counts.values().all(|n| *n == 7), "{counts:?}");
    }

    #[test]
    fn bootstrap_tokens_are_uniform_and_parse() {
        let mut ids = std::collections::HashSet::new();
        let mut counts = [0u32; 36];
        for _ in 0..2000 {
            let t = BootstrapToken::generate().unwrap();
            let s = t.to_string();
            assert_eq!(BootstrapToken::parse(&s).unwrap(), t);
            assert!(ids.insert(t.secret.clone()));
            for b in s.bytes().filter(|b| *b != b'.') {
                counts[ALPHABET.iter().position(|a| *a == b).unwrap()] += 1;
            }
        }
        // 44,000 symbols: each expected ≈1222; a biased or missing symbol falls far outside.
        for (i, c) in counts.iter().enumerate() {
            assert!(
                (1000..1450).contains(c),
                "symbol {} drawn {c} times",
                ALPHABET[i] as char
            );
        }
        for bad in [
            "",
            "abcdef",
            "abcdef.",
            "ABCDEF.0123456789abcdef",
            "abcdef.0123456789abcde",
            "abcdef.0123456789abcdeff",
            "abcde.0123456789abcdefg",
            "abcdef:0123456789abcdef",
            " abcdef.0123456789abcdef",
            "abcdef.0123456789abcdef\n",
        ] {
            assert!(BootstrapToken::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let t = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        assert!(!format!("{t:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn groups_and_usages() {
        for ok in [
            "system:bootstrappers:kubeadm:default-node-token",
            "system:bootstrappers:a",
            "system:bootstrappers:worker-1",
        ] {
            validate_group(ok).unwrap();
        }
        let long_ok = format!("system:bootstrappers:{}", "a".repeat(256));
        validate_group(&long_ok).unwrap();
        for bad in [
            "system:bootstrappers:",
            "system:bootstrappers",
            "system:bootstrappers:a-",
            "system:bootstrappers:A",
            "system:masters",
            "system:bootstrappers:a b",
            &format!("system:bootstrappers:{}", "a".repeat(257)),
        ] {
            assert!(validate_group(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            validate_usages(&v(&["signing", "authentication", "signing"])).unwrap(),
            v(&["signing", "authentication"])
        );
        assert!(validate_usages(&v(&["root"])).is_err());
        assert!(validate_usages(&[]).is_err());
        assert_eq!(split_list(" a, b,,a "), v(&["a", "b"]));
    }

    fn req(ttl: time::Duration) -> CreateRequest {
        CreateRequest {
            ttl,
            groups: v(&[DEFAULT_EXTRA_GROUP]),
            usages: v(&["signing", "authentication"]),
            description: "node join".into(),
        }
    }

    #[test]
    fn create_stores_only_a_hash_and_the_secret_yaml_has_every_key() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let (tok, rec) = create(&req(time::Duration::hours(24)), now).unwrap();
        assert_ne!(rec.secret_hash, tok.secret);
        assert!(!rec.secret_hash.contains(&tok.secret));
        assert_eq!(rec.secret_hash.len(), 64);
        assert_eq!(rec.expires_at.unwrap(), now + time::Duration::hours(24));
        let y = secret_yaml(&tok, &rec);
        for want in [
            &format!("name: bootstrap-token-{}", tok.id),
            "namespace: kube-system",
            "type: bootstrap.kubernetes.io/token",
            &format!("token-id: \"{}\"", tok.id),
            &format!("token-secret: \"{}\"", tok.secret),
            "expiration: \"2023-11-15T22:13:20Z\"",
            "usage-bootstrap-signing: \"true\"",
            "usage-bootstrap-authentication: \"true\"",
            "auth-extra-groups: \"system:bootstrappers:kubeadm:default-node-token\"",
            "description: \"node join\"",
        ] {
            assert!(y.contains(want), "{y} lacks {want}");
        }
        let (_, never) = create(&req(time::Duration::ZERO), now).unwrap();
        assert_eq!(never.expires_at, None);
        assert!(create(&req(time::Duration::hours(-1)), now).is_err());
        let mut bad = req(time::Duration::HOUR);
        bad.groups = v(&["system:masters"]);
        assert!(create(&bad, now).is_err());
    }

    #[test]
    fn review_valid_expired_deleted_malformed_unknown() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let (tok, rec) = create(&req(time::Duration::hours(1)), now).unwrap();
        let s = tok.to_string();
        assert_eq!(
            review(&s, Some(&rec), now),
            Review::Authenticated {
                username: format!("system:bootstrap:{}", tok.id),
                groups: v(&["system:bootstrappers", DEFAULT_EXTRA_GROUP]),
            }
        );
        let later = now + time::Duration::hours(2);
        assert_eq!(
            review(&s, Some(&rec), later),
            Review::Rejected("expired token")
        );
        let mut del = rec.clone();
        del.revoked_at = Some(now);
        assert_eq!(
            review(&s, Some(&del), now),
            Review::Rejected("deleted token")
        );
        assert_eq!(
            review("nope", Some(&rec), now),
            Review::Rejected("malformed token")
        );
        assert_eq!(review(&s, None, now), Review::Rejected("unknown token"));
        let wrong = format!("{}.{}", tok.id, "0".repeat(16));
        assert_eq!(
            review(&wrong, Some(&rec), now),
            Review::Rejected("wrong secret")
        );
        let mut sign_only = rec.clone();
        sign_only.usages = v(&["signing"]);
        assert!(matches!(
            review(&s, Some(&sign_only), now),
            Review::Rejected(_)
        ));
    }

    #[test]
    fn problems_display_their_line_and_severity() {
        let f = check_token_file(b"a,b\nx,y,z\n,u,1\n");
        let shown: Vec<String> = f.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].starts_with("line 1: error: 2 column(s)"),
            "{shown:?}"
        );
        assert!(
            shown[1].starts_with("line 3: warning: empty token"),
            "{shown:?}"
        );
    }

    #[test]
    fn only_fatal_problems_make_a_file_fatal() {
        assert!(check_token_file(b"a,b\n").is_fatal());
        assert!(check_token_file(b"a,b,c\na,b\n,u,1\n").is_fatal());
        let warned = check_token_file(b",u,1\n");
        assert_eq!(warned.problems.len(), 1);
        assert!(!warned.is_fatal(), "a warning alone is not fatal");
        assert!(!check_token_file(b"a,b,c\n").is_fatal());
        assert!(!check_token_file(b"").is_fatal());
    }

    #[test]
    fn the_last_line_keeps_its_last_byte_unless_it_is_a_cr() {
        // Without a final newline the last byte is data; only a `\r` right before EOF is dropped.
        let (recs, errs) = read_csv(b"a,b,c");
        assert!(errs.is_empty());
        assert_eq!(recs, vec![(1, v(&["a", "b", "c"]))]);
        let (recs, _) = read_csv(b"t,u,1\nx,y,z\r");
        assert_eq!(recs[1], (2, v(&["x", "y", "z"])));
        assert!(check_token_file(b"x,y,z\r").problems.is_empty());
    }

    #[test]
    fn debug_shows_the_id_and_hides_the_secret() {
        let t = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        assert_eq!(format!("{t:?}"), "BootstrapToken(abcdef.<secret>)");
    }

    #[test]
    fn descriptions_are_one_line_of_at_most_1024_characters() {
        validate_description("").unwrap();
        validate_description(&"x".repeat(1024)).unwrap();
        // The limit counts characters, not bytes: 1024 two-byte characters pass.
        validate_description(&"é".repeat(1024)).unwrap();
        for bad in [
            "x".repeat(1025),
            "é".repeat(1025),
            "a\nb".into(),
            "a\rb".into(),
        ] {
            assert!(validate_description(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fields_starting_with_a_blank_and_backslash_dot_are_quoted_as_go_does() {
        // Go's csv.Writer (fieldNeedsQuotes) quotes a leading space or tab and the field `\.`.
        assert_eq!(csv_field(" a", false), "\" a\"");
        assert_eq!(csv_field("\ta", false), "\"\ta\"");
        assert_eq!(csv_field(r"\.", false), r#""\.""#);
        assert_eq!(csv_field("a b", false), "a b");
        assert_eq!(csv_line("t", r"\.", "1", &[]).unwrap(), "t,\"\\.\",1\n");
    }

    #[test]
    fn tokens_with_quotes_blanks_controls_a_leading_hash_or_a_bom_are_refused() {
        for bad in [
            "a\"b",
            "a b",
            "a\tb",
            "a\u{1}b",
            "a\u{a0}b",
            "#tok",
            "\u{feff}tok",
            "a\u{feff}b",
        ] {
            assert!(csv_line(bad, "u", "1", &[]).is_err(), "{bad:?}");
        }
        // '#' only counts at the start.
        assert_eq!(csv_line("a#b", "u", "1", &[]).unwrap(), "a#b,u,1\n");
    }
}
