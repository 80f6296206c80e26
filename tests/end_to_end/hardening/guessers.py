#!/usr/bin/env python3
"""Password guessers for the throttle test: THREADS threads spread over
loopback source addresses 127.0.0.2 and up (std Rust cannot bind a source
address before connecting; Python's socket module can), each guessing
NAME's password on the terminal protocol until SECONDS have passed.

usage: guessers.py HOST PORT NAME ADDRESSES THREADS SECONDS
Prints one line at the end: `guesses=N throttled=M busy=B`.
Traffic goes only to the loopback address given."""
import socket
import sys
import threading
import time

host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
addresses, threads, seconds = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
assert host.startswith("127."), "loopback only"
deadline = time.monotonic() + seconds
counts = {"guesses": 0, "throttled": 0, "busy": 0}
lock = threading.Lock()


def count(key):
    with lock:
        counts[key] += 1


def guess(source):
    while time.monotonic() < deadline:
        try:
            sock = socket.socket()
            sock.settimeout(2)
            sock.bind((source, 0))
            sock.connect((host, port))
            lines = sock.makefile("rwb")
            lines.readline()  # the welcome
            lines.write(name.encode() + b"\n")
            lines.flush()
            lines.readline()  # the password prompt
            while time.monotonic() < deadline:
                lines.write(b"not-the-password\n")
                lines.flush()
                answer = lines.readline()
                if not answer:
                    break
                if b"too many attempts" in answer:
                    count("throttled")
                    time.sleep(0.05)
                elif b"busy" in answer:
                    count("busy")
                    time.sleep(0.01)
                else:
                    count("guesses")
                if not lines.readline():  # the prompt again, or the end
                    break
            sock.close()
        except OSError:
            time.sleep(0.05)


workers = [
    threading.Thread(target=guess, args=(f"127.0.0.{2 + i % addresses}",))
    for i in range(threads)
]
for w in workers:
    w.start()
for w in workers:
    w.join()
print("guesses={guesses} throttled={throttled} busy={busy}".format(**counts))
