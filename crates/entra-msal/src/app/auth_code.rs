//! The authorization-code flow with PKCE, state and nonce, for web apps and native apps on both
//! applications (`initiate_auth_code_flow` / `acquire_token_by_auth_code_flow`), for the
//! interactive public-client flow, and the redemption of a raw code
//! (`acquire_token_by_authorization_code`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::core::{CacheAccess, ClientCore, GrantType, Issued, oid_anchor};
use super::options::AuthorizationCodeOptions;
use super::request::Request;
use super::result::AuthenticationResult;
use super::scopes;
use super::telemetry::{ApiId, RefreshReason};
use crate::error::{Classification, Error, ServiceError};
use crate::http::ExtraHeaders;
use crate::jwt::home_account_id;
use crate::oauth::grants;
use crate::oauth::pkce::{self, Pkce};

/// Seconds of clock skew tolerated when checking `auth_time` against `max_age`.
const MAX_AGE_SKEW: i64 = 120;

/// Options of [`AuthCodeFlow`].
#[derive(Debug, Clone, Default)]
pub struct AuthCodeFlowOptions {
    /// Where the authorization response goes (registered for the app).
    pub redirect_uri: String,
    /// `state`; a random one when `None`.
    pub state: Option<String>,
    /// What the sign-in page asks of the user.
    pub prompt: Option<crate::app::Prompt>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// `domain_hint`.
    pub domain_hint: Option<String>,
    /// A claims challenge from a previous error.
    pub claims_challenge: Option<String>,
    /// `max_age` in seconds: the user must have signed in that recently.
    pub max_age: Option<u64>,
    /// `query` or `form_post` (default `form_post`, as MSAL recommends).
    pub response_mode: Option<String>,
    /// Scopes of other resources to consent to up front.
    pub extra_scopes_to_consent: Vec<String>,
}

/// A started authorization-code flow: send the user to `auth_uri`, then hand the
/// authorization response to `acquire_token_by_auth_code_flow`.
///
/// It is `Serialize` and `Deserialize`, so a web app can keep it in its session between the
/// redirect and the callback, and another worker or instance (an application built with the same
/// client id and authority) can finish it. **The serialized form holds secrets**: the PKCE
/// `code_verifier` (whoever holds it and intercepts the code can redeem it) and the `nonce` the
/// id token must carry. Keep it server-side (a server-side session store, never a
/// client-readable cookie), encrypt it if it leaves the process, and drop it once redeemed.
/// `Debug` prints neither field.
#[derive(Clone, Serialize, Deserialize)]
pub struct AuthCodeFlow {
    /// The URL to send the user's browser to.
    pub auth_uri: String,
    /// The `state` sent.
    pub state: String,
    /// The redirect URI.
    pub redirect_uri: String,
    /// The scopes asked for (undecorated; empty for "sign in only").
    pub scopes: Vec<String>,
    /// The scopes of other resources consented to up front; a redemption may ask for a token
    /// for them instead (`acquire_token_by_auth_code_flow_for_scopes`).
    #[serde(default)]
    pub extra_scopes_to_consent: Vec<String>,
    /// The claims sent, if any.
    pub claims: Option<String>,
    /// `max_age`, if any.
    pub max_age: Option<u64>,
    /// The PKCE verifier (a secret).
    pub(crate) code_verifier: String,
    /// The `nonce` sent, which the id token must carry.
    pub(crate) nonce: String,
}

impl std::fmt::Debug for AuthCodeFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCodeFlow")
            .field("auth_uri", &self.auth_uri)
            .field("state", &self.state)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("extra_scopes_to_consent", &self.extra_scopes_to_consent)
            .field("max_age", &self.max_age)
            .field("code_verifier", &"[redacted]")
            .field("nonce", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl AuthCodeFlow {
    /// Builds the authorization URL (pure; no I/O).
    pub(crate) fn build(
        authorization_endpoint: &str,
        client_id: &str,
        scopes: Vec<String>,
        decorated: &[String],
        claims: Option<String>,
        options: &AuthCodeFlowOptions,
    ) -> Result<Self, Error> {
        if options.redirect_uri.is_empty() {
            return Err(Error::configuration(
                "the auth-code flow needs a redirect URI registered for the app".into(),
            ));
        }
        let pkce = Pkce::generate();
        let raw_nonce = pkce::random_urlsafe(16);
        let nonce = pkce::nonce_parameter(&raw_nonce);
        let state = options
            .state
            .clone()
            .unwrap_or_else(|| pkce::random_urlsafe(16));
        let mut all_scopes: Vec<String> = decorated.to_vec();
        all_scopes.extend(options.extra_scopes_to_consent.iter().cloned());
        all_scopes.sort_unstable();
        all_scopes.dedup();
        let mut url = url::Url::parse(authorization_endpoint).map_err(|e| {
            Error::configuration_caused(
                format!("the authorization endpoint {authorization_endpoint:?} is not a URL: {e}"),
                e,
            )
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &options.redirect_uri)
                .append_pair("scope", &all_scopes.join(" "))
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", Pkce::METHOD)
                .append_pair(
                    "response_mode",
                    options.response_mode.as_deref().unwrap_or("form_post"),
                )
                .append_pair("client_info", "1");
            for (name, value) in [
                ("prompt", options.prompt.map(|p| p.as_str())),
                ("login_hint", options.login_hint.as_deref()),
                ("domain_hint", options.domain_hint.as_deref()),
            ] {
                if let Some(v) = value.filter(|v| !v.is_empty()) {
                    q.append_pair(name, v);
                }
            }
            if let Some(hint) = options.login_hint.as_deref().filter(|v| !v.is_empty()) {
                q.append_pair("X-AnchorMailbox", &format!("UPN:{hint}"));
            }
            if let Some(max_age) = options.max_age {
                q.append_pair("max_age", &max_age.to_string());
            }
            if let Some(c) = &claims {
                q.append_pair("claims", c);
            }
        }
        Ok(Self {
            auth_uri: url.into(),
            state,
            redirect_uri: options.redirect_uri.clone(),
            scopes,
            extra_scopes_to_consent: options.extra_scopes_to_consent.clone(),
            claims,
            max_age: options.max_age,
            code_verifier: pkce.verifier,
            nonce,
        })
    }

    /// Checks the authorization response against this flow and returns the code.
    pub(crate) fn code_from_response(
        &self,
        response: &HashMap<String, String>,
    ) -> Result<String, Error> {
        if response.get("state").map(String::as_str) != Some(self.state.as_str()) {
            return Err(Error::Validation(
                "the state in the authorization response does not match the flow's state (a stale or forged response)".into(),
            ));
        }
        if let Some(error) = response.get("error") {
            let description = response
                .get("error_description")
                .cloned()
                .unwrap_or_default();
            let code = description
                .strip_prefix("AADSTS")
                .and_then(|d| d.split(':').next())
                .and_then(|n| n.parse().ok());
            let suberror = response.get("suberror").cloned();
            return Err(Error::from_service(ServiceError {
                error: error.clone(),
                error_description: description,
                error_codes: code.into_iter().collect(),
                classification: Classification::from_suberror(suberror.as_deref()),
                suberror,
                claims: response.get("claims").cloned(),
                correlation_id: response.get("correlation_id").cloned(),
                trace_id: response.get("trace_id").cloned(),
                http_status: None,
            }));
        }
        response
            .get("code")
            .filter(|c| !c.is_empty())
            .cloned()
            .ok_or_else(|| {
                Error::Validation(
                    "the authorization response has neither a code nor an error".into(),
                )
            })
    }

    /// The scopes a redemption asks for: the flow's, or `requested` when given, which must be
    /// among the flow's scopes and its extra scopes consented to (MSAL Python's rule).
    fn redemption_scopes(&self, requested: Option<&[&str]>) -> Result<Vec<String>, Error> {
        let Some(requested) = requested else {
            return Ok(self.scopes.clone());
        };
        let requested = scopes::validate_sign_in(requested)?;
        if requested.is_empty() {
            return Ok(self.scopes.clone());
        }
        let known = |s: &String| {
            self.scopes
                .iter()
                .chain(&self.extra_scopes_to_consent)
                .any(|k| k.eq_ignore_ascii_case(s))
        };
        if let Some(unknown) = requested.iter().find(|s| !known(s)) {
            return Err(Error::configuration(format!(
                "the scope {unknown:?} was not asked for when the auth-code flow started: redeem \
                 the code for the flow's scopes {:?} or its extra scopes to consent {:?}",
                self.scopes, self.extra_scopes_to_consent
            )));
        }
        Ok(requested)
    }
}

/// Checks an id token's `nonce` (when one was sent) and, with `max_age`, its `auth_time`.
fn check_id_token(
    claims: Option<&Map<String, Value>>,
    nonce: Option<&str>,
    max_age: Option<u64>,
    now: i64,
) -> Result<(), Error> {
    let Some(claims) = claims else {
        return Ok(());
    };
    if let Some(nonce) = nonce
        && claims.get("nonce").and_then(Value::as_str) != Some(nonce)
    {
        return Err(Error::Validation(
            "the id token's nonce does not match the one sent (possible token replay)".into(),
        ));
    }
    if let Some(max_age) = max_age {
        let auth_time = claims
            .get("auth_time")
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                Error::Validation("max_age was requested but the id token has no auth_time".into())
            })?;
        if now > auth_time + max_age as i64 + MAX_AGE_SKEW {
            return Err(Error::Validation(format!(
                "the user signed in {} s ago, longer than max_age {max_age} s",
                now - auth_time
            )));
        }
    }
    Ok(())
}

/// What one code redemption sends and checks.
struct Redemption<'a> {
    code: &'a str,
    redirect_uri: &'a str,
    code_verifier: Option<&'a str>,
    nonce: Option<&'a str>,
    max_age: Option<u64>,
    anchor: ExtraHeaders,
}

impl ClientCore {
    /// Starts an auth-code flow for `scopes` (none: sign in only): the authorization URL, with
    /// PKCE, `state` and `nonce` generated.
    pub(crate) async fn initiate_auth_code_flow(
        &self,
        scopes: &[&str],
        options: &AuthCodeFlowOptions,
    ) -> Result<AuthCodeFlow, Error> {
        let request = self.begin_sign_in(scopes, options.claims_challenge.as_deref())?;
        let endpoints = self.endpoints().await?;
        AuthCodeFlow::build(
            &endpoints.authorization_endpoint,
            &self.client_id,
            request.scopes,
            &request.decorated,
            request.claims,
            options,
        )
    }

    /// `acquire_token_by_auth_code_flow(_for_scopes)` of both applications: the web-app (or
    /// native-redirect) flow's redemption inside the cache's listener bracket, reported as the
    /// auth-code API, with no extra body parameters.
    pub(crate) async fn complete_auth_code_flow(
        &self,
        flow: &AuthCodeFlow,
        response: &HashMap<String, String>,
        scopes: Option<&[&str]>,
    ) -> Result<AuthenticationResult, Error> {
        let no_extra = std::collections::BTreeMap::new();
        CacheAccess::around(
            &self.cache,
            None,
            self.redeem_auth_code(flow, response, ApiId::AuthorizationCode, scopes, &no_extra),
        )
        .await
    }

    /// `acquire_token_by_authorization_code` of both applications: a raw code's redemption
    /// inside the cache's listener bracket.
    pub(crate) async fn complete_authorization_code(
        &self,
        code: &str,
        scopes: &[&str],
        redirect_uri: &str,
        options: &AuthorizationCodeOptions,
    ) -> Result<AuthenticationResult, Error> {
        CacheAccess::around(
            &self.cache,
            None,
            self.redeem_authorization_code(code, scopes, redirect_uri, options),
        )
        .await
    }

    /// Completes an auth-code flow: checks the response against the flow, redeems the code with
    /// the PKCE verifier (for the flow's scopes, or `scopes` among them), checks the id token's
    /// nonce, and caches the tokens. `api` is the public API redeeming it (interactive sign-in
    /// or the web-app flow), for the telemetry headers.
    pub(crate) async fn redeem_auth_code(
        &self,
        flow: &AuthCodeFlow,
        response: &HashMap<String, String>,
        api: ApiId,
        scopes: Option<&[&str]>,
        extra: &std::collections::BTreeMap<String, String>,
    ) -> Result<AuthenticationResult, Error> {
        let code = flow.code_from_response(response)?;
        let request = self
            .resume(flow.redemption_scopes(scopes)?, flow.claims.clone())
            .with_extra(extra.clone());
        request.report_as(api, RefreshReason::NotSilent);
        let anchor = response
            .get("client_info")
            .and_then(|ci| home_account_id(ci))
            .map(|hid| oid_anchor(&hid))
            .unwrap_or_default();
        self.redeem_code(
            &request,
            Redemption {
                code: &code,
                redirect_uri: &flow.redirect_uri,
                code_verifier: Some(&flow.code_verifier),
                nonce: Some(&flow.nonce),
                max_age: flow.max_age,
                anchor,
            },
        )
        .await
    }

    /// Redeems a code obtained without an [`AuthCodeFlow`] (a hand-built authorization URL,
    /// another process): the `nonce` and PKCE verifier are the caller's, when it used them.
    pub(crate) async fn redeem_authorization_code(
        &self,
        code: &str,
        scopes: &[&str],
        redirect_uri: &str,
        options: &AuthorizationCodeOptions,
    ) -> Result<AuthenticationResult, Error> {
        if code.is_empty() {
            return Err(Error::configuration(
                "the authorization code is empty: pass the `code` parameter of the authorization \
                 response"
                    .into(),
            ));
        }
        let request = self.begin_sign_in(scopes, options.claims_challenge.as_deref())?;
        request.report_as(ApiId::AuthorizationCode, RefreshReason::NotSilent);
        self.redeem_code(
            &request,
            Redemption {
                code,
                redirect_uri,
                code_verifier: options.code_verifier.as_deref(),
                nonce: options.nonce.as_deref(),
                max_age: None,
                anchor: Vec::new(),
            },
        )
        .await
    }

    /// Sends one code redemption, checks the id token, and files the tokens.
    async fn redeem_code(
        &self,
        request: &Request,
        redemption: Redemption<'_>,
    ) -> Result<AuthenticationResult, Error> {
        let endpoints = self.endpoints().await?;
        let form = grants::authorization_code(
            &self.client_id,
            redemption.code,
            redemption.redirect_uri,
            redemption.code_verifier,
            &request.decorated,
            request.claims.as_deref(),
        );
        let token = self
            .send(request, &endpoints.token_endpoint, form, redemption.anchor)
            .await?;
        let claims = token.id_token().and_then(crate::jwt::jwt_claims);
        check_id_token(
            claims.as_ref(),
            redemption.nonce,
            redemption.max_age,
            self.now(),
        )?;
        self.finish(&Issued {
            key_id: request.key_id(),
            ext_cache_key: request.ext_cache_key(),
            ..Issued::response(
                &endpoints,
                &token,
                &request.decorated,
                GrantType::AuthorizationCode,
                self.now(),
                request.correlation_id(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> AuthCodeFlow {
        let options = AuthCodeFlowOptions {
            redirect_uri: "http://localhost:8400".into(),
            login_hint: Some("a@b.c".into()),
            max_age: Some(60),
            ..Default::default()
        };
        AuthCodeFlow::build(
            "https://h/t/oauth2/v2.0/authorize",
            "cid",
            vec!["x".into()],
            &["x".into(), "openid".into()],
            None,
            &options,
        )
        .unwrap()
    }

    #[test]
    fn url_has_pkce_state_nonce_and_hints() {
        let f = flow();
        let url = url::Url::parse(&f.auth_uri).unwrap();
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(
            q["code_challenge"],
            Pkce::from_verifier(f.code_verifier.clone()).challenge
        );
        assert_eq!(q["state"], f.state);
        assert_eq!(q["nonce"].len(), 64);
        assert_eq!(q["response_mode"], "form_post");
        assert_eq!(q["scope"], "openid x");
        assert_eq!(q["X-AnchorMailbox"], "UPN:a@b.c");
        assert_eq!(q["client_info"], "1");
        assert!(!format!("{f:?}").contains(&f.code_verifier));
    }

    #[test]
    fn response_checks() {
        let f = flow();
        let mut r = HashMap::from([
            ("state".to_string(), "other".to_string()),
            ("code".to_string(), "c".to_string()),
        ]);
        assert!(matches!(
            f.code_from_response(&r),
            Err(Error::Validation(_))
        ));
        r.insert("state".into(), f.state.clone());
        assert_eq!(f.code_from_response(&r).unwrap(), "c");
        r.insert("error".into(), "access_denied".into());
        r.insert("error_description".into(), "AADSTS65004: declined".into());
        let e = f.code_from_response(&r).unwrap_err();
        assert_eq!(e.service_error().unwrap().aadsts(), Some(65004));
        let mut claims = Map::new();
        claims.insert("nonce".into(), Value::from(f.nonce.clone()));
        claims.insert("auth_time".into(), Value::from(1000));
        assert!(check_id_token(Some(&claims), Some(&f.nonce), f.max_age, 1100).is_ok());
        assert!(check_id_token(Some(&claims), Some(&f.nonce), f.max_age, 1000 + 60 + 121).is_err());
        claims.insert("nonce".into(), Value::from("x"));
        assert!(check_id_token(Some(&claims), Some(&f.nonce), f.max_age, 1000).is_err());
        // A raw code redeemed without a nonce checks none.
        assert!(check_id_token(Some(&claims), None, None, 1000).is_ok());
    }

    #[test]
    fn a_flow_round_trips_through_serde_and_debug_hides_its_secrets() {
        let f = flow();
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains(&f.code_verifier) && json.contains(&f.nonce));
        let back: AuthCodeFlow = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (
                back.code_verifier.as_str(),
                back.nonce.as_str(),
                back.state.as_str()
            ),
            (f.code_verifier.as_str(), f.nonce.as_str(), f.state.as_str())
        );
        let debug = format!("{f:?}").replace(&f.auth_uri, "");
        assert!(!debug.contains(&f.code_verifier) && !debug.contains(&f.nonce));
    }

    #[test]
    fn redemption_scopes_are_the_flows_or_among_them() {
        let mut f = flow();
        f.extra_scopes_to_consent = vec!["api://other/read".into()];
        assert_eq!(f.redemption_scopes(None).unwrap(), vec!["x"]);
        assert_eq!(f.redemption_scopes(Some(&[])).unwrap(), vec!["x"]);
        assert_eq!(
            f.redemption_scopes(Some(&["API://other/read"])).unwrap(),
            vec!["API://other/read"]
        );
        let e = f.redemption_scopes(Some(&["y"])).unwrap_err();
        assert!(e.to_string().contains("not asked for"), "{e}");
    }
}
