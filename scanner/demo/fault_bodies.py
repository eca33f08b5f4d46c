"""The wire-fault kinds and the bodies a broken network answers with, shared by the fault proxy
in front of plain-HTTP servers (tests/servers/fault_proxy.py) and the ARM shape server (which
injects them itself: bearer tokens only travel over TLS, where no plain proxy can sit). They
live here because the demo package may not import the tests.
"""

from __future__ import annotations

KINDS = ("empty", "html", "cut", "garbage", "500", "403", "throttle", "reset", "stall")
CAPTIVE_PORTAL = (
    b"<!DOCTYPE html><html><head><title>Sign in to the network</title></head><body>"
    b"<form action='/login'><p>Please accept the terms of use to continue.</p>"
    b"<input type='submit' value='Accept'></form></body></html>"
)
GATEWAY_500 = (
    b"<html><head><title>500 Internal Server Error</title></head><body><h1>500</h1></body></html>"
)
PROXY_403 = b"<html><head><title>403 Forbidden</title></head><body>Blocked by policy</body></html>"
GARBAGE = bytes((i * 73 + 41) % 256 for i in range(128))
