#!/usr/bin/env bash
# .ci/deps.sh — installs what the tests need, only what is missing (Debian packages via apt-get,
# with one `apt-get update` first when something is missing), and checks the Rust target.
# Debian's docker-registry is installed as a program only: the tests start their own registry on a
# random loopback port, so the packaged service (port 5000) is kept stopped and disabled.
# Quiet unless something fails.
set -Eeuo pipefail
trap 'echo "deps.sh: line $LINENO: failed: $BASH_COMMAND" >&2' ERR

PACKAGES=(docker-registry apache2-utils unzip python3 curl chromium chromium-driver libc6-dev iproute2 minisign skopeo nginx-light)
RUST_TARGET=x86_64-unknown-linux-gnu

die() { echo "deps.sh: $*" >&2; exit 1; }
installed() { [[ "$(dpkg-query -W -f '${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]; }

missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done

if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || die "need root to install: ${missing[*]}"
  log=$(mktemp /tmp/budgetguard-deps.XXXXXX.log)
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  # A source that cannot be reached makes `apt-get update` fail as a whole: go on, the install
  # below says whether what we need could be found.
  apt-get "${apt_opts[@]}" update >>"$log" 2>&1 || echo "(apt-get update reported errors)" >>"$log"
  # Keep packaged services from starting during the install (docker-registry's postinst would
  # start one on port 5000), unless the machine already has a policy of its own.
  policy=/usr/sbin/policy-rc.d added_policy=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, from .ci/deps.sh\nexit 101\n' >"$policy"; chmod 0755 "$policy"; added_policy=1
  fi
  rc=0
  apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}" >>"$log" 2>&1 || rc=$?
  [[ -n $added_policy ]] && rm -f "$policy"
  if ((rc != 0)); then
    tail -40 "$log" >&2
    die "apt-get install ${missing[*]} failed (exit $rc); full log: $log"
  fi
  rm -f "$log"
  for p in "${missing[@]}"; do installed "$p" || die "$p still not installed after apt-get install"; done
fi

# The packaged docker-registry service: stopped and disabled (idempotent, no-op when it is).
if installed docker-registry; then
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    systemctl is-active --quiet docker-registry.service 2>/dev/null && systemctl stop docker-registry.service >/dev/null 2>&1
    systemctl is-enabled --quiet docker-registry.service 2>/dev/null && systemctl disable docker-registry.service >/dev/null 2>&1
  fi
  pidfile=/var/run/docker-registry.pid
  if [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null \
     && [[ "$(readlink "/proc/$(cat "$pidfile")/exe" 2>/dev/null)" == /usr/bin/docker-registry ]]; then
    /etc/init.d/docker-registry stop >/dev/null 2>&1 || kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
  if compgen -G '/etc/rc[2-5].d/S*docker-registry' >/dev/null && command -v update-rc.d >/dev/null; then
    update-rc.d docker-registry disable >/dev/null 2>&1 || true
  fi
  if ! [[ -d /run/systemd/system ]] && command -v deb-systemd-helper >/dev/null \
     && deb-systemd-helper --quiet is-enabled docker-registry.service 2>/dev/null; then
    deb-systemd-helper disable docker-registry.service >/dev/null 2>&1 || true
  fi
fi

# Rust: the tests build for the host target (static binaries with +crt-static need libc6-dev).
command -v rustc >/dev/null || die "rustc is missing (the machine's Rust toolchain is expected)"
if command -v rustup >/dev/null; then
  if ! rustup target list --installed 2>/dev/null | grep -qx "$RUST_TARGET"; then
    out=$(rustup target add "$RUST_TARGET" 2>&1) || { echo "$out" >&2; die "rustup target add $RUST_TARGET failed"; }
  fi
else
  host=$(rustc -vV | sed -n 's/^host: //p')
  [[ $host == "$RUST_TARGET" ]] || die "rustc host is $host and rustup is missing to add $RUST_TARGET"
fi
