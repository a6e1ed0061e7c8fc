#!/usr/bin/python3
"""Loads a page in Debian's headless Chromium in real time and reports what it drew (helper of
tests/e2e/test_serve_page.sh; issue 15 item 8).

Usage: page_shot.py URL OUT.png POLLS [WIDTH HEIGHT]

Drives Chromium over --remote-debugging-pipe (DevTools protocol, NUL-separated JSON on fds 3
and 4; standard library only), so the page's timers run at their real pace instead of the
compressed virtual time of --screenshot/--virtual-time-budget (which makes a page that polls
every second poll many times within milliseconds). Navigates, waits until the page's
element "n-polls" reads at least POLLS (at most WAIT_S seconds; then it goes on anyway and
the caller's checks decide), writes a PNG screenshot and prints one JSON object: the text of
every element whose id starts with "n-" or "s-", and the data-points attribute of every
canvas, keyed by id.
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

DEADLINE_S = 60  # for each protocol exchange
WAIT_S = 120  # for the page to reach POLLS polls


class Browser:
    def __init__(self, width, height):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            sys.exit("page_shot: chromium not found (scripts/install-deps.sh installs it for tests)")
        self.profile = tempfile.mkdtemp(prefix="janus-chromium.")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def fds():  # the protocol pipe is fds 3 (commands in) and 4 (replies out)
            hi_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)  # out of the way of 3 and 4 first
            hi_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--remote-debugging-pipe", "--hide-scrollbars",
             "--user-data-dir=" + self.profile, "--window-size=%d,%d" % (width, height), "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=fds, pass_fds=(3, 4))
        os.close(to_child_r)
        os.close(from_child_w)
        self.next_id = 0
        self.rbuf = b""

    def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + DEADLINE_S
        while True:
            while b"\0" in self.rbuf:
                raw, self.rbuf = self.rbuf.split(b"\0", 1)
                m = json.loads(raw)
                if m.get("id") == self.next_id:
                    if "error" in m:
                        raise RuntimeError("%s: %s" % (method, m["error"]))
                    return m["result"]
            left = end - time.monotonic()
            if left <= 0:
                raise RuntimeError("%s: no reply within %d s" % (method, DEADLINE_S))
            r, _, _ = select.select([self.from_child], [], [], left)
            if r:
                chunk = os.read(self.from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("%s: chromium closed the pipe" % method)
                self.rbuf += chunk

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_child)
        os.close(self.from_child)
        shutil.rmtree(self.profile, ignore_errors=True)


PROBE = """JSON.stringify((function () {
  var out = {};
  document.querySelectorAll("[id^='n-'], [id^='s-']").forEach(function (e) { out[e.id] = e.textContent; });
  document.querySelectorAll("canvas").forEach(function (e) { out[e.id] = Number(e.getAttribute("data-points")); });
  out.msg = document.getElementById("msg") ? document.getElementById("msg").textContent : null;
  out.title = document.title;
  return out;
})())"""


def main():
    if len(sys.argv) not in (4, 6):
        sys.exit(__doc__)
    url, out, polls = sys.argv[1], sys.argv[2], int(sys.argv[3])
    w, h = (int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) == 6 else (1280, 900)
    b = Browser(w, h)
    try:
        t0 = time.monotonic()
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        b.call("Emulation.setDeviceMetricsOverride",
               {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False}, s)
        b.call("Page.enable", {}, s)
        b.call("Page.navigate", {"url": url}, s)
        def probe():
            r = b.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, s)
            return json.loads(r["result"]["value"])

        end = time.monotonic() + WAIT_S
        while True:  # bounded: WAIT_S
            p = probe()
            if p.get("n-polls", "").isdigit() and int(p["n-polls"]) >= polls or time.monotonic() > end:
                break
            time.sleep(0.25)
        png = base64.b64decode(b.call("Page.captureScreenshot", {"format": "png"}, s)["data"])
        with open(out, "wb") as f:
            f.write(png)
        p["browser_seconds"] = round(time.monotonic() - t0, 2)
        print(json.dumps(p))
    finally:
        b.close()


if __name__ == "__main__":
    main()
