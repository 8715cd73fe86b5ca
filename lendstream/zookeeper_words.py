"""ZooKeeper's four-letter words (``srvr``, ``ruok``) with Python's standard library only, over
mutual TLS when the member's client port asks for it (the zookeeper role's client TLS), else in
plaintext.

Standard library only, and runnable as a script, because it also runs where lendstream is not
installed: on a cluster node as root with the node's own certificate (the chaos probes and
testinfra send this file's source to ``python3 -c``)::

    python3 zookeeper_words.py WORD PORT HOST...   # prints "<host> <answer as JSON>" per host

A member in the client port's TLS phases 1 to 3 accepts TLS, in phases 0 to 2 plaintext: asking
over TLS first and in plaintext when that gets no answer reads every phase.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
from dataclasses import dataclass

# Role pki's files on every node (root-readable key).
NODE_CA_FILE = "/etc/lendstream/tls/ca.crt"
NODE_CERT_FILE = "/etc/lendstream/tls/node.crt"
NODE_KEY_FILE = "/etc/lendstream/tls/node.key"


@dataclass(frozen=True)
class ClientTls:
    """The CA that signs the members' certificates and this client's certificate and key (one
    PEM file may hold both: then key_file is empty)."""

    ca_file: str
    cert_file: str
    key_file: str = ""

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        context.load_cert_chain(self.cert_file, self.key_file or None)
        return context


NODE_TLS = ClientTls(NODE_CA_FILE, NODE_CERT_FILE, NODE_KEY_FILE)


def ask(
    host: str, port: int, word: str, timeout_s: float, context: ssl.SSLContext | None = None
) -> str | None:
    """The member's whole answer to ``word`` (it closes after answering); None when it answered
    nothing (refused, hung up, timed out)."""
    answer = b""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw:
            raw.settimeout(timeout_s)
            connection = context.wrap_socket(raw, server_hostname=host) if context else raw
            connection.sendall(word.encode())
            while chunk := connection.recv(4096):
                answer += chunk
    except (OSError, ssl.SSLError):
        pass  # an answer already read stands (a TLS peer may close without close_notify)
    return answer.decode(errors="replace") if answer else None


def four_letter_word(
    host: str, port: int, word: str, timeout_s: float, tls: ClientTls | None = None
) -> str | None:
    """``word``'s answer, over TLS with ``tls`` first (when given and its files are readable),
    then in plaintext."""
    if tls is not None:
        try:
            context: ssl.SSLContext | None = tls.context()
        except (OSError, ssl.SSLError):
            context = None
        if context is not None and (answer := ask(host, port, word, timeout_s, context)):
            return answer
    return ask(host, port, word, timeout_s)


def srvr_mode(answer: str | None) -> str | None:
    """The ``Mode:`` of a ``srvr`` answer (leader, follower, standalone); None without one."""
    for line in (answer or "").splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


def main(argv: list[str]) -> int:
    word, port, hosts = argv[0], int(argv[1]), argv[2:]
    for host in hosts:
        print(host, json.dumps(four_letter_word(host, port, word, 5.0, NODE_TLS)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
