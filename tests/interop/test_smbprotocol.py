"""Python smbprotocol's high-level API against nasd with encryption required: open, write,
read, seek, stat, scandir, rename, remove."""
import os
import stat as st

import pytest

smbclient = pytest.importorskip("smbclient")

from conftest import PASSWORD, USER  # noqa: E402


@pytest.fixture(scope="module")
def unc(server):
    smbclient.register_session("127.0.0.1", username=USER, password=PASSWORD, port=server.port,
                               encrypt=True)
    yield r"\\127.0.0.1\data"
    smbclient.reset_connection_cache()


def test_write_read_seek_stat(unc, server):
    path = unc + r"\py-file.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)
    with smbclient.open_file(path, mode="wb", port=server.port) as f:
        assert f.write(data) == len(data)
    with smbclient.open_file(path, mode="rb", port=server.port) as f:
        assert f.read() == data
        f.seek(1024 * 1024)
        assert f.read(100) == data[1024 * 1024:1024 * 1024 + 100]
        f.seek(-10, os.SEEK_END)
        assert f.read() == data[-10:]
    s = smbclient.stat(path, port=server.port)
    assert s.st_size == len(data)
    assert st.S_ISREG(s.st_mode)
    assert (server.share / "py-file.bin").read_bytes() == data


def test_scandir_rename_remove(unc, server):
    d = unc + r"\py-dir"
    smbclient.mkdir(d, port=server.port)
    for i in range(50):
        with smbclient.open_file(d + rf"\f{i:03}.txt", mode="w", port=server.port) as f:
            f.write(f"file {i}\n")
    names = sorted(e.name for e in smbclient.scandir(d, port=server.port))
    assert names == [f"f{i:03}.txt" for i in range(50)]
    entry = next(e for e in smbclient.scandir(d, port=server.port) if e.name == "f007.txt")
    assert entry.is_file() and not entry.is_dir()
    assert entry.smb_info.end_of_file == len("file 7\n")
    assert smbclient.stat(d + r"\f007.txt", port=server.port).st_size == len("file 7\n")
    smbclient.rename(d + r"\f007.txt", d + r"\seven.txt", port=server.port)
    assert (server.share / "py-dir" / "seven.txt").read_text() == "file 7\n"
    with pytest.raises(OSError):
        smbclient.stat(d + r"\f007.txt", port=server.port)
    for e in list(smbclient.scandir(d, port=server.port)):
        smbclient.remove(d + "\\" + e.name, port=server.port)
    smbclient.rmdir(d, port=server.port)
    assert not (server.share / "py-dir").exists()


def test_session_is_encrypted(unc, server):
    # smbprotocol refuses to continue if a response that must be encrypted is not; a
    # successful listing under encrypt=True shows the server encrypts.
    assert isinstance(list(smbclient.scandir(unc, port=server.port)), list)
