"""dnspython's DoT and DoH clients against a running rampart.

Usage: dnspython_encrypted.py CA_FILE DOT_ADDR DOH_URL

Asks www.example.org A (192.0.2.10 in the bundled example zone) over DoT,
three queries pipelined on one TLS connection, and over DoH with POST and
GET on HTTP/2. Prints one line per check and exits non-zero on the first
wrong answer.
"""
import socket
import ssl
import sys
import time

import dns.message
import dns.query
import dns.rdatatype

ca_file, dot_addr, doh_url = sys.argv[1:4]
host, port = dot_addr.rsplit(":", 1)
port = int(port)
WANT = "192.0.2.10"


def addresses(answer):
    return [r.address for rrset in answer.answer for r in rrset
            if rrset.rdtype == dns.rdatatype.A]


def check(what, answer, qid=None):
    got = addresses(answer)
    if WANT not in got or (qid is not None and answer.id != qid):
        print(f"{what}: wrong answer (id {answer.id}, want {qid}): {answer}")
        sys.exit(1)
    print(f"{what}: ok")


context = ssl.create_default_context(cafile=ca_file)
context.check_hostname = False  # the certificate names 127.0.0.1 and ns1

# DoT, one query, as dns.query.tls asks it.
q = dns.message.make_query("www.example.org", "A")
check("DoT", dns.query.tls(q, host, port=port, ssl_context=context, timeout=5))

# DoT pipelined: three queries written before any answer is read; the
# answers may come in any order (RFC 7766 6.2.1.1), matched by ID.
with socket.create_connection((host, port), timeout=5) as raw:
    with context.wrap_socket(raw) as s:
        queries = {}
        for i in range(3):
            q = dns.message.make_query("www.example.org", "A")
            q.id = 1000 + i
            queries[q.id] = q
            dns.query.send_tcp(s, q, expiration=time.time() + 5)
        for _ in range(3):
            answer, _ = dns.query.receive_tcp(s, expiration=time.time() + 5)
            if answer.id not in queries:
                print(f"DoT pipelined: unexpected id {answer.id}")
                sys.exit(1)
            check(f"DoT pipelined {answer.id}", answer, queries.pop(answer.id).id)

# DoH over HTTP/2 (httpx with h2), POST then GET.
if not dns.query._have_http2:
    print("DoH: dnspython has no HTTP/2 here")
    sys.exit(1)
for post in (True, False):
    q = dns.message.make_query("www.example.org", "A")
    answer = dns.query.https(q, doh_url, post=post, verify=ca_file, timeout=5)
    check(f"DoH {'POST' if post else 'GET'}", answer)
print("all ok")
