//! What the terminal sees: text from a server or a token made safe to print, whether a browser
//! or a terminal is at hand, a closed pipe, and a panic turned into one line.

use std::borrow::Cow;
use std::io::IsTerminal as _;

/// The exit status after writing to a closed pipe (`msal decode … | head -1`): 141, what a shell
/// reports for a process that SIGPIPE ended (128 + 13), as `cat` or `grep` would give.
pub const BROKEN_PIPE_EXIT: i32 = 141;

/// Whether `c` moves the cursor, changes colours or sends a terminal command: C0 controls
/// (but tab and newline), DEL and the C1 controls (U+0080–U+009F, where CSI U+009B lives).
fn is_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c)
}

/// `text` with every terminal control character (ESC, BEL, CSI, carriage return, ...) written
/// out visibly as `\x1b` or `\u{9b}`, so that text from a server or a token cannot move the
/// cursor, recolour the screen or set the window title. Tabs and newlines stay.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !is_control(c) {
            out.push(c);
        } else if c == '\r' && chars.peek() == Some(&'\n') {
            // A Windows line ending (Entra's descriptions have them) is a line ending.
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// Serialized JSON with the controls JSON leaves raw (DEL and C1) written as `\u00XX` escapes,
/// so the text stays the same JSON value and is safe on a terminal. (serde_json already escapes
/// U+0000–U+001F.)
pub fn clean_json(json: &str) -> Cow<'_, str> {
    let raw = |c: char| ('\u{7f}'..='\u{9f}').contains(&c);
    if !json.chars().any(raw) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if raw(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether a person is at a terminal: standard input and standard error both are one.
pub fn interactive_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Why no browser can be opened here, or `None` when one may be: an SSH session (the browser
/// would open on the remote machine, if at all), or on Linux and other Unix systems no
/// graphical session. `MSAL_BROWSER` or `$BROWSER` names a program that opens URLs, so either
/// one means a browser may be opened.
pub fn no_browser_reason(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
    if set("MSAL_BROWSER") || set("BROWSER") {
        return None;
    }
    if set("SSH_CONNECTION") || set("SSH_TTY") {
        return Some("this is an SSH session".into());
    }
    let unix_desktop = cfg!(unix) && !cfg!(target_os = "macos");
    // WSL opens the Windows browser (wslview, explorer.exe) without a Linux display.
    let wsl = set("WSL_DISTRO_NAME") || set("WSL_INTEROP");
    if unix_desktop && !wsl && !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
        return Some(
            "there is no graphical session (DISPLAY and WAYLAND_DISPLAY are unset)".into(),
        );
    }
    None
}

/// The text a panic carries.
fn panic_text(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Replaces Rust's panic output: a write to a closed pipe ends the process quietly with
/// [`BROKEN_PIPE_EXIT`]; any other panic prints one line with where it happened and how to
/// report it (no backtrace), and exits with 101.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let text = panic_text(info);
        if text.contains("Broken pipe") || text.contains("os error 32") {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "msal: internal error (a bug): {}{place}; please report it with the command you ran and the output of `msal --version`",
            clean(&text)
        );
        std::process::exit(101);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_written_out() {
        assert_eq!(clean("plain text\n\tok"), "plain text\n\tok");
        assert_eq!(clean("line\r\nTrace ID: 1"), "line\nTrace ID: 1");
        assert_eq!(
            clean("a\x1b[31mred\x07\r\u{9b}2J"),
            "a\\x1b[31mred\\x07\\x0d\\u{9b}2J"
        );
        assert_eq!(clean_json("\"x\u{9b}y\u{7f}\""), "\"x\\u009by\\u007f\"");
        let v: serde_json::Value = serde_json::from_str(&clean_json("\"x\u{9b}\"")).unwrap();
        assert_eq!(v, "x\u{9b}");
    }

    #[test]
    fn headless_detection() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(no_browser_reason(&env(&[("SSH_TTY", "/dev/pts/1"), ("DISPLAY", ":0")])).is_some());
        assert!(no_browser_reason(&env(&[("BROWSER", "firefox"), ("SSH_TTY", "x")])).is_none());
        assert!(no_browser_reason(&env(&[("MSAL_BROWSER", "x")])).is_none());
        if cfg!(all(unix, not(target_os = "macos"))) {
            assert!(no_browser_reason(&env(&[])).is_some());
            assert!(no_browser_reason(&env(&[("WAYLAND_DISPLAY", "wayland-0")])).is_none());
        }
    }
}
