//! The SSO-extension shim: hands [`codec`](super::codec) dictionaries to
//! `ASAuthorizationSingleSignOnProvider` on the main thread and passes the answer (header
//! dictionary or `NSError`) back to the codec. No parsing here, and no waiting logic: how the
//! answer is awaited (run-loop slices on the main thread, the main queue elsewhere, timeouts and
//! cancellation) is [`main_loop`](super::main_loop); this file only implements its
//! [`MainLoop`] seam for the real main thread.

#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dispatch2::DispatchQueue;
use objc2::rc::Retained;
use objc2::runtime::{AnyObject, NSObject, NSObjectProtocol, ProtocolObject};
use objc2::{
    AllocAnyThread, DefinedClass, MainThreadMarker, MainThreadOnly, Message, define_class,
    msg_send, sel,
};
use objc2_app_kit::{NSApplication, NSBackingStoreType, NSView, NSWindow, NSWindowStyleMask};
use objc2_authentication_services::{
    ASAuthorization, ASAuthorizationController, ASAuthorizationControllerDelegate,
    ASAuthorizationControllerPresentationContextProviding, ASAuthorizationRequest,
    ASAuthorizationSingleSignOnCredential, ASAuthorizationSingleSignOnProvider,
};
use objc2_foundation::{
    NSArray, NSBundle, NSError, NSPoint, NSRect, NSSize, NSString, NSURL, NSURLQueryItem,
    NSUnderlyingErrorKey,
};
use tokio::sync::oneshot;

use super::codec::{self, MacOperation, MacSsoRequest, NsErrorInfo, SSO_PROVIDER_URL};
use super::main_loop::{MainLoop, MainThreadCall, MainThreadJob, WaitPolicy};
use crate::broker::{
    BrokerAccount, BrokerBackend, BrokerError, BrokerFuture, BrokerPlatform, BrokerStatus,
    BrokerTokenRequest, BrokerTokenResponse, ParentWindow,
};

/// The answer of one request: the header dictionary, or the classified error.
type Reply = Result<BTreeMap<String, String>, BrokerError>;

#[link(name = "CoreFoundation", kind = "framework")]
unsafe extern "C" {
    /// `kCFRunLoopDefaultMode` (a `CFStringRef` constant).
    static kCFRunLoopDefaultMode: *const c_void;
    /// `CFRunLoopRunInMode(mode, seconds, returnAfterSourceHandled)`.
    fn CFRunLoopRunInMode(
        mode: *const c_void,
        seconds: f64,
        return_after_source_handled: u8,
    ) -> i32;
}

/// This process's main thread: `CFRunLoopRunInMode` slices (which also drain the main dispatch
/// queue, as `CFRunLoopRun` does and `dispatch_main` does not for run-loop sources) and
/// `dispatch_async` to the main queue.
#[derive(Debug)]
struct SystemMainLoop;

impl MainLoop for SystemMainLoop {
    fn is_main_thread(&self) -> bool {
        MainThreadMarker::new().is_some()
    }

    fn run_slice(&self, max: Duration) {
        if MainThreadMarker::new().is_none() {
            return;
        }
        // SAFETY: called on the main thread (checked above), whose run loop CFRunLoopRunInMode
        // runs; kCFRunLoopDefaultMode is an immutable CFString constant of CoreFoundation.
        unsafe {
            CFRunLoopRunInMode(kCFRunLoopDefaultMode, max.as_secs_f64(), 1);
        }
    }

    fn post_to_main(&self, job: Box<dyn FnOnce() + Send>) {
        DispatchQueue::main().exec_async(job);
    }
}

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
    /// Which request this is (for cancelling it).
    id: u64,
    reply: RefCell<Option<oneshot::Sender<Reply>>>,
    controller: RefCell<Option<Retained<ASAuthorizationController>>>,
    /// The window that owns `login`'s UI (`None` for requests without UI).
    window: Option<ParentWindow>,
    /// A window this request created as the presentation anchor, kept until it answers.
    own_anchor: RefCell<Option<Retained<NSWindow>>>,
    answered: Cell<bool>,
}

thread_local! {
    /// Delegates of requests in progress (the controller holds its delegate and its
    /// presentation context provider weakly). Only ever touched on the main thread.
    static PENDING: RefCell<Vec<Retained<SsoDelegate>>> = const { RefCell::new(Vec::new()) };
}

/// The id of the next request.
static NEXT_REQUEST: AtomicU64 = AtomicU64::new(1);

define_class!(
    // SAFETY: NSObject has no subclassing requirements; the delegate is main-thread-only, as
    // the protocols require; and the class has no `Drop` impl of its own, which is what
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

    // SAFETY: the method signature matches ASAuthorizationControllerPresentationContextProviding
    // (ASPresentationAnchor is an NSWindow, returned retained as `method_id` requires).
    unsafe impl ASAuthorizationControllerPresentationContextProviding for SsoDelegate {
        #[unsafe(method_id(presentationAnchorForAuthorizationController:))]
        fn presentation_anchor(
            &self,
            _controller: &ASAuthorizationController,
        ) -> Retained<NSObject> {
            let window = self.anchor_window();
            Retained::into_super(Retained::into_super(window))
        }
    }
);

impl SsoDelegate {
    fn create(
        mtm: MainThreadMarker,
        id: u64,
        window: Option<ParentWindow>,
        reply: oneshot::Sender<Reply>,
    ) -> Retained<Self> {
        let this = Self::alloc(mtm).set_ivars(DelegateIvars {
            id,
            reply: RefCell::new(Some(reply)),
            controller: RefCell::new(None),
            window,
            own_anchor: RefCell::new(None),
            answered: Cell::new(false),
        });
        // SAFETY: NSObject's `init` on a freshly allocated instance.
        unsafe { msg_send![super(this), init] }
    }

    fn finish(&self, reply: Reply) {
        if self.ivars().answered.replace(true) {
            return;
        }
        if let Some(sender) = self.ivars().reply.borrow_mut().take() {
            // The caller may have given up (timeout, dropped future): nothing to do then.
            let _ = sender.send(reply);
        }
        self.ivars().controller.borrow_mut().take();
        if let Some(window) = self.ivars().own_anchor.borrow_mut().take() {
            window.close();
        }
        let me: *const Self = self;
        PENDING.with(|pending| {
            pending
                .borrow_mut()
                .retain(|d| !std::ptr::eq(Retained::as_ptr(d), me))
        });
    }

    /// The window the extension's UI is presented over, as MSAL ObjC picks it
    /// (`MSIDSSOExtensionInteractiveTokenRequest` `presentationAnchor`: the parent view's window,
    /// else the app's window): the window of the app's `NSView` (or the `NSWindow` itself), else
    /// the key or main window, else, in a console program that has none, a new borderless
    /// window in the middle of the screen (MSAL.NET hands msalruntime a dummy handle there, and
    /// the UI is shown in the middle of the screen).
    fn anchor_window(&self) -> Retained<NSWindow> {
        let mtm = self.mtm();
        if let Some(ParentWindow::Native(handle)) = self.ivars().window
            && handle != 0
        {
            // SAFETY: `ParentWindow::Native` on macOS is documented as a live `NSView` or
            // `NSWindow` pointer (raw-window-handle's AppKit handle is the `NSView`), owned by
            // the app for as long as its sign-in runs; it is only read here, on the main thread.
            let object: &AnyObject = unsafe { &*(handle as usize as *const AnyObject) };
            if let Some(view) = object.downcast_ref::<NSView>()
                && let Some(window) = view.window()
            {
                return window;
            }
            if let Some(window) = object.downcast_ref::<NSWindow>() {
                return window.retain();
            }
        }
        let app = NSApplication::sharedApplication(mtm);
        if let Some(window) = app.keyWindow().or_else(|| app.mainWindow()) {
            return window;
        }
        if let Some(window) = self.ivars().own_anchor.borrow().as_ref() {
            return window.clone();
        }
        let frame = NSRect::new(NSPoint::new(0.0, 0.0), NSSize::new(1.0, 1.0));
        // SAFETY: initialising a freshly allocated window on the main thread with a valid
        // frame, style and backing store; it is released through `Retained`, so AppKit must
        // not release it again on close (`releasedWhenClosed` = NO, set right after).
        let window = unsafe {
            NSWindow::initWithContentRect_styleMask_backing_defer(
                NSWindow::alloc(mtm),
                frame,
                NSWindowStyleMask::Borderless,
                NSBackingStoreType::Buffered,
                false,
            )
        };
        // SAFETY: a setter on a live window, on the main thread.
        unsafe { window.setReleasedWhenClosed(false) };
        window.center();
        *self.ivars().own_anchor.borrow_mut() = Some(window.clone());
        window
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
fn start_on_main(
    mtm: MainThreadMarker,
    id: u64,
    request: MacSsoRequest,
    window: Option<ParentWindow>,
    reply: oneshot::Sender<Reply>,
) {
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
    let delegate = SsoDelegate::create(mtm, id, window, reply);
    // SAFETY: the delegate lives in PENDING until it has answered or was cancelled, and the
    // controller's references to it are weak (zeroing); everything runs on the main thread.
    unsafe {
        controller.setDelegate(Some(ProtocolObject::from_ref(&*delegate)));
        if window.is_some() {
            // As MSAL ObjC's interactive request does, `login` gets a presentation context.
            controller.setPresentationContextProvider(Some(ProtocolObject::from_ref(&*delegate)));
        }
    }
    *delegate.ivars().controller.borrow_mut() = Some(controller.clone());
    PENDING.with(|pending| pending.borrow_mut().push(delegate));
    // SAFETY: as above; PENDING is not borrowed while the controller may call the delegate.
    unsafe { controller.performRequests() };
}

/// Cancels request `id` if it is still in progress: `-[ASAuthorizationController cancel]`
/// (macOS 13 and later), and its caller is answered at once either way.
fn cancel_on_main(id: u64) {
    let delegate = PENDING.with(|pending| {
        pending
            .borrow()
            .iter()
            .find(|d| d.ivars().id == id)
            .cloned()
    });
    let Some(delegate) = delegate else {
        return;
    };
    let controller = delegate.ivars().controller.borrow().clone();
    if let Some(controller) = controller
        && controller.respondsToSelector(sel!(cancel))
    {
        // SAFETY: a live controller, on the main thread; neither PENDING nor the delegate's
        // ivars are borrowed while it calls the delegate back.
        unsafe { controller.cancel() };
    }
    delegate.finish(Err(mac_error(
        BrokerStatus::ApplicationCanceled,
        "the request to the SSO extension was cancelled",
    )));
}

/// Sends `request` to the extension and waits for its answer (see [`main_loop`](super::main_loop)
/// for how, on and off the main thread). `window` owns `login`'s UI.
async fn perform(request: MacSsoRequest, window: Option<ParentWindow>) -> Reply {
    let interactive = request.operation == MacOperation::Login;
    let id = NEXT_REQUEST.fetch_add(1, Ordering::Relaxed);
    let job = MainThreadJob {
        operation: request.operation.as_str(),
        start: Box::new(
            move |reply: oneshot::Sender<Reply>| match MainThreadMarker::new() {
                Some(mtm) => start_on_main(mtm, id, request, window, reply),
                None => {
                    let _ = reply.send(Err(mac_error(
                        BrokerStatus::Unexpected,
                        "the main dispatch queue did not run on the main thread",
                    )));
                }
            },
        ),
        cancel: Box::new(move || cancel_on_main(id)),
    };
    let policy = if interactive {
        WaitPolicy::interactive()
    } else {
        WaitPolicy::silent()
    };
    MainThreadCall::new(Arc::new(SystemMainLoop), policy, job).await?
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
            // canPerformAuthorization is a plain getter: any thread, no run loop needed. The
            // thread the app calls from is never a reason to refuse the broker.
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
            codec::decode_accounts(&perform(request, None).await?)
        })
    }

    fn acquire_token_silently<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        Box::pin(async move {
            let encoded = codec::encode_silent(request)?;
            codec::decode_token_response(&perform(encoded, None).await?, now())
        })
    }

    fn acquire_token_interactively<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
        window: ParentWindow,
    ) -> BrokerFuture<'a, BrokerTokenResponse> {
        Box::pin(async move {
            let encoded = codec::encode_interactive(request)?;
            codec::decode_token_response(&perform(encoded, Some(window)).await?, now())
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
            let authority = codec::sign_out_authority(account);
            let request = codec::encode_sign_out(
                client_id,
                &authority,
                &redirect_uri,
                account,
                correlation_id,
            )?;
            codec::decode_sign_out(&perform(request, None).await?)
        })
    }
}
