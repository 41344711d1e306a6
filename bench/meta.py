#!/usr/bin/env python3
"""meta.py HOST PORT SHARE USER PASS DIR N: N x (create + close) of new files through Python
smbprotocol, then a listing of them (scandir, best of three), then their deletion; one JSON line out."""
import json
import sys
import time

import smbclient


def main():
    host, port, share, user, pw, d, n = sys.argv[1:8]
    port, n = int(port), int(n)
    smbclient.register_session(host, username=user, password=pw, port=port, encrypt=False)
    base = "\\\\%s\\%s\\%s" % (host, share, d)
    smbclient.mkdir(base, port=port)
    t0 = time.perf_counter()
    for i in range(n):
        with smbclient.open_file("%s\\f%06d" % (base, i), mode="xb", port=port):
            pass
    t1 = time.perf_counter()
    # The listing is short and client-bound (smbprotocol parses in Python): best of three.
    list_s = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        count = sum(1 for _ in smbclient.scandir(base, port=port))
        list_s = min(list_s, time.perf_counter() - t)
        assert count == n, (count, n)
    for i in range(n):
        smbclient.remove("%s\\f%06d" % (base, i), port=port)
    smbclient.rmdir(base, port=port)
    print(json.dumps({"create_per_s": n / (t1 - t0), "list_per_s": n / list_s, "n": n}))


if __name__ == "__main__":
    main()
