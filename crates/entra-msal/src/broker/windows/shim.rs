//! The WAM shim: passes [`codec`](super::codec) request specs to WinRT's
//! `WebAuthenticationCoreManager` and hands the answers back to the codec. No parsing here.
//!
//! Each call runs on a blocking worker thread (`spawn_blocking`) and waits for WinRT's async
//! operations with `join()`; WinRT objects never leave that thread. windows-core initialises
//! the multi-threaded apartment itself when it first activates a factory.

#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use windows::Security::Authentication::Web::Core::{
    FindAllWebAccountsStatus, WebAuthenticationCoreManager, WebTokenRequest,
    WebTokenRequestPromptType, WebTokenRequestResult,
};
use windows::Security::Credentials::{WebAccount, WebAccountProvider};
use windows::Win32::Foundation::HWND;
use windows::Win32::System::Console::GetConsoleWindow;
use windows::Win32::System::WinRT::IWebAuthenticationCoreManagerInterop;
use windows::Win32::UI::WindowsAndMessaging::{GA_ROOTOWNER, GetAncestor, GetDesktopWindow};
use windows::core::HSTRING;
use windows_future::IAsyncOperation;

use super::codec::{
    self, AAD_PROVIDER_AUTHORITY, MSA_PROVIDER_AUTHORITY, WAM_PROVIDER_ID, WamAccountData, WamCall,
    WamPlugin, WamPrompt, WamRequestSpec, WamTokenData,
};
use super::picker;
use crate::broker::{
    BrokerAccount, BrokerBackend, BrokerError, BrokerFuture, BrokerPlatform, BrokerStatus,
    BrokerTokenRequest, BrokerTokenResponse, ParentWindow,
};

/// The Windows broker (WAM).
#[derive(Debug)]
pub struct WamBroker {
    _private: (),
}

impl WamBroker {
    /// The WAM backend. Fails with
    /// [`RequiredBrokerMissing`](BrokerStatus::RequiredBrokerMissing) when WinRT's
    /// `WebAuthenticationCoreManager` cannot be activated (Windows older than 10).
    // The routing layer holds every backend as `Arc<dyn BrokerBackend>`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Result<Arc<dyn BrokerBackend>, BrokerError> {
        windows::core::factory::<WebAuthenticationCoreManager, IWebAuthenticationCoreManagerInterop>()
            .map_err(|e| {
                win_error(
                    BrokerStatus::RequiredBrokerMissing,
                    "WAM (WebAuthenticationCoreManager) is not available on this Windows; sign \
                     in through the browser",
                    &e,
                )
            })?;
        Ok(Arc::new(Self { _private: () }))
    }
}

fn win_error(status: BrokerStatus, what: &str, e: &windows::core::Error) -> BrokerError {
    let mut error = BrokerError::new(
        BrokerPlatform::Windows,
        status,
        format!("{what}: {}", e.message()),
    );
    error.error_code = i64::from(e.code().0);
    error
}

fn unexpected(what: &str) -> impl Fn(windows::core::Error) -> BrokerError + '_ {
    move |e| win_error(BrokerStatus::Unexpected, what, &e)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs a blocking WinRT sequence on a worker thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BrokerError> + Send + 'static,
) -> Result<T, BrokerError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        BrokerError::new(
            BrokerPlatform::Windows,
            BrokerStatus::Unexpected,
            format!("the WAM worker thread failed: {e}"),
        )
    })?
}

fn find_provider(authority: &str) -> Result<WebAccountProvider, BrokerError> {
    WebAuthenticationCoreManager::FindAccountProviderWithAuthorityAsync(
        &HSTRING::from(WAM_PROVIDER_ID),
        &HSTRING::from(authority),
    )
    .and_then(|op| op.join())
    .map_err(|e| {
        win_error(
            BrokerStatus::RequiredBrokerMissing,
            "WAM has no Microsoft account provider; sign in through the browser",
            &e,
        )
    })
}

/// Whether the OS's default account is a personal one (MSAL.NET's
/// `IsDefaultAccountMsaAsync`); `false` when WAM cannot say.
fn default_account_is_msa() -> bool {
    WebAuthenticationCoreManager::FindAccountProviderAsync(&HSTRING::from(
        codec::DEFAULT_ACCOUNT_PROVIDER_ID,
    ))
    .and_then(|op| op.join())
    .and_then(|provider| provider.Authority())
    .is_ok_and(|authority| codec::is_consumers_provider(&authority.to_string()))
}

fn map_of(
    pairs: windows_collections::IIterator<windows_collections::IKeyValuePair<HSTRING, HSTRING>>,
) -> BTreeMap<String, String> {
    pairs
        .filter_map(|pair| Some((pair.Key().ok()?.to_string(), pair.Value().ok()?.to_string())))
        .collect()
}

fn account_data(account: &WebAccount) -> WamAccountData {
    WamAccountData {
        id: account.Id().map(|s| s.to_string()).unwrap_or_default(),
        user_name: account
            .UserName()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        properties: account
            .Properties()
            .and_then(|p| p.First())
            .map(map_of)
            .unwrap_or_default(),
    }
}

/// WAM's accounts for this client. A refusal is an empty list, as MSAL.NET's
/// `LegacyOsWamProxy.FindAllWebAccountsAsync` treats it: the personal-account provider never
/// lists accounts to ordinary apps, and the work-and-school provider's failures are logged only.
fn all_accounts(provider: &WebAccountProvider, client_id: &str) -> Vec<WebAccount> {
    let listed = WebAuthenticationCoreManager::FindAllAccountsWithClientIdAsync(
        provider,
        &HSTRING::from(client_id),
    )
    .and_then(|op| op.join());
    let result = match listed {
        Ok(result) => result,
        Err(e) => {
            tracing::debug!(error = %e.message(), "WAM could not list accounts");
            return Vec::new();
        }
    };
    match result.Status() {
        Ok(status) if status == FindAllWebAccountsStatus::Success => {}
        other => {
            tracing::debug!(status = ?other.map(|s| s.0).ok(), "WAM does not list accounts for this provider");
            return Vec::new();
        }
    }
    result
        .Accounts()
        .and_then(|v| v.First())
        .map(|accounts| accounts.collect())
        .unwrap_or_default()
}

/// The WAM account for a broker account or a login hint: `FindAccountAsync` by the WAM account
/// id first (the personal-account provider answers this although it lists nothing), then
/// [`codec::match_web_account`] over the listed accounts.
fn find_account(
    provider: &WebAccountProvider,
    client_id: &str,
    account: Option<&BrokerAccount>,
    login_hint: Option<&str>,
) -> Option<WebAccount> {
    if account.is_none() && login_hint.is_none() {
        return None;
    }
    if let Some(id) = account
        .map(|a| a.account_id.as_str())
        .filter(|id| !id.is_empty())
        && let Ok(found) =
            WebAuthenticationCoreManager::FindAccountAsync(provider, &HSTRING::from(id))
                .and_then(|op| op.join())
    {
        return Some(found);
    }
    let accounts = all_accounts(provider, client_id);
    let data: Vec<WamAccountData> = accounts.iter().map(account_data).collect();
    codec::match_web_account(&data, account, login_hint).map(|i| accounts[i].clone())
}

fn web_token_request(
    provider: &WebAccountProvider,
    spec: &WamRequestSpec,
) -> Result<WebTokenRequest, BrokerError> {
    let prompt = match spec.prompt {
        WamPrompt::Default => WebTokenRequestPromptType::Default,
        WamPrompt::ForceAuthentication => WebTokenRequestPromptType::ForceAuthentication,
    };
    let request = WebTokenRequest::CreateWithPromptType(
        provider,
        &HSTRING::from(&spec.scope),
        &HSTRING::from(&spec.client_id),
        prompt,
    )
    .map_err(unexpected("WAM rejected the token request"))?;
    let properties = request
        .Properties()
        .map_err(unexpected("WAM rejected the token request"))?;
    for (name, value) in &spec.properties {
        properties
            .Insert(&HSTRING::from(name), &HSTRING::from(value))
            .map_err(unexpected("WAM rejected a request property"))?;
    }
    Ok(request)
}

fn decode_result(
    result: &WebTokenRequestResult,
    plugin: WamPlugin,
    request: &BrokerTokenRequest,
) -> Result<BrokerTokenResponse, BrokerError> {
    let status = result
        .ResponseStatus()
        .map_err(unexpected("WAM sent no status"))?;
    let (code, message) = match result.ResponseError() {
        Ok(e) => (
            e.ErrorCode().unwrap_or(0),
            e.ErrorMessage().map(|m| m.to_string()).unwrap_or_default(),
        ),
        Err(_) => (0, String::new()),
    };
    codec::classify_wam_status(plugin, status.0, code, &message, &request.client_id)?;
    let data = result
        .ResponseData()
        .and_then(|d| d.GetAt(0))
        .map_err(unexpected("WAM answered success without a token"))?;
    let token = WamTokenData {
        token: data
            .Token()
            .map_err(unexpected("WAM answered success without a token"))?
            .to_string(),
        properties: data
            .Properties()
            .and_then(|p| p.First())
            .map(map_of)
            .unwrap_or_default(),
        account: data.WebAccount().ok().map(|a| account_data(&a)),
    };
    codec::decode_wam_success(&token, plugin, now(), request.pop.is_some())
}

/// The window that owns WAM's UI: the given `HWND`, or for the console the console window's
/// root owner (Windows Terminal hosts the console in another window), falling back to the
/// desktop window.
fn parent_hwnd(window: ParentWindow) -> HWND {
    match window {
        ParentWindow::Native(handle) => HWND(handle as usize as *mut core::ffi::c_void),
        ParentWindow::Console => {
            // SAFETY: GetConsoleWindow takes no arguments and returns a (possibly null) handle.
            let console = unsafe { GetConsoleWindow() };
            if !console.is_invalid() {
                // SAFETY: `console` is a window handle just returned by the OS; GetAncestor
                // returns null for an invalid one rather than faulting.
                let root = unsafe { GetAncestor(console, GA_ROOTOWNER) };
                if !root.is_invalid() {
                    return root;
                }
                return console;
            }
            // SAFETY: GetDesktopWindow takes no arguments and always returns a valid handle.
            unsafe { GetDesktopWindow() }
        }
    }
}

fn silent_blocking(request: &BrokerTokenRequest) -> Result<BrokerTokenResponse, BrokerError> {
    let plugin = codec::plugin_for_request(
        &request.authority,
        request.account.as_ref().and_then(codec::home_tenant),
        default_account_is_msa,
    )?;
    let provider = find_provider(&codec::provider_authority_for(&request.authority, plugin)?)?;
    let account = find_account(
        &provider,
        &request.client_id,
        request.account.as_ref(),
        None,
    );
    if request.account.is_some() && account.is_none() {
        return Err(codec::account_not_in_wam());
    }
    let call = WamCall {
        account_in_wam: account.is_some(),
        ..WamCall::default()
    };
    let spec = codec::build_wam_request(request, plugin, call)?;
    let web_request = web_token_request(&provider, &spec)?;
    let result = match &account {
        Some(account) => {
            WebAuthenticationCoreManager::GetTokenSilentlyWithWebAccountAsync(&web_request, account)
        }
        None => WebAuthenticationCoreManager::GetTokenSilentlyAsync(&web_request),
    }
    .and_then(|op| op.join())
    .map_err(unexpected("WAM's silent token request failed"))?;
    decode_result(&result, plugin, request)
}

fn request_for_window(
    hwnd: HWND,
    web_request: &WebTokenRequest,
    account: Option<&WebAccount>,
) -> Result<WebTokenRequestResult, BrokerError> {
    let interop = windows::core::factory::<
        WebAuthenticationCoreManager,
        IWebAuthenticationCoreManagerInterop,
    >()
    .map_err(unexpected("WAM's window interop is unavailable"))?;
    let operation: IAsyncOperation<WebTokenRequestResult> = match account {
        // SAFETY: `hwnd` is a window handle (the caller's, the console's root owner or the
        // desktop); `web_request` and `account` are live WinRT objects for the whole call, and
        // the requested interface is the one the method is documented to return.
        Some(account) => unsafe {
            interop.RequestTokenWithWebAccountForWindowAsync(hwnd, web_request, account)
        },
        // SAFETY: as above, without an account.
        None => unsafe { interop.RequestTokenForWindowAsync(hwnd, web_request) },
    }
    .map_err(unexpected("WAM could not show its sign-in window"))?;
    operation
        .join()
        .map_err(unexpected("WAM's interactive token request failed"))
}

/// MSAL.NET's `WamBroker.AcquireTokenInteractiveAsync`: an account (or hint) WAM knows is used
/// as it is; otherwise work-and-school-only authorities go to the Entra ID plugin with a forced
/// sign-in, and `common`/`consumers` show the Windows account picker, whose chosen provider
/// decides the plugin.
fn interactive_blocking(
    request: &BrokerTokenRequest,
    window: ParentWindow,
) -> Result<BrokerTokenResponse, BrokerError> {
    let hwnd = parent_hwnd(window);
    let default_is_msa = default_account_is_msa();
    let hint = request.login_hint.as_deref().filter(|h| !h.is_empty());
    if request.account.is_some() || hint.is_some() {
        let plugin = codec::plugin_for_request(
            &request.authority,
            request.account.as_ref().and_then(codec::home_tenant),
            || default_is_msa,
        )?;
        let provider = find_provider(&codec::provider_authority_for(&request.authority, plugin)?)?;
        if let Some(account) = find_account(
            &provider,
            &request.client_id,
            request.account.as_ref(),
            hint,
        ) {
            let call = WamCall {
                interactive: true,
                account_in_wam: true,
                force_login: false,
                default_account_is_msa: default_is_msa,
            };
            let spec = codec::build_wam_request(request, plugin, call)?;
            let web_request = web_token_request(&provider, &spec)?;
            let result = request_for_window(hwnd, &web_request, Some(&account))?;
            return decode_result(&result, plugin, request);
        }
    }
    let (plugin, provider, force_login) = if codec::can_skip_account_picker(&request.authority)? {
        let plugin = WamPlugin::Aad;
        let provider = find_provider(&codec::provider_authority_for(&request.authority, plugin)?)?;
        (plugin, provider, true)
    } else {
        let provider = picker::pick_provider(hwnd, &request.authority)?;
        let authority = provider
            .Authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        (
            codec::plugin_for_picked_provider(&authority),
            provider,
            false,
        )
    };
    let call = WamCall {
        interactive: true,
        account_in_wam: false,
        force_login,
        default_account_is_msa: default_is_msa,
    };
    let spec = codec::build_wam_request(request, plugin, call)?;
    let web_request = web_token_request(&provider, &spec)?;
    let result = request_for_window(hwnd, &web_request, None)?;
    decode_result(&result, plugin, request)
}

fn accounts_blocking(client_id: &str) -> Result<Vec<BrokerAccount>, BrokerError> {
    let mut out: Vec<BrokerAccount> = Vec::new();
    for authority in [AAD_PROVIDER_AUTHORITY, MSA_PROVIDER_AUTHORITY] {
        // Personal accounts are optional (the MSA plugin may be absent; it lists nothing).
        let provider = match find_provider(authority) {
            Ok(provider) => provider,
            Err(e) if authority == AAD_PROVIDER_AUTHORITY => return Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "WAM: no personal-account provider");
                continue;
            }
        };
        for account in &all_accounts(&provider, client_id) {
            match codec::account_from_web_account(&account_data(account)) {
                Ok(a) if !out.iter().any(|o| o.account_id == a.account_id) => out.push(a),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "WAM: skipping an account"),
            }
        }
    }
    Ok(out)
}

fn sign_out_blocking(client_id: &str, account: &BrokerAccount) -> Result<(), BrokerError> {
    for authority in [AAD_PROVIDER_AUTHORITY, MSA_PROVIDER_AUTHORITY] {
        let Ok(provider) = find_provider(authority) else {
            continue;
        };
        if let Some(found) = find_account(&provider, client_id, Some(account), None) {
            return found
                .SignOutWithClientIdAsync(&HSTRING::from(client_id))
                .and_then(|op| op.join())
                .map_err(unexpected("WAM could not sign the account out"));
        }
    }
    // Not in WAM: nothing to sign out of.
    Ok(())
}

impl BrokerBackend for WamBroker {
    fn platform(&self) -> BrokerPlatform {
        BrokerPlatform::Windows
    }

    fn probe(&self) -> BrokerFuture<'_, ()> {
        Box::pin(blocking(|| {
            find_provider(AAD_PROVIDER_AUTHORITY).map(|_| ())
        }))
    }

    fn accounts<'a>(
        &'a self,
        client_id: &'a str,
        _correlation_id: &'a str,
    ) -> BrokerFuture<'a, Vec<BrokerAccount>> {
        let client_id = client_id.to_string();
        Box::pin(blocking(move || accounts_blocking(&client_id)))
    }

    fn acquire_token_silently<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        let request = request.clone();
        Box::pin(blocking(move || silent_blocking(&request)))
    }

    fn acquire_token_interactively<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
        window: ParentWindow,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        let request = request.clone();
        Box::pin(blocking(move || interactive_blocking(&request, window)))
    }

    fn sign_out<'a>(
        &'a self,
        client_id: &'a str,
        account: &'a BrokerAccount,
        _correlation_id: &'a str,
    ) -> BrokerFuture<'a, ()> {
        let client_id = client_id.to_string();
        let account = account.clone();
        Box::pin(blocking(move || sign_out_blocking(&client_id, &account)))
    }
}
