#!/usr/bin/env python3
"""Writes the seed inputs of the message, tsig, backend_answer, console and
rules fuzz targets: a few small valid messages each, built by hand here
(standard library only) so they can be made again and read.

Run from anywhere: python3 fuzz/seeds/make_seeds.py
"""
import base64
import hashlib
import hmac
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def name(text):
    out = b""
    for label in text.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(id_, flags, qd=0, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", id_, flags, qd, an, ns, ar)


def question(qname, qtype, qclass=1):
    return name(qname) + struct.pack(">HH", qtype, qclass)


def rr(owner, rtype, rdata, ttl=3600, rclass=1):
    if isinstance(owner, str):
        owner = name(owner)
    return owner + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def soa_rdata(mname, rname, serial):
    return name(mname) + name(rname) + struct.pack(">IIIII", serial, 3600, 900, 604800, 300)


def opt(options=b"", payload=1232, do=False):
    return b"\0" + struct.pack(">HHBBHH", 41, payload, 0, 0, 0x8000 if do else 0, len(options)) + options


def ecs_option(addr, prefix, scope):
    return struct.pack(">HHHBB", 8, 4 + len(addr), 1, prefix, scope) + addr


A, NS, CNAME, SOA, MX, TXT, AAAA, OPT, RRSIG, AXFR, ANY = 1, 2, 5, 6, 15, 16, 28, 41, 46, 252, 255

# --- message: UPDATE, NOTIFY, AXFR and IXFR answers ---------------------
update = (
    header(0x2b3c, 5 << 11, qd=1, an=1, ns=4)
    + question("example.org", SOA)
    # prerequisite: name in use (class ANY, no RDATA)
    + rr("www.example.org", ANY, b"", ttl=0, rclass=255)
    # update: add an A, delete an RRset (ANY), delete one RR (NONE), add MX
    + rr("new.example.org", A, bytes([192, 0, 2, 9]), ttl=300)
    + rr("old.example.org", A, b"", ttl=0, rclass=255)
    + rr("www.example.org", A, bytes([192, 0, 2, 1]), ttl=0, rclass=254)
    + rr(b"\xc0\x0c", MX, b"\x00\x0a" + name("mail.example.org"), ttl=300)
)
notify = (
    header(0x4d2, (4 << 11) | 0x0400, qd=1, an=1)
    + question("example.org", SOA)
    + rr(b"\xc0\x0c", SOA, b"\x02ns\xc0\x0c\x05admin\xc0\x0c" + struct.pack(">IIIII", 2024010101, 3600, 900, 604800, 300))
)
soa = b"\x02ns\xc0\x0c\x05admin\xc0\x0c" + struct.pack(">IIIII", 7, 3600, 900, 604800, 300)
axfr = (
    header(0x7777, 0x8400, qd=1, an=6)
    + question("example.org", AXFR)
    + rr(b"\xc0\x0c", SOA, soa)
    + rr(b"\xc0\x0c", NS, b"\x02ns\xc0\x0c")
    + rr(b"\x03www\xc0\x0c", A, bytes([192, 0, 2, 1]))
    + rr(b"\x03www\xc0\x0c", AAAA, bytes(15) + b"\x01")
    + rr(b"\x04Mail\xc0\x0c", TXT, b"\x0bhello world")
    + rr(b"\xc0\x0c", SOA, soa)
)
ixfr = (
    header(0x7778, 0x8400, qd=1, an=4)
    + question("example.org", 251)
    + rr(b"\xc0\x0c", SOA, soa)
    + rr(b"\xc0\x0c", SOA, soa)
    + rr(b"\x03www\xc0\x0c", A, bytes([192, 0, 2, 1]))
    + rr(b"\xc0\x0c", SOA, soa)
)
MESSAGES = {"update": update, "notify": notify, "axfr": axfr, "ixfr": ixfr}

# --- tsig: four control bytes, then a message --------------------------
SECRET = b"rampart fuzz secret, 32 bytes!!!"
KEY = name("fuzz-key")
ALG = name("hmac-sha256")
NOW = 1_700_000_000


def tsig_sign(msg, now=NOW, fudge=300):
    """Appends a TSIG RR (RFC 8945) signed with the fuzz key."""
    orig_id = msg[:2]
    time48 = struct.pack(">Q", now)[2:]
    variables = KEY + struct.pack(">HI", 255, 0) + ALG + time48 + struct.pack(">HHH", fudge, 0, 0)
    mac = hmac.new(SECRET, msg + variables, hashlib.sha256).digest()
    rdata = ALG + time48 + struct.pack(">HH", fudge, len(mac)) + mac + orig_id + struct.pack(">HH", 0, 0)
    arcount = struct.unpack(">H", msg[10:12])[0] + 1
    return msg[:10] + struct.pack(">H", arcount) + msg[12:] + rr(KEY, 250, rdata, ttl=0, rclass=255)


soa_query = header(0x1234, 0, qd=1) + question("example.org", SOA)
axfr_query = header(0x1235, 0, qd=1) + question("example.org", AXFR)
TSIG = {
    "soa-query": b"\x00\x10\x01\x00" + soa_query,
    "signed-soa-query": b"\x00\x20\x80\x00" + tsig_sign(soa_query),
    "signed-axfr-query": b"\x01\x00\x04\x00" + tsig_sign(axfr_query),
    "signed-update": b"\x00\x05\x20\x01" + tsig_sign(update),
    "notify-md5-key": b"\x00\x30\x02\x01" + notify,
}

# --- backend_answer: four control bytes, then a backend's answer --------
q_a = question("www.example.org", A)
BACKEND = {
    "a-with-ecs": b"\x03\x12\x18\x35"
    + header(0xbeef, 0x8180, qd=1, an=2, ar=1)
    + q_a
    + rr(b"\xc0\x0c", CNAME, b"\x04edge\xc0\x10", ttl=300)
    + rr(b"\x04edge\xc0\x10", A, bytes([198, 51, 100, 10]), ttl=60)
    + opt(ecs_option(bytes([192, 0, 2]), 24, 24)),
    "no-opt-added": b"\x00\x34\x20\x10"
    + header(0xbeef, 0x8180, qd=1, an=1, ar=1)
    + q_a
    + rr(b"\xc0\x0c", A, bytes([192, 0, 2, 1]), ttl=120)
    + opt(ecs_option(bytes([192, 0, 2]), 24, 0)),
    "nxdomain-soa": b"\x01\x56\x18\x02"
    + header(0xbeef, 0x8183, qd=1, ns=1, ar=1)
    + question("nope.example.org", AAAA)
    + rr(b"\xc0\x11", SOA, b"\x02ns\xc0\x11\x05admin\xc0\x11" + struct.pack(">IIIII", 1, 3600, 900, 604800, 300), ttl=900)
    + opt(b"\x00\x0a\x00\x08" + bytes(range(8)) + ecs_option(bytes([192, 0, 2]), 24, 0), do=True),
    "truncated": b"\x21\x00\x18\x00"
    + header(0xbeef, 0x8380, qd=1, an=1, ar=1)
    + question("big.example.org", TXT)
    + rr(b"\xc0\x0c", TXT, b"\x20" + b"x" * 32)
    + opt(),
    "servfail-header-only": b"\x40\x00\x00\x00" + header(0xbeef, 0x8182),
    "aaaa-rrsig": b"\x01\x77\x30\xff"
    + header(0xbeef, 0x8180, qd=1, an=2, ar=1)
    + question("www.example.org", AAAA)
    + rr(b"\xc0\x0c", AAAA, bytes(15) + b"\x01", ttl=3600)
    + rr(b"\xc0\x0c", RRSIG, struct.pack(">HBBIIIH", AAAA, 13, 3, 3600, 0, 0, 1) + name("example.org") + bytes(64))
    + opt(do=True),
}

# --- console: frames from a peer ----------------------------------------
nonce = bytes(range(24))
CONSOLE = {
    "nonce-keepalive-frame": nonce + b"\0\0\0\0" + struct.pack(">I", 30) + bytes(range(30)),
    "plaintext": b"showServers()\n",
    "long-frame": nonce + struct.pack(">I", 100000) + b"short",
}

# --- rules: queries ----------------------------------------------------
cookie = b"\x00\x0a\x00\x08" + bytes(range(8))


def query(id_, qname, qtype, flags=0x0100, edns=None, qclass=1):
    q = header(id_, flags, qd=1, ar=1 if edns is not None else 0) + question(qname, qtype, qclass)
    if edns is not None:
        q += opt(edns)
    return q


RULES = {
    "block": query(0x0001, "x.block2.test", A),
    "ads": query(0x0102, "ads12.example", A),
    "ads-aaaa-edns": query(0x0103, "ad.example", AAAA, edns=b""),
    "txt-spoof": query(0x4004, "www.spoof.test", TXT, edns=cookie),
    "cname": query(0x8005, "www.cname.test", MX),
    "negative": query(0x0006, "no.neg.test", A, edns=b""),
    "update": update,
    "any-udp": query(0x0007, "example.org", ANY),
    "chaos": query(0xc008, "version.bind", TXT, qclass=3),
    "planned-c": query(0x0089, "d.c.test", A, edns=cookie),
}

TARGETS = {"message": MESSAGES, "tsig": TSIG, "backend_answer": BACKEND, "console": CONSOLE, "rules": RULES}

for target, seeds in TARGETS.items():
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    for seed, data in seeds.items():
        with open(os.path.join(HERE, target, seed), "wb") as f:
            f.write(data)
print("wrote", sum(len(s) for s in TARGETS.values()), "seeds;", base64.b64encode(SECRET).decode())
