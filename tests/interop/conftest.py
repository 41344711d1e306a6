"""Fixtures for the interoperability tests: a real `nasd` on a loopback port, with a
temporary database, one share and one user, driven by real clients (Samba's smbclient and
smbtorture, Python smbprotocol)."""
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NASD = Path(os.environ.get("NASD_BIN", ROOT / "target" / "debug" / "nasd"))
USER, PASSWORD = "alice", "Secret-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nasd(db: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(NASD), "--db", str(db), *args], input=stdin, text=True,
                          capture_output=True, check=True, timeout=60)


@dataclass
class Server:
    port: int
    share: Path
    db: Path
    proc: subprocess.Popen
    log: Path

    @property
    def unc(self) -> str:
        return f"//127.0.0.1/data"


def start_server(tmp: Path, extra_settings: dict[str, str] | None = None) -> Server:
    if not NASD.exists():
        pytest.fail(f"{NASD} is missing: build it first (cargo build -p nasd)")
    db = tmp / "nasd.db"
    share = tmp / "data"
    share.mkdir()
    nasd(db, "user", "add", USER, "--password-stdin", stdin=PASSWORD + "\n")
    nasd(db, "share", "add", "data", str(share), "--comment", "test data")
    for k, v in (extra_settings or {}).items():
        nasd(db, "setting", "set", k, v)
    port = free_port()
    log = tmp / "nasd.log"
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info"))
    proc = subprocess.Popen([str(NASD), "--db", str(db), "serve", "--listen", f"127.0.0.1:{port}",
                             "--threads", "2"], stdout=subprocess.DEVNULL,
                            stderr=open(log, "w"), env=env)
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"nasd exited early ({proc.returncode}): {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("nasd did not start listening")
    return Server(port, share, db, proc, log)


def stop_server(s: Server) -> None:
    s.proc.terminate()
    try:
        rc = s.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        s.proc.kill()
        pytest.fail("nasd did not stop within 20 s of SIGTERM")
    log = s.log.read_text()
    assert "panicked" not in log, log
    assert rc == 0, f"nasd exited with {rc} after SIGTERM: {log[-4000:]}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = start_server(tmp_path_factory.mktemp("nasd"))
    yield s
    stop_server(s)


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
