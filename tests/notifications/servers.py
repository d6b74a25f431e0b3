"""Real local servers for the sender tests: a threaded HTTP server answering with scripted status codes, and
a tiny SMTP server (enough of RFC 5321 for smtplib). Nothing of ours is mocked: the sender talks to these
over real sockets."""
from __future__ import annotations

import http.server
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """A scripted answer with a body and extra headers (a bare int answers with that status and `ok`)."""

    status: int
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class WebhookServer:
    url: str
    statuses: list[int | Answer]             # answers in order; the last one repeats
    received: list[Received] = field(default_factory=list)


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    """Serve on a thread for the block, then stop and close (the webhook and SMTP servers alike)."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def webhook_server(statuses: list[int | Answer]) -> Iterator[WebhookServer]:
    state = WebhookServer(url="", statuses=list(statuses))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append(Received(dict(self.headers.items()), body))
            answer = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
            if isinstance(answer, int):
                answer = Answer(answer)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/fieldservice"
    with serving(server):
        yield state


def closed_port_url() -> str:
    """A URL on a loopback port nobody listens on (bound, then closed): connection refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)


@contextmanager
def smtp_server(replies: dict[str, str] | None = None) -> Iterator[SmtpServer]:
    """`replies` overrides the reply to a command, e.g. {"RCPT": "550 5.1.1 no such mailbox"}; a refused
    command records nothing."""
    state = SmtpServer("127.0.0.1", 0)
    scripted = {verb.upper(): line for verb, line in (replies or {}).items()}

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode("ascii") + b"\r\n")

        def handle(self) -> None:
            self.reply("220 test-smtp ready")
            sender, recipients = "", []
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                command = line.decode("utf-8", "replace").strip()
                verb = command.split(" ", 1)[0].upper()
                if verb in scripted:
                    self.reply(scripted[verb])
                elif verb in ("EHLO", "HELO"):
                    self.wfile.write(b"250-test-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                elif verb == "MAIL":
                    sender, recipients = command.split(":", 1)[1].split()[0].strip("<>"), []
                    self.reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 end with <CRLF>.<CRLF>")
                    data = b""
                    while not data.endswith(b"\r\n.\r\n"):
                        chunk = self.rfile.readline()
                        if not chunk:
                            return
                        data += chunk
                    raw = data[:-5].replace(b"\r\n..", b"\r\n.")
                    state.messages.append(message_from_bytes(raw, policy=policy.default))  # type: ignore[arg-type]
                    state.envelopes.append((sender, recipients))
                    self.reply("250 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("250 OK")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    with serving(server):
        yield state
