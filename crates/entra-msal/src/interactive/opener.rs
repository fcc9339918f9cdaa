//! The seam between the interactive flow and whatever shows the sign-in page.

use crate::error::Error;

/// Opens a URL for the user. Implement it for embedded web views or tests.
///
/// [`SystemBrowser`](super::SystemBrowser) is the default implementation. `open` should return
/// once the URL is handed over (it must not wait for the sign-in to finish): the loopback
/// listener waits for the result. Return [`Error::NoBrowser`] when nothing could show the URL,
/// so the application can print it instead.
///
/// Any `Fn(&str) -> Result<(), Error>` closure is an opener:
///
/// ```
/// use entra_msal::UrlOpener;
///
/// let print = |url: &str| -> Result<(), entra_msal::Error> {
///     eprintln!("Open this URL to sign in: {url}");
///     Ok(())
/// };
/// print.open("https://login.example/authorize?...").unwrap();
/// ```
pub trait UrlOpener: Send + Sync {
    /// Shows `url` to the user.
    fn open(&self, url: &str) -> Result<(), Error>;
}

impl<F> UrlOpener for F
where
    F: Fn(&str) -> Result<(), Error> + Send + Sync,
{
    fn open(&self, url: &str) -> Result<(), Error> {
        self(url)
    }
}
