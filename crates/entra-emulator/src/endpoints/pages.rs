//! The HTML pages a person (or a browser driven by a test) sees: sign-in, account picker, MFA,
//! consent, device-code entry, errors, and the auto-submitting `form_post` page.
//!
//! Element ids are stable so tests can drive them: `#username`, `#password`, `#submit`,
//! `button.account[data-username]`, `#other-account`, `#mfa-approve`, `#accept`, `#cancel`,
//! `#code`, `#error-code`, `form#form_post`.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::errors::{EntraError, Trace};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
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

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:"Segoe UI",system-ui,sans-serif;background:#f2f2f2;margin:0}}
main{{max-width:440px;margin:48px auto;background:#fff;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}}
h1{{font-size:24px;font-weight:600;margin:0 0 16px}} .brand{{color:#737373;font-size:13px;margin-bottom:16px}}
input{{width:100%;box-sizing:border-box;padding:6px 0;margin:8px 0 16px;border:none;border-bottom:1px solid #666;font-size:15px}}
button{{background:#0067b8;color:#fff;border:none;padding:8px 24px;font-size:15px;cursor:pointer;margin:4px 4px 4px 0}}
button.secondary{{background:#ccc;color:#000}} button.account{{display:block;width:100%;text-align:left;background:#fff;color:#000;border:1px solid #ccc;padding:12px}}
.error{{color:#e81123}} code{{word-break:break-all}}
</style></head>
<body><main><div class="brand">Entra ID emulator</div>
{body}
</main></body></html>"#,
        title = escape(title),
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (status, Html(layout(title, body))).into_response()
}

/// The username and password form.
pub fn login(
    action: &str,
    request_id: &str,
    app: &str,
    login_hint: Option<&str>,
    error: Option<&str>,
) -> Response {
    let error = error
        .map(|e| format!(r#"<p class="error" id="login-error">{}</p>"#, escape(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Sign in</h1><p>to continue to {app}</p>{error}
<form id="login" method="post" action="{action}">
<input type="hidden" name="request_id" value="{request_id}">
<label for="username">Email or username</label>
<input id="username" name="username" type="email" autocomplete="username" value="{hint}" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="submit" type="submit" name="action" value="login">Sign in</button>
<button id="cancel" class="secondary" type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>"#,
        app = escape(app),
        action = escape(action),
        request_id = escape(request_id),
        hint = escape(login_hint.unwrap_or("")),
    );
    page(StatusCode::OK, "Sign in to your account", &body)
}

/// The account picker for users already signed in to this browser.
pub fn account_picker(action: &str, request_id: &str, accounts: &[String]) -> Response {
    let buttons: String = accounts
        .iter()
        .map(|a| {
            format!(
                r#"<button class="account" type="submit" name="username" value="{a}" data-username="{a}">{a}</button>"#,
                a = escape(a)
            )
        })
        .collect();
    let body = format!(
        r#"<h1>Pick an account</h1>
<form id="picker" method="post" action="{action}">
<input type="hidden" name="request_id" value="{request_id}"><input type="hidden" name="action" value="pick">
{buttons}</form>
<form method="post" action="{action}"><input type="hidden" name="request_id" value="{request_id}">
<button id="other-account" class="secondary" type="submit" name="action" value="other">Use another account</button></form>"#,
        action = escape(action),
        request_id = escape(request_id),
    );
    page(StatusCode::OK, "Pick an account", &body)
}

/// The multi-factor authentication step.
pub fn mfa(action: &str, request_id: &str, username: &str) -> Response {
    let body = format!(
        r#"<h1>Approve sign in request</h1><p>Your organization requires additional verification for <b>{user}</b>. Approve the request on your authenticator.</p>
<form id="mfa" method="post" action="{action}"><input type="hidden" name="request_id" value="{request_id}">
<button id="mfa-approve" type="submit" name="action" value="mfa">Approve</button>
<button id="cancel" class="secondary" type="submit" name="action" value="cancel">Cancel</button></form>"#,
        user = escape(username),
        action = escape(action),
        request_id = escape(request_id),
    );
    page(StatusCode::OK, "Verify your identity", &body)
}

/// The consent page.
pub fn consent(action: &str, request_id: &str, app: &str, scopes: &[String]) -> Response {
    let list: String = scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    let body = format!(
        r#"<h1>Permissions requested</h1><p><b>{app}</b> would like to:</p><ul>{list}</ul>
<form id="consent" method="post" action="{action}"><input type="hidden" name="request_id" value="{request_id}">
<button id="accept" type="submit" name="action" value="consent">Accept</button>
<button id="cancel" class="secondary" type="submit" name="action" value="cancel">Cancel</button></form>"#,
        app = escape(app),
        action = escape(action),
        request_id = escape(request_id),
    );
    page(StatusCode::OK, "Permissions requested", &body)
}

/// An error page, used when redirecting would be unsafe (unknown client, unregistered redirect).
pub fn error(e: &EntraError, trace: &Trace) -> Response {
    let body = format!(
        r#"<h1>Sorry, but we're having trouble signing you in.</h1>
<p id="error-code">AADSTS{code}</p><p id="error-message">{message}</p>
<p class="brand">Request Id: {trace_id}<br>Correlation Id: {corr}<br>Timestamp: {ts}</p>"#,
        code = e.aadsts.code,
        message = escape(&e.message),
        trace_id = escape(&trace.trace_id),
        corr = escape(&trace.correlation_id),
        ts = escape(&trace.timestamp),
    );
    page(e.status(), "Sign in error", &body)
}

/// The page that POSTs the authorization response to the app (`response_mode=form_post`).
pub fn form_post(redirect_uri: &str, params: &[(String, String)]) -> Response {
    let inputs: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                escape(k),
                escape(v)
            )
        })
        .collect();
    let html = format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Working...</title></head>
<body onload="document.forms[0].submit()"><form id="form_post" method="POST" action="{uri}">{inputs}
<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript></form></body></html>"#,
        uri = escape(redirect_uri),
    );
    (StatusCode::OK, Html(html)).into_response()
}

/// The device-code entry page.
pub fn device_code_entry(error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!(r#"<p class="error" id="code-error">{}</p>"#, escape(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Enter code</h1><p>Enter the code displayed on your app or device.</p>{error}
<form id="device" method="post" action="/devicelogin">
<input id="code" name="user_code" autocomplete="off" required>
<button id="submit" type="submit" name="action" value="code">Next</button></form>"#
    );
    page(StatusCode::OK, "Enter code", &body)
}

/// The device-code sign-in form, after a valid code.
pub fn device_login(user_code: &str, app: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!(r#"<p class="error" id="login-error">{}</p>"#, escape(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Sign in</h1><p>You're signing in to <b>{app}</b> on another device located in your area.</p>{error}
<form id="login" method="post" action="/devicelogin"><input type="hidden" name="user_code" value="{code}">
<label for="username">Email or username</label><input id="username" name="username" type="email" required>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button id="submit" type="submit" name="action" value="login">Sign in</button>
<button id="cancel" class="secondary" type="submit" name="action" value="decline" formnovalidate>Cancel</button></form>"#,
        app = escape(app),
        code = escape(user_code),
    );
    page(StatusCode::OK, "Sign in", &body)
}

/// The device-code MFA step.
pub fn device_mfa(user_code: &str, username: &str) -> Response {
    let body = format!(
        r#"<h1>Approve sign in request</h1><p>Additional verification is required for <b>{user}</b>.</p>
<form id="mfa" method="post" action="/devicelogin"><input type="hidden" name="user_code" value="{code}">
<button id="mfa-approve" type="submit" name="action" value="mfa">Approve</button></form>"#,
        user = escape(username),
        code = escape(user_code),
    );
    page(StatusCode::OK, "Verify your identity", &body)
}

/// A plain message page (device sign-in done, signed out, ...).
pub fn message(title: &str, text: &str) -> Response {
    let body = format!(
        r#"<h1 id="title">{}</h1><p id="message">{}</p>"#,
        escape(title),
        escape(text)
    );
    page(StatusCode::OK, title, &body)
}
