//! What the broker does with a request: validation against the directory (app, redirect URI,
//! authority, scopes), the device user, interactive approval, and token minting, each decided by
//! the emulator's rules (`crate::rules`) as the HTTP endpoints decide them. The D-Bus layer
//! (`service.rs`) only forwards strings here.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use uuid::Uuid;

use super::codec::{
    self, AccountRef, AccountView, AuthParams, BrokerErrorSpec, BrokerRequest, Method, PopParams,
    TokenResult, status, tag,
};
use super::session::{BROKER_PENDING_LIFETIME, BrokerSession, Decision};
use crate::config::{AppConfig, ClientKind, UserConfig};
use crate::directory::{TenantSegment, object_id_in};
use crate::errors::{self, EntraError};
use crate::request_log::LoggedRequest;
use crate::rules::access;
use crate::rules::tokens::{self, ClientAuthMethod, UserTokenRequest};
use crate::scopes::RequestedScopes;
use crate::state::{AppState, SignIn};

type Outcome = Result<Value, BrokerErrorSpec>;

/// The broker's behaviour over the emulator's state.
#[derive(Debug)]
pub(crate) struct Engine {
    /// The emulator's data: directory, key, clock, consents, request log.
    pub state: Arc<AppState>,
    /// What the broker remembers (shared with the control API).
    pub session: Arc<BrokerSession>,
    /// The device user's configured username.
    pub device_user: String,
    /// Interactive requests complete at once as this user.
    pub auto_approve: Option<String>,
}

/// An Entra error as a broker error object: `AADSTSnnnnn: message` in `context`, the AADSTS
/// number in `errorCode`.
fn entra(status: i64, tag: i64, e: &EntraError) -> BrokerErrorSpec {
    BrokerErrorSpec::new(
        status,
        i64::from(e.aadsts.code),
        tag,
        format!("AADSTS{}: {}", e.aadsts.code, e.message),
    )
}

/// A validated token request.
struct Checked<'a> {
    client: &'a AppConfig,
    segment: TenantSegment,
    segment_text: String,
    environment: String,
    scopes: RequestedScopes,
}

/// Removes a pending interactive request if the caller's future is dropped before a decision.
struct PendingGuard<'a> {
    session: &'a BrokerSession,
    id: String,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.session.forget_pending(&self.id);
    }
}

impl Engine {
    /// Handles one D-Bus call and returns the response JSON. Every failure is an error object;
    /// nothing panics on bad input.
    pub async fn call(
        &self,
        method: Method,
        protocol_version: &str,
        correlation_id: &str,
        request: &str,
    ) -> String {
        let mut facts: BTreeMap<String, String> = BTreeMap::new();
        let outcome = match self.session.take_injected(method) {
            Some(spec) => {
                facts.insert("injected".into(), "true".into());
                Err(spec)
            }
            None => match codec::parse_request(method, request) {
                Err(e) => Err(e.to_spec(method)),
                Ok(parsed) => {
                    facts.extend(parsed.facts().into_iter().map(|(k, v)| (k.to_string(), v)));
                    self.dispatch(method, parsed, correlation_id).await
                }
            },
        };
        let (text, http_status) = match outcome {
            Ok(value) => (value.to_string(), 200),
            Err(spec) => {
                facts.insert("broker_status".into(), spec.status.to_string());
                facts.insert("error_code".into(), spec.error_code.to_string());
                facts.insert("tag".into(), spec.tag.to_string());
                (spec.response(method), 400)
            }
        };
        tracing::info!(
            method = method.name(),
            correlation_id,
            status = facts
                .get("broker_status")
                .map(String::as_str)
                .unwrap_or("ok"),
            "broker call"
        );
        let mut headers = BTreeMap::new();
        headers.insert("correlation-id".to_string(), correlation_id.to_string());
        headers.insert("protocol-version".to_string(), protocol_version.to_string());
        self.state.log.push(LoggedRequest {
            method: "DBUS".into(),
            path: format!("{}.{}", codec::INTERFACE, method.name()),
            query: BTreeMap::new(),
            headers,
            form: facts,
            status: http_status,
        });
        text
    }

    async fn dispatch(
        &self,
        method: Method,
        request: BrokerRequest,
        correlation_id: &str,
    ) -> Outcome {
        match request {
            BrokerRequest::Token(params) => {
                let checked = self.check_token_request(&params)?;
                if method == Method::AcquireTokenInteractively {
                    self.interactive(&params, checked, correlation_id).await
                } else {
                    self.silent(&params, checked)
                }
            }
            BrokerRequest::GetAccounts { client_id } => self.get_accounts(&client_id),
            BrokerRequest::RemoveAccount { client_id, account } => {
                self.remove_account(&client_id, account.as_ref())
            }
            BrokerRequest::PrtSsoCookie { account, sso_url } => {
                self.prt_sso_cookie(account.as_ref(), sso_url.as_deref())
            }
            BrokerRequest::SignedHttpRequest { client_id, pop } => {
                self.signed_http_request(&client_id, pop.as_ref())
            }
            BrokerRequest::Cancel { client_id } => {
                let n = self
                    .session
                    .cancel(Some(correlation_id), client_id.as_deref());
                tracing::debug!(canceled = n, "cancelInteractiveFlow");
                Ok(json!({}))
            }
            BrokerRequest::Version => Ok(json!({"linuxBrokerVersion": codec::BROKER_VERSION})),
        }
    }

    // ---- validation -------------------------------------------------------------------------

    fn client(&self, client_id: &str) -> Result<&AppConfig, BrokerErrorSpec> {
        let Some(app) = self.state.directory.app(client_id) else {
            let tenant = &self.state.directory.config().tenants[0];
            let name = tenant
                .domains
                .first()
                .cloned()
                .unwrap_or_else(|| tenant.id.to_string());
            let e = EntraError::new(errors::APP_NOT_FOUND, &[client_id, &name]);
            return Err(entra(status::INCORRECT_CONFIGURATION, tag::CLIENT, &e));
        };
        if app.kind != ClientKind::Public {
            let e = EntraError::new(errors::CREDENTIAL_REQUIRED, &[]);
            let mut spec = entra(status::INCORRECT_CONFIGURATION, tag::CLIENT, &e);
            spec.context.push_str(&format!(
                " Application '{client_id}' is a confidential client; the broker serves public clients only (enable 'Allow public client flows')."
            ));
            return Err(spec);
        }
        Ok(app)
    }

    fn authority(
        &self,
        authority: Option<&str>,
    ) -> Result<(TenantSegment, String, String), BrokerErrorSpec> {
        let untrusted =
            |why: String| BrokerErrorSpec::new(status::AUTHORITY_UNTRUSTED, 0, tag::AUTHORITY, why);
        let Some(authority) = authority else {
            return Err(BrokerErrorSpec::new(
                status::API_CONTRACT_VIOLATION,
                0,
                tag::MALFORMED_REQUEST,
                "The request is malformed: authParameters.authority is required",
            ));
        };
        let url = url::Url::parse(authority)
            .map_err(|e| untrusted(format!("The authority '{authority}' is not a URL ({e}).")))?;
        let host = url.host_str().unwrap_or_default().to_string();
        let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(untrusted(format!(
                "The authority '{authority}' is not an https URL."
            )));
        }
        let segment_text = url
            .path_segments()
            .and_then(|mut s| s.next())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                untrusted(format!(
                    "The authority '{authority}' names no tenant (expected https://host/<tenant>)."
                ))
            })?
            .to_string();
        let segment = self
            .state
            .directory
            .tenant_segment(&segment_text)
            .ok_or_else(|| {
                let e = EntraError::new(errors::TENANT_NOT_FOUND, &[&segment_text]);
                entra(status::INCORRECT_CONFIGURATION, tag::AUTHORITY, &e)
            })?;
        if segment == TenantSegment::Consumers {
            return Err(BrokerErrorSpec::new(
                status::INCORRECT_CONFIGURATION,
                0,
                tag::AUTHORITY,
                "The emulator's broker serves work and school accounts; the 'consumers' authority (Microsoft accounts) is not supported.",
            ));
        }
        let environment = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        Ok((segment, segment_text, environment))
    }

    fn check_token_request<'a>(&'a self, p: &AuthParams) -> Result<Checked<'a>, BrokerErrorSpec> {
        let client = self.client(&p.client_id)?;
        let redirect = p.redirect_uri.as_deref().unwrap_or_default();
        if !access::redirect_uri_registered(client, redirect) {
            let e = EntraError::new(
                errors::REDIRECT_URI_MISMATCH,
                &[redirect, &client.client_id],
            );
            return Err(entra(
                status::INCORRECT_CONFIGURATION,
                tag::REDIRECT_URI,
                &e,
            ));
        }
        let (segment, segment_text, environment) = self.authority(p.authority.as_deref())?;
        let mut scopes = access::parse_scopes(&p.requested_scopes.join(" "))
            .map_err(|e| entra(status::INCORRECT_CONFIGURATION, tag::SCOPE, &e))?;
        access::check_delegated(client, &scopes)
            .map_err(|e| entra(status::INCORRECT_CONFIGURATION, tag::SCOPE, &e))?;
        // The broker always returns an id token; it keeps refresh tokens to itself.
        scopes.oidc.insert("openid".into());
        scopes.oidc.insert("profile".into());
        scopes.oidc.remove("offline_access");
        Ok(Checked {
            client,
            segment,
            segment_text,
            environment,
            scopes,
        })
    }

    fn find_user(&self, account: &AccountRef) -> Option<&UserConfig> {
        let directory = &self.state.directory;
        if let Some(u) = account.username.as_deref().and_then(|u| directory.user(u)) {
            return Some(u);
        }
        if let Some((oid, tid)) = account
            .home_account_id
            .as_deref()
            .and_then(|h| h.split_once('.'))
        {
            let (oid, tid) = (Uuid::parse_str(oid).ok()?, Uuid::parse_str(tid).ok()?);
            return directory
                .config()
                .users
                .iter()
                .find(|u| u.object_id == oid && u.home_tenant == tid);
        }
        let realm = Uuid::parse_str(account.realm.as_deref()?).ok()?;
        directory.user_by_object_id(account.local_account_id.as_deref()?, realm)
    }

    fn account_not_found(what: &str) -> BrokerErrorSpec {
        BrokerErrorSpec::new(
            status::ACCOUNT_NOT_FOUND,
            0,
            tag::ACCOUNT_NOT_FOUND,
            format!(
                "The account {what} is not known to the broker (it is not in the emulator's directory)."
            ),
        )
    }

    fn is_device_user(&self, username: &str) -> bool {
        username.eq_ignore_ascii_case(&self.device_user)
    }

    // ---- accounts ---------------------------------------------------------------------------

    fn view(&self, user: &UserConfig, tenant: Uuid, environment: &str) -> AccountView {
        AccountView {
            environment: environment.to_string(),
            realm: tenant.to_string(),
            home_object_id: user.object_id.to_string(),
            home_tenant: user.home_tenant.to_string(),
            local_object_id: object_id_in(user, tenant)
                .unwrap_or(user.object_id)
                .to_string(),
            username: user.username.clone(),
            display_name: user
                .display_name
                .clone()
                .unwrap_or_else(|| user.username.clone()),
        }
    }

    fn get_accounts(&self, client_id: &str) -> Outcome {
        let client = self.client(client_id)?;
        let records = self.session.sign_ins_for(&client.client_id);
        let mut views = Vec::new();
        if !self.session.device_signed_out(&client.client_id)
            && let Some(user) = self.state.directory.user(&self.device_user)
        {
            let view = match records
                .iter()
                .find(|r| self.is_device_user(&r.sign_in.username))
            {
                Some(r) => self.view(user, r.sign_in.tenant, &r.environment),
                None => self.view(user, user.home_tenant, codec::DEFAULT_ENVIRONMENT),
            };
            views.push(view);
        }
        for r in records
            .iter()
            .filter(|r| !self.is_device_user(&r.sign_in.username))
        {
            if let Some(user) = self.state.directory.user(&r.sign_in.username) {
                views.push(self.view(user, r.sign_in.tenant, &r.environment));
            }
        }
        Ok(codec::accounts_response(&views))
    }

    fn remove_account(&self, client_id: &str, account: Option<&AccountRef>) -> Outcome {
        let client = self.client(client_id)?;
        let Some(account) = account else {
            return Err(
                codec::RequestError("account is required".into()).to_spec(Method::RemoveAccount)
            );
        };
        let user = self.find_user(account).ok_or_else(|| {
            Self::account_not_found(account.username.as_deref().unwrap_or("named"))
        })?;
        let device = self.is_device_user(&user.username);
        self.session
            .remove(&client.client_id, &user.username, device);
        Ok(json!({}))
    }

    // ---- tokens -----------------------------------------------------------------------------

    fn interaction_required(tag: i64, error_code: i64, context: String) -> BrokerErrorSpec {
        BrokerErrorSpec::new(status::INTERACTION_REQUIRED, error_code, tag, context)
    }

    fn silent(&self, p: &AuthParams, c: Checked<'_>) -> Outcome {
        let client_id = &c.client.client_id;
        let user = match p.named_username() {
            Some(name) => {
                let account = p.account.clone().unwrap_or(AccountRef {
                    username: Some(name.to_string()),
                    ..AccountRef::default()
                });
                self.find_user(&account)
                    .ok_or_else(|| Self::account_not_found(&format!("'{name}'")))?
            }
            None => match p.account.as_ref() {
                Some(account) => self
                    .find_user(account)
                    .ok_or_else(|| Self::account_not_found("named by homeAccountId"))?,
                None => {
                    if self.session.device_signed_out(client_id) {
                        return Err(Self::interaction_required(
                            tag::NO_ACCOUNT,
                            i64::from(errors::LOGIN_REQUIRED.code),
                            format!(
                                "AADSTS50058: {} No account is signed in to the broker for application '{client_id}'; sign in interactively.",
                                errors::LOGIN_REQUIRED.message
                            ),
                        ));
                    }
                    self.state
                        .directory
                        .user(&self.device_user)
                        .ok_or_else(|| {
                            Self::account_not_found(&format!(
                                "'{}' (the device user)",
                                self.device_user
                            ))
                        })?
                }
            },
        };
        let record = match self.session.sign_in(client_id, &user.username) {
            Some(r) => r,
            None if self.is_device_user(&user.username)
                && !self.session.device_signed_out(client_id) =>
            {
                // The account signed in to the machine: single sign-on without a prompt.
                let sign_in = SignIn {
                    username: user.username.clone(),
                    tenant: user.home_tenant,
                    auth_time: self.state.clock.now(),
                    mfa: false,
                };
                self.session
                    .record(client_id, sign_in, c.environment.clone());
                self.session
                    .sign_in(client_id, &user.username)
                    .ok_or_else(|| internal("the device sign-in was not recorded"))?
            }
            None => {
                return Err(Self::interaction_required(
                    tag::NO_ACCOUNT,
                    0,
                    format!(
                        "The account '{}' is not signed in to the broker for application '{client_id}'. Sign in interactively.",
                        user.username
                    ),
                ));
            }
        };
        let tenant = access::user_tenant(&self.state, c.segment, user)
            .map_err(|e| entra(status::INTERACTION_REQUIRED, tag::TENANT, &e))?;
        access::check_consent(&self.state, user, c.client)
            .map_err(|e| entra(status::INTERACTION_REQUIRED, tag::CONSENT, &e))?;
        access::check_mfa(user, record.sign_in.mfa, &c.scopes.resource_or_graph())
            .map_err(|e| entra(status::INTERACTION_REQUIRED, tag::MFA, &e))?;
        // The same rule as the token endpoint's refresh grant (`crate::rules::claims`): a CAE
        // challenge is satisfied silently; one needing MFA the session lacks needs the user.
        if let Err(e) = crate::rules::claims::check(
            p.decoded_claims.as_deref(),
            record.sign_in.mfa,
            &c.scopes.resource_or_graph(),
        ) {
            return Err(entra(status::INTERACTION_REQUIRED, tag::CLAIMS, &e));
        }
        let sign_in = SignIn {
            tenant,
            ..record.sign_in.clone()
        };
        self.mint(
            c.client,
            user,
            &sign_in,
            &c.scopes,
            p.pop.as_ref(),
            &c.environment,
        )
    }

    async fn interactive(&self, p: &AuthParams, c: Checked<'_>, correlation_id: &str) -> Outcome {
        let client_id = c.client.client_id.clone();
        let sign_in = match &self.auto_approve {
            Some(username) => {
                let user = self
                    .state
                    .directory
                    .user(username)
                    .ok_or_else(|| Self::account_not_found(&format!("'{username}'")))?;
                let tenant = access::user_tenant(&self.state, c.segment, user)
                    .map_err(|e| entra(status::INTERACTION_REQUIRED, tag::TENANT, &e))?;
                SignIn {
                    username: user.username.clone(),
                    tenant,
                    auth_time: self.state.clock.now(),
                    mfa: true,
                }
            }
            None => {
                let hint = p.named_username().map(str::to_string);
                let (id, receiver) = self.session.add_pending(
                    &client_id,
                    p.requested_scopes.clone(),
                    hint,
                    correlation_id,
                    c.segment_text.clone(),
                );
                let _guard = PendingGuard {
                    session: &self.session,
                    id,
                };
                let waited = tokio::time::timeout(BROKER_PENDING_LIFETIME, receiver).await;
                let Ok(decided) = waited else {
                    // Nobody answered in time: the caller may be gone (zbus does not drop the
                    // call when it disconnects), so the request is forgotten.
                    return Err(BrokerErrorSpec::new(
                        status::APPLICATION_CANCELED,
                        0,
                        tag::APPLICATION_CANCELED,
                        "The interactive sign-in was not completed within 10 minutes and was canceled.",
                    ));
                };
                match decided {
                    Ok(Decision::Approve(sign_in)) => sign_in,
                    Ok(Decision::Deny) => {
                        return Err(BrokerErrorSpec::new(
                            status::USER_CANCELED,
                            0,
                            tag::USER_CANCELED,
                            "The user canceled the sign-in.",
                        ));
                    }
                    Ok(Decision::Cancel) | Err(_) => {
                        return Err(BrokerErrorSpec::new(
                            status::APPLICATION_CANCELED,
                            0,
                            tag::APPLICATION_CANCELED,
                            "The interactive sign-in was canceled (cancelInteractiveFlow, or the broker service stopped).",
                        ));
                    }
                }
            }
        };
        let user = self
            .state
            .directory
            .user(&sign_in.username)
            .ok_or_else(|| Self::account_not_found(&format!("'{}'", sign_in.username)))?;
        // Approving is signing in and consenting.
        access::grant_consent(&self.state, &user.username, &client_id);
        self.session
            .record(&client_id, sign_in.clone(), c.environment.clone());
        if self.is_device_user(&user.username) {
            self.session.restore_device(&client_id);
        }
        self.mint(
            c.client,
            user,
            &sign_in,
            &c.scopes,
            p.pop.as_ref(),
            &c.environment,
        )
    }

    fn mint(
        &self,
        client: &AppConfig,
        user: &UserConfig,
        sign_in: &SignIn,
        scopes: &RequestedScopes,
        pop: Option<&PopParams>,
        environment: &str,
    ) -> Outcome {
        let body = tokens::user_token_response(
            &self.state,
            &UserTokenRequest {
                client,
                client_auth: ClientAuthMethod::None,
                sign_in,
                scopes,
                nonce: None,
                client_info: true,
                ssh_cert: None,
            },
        )
        .map_err(|e| entra(status::UNEXPECTED, tag::INTERNAL, &e))?;
        let text = |k: &str| body[k].as_str().map(str::to_string);
        let access_token = text("access_token").ok_or_else(|| internal("no access token"))?;
        let id_token = text("id_token").ok_or_else(|| internal("no id token"))?;
        let now = self.state.clock.now();
        let expires_in = body["expires_in"].as_i64().unwrap_or(3599);
        let ext_expires_in = body["ext_expires_in"].as_i64().unwrap_or(expires_in);
        // Expiries from the token itself, so `expiresOn` equals the access token's `exp`.
        let expires_on = crate::jwt::decode_unverified(&access_token)
            .ok()
            .and_then(|t| t.claim_time("exp"))
            .unwrap_or(now + expires_in);
        let extended_expires_on = expires_on - expires_in + ext_expires_in;
        let access_token = match pop {
            Some(pop) => self.sign_shr(&codec::shr_claims(pop, Some(&access_token), now))?,
            None => access_token,
        };
        Ok(TokenResult {
            access_token,
            pop: pop.is_some(),
            account: self.view(user, sign_in.tenant, environment),
            expires_on,
            extended_expires_on,
            granted_scopes: scopes.echo_granted(&client.delegated_scopes),
            id_token,
        }
        .to_json())
    }

    /// Signs a signed HTTP request (`typ: pop`) with the emulator's token-signing key, so a
    /// resource can verify it with the tenant's JWKS.
    fn sign_shr(&self, claims: &Value) -> Result<String, BrokerErrorSpec> {
        let header = json!({"typ": "pop", "alg": "RS256", "kid": self.state.key.kid});
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", part(&header), part(claims));
        let signature = self
            .state
            .key
            .sign_rs256(input.as_bytes())
            .map_err(|e| internal(&format!("signing failed: {e}")))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    // ---- PRT cookie and signed HTTP requests -------------------------------------------------

    /// The account must be the device user or signed in through the broker.
    fn known_account(
        &self,
        account: Option<&AccountRef>,
        method: Method,
    ) -> Result<&UserConfig, BrokerErrorSpec> {
        let Some(account) = account else {
            return Err(codec::RequestError("an account is required".into()).to_spec(method));
        };
        let user = self.find_user(account).ok_or_else(|| {
            Self::account_not_found(account.username.as_deref().unwrap_or("named"))
        })?;
        if !self.is_device_user(&user.username) && !self.session.signed_in_anywhere(&user.username)
        {
            return Err(Self::interaction_required(
                tag::NO_ACCOUNT,
                0,
                format!(
                    "The account '{}' is not signed in to the broker. Sign in interactively.",
                    user.username
                ),
            ));
        }
        Ok(user)
    }

    fn prt_sso_cookie(&self, account: Option<&AccountRef>, sso_url: Option<&str>) -> Outcome {
        let user = self.known_account(account, Method::AcquirePrtSsoCookie)?;
        let now = self.state.clock.now();
        let mut claims = json!({
            "refresh_token": format!("1.emu-prt.{}", crate::crypto::random_token(32)),
            "is_primary": "true",
            "iat": now,
            "upn": user.username,
        });
        if let Some(nonce) = sso_url.and_then(codec::sso_nonce) {
            claims["request_nonce"] = json!(nonce);
        }
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": self.state.key.kid});
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", part(&header), part(&claims));
        let signature = self
            .state
            .key
            .sign_rs256(input.as_bytes())
            .map_err(|e| internal(&format!("signing failed: {e}")))?;
        Ok(codec::cookie_response(&format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }

    fn signed_http_request(&self, client_id: &str, pop: Option<&PopParams>) -> Outcome {
        self.client(client_id)?;
        let Some(pop) = pop else {
            return Err(codec::RequestError(
                "popParams with uriHost (or authenticationScheme \"pop\") is required".into(),
            )
            .to_spec(Method::GenerateSignedHttpRequest));
        };
        let account = pop.home_account_id.as_ref().map(|h| AccountRef {
            home_account_id: Some(h.clone()),
            ..AccountRef::default()
        });
        self.known_account(account.as_ref(), Method::GenerateSignedHttpRequest)?;
        let shr = self.sign_shr(&codec::shr_claims(pop, None, self.state.clock.now()))?;
        Ok(json!({"signedHttpRequest": shr}))
    }
}

fn internal(what: &str) -> BrokerErrorSpec {
    BrokerErrorSpec::new(
        status::UNEXPECTED,
        0,
        tag::INTERNAL,
        format!("The emulator's broker failed internally: {what}."),
    )
}
