"""Samba's smbclient against nasd: every dialect, signed and encrypted sessions, a 100 MiB
round trip with matching checksums, directory operations, allinfo and share listing."""
import hashlib
import os
import subprocess

import pytest

from conftest import PASSWORD, USER

CONFIGS = [
    ("SMB3_11", "sign"),
    ("SMB3_11", "encrypt"),
    ("SMB3_00", "sign"),
    ("SMB2_10", "sign"),
    ("SMB2_02", "sign"),
]


def smbclient(server, cmds: str, proto: str = "SMB3_11", protection: str = "sign",
              share: str = "data", check: bool = True) -> str:
    args = ["smbclient", f"//127.0.0.1/{share}", "-p", str(server.port), "-U", f"{USER}%{PASSWORD}",
            "-m", proto, f"--client-protection={protection}", "-c", cmds]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    if check:
        assert p.returncode == 0, f"smbclient {cmds!r} failed ({p.returncode}):\n{out}"
        assert "NT_STATUS_" not in out, out
    return out


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("big") / "big.bin"
    with open(p, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(1 << 20))
    return p


@pytest.mark.parametrize("proto,protection", CONFIGS)
def test_put_get_100mib_round_trip(server, big_file, tmp_path, proto, protection):
    name = f"big-{proto}-{protection}.bin"
    back = tmp_path / "back.bin"
    smbclient(server, f"put {big_file} {name}; get {name} {back}", proto, protection)
    assert (server.share / name).stat().st_size == 100 << 20
    assert sha256(server.share / name) == sha256(big_file)
    assert sha256(back) == sha256(big_file)
    smbclient(server, f"del {name}", proto, protection)
    assert not (server.share / name).exists()


@pytest.mark.parametrize("proto,protection", CONFIGS)
def test_directory_operations(server, tmp_path, proto, protection):
    d = f"dir-{proto}-{protection}"
    src = tmp_path / "hello.txt"
    src.write_text("hello, nas\n")
    smbclient(server, f"mkdir {d}; cd {d}; put {src} hello.txt; rename hello.txt renamed.txt", proto, protection)
    assert (server.share / d / "renamed.txt").read_text() == "hello, nas\n"
    out = smbclient(server, f"cd {d}; ls", proto, protection)
    assert "renamed.txt" in out and "hello.txt" not in out
    out = smbclient(server, f"allinfo {d}\\renamed.txt", proto, protection)
    assert "create_time:" in out and "attributes:" in out and "stream: [::$DATA], 11 bytes" in out
    smbclient(server, f"cd {d}; del renamed.txt; cd ..; rmdir {d}", proto, protection)
    assert not (server.share / d).exists()


def test_ls_shows_files_made_on_the_server(server):
    (server.share / "MixedCase.TXT").write_text("x" * 1234)
    out = smbclient(server, "ls")
    line = next(l for l in out.splitlines() if "MixedCase.TXT" in l)
    assert "1234" in line
    # Case-insensitive lookup that preserves the on-disk spelling.
    out = smbclient(server, "allinfo mixedcase.txt")
    assert "1234" in out or "end_of_file" in out.lower()
    (server.share / "MixedCase.TXT").unlink()


def test_share_list(server):
    p = subprocess.run(["smbclient", "-L", "//127.0.0.1", "-p", str(server.port),
                        "-U", f"{USER}%{PASSWORD}", "-m", "SMB3_11"],
                       capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    lines = [l.split() for l in out.splitlines()]
    assert ["data", "Disk", "test", "data"] in lines, out
    assert any(l[:2] == ["IPC$", "IPC"] for l in lines if l), out


def test_wrong_password_is_refused(server):
    p = subprocess.run(["smbclient", "//127.0.0.1/data", "-p", str(server.port), "-U", f"{USER}%wrong",
                        "-m", "SMB3_11", "-c", "ls"], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "NT_STATUS_LOGON_FAILURE" in p.stdout + p.stderr


def test_unknown_share_is_bad_network_name(server):
    out = smbclient(server, "ls", share="nosuchshare", check=False)
    assert "NT_STATUS_BAD_NETWORK_NAME" in out
