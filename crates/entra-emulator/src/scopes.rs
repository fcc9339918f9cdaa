//! Scope parsing: OIDC scopes, the one resource a request targets, and permission patterns.

use std::collections::BTreeSet;

/// The default resource of short scope names such as `User.Read`.
pub const GRAPH: &str = "https://graph.microsoft.com";

/// The scopes every OIDC request may add, which name no resource.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// A parsed `scope` parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestedScopes {
    /// `openid`, `profile`, `email`, `offline_access` among the requested ones.
    pub oidc: BTreeSet<String>,
    /// The resource the non-OIDC scopes belong to (`api://x`, `https://graph.microsoft.com`).
    pub resource: Option<String>,
    /// The resource's scope names as requested (`access_as_user`, `.default`).
    pub names: Vec<String>,
}

/// Why a scope parameter was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeError {
    /// Scopes of more than one resource in one request.
    MultipleResources(String),
    /// Empty or unusable value.
    Invalid(String),
}

impl RequestedScopes {
    /// Parses a space-separated `scope` value.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        let mut parsed = Self::default();
        for scope in value.split_ascii_whitespace() {
            if OIDC_SCOPES.contains(&scope) {
                parsed.oidc.insert(scope.to_string());
                continue;
            }
            let (resource, name) = split_scope(scope);
            if name.is_empty() {
                return Err(ScopeError::Invalid(scope.to_string()));
            }
            match &parsed.resource {
                Some(r) if !r.eq_ignore_ascii_case(&resource) => {
                    return Err(ScopeError::MultipleResources(scope.to_string()));
                }
                _ => parsed.resource = Some(resource),
            }
            if !parsed.names.iter().any(|n| n == name) {
                parsed.names.push(name.to_string());
            }
        }
        Ok(parsed)
    }

    /// The fully qualified resource scopes (`api://x/read`).
    pub fn qualified(&self) -> Vec<String> {
        let Some(resource) = &self.resource else {
            return Vec::new();
        };
        self.names
            .iter()
            .map(|n| format!("{resource}/{n}"))
            .collect()
    }

    /// Whether `.default` was requested.
    pub fn is_default(&self) -> bool {
        self.names.iter().any(|n| n == ".default")
    }

    /// The resource, defaulting to Graph when only OIDC scopes were asked for (as Entra does).
    pub fn resource_or_graph(&self) -> String {
        self.resource.clone().unwrap_or_else(|| GRAPH.to_string())
    }

    /// The `scope` value echoed in a token response: Graph scopes in short form, others
    /// qualified, followed by the OIDC scopes Entra echoes (`offline_access` is not echoed).
    pub fn echo(&self) -> String {
        let mut out: Vec<String> = match self.resource.as_deref() {
            Some(GRAPH) => self.names.clone(),
            _ => self.qualified(),
        };
        if out.is_empty() {
            out.push("User.Read".to_string());
        }
        for s in ["profile", "openid", "email"] {
            if self.oidc.contains(s) {
                out.push(s.to_string());
            }
        }
        out.join(" ")
    }
}

/// Splits `api://x/read` into (`api://x`, `read`); a short name belongs to Graph.
pub fn split_scope(scope: &str) -> (String, &str) {
    match scope.rfind('/') {
        Some(i) if scope.contains("://") || looks_like_guid_prefix(scope) => (
            scope[..i].trim_end_matches('/').to_string(),
            &scope[i + 1..],
        ),
        _ => (GRAPH.to_string(), scope),
    }
}

fn looks_like_guid_prefix(scope: &str) -> bool {
    scope
        .split('/')
        .next()
        .is_some_and(|first| uuid::Uuid::parse_str(first).is_ok())
}

/// Qualifies a permission pattern the way scopes are qualified (`User.Read` → Graph).
pub fn qualify_pattern(pattern: &str) -> String {
    let (resource, name) = split_scope(pattern);
    format!("{resource}/{name}")
}

/// Case-insensitive glob match where `*` matches any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether any of `patterns` (qualified with [`qualify_pattern`]) permits `scope` (qualified).
pub fn permitted(patterns: &[String], scope: &str) -> bool {
    patterns
        .iter()
        .any(|p| glob_match(&qualify_pattern(p), scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_resource_and_oidc_scopes() {
        let s =
            RequestedScopes::parse("openid profile offline_access api://app/read api://app/write")
                .unwrap();
        assert_eq!(s.resource.as_deref(), Some("api://app"));
        assert_eq!(s.names, ["read", "write"]);
        assert_eq!(s.echo(), "api://app/read api://app/write profile openid");
        let g = RequestedScopes::parse("User.Read openid").unwrap();
        assert_eq!(g.resource.as_deref(), Some(GRAPH));
        assert_eq!(g.echo(), "User.Read openid");
    }

    #[test]
    fn refuses_two_resources() {
        assert!(matches!(
            RequestedScopes::parse("api://a/x api://b/y"),
            Err(ScopeError::MultipleResources(_))
        ));
    }

    #[test]
    fn wildcards() {
        assert!(glob_match(
            "api://load-*/.default",
            "api://load-17/.default"
        ));
        assert!(!glob_match("api://load-*/.default", "api://other/.default"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(permitted(
            &["User.Read".into()],
            "https://graph.microsoft.com/User.Read"
        ));
    }
}
