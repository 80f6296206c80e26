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

    login NAME        type NAME in the login form, click "Log in", wait until
                      the page says it is connected
    say TEXT          type TEXT in the message line and press Enter
    expect LINE       wait until the message list shows exactly LINE
    click-room ROOM   click ROOM in the room list
    screenshot PATH   save what the window shows, as PNG, at PATH
    quit              close the browser and exit

Every wait polls for at most WAIT_SECONDS, then fails with what the page
shows; every request to chromedriver has a timeout too. The script talks to
127.0.0.1 only, and Chromium is told to resolve no other name.
"""

import base64
import http.client
import json
import sys
import time

VIEWPORT = (900, 700)  # what the page gets: a laptop-sized window
WAIT_SECONDS = 10.0  # the longest any one wait may take
POLL_SECONDS = 0.05  # how often a wait looks again
REQUEST_SECONDS = 20.0  # one WebDriver request (a new session is the slowest)

# The W3C name under which WebDriver hands out element references.
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
ENTER = "\ue007"  # the Enter key, in WebDriver's private-use key codes

# What can go wrong talking to chromedriver (TimeoutError and a refused
# connection are OSErrors; a bad JSON answer is a ValueError).
ERRORS = (OSError, ValueError, KeyError, http.client.HTTPException)

# Errors that mean "not yet": the page is still changing under us. The room
# list, for one, is rebuilt whenever a fresh `* rooms:` line arrives, which
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
        capabilities = {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}
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
        """The page's state in one line, for failure messages."""
        try:
            return json.dumps(self.script(
                "const s = document.getElementById('status');"
                "return { status: s && s.dataset.state,"
                " loginError: document.getElementById('login-error').textContent,"
                " rooms: [...document.querySelectorAll('#rooms button')].map(b => b.textContent),"
                " messages: [...document.querySelectorAll('#messages > li')]"
                ".map(li => li.textContent) };"))
        except (*ERRORS, WebDriverError) as e:
            return f"(cannot read the page: {e})"

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
        self.type_into("#name", name)
        self.click("#login-button")
        self.wait("#status to read open", lambda: self.command(
            "GET", f"/element/{self.find('#status')}/attribute/data-state") == "open")

    def say(self, text):
        self.type_into("#line", text + ENTER)
        # The page empties the line as soon as it takes the message.
        self.wait("the message line to empty", lambda: self.command(
            "GET", f"/element/{self.find('#line')}/property/value") == "")

    def expect(self, line):
        self.wait(f"the message {line!r}", lambda: self.script(
            "return [...document.querySelectorAll('#messages > li')]"
            ".some(li => li.textContent === arguments[0]);", line))

    def click_room(self, room):
        self.click(f'#rooms button[data-room="{room}"]')

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
                if verb == "login":
                    browser.login(argument)
                elif verb == "say":
                    browser.say(argument)
                elif verb == "expect":
                    browser.expect(argument)
                elif verb == "click-room":
                    browser.click_room(argument)
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
