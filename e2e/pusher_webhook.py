"""Checks Pusher webhooks with PyPI's pusher library (the Python server
library's own validator), for php-tests/PusherTest.php.

    e2e/.venv/bin/python e2e/pusher_webhook.py APP_ID KEY SECRET < requests.json

Reads a JSON list of {key, signature, body} and prints a JSON list: for each
request, what Pusher.validate_webhook() returned (the decoded body when the
signature, key and time are valid, else null).
"""
import json
import sys

import pusher

app_id, key, secret = sys.argv[1:4]
client = pusher.Pusher(app_id=app_id, key=key, secret=secret)
out = []
for request in json.load(sys.stdin):
    out.append(client.validate_webhook(request["key"], request["signature"], request["body"]))
json.dump(out, sys.stdout)
