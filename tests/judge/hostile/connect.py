# Try to reach a listener on the host's loopback (its port comes on stdin).
import socket
port = int(input())
try:
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.sendall(b"escaped")
    print("CONNECTED")
except OSError as e:
    print("blocked", type(e).__name__)
