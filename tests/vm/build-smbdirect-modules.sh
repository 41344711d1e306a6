#!/bin/bash
# Kept in the repository (from the workplace's shared VM notes, ../shared/vm) so that CI
# needs nothing outside the checkout; scripts/vm-test.sh runs it.
# Debian's kernels (bookworm 6.1, bookworm-backports 6.12, trixie 6.12, sid 7.x)
# all ship with CONFIG_CIFS_SMB_DIRECT and CONFIG_SMB_SERVER_SMBDIRECT unset.
# Rebuild just cifs.ko and ksmbd.ko out of tree, from Debian's own source
# (linux-source-6.1, same version as the image), with SMB Direct switched on,
# against linux-headers-$KVER.  Output: $W/smbd-mods/{cifs,ksmbd}.ko
set -euo pipefail
W=${W:-/var/tmp/vmprobe}
KVER=${KVER:-$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{sub("linux-image-","",$2); print $2; exit}')}
SRCPKG=${SRCPKG:-linux-source-6.1}
[ -d /usr/src/linux-headers-$KVER ] && [ -f /usr/src/$SRCPKG.tar.xz ] || \
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    linux-headers-$KVER $SRCPKG bc flex bison
rm -rf "$W/ksrc" && mkdir -p "$W/ksrc"
t0=$(date +%s)
tar -xJf /usr/src/$SRCPKG.tar.xz -C "$W/ksrc" --wildcards "$SRCPKG/fs/smb/*" \
  "$SRCPKG/scripts/asn1_compiler.c" "$SRCPKG/include/linux/asn1*.h" "$SRCPKG/fs/*.h"
S="$W/ksrc/$SRCPKG/fs/smb"
# Debian's linux-headers lack scripts/asn1_compiler: build it and pre-generate
# the client's SPNEGO asn1 decoder so kbuild does not need it.
gcc -I"$W/ksrc/$SRCPKG/include" -o "$W/ksrc/asn1_compiler" "$W/ksrc/$SRCPKG/scripts/asn1_compiler.c"
(cd "$S/client" && "$W/ksrc/asn1_compiler" cifs_spnego_negtokeninit.asn1 \
   cifs_spnego_negtokeninit.asn1.c cifs_spnego_negtokeninit.asn1.h)
(cd "$S/server" && for a in *.asn1; do [ -e "$a" ] && "$W/ksrc/asn1_compiler" "$a" "$a.c" "$a.h"; done; true)
# 6.1.192's ksmbd calls opinfo_put(NULL) from smb2_open() (stable-backport
# regression: upstream's opinfo_put() has a NULL check) -> oops on the first
# CREATE without an oplock.  Add the check.
if ! grep -q 'if (!opinfo)' <(sed -n '/^void opinfo_put/,/^}/p' "$S/server/oplock.c"); then
  sed -i '/^void opinfo_put(struct oplock_info \*opinfo)$/,/^{$/ s/^{$/{\n\tif (!opinfo)\n\t\treturn;/' "$S/server/oplock.c"
  echo "patched opinfo_put NULL check:"; sed -n '/^void opinfo_put/,/^}/p' "$S/server/oplock.c"
fi
# 6.1.192's smbd_send() (the client's SMBD send path; upstream replaced it with an
# iov_iter version) cuts messages into SMBD fragments wrongly in two places:
#  - a kvec piece that does not fit is given `max_iov_size - iov_len` bytes (negative when
#    the kvec is longer than one fragment) instead of `max_iov_size - buflen`, and resumes
#    at the wrong offset;
#  - each piece of a data page is sized by what is left of the whole message instead of
#    the page, so every page but the last is sent with bytes from past its end.
# The peer receives corrupted requests (signed ones fail verification: ksmbd logs "bad
# smb2 signature"), and when the memory after a page is unmapped the guest oopses in
# rxe_mr_copy. Fix both, so the reference client sends what it means to send.
C="$S/client/smbdirect.c"
if grep -q 'size = min_t(unsigned int, max_iov_size, remaining_data_length);' "$C"; then
  python3 - "$C" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old_kvec = '''				if (buflen + iov[i].iov_len > max_iov_size) {
					vecs[j].iov_len =
						max_iov_size - iov[i].iov_len;
					buflen = max_iov_size;
					offset = vecs[j].iov_len;
				} else {'''
new_kvec = '''				if (buflen + iov[i].iov_len - offset > max_iov_size) {
					vecs[j].iov_len =
						max_iov_size - buflen;
					buflen = max_iov_size;
					offset += vecs[j].iov_len;
				} else {'''
old_page = 'size = min_t(unsigned int, max_iov_size, remaining_data_length);'
new_page = 'size = min_t(unsigned int, max_iov_size, buflen - j * max_iov_size);'
if s.count(old_kvec) != 1 or s.count(old_page) != 1:
    sys.exit("smbd_send() is not the code this fix is for")
s = s.replace(old_kvec, new_kvec).replace(old_page, new_page)
open(p, "w").write(s)
PY
  echo "patched smbd_send() fragmenting (kvec piece length and offset, page piece size)"
fi
# 6.1.192's smbd_post_send_data() maps every kvec with sg_set_buf(), i.e. virt_to_page(),
# which is only right for the kernel's linear map. A compound request that needs padding
# (smb2_set_next_command(): the SET_INFO of a rename or hard link by path, the usual
# CREATE+SET_INFO+CLOSE) gets an extra kvec pointing at `smb2_padding`, a global in the
# module's own memory: virt_to_page() of that address is some unrelated page, so the
# padding goes out as whatever bytes that page holds. Unsigned, the server ignores them;
# signed, the signature (computed over the real zeros) no longer matches: ksmbd logs "bad
# smb2 signature", nasd answers ACCESS_DENIED. TCP sends kvecs by address and never sees
# it; upstream's iov_iter rewrite looks such pages up with vmalloc_to_page(). Do the same.
if grep -q 'sg_set_buf(&sgl\[i\], iov\[i\].iov_base, iov\[i\].iov_len);' "$C"; then
  python3 - "$C" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = '''		sg_set_buf(&sgl[i], iov[i].iov_base, iov[i].iov_len);
'''
new = '''		if (virt_addr_valid(iov[i].iov_base)) {
			sg_set_buf(&sgl[i], iov[i].iov_base, iov[i].iov_len);
		} else {
			/* module or vmalloc memory (smb2_padding): not in the linear map */
			unsigned long off = offset_in_page(iov[i].iov_base);

			if (off + iov[i].iov_len > PAGE_SIZE) {
				cifs_dbg(VFS, "kvec %d outside the linear map crosses a page\\n", i);
				return -EINVAL;
			}
			sg_set_page(&sgl[i], vmalloc_to_page(iov[i].iov_base),
				    iov[i].iov_len, off);
		}
'''
if s.count(old) != 1:
    sys.exit("smbd_post_send_data() is not the code this fix is for")
open(p, "w").write(s.replace(old, new))
PY
  echo "patched smbd_post_send_data() (kvecs outside the linear map, e.g. compound padding)"
fi
FLAGS="-DCONFIG_CIFS_SMB_DIRECT=1 -DCONFIG_SMB_SERVER_SMBDIRECT=1"
make -C /usr/src/linux-headers-$KVER M="$S/client" \
  CONFIG_CIFS=m CONFIG_CIFS_SMB_DIRECT=y KCFLAGS="$FLAGS" -j"$(nproc)" modules
make -C /usr/src/linux-headers-$KVER M="$S/server" \
  CONFIG_SMB_SERVER=m CONFIG_SMB_SERVER_SMBDIRECT=y KCFLAGS="$FLAGS" -j"$(nproc)" modules
mkdir -p "$W/smbd-mods"
cp "$S/client/cifs.ko" "$S/server/ksmbd.ko" "$W/smbd-mods/"
strip --strip-debug "$W/smbd-mods/"*.ko
t1=$(date +%s)
echo "module build: $((t1-t0))s"
for m in "$W/smbd-mods/"*.ko; do
  echo "== $m"; strings "$m" | grep -E "^(vermagic|depends)="
  nm "$m" | grep -cE 'smbd_|smb_direct' | sed 's/^/smbdirect symbols: /'
done
