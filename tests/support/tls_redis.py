"""A throw-away Redis that speaks only TLS and wants a password, with a certificate made for the test."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.redis_server import free_port

PASSWORD = "rEdIs-pa55word-SECRET"
ACL_USER = "notifier"
ACL_PASSWORD = "acl-pa55word-SECRET"


def make_certificate(directory: Path) -> tuple[Path, Path] | str:
    """A self-signed certificate for 127.0.0.1 (it is its own CA); a reason string when it cannot be made."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return "no openssl binary to make a test certificate"
    cert, key = directory / "cert.pem", directory / "key.pem"
    done = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        return f"openssl could not make a certificate: {done.stderr.strip()[:200]}"
    return cert, key


class TLSRedis:
    def __init__(self, binary: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="notifier-test-tls-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.binary = binary

    def start(self) -> str | None:
        """None once it answers over TLS; else why it cannot run here (the binary lacks TLS, say)."""
        made = make_certificate(self.dir)
        if isinstance(made, str):
            return made
        self.cert, key = made
        self.process = subprocess.Popen(
            [self.binary, "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
             "--tls-cert-file", str(self.cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(self.cert),
             "--tls-auth-clients", "no", "--requirepass", PASSWORD,
             "--user", ACL_USER, "on", f">{ACL_PASSWORD}", "~*", "&*", "+@all",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir), "--loglevel", "warning"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        client = redis.Redis.from_url(self.url(), password=PASSWORD)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return None
                except redis.ConnectionError:
                    if self.process.poll() is not None:
                        out = self.process.stdout.read() if self.process.stdout else ""
                        return f"{self.binary} cannot serve TLS: {out.strip()[-200:]}"
                    if time.monotonic() > deadline:
                        return f"{self.binary} did not answer over TLS within 10 s"
                    time.sleep(0.05)
        finally:
            client.close()

    def url(self, userinfo: str = "") -> str:
        return f"rediss://{userinfo}127.0.0.1:{self.port}/0?ssl_ca_certs={self.cert}"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
