//! Scope parsing: OIDC scopes, the one resource a request targets, and permission patterns.

use std::collections::BTreeSet;

/// The default resource of short scope names such as `User.Read`.
pub const GRAPH: &str = "https://graph.microsoft.com";

/// The audience of federated identity credential tokens: an app's token for
/// `api://AzureADTokenExchange/.default` is the assertion of the `user_fic` grant.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The application id Entra puts in the `aud` of such tokens.
pub const TOKEN_EXCHANGE_APP_ID: &str = "fb60f99c-7a34-4190-8149-302f77469936";

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
    /// The resource scopes exactly as sent (`User.Read`, `https://graph.microsoft.com/Mail.Read`),
    /// without duplicates: the token response echoes them in this form.
    pub as_sent: Vec<String>,
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
            if !parsed.as_sent.iter().any(|s| s == scope) {
                parsed.as_sent.push(scope.to_string());
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

    /// The permissions (short names) a delegated token carries in `scp`: the names requested,
    /// with `.default` replaced by the permissions the client was granted on the resource
    /// (`delegated`: the client's delegated-scope patterns; wildcard patterns name none).
    ///
    /// Rule: a `.default` request is given "all the permissions the app was consented to" on
    /// the resource, and the token's `scp` lists them, never `.default` (Microsoft identity
    /// platform, "Scopes and permissions", section "The .default scope":
    /// <https://learn.microsoft.com/entra/identity-platform/scopes-oidc#the-default-scope>).
    /// When no permission of the resource is named, Graph gives `User.Read` (the permission
    /// every Entra app registration starts with) and other resources `user_impersonation`.
    pub fn granted_names(&self, delegated: &[String]) -> Vec<String> {
        fn push(out: &mut Vec<String>, n: String) {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&n)) {
                out.push(n);
            }
        }
        let mut out: Vec<String> = Vec::new();
        for name in &self.names {
            if name == ".default" {
                for p in self.consented(delegated) {
                    push(&mut out, p);
                }
            } else {
                push(&mut out, name.clone());
            }
        }
        if out.is_empty() {
            out.push("User.Read".to_string());
        }
        out
    }

    /// The client's concrete permissions on this request's resource, or the fallback.
    fn consented(&self, delegated: &[String]) -> Vec<String> {
        let resource = self.resource_or_graph();
        let mut names: Vec<String> = delegated
            .iter()
            .filter(|p| !p.contains('*'))
            .map(|p| split_scope(p))
            .filter(|(r, n)| r.eq_ignore_ascii_case(&resource) && *n != ".default")
            .map(|(_, n)| n.to_string())
            .collect();
        names.dedup();
        if names.is_empty() {
            names.push(if resource.eq_ignore_ascii_case(GRAPH) {
                "User.Read".to_string()
            } else {
                "user_impersonation".to_string()
            });
        }
        names
    }

    /// The `scope` value of a delegated token response.
    ///
    /// Rules, each from Microsoft's documentation or MSAL's recorded Entra responses:
    /// - Explicit scopes are echoed in the form they were requested: short Graph names stay
    ///   short (`"scope": "User.Read Mail.Read"`, "Get access on behalf of a user",
    ///   <https://learn.microsoft.com/graph/auth-v2-user>), qualified ones stay qualified,
    ///   in the case sent (request `https://graph.microsoft.com/user.read` → `"scope":
    ///   "https://graph.microsoft.com/user.read"`, "OAuth 2.0 On-Behalf-Of flow",
    ///   <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow>,
    ///   and `https://graph.microsoft.com/mail.read` in "OAuth 2.0 authorization code flow",
    ///   <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow>).
    /// - `<resource>/.default` is answered with the consented permissions qualified the same
    ///   way, followed by the `.default` scope itself (`"scope":
    ///   "https://management.core.windows.net//user_impersonation
    ///   https://management.core.windows.net//.default"`, Entra's answer recorded in MSAL.NET's
    ///   tests, `MockHelpers.GetTokenResponseWithNoOidClaim`, and in Azure CLI's MSAL cache), so
    ///   MSAL's cache finds the token again by `.default`.
    /// - The OIDC scopes `profile openid email` follow when requested; `offline_access` is not
    ///   echoed (`"scope": "User.Read profile openid email"`, "OAuth 2.0 device authorization
    ///   grant", <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code>).
    pub fn echo_granted(&self, delegated: &[String]) -> String {
        let mut out: Vec<String> = Vec::new();
        for sent in &self.as_sent {
            let (_, name) = split_scope(sent);
            if name == ".default" {
                // The resource prefix exactly as sent (`https://x//`), or none for a short form.
                let prefix = &sent[..sent.len() - name.len()];
                for p in self.consented(delegated) {
                    out.push(format!("{prefix}{p}"));
                }
            }
            out.push(sent.clone());
        }
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

    /// [`RequestedScopes::echo_granted`] for a client without concrete permissions.
    pub fn echo(&self) -> String {
        self.echo_granted(&[])
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

    // Sources in the documentation of `echo_granted` and `granted_names`.
    #[test]
    fn scopes_are_echoed_in_the_form_requested() {
        let delegated = [
            "https://graph.microsoft.com/User.Read".to_string(),
            "Mail.Read".to_string(),
            "https://graph.microsoft.com/*".to_string(),
            "api://app/access_as_user".to_string(),
        ];
        let echo = |s: &str| RequestedScopes::parse(s).unwrap().echo_granted(&delegated);
        let scp = |s: &str| RequestedScopes::parse(s).unwrap().granted_names(&delegated);
        assert_eq!(
            echo("https://graph.microsoft.com/user.read offline_access"),
            "https://graph.microsoft.com/user.read"
        );
        assert_eq!(
            echo("User.Read Mail.Read offline_access openid profile email"),
            "User.Read Mail.Read profile openid email"
        );
        assert_eq!(
            echo("https://graph.microsoft.com/.default openid"),
            "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.Read https://graph.microsoft.com/.default openid"
        );
        assert_eq!(
            scp("https://graph.microsoft.com/.default"),
            ["User.Read", "Mail.Read"]
        );
        assert_eq!(
            echo("api://app/.default"),
            "api://app/access_as_user api://app/.default"
        );
        assert_eq!(scp("api://app/.default"), ["access_as_user"]);
        // A resource whose permissions are only wildcards.
        assert_eq!(
            RequestedScopes::parse("api://other/.default")
                .unwrap()
                .echo_granted(&["api://other/*".into()]),
            "api://other/user_impersonation api://other/.default"
        );
        assert_eq!(scp("openid profile"), ["User.Read"]);
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
