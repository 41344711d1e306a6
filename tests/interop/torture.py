"""Run smbtorture suites and count subtests from its subunit output."""
import re
import subprocess
from dataclasses import dataclass, field


@dataclass
class SuiteResult:
    suite: str
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    output: str = ""


def parse_subunit(suite: str, text: str) -> SuiteResult:
    r = SuiteResult(suite, output=text)
    started: list[str] = []
    done: set[str] = set()
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(test|success|successful|failure|fail|error|skip|xfail|uxsuccess): (.*?)( \[)?$", line)
        i += 1
        if not m:
            continue
        kind, name, block = m.group(1), m.group(2).strip(), m.group(3)
        detail = []
        if block:
            while i < len(lines) and lines[i] != "]":
                detail.append(lines[i])
                i += 1
            i += 1
        if kind == "test":
            started.append(name)
        elif kind in ("success", "successful", "xfail"):
            r.passed.append(name)
            done.add(name)
        elif kind == "skip":
            r.skipped.append(name)
            done.add(name)
        else:
            r.failed[name] = "\n".join(detail)[:2000]
            done.add(name)
    for name in started:
        if name not in done:
            r.failed[name] = "started but never finished (crash or timeout)"
    return r


def run_suite(suite: str, port: int, user: str, password: str, share: str = "data",
              timeout: int = 600, extra: list[str] | None = None) -> SuiteResult:
    args = ["smbtorture", f"//127.0.0.1/{share}", "-p", str(port), "-U", f"{user}%{password}",
            "--format=subunit", f"--maximum-runtime={timeout}", *(extra or []), suite]
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30)
        out = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += "\n[smbtorture timed out]"
    r = parse_subunit(suite, out)
    if not r.passed and not r.failed and not r.skipped:
        r.failed[suite] = "no subunit output:\n" + out[-2000:]
    return r
