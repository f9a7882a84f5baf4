"""cdp.py - drive headless Chromium through the Chrome DevTools Protocol, standard library only.

The browser is started with --remote-debugging-pipe: it reads protocol messages (JSON, each
ended by a NUL byte) on its fd 3 and writes its own on fd 4, so no port and no websocket
client are needed. Used by the end-to-end tests of the status page:

    b = Browser(chrome, profile_dir, log=open("chromium.log", "ab"))
    page = b.open("http://127.0.0.1:8123/")
    b.wait(page, "document.querySelectorAll('tr').length > 1", timeout=5)
    b.screenshot(page, "page.png")
    b.close()
"""
import base64
import fcntl
import json
import os
import select
import subprocess
import time

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--remote-debugging-pipe",
]


class CDPError(Exception):
    pass


class Browser:
    def __init__(self, chrome, profile, extra=(), log=None, window="1280,900"):
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # high copies first, so that placing them at 3 and 4 cannot clobber one another
        hi_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 20)
        hi_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 20)

        def child():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        args = [chrome, *FLAGS, "--user-data-dir=" + profile, "--window-size=" + window,
                *extra, "about:blank"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=child, close_fds=False)
        for fd in (to_chrome_r, from_chrome_w, hi_r, hi_w):
            os.close(fd)
        self._buf = b""
        self._id = 0

    # ---- the protocol ----

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("no answer from the browser in time")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise CDPError("the browser closed its pipe (exit %s)" % self.proc.poll())
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=30):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._id:  # events and other answers are not waited for
                if "error" in m:
                    raise CDPError("%s: %s" % (method, m["error"]))
                return m.get("result", {})

    # ---- pages ----

    def open(self, url, timeout=30):
        """A new tab at url; returns its session id."""
        target = self.call("Target.createTarget", {"url": url}, timeout=timeout)["targetId"]
        return self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                         timeout=timeout)["sessionId"]

    def eval(self, session, expr, timeout=30):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True},
                      session=session, timeout=timeout)
        if "exceptionDetails" in r:
            raise CDPError("%s: %s" % (expr, r["exceptionDetails"]))
        return r.get("result", {}).get("value")

    def wait(self, session, expr, timeout=10, poll=0.05):
        """Poll expr until it is truthy (a script error counts as false: the page may still be
        loading); returns the seconds it took. Raises on timeout."""
        t0 = time.monotonic()
        why = "false"
        while True:
            try:
                if self.eval(session, expr):
                    return time.monotonic() - t0
            except CDPError as e:
                why = str(e)[:300]
            if time.monotonic() - t0 > timeout:
                raise CDPError("not true after %.1f s (%s): %s" % (timeout, why, expr))
            time.sleep(poll)

    def screenshot(self, session, path):
        r = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                      session=session)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except (CDPError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)
