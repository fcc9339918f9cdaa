//! The Windows account picker (`AccountsSettingsPane` through `IAccountsSettingsPaneInterop`),
//! as MSAL.NET's WinRT WAM broker shows it for `common` and `consumers`
//! (AzureAD/microsoft-authentication-library-for-dotnet
//! src/client/Microsoft.Identity.Client/Platforms/Features/WamBroker/AccountPicker.cs
//! `ShowPickerForWin32WindowAsync`, `ShowPickerWithSplashScreenAsync`,
//! `Authenticator_AccountCommandsRequested`). The providers offered come from
//! [`codec::picker_provider_authorities`](super::codec::picker_provider_authorities); the one
//! the user picks is returned.
//!
//! The picker runs on a thread of its own in a single-threaded apartment, which pumps window
//! messages while the pane is open. When the parent window belongs to another process (a
//! console window is owned by the console host or Windows Terminal), the pane refuses it, so the
//! picker is parented to a small window of this process placed over the parent, as MSAL.NET's
//! splash screen does.

#![allow(unsafe_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use windows::Foundation::TypedEventHandler;
use windows::Security::Authentication::Web::Core::WebAuthenticationCoreManager;
use windows::Security::Credentials::WebAccountProvider;
use windows::UI::ApplicationSettings::{
    AccountsSettingsPane, AccountsSettingsPaneCommandsRequestedEventArgs,
    WebAccountProviderCommand, WebAccountProviderCommandInvokedHandler,
};
use windows::Win32::Foundation::{HWND, RECT};
use windows::Win32::System::Com::{COINIT_APARTMENTTHREADED, CoInitializeEx, CoUninitialize};
use windows::Win32::System::WinRT::IAccountsSettingsPaneInterop;
use windows::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DestroyWindow, DispatchMessageW, GetWindowRect, GetWindowThreadProcessId, MSG,
    PM_REMOVE, PeekMessageW, TranslateMessage, WINDOW_EX_STYLE, WS_POPUP, WS_VISIBLE,
};
use windows::core::{HSTRING, w};
use windows_future::{AsyncStatus, IAsyncAction};

use super::codec::{self, WAM_PROVIDER_ID};
use crate::broker::{BrokerError, BrokerPlatform, BrokerStatus};

fn picker_error(what: &str, e: &windows::core::Error) -> BrokerError {
    let mut error = BrokerError::new(
        BrokerPlatform::Windows,
        BrokerStatus::Unexpected,
        format!("the Windows account picker failed: {what}: {}", e.message()),
    );
    error.error_code = i64::from(e.code().0);
    error
}

/// A window handle that may cross to the picker thread (it is only a number there).
#[derive(Clone, Copy)]
struct SendHwnd(isize);

/// Shows the account picker for `authority` owned by `parent` and returns the provider the user
/// chose; closing the picker is [`BrokerStatus::UserCanceled`].
pub(super) fn pick_provider(
    parent: HWND,
    authority: &str,
) -> Result<WebAccountProvider, BrokerError> {
    let authorities = codec::picker_provider_authorities(authority)?;
    let parent = SendHwnd(parent.0 as isize);
    let picked = std::thread::Builder::new()
        .name("entra-msal-wam-picker".into())
        .spawn(move || picker_thread(HWND(parent.0 as *mut core::ffi::c_void), &authorities))
        .map_err(|e| {
            BrokerError::new(
                BrokerPlatform::Windows,
                BrokerStatus::Unexpected,
                format!("the account picker's thread could not start: {e}"),
            )
        })?
        .join()
        .map_err(|_| {
            BrokerError::new(
                BrokerPlatform::Windows,
                BrokerStatus::Unexpected,
                "the account picker's thread panicked",
            )
        })??;
    // WinRT objects are agile: the provider may be used from the caller's thread.
    WebAuthenticationCoreManager::FindAccountProviderWithAuthorityAsync(
        &HSTRING::from(WAM_PROVIDER_ID),
        &HSTRING::from(picked.as_str()),
    )
    .and_then(|op| op.join())
    .map_err(|e| picker_error("the chosen provider could not be found again", &e))
}

fn picker_thread(parent: HWND, authorities: &[String]) -> Result<String, BrokerError> {
    // SAFETY: initialises COM for this new thread only; balanced by CoUninitialize below.
    let init = unsafe { CoInitializeEx(None, COINIT_APARTMENTTHREADED) };
    let result = show_picker(parent, authorities);
    if init.is_ok() {
        // SAFETY: this thread's successful CoInitializeEx, undone once, after every COM object
        // of this thread was released (they live in `show_picker`).
        unsafe { CoUninitialize() };
    }
    result
}

fn show_picker(parent: HWND, authorities: &[String]) -> Result<String, BrokerError> {
    let mut providers = Vec::new();
    for authority in authorities {
        let provider = WebAuthenticationCoreManager::FindAccountProviderWithAuthorityAsync(
            &HSTRING::from(WAM_PROVIDER_ID),
            &HSTRING::from(authority.as_str()),
        )
        .and_then(|op| op.join())
        .map_err(|e| picker_error("WAM has no Microsoft account provider", &e))?;
        providers.push(provider);
    }
    let chosen: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let owner = Owner::for_parent(parent)?;
    let interop = windows::core::factory::<AccountsSettingsPane, IAccountsSettingsPaneInterop>()
        .map_err(|e| picker_error("the account picker is not available", &e))?;
    // SAFETY: `owner.hwnd()` is a live window of this process (or the caller's), and the
    // requested interface is the one GetForWindow is documented to return.
    let pane: AccountsSettingsPane = unsafe { interop.GetForWindow(owner.hwnd()) }
        .map_err(|e| picker_error("the account picker has no pane for the window", &e))?;
    let offered = providers.clone();
    let sink = chosen.clone();
    let handler = TypedEventHandler::<
        AccountsSettingsPane,
        AccountsSettingsPaneCommandsRequestedEventArgs,
    >::new(move |_, args| {
        let args = args.ok()?;
        let deferral = args.GetDeferral()?;
        let commands = args.WebAccountProviderCommands()?;
        for provider in &offered {
            let sink = sink.clone();
            let invoked = WebAccountProviderCommandInvokedHandler::new(move |command| {
                let authority = command.ok()?.WebAccountProvider()?.Authority()?;
                *sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(authority.to_string());
                Ok(())
            });
            commands.Append(&WebAccountProviderCommand::CreateWebAccountProviderCommand(
                provider, &invoked,
            )?)?;
        }
        deferral.Complete()
    });
    let token = pane
        .AccountCommandsRequested(&handler)
        .map_err(|e| picker_error("the account picker refused its commands", &e))?;
    // SAFETY: as for GetForWindow; the returned action is awaited below while this thread
    // pumps the window's messages.
    let shown: Result<IAsyncAction, _> =
        unsafe { interop.ShowAddAccountForWindowAsync(owner.hwnd()) };
    let outcome = shown
        .map_err(|e| picker_error("the account picker could not be shown", &e))
        .and_then(|action| pump_until_done(&action));
    let _ = pane.RemoveAccountCommandsRequested(token);
    drop(owner);
    outcome?;
    let picked = chosen.lock().unwrap_or_else(|p| p.into_inner()).take();
    picked.ok_or_else(|| {
        BrokerError::new(
            BrokerPlatform::Windows,
            BrokerStatus::UserCanceled,
            "the account picker was closed without an account",
        )
    })
}

/// Pumps this thread's window messages until `action` completes.
fn pump_until_done(action: &IAsyncAction) -> Result<(), BrokerError> {
    loop {
        let status = action
            .Status()
            .map_err(|e| picker_error("the account picker's state is unknown", &e))?;
        if status != AsyncStatus::Started {
            return action
                .GetResults()
                .map_err(|e| picker_error("the account picker ended with an error", &e));
        }
        let mut msg = MSG::default();
        // SAFETY: `msg` is a valid out-parameter; the loop only dispatches messages this
        // thread's own windows received.
        unsafe {
            while PeekMessageW(&mut msg, None, 0, 0, PM_REMOVE).as_bool() {
                let _ = TranslateMessage(&msg);
                DispatchMessageW(&msg);
            }
        }
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// The picker's owner window: the parent itself when it belongs to this process, else a small
/// window of this process over the parent (destroyed on drop).
struct Owner {
    hwnd: HWND,
    created: bool,
}

impl Owner {
    fn for_parent(parent: HWND) -> Result<Self, BrokerError> {
        let mut process = 0u32;
        // SAFETY: `parent` is a window handle (or null, for which the call returns 0) and
        // `process` a valid out-parameter.
        unsafe { GetWindowThreadProcessId(parent, Some(&mut process as *mut u32)) };
        if process == std::process::id() {
            return Ok(Self {
                hwnd: parent,
                created: false,
            });
        }
        let mut rect = RECT::default();
        // SAFETY: as above; a failure leaves `rect` zeroed (the window then opens at 0,0).
        let _ = unsafe { GetWindowRect(parent, &mut rect) };
        let (x, y) = ((rect.left + rect.right) / 2, (rect.top + rect.bottom) / 2);
        // SAFETY: the predefined STATIC class needs no registration; the window is owned by
        // `parent` and destroyed by `Drop` on this same thread.
        let hwnd = unsafe {
            CreateWindowExW(
                WINDOW_EX_STYLE(0),
                w!("STATIC"),
                w!(""),
                WS_POPUP | WS_VISIBLE,
                x,
                y,
                1,
                1,
                Some(parent),
                None,
                None,
                None,
            )
        }
        .map_err(|e| picker_error("the picker's owner window could not be created", &e))?;
        Ok(Self {
            hwnd,
            created: true,
        })
    }

    fn hwnd(&self) -> HWND {
        self.hwnd
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        if self.created {
            // SAFETY: a window this thread created and has not destroyed yet.
            let _ = unsafe { DestroyWindow(self.hwnd) };
        }
    }
}
