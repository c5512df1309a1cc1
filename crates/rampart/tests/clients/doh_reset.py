"""An HTTP/2 DoH client that resets its stream while the answer is
being made (as a "rapid reset" attacker does, once).

Usage: doh_reset.py HOST PORT NAME HOLD_SECONDS

Opens TLS with ALPN h2, sends one GET for NAME A, resets the stream
(CANCEL) half a second later, and keeps the connection open for
HOLD_SECONDS before printing "reset" and closing it.
"""
import base64
import socket
import ssl
import struct
import sys
import time

import h2.config
import h2.connection

host, port, name, hold = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["h2"])
sock = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname="localhost")
if sock.selected_alpn_protocol() != "h2":
    sys.exit("the server did not choose h2")
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
sock.sendall(conn.data_to_send())

wire_name = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\0"
query = struct.pack(">HHHHHH", 0, 0x0100, 1, 0, 0, 0) + wire_name + struct.pack(">HH", 1, 1)
path = "/dns-query?dns=" + base64.urlsafe_b64encode(query).decode().rstrip("=")
stream = conn.get_next_available_stream_id()
conn.send_headers(
    stream,
    [(":method", "GET"), (":path", path), (":scheme", "https"), (":authority", "localhost")],
    end_stream=True,
)
sock.sendall(conn.data_to_send())
time.sleep(0.5)
conn.reset_stream(stream, error_code=8)
sock.sendall(conn.data_to_send())
time.sleep(hold)
print("reset")
sock.close()
