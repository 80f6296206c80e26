#!/usr/bin/env python3
"""A person at a browser, for browser.rs next to it: drives Chromium over WebDriver.

WebDriver is plain HTTP with JSON bodies: chromedriver listens on a port, and
each thing a person does (open a page, type, click) is one request, such as
`POST /session/ID/element/EID/value {"text": "hello"}`. So this script needs
nothing beyond Python's standard library: http.client and json.

    webdriver_test.py PAGE_URL CHROMEDRIVER_PORT CHROMIUM USER_DATA_DIR

The Rust test writes the scenario; this script only acts it out. It reads one
command a line on stdin and answers each with one line on stdout, `ok` or
`fail <why>`, so the Rust test can interleave what the browser does with what
its terminal client does, in one place and in order:

    login NAME            type NAME in the login form, click "Log in", wait
                          until the page says it is connected
    say TEXT              type TEXT in the message line and press Enter
    expect NAME TEXT      wait until the conversation shown has a message
                          from NAME saying TEXT
    expect-not NAME TEXT  check that it has no such message now
    expect-sent TEXT      wait until our own message TEXT is marked sent
    expect-failed TEXT    wait until our own message TEXT is marked failed
    expect-note TEXT      wait until the conversation shows the notice TEXT
    expect-link URL       wait for a link to URL, opened safely
    expect-count N        wait until the conversation shows N messages
    expect-unread KEY N   wait until conversation KEY (#dev, @bob) shows N
                          unread (0: no count shown)
    expect-title TEXT     wait until the tab's title is TEXT
    expect-status STATE   wait until the connection state is STATE
    expect-login NAME     wait for the login form, with NAME filled in
    open KEY              click conversation KEY in the sidebar
    join ROOM             click ROOM in the list of rooms to join
    member NAME           click NAME in the member list
    expect-members TEXT   wait until the member list reads TEXT (names as
                          shown, `@` for operators, joined by spaces)
    earlier               click "Load earlier messages"
    menu                  click the phone layout's conversation list button
    viewport W H          give the page W x H pixels
    screenshot PATH       save what the window shows, as PNG, at PATH
    quit                  close the browser and exit

Every wait polls for at most WAIT_SECONDS, then fails with what the page
shows; every request to chromedriver has a timeout too. The script talks to
127.0.0.1 only, and Chromium is told to resolve no other name.
"""

import base64
import http.client
import json
import sys
import time

VIEWPORT = (1280, 800)  # what the page gets at first: a laptop's window
WAIT_SECONDS = 10.0  # the longest any one wait may take
POLL_SECONDS = 0.05  # how often a wait looks again
REQUEST_SECONDS = 20.0  # one WebDriver request (a new session is the slowest)

# The W3C name under which WebDriver hands out element references.
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
ENTER = "\ue007"  # the Enter key, in WebDriver's private-use key codes

# What can go wrong talking to chromedriver (TimeoutError and a refused
# connection are OSErrors; a bad JSON answer is a ValueError).
ERRORS = (OSError, ValueError, KeyError, http.client.HTTPException)

# Errors that mean "not yet": the page is still changing under us. The
# sidebar, for one, is rebuilt whenever an event changes a count, which
# makes a button found a moment ago stale.
RETRY_ERRORS = {"no such element", "stale element reference", "element not interactable",
                "element click intercepted"}


class WebDriverError(Exception):
    """An error answer from chromedriver: its `error` code and message."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


class Browser:
    """One WebDriver session: a Chromium window driven through chromedriver."""

    def __init__(self, port, chromium, user_data_dir):
        self.port = port
        self.session = None
        self.wait_until_ready()
        options = {
            "binary": chromium,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
                "--no-proxy-server",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                f"--user-data-dir={user_data_dir}",
                # Loopback only: every host name fails to resolve, except ours.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            ],
        }
        capabilities = {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options,
                                        "goog:loggingPrefs": {"browser": "ALL"}}}
        value = self.request("POST", "/session", {"capabilities": capabilities})
        self.session = value["sessionId"]
        self.resize_viewport(*VIEWPORT)

    # --- WebDriver over HTTP ------------------------------------------------

    def request(self, method, path, body=None):
        """Sends one WebDriver command and returns the `value` of the answer."""
        # http.client, not urllib: urllib would follow an http_proxy setting
        # from the environment, and this traffic must stay on loopback.
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_SECONDS)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json; charset=utf-8"} if data else {}
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read() or b"{}")
        finally:
            connection.close()
        value = answer.get("value")
        if response.status != 200:
            value = value if isinstance(value, dict) else {}
            raise WebDriverError(value.get("error", f"HTTP {response.status}"),
                                 value.get("message", "").split("\n")[0])
        return value

    def wait_until_ready(self):
        """Waits for chromedriver to answer GET /status with ready: true."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                if self.request("GET", "/status").get("ready"):
                    return
            except (*ERRORS, WebDriverError):
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise TimeoutError(f"chromedriver on port {self.port} did not become ready")
            time.sleep(POLL_SECONDS)

    def command(self, method, path="", body=None):
        return self.request(method, f"/session/{self.session}{path}", body)

    def find(self, css):
        """The element `css` selects, as WebDriver's reference to it."""
        found = self.command("POST", "/element", {"using": "css selector", "value": css})
        return found[ELEMENT]

    def script(self, source, *args):
        """Runs JavaScript in the page (for reading it; people act by events)."""
        return self.command("POST", "/execute/sync", {"script": source, "args": list(args)})

    def resize_viewport(self, width, height):
        """Sizes the window so that the page itself gets width x height.
        (Chromium's `--window-size` sizes the whole window, and even a
        headless window keeps room for its toolbars.)"""
        extra_width, extra_height = self.script(
            "return [outerWidth - innerWidth, outerHeight - innerHeight];")
        self.command("POST", "/window/rect",
                     {"width": width + extra_width, "height": height + extra_height})

    def close(self):
        if self.session is not None:
            self.command("DELETE")
            self.session = None

    # --- Waiting ------------------------------------------------------------

    def wait(self, what, attempt):
        """Calls `attempt` until it returns something true (or raises no
        "not yet" error), for at most WAIT_SECONDS. Returns its result."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                result = attempt()
                if result:
                    return result
            except WebDriverError as e:
                if e.code not in RETRY_ERRORS:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {WAIT_SECONDS:.0f} s for {what}; "
                                   f"the page shows: {self.describe()}")
            time.sleep(POLL_SECONDS)

    def describe(self):
        """The page's state in one line, and what it logged, for failure
        messages."""
        try:
            logged = [entry.get("message") for entry in
                      self.command("POST", "/se/log", {"type": "browser"})]
        except (*ERRORS, WebDriverError) as e:
            logged = f"(cannot read the browser's log: {e})"
        try:
            return f"{self.page_state()}; the browser logged: {logged}"
        except (*ERRORS, WebDriverError) as e:
            return f"(cannot read the page: {e})"

    def page_state(self):
        """The page's state in one line."""
        return json.dumps(self.script(
            "const s = document.getElementById('status');"
            "return { status: s && s.dataset.state,"
            " loginError: document.getElementById('login-error').textContent,"
            " title: document.title,"
            " sidebar: [...document.querySelectorAll('#sidebar button')].map(b => b.textContent),"
            " messages: [...document.querySelectorAll('#messages > li')]"
            ".map(li => li.textContent) };"))

    # --- What a person does -------------------------------------------------

    def open(self, url):
        self.command("POST", "/url", {"url": url})
        self.wait("the login form", lambda: self.find("form#login"))

    def type_into(self, css, text):
        element = self.wait(css, lambda: self.find(css))
        self.command("POST", f"/element/{element}/value", {"text": text})

    def click(self, css):
        def attempt():
            self.command("POST", f"/element/{self.find(css)}/click", {})
            return True
        self.wait(f"a click on {css}", attempt)

    def login(self, name):
        self.command("POST", f"/element/{self.find('#name')}/clear", {})
        self.type_into("#name", name)
        self.click("#login-button")
        self.wait("#status to read open", lambda: self.command(
            "GET", f"/element/{self.find('#status')}/attribute/data-state") == "open")

    def say(self, text):
        self.type_into("#line", text + ENTER)
        # The page empties the line as soon as it takes the message.
        self.wait("the message line to empty", lambda: self.command(
            "GET", f"/element/{self.find('#line')}/property/value") == "")

    def wait_true(self, what, script, *args):
        """Runs `script` in the page until it returns true."""
        self.wait(what, lambda: self.script(script, *args))

    MESSAGE = ("return [...document.querySelectorAll('#messages li.msg')].some(li =>"
               " li.querySelector('.name').textContent === arguments[0] &&"
               " li.querySelector('.text').textContent === arguments[1]);")

    def expect(self, argument):
        name, _, text = argument.partition(" ")
        self.wait_true(f"a message from {name}: {text!r}", self.MESSAGE, name, text)

    def expect_not(self, argument):
        name, _, text = argument.partition(" ")
        if self.script(self.MESSAGE, name, text):
            raise ValueError(f"the conversation shows {name}: {text!r}: {self.describe()}")

    def expect_own(self, text, status):
        self.wait_true(f"our message {text!r} marked {status}", (
            "return [...document.querySelectorAll('#messages li.own')].some(li =>"
            " li.dataset.status === arguments[1] &&"
            " li.querySelector('.text').textContent === arguments[0]);"), text, status)

    def expect_note(self, text):
        self.wait_true(f"the notice {text!r}", (
            "return [...document.querySelectorAll('#messages li.note .text')]"
            ".some(s => s.textContent === arguments[0]);"), text)

    def expect_link(self, url):
        self.wait_true(f"a link to {url}", (
            "return [...document.querySelectorAll('#messages a')].some(a =>"
            " a.getAttribute('href') === arguments[0] && a.rel === 'noopener noreferrer'"
            " && a.textContent === arguments[0]);"), url)

    def expect_count(self, count):
        self.wait_true(f"{count} messages", (
            "return document.querySelectorAll('#messages li.msg').length"
            " === Number(arguments[0]);"), count)

    def expect_unread(self, argument):
        key, _, count = argument.partition(" ")
        self.wait_true(f"{count} unread in {key}", (
            "const b = [...document.querySelectorAll('#sidebar button')]"
            ".find(b => b.dataset.key === arguments[0]);"
            "const badge = b && b.querySelector('.badge');"
            "return Boolean(b) && (badge ? badge.textContent : '0') === arguments[1];"),
            key, count)

    def expect_members(self, text):
        self.wait_true(f"the members {text!r}", (
            "return [...document.querySelectorAll('#members button')]"
            ".map(b => b.textContent).join(' ') === arguments[0];"), text)

    def expect_title(self, title):
        self.wait_true(f"the title {title!r}", "return document.title === arguments[0];", title)

    def expect_status(self, status):
        self.wait_true(f"#status to read {status}",
                       "return document.getElementById('status').dataset.state === arguments[0];",
                       status)

    def expect_login(self, name):
        self.wait_true(f"the login form with {name!r}", (
            "return !document.getElementById('login-view').hidden &&"
            " document.getElementById('name').value === arguments[0];"), name)

    def click_where(self, what, script, *args):
        """Clicks the element `script` returns, once there is one."""
        def attempt():
            found = self.script(script, *args)
            if not found:
                return False
            self.command("POST", f"/element/{found[ELEMENT]}/click", {})
            return True
        self.wait(f"a click on {what}", attempt)

    def open_conversation(self, key):
        # On a phone the list is a drawer: a person taps "Chats" first.
        if self.script("return getComputedStyle(document.getElementById('sidebar'))"
                       ".display === 'none';"):
            self.click("#menu")
        self.click_where(key, "return [...document.querySelectorAll('#sidebar button')]"
                         ".find(b => b.dataset.key === arguments[0]);", key)

    def join(self, room):
        self.click_where(f"#{room}", "return [...document.querySelectorAll('#directory button')]"
                         ".find(b => b.dataset.join === arguments[0]);", room)

    def member(self, name):
        self.click_where(name, "return [...document.querySelectorAll('#members button')]"
                         ".find(b => b.dataset.name === arguments[0]);", name)

    def screenshot(self, path):
        png = base64.b64decode(self.command("GET", "/screenshot"))
        with open(path, "wb") as file:
            file.write(png)
        return len(png)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.split("\n\n")[1])
    url, port, chromium, user_data_dir = sys.argv[1:]
    browser = None
    try:
        browser = Browser(int(port), chromium, user_data_dir)
        browser.open(url)
        print("ok ready", flush=True)
        for line in sys.stdin:
            verb, _, argument = line.rstrip("\n").partition(" ")
            if verb == "quit":
                break
            try:
                action = {
                    "login": browser.login,
                    "say": browser.say,
                    "expect": browser.expect,
                    "expect-not": browser.expect_not,
                    "expect-sent": lambda text: browser.expect_own(text, "sent"),
                    "expect-failed": lambda text: browser.expect_own(text, "failed"),
                    "expect-note": browser.expect_note,
                    "expect-link": browser.expect_link,
                    "expect-count": browser.expect_count,
                    "expect-unread": browser.expect_unread,
                    "expect-title": browser.expect_title,
                    "expect-members": browser.expect_members,
                    "expect-status": browser.expect_status,
                    "expect-login": browser.expect_login,
                    "open": browser.open_conversation,
                    "join": browser.join,
                    "member": browser.member,
                    "earlier": lambda _: browser.click("#earlier"),
                    "menu": lambda _: browser.click("#menu"),
                    "viewport": lambda size: browser.resize_viewport(*map(int, size.split())),
                }.get(verb)
                if action is not None:
                    action(argument)
                elif verb == "screenshot":
                    print(f"ok {browser.screenshot(argument)} bytes", flush=True)
                    continue
                else:
                    raise ValueError(f"unknown command {verb!r}")
            except (*ERRORS, WebDriverError) as e:
                print(f"fail {verb}: {e}", flush=True)
                continue
            print("ok", flush=True)
    except (*ERRORS, WebDriverError) as e:
        print(f"fail {e}", flush=True)
        return 1
    finally:
        if browser is not None:
            try:
                browser.close()
            except (*ERRORS, WebDriverError):
                pass  # the Rust test kills chromedriver and its children anyway
    return 0


if __name__ == "__main__":
    sys.exit(main())
