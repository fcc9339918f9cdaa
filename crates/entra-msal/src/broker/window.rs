//! The window that owns a broker's sign-in UI.

use crate::error::Error;

/// The window that owns the sign-in UI. Brokers require one for interactive sign-in (the system
/// browser opens its own window, as in MSAL Python); console apps pass
/// [`PublicClientApplication::CONSOLE_WINDOW_HANDLE`](crate::app::PublicClientApplication::CONSOLE_WINDOW_HANDLE).
///
/// GUI apps convert their window's handle with `ParentWindow::try_from(raw_window_handle)`
/// (the `raw-window-handle` 0.6 convention used by winit, tao, egui and others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParentWindow {
    /// The console (terminal) the program runs in. On Windows the console window's root owner
    /// is used, falling back to the desktop window.
    Console,
    /// A native window handle as an integer: an `HWND` on Windows, an `NSView`/`NSWindow`
    /// pointer on macOS, an X11 window id on Linux.
    Native(u64),
}

impl TryFrom<raw_window_handle::RawWindowHandle> for ParentWindow {
    type Error = Error;

    // An Xlib window id is a `c_ulong`: 64 bits on Linux and macOS, 32 on Windows.
    #[allow(clippy::useless_conversion)]
    fn try_from(handle: raw_window_handle::RawWindowHandle) -> Result<Self, Error> {
        use raw_window_handle::RawWindowHandle as H;
        let native = match handle {
            H::Win32(h) => h.hwnd.get() as u64,
            H::AppKit(h) => h.ns_view.as_ptr() as usize as u64,
            H::Xlib(h) => u64::from(h.window),
            H::Xcb(h) => u64::from(h.window.get()),
            other => {
                return Err(Error::configuration(format!(
                    "a {other:?} window cannot own broker UI; pass a Win32, AppKit, Xlib or Xcb \
                     window handle, or PublicClientApplication::CONSOLE_WINDOW_HANDLE"
                )));
            }
        };
        Ok(Self::Native(native))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raw_window_handle::{RawWindowHandle, Win32WindowHandle, XlibWindowHandle};
    use std::num::NonZeroIsize;

    #[test]
    fn raw_window_handles_convert() {
        let win32 = Win32WindowHandle::new(NonZeroIsize::new(0x1234).unwrap());
        assert_eq!(
            ParentWindow::try_from(RawWindowHandle::Win32(win32)).unwrap(),
            ParentWindow::Native(0x1234)
        );
        let xlib = XlibWindowHandle::new(77);
        assert_eq!(
            ParentWindow::try_from(RawWindowHandle::Xlib(xlib)).unwrap(),
            ParentWindow::Native(77)
        );
        let web = raw_window_handle::WebWindowHandle::new(1);
        assert!(matches!(
            ParentWindow::try_from(RawWindowHandle::Web(web)),
            Err(Error::Configuration { .. })
        ));
    }
}
