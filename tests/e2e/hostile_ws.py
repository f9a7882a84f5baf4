#!/usr/bin/env python3
"""hostile_ws.py - misbehaving peers for tests/e2e/test_faults.sh (Python 3 stdlib only).

A raw RFC 6455 websocket client that connects to rdial-server's /connect with X-Tunnel-ID
and speaks the remotedialer binary messages (PROTOCOL.md s2), with ways to misbehave; and a
target server that closes, resets or stalls on demand.

  hostile_ws.py serve HOST:PORT ID [--flood-rate BYTES/S] [--flood-max BYTES] [--max-time S]
      Register as client ID and answer the server's dials. The request that arrives in the
      first Data of a conn picks the answer:
        GET /big      200 with Content-Length 1 GiB, then Data pushed at --flood-rate
                      WITHOUT stopping on Pause (the fault), until the server sends an Error
                      for that conn or --flood-max bytes were pushed
        GET /blob/N   200 with the N-byte blob (see `blob`), then Error EOF; this conn obeys
                      Pause / Resume
        anything else 404, then Error EOF
      Events go to stdout, one per line: "up", "CONNECT <conn> <target>", "REQUEST <conn>
      <path>", "PAUSE <conn> flooded=<bytes>", "RESUME <conn>", "ERROR <conn> <text>
      flooded=<bytes> after_pause=<bytes>", "DONE <conn> <bytes>", and last "CLOSED ...".

  hostile_ws.py abuse HOST:PORT ID CASE [--wait S]
      Register as client ID, commit one protocol violation, then wait up to --wait seconds
      (default 15) for the server to end the websocket. The last line is
      "RESULT closed code=<n> reason=<text>", "RESULT eof", "RESULT reset" (the session
      ended: exit 0) or "RESULT open ..." (still up: exit 3). CASEs:
        text        a text frame (PROTOCOL.md s1: a protocol error that ends the session)
        unmasked    an unmasked binary frame carrying a valid Connect (RFC 6455 5.1: a
                    server MUST close on an unmasked client frame). When the server keeps
                    the session, the last line is "RESULT open unmasked frame accepted:
                    replies=[...] pong=0|1" and the exit status 4
        badvarint   a message whose first varint has 11 bytes
        truncated   a Data message cut after its type (no deadline varint)
        empty       an empty binary message
        huge        one frame announcing 2^40 bytes, then payload until the server closes
        hugefrag    continuation frames summing to 8 MiB (each under the limit)
        floodread   20000 Connects + 20000 Data for invented conn ids, reading the answers:
                    every one must get an Error; then a ping must get its pong. Session
                    stays up (RESULT open answered=<n> pong=1; exit 0 when all answered)
        floodnoread Connects for invented conn ids without ever reading (small receive
                    buffer), until the server drops us or 40 s: the server's answers pile up
                    and its bounded control queue must end the session

  hostile_ws.py get HOST:PORT PATH [--slow-until FILE] [--max-time S]
      An HTTP/1.1 GET with a 64 KiB receive buffer that reads 16 KiB every 0.1 s until FILE
      exists, then as fast as it can. Prints "STATUS <status line>", "HEADER content-length:N"
      (or transfer-encoding) and last "END eof|reset|timeout body=<bytes>".

  hostile_ws.py target
      Listen on 127.0.0.1:0 and print "listening on 127.0.0.1:PORT"; per connection read an
      HTTP request head and by its path:
        /close10/N     HTTP/1.0 200, no length, the N-byte blob, then a clean close (FIN)
        /rst/N/M       HTTP/1.1 200 with Content-Length N, M bytes of the blob, then RST
        /rst10/M       HTTP/1.0 200, no length, M bytes of the blob, then RST
        /rsthead       RST before any answer
        /stall         never answer (the socket stays open)
        /stallbody/N/M HTTP/1.1 200 with Content-Length N, M bytes, then never another byte
        /blob/N        HTTP/1.1 200 with the N-byte blob

  hostile_ws.py announce LISTEN TARGET... [--max-time S]
      A fake rdial server for one rdial-client: listen on 127.0.0.1:0 (prints "listening on
      127.0.0.1:PORT"), answer the client's upgrade with 101 and "X-Rdial-Listen: LISTEN",
      then send a Connect for each TARGET ("tcp/host:port") followed by the Data of an
      HTTP/1.0 GET /, and print one line per target as its first answer arrives:
      "RESULT <target> ERROR <text>" or "RESULT <target> DATA" (the dial connected), then
      "DONE" (or "TIMEOUT" after --max-time, default 10, seconds). Pings get pongs.

  hostile_ws.py blob N
      Write the deterministic N-byte blob to stdout.

  hostile_ws.py blobsha N...
      Print the sha256 of each N-byte blob, one per line.
"""
import base64
import hashlib
import os
import random
import select
import socket
import struct
import sys
import threading
import time

# ---- remotedialer messages (PROTOCOL.md s2) -------------------------------------------

DATA, CONNECT, ERROR, ADD_CLIENT, REMOVE_CLIENT, PAUSE, RESUME, SYNC = range(1, 9)
TYPE_NAMES = {1: "DATA", 2: "CONNECT", 3: "ERROR", 4: "ADDCLIENT", 5: "REMOVECLIENT",
              6: "PAUSE", 7: "RESUME", 8: "SYNC"}


def varint(v):
    u = ((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


def get_varint(buf, off):
    u = shift = 0
    for i in range(10):
        if off + i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[off + i]
        u |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return (u >> 1) ^ -(u & 1), off + i + 1
    raise ValueError("varint too long")


def encode(msg_id, conn_id, mtype, payload=b""):
    h = varint(msg_id) + varint(conn_id) + varint(mtype)
    if mtype in (DATA, CONNECT):
        h += varint(15000)
    return h + payload


def decode(buf):
    msg_id, off = get_varint(buf, 0)
    conn_id, off = get_varint(buf, off)
    mtype, off = get_varint(buf, off)
    if mtype in (DATA, CONNECT):
        _, off = get_varint(buf, off)
    return msg_id, conn_id, mtype, bytes(buf[off:])


def blob(n):
    return random.Random(n).randbytes(n)


# ---- websocket client (RFC 6455) -----------------------------------------------------------

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def mask_bytes(data, key):
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def frame(op, payload=b"", fin=True, masked=True, length=None):
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | op
    mbit = 0x80 if masked else 0
    if n < 126:
        hdr = bytes([b0, mbit | n])
    elif n < 65536:
        hdr = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if not masked:
        return hdr + payload
    key = random.getrandbits(32).to_bytes(4, "little")
    return hdr + key + mask_bytes(payload, key)


class Closed(Exception):
    pass


def say(*a):
    print(*a, flush=True)


def tcp_state(sock):
    """Both ends of sock as ss(8) sees them (queues, windows, memory) and the host's TCP
    memory (/proc/net/sockstat): which side stopped moving bytes, and whether the kernel was
    under memory pressure."""
    import subprocess
    lport = sock.getsockname()[1]
    try:
        ss = subprocess.run(["ss", "-tnmiH", "( sport = :%d or dport = :%d )" % (lport, lport)],
                            capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError) as e:
        ss = "ss: %s" % e
    try:
        with open("/proc/net/sockstat") as f:
            mem = [l.strip() for l in f if l.startswith("TCP:")]
    except OSError:
        mem = []
    return " | ".join([" ".join(ss.split())] + mem)


class WS:
    def __init__(self, addr, client_id, rcvbuf=None):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET /connect HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "X-Tunnel-ID: %s\r\n\r\n" % (addr, key, client_id))
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            d = self.sock.recv(4096)
            if not d:
                raise SystemExit("upgrade: connection closed: %r" % head)
            head += d
        head, rest = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise SystemExit("upgrade refused: %s" % lines[0])
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        got = [l.split(":", 1)[1].strip() for l in lines[1:]
               if l.lower().startswith("sec-websocket-accept:")]
        if got != [want]:
            raise SystemExit("bad Sec-WebSocket-Accept: %r" % got)
        self.sock.setblocking(False)
        self.rx = bytearray(rest)
        self.tx = bytearray()
        self.frag = None
        self.msg_id = 1
        self.close_info = None  # set when the websocket ended

    # queueing
    def send_raw(self, b):
        self.tx += b

    def send_msg(self, conn_id, mtype, payload=b""):
        self.tx += frame(OP_BINARY, encode(self.msg_id, conn_id, mtype, payload))
        self.msg_id += 1

    # I/O
    def flush_some(self):
        """Write what the socket takes now. Raises Closed on a write error."""
        while self.tx:
            try:
                n = self.sock.send(self.tx[:1 << 20])
            except (BlockingIOError, InterruptedError):
                return
            except (BrokenPipeError, ConnectionResetError) as e:
                self.close_info = self.close_info or "reset (write: %s)" % e.strerror
                raise Closed()
            del self.tx[:n]

    def read_some(self):
        """Read what the socket has; returns a list of events:
        ("msg", bytes), ("text", bytes), ("ping", bytes), ("pong", bytes). Raises Closed."""
        try:
            while True:
                d = self.sock.recv(1 << 20)
                if not d:
                    self.close_info = self.close_info or "eof"
                    break
                self.rx += d
                if len(d) < (1 << 20):
                    break
        except (BlockingIOError, InterruptedError):
            pass
        except ConnectionResetError:
            self.close_info = self.close_info or "reset"
        events = self.parse()
        if self.close_info is not None:
            self.pending_events = events
            raise Closed()
        return events

    def parse(self):
        ev = []
        while True:
            rx = self.rx
            if len(rx) < 2:
                break
            b0, b1 = rx[0], rx[1]
            fin, op, masked, n = b0 & 0x80, b0 & 0x0F, b1 & 0x80, b1 & 0x7F
            off = 2
            if n == 126:
                if len(rx) < 4:
                    break
                n = struct.unpack(">H", rx[2:4])[0]
                off = 4
            elif n == 127:
                if len(rx) < 10:
                    break
                n = struct.unpack(">Q", rx[2:10])[0]
                off = 10
            if masked:
                raise SystemExit("server sent a masked frame (RFC 6455 5.1 violation)")
            if len(rx) < off + n:
                break
            payload = bytes(rx[off:off + n])
            del rx[:off + n]
            if op == OP_CLOSE:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
                reason = payload[2:].decode("utf-8", "replace")
                self.close_info = "closed code=%d reason=%s" % (code, reason)
                try:  # echo the close, as RFC 6455 asks
                    self.sock.send(frame(OP_CLOSE, payload[:2]))
                except OSError:
                    pass
                break
            if op == OP_PING:
                self.tx += frame(OP_PONG, payload)
                ev.append(("ping", payload))
            elif op == OP_PONG:
                ev.append(("pong", payload))
            elif op in (OP_TEXT, OP_BINARY):
                if fin:
                    ev.append(("msg" if op == OP_BINARY else "text", payload))
                else:
                    self.frag = bytearray(payload)
            elif op == OP_CONT and self.frag is not None:
                self.frag += payload
                if fin:
                    ev.append(("msg", bytes(self.frag)))
                    self.frag = None
        return ev

    def pump(self, timeout):
        """One select round: write what fits, read what is there. Returns the read events."""
        w = [self.sock] if self.tx else []
        r, w, _ = select.select([self.sock], w, [], timeout)
        if w:
            self.flush_some()
        if r:
            return self.read_some()
        return []


# ---- serve: a client that answers dials, and ignores Pause on /big --------------------

class Conn:
    def __init__(self, cid, target):
        self.cid = cid
        self.target = target
        self.req = bytearray()
        self.mode = None        # None (waiting for the request), "flood", "blob"
        self.out = bytearray()  # "blob": bytes still to send
        self.eof = False        # "blob": send Error EOF once out is empty
        self.paused = False
        self.flooded = 0
        self.after_pause = 0
        self.paused_once = False
        self.t0 = 0.0
        self.sent = 0


def serve(addr, client_id, flood_rate, flood_max, max_time):
    ws = WS(addr, client_id)
    say("up")
    conns = {}
    deadline = time.monotonic() + max_time
    chunk = 64 * 1024
    flood_chunk = bytes(chunk)
    last_ping = time.monotonic()
    try:
        while time.monotonic() < deadline:
            for kind, payload in ws.pump(0.01):
                if kind != "msg":
                    continue
                _, cid, mtype, body = decode(payload)
                c = conns.get(cid)
                if mtype == CONNECT:
                    conns[cid] = Conn(cid, body.decode("latin-1"))
                    say("CONNECT", cid, body.decode("latin-1"))
                elif mtype == DATA and c is not None and c.mode is None:
                    c.req += body
                    if b"\r\n\r\n" not in c.req:
                        continue
                    path = c.req.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
                    path = path.split("?", 1)[0]
                    say("REQUEST", cid, path)
                    if path.startswith("/big"):
                        c.mode = "flood"
                        c.t0 = time.monotonic()
                        ws.send_msg(cid, DATA, b"HTTP/1.1 200 OK\r\nContent-Length: "
                                    b"1073741824\r\nContent-Type: application/octet-stream\r\n\r\n")
                    elif path.startswith("/blob/"):
                        n = int(path[len("/blob/"):])
                        c.mode = "blob"
                        c.out += b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n + blob(n)
                        c.eof = True
                    else:
                        c.mode = "blob"
                        c.out += b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                        c.eof = True
                elif mtype == PAUSE and c is not None:
                    c.paused = True
                    c.paused_once = True
                    say("PAUSE", cid, "flooded=%d" % c.flooded)
                elif mtype == RESUME and c is not None:
                    c.paused = False
                    say("RESUME", cid)
                elif mtype == ERROR:
                    text = body.decode("latin-1")
                    if c is not None:
                        say("ERROR", cid, text, "flooded=%d after_pause=%d" %
                            (c.flooded, c.after_pause))
                        del conns[cid]
                    elif text not in ("EOF",) and not text.startswith("connection not found"):
                        say("ERROR", cid, text, "(no such conn)")
            # schedule Data: round robin, a bounded amount queued in front of the socket
            progress = True
            while len(ws.tx) < 256 * 1024 and progress:
                progress = False
                for c in list(conns.values()):
                    if c.mode == "blob":
                        if c.out and not c.paused:
                            piece = bytes(c.out[:chunk])
                            del c.out[:chunk]
                            ws.send_msg(c.cid, DATA, piece)
                            c.sent += len(piece)
                            progress = True
                        elif not c.out and c.eof:
                            ws.send_msg(c.cid, ERROR, b"EOF")
                            say("DONE", c.cid, c.sent)
                            del conns[c.cid]
                            progress = True
                    elif c.mode == "flood" and c.flooded < flood_max:
                        allowed = flood_rate * (time.monotonic() - c.t0) - c.flooded
                        if allowed >= chunk:  # Pause is ignored on purpose
                            ws.send_msg(c.cid, DATA, flood_chunk)
                            c.flooded += chunk
                            if c.paused_once:
                                c.after_pause += chunk
                            progress = True
            now = time.monotonic()
            if now - last_ping > 2:  # keepalive, as a client does
                ws.send_raw(frame(OP_PING, b"k"))
                last_ping = now
        say("CLOSED timeout (still open after %ds)" % max_time)
    except Closed:
        say("CLOSED", ws.close_info)


# ---- abuse: one protocol violation, then wait for the server to end the session ----------

def wait_end(ws, wait):
    """Read (and discard) until the websocket ends or `wait` seconds pass."""
    end = time.monotonic() + wait
    try:
        while time.monotonic() < end:
            ws.pump(0.1)
    except Closed:
        return True
    return False


def abuse(addr, client_id, case, wait):
    rcvbuf = 4096 if case == "floodnoread" else None
    ws = WS(addr, client_id, rcvbuf=rcvbuf)
    say("up")
    ended = False
    extra = ""
    try:
        if case == "text":
            ws.send_raw(frame(OP_TEXT, b"hello"))
        elif case == "unmasked":
            # a valid Connect, unmasked: a server that takes it anyway answers it with an
            # Error (it refuses dials from clients); a later masked ping must still get its
            # pong (the stream did not get out of step)
            ws.send_raw(frame(OP_BINARY, encode(1, 1000, CONNECT, b"tcp/127.0.0.1:1"),
                              masked=False))
            replies, pong = [], 0
            end = time.monotonic() + wait
            ws.send_raw(frame(OP_PING, b"after-unmasked"))
            while time.monotonic() < end:
                for kind, payload in ws.pump(0.05):
                    if kind == "msg":
                        m = decode(payload)
                        replies.append("%s %d %s" % (TYPE_NAMES.get(m[2], m[2]), m[1],
                                                     m[3].decode("latin-1")))
                    elif kind == "pong":
                        pong = 1
            say("RESULT open unmasked frame accepted: replies=%r pong=%d" % (replies, pong))
            ws.sock.close()
            return 4
        elif case == "badvarint":
            ws.send_raw(frame(OP_BINARY, b"\xff" * 10 + b"\x01" + encode(1, 2, PAUSE)[1:]))
        elif case == "truncated":
            ws.send_raw(frame(OP_BINARY, varint(1) + varint(2) + varint(DATA)))
        elif case == "empty":
            ws.send_raw(frame(OP_BINARY, b""))
        elif case == "huge":
            # one frame that announces 2^40 bytes; stream payload (one mask key, 4-byte
            # aligned pieces) until the server gives up on us or 64 MiB went out
            key = random.getrandbits(32).to_bytes(4, "little")
            ws.send_raw(bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 40) + key)
            piece = mask_bytes(encode(1, 2, DATA) + bytes(256 * 1024 - 6), key)
            queued = 0
            try:
                while queued < 64 << 20:
                    if len(ws.tx) < 1 << 20:
                        ws.send_raw(piece)
                        queued += len(piece)
                    ws.pump(0.01)
            finally:  # bytes that left us (queued minus what the socket did not take)
                extra = " sent=%d" % (queued - len(ws.tx))
        elif case == "hugefrag":
            first = encode(1, 2, DATA)
            part = bytes(256 * 1024)
            ws.send_raw(frame(OP_BINARY, first + part, fin=False))
            for _ in range(31):
                ws.send_raw(frame(OP_CONT, part, fin=False))
                ws.pump(0.005)
            ws.send_raw(frame(OP_CONT, part, fin=True))
        elif case == "floodread":
            n = 20000
            want = 2 * n
            kinds = {}

            def count(events):
                got_pong = 0
                for kind, payload in events:
                    if kind == "msg" and decode(payload)[2] == ERROR:
                        t = decode(payload)[3].decode("latin-1")
                        kinds[t] = kinds.get(t, 0) + 1
                    elif kind == "pong":
                        got_pong = 1
                return got_pong

            for i in range(n):
                ws.send_msg(100000 + i, CONNECT, b"tcp/127.0.0.1:1")
                ws.send_msg(-100000 - i, DATA, b"x")
                if len(ws.tx) > 256 * 1024:
                    ws.flush_some()
                    count(ws.read_some())
            end = time.monotonic() + wait
            pong = ping_sent = 0
            while time.monotonic() < end and not pong:
                if sum(kinds.values()) >= want and not ping_sent:
                    ws.send_raw(frame(OP_PING, b"flood-done"))  # still answering?
                    ping_sent = 1
                pong = count(ws.pump(0.05)) or pong
            answered = sum(kinds.values())
            say("answers", " ".join("%r=%d" % kv for kv in sorted(kinds.items())))
            say("RESULT open answered=%d of %d pong=%d" % (answered, want, pong))
            ws.sock.close()
            return 0 if answered == want and pong else 3
        elif case == "floodnoread":
            sent = 0
            end = time.monotonic() + 40
            try:
                while time.monotonic() < end:
                    if len(ws.tx) < 256 * 1024:
                        for i in range(2048):
                            ws.send_msg(1000000 + sent + i, CONNECT, b"tcp/127.0.0.1:1")
                        sent += 2048
                    # never read: only wait until the socket takes more
                    _, w, _ = select.select([], [ws.sock], [], 0.5)
                    if w:
                        ws.flush_some()
            except Closed:
                pass
            extra = " connects=%d" % sent
            if time.monotonic() >= end:  # still open: say where the bytes sit, for the log
                say("stalled: " + tcp_state(ws.sock))
            say("flood: %d Connects written, now reading" % sent)
        else:
            raise SystemExit("unknown case " + case)
        ws.flush_some()
        ended = wait_end(ws, wait)
    except Closed:
        ended = True
    if ended:
        say("RESULT %s%s" % (ws.close_info, extra))
        return 0
    say("RESULT open after %ss%s" % (wait, extra))
    return 3


# ---- get: an HTTP user that reads slowly, then fast ---------------------------------------

def get(addr, path, slow_until, max_time):
    host, port = addr.rsplit(":", 1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # little kernel buffering
    s.settimeout(10)
    s.connect((host, int(port)))
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" %
               (path, addr)).encode())
    deadline = time.monotonic() + max_time
    buf, body, how = b"", 0, "timeout"
    s.settimeout(0.5)
    while time.monotonic() < deadline:
        slow = slow_until is not None and not os.path.exists(slow_until)
        try:
            d = s.recv(16384 if slow else 1 << 20)
        except socket.timeout:
            continue
        except ConnectionResetError:
            how = "reset"
            break
        if not d:
            how = "eof"
            break
        if buf is not None:
            buf += d
            if b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                say("STATUS", lines[0])
                for l in lines[1:]:
                    if l.lower().startswith(("content-length:", "transfer-encoding:")):
                        say("HEADER", l.lower().replace(" ", ""))
                body, buf = len(rest), None
        else:
            body += len(d)
        if slow:
            time.sleep(0.1)
    say("END %s body=%d" % (how, body))


# ---- target: closes, resets, stalls --------------------------------------------------------

held = []


def rst(c):
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


def target_conn(c):
    c.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(65536)
        if not d:
            c.close()
            return
        data += d
    path = data.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1").split("?", 1)[0]
    parts = path.strip("/").split("/")
    kind, args = parts[0], [int(x) for x in parts[1:] if x.isdigit()]
    if kind == "close10":
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n" +
                  blob(args[0]))
        c.shutdown(socket.SHUT_WR)
        try:
            while c.recv(65536):
                pass
        except OSError:
            pass
        c.close()
    elif kind == "rst":
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % args[0] +
                  blob(args[0])[:args[1]])
        time.sleep(0.3)
        rst(c)
    elif kind == "rst10":
        c.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + blob(args[0]))
        time.sleep(0.3)
        rst(c)
    elif kind == "rsthead":
        rst(c)
    elif kind == "stall":
        held.append(c)
    elif kind == "stallbody":
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % args[0] +
                  blob(args[0])[:args[1]])
        held.append(c)
    elif kind == "blob":
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" %
                  args[0] + blob(args[0]))
        c.close()
    else:
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        c.close()


def target():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    say("listening on 127.0.0.1:%d" % s.getsockname()[1])
    while True:
        c, _ = s.accept()
        threading.Thread(target=target_conn, args=(c,), daemon=True).start()


# ---- announce: a fake server that sends X-Rdial-Listen, then dials --------------------------

def read_client_frames(buf):
    """Masked client frames at the start of buf -> ([(op, payload)], bytes used)."""
    out, off = [], 0
    while len(buf) - off >= 2:
        b0, b1 = buf[off], buf[off + 1]
        n, hl = b1 & 0x7F, 2
        if n == 126:
            if len(buf) - off < 4:
                break
            n, hl = struct.unpack(">H", buf[off + 2:off + 4])[0], 4
        elif n == 127:
            if len(buf) - off < 10:
                break
            n, hl = struct.unpack(">Q", buf[off + 2:off + 10])[0], 10
        if not b1 & 0x80:
            raise SystemExit("client sent an unmasked frame")
        if len(buf) - off < hl + 4 + n:
            break
        key = bytes(buf[off + hl:off + hl + 4])
        out.append((b0 & 0x0F, mask_bytes(bytes(buf[off + hl + 4:off + hl + 4 + n]), key)))
        off += hl + 4 + n
    return out, off


def announce(listen, targets, max_time):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    say("listening on 127.0.0.1:%d" % ls.getsockname()[1])
    ls.settimeout(max_time)
    c, _ = ls.accept()
    c.settimeout(max_time)
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(4096)
        if not d:
            raise SystemExit("client closed during the upgrade")
        head += d
    key = [l.split(b":", 1)[1].strip().decode() for l in head.split(b"\r\n")
           if l.lower().startswith(b"sec-websocket-key:")][0]
    accept = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nX-Rdial-Listen: %s\r\n"
               "\r\n" % (accept, listen)).encode())
    pending = {}
    for i, t in enumerate(targets):
        cid = 2 + i
        pending[cid] = t
        c.sendall(frame(OP_BINARY, encode(2 * i + 1, cid, CONNECT, t.encode()), masked=False) +
                  frame(OP_BINARY, encode(2 * i + 2, cid, DATA, b"GET / HTTP/1.0\r\n\r\n"),
                        masked=False))
    buf = bytearray()
    end = time.monotonic() + max_time
    while pending and time.monotonic() < end:
        c.settimeout(max(0.05, end - time.monotonic()))
        try:
            d = c.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
        frames, used = read_client_frames(buf)
        del buf[:used]
        for op, payload in frames:
            if op == OP_PING:
                c.sendall(frame(OP_PONG, payload, masked=False))
            if op != OP_BINARY:
                continue
            _, cid, mtype, body = decode(payload)
            if cid not in pending or mtype not in (DATA, ERROR):
                continue
            what = "DATA" if mtype == DATA else "ERROR " + body.decode("latin-1")
            say("RESULT", pending.pop(cid), what)
    say("DONE" if not pending else "TIMEOUT")
    c.close()


def main(argv):
    if len(argv) >= 2 and argv[0] == "blob":
        sys.stdout.buffer.write(blob(int(argv[1])))
        return 0
    if len(argv) >= 2 and argv[0] == "blobsha":
        for n in argv[1:]:
            say(hashlib.sha256(blob(int(n))).hexdigest())
        return 0
    if argv and argv[0] == "target":
        target()
        return 0
    opts = {}
    pos = []
    i = 0
    while i < len(argv):
        if argv[i].startswith("--"):
            opts[argv[i][2:]] = argv[i + 1]
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    if len(pos) == 3 and pos[0] == "serve":
        serve(pos[1], pos[2], int(opts.get("flood-rate", 8 << 20)),
              int(opts.get("flood-max", 512 << 20)), float(opts.get("max-time", 120)))
        return 0
    if len(pos) == 3 and pos[0] == "get":
        get(pos[1], pos[2], opts.get("slow-until"), float(opts.get("max-time", 30)))
        return 0
    if len(pos) >= 3 and pos[0] == "announce":
        announce(pos[1], pos[2:], float(opts.get("max-time", 10)))
        return 0
    if len(pos) == 4 and pos[0] == "abuse":
        return abuse(pos[1], pos[2], pos[3], float(opts.get("wait", 15)))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
