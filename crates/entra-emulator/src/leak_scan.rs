//! Searches log files for the secrets a [`SecretsLog`](crate::secrets_log::SecretsLog)
//! recorded: `entra-emulator scan-logs --secrets secrets.jsonl app.log`.
//!
//! Every token, code, password and client secret must be absent from every line. A username may
//! appear only on a line that says `contains_pii=true` (how `entra-msal` marks an event logged
//! with PII logging switched on); usernames match case-insensitively. A JWT is found by its
//! signature or by the end of its payload, so a log that prints either part alone is caught too.
//! Findings name the file, the line and the kind of secret, never the secret itself.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::secrets_log::{SecretKind, SecretRecord};

/// The marker that allows usernames on a log line.
pub const PII_MARKER: &[u8] = b"contains_pii=true";

/// Secrets shorter than this are not searched for (they would match ordinary text).
const MIN_SECRET_LEN: usize = 6;
/// Usernames shorter than this are not searched for.
const MIN_USERNAME_LEN: usize = 3;
/// Longer values are searched for by a prefix of this length (a leak of the whole value contains
/// it), which keeps the automaton small when a test suite issued thousands of tokens.
const LONG_VALUE_PREFIX: usize = 96;
/// A JWT payload is searched for by its last characters (its start is the same for every token
/// of one audience).
const JWT_PAYLOAD_TAIL: usize = 48;

/// One secret found in a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The log file.
    pub file: PathBuf,
    /// The 1-based line.
    pub line: usize,
    /// What leaked.
    pub kind: SecretKind,
    /// The form field, for a secret a client sent.
    pub field: Option<String>,
    /// Which part of the secret matched (`whole value`, `JWT signature`, ...).
    pub part: &'static str,
    /// The secret's length in characters.
    pub length: usize,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {:?}", self.file.display(), self.line, self.kind)?;
        if let Some(field) = &self.field {
            write!(f, " ({field})")?;
        }
        write!(f, ", {} of a {}-character value", self.part, self.length)
    }
}

/// What a scan covered and found.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Distinct secrets searched for (usernames included).
    pub secrets: usize,
    /// Files read.
    pub files: usize,
    /// Lines read.
    pub lines: usize,
    /// Every occurrence.
    pub findings: Vec<Finding>,
}

struct Pattern {
    kind: SecretKind,
    field: Option<String>,
    part: &'static str,
    length: usize,
}

/// The compiled search for one set of secrets.
pub struct LeakScanner {
    secrets: Option<AhoCorasick>,
    secret_patterns: Vec<Pattern>,
    usernames: Option<AhoCorasick>,
    username_patterns: Vec<Pattern>,
}

impl std::fmt::Debug for LeakScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeakScanner")
            .field("secrets", &self.secret_patterns.len())
            .field("usernames", &self.username_patterns.len())
            .finish()
    }
}

/// The strings to search for one secret, with the part each one is.
fn needles(value: &str) -> Vec<(&str, &'static str)> {
    let parts: Vec<&str> = value.split('.').collect();
    if parts.len() == 3 && value.starts_with("eyJ") {
        let mut out = Vec::new();
        if parts[2].len() >= 16 {
            out.push((parts[2], "JWT signature"));
        }
        let payload = parts[1];
        if payload.len() >= 16 {
            let tail = payload.len().saturating_sub(JWT_PAYLOAD_TAIL);
            // base64url is ASCII, so any byte index is a character boundary.
            out.push((&payload[tail..], "JWT payload"));
        }
        if !out.is_empty() {
            return out;
        }
    }
    if value.len() > LONG_VALUE_PREFIX {
        let mut end = LONG_VALUE_PREFIX;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        return vec![(&value[..end], "start")];
    }
    vec![(value, "whole value")]
}

fn automaton(needles: &[String], case_insensitive: bool) -> std::io::Result<Option<AhoCorasick>> {
    if needles.is_empty() {
        return Ok(None);
    }
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostFirst)
        .ascii_case_insensitive(case_insensitive)
        .build(needles)
        .map(Some)
        .map_err(|e| std::io::Error::other(format!("cannot build the search: {e}")))
}

impl LeakScanner {
    /// Compiles the search for `records` (duplicates and too-short values are dropped).
    pub fn new(records: &[SecretRecord]) -> std::io::Result<Self> {
        let mut secret_needles: Vec<String> = Vec::new();
        let mut secret_patterns = Vec::new();
        let mut username_needles: Vec<String> = Vec::new();
        let mut username_patterns = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for r in records {
            let length = r.value.chars().count();
            if r.kind == SecretKind::Username {
                let lower = r.value.to_ascii_lowercase();
                if length < MIN_USERNAME_LEN || !seen.insert(format!("u:{lower}")) {
                    continue;
                }
                username_needles.push(lower);
                username_patterns.push(Pattern {
                    kind: r.kind,
                    field: None,
                    part: "whole value",
                    length,
                });
                continue;
            }
            if length < MIN_SECRET_LEN {
                continue;
            }
            for (needle, part) in needles(&r.value) {
                if !seen.insert(format!("s:{needle}")) {
                    continue;
                }
                secret_needles.push(needle.to_string());
                secret_patterns.push(Pattern {
                    kind: r.kind,
                    field: r.field.clone(),
                    part,
                    length,
                });
            }
        }
        Ok(Self {
            secrets: automaton(&secret_needles, false)?,
            secret_patterns,
            usernames: automaton(&username_needles, true)?,
            username_patterns,
        })
    }

    /// How many distinct strings are searched for.
    pub fn len(&self) -> usize {
        self.secret_patterns.len() + self.username_patterns.len()
    }

    /// Whether there is nothing to search for.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The findings on one line (`file` and `line` only label them).
    pub fn scan_line(&self, file: &Path, line: usize, text: &[u8]) -> Vec<Finding> {
        let finding = |p: &Pattern| Finding {
            file: file.to_path_buf(),
            line,
            kind: p.kind,
            field: p.field.clone(),
            part: p.part,
            length: p.length,
        };
        let mut out = Vec::new();
        if let Some(ac) = &self.secrets {
            for m in ac.find_iter(text) {
                out.push(finding(&self.secret_patterns[m.pattern().as_usize()]));
            }
        }
        if let Some(ac) = &self.usernames
            && !contains(text, PII_MARKER)
        {
            for m in ac.find_iter(text) {
                out.push(finding(&self.username_patterns[m.pattern().as_usize()]));
            }
        }
        out
    }

    /// Scans every line of every file.
    pub fn scan_files(&self, files: &[PathBuf]) -> std::io::Result<ScanReport> {
        let mut report = ScanReport {
            secrets: self.len(),
            ..ScanReport::default()
        };
        for path in files {
            let file = std::fs::File::open(path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
            })?;
            let mut reader = std::io::BufReader::new(file);
            let mut buf = Vec::new();
            let mut n = 0;
            loop {
                buf.clear();
                if reader.read_until(b'\n', &mut buf)? == 0 {
                    break;
                }
                n += 1;
                report.findings.extend(self.scan_line(path, n, &buf));
            }
            report.files += 1;
            report.lines += n;
        }
        Ok(report)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The files to scan: each file named, and the regular files directly inside each directory
/// named (sorted), except `skip` (the secrets log itself).
pub fn collect_files(paths: &[PathBuf], skip: &Path) -> std::io::Result<Vec<PathBuf>> {
    let skip = std::fs::canonicalize(skip).unwrap_or_else(|_| skip.to_path_buf());
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.is_file())
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(p.clone());
        }
    }
    files.retain(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()) != skip);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: SecretKind, value: &str) -> SecretRecord {
        SecretRecord {
            kind,
            field: None,
            value: value.into(),
        }
    }

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJhcGk6Ly9lbXVsYXRvciIsInV0aSI6IkFCQ0RFRkdISUpLTE1OT1AifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1pcy1sb25n";

    fn scan(records: &[SecretRecord], line: &str) -> Vec<Finding> {
        LeakScanner::new(records)
            .unwrap()
            .scan_line(Path::new("app.log"), 7, line.as_bytes())
    }

    #[test]
    fn finds_a_whole_secret_and_says_where_without_printing_it() {
        let found = scan(
            &[record(SecretKind::Password, "Hunter2-Password")],
            "DEBUG sending form password=Hunter2-Password&x=1",
        );
        assert_eq!(found.len(), 1);
        let text = found[0].to_string();
        assert_eq!(
            text,
            "app.log:7: Password, whole value of a 16-character value"
        );
        assert!(!text.contains("Hunter2"));
    }

    #[test]
    fn finds_a_jwt_by_its_signature_or_its_payload_alone() {
        let records = [record(SecretKind::AccessToken, JWT)];
        let parts: Vec<&str> = JWT.split('.').collect();
        assert_eq!(scan(&records, &format!("token {JWT}")).len(), 2);
        let sig = scan(&records, &format!("sig={}", parts[2]));
        assert_eq!(sig.len(), 1);
        assert_eq!(sig[0].part, "JWT signature");
        let payload = scan(&records, &format!("claims={}", parts[1]));
        assert_eq!(payload[0].part, "JWT payload");
        // The header alone is the same for every token: not a leak.
        assert!(scan(&records, parts[0]).is_empty());
    }

    #[test]
    fn usernames_only_on_lines_marked_as_containing_pii() {
        let records = [record(SecretKind::Username, "Alice@Contoso.example")];
        assert_eq!(
            scan(&records, "token acquired account=alice@contoso.example").len(),
            1
        );
        assert!(scan(&records, "contains_pii=true account=alice@contoso.example").is_empty());
        assert!(scan(&records, "account=[redacted]").is_empty());
    }

    #[test]
    fn short_values_are_not_searched_and_long_ones_by_their_start() {
        let long = "r".repeat(40) + &"s".repeat(200);
        let records = [
            record(SecretKind::Received, "inval"),
            record(SecretKind::RefreshToken, &long),
        ];
        let scanner = LeakScanner::new(&records).unwrap();
        assert_eq!(scanner.len(), 1);
        assert_eq!(
            scan(&records, &format!("x {}", &long[..LONG_VALUE_PREFIX]))[0].part,
            "start"
        );
        assert!(scan(&records, "inval inval").is_empty());
    }

    #[test]
    fn scans_files_and_directories_but_not_the_secrets_log() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets.jsonl");
        std::fs::write(&secrets, "Hunter2-Password\n").unwrap();
        std::fs::write(dir.path().join("a.log"), "one\ntwo Hunter2-Password\n").unwrap();
        std::fs::write(dir.path().join("b.log"), "clean\n").unwrap();
        let files = collect_files(&[dir.path().to_path_buf()], &secrets).unwrap();
        assert_eq!(files.len(), 2);
        let report = LeakScanner::new(&[record(SecretKind::Password, "Hunter2-Password")])
            .unwrap()
            .scan_files(&files)
            .unwrap();
        assert_eq!((report.files, report.lines, report.secrets), (2, 3, 1));
        assert_eq!(report.findings.len(), 1);
        assert_eq!(report.findings[0].line, 2);
        assert!(report.findings[0].file.ends_with("a.log"));
    }
}
