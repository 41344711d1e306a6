"""smbtorture (Samba's conformance suite) against nasd.

Suites the server must pass completely, and — in test_compare_with_samba — suites where nasd
must pass at least as many subtests as Samba's own smbd on the same machine, same client."""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import PASSWORD, ROOT, USER, free_port, have
from torture import run_suite

pytestmark = pytest.mark.skipif(not have("smbtorture"), reason="smbtorture not installed")

MUST_PASS = ["smb2.connect", "smb2.tcon", "smb2.read", "smb2.rw", "smb2.mkdir", "smb2.credits",
             "smb2.session-id", "smb2.compound_find"]
COMPARE = ["smb2.getinfo", "smb2.setinfo", "smb2.dir", "smb2.create", "smb2.rename",
           "smb2.session", "smb2.compound", "smb2.ioctl"]


@pytest.mark.parametrize("suite", MUST_PASS)
def test_suite_passes_completely(server, suite):
    r = run_suite(suite, server.port, USER, PASSWORD)
    assert r.passed, f"{suite}: nothing passed\n{r.output[-3000:]}"
    assert not r.failed, f"{suite}: failures:\n" + "\n".join(f"- {k}: {v[:500]}" for k, v in r.failed.items())


@pytest.fixture(scope="module")
def samba(tmp_path_factory):
    if not have("smbd"):
        pytest.skip("samba not installed")
    base = tmp_path_factory.mktemp("samba")
    env = dict(os.environ, PEER_ROOT=str(base / "peer"))
    port = free_port()
    subprocess.run([str(ROOT / "scripts" / "samba-peer.sh"), "start", str(base / "data"), str(port), USER, PASSWORD],
                   capture_output=True, text=True, check=True, timeout=60, env=env)
    yield port
    subprocess.run([str(ROOT / "scripts" / "samba-peer.sh"), "stop"], check=False, timeout=60, env=env)


def test_compare_with_samba(server, samba):
    rows = []
    worse = []
    for suite in COMPARE:
        ours = run_suite(suite, server.port, USER, PASSWORD, timeout=300)
        theirs = run_suite(suite, samba, USER, PASSWORD, timeout=300)
        rows.append((suite, len(ours.passed), len(ours.failed), len(theirs.passed), len(theirs.failed)))
        if len(ours.passed) < len(theirs.passed):
            worse.append(suite)
        report = Path(os.environ.get("TORTURE_REPORT_DIR", "/tmp")) / f"torture-{suite}.txt"
        report.write_text("\n".join(f"{k}: {v}" for k, v in ours.failed.items()))
    table = "\n".join(f"{s:<16} nasd {p:>4} passed {f:>4} failed | smbd {sp:>4} passed {sf:>4} failed"
                      for s, p, f, sp, sf in rows)
    print("\nsmbtorture, nasd vs Samba smbd (same machine, same client):\n" + table)
    assert not worse, f"fewer subtests pass than on Samba in {worse}:\n{table}"
