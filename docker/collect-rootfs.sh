#!/bin/sh
# Lays out the runtime image's file system from a gatehouse binary built for glibc: in OUT/root
# the binary, every shared library it loads (as `ldd` names them, the loader included), the CA
# roots and a non-root user in /etc/passwd; OUT/data is the empty /data, which the Dockerfile
# copies apart so that it belongs to that user (a COPY keeps no owner from a build context).
#
#   docker/collect-rootfs.sh target/release/gatehouse OUT
#
# Used by docker/Dockerfile's `collect` stage, and by tests/test_container.py on a binary built
# on the host (no registry is needed to build the `runtime` stage from that tree).
set -eu
bin=$1
out=$2/root
uid=10001

mkdir -p "$out/usr/local/bin" "$out/etc/ssl/certs" "$out/tmp" "$2/data"
cp "$bin" "$out/usr/local/bin/gatehouse"
chmod 0755 "$out/usr/local/bin/gatehouse"

# `libfoo.so.6 => /lib/x86_64-linux-gnu/libfoo.so.6 (0x…)` and the loader's own
# `/lib64/ld-linux-x86-64.so.2 (0x…)`; `linux-vdso.so.1` is the kernel's and has no file.
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
  while read -r lib; do
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
  done

# Outbound TLS (SMTP, https backends, OIDC discovery) uses the Mozilla roots compiled into the
# binary; the system bundle is there for anything that reads SSL_CERT_FILE.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
else
  echo "collect-rootfs: no /etc/ssl/certs/ca-certificates.crt (install ca-certificates)" >&2
  exit 1
fi

printf 'root:x:0:0:root:/:/sbin/nologin\ngatehouse:x:%s:%s:gatehouse:/data:/sbin/nologin\n' "$uid" "$uid" >"$out/etc/passwd"
printf 'root:x:0:\ngatehouse:x:%s:\n' "$uid" >"$out/etc/group"
# glibc resolves names (a `postgres` service) through files, then DNS.
printf 'hosts: files dns\n' >"$out/etc/nsswitch.conf"
chown "$uid:$uid" "$2/data"
chmod 0700 "$2/data"
chmod 1777 "$out/tmp"
