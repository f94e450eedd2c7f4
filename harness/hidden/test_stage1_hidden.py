"""Stage 1 tests that never ship to students (harness/hidden/): the grader
runs them; a handout holds neither this directory nor its tests.

Each one has a line in rubric.txt like any other test, with the id
py:hidden/FILE::TEST and the visibility students get to see its result with
(hidden: never; after_due_date: once grades are out).
"""
import socket

from kit.client import connect, receive
from kit.expect import expect_reply

PROGRAM = "echoserver"


def test_echo_bytes_one_at_a_time(server):
    """Lines that arrive a byte per segment are echoed whole: the server's
    reading loop must not assume a line comes in one read."""
    data = b"one\ntwo, a little longer\n\nlast without newline"
    with connect(server.port) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
        s.shutdown(socket.SHUT_WR)
        reply = receive(s)
    expect_reply("echo of lines sent one byte per TCP segment", data, data, reply,
                 "./echoserver 5000   then:   printf 'one\\ntwo\\n' | "
                 "python3 -c 'import sys,socket; s=socket.create_connection((\"127.0.0.1\",5000)); "
                 "[s.send(bytes([b])) for b in sys.stdin.buffer.read()]; s.shutdown(1); "
                 "print(s.recv(100))'")
