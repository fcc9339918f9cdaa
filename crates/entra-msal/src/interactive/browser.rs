//! The system browser: which commands are tried, in which order (a pure function of the
//! environment), and the [`SystemBrowser`] opener that runs them.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::launch::{self, Candidate, Outcome};
use super::opener::UrlOpener;
use crate::error::Error;

/// The operating-system family, which decides the default launcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Platform {
    /// Linux, including WSL (`xdg-open`; on WSL `wslview` and `explorer.exe` first).
    Linux,
    /// macOS (`open`).
    MacOs,
    /// Windows (`cmd /C start "" URL`).
    Windows,
    /// Another Unix (the BSDs...): `xdg-open`, as on Linux.
    OtherUnix,
}

impl Platform {
    /// The platform this program was built for.
    pub fn current() -> Self {
        if cfg!(target_os = "linux") || cfg!(target_os = "android") {
            Self::Linux
        } else if cfg!(target_os = "macos") {
            Self::MacOs
        } else if cfg!(windows) {
            Self::Windows
        } else {
            Self::OtherUnix
        }
    }

    /// The separator between several commands in `$BROWSER` (`os.pathsep` in Python).
    fn list_separator(self) -> char {
        if self == Self::Windows { ';' } else { ':' }
    }
}

impl Candidate {
    fn plain(program: &str, url: &str, origin: &'static str) -> Self {
        Self {
            program: program.into(),
            args: vec![url.into()],
            raw_args: false,
            ignore_exit_status: false,
            origin,
        }
    }
}

/// Microsoft Edge on Linux, where MSAL Python looks for it: a path owned by the administrator
/// (a symbolic link to `/opt/microsoft/msedge*/msedge`).
pub(crate) const LINUX_EDGE: &str = "/usr/bin/microsoft-edge";

/// The commands to try for `url`, in order: each `$BROWSER` entry, then the platform's
/// launchers. On Linux with a graphical session and no `$BROWSER`, Microsoft Edge comes first
/// when installed (`edge_installed`: [`LINUX_EDGE`] exists), as in MSAL Python: only Edge
/// satisfies device-based Conditional Access there. Pure: the environment comes from `env`.
///
/// Returns the candidates and, when the platform launcher was left out, why.
pub(crate) fn candidates(
    env: &dyn Fn(&str) -> Option<String>,
    is_wsl: bool,
    edge_installed: bool,
    platform: Platform,
    url: &str,
) -> (Vec<Candidate>, Option<&'static str>) {
    let mut out = Vec::new();
    if let Some(browser) = env("BROWSER") {
        for entry in browser.split(platform.list_separator()) {
            if let Some(c) = browser_variable_command(entry, url, platform == Platform::Windows) {
                out.push(c);
            }
        }
    }
    let graphical = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| env(name).is_some_and(|v| !v.trim().is_empty()));
    let mut skipped = None;
    match platform {
        Platform::Windows => out.push(Candidate {
            program: "cmd".into(),
            args: vec![
                "/C".into(),
                "start".into(),
                "\"\"".into(),
                quote_for_cmd(url),
            ],
            raw_args: true,
            ignore_exit_status: false,
            origin: "Windows default browser",
        }),
        Platform::MacOs => out.push(Candidate::plain("open", url, "macOS default browser")),
        Platform::Linux | Platform::OtherUnix => {
            // `$BROWSER`, when set, is the user's choice and stays first and alone before the
            // platform's launchers.
            if platform == Platform::Linux
                && edge_installed
                && graphical
                && env("BROWSER").is_none()
            {
                out.push(Candidate::plain(
                    LINUX_EDGE,
                    url,
                    "Microsoft Edge, for device-based Conditional Access",
                ));
            }
            if is_wsl {
                out.push(Candidate::plain("wslview", url, "WSL"));
                let mut explorer = Candidate::plain("explorer.exe", url, "WSL");
                explorer.ignore_exit_status = true;
                out.push(explorer);
            }
            if graphical {
                out.push(Candidate::plain("xdg-open", url, "desktop default browser"));
            } else {
                // Without a display, xdg-open falls back to console browsers (lynx, w3m) that
                // would take over the terminal, or fails.
                skipped = Some(
                    "xdg-open was skipped because there is no graphical session (DISPLAY and WAYLAND_DISPLAY are unset)",
                );
            }
        }
    }
    (out, skipped)
}

/// One `$BROWSER` entry as a command: split like a POSIX shell would, `%s` replaced by the URL
/// or, without `%s`, the URL appended. A trailing `&` word (Python's "run in background"
/// marker) is dropped. Empty entries give `None`.
fn browser_variable_command(entry: &str, url: &str, windows: bool) -> Option<Candidate> {
    let mut words = split_command_line(entry, windows);
    if words.last().is_some_and(|w| w == "&") {
        words.pop();
    }
    if words.is_empty() {
        return None;
    }
    if words.iter().any(|w| w.contains("%s")) {
        for w in &mut words {
            *w = w.replace("%s", url);
        }
    } else {
        words.push(url.to_string());
    }
    let program = words.remove(0);
    Some(Candidate {
        program,
        args: words,
        raw_args: false,
        ignore_exit_status: false,
        origin: "$BROWSER",
    })
}

/// Splits a command line into words like a POSIX shell (without expansions): whitespace
/// separates, `'...'` is literal, `"..."` keeps spaces and honours `\"`, `\\`, `\$` and `` \` ``,
/// a backslash elsewhere escapes the next character. An unterminated quote runs to the end.
/// With `windows`, backslashes (path separators) and single quotes are literal.
fn split_command_line(line: &str, windows: bool) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' if !windows => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' if !windows => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => word.push(n),
                            Some(n) => {
                                word.push('\\');
                                word.push(n);
                            }
                            None => word.push('\\'),
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' if !windows => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The URL as one double-quoted word for `cmd.exe`. Inside quotes `cmd` takes `&`, `|`, `<`,
/// `>`, `^` and parentheses literally; a `"` (never valid in a URL) is percent-encoded so it
/// cannot end the quoting. (`%NAME%` could still be expanded if an environment variable of
/// that name exists; percent-encoded URLs do not contain such sequences in practice.)
pub(crate) fn quote_for_cmd(url: &str) -> String {
    format!("\"{}\"", url.replace('"', "%22"))
}

/// Whether `/proc/sys/kernel/osrelease` or `/proc/version` text says WSL.
pub(crate) fn looks_like_wsl(kernel_text: &str) -> bool {
    let lower = kernel_text.to_ascii_lowercase();
    lower.contains("microsoft") || lower.contains("wsl")
}

type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;
type FindFn = dyn Fn(&str) -> Option<PathBuf> + Send + Sync;

/// The system browser: `$BROWSER` first (a command line; `%s` is replaced by the URL, else the
/// URL is appended as last argument; several commands separated by `:` — `;` on Windows — are
/// tried in order, as Python's `webbrowser` does), then the platform's launcher:
///
/// | platform | commands |
/// |---|---|
/// | Linux | `/usr/bin/microsoft-edge URL` when Edge is installed and `$BROWSER` is unset (device-based Conditional Access needs Edge, as in MSAL Python), then `xdg-open URL` (both only with `DISPLAY` or `WAYLAND_DISPLAY` set) |
/// | BSD | `xdg-open URL` (only with `DISPLAY` or `WAYLAND_DISPLAY` set) |
/// | WSL | Edge as on Linux, `wslview URL`, `explorer.exe URL`, then `xdg-open URL` as on Linux |
/// | macOS | `open URL` |
/// | Windows | `cmd /C start "" "URL"` |
///
/// Commands are looked up on `PATH` and started detached, with standard streams on the null
/// device; `open` waits a short grace period (1 s by default) to notice a launcher that fails
/// at once (then the next one is tried), never for the browser to exit. A launcher still
/// running after the grace period is reaped by a background thread. When nothing starts,
/// [`Error::NoBrowser`] carries the URL and what was tried.

#[derive(Clone)]
pub struct SystemBrowser {
    env: Option<Arc<EnvFn>>,
    find_program: Option<Arc<FindFn>>,
    wsl: Option<bool>,
    platform: Platform,
    launch_grace: Duration,
}

impl fmt::Debug for SystemBrowser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemBrowser")
            .field("custom_env", &self.env.is_some())
            .field("custom_path_search", &self.find_program.is_some())
            .field("wsl", &self.wsl)
            .field("platform", &self.platform)
            .field("launch_grace", &self.launch_grace)
            .finish()
    }
}

impl Default for SystemBrowser {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemBrowser {
    /// The default grace period, see [`with_launch_grace`](Self::with_launch_grace).
    pub const DEFAULT_LAUNCH_GRACE: Duration = Duration::from_secs(1);

    /// The system browser of this process's environment and platform.
    pub fn new() -> Self {
        Self {
            env: None,
            find_program: None,
            wsl: None,
            platform: Platform::current(),
            launch_grace: Self::DEFAULT_LAUNCH_GRACE,
        }
    }

    /// Reads environment variables (`BROWSER`, `DISPLAY`, `WAYLAND_DISPLAY`, `PATH`, `PATHEXT`)
    /// through `env` instead of the process environment. Empty values count as unset.
    #[cfg(test)]
    pub(crate) fn with_env(
        mut self,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Some(Arc::new(env));
        self
    }

    /// Resolves program names through `find` instead of searching `PATH` (`None`: not found).
    #[cfg(test)]
    pub(crate) fn with_path_search(
        mut self,
        find: impl Fn(&str) -> Option<PathBuf> + Send + Sync + 'static,
    ) -> Self {
        self.find_program = Some(Arc::new(find));
        self
    }

    /// Says whether this is WSL instead of reading `/proc/sys/kernel/osrelease` and
    /// `/proc/version`.
    #[cfg(test)]
    pub(crate) fn with_wsl(mut self, is_wsl: bool) -> Self {
        self.wsl = Some(is_wsl);
        self
    }

    /// Chooses the launchers of `platform` instead of this build's.
    #[cfg(test)]
    pub(crate) fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = platform;
        self
    }

    /// How long `open` watches a started command for an immediate failure before treating it
    /// as having opened the URL. Zero: any command that starts counts as success.
    pub fn with_launch_grace(mut self, grace: Duration) -> Self {
        self.launch_grace = grace;
        self
    }

    fn var(&self, name: &str) -> Option<String> {
        let value = match &self.env {
            Some(env) => env(name),
            None => std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()),
        };
        value.filter(|v| !v.is_empty())
    }

    fn is_wsl(&self) -> bool {
        self.wsl.unwrap_or_else(|| {
            self.platform == Platform::Linux
                && ["/proc/sys/kernel/osrelease", "/proc/version"]
                    .iter()
                    .filter_map(|p| std::fs::read_to_string(p).ok())
                    .any(|text| looks_like_wsl(&text))
        })
    }

    fn find(&self, program: &str) -> Option<PathBuf> {
        match &self.find_program {
            Some(find) => find(program),
            None => launch::search_path(
                program,
                self.var("PATH").as_deref(),
                self.var("PATHEXT").as_deref(),
                self.platform == Platform::Windows,
            ),
        }
    }

    fn candidates(&self, url: &str) -> (Vec<Candidate>, Option<&'static str>) {
        let env = |name: &str| self.var(name);
        let edge_installed = self.platform == Platform::Linux && self.find(LINUX_EDGE).is_some();
        candidates(&env, self.is_wsl(), edge_installed, self.platform, url)
    }
}

impl UrlOpener for SystemBrowser {
    fn open(&self, url: &str) -> Result<(), Error> {
        let (candidates, skipped) = self.candidates(url);
        let mut tried = Vec::new();
        for candidate in &candidates {
            let Some(path) = self.find(&candidate.program) else {
                tried.push(format!(
                    "{} ({}) was not found",
                    candidate.program, candidate.origin
                ));
                continue;
            };
            match launch::start(&path, candidate, self.launch_grace) {
                Outcome::Started => {
                    tracing::debug!(program = %candidate.program, "opened the sign-in URL");
                    return Ok(());
                }
                Outcome::Failed(why) => {
                    tracing::debug!(program = %candidate.program, %why, "browser launcher failed");
                    tried.push(format!(
                        "{} ({}) failed ({why})",
                        candidate.program, candidate.origin
                    ));
                }
            }
        }
        if let Some(skipped) = skipped {
            tried.push(skipped.to_string());
        }
        // One clause per launcher, so that the error reads as one sentence.
        let message = if tried.is_empty() {
            "no browser launcher is known for this platform, and $BROWSER is unset".to_string()
        } else {
            format!(
                "{}, and $BROWSER does not name a browser that opened",
                tried.join(", ")
            )
        };
        Err(Error::NoBrowser {
            url: url.to_string(),
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const URL: &str = "https://login.example/t/oauth2/v2.0/authorize?a=1&b=%20x";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn argv(env: &[(&str, &str)], wsl: bool, platform: Platform) -> Vec<Vec<String>> {
        let env = env_of(env);
        candidates(&env, wsl, false, platform, URL)
            .0
            .into_iter()
            .map(|c| std::iter::once(c.program).chain(c.args).collect())
            .collect()
    }

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn browser_variable_with_placeholder() {
        assert_eq!(
            argv(
                &[("BROWSER", "firefox --new-window '%s'"), ("DISPLAY", ":0")],
                false,
                Platform::Linux
            ),
            vec![v(&["firefox", "--new-window", URL]), v(&["xdg-open", URL])]
        );
        // %s inside a word, more than once.
        assert_eq!(
            argv(
                &[("BROWSER", "b --url=%s --again=%s")],
                false,
                Platform::MacOs
            )[0],
            v(&["b", &format!("--url={URL}"), &format!("--again={URL}")])
        );
    }

    #[test]
    fn browser_variable_without_placeholder_appends_the_url() {
        assert_eq!(
            argv(&[("BROWSER", "/opt/browser")], false, Platform::MacOs),
            vec![v(&["/opt/browser", URL]), v(&["open", URL])]
        );
        assert_eq!(
            argv(
                &[("BROWSER", r#""/opt/My Browser/run" --private &"#)],
                false,
                Platform::MacOs
            )[0],
            v(&["/opt/My Browser/run", "--private", URL])
        );
    }

    #[test]
    fn several_browser_commands_are_tried_in_order() {
        assert_eq!(
            argv(
                &[
                    ("BROWSER", "w3m:: lynx -dump :chromium %s"),
                    ("WAYLAND_DISPLAY", "wayland-0")
                ],
                false,
                Platform::Linux
            ),
            vec![
                v(&["w3m", URL]),
                v(&["lynx", "-dump", URL]),
                v(&["chromium", URL]),
                v(&["xdg-open", URL]),
            ]
        );
        // Windows separates with ';' so drive letters survive.
        assert_eq!(
            argv(
                &[("BROWSER", r"C:\b\edge.exe;C:\b\ff.exe %s")],
                false,
                Platform::Windows
            )[..2],
            [v(&[r"C:\b\edge.exe", URL]), v(&[r"C:\b\ff.exe", URL])]
        );
    }

    #[test]
    fn wsl_prefers_wslview_then_explorer() {
        let env = env_of(&[]);
        let (c, skipped) = candidates(&env, true, false, Platform::Linux, URL);
        let names: Vec<_> = c.iter().map(|c| c.program.as_str()).collect();
        assert_eq!(names, ["wslview", "explorer.exe"]);
        assert!(c[1].ignore_exit_status && !c[0].ignore_exit_status);
        assert!(skipped.is_some());
        // With WSLg's display, xdg-open comes last.
        assert_eq!(
            argv(
                &[("DISPLAY", ":0"), ("BROWSER", "x")],
                true,
                Platform::Linux
            ),
            vec![
                v(&["x", URL]),
                v(&["wslview", URL]),
                v(&["explorer.exe", URL]),
                v(&["xdg-open", URL])
            ]
        );
    }

    #[test]
    fn per_platform_defaults() {
        assert_eq!(argv(&[], false, Platform::MacOs), vec![v(&["open", URL])]);
        assert_eq!(
            argv(&[("DISPLAY", ":1")], false, Platform::OtherUnix),
            vec![v(&["xdg-open", URL])]
        );
        let windows = argv(&[], false, Platform::Windows);
        assert_eq!(
            windows,
            vec![v(&["cmd", "/C", "start", "\"\"", &format!("\"{URL}\"")])]
        );
        let env = env_of(&[]);
        assert!(candidates(&env, false, false, Platform::Windows, URL).0[0].raw_args);
    }

    #[test]
    fn headless_linux_has_no_candidate() {
        let env = env_of(&[("DISPLAY", "  "), ("BROWSER", " : ")]);
        let (c, skipped) = candidates(&env, false, true, Platform::Linux, URL);
        assert!(c.is_empty(), "not even Edge without a display");
        assert!(skipped.unwrap().contains("DISPLAY"));
    }

    #[test]
    fn linux_prefers_edge_when_installed_and_browser_is_unset() {
        let installed = |env: &[(&str, &str)], wsl: bool, platform: Platform| {
            let env = env_of(env);
            candidates(&env, wsl, true, platform, URL)
                .0
                .into_iter()
                .map(|c| c.program)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            installed(&[("DISPLAY", ":0")], false, Platform::Linux),
            [LINUX_EDGE, "xdg-open"]
        );
        assert_eq!(
            installed(&[("WAYLAND_DISPLAY", "wayland-0")], true, Platform::Linux),
            [LINUX_EDGE, "wslview", "explorer.exe", "xdg-open"]
        );
        // $BROWSER keeps its precedence: the user's choice, then the usual launchers.
        assert_eq!(
            installed(
                &[("DISPLAY", ":0"), ("BROWSER", "firefox")],
                false,
                Platform::Linux
            ),
            ["firefox", "xdg-open"]
        );
        // Only Linux; and not installed, not tried.
        assert_eq!(
            installed(&[("DISPLAY", ":0")], false, Platform::OtherUnix),
            ["xdg-open"]
        );
        assert_eq!(
            argv(&[("DISPLAY", ":0")], false, Platform::Linux),
            vec![v(&["xdg-open", URL])]
        );
        // The system browser asks its path search whether Edge is there.
        let browser = |edge: bool| {
            SystemBrowser::new()
                .with_platform(Platform::Linux)
                .with_wsl(false)
                .with_env(env_of(&[("DISPLAY", ":0")]))
                .with_path_search(move |p| (edge || p != LINUX_EDGE).then(|| PathBuf::from(p)))
        };
        let programs = |b: SystemBrowser| {
            b.candidates(URL)
                .0
                .into_iter()
                .map(|c| c.program)
                .collect::<Vec<_>>()
        };
        assert_eq!(programs(browser(true)), [LINUX_EDGE, "xdg-open"]);
        assert_eq!(programs(browser(false)), ["xdg-open"]);
    }

    #[test]
    fn cmd_quoting_keeps_ampersands_inside_quotes() {
        assert_eq!(
            quote_for_cmd("https://h/p?a=1&b=2|3^4(5)"),
            "\"https://h/p?a=1&b=2|3^4(5)\""
        );
        assert_eq!(quote_for_cmd("https://h/\"&calc"), "\"https://h/%22&calc\"");
    }

    #[test]
    fn command_line_splitting() {
        assert_eq!(split_command_line("  a  b\tc ", false), v(&["a", "b", "c"]));
        assert_eq!(
            split_command_line(r#"a "b c" 'd e' f\ g"#, false),
            v(&["a", "b c", "d e", "f g"])
        );
        assert_eq!(
            split_command_line(r#""a\"b\\c\d""#, false),
            v(&[r#"a"b\c\d"#])
        );
        assert_eq!(split_command_line("''", false), v(&[""]));
        assert_eq!(
            split_command_line("'unterminated x", false),
            v(&["unterminated x"])
        );
        assert_eq!(split_command_line("\"open \\", false), v(&["open \\"]));
        assert_eq!(split_command_line("trailing\\", false), v(&["trailing"]));
        assert!(split_command_line("   ", false).is_empty());
        // Windows: backslashes and single quotes are literal, double quotes group.
        assert_eq!(
            split_command_line(r#""C:\Program Files\B\b.exe" --x C:\O'Neil\%s"#, true),
            v(&[r"C:\Program Files\B\b.exe", "--x", r"C:\O'Neil\%s"])
        );
    }

    #[test]
    fn wsl_detection_text() {
        assert!(looks_like_wsl("5.15.153.1-microsoft-standard-WSL2\n"));
        assert!(looks_like_wsl(
            "Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com)"
        ));
        assert!(!looks_like_wsl("6.1.0-18-amd64\n"));
    }

    #[test]
    fn nothing_found_gives_no_browser_with_the_url_and_what_was_tried() {
        let browser = SystemBrowser::new()
            .with_env(|name| (name == "BROWSER").then(|| "my-browser".to_string()))
            .with_path_search(|_| None)
            .with_wsl(true)
            .with_platform(Platform::Linux);
        let Err(Error::NoBrowser { url, message }) = browser.open(URL) else {
            panic!("expected NoBrowser");
        };
        assert_eq!(url, URL);
        for name in ["my-browser", "wslview", "explorer.exe", "DISPLAY"] {
            assert!(message.contains(name), "{message}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn runs_the_first_command_that_works_with_the_url() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("url.txt");
        let script = format!("false:sh -c 'echo \"$1\" > {}' sh %s", out.display());
        let browser = SystemBrowser::new()
            .with_env(move |name| match name {
                "BROWSER" => Some(script.clone()),
                "PATH" => std::env::var("PATH").ok(),
                _ => None,
            })
            .with_wsl(false)
            .with_platform(Platform::Linux);
        browser.open(URL).unwrap();
        // The grace period lets `sh` finish; poll anyway in case the machine is slow.
        let mut written = String::new();
        for _ in 0..100 {
            written = std::fs::read_to_string(&out).unwrap_or_default();
            if written.ends_with('\n') {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(written.trim_end(), URL);
    }

    #[cfg(unix)]
    #[test]
    fn a_launcher_that_fails_at_once_is_reported() {
        let browser = SystemBrowser::new()
            .with_env(|name| match name {
                "BROWSER" => Some("false".into()),
                "PATH" => std::env::var("PATH").ok(),
                _ => None,
            })
            .with_wsl(false)
            .with_platform(Platform::Linux);
        let error = browser.open(URL).unwrap_err();
        let Error::NoBrowser { message, .. } = &error else {
            panic!("expected NoBrowser");
        };
        assert!(
            message.contains("false ($BROWSER) failed (exited with"),
            "{message}"
        );
        // One sentence: what failed, why, and the URL to open by hand.
        let text = error.to_string();
        assert!(
            text.starts_with("no browser could be opened because false ($BROWSER) failed"),
            "{text}"
        );
        assert!(text.contains("; open this URL yourself: "), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn a_long_running_launcher_counts_as_started() {
        let browser = SystemBrowser::new()
            .with_env(|name| match name {
                "BROWSER" => Some("sh -c 'sleep 5' sh %s".into()),
                "PATH" => std::env::var("PATH").ok(),
                _ => None,
            })
            .with_launch_grace(Duration::from_millis(100))
            .with_wsl(false)
            .with_platform(Platform::Linux);
        // Still running when the grace period ends: handed to the reaper, reported as opened.
        browser.open(URL).unwrap();
    }
}
