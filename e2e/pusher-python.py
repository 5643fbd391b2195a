"""PyPI's `pusher` server library (3.3.4) against a running engine
(php-tests/PusherPythonTest.php starts it): every HTTP API call it makes,
and an error status. The browsers' side is played by a minimal WebSocket
client of the Pusher protocol (the standard library has none), only to
see what the library's calls do.

    e2e/.venv/bin/python e2e/pusher-python.py HOST:PORT APP_ID KEY SECRET

Prints one JSON object: what was seen. The PHP test asserts on it.
"""
import base64
import json
import os
import socket
import struct
import sys
import traceback

import pusher

address, app_id, key, secret = sys.argv[1:5]
host, port = address.rsplit(":", 1)
client = pusher.Pusher(app_id=app_id, key=key, secret=secret, host=host, port=int(port), ssl=False)
seen = {}


class Ws:
    """A Pusher WebSocket, `/app/{key}?protocol=7`: frames in and out."""

    def __init__(self):
        self.s = socket.create_connection((host, int(port)), timeout=5)
        nonce = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(
            (
                f"GET /app/{key}?protocol=7&client=py&version=1 HTTP/1.1\r\nHost: {address}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += self.read(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        hello = self.recv()
        assert hello["event"] == "pusher:connection_established", hello
        self.socket_id = json.loads(hello["data"])["socket_id"]

    def read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            if not chunk:
                raise EOFError("the server closed the connection")
            out += chunk
        return out

    def recv(self):
        """The next text frame, decoded; a close as {"close": code}."""
        while True:
            b0, b1 = self.read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.read(8))[0]
            payload = self.read(n)
            op = b0 & 0x0F
            if op == 8:
                return {"close": struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None}
            if op == 1:
                return json.loads(payload)

    def send(self, event, data):
        payload = json.dumps({"event": event, "data": data}).encode()
        mask = os.urandom(4)
        head = bytes([0x81]) + (bytes([0x80 | len(payload)]) if len(payload) < 126 else bytes([0xFE]) + struct.pack("!H", len(payload)))
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def subscribe(self, channel, auth=None):
        data = {"channel": channel}
        data.update(auth or {})
        self.send("pusher:subscribe", data)
        answer = self.recv()
        assert answer["event"] == "pusher_internal:subscription_succeeded", answer
        return answer


def main():
    a = Ws()
    a.subscribe("orders")
    a.subscribe("presence-room", client.authenticate("presence-room", a.socket_id, {"user_id": "1", "user_info": {"name": "one"}}))

    seen["trigger"] = client.trigger("orders", "shipped", {"id": 7})
    got = a.recv()
    seen["triggered"] = [got["event"], got["channel"], json.loads(got["data"])]
    seen["triggerBatch"] = client.trigger_batch(
        [{"channel": "orders", "name": "first", "data": "1"}, {"channel": "orders", "name": "second", "data": "2"}]
    )
    seen["batched"] = [a.recv()["event"], a.recv()["event"]]

    seen["channelsInfo"] = client.channels_info(prefix_filter="presence-", attributes=["user_count"])
    seen["channelInfo"] = client.channel_info("presence-room", ["user_count", "subscription_count"])
    seen["usersInfo"] = client.users_info("presence-room")

    # A user signed in: send_to_user reaches it, terminate closes it.
    b = Ws()
    b.send("pusher:signin", client.authenticate_user(b.socket_id, {"id": "alice", "name": "Alice"}))
    seen["signin"] = b.recv()["event"]
    seen["sendToUser"] = client.send_to_user("alice", "note", {"n": 1})
    got = b.recv()
    seen["toUser"] = [got["event"], got["channel"], json.loads(got["data"])]
    seen["terminate"] = client.terminate_user_connections("alice")
    seen["terminated"] = b.recv()

    # Error statuses, as the library raises them.
    try:
        client.channels_info(attributes=["user_count"])
        seen["badRequest"] = "no error"
    except pusher.errors.PusherBadRequest as e:
        seen["badRequest"] = json.loads(str(e))
    wrong = pusher.Pusher(app_id=app_id, key=key, secret="not-the-secret", host=host, port=int(port), ssl=False)
    try:
        wrong.trigger("orders", "x", "y")
        seen["badAuth"] = "no error"
    except pusher.errors.PusherBadAuth as e:
        seen["badAuth"] = json.loads(str(e))


try:
    main()
    print(json.dumps(seen))
except Exception:
    seen["failure"] = traceback.format_exc()
    print(json.dumps(seen))
    sys.exit(1)
