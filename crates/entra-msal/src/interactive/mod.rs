//! Interactive sign-in without a broker: the system browser and the loopback redirect listener.
//!
//! The pieces of `acquire_token_interactive`'s browser flow, usable on their own:
//!
//! - [`LoopbackListener`] binds `127.0.0.1` (another address only when asked), gives the
//!   `http://localhost:PORT` redirect URI, and waits for the one authorization response
//!   (`response_mode=form_post` or `query`), ignoring stray and forged requests.
//! - [`UrlOpener`] shows the authorization URL; [`SystemBrowser`] is the default (`$BROWSER`,
//!   then `xdg-open`, `wslview`/`explorer.exe` on WSL, `open`, or `cmd /C start`).
//! - [`ResultPages`] is what the browser shows once the response arrived.
//!
//! State, code and PKCE are checked by the application layer from the returned parameters;
//! passing the expected `state` to the listener additionally keeps a forged response from ending
//! the wait.
//!
//! | file | concern |
//! |---|---|
//! | `opener.rs` | the [`UrlOpener`] trait |
//! | `browser.rs` | which launch commands, in which order (pure), and [`SystemBrowser`] |
//! | `launch.rs` | `PATH` search and detached process start (the OS shim) |
//! | `pages.rs` | [`ResultPages`] and HTML escaping |
//! | `http1.rs` | the pure HTTP/1.x request parser and response writer |
//! | `redirect.rs` | which request is the authorization response (pure) |
//! | `listener.rs` | [`LoopbackListener`]: sockets, deadlines, concurrency |

mod browser;
pub(crate) mod http1;
mod launch;
mod listener;
mod opener;
mod pages;
pub(crate) mod redirect;

pub use browser::SystemBrowser;
pub use listener::LoopbackListener;
pub use opener::UrlOpener;
pub use pages::ResultPages;
pub(crate) use pages::render_welcome;
