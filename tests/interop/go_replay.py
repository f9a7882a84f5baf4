#!/usr/bin/env python3
"""go_replay.py SERVER_HOST:PORT TRANSCRIPT - replay what gorilla/websocket (Rancher's Go
remotedialer) sent to rdial-server, recorded once (tests/interop/data/*.jsonl), and check
that rdial-server answers byte for byte what it answered then (which the Go side accepted).

Transcript: JSON lines in arrival order; {"note": ...} first, then
  {"dir": "c2s", "hex": ...}   bytes the Go side sent: sent again as they are
  {"dir": "s2c", "hex": ...}   bytes rdial-server sent: exactly these must come back (the
                               101's X-Rdial-Listen names the listen port: compared with the
                               port replaced; frames are read one by one and the route's
                               "Via: 1.1 rdial-<token>" line, added to forwarded requests
                               after the recording, is taken out of a frame before it is
                               compared, its length field made to match: it must be there
                               exactly once in all)
  {"dir": "user", "hex": ...}  an HTTP request a user sent to the server's main port at that
                               moment (a dial through the websocket): sent on a new connection
  {"dir": "answer", "hex": ...} what that user got: compared at the end
Prints one line per step; exit 1 at the first difference."""
import json
import re
import socket
import sys
import time

hostport, path = sys.argv[1], sys.argv[2]
host, port = hostport.rsplit(":", 1)
steps = [json.loads(l) for l in open(path)]
print("replaying:", steps[0]["note"])


def read_exact(c, n, what):
    data = b""
    while len(data) < n:
        try:
            d = c.recv(n - len(data))
        except socket.timeout:
            d = b""
        if not d:
            fail("%s: got %d of %d bytes: %r" % (what, len(data), n, data[:80]))
        data += d
    return data


def read_head(c):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(1)
        if not d:
            fail("101: connection closed after %r" % data)
        data += d
    return data


VIA = re.compile(rb"Via: 1\.1 rdial-[A-Za-z0-9._-]+\r\n")
vias = 0


def read_frames(c, n, what):
    """Server frames (unmasked) until n bytes of them, each with the Via line taken out."""
    global vias
    out = b""
    while len(out) < n:
        h = read_exact(c, 2, what)
        ln, ext = h[1] & 0x7F, b""
        if ln == 126:
            ext = read_exact(c, 2, what)
            ln = int.from_bytes(ext, "big")
        elif ln == 127:
            ext = read_exact(c, 8, what)
            ln = int.from_bytes(ext, "big")
        payload = read_exact(c, ln, what) if ln else b""
        payload, k = VIA.subn(b"", payload)
        vias += k
        if k == 0:
            out += h + ext + payload
            continue
        ln = len(payload)
        if ln < 126:
            hdr = bytes([h[0], ln])
        elif ln < 65536:
            hdr = bytes([h[0], 126]) + ln.to_bytes(2, "big")
        else:
            hdr = bytes([h[0], 127]) + ln.to_bytes(8, "big")
        out += hdr + payload
    return out


def fail(msg):
    print("FAIL " + msg, flush=True)
    sys.exit(1)


ws = socket.create_connection((host, int(port)), timeout=10)
user = None
step = 0
for s in steps[1:]:
    step += 1
    b = bytes.fromhex(s["hex"])
    if s["dir"] == "c2s":
        ws.sendall(b)
        print("step %d: sent %d bytes of the Go side" % (step, len(b)), flush=True)
    elif s["dir"] == "user":
        time.sleep(0.3)  # what the Go side sent before (AddClient) is read first, as then
        user = socket.create_connection((host, int(port)), timeout=10)
        user.sendall(b)
        print("step %d: a user request (%d bytes)" % (step, len(b)), flush=True)
    elif s["dir"] == "s2c" and b.startswith(b"HTTP/1.1 101"):
        got = read_head(ws)
        norm = lambda x: re.sub(rb"(X-Rdial-Listen: 127\.0\.0\.1:)\d+", rb"\1PORT", x)
        if norm(got) != norm(b):
            fail("step %d: 101 differs:\n got %r\nwant %r" % (step, got, b))
        print("step %d: 101 as recorded (%d bytes)" % (step, len(got)), flush=True)
    elif s["dir"] == "s2c":
        got = read_frames(ws, len(b), "step %d" % step)
        if got != b:
            fail("step %d: server frames differ:\n got %s\nwant %s" % (step, got.hex(), b.hex()))
        print("step %d: %d bytes of frames as recorded" % (step, len(b)), flush=True)
    elif s["dir"] == "answer":
        got = b""
        while True:
            d = user.recv(65536)
            if not d:
                break
            got += d
        if got != b:
            fail("step %d: the user's answer differs (%d bytes, want %d)" % (step, len(got),
                                                                         len(b)))
        print("step %d: the user got the recorded answer (%d bytes)" % (step, len(got)),
              flush=True)
if vias != 1:
    fail("the route's Via line was in %d frames (want 1)" % vias)
print("REPLAY OK", flush=True)
