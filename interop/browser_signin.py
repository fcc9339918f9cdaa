#!/usr/bin/env python3
"""Drive the emulator's sign-in pages in headless Chromium.

Usage: browser_signin.py AUTHORIZE_URL

Used as the "browser" that MSAL Python's ``acquire_token_interactive`` opens
(see ``msal_python_interop.py``, which installs a wrapper script as $BROWSER).

Configuration comes from the environment:
  INTEROP_USERNAME   account to sign in (required)
  INTEROP_PASSWORD   its password (required when a password page appears)
  INTEROP_CA_FILE    the emulator's CA; only logged, because Chromium is told to
                     accept the emulator's self-issued certificate through the
                     WebDriver ``acceptInsecureCerts`` capability (tests only)
  INTEROP_TIMEOUT    overall budget in seconds (default 60)
  INTEROP_CONSENT    "accept" (default) or "cancel" on a consent page
  INTEROP_CHROMIUM / INTEROP_CHROMEDRIVER  override /usr/bin/chromium and
                     /usr/bin/chromedriver

The script handles whichever page the emulator shows (account picker, login
form, MFA, consent, auto-submitting form_post page) in a loop until the
browser reaches the loopback redirect URI (http://localhost or
http://127.0.0.1), which is success (exit 0), or an error page with an
``#error-code`` element (exit 2). Anything else, including the time budget
running out, exits 3. Logs go to stderr; one JSON status line goes to stdout.
Selenium Manager is never used: the chromedriver path is given explicitly.
"""

import json
import os
import shutil
import signal
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = os.environ.get("INTEROP_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("INTEROP_CHROMEDRIVER", "/usr/bin/chromedriver")
LOOPBACK_PREFIXES = ("http://localhost", "http://127.0.0.1")

EXIT_OK = 0
EXIT_ERROR_PAGE = 2
EXIT_FAILURE = 3


def log(msg, *args):
    stamp = time.strftime("%H:%M:%S")
    sys.stderr.write("[browser_signin %s] %s\n" % (stamp, msg % args if args else msg))
    sys.stderr.flush()


def finish(code, **details):
    details["exit_code"] = code
    sys.stdout.write(json.dumps(details) + "\n")
    sys.stdout.flush()
    return code


class Budget:
    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds

    def left(self):
        return self.deadline - time.monotonic()

    def expired(self):
        return self.left() <= 0


def make_driver(profile_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-quic",
        "--user-data-dir=" + profile_dir,
    ):
        options.add_argument(flag)
    # The emulator serves a certificate from its own private CA. For a test
    # harness, accepting it through the WebDriver capability is enough.
    options.accept_insecure_certs = True
    service = Service(executable_path=CHROMEDRIVER, log_output=os.devnull)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(10)
    return driver


def first(driver, css):
    """The first displayed element matching css, or None."""
    for element in driver.find_elements(By.CSS_SELECTOR, css):
        try:
            if element.is_displayed():
                return element
        except StaleElementReferenceException:
            continue
    return None


def wait_page_change(driver, old_root, old_url, budget, limit=15.0):
    """After an action: wait until the document was replaced or the URL moved."""
    end = min(budget.deadline, time.monotonic() + limit)
    while time.monotonic() < end:
        try:
            if driver.current_url != old_url:
                return True
            old_root.tag_name  # raises once the old document is gone
        except StaleElementReferenceException:
            return True
        except WebDriverException:
            # e.g. the browser is busy navigating; try again shortly
            pass
        time.sleep(0.1)
    return False


def set_value(element, value):
    current = element.get_attribute("value") or ""
    if current == value:
        return
    if element.get_attribute("readonly") is not None:
        log("field %s is read-only with value %r", element.get_attribute("id"), current)
        return
    element.clear()
    element.send_keys(value)


def page_summary(driver):
    try:
        text = driver.find_element(By.TAG_NAME, "body").text
    except WebDriverException:
        text = ""
    return " ".join(text.split())[:500]


def sign_in(driver, url, username, password, consent, budget):
    log("opening %s", url)
    driver.get(url)
    actions = []
    stuck_since = None
    last_url = None
    unchanged = 0
    while not budget.expired():
        try:
            current = driver.current_url
        except WebDriverException as exc:
            log("current_url failed: %s", exc.msg)
            time.sleep(0.2)
            continue
        if current != last_url:
            log("at %s", current)
            last_url = current

        if current.startswith(LOOPBACK_PREFIXES):
            # MSAL's loopback listener answered the form_post; its page says
            # whether MSAL accepted the response.
            text = page_summary(driver)
            log("reached loopback listener; page says: %s", text)
            return finish(EXIT_OK, result="redirected", url=current.split("?")[0],
                          page=text, actions=actions)
        if current.startswith("chrome-error://"):
            text = page_summary(driver)
            log("browser error page: %s", text)
            return finish(EXIT_FAILURE, result="browser_error", page=text, actions=actions)

        try:
            root = driver.find_element(By.TAG_NAME, "html")
            error = first(driver, "#error-code")
            if error is not None:
                code = error.text.strip()
                text = page_summary(driver)
                log("emulator error page: code=%s page=%s", code, text)
                sys.stderr.write("error-code: %s\n" % code)
                return finish(EXIT_ERROR_PAGE, result="error_page", error_code=code,
                              page=text, actions=actions)

            if driver.find_elements(By.CSS_SELECTOR, "form#form_post"):
                # The page auto-submits; give it a moment, then submit ourselves.
                if wait_page_change(driver, root, current, budget, limit=5.0):
                    continue
                log("form_post did not auto-submit; submitting it")
                driver.execute_script("document.getElementById('form_post').submit();")
                actions.append("form_post_manual_submit")
                wait_page_change(driver, root, current, budget)
                continue

            acted = None
            picker = [b for b in driver.find_elements(By.CSS_SELECTOR, "button.account")
                      if b.is_displayed()]
            login_form = first(driver, "form#login")
            if picker and login_form is None:
                match = [b for b in picker
                         if (b.get_attribute("data-username") or "").lower() == username.lower()]
                if match:
                    match[0].click()
                    acted = "pick_account"
                else:
                    # The contract names a link; the emulator renders a button.
                    other = first(driver, "#other-account")
                    if other is None:
                        raise RuntimeError("account picker lacks %s and #other-account" % username)
                    other.click()
                    acted = "other_account"
            elif login_form is not None:
                inline_error = first(driver, "#login-error")
                if inline_error is not None and "login" in actions:
                    # The form came back with an inline message (e.g. a wrong
                    # password): submitting again would loop.
                    message = inline_error.text.strip()
                    log("login rejected: %s", message)
                    return finish(EXIT_ERROR_PAGE, result="login_error", message=message,
                                  actions=actions)
                user_box = first(driver, "#username")
                if user_box is not None:
                    set_value(user_box, username)
                pw_box = first(driver, "#password")
                if pw_box is not None:
                    if password is None:
                        raise RuntimeError("password page shown but INTEROP_PASSWORD is unset")
                    set_value(pw_box, password)
                submit = first(driver, "#submit") or first(
                    driver, "form#login [type=submit]")
                if submit is not None:
                    submit.click()
                else:
                    login_form.submit()
                acted = "login"
            elif first(driver, "button#mfa-approve") is not None:
                first(driver, "button#mfa-approve").click()
                acted = "mfa_approve"
            elif first(driver, "button#accept") is not None:
                button = first(driver, "button#%s" % ("cancel" if consent == "cancel" else "accept"))
                if button is None:
                    raise RuntimeError("consent page without button#%s" % consent)
                button.click()
                acted = "consent_" + consent
        except (StaleElementReferenceException, NoSuchElementException):
            # The page changed under us; look again.
            time.sleep(0.1)
            continue

        if acted:
            log("action: %s", acted)
            actions.append(acted)
            if len(actions) >= 4 and len(set(actions[-4:])) == 1:
                text = page_summary(driver)
                log("the same page keeps coming back: %s", text)
                return finish(EXIT_FAILURE, result="loop", url=current, page=text,
                              actions=actions)
            stuck_since = None
            if wait_page_change(driver, root, current, budget):
                unchanged = 0
            else:
                unchanged += 1
                log("page did not change after %s", acted)
                if unchanged >= 2:
                    text = page_summary(driver)
                    return finish(EXIT_FAILURE, result="stuck", url=current,
                                  page=text, actions=actions)
            continue

        # Nothing recognised (yet): the page may still be loading or running
        # a script. Give up on it after a while.
        if stuck_since is None:
            stuck_since = time.monotonic()
        elif time.monotonic() - stuck_since > 10:
            text = page_summary(driver)
            log("unrecognised page at %s: %s", current, text)
            return finish(EXIT_FAILURE, result="unrecognised_page", url=current,
                          page=text, actions=actions)
        time.sleep(0.2)

    log("time budget exhausted")
    return finish(EXIT_FAILURE, result="timeout", actions=actions)


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return finish(EXIT_FAILURE, result="usage")
    url = argv[1]
    username = os.environ.get("INTEROP_USERNAME")
    if not username:
        log("INTEROP_USERNAME is not set")
        return finish(EXIT_FAILURE, result="usage")
    password = os.environ.get("INTEROP_PASSWORD")
    consent = os.environ.get("INTEROP_CONSENT", "accept")
    timeout = float(os.environ.get("INTEROP_TIMEOUT", "60"))
    log("user=%s ca_file=%s timeout=%ss", username, os.environ.get("INTEROP_CA_FILE"), timeout)

    budget = Budget(timeout)

    # Backstop: whatever hangs (chromedriver start, a page load), the process
    # ends shortly after the budget. SIGALRM raises in the main thread, so the
    # finally block below still quits the driver.
    def on_alarm(_signum, _frame):
        raise TimeoutError("overall timeout of %ss exceeded" % timeout)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(timeout) + 15)

    profile_dir = tempfile.mkdtemp(prefix="interop-chromium-")
    driver = None
    try:
        driver = make_driver(profile_dir)
        return sign_in(driver, url, username, password, consent, budget)
    except Exception as exc:  # report every failure as a status line
        log("failed: %s: %s", type(exc).__name__, exc)
        return finish(EXIT_FAILURE, result="exception", error="%s: %s" % (type(exc).__name__, exc))
    finally:
        signal.alarm(0)
        if driver is not None:
            try:
                driver.quit()
            except Exception as exc:
                log("driver.quit failed: %s", exc)
        shutil.rmtree(profile_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
