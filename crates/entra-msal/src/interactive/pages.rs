//! The HTML the loopback listener shows in the browser once the authorization response arrived.

/// The HTML shown in the browser after the redirect. Replaceable by the app.
///
/// `error_html` may contain the placeholders `{error}` and `{error_description}`; they are
/// replaced by the response's values, HTML-escaped. Other text, including other braces, is
/// sent as is. The pages are served with `Content-Type: text/html; charset=utf-8`.
///
/// ```
/// use entra_msal::ResultPages;
///
/// let pages = ResultPages {
///     success_html: "<h1>Signed in to Contoso Tool</h1>".into(),
///     error_html: "<h1>Sign-in failed</h1><p>{error}: {error_description}</p>".into(),
/// };
/// assert_eq!(
///     pages.render_error("access_denied", "<no>"),
///     "<h1>Sign-in failed</h1><p>access_denied: &lt;no&gt;</p>"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultPages {
    /// Shown when the response carries a `code`.
    pub success_html: String,
    /// Shown when the response carries an `error`, and for a response whose `state` does not
    /// match. May contain `{error}` and `{error_description}`.
    pub error_html: String,
}

impl Default for ResultPages {
    fn default() -> Self {
        Self {
            success_html: page(
                "Authentication complete",
                "<h1>Authentication complete</h1>\
                 <p>You can close this window and return to the application.</p>",
            ),
            error_html: page(
                "Authentication failed",
                "<h1>Authentication failed</h1>\
                 <p><code>{error}</code></p><p>{error_description}</p>\
                 <p>You can close this window and return to the application.</p>",
            ),
        }
    }
}

impl ResultPages {
    /// The error page with `{error}` and `{error_description}` replaced (HTML-escaped). The
    /// replacement is done in one pass: placeholders inside the substituted values stay text.
    pub fn render_error(&self, error: &str, error_description: &str) -> String {
        const ERROR: &str = "{error}";
        const DESCRIPTION: &str = "{error_description}";
        let template = self.error_html.as_str();
        let mut out = String::with_capacity(template.len() + error.len() + error_description.len());
        let mut rest = template;
        while let Some(at) = rest.find('{') {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            if let Some(after) = tail.strip_prefix(ERROR) {
                out.push_str(&escape_html(error));
                rest = after;
            } else if let Some(after) = tail.strip_prefix(DESCRIPTION) {
                out.push_str(&escape_html(error_description));
                rest = after;
            } else {
                out.push('{');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        out
    }
}

/// A welcome page template with `{auth_uri}` replaced by the sign-in URL, HTML-escaped (so it
/// can sit in an `href`). Other text, including other braces, is kept as is.
pub(crate) fn render_welcome(template: &str, auth_uri: &str) -> String {
    template.replace("{auth_uri}", &escape_html(auth_uri))
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;margin:3em auto;\
         max-width:36em;padding:0 1em;color:#222}}code{{background:#f2f2f2;padding:0 .2em}}\
         </style></head><body>{body}</body></html>\n"
    )
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_and_escapes() {
        let pages = ResultPages::default();
        let html = pages.render_error("access_denied", "<script>alert('x')</script> & \"more\"");
        assert!(html.contains("<code>access_denied</code>"));
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;")
        );
        assert!(!html.contains("<script>"));
        assert!(!html.contains("{error"));
    }

    #[test]
    fn placeholders_inside_values_are_not_substituted_again() {
        let pages = ResultPages {
            success_html: String::new(),
            error_html: "[{error}|{error_description}|{other}|{|}".into(),
        };
        assert_eq!(
            pages.render_error("{error_description}", "{error}"),
            "[{error_description}|{error}|{other}|{|}"
        );
        assert_eq!(pages.render_error("", ""), "[||{other}|{|}");
    }

    #[test]
    fn templates_without_placeholders_and_unicode() {
        let pages = ResultPages {
            success_html: String::new(),
            error_html: "Fehlgeschlagen – {".into(),
        };
        assert_eq!(pages.render_error("e", "d"), "Fehlgeschlagen – {");
        assert_eq!(escape_html("é{}"), "é{}");
    }
}
