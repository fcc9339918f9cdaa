//! The SSO-extension shim: hands [`codec`](super::codec) dictionaries to
//! `ASAuthorizationSingleSignOnProvider` on the main thread and passes the answer (header
//! dictionary or `NSError`) back to the codec. No parsing here. See the module docs of
//! [`macos`](super) for the main-thread and run-loop contract.

#![allow(unsafe_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dispatch2::DispatchQueue;
use objc2::rc::Retained;
use objc2::runtime::{AnyObject, NSObject, NSObjectProtocol, ProtocolObject};
use objc2::{
    AllocAnyThread, DefinedClass, MainThreadMarker, MainThreadOnly, define_class, msg_send,
};
use objc2_authentication_services::{
    ASAuthorization, ASAuthorizationController, ASAuthorizationControllerDelegate,
    ASAuthorizationRequest, ASAuthorizationSingleSignOnCredential,
    ASAuthorizationSingleSignOnProvider,
};
use objc2_foundation::{
    NSArray, NSBundle, NSError, NSString, NSURL, NSURLQueryItem, NSUnderlyingErrorKey,
};
use tokio::sync::oneshot;

use super::codec::{self, MacOperation, MacSsoRequest, NsErrorInfo, SSO_PROVIDER_URL};
use crate::broker::{
    BrokerAccount, BrokerBackend, BrokerError, BrokerFuture, BrokerPlatform, BrokerStatus,
    BrokerTokenRequest, BrokerTokenResponse, ParentWindow,
};

/// How long a non-interactive request may wait for the extension (which answers through the
/// main run loop) before the caller is told to check that the run loop runs.
const NON_INTERACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// The answer of one request: the header dictionary, or the classified error.
type Reply = Result<BTreeMap<String, String>, BrokerError>;

/// The macOS broker (the Enterprise SSO extension).
#[derive(Debug)]
pub struct MacBroker {
    _private: (),
}

impl MacBroker {
    /// The SSO-extension backend. Fails with
    /// [`RequiredBrokerMissing`](BrokerStatus::RequiredBrokerMissing) on Intel Macs (MSAL
    /// Python 1.39 uses the broker on Apple Silicon only). Whether an SSO extension is installed
    /// is checked per request (`canPerformAuthorization`) and by
    /// [`probe`](BrokerBackend::probe).
    // The routing layer holds every backend as `Arc<dyn BrokerBackend>`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Result<Arc<dyn BrokerBackend>, BrokerError> {
        if !codec::mac_broker_supported(std::env::consts::ARCH) {
            return Err(BrokerError::new(
                BrokerPlatform::MacOs,
                BrokerStatus::RequiredBrokerMissing,
                "the macOS broker is used on Apple Silicon only (as MSAL Python 1.39); \
                 signing in through the browser",
            ));
        }
        Ok(Arc::new(Self { _private: () }))
    }
}

/// `NSBundle.mainBundle.bundleIdentifier`.
pub(super) fn main_bundle_id() -> Option<String> {
    NSBundle::mainBundle()
        .bundleIdentifier()
        .map(|id| id.to_string())
        .filter(|id| !id.is_empty())
}

fn mac_error(status: BrokerStatus, context: impl Into<String>) -> BrokerError {
    BrokerError::new(BrokerPlatform::MacOs, status, context)
}

struct DelegateIvars {
    reply: RefCell<Option<oneshot::Sender<Reply>>>,
    controller: RefCell<Option<Retained<ASAuthorizationController>>>,
}

thread_local! {
    /// Delegates of requests in progress (the controller holds its delegate weakly). Only ever
    /// touched on the main thread.
    static PENDING: RefCell<Vec<Retained<SsoDelegate>>> = const { RefCell::new(Vec::new()) };
}

define_class!(
    // SAFETY: NSObject has no subclassing requirements; the delegate is main-thread-only, as
    // the protocol requires; and the class has no `Drop` impl of its own, which is what
    // `define_class!` asks of a class with ivars.
    #[unsafe(super(NSObject))]
    #[thread_kind = MainThreadOnly]
    #[name = "EntraMsalSsoExtensionDelegate"]
    #[ivars = DelegateIvars]
    struct SsoDelegate;

    // SAFETY: NSObjectProtocol has no safety requirements.
    unsafe impl NSObjectProtocol for SsoDelegate {}

    // SAFETY: the method signatures match ASAuthorizationControllerDelegate.
    unsafe impl ASAuthorizationControllerDelegate for SsoDelegate {
        #[unsafe(method(authorizationController:didCompleteWithAuthorization:))]
        fn did_complete(
            &self,
            _controller: &ASAuthorizationController,
            authorization: &ASAuthorization,
        ) {
            self.finish(headers_of(authorization));
        }

        #[unsafe(method(authorizationController:didCompleteWithError:))]
        fn did_fail(&self, _controller: &ASAuthorizationController, error: &NSError) {
            self.finish(Err(codec::classify_ns_error(&ns_error_info(error, 0))));
        }
    }
);

impl SsoDelegate {
    fn create(mtm: MainThreadMarker, reply: oneshot::Sender<Reply>) -> Retained<Self> {
        let this = Self::alloc(mtm).set_ivars(DelegateIvars {
            reply: RefCell::new(Some(reply)),
            controller: RefCell::new(None),
        });
        // SAFETY: NSObject's `init` on a freshly allocated instance.
        unsafe { msg_send![super(this), init] }
    }

    fn finish(&self, reply: Reply) {
        if let Some(sender) = self.ivars().reply.borrow_mut().take() {
            // The caller may have given up (timeout): nothing to do then.
            let _ = sender.send(reply);
        }
        self.ivars().controller.borrow_mut().take();
        let me: *const Self = self;
        PENDING.with(|pending| {
            pending
                .borrow_mut()
                .retain(|d| !std::ptr::eq(Retained::as_ptr(d), me))
        });
    }
}

fn string_of(object: &AnyObject) -> Option<String> {
    object.downcast_ref::<NSString>().map(|s| s.to_string())
}

/// The header dictionary of a successful authorization.
fn headers_of(authorization: &ASAuthorization) -> Reply {
    // SAFETY: `credential` is a plain getter on a live authorization.
    let credential = unsafe { authorization.credential() };
    let any: &AnyObject = credential.as_ref();
    let Some(sso) = any.downcast_ref::<ASAuthorizationSingleSignOnCredential>() else {
        return Err(mac_error(
            BrokerStatus::Unexpected,
            "the SSO extension answered with a credential that is not a single sign-on credential",
        ));
    };
    // SAFETY: `authenticatedResponse` is a plain getter on a live credential.
    let Some(response) = (unsafe { sso.authenticatedResponse() }) else {
        return Err(mac_error(
            BrokerStatus::Unexpected,
            "the SSO extension answered without a response",
        ));
    };
    let (keys, values) = response.allHeaderFields().to_vecs();
    Ok(keys
        .iter()
        .zip(values.iter())
        .filter_map(|(k, v)| Some((string_of(k)?, string_of(v)?)))
        .collect())
}

/// An `NSError` as data (string-valued `userInfo` entries, the underlying error up to a depth).
fn ns_error_info(error: &NSError, depth: usize) -> NsErrorInfo {
    let user_info = error.userInfo();
    let (keys, values) = user_info.to_vecs();
    let strings = keys
        .iter()
        .zip(values.iter())
        .filter_map(|(k, v)| Some((k.to_string(), string_of(v)?)))
        .collect();
    // SAFETY: NSUnderlyingErrorKey is an immutable NSString constant.
    let underlying_key = unsafe { NSUnderlyingErrorKey };
    let underlying = if depth < 4 {
        user_info
            .objectForKey(underlying_key)
            .and_then(|u| u.downcast::<NSError>().ok())
            .map(|u| Box::new(ns_error_info(&u, depth + 1)))
    } else {
        None
    };
    NsErrorInfo {
        domain: error.domain().to_string(),
        code: error.code() as i64,
        user_info: strings,
        underlying,
    }
}

fn sso_provider() -> Result<Retained<ASAuthorizationSingleSignOnProvider>, BrokerError> {
    let url = NSURL::URLWithString(&NSString::from_str(SSO_PROVIDER_URL))
        .ok_or_else(|| mac_error(BrokerStatus::Unexpected, "the SSO provider URL is invalid"))?;
    // SAFETY: a class factory taking a valid NSURL.
    Ok(unsafe {
        ASAuthorizationSingleSignOnProvider::authorizationProviderWithIdentityProviderURL(&url)
    })
}

fn no_extension() -> BrokerError {
    mac_error(
        BrokerStatus::RequiredBrokerMissing,
        "no Microsoft Enterprise SSO extension is configured for \
         https://login.microsoftonline.com (install Company Portal and its SSO profile); \
         signing in through the browser",
    )
}

/// Starts `request` on the main thread; the reply arrives through the delegate.
fn start_on_main(mtm: MainThreadMarker, request: MacSsoRequest, reply: oneshot::Sender<Reply>) {
    let provider = match sso_provider() {
        Ok(provider) => provider,
        Err(e) => {
            let _ = reply.send(Err(e));
            return;
        }
    };
    // SAFETY: a plain getter.
    if !unsafe { provider.canPerformAuthorization() } {
        let _ = reply.send(Err(no_extension()));
        return;
    }
    // SAFETY: creating a request from a live provider.
    let sso_request = unsafe { provider.createRequest() };
    let operation = NSString::from_str(request.operation.as_str());
    let items: Vec<Retained<NSURLQueryItem>> = request
        .options
        .iter()
        .map(|(name, value)| {
            NSURLQueryItem::queryItemWithName_value(
                &NSString::from_str(name),
                Some(&NSString::from_str(value)),
            )
        })
        .collect();
    let options = NSArray::from_retained_slice(&items);
    // SAFETY: setters on a live request; the values are copied.
    unsafe {
        sso_request.setRequestedOperation(&operation);
        sso_request.setAuthorizationOptions(&options);
        sso_request.setUserInterfaceEnabled(request.operation.user_interface_enabled());
    }
    let as_request: Retained<ASAuthorizationRequest> =
        Retained::into_super(Retained::into_super(sso_request));
    let requests = NSArray::from_retained_slice(&[as_request]);
    // SAFETY: initialising a freshly allocated controller with a non-empty request array.
    let controller = unsafe {
        ASAuthorizationController::initWithAuthorizationRequests(
            ASAuthorizationController::alloc(),
            &requests,
        )
    };
    let delegate = SsoDelegate::create(mtm, reply);
    // SAFETY: the delegate lives in PENDING until it has answered, so the weak reference the
    // controller keeps stays valid; performRequests runs on the main thread.
    unsafe {
        controller.setDelegate(Some(ProtocolObject::from_ref(&*delegate)));
    }
    *delegate.ivars().controller.borrow_mut() = Some(controller.clone());
    PENDING.with(|pending| pending.borrow_mut().push(delegate));
    // SAFETY: as above.
    unsafe { controller.performRequests() };
}

/// Sends `request` to the extension and waits for its answer.
async fn perform(request: MacSsoRequest) -> Reply {
    if MainThreadMarker::new().is_some() {
        return Err(mac_error(
            BrokerStatus::ApiContractViolation,
            "the macOS broker was called on the main thread, which must stay free to run the \
             main run loop that delivers the SSO extension's answer; run the async runtime on \
             another thread (see the entra_msal::broker::macos docs)",
        ));
    }
    let interactive = request.operation == MacOperation::Login;
    let (sender, receiver) = oneshot::channel();
    DispatchQueue::main().exec_async(move || match MainThreadMarker::new() {
        Some(mtm) => start_on_main(mtm, request, sender),
        None => {
            let _ = sender.send(Err(mac_error(
                BrokerStatus::Unexpected,
                "the main dispatch queue did not run on the main thread",
            )));
        }
    });
    let dropped = || {
        mac_error(
            BrokerStatus::Unexpected,
            "the SSO extension request ended without an answer",
        )
    };
    if interactive {
        return receiver.await.map_err(|_| dropped())?;
    }
    match tokio::time::timeout(NON_INTERACTIVE_TIMEOUT, receiver).await {
        Ok(reply) => reply.map_err(|_| dropped())?,
        Err(_) => Err(mac_error(
            BrokerStatus::TransientError,
            format!(
                "no answer from the SSO extension within {} s; is the main thread running its \
                 run loop (see the entra_msal::broker::macos docs)?",
                NON_INTERACTIVE_TIMEOUT.as_secs()
            ),
        )),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl BrokerBackend for MacBroker {
    fn platform(&self) -> BrokerPlatform {
        BrokerPlatform::MacOs
    }

    fn probe(&self) -> BrokerFuture<'_, ()> {
        Box::pin(async {
            if MainThreadMarker::new().is_some() {
                return Err(mac_error(
                    BrokerStatus::ApiContractViolation,
                    "the macOS broker was called on the main thread; run the async runtime on \
                     another thread (see the entra_msal::broker::macos docs)",
                ));
            }
            // canPerformAuthorization is thread-safe to ask; no run loop is needed.
            let provider = sso_provider()?;
            // SAFETY: a plain getter.
            if unsafe { provider.canPerformAuthorization() } {
                Ok(())
            } else {
                Err(no_extension())
            }
        })
    }

    fn accounts<'a>(
        &'a self,
        client_id: &'a str,
        correlation_id: &'a str,
    ) -> BrokerFuture<'a, Vec<BrokerAccount>> {
        Box::pin(async move {
            let request = codec::encode_get_accounts(client_id, correlation_id)?;
            codec::decode_accounts(&perform(request).await?)
        })
    }

    fn acquire_token_silently<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        Box::pin(async move {
            let encoded = codec::encode_silent(request)?;
            codec::decode_token_response(&perform(encoded).await?, now())
        })
    }

    fn acquire_token_interactively<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
        _window: ParentWindow,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        // The SSO extension presents its own window; the parent window is not needed.
        Box::pin(async move {
            let encoded = codec::encode_interactive(request)?;
            codec::decode_token_response(&perform(encoded).await?, now())
        })
    }

    fn sign_out<'a>(
        &'a self,
        client_id: &'a str,
        account: &'a BrokerAccount,
        correlation_id: &'a str,
    ) -> BrokerFuture<'a, ()> {
        Box::pin(async move {
            let redirect_uri = crate::broker::mac_redirect_uri(main_bundle_id().as_deref());
            let request =
                codec::encode_sign_out(client_id, &redirect_uri, account, correlation_id)?;
            codec::decode_sign_out(&perform(request).await?)
        })
    }
}
