#!/usr/bin/env python3
"""One virtual connection carrying bulk data both ways at once, with a slow reader.

  bidi.py target -listen 127.0.0.1:0 [-http] [-size N] [-slow RATE:START:END ...]
  bidi.py user   -connect HOST:PORT  [-http PATH | -socks5 HOST:PORT] [-size N]
                 [-slow RATE:START:END ...] [-timeout 120] [-stall 30]

Both ends write SIZE bytes of a fixed pseudo-random pattern (user: "up", target: "down")
from one thread while another thread reads the other end's SIZE bytes, so the writes never
wait on the reads. Received bytes are checked with sha256 against the expected pattern.

-slow RATE:START:END reads at RATE MB/s (10^6 bytes) between START and END seconds after the
connection opened (END may be "inf"); outside every window the reader reads as fast as it
can. The receive buffer is kept small (64 KiB) so the slowness reaches the tunnel.

-http (target): read an HTTP request head, answer "200" with a Content-Length body of SIZE
bytes while reading the request body (Content-Length or chunked).
-http PATH (user): send "POST PATH" with a Content-Length body of SIZE bytes, read the
answer (Content-Length, chunked or until close) and expect 200.
-socks5 HOST:PORT (user): connect through a SOCKS5 proxy (no auth) to -connect.

The target prints "listening on HOST:PORT", then one line per connection:
  "TARGET RESULT OK|FAIL conn=K recv=N sent=N sha=ok|bad secs=S"
The user prints a progress line every 2 s and ends with
  "RESULT OK|FAIL|STALL recv=N sent=N sha=ok|bad secs=S ..." (exit 0 only for OK).
STALL: neither byte count moved for -stall seconds; FAIL also on -timeout.
"""
import argparse
import hashlib
import random
import socket
import struct
import sys
import threading
import time

BLOCK = 1 << 20
_patterns = {}


def pattern(seed):
    if seed not in _patterns:
        _patterns[seed] = random.Random(seed).randbytes(BLOCK)
    return _patterns[seed]


def expected_sha(seed, size):
    h = hashlib.sha256()
    blk = pattern(seed)
    left = size
    while left > 0:
        n = min(left, BLOCK)
        h.update(blk[:n])
        left -= n
    return h.hexdigest()


def parse_slow(specs):
    out = []
    for s in specs or []:
        rate, start, end = s.split(":")
        out.append((float(rate) * 1e6, float(start), float("inf") if end == "inf" else float(end)))
    return out


class Pacer:
    """How many bytes the reader may have read by now, given the slow windows."""

    def __init__(self, windows, t0):
        self.windows = windows
        self.t0 = t0
        self.credit_base = 0  # bytes read when the current slow window began
        self.win = None
        self.win_t = 0.0

    def allowed(self, got):
        el = time.time() - self.t0
        w = next((w for w in self.windows if w[1] <= el < w[2]), None)
        if w is None:
            self.win = None
            return None  # fast
        if w is not self.win:
            self.win, self.win_t, self.credit_base = w, el, got
        return self.credit_base + int((el - self.win_t) * w[0]) + 65536


class Dechunk:
    """Incremental decoder of an HTTP/1.1 chunked body."""

    def __init__(self):
        self.buf = b""
        self.left = 0  # bytes of chunk data still to come
        self.state = "size"
        self.done = False

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            if self.state == "data":
                if not self.buf:
                    break
                n = min(self.left, len(self.buf))
                out.append(self.buf[:n])
                self.buf = self.buf[n:]
                self.left -= n
                if self.left == 0:
                    self.state = "crlf"
            elif self.state == "crlf":
                if len(self.buf) < 2:
                    break
                self.buf = self.buf[2:]
                self.state = "size"
            elif self.state == "size":
                i = self.buf.find(b"\r\n")
                if i < 0:
                    break
                size = int(self.buf[:i].split(b";")[0], 16)
                self.buf = self.buf[i + 2:]
                if size == 0:
                    self.done = True
                    self.state = "trailer"
                else:
                    self.left, self.state = size, "data"
            else:  # trailer: ignore the rest
                self.buf = b""
                break
        return b"".join(out)


def read_head(sock):
    """Read an HTTP head; returns (head_lines, leftover_bytes)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = sock.recv(65536)
        if not b:
            raise EOFError("EOF in HTTP head (%d bytes)" % len(buf))
        buf += b
        if len(buf) > 65536:
            raise ValueError("HTTP head too large")
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1").split("\r\n"), rest


def header(lines, name):
    name = name.lower() + ":"
    for l in lines[1:]:
        if l.lower().startswith(name):
            return l[len(name):].strip()
    return None


class Stream:
    """Counts and hashes what one side reads; paced by the slow windows."""

    def __init__(self, sock, size, windows, t0):
        self.sock, self.size, self.t0 = sock, size, t0
        self.pacer = Pacer(windows, t0)
        self.got = 0
        self.sent = 0
        self.h = hashlib.sha256()
        self.err = None
        self.eof = False

    def account(self, data):
        if self.got + len(data) > self.size:
            data = data[: self.size - self.got]  # extra bytes: counted as a mismatch below
            self.err = self.err or "more than %d bytes" % self.size
        self.h.update(data)
        self.got += len(data)

    def read_body(self, first, framing):
        """framing: ("len", N) | ("chunked", None) | ("close", None) | ("raw", None)."""
        dech = Dechunk() if framing[0] == "chunked" else None
        if first:
            self.account(dech.feed(first) if dech else first)
        while self.got < self.size and not (dech and dech.done):
            allowed = self.pacer.allowed(self.got)
            want = 1 << 20
            if allowed is not None:
                want = min(65536, allowed - self.got)
                if want <= 0:
                    time.sleep(0.01)
                    continue
            try:
                b = self.sock.recv(want)
            except OSError as e:
                self.err = self.err or "recv: %s" % e
                return
            if not b:
                self.eof = True
                if self.got < self.size:
                    self.err = self.err or "EOF after %d of %d bytes" % (self.got, self.size)
                return
            self.account(dech.feed(b) if dech else b)

    def write_all(self, seed, prefix=b"", hold=None):
        """hold: an Event; the last 64 KiB wait for it (the reader's end)."""
        blk = pattern(seed)
        try:
            if prefix:
                self.sock.sendall(prefix)
            while self.sent < self.size:
                limit = self.size
                if hold is not None and not hold.is_set():
                    limit = max(0, self.size - 65536)
                    if self.sent >= limit:
                        hold.wait()
                        continue
                off = self.sent % BLOCK  # 64 KiB sends so the counter moves
                m = min(65536, limit - self.sent, BLOCK - off)
                self.sock.sendall(blk[off:off + m])
                self.sent += m
        except OSError as e:
            self.err = self.err or "send: %s" % e


def small_rcvbuf(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)


def run_target(a):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    small_rcvbuf(ls)  # accepted sockets inherit it
    host, port = a.listen.rsplit(":", 1)
    ls.bind((host, int(port)))
    ls.listen(64)
    print("listening on %s:%d" % ls.getsockname()[:2], flush=True)
    want = expected_sha("up", a.size)
    conn_no = [0]

    def handle(c, k):
        t0 = time.time()
        st = Stream(c, a.size, parse_slow(a.slow), t0)
        framing, first, prefix = ("raw", None), b"", b""
        try:
            if a.http:
                lines, first = read_head(c)
                te = (header(lines, "transfer-encoding") or "").lower()
                cl = header(lines, "content-length")
                framing = ("chunked", None) if "chunked" in te else ("len", int(cl or 0))
                prefix = (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % a.size)
        except Exception as e:
            print("TARGET RESULT FAIL conn=%d head: %s" % (k, e), flush=True)
            c.close()
            return
        # the answer's last 64 KiB wait until the request is read in full: a user that
        # has the whole answer knows its own bytes arrived, and may close
        done = threading.Event()
        w = threading.Thread(target=st.write_all, args=("down", prefix, done), daemon=True)
        w.start()
        st.read_body(first, framing)
        done.set()
        w.join()
        ok = st.err is None and st.got == a.size and st.h.hexdigest() == want and st.sent == a.size
        print("TARGET RESULT %s conn=%d recv=%d sent=%d sha=%s secs=%.1f%s" % (
            "OK" if ok else "FAIL", k, st.got, st.sent,
            "ok" if st.h.hexdigest() == want else "bad", time.time() - t0,
            "" if st.err is None else " err=%s" % st.err), flush=True)
        try:
            c.shutdown(socket.SHUT_WR)
            c.settimeout(5)
            while c.recv(65536):
                pass
        except OSError:
            pass
        c.close()

    while True:
        c, _ = ls.accept()
        conn_no[0] += 1
        threading.Thread(target=handle, args=(c, conn_no[0]), daemon=True).start()


def socks5_connect(sock, dest):
    host, port = dest.rsplit(":", 1)
    sock.sendall(b"\x05\x01\x00")
    if sock.recv(2) != b"\x05\x00":
        raise OSError("socks5: method refused")
    h = host.encode()
    sock.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h + struct.pack(">H", int(port)))
    r = b""
    while len(r) < 10:
        b = sock.recv(10 - len(r))
        if not b:
            raise OSError("socks5: EOF in reply")
        r += b
    if r[1] != 0:
        raise OSError("socks5: reply %d" % r[1])


def run_user(a):
    t0 = time.time()
    c = socket.socket()
    small_rcvbuf(c)
    if a.socks5:
        h, p = a.socks5.rsplit(":", 1)
        c.connect((h, int(p)))
        socks5_connect(c, a.connect)
    else:
        h, p = a.connect.rsplit(":", 1)
        c.connect((h, int(p)))
    st = Stream(c, a.size, parse_slow(a.slow), t0)
    prefix = b""
    if a.http:
        prefix = (b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n"
                  b"Content-Length: %d\r\n\r\n" % (a.http.encode(), a.connect.encode(), a.size))
    want = expected_sha("down", a.size)
    status = [None]

    def reader():
        first, framing = b"", ("raw", None)
        if a.http:
            try:
                lines, first = read_head(c)
            except Exception as e:
                st.err = "response head: %s" % e
                return
            status[0] = lines[0]
            if " 200 " not in lines[0] + " ":
                st.err = "status %s" % lines[0]
                return
            te = (header(lines, "transfer-encoding") or "").lower()
            cl = header(lines, "content-length")
            framing = (("chunked", None) if "chunked" in te else
                       ("len", int(cl)) if cl is not None else ("close", None))
        st.read_body(first, framing)

    w = threading.Thread(target=st.write_all, args=("up", prefix), daemon=True)
    r = threading.Thread(target=reader, daemon=True)
    w.start()
    r.start()
    last = (-1, -1)
    last_move = time.time()
    last_print = 0
    verdict = None
    while r.is_alive() or w.is_alive():
        time.sleep(0.2)
        now = time.time()
        cur = (st.got, st.sent)
        if cur != last:
            last, last_move = cur, now
        if now - last_print >= 2:
            print("t=%.0f recv=%d sent=%d" % (now - t0, st.got, st.sent), flush=True)
            last_print = now
        if st.err and not r.is_alive():
            break
        if now - last_move >= a.stall:
            verdict = "STALL"
            break
        if now - t0 >= a.timeout:
            verdict = "FAIL"
            st.err = st.err or "timeout %ds" % a.timeout
            break
    secs = time.time() - t0
    sha_ok = st.h.hexdigest() == want and st.got == a.size
    if verdict is None:
        verdict = "OK" if (st.err is None and sha_ok and st.sent == a.size) else "FAIL"
    print("RESULT %s recv=%d sent=%d sha=%s secs=%.1f rate=%.1fMB/s%s%s" % (
        verdict, st.got, st.sent, "ok" if sha_ok else "bad", secs,
        (st.got + st.sent) / 1e6 / max(secs, 0.001),
        "" if st.err is None else " err=%s" % st.err,
        "" if status[0] is None else " status=%r" % status[0]), flush=True)
    try:
        c.close()
    except OSError:
        pass
    return 0 if verdict == "OK" else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("role", choices=["target", "user"])
    p.add_argument("-listen", default="127.0.0.1:0")
    p.add_argument("-connect")
    p.add_argument("-http", nargs="?", const="/", default=None)
    p.add_argument("-socks5")
    p.add_argument("-size", type=int, default=64 << 20)
    p.add_argument("-slow", action="append")
    p.add_argument("-timeout", type=float, default=120)
    p.add_argument("-stall", type=float, default=30)
    a = p.parse_args()
    if a.role == "target":
        run_target(a)
    else:
        if not a.connect:
            p.error("user needs -connect")
        sys.exit(run_user(a))


if __name__ == "__main__":
    main()
