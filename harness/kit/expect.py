"""Failure messages students can act on: what was sent, what was expected,
what came back, the first byte that differs, and a command to see it by hand."""
import pytest

SHOWN = 60          # bytes of a payload shown in a message


def upstream_connection_problem(seen, stage):
    """What is wrong with the Connection field of a request the proxy sent an
    origin (seen, an origin.Request), or None. Up to stage 8 the proxy closes
    its origin connection after each response, and says so: "close". The
    reference (stage 9) keeps origin connections for the next request
    (solution/pool.h), so it must not say close."""
    value = (seen.header("Connection") or "").lower()
    if stage < 9 and value != "close":
        return f"Connection {seen.header('Connection')!r}, expected close"
    if stage >= 9 and "close" in value:
        return (f"Connection {seen.header('Connection')!r}: the reference keeps its origin "
                "connections, and must not ask for a close")
    return None


def show(data):
    """data as a short Python bytes literal with its length."""
    text = repr(data[:SHOWN]) + ("..." if len(data) > SHOWN else "")
    return f"{text} ({len(data)} bytes)"


def _byte(b):
    return f"0x{b:02x}" + (f" {chr(b)!r}" if 32 <= b < 127 else "")


def first_difference(expected, got):
    """Where got first differs from expected, in words, or None if equal."""
    for i, (e, g) in enumerate(zip(expected, got)):
        if e != g:
            return f"byte {i}: expected {_byte(e)}, got {_byte(g)}"
    if len(got) < len(expected):
        return f"byte {len(got)}: expected {_byte(expected[len(got)])}, got nothing (the reply ended)"
    if len(got) > len(expected):
        return f"byte {len(expected)}: expected nothing more, got {_byte(got[len(expected)])}"
    return None


def printf_arg(data):
    """A single-quoted printf format that prints exactly data."""
    out = []
    for b in data:
        c = chr(b)
        if c == "\n":
            out.append("\\n")
        elif c == "%":
            out.append("%%")
        elif 32 <= b < 127 and c not in "'\\":
            out.append(c)
        else:
            out.append(f"\\{b:03o}")
    return "'" + "".join(out) + "'"


def shell_printer(data, limit=400):
    """A shell command that prints exactly data: printf for the short parts,
    head -c N /dev/zero | tr for long runs of one byte. None if even that is
    longer than limit characters (a random payload, say)."""
    parts, i = [], 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        if j - i >= 16:
            parts.append(f"head -c {j - i} /dev/zero | tr '\\0' {printf_arg(data[i:i + 1])}"
                         if data[i] else f"head -c {j - i} /dev/zero")
            i = j
            continue
        k = i
        while k < len(data) and not data[k:k + 16] == data[k:k + 1] * 16:
            k += 1
        parts.append(f"printf {printf_arg(data[i:k])}")
        i = k
    text = parts[0] if len(parts) == 1 else "{ " + "; ".join(parts) + "; }"
    return text if len(text) <= limit else None


def fail(summary, *lines):
    """Fail the test with a summary line (the table's reason) and details."""
    pytest.fail("\n".join((summary,) + tuple("  " + l for l in lines if l)), pytrace=False)


def expect_reply(what, sent, expected, reply, repro=None, closed=True):
    """Fail unless reply.data == expected (and, if closed, the server then
    closed the connection), showing all four sides of it."""
    diff = first_difference(expected, reply.data)
    if diff is None and closed and reply.end != "closed":
        fail(f"{what}: the reply was right, but the server did not close the connection",
             f"sent:     {show(sent)}",
             f"got:      {show(reply.data)}, {reply.ending()}",
             "expected: the server closes the connection once the client is done "
             "(is every accepted descriptor closed?)",
             f"reproduce by hand: {repro}" if repro else "")
    if diff is None:
        return
    fail(f"{what}: the reply differs at {diff.split(':')[0]}",
         f"sent:     {show(sent)}",
         f"expected: {show(expected)}",
         f"got:      {show(reply.data)}, {reply.ending()}",
         f"first difference at {diff}",
         f"reproduce by hand: {repro}" if repro else "")
