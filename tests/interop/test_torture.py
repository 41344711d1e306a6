"""smbtorture (Samba's conformance suite) against nasd.

Suites the server must pass completely, and — in test_compare_with_samba — suites where nasd
must pass at least as many subtests as Samba's own smbd on the same machine, same client."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import PASSWORD, ROOT, USER, free_port, have
from torture import run_suite

pytestmark = pytest.mark.skipif(not have("smbtorture"), reason="smbtorture not installed")

MUST_PASS = ["smb2.connect", "smb2.tcon", "smb2.read", "smb2.rw", "smb2.mkdir", "smb2.credits",
             "smb2.session-id", "smb2.compound_find"]
# Suites compared with Samba's smbd. The goal is "at least as many as smbd"; until
# every suite is there, each has a floor (the count nasd reached when it was last raised), so a
# regression fails the tests while the printed table shows the distance to smbd.
# smb2.create was held at 12 while aclfile/acldir (and multi) failed now and then with
# OBJECT_PATH_NOT_FOUND: a worker's case-insensitive lookup cache still listed a name another
# worker had removed (fixed in smb-vfs, tests/case_cache.rs); 14 in 30 runs out of 30 since.
FLOORS = {"smb2.getinfo": 6, "smb2.setinfo": 0, "smb2.dir": 5, "smb2.create": 14, "smb2.rename": 11,
          "smb2.session": 58, "smb2.compound": 18, "smb2.ioctl": 43}
COMPARE = list(FLOORS)


@pytest.mark.parametrize("suite", MUST_PASS)
def test_suite_passes_completely(server, suite):
    r = run_suite(suite, server.port, USER, PASSWORD)
    assert r.passed, f"{suite}: nothing passed\n{r.output[-3000:]}"
    assert not r.failed, f"{suite}: failures:\n" + "\n".join(f"- {k}: {v[:500]}" for k, v in r.failed.items())


@pytest.fixture(scope="module")
def samba(tmp_path_factory):
    if not have("smbd"):
        pytest.skip("samba not installed")
    # smbd serves files as the user (not root): the share must be reachable by everyone,
    # which pytest's private temporary directories are not.
    base = Path(tempfile.mkdtemp(prefix="nasd-torture-samba-", dir="/var/tmp"))
    base.chmod(0o755)
    env = dict(os.environ, PEER_ROOT=str(base / "peer"))
    port = free_port()
    subprocess.run([str(ROOT / "scripts" / "samba-peer.sh"), "start", str(base / "data"), str(port), USER, PASSWORD],
                   capture_output=True, text=True, check=True, timeout=60, env=env)
    yield port
    subprocess.run([str(ROOT / "scripts" / "samba-peer.sh"), "stop"], check=False, timeout=60, env=env)
    shutil.rmtree(base, ignore_errors=True)


def test_compare_with_samba(server, samba, tmp_path):
    rows = []
    worse = []
    for suite in COMPARE:
        ours = run_suite(suite, server.port, USER, PASSWORD, timeout=300)
        theirs = run_suite(suite, samba, USER, PASSWORD, timeout=300)
        rows.append((suite, len(ours.passed), len(ours.failed), len(theirs.passed), len(theirs.failed)))
        if len(ours.passed) < FLOORS[suite]:
            worse.append(suite)
        report = Path(os.environ.get("TORTURE_REPORT_DIR", str(tmp_path))) / f"torture-{suite}.txt"
        report.write_text("\n".join(f"{k}: {v}" for k, v in ours.failed.items()))
    table = "\n".join(f"{s:<16} nasd {p:>4} passed {f:>4} failed | smbd {sp:>4} passed {sf:>4} failed"
                      for s, p, f, sp, sf in rows)
    print("\nsmbtorture, nasd vs Samba smbd (same machine, same client):\n" + table)
    # The comparison means something only if the peer itself works.
    assert sum(r[3] for r in rows) >= 50, f"the Samba peer passes almost nothing; is it set up right?\n{table}"

    assert not worse, f"fewer subtests pass than before (floors {FLOORS}) in {worse}:\n{table}"
