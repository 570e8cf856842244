#!/usr/bin/env bash
# .ci/engines.sh — the Docker engines the tests run against, beside the machine's own
# Docker 20.10 (unix:///var/run/docker.sock), which this script never stops or reconfigures:
#   docker26-classic     Docker 26.1, classic overlay2 image store   unix:///run/budgetguard/e26.sock
#   docker26-containerd  Docker 26.1, containerd image store         unix:///run/budgetguard/e26c.sock
# Both come from Debian 13 (trixie) .debs, unpacked with dpkg -x (never installed) into a cache,
# and each runs with its own containerd 1.7, data root, exec root, bridge and address pools.
# `up` also installs Compose v2 (2.26) as a CLI plugin (`docker compose`); Compose v1 is left alone.
#
#   engines.sh up       start what is missing (downloads once into /var/cache/budgetguard-ci)
#   engines.sh down     stop what `up` started; remove its bridges, data and exec roots
#   engines.sh env      print `export BUDGETGUARD_TEST_ENGINES=label=url,...` (engines that answer)
#   engines.sh status   one line per engine
#   engines.sh check    smoke test: import an image, `run -p` and curl it on every engine,
#                       container-to-container traffic, and image isolation between engines
set -Eeuo pipefail
trap 'echo "engines.sh: line $LINENO: failed: $BASH_COMMAND" >&2' ERR

CACHE=${BUDGETGUARD_CI_CACHE:-/var/cache/budgetguard-ci}
ROOT=$CACHE/root                      # unpacked Debian 13 packages
RUN=/run/budgetguard                  # sockets, pid files, exec roots
LIB=/var/lib/budgetguard              # data roots (removed by `down`)
LOG=/var/log/budgetguard-ci
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins   # searched by every docker CLI, whatever $HOME is
TIMEOUT=${BUDGETGUARD_ENGINE_TIMEOUT:-90}
SYSTEM_SOCK=/var/run/docker.sock
SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Debian 13 packages to unpack. runc is NOT among them: trixie's runc needs glibc 2.38 and
# Debian 12 has 2.36, so the engines use the machine's /usr/sbin/runc (1.1.x, fine for 26.1).
DEBS=(docker.io docker-cli docker-compose containerd tini busybox-static)
# Address plan: all inside 172.16.0.0/16, which is outside the default pools of every Docker
# (172.17-31.0.0/16, 192.168.0.0/16), so the 26 engines and the machine's 20.10 never pick
# overlapping subnets for their networks (172.29/172.30 would sit inside 20.10's pools).
ALL_POOLS=172.16.0.0/16
FWD_COMMENT=budgetguard-ci-engines
# name  label                bridge    bridge address   address pool for networks  containerd store
ENGINES=(
  "e26  docker26-classic     br-bg26   172.16.26.1/24   172.16.64.0/18             false"
  "e26c docker26-containerd  br-bg26c  172.16.27.1/24   172.16.128.0/18            true"
)

die() { echo "engines.sh: $*" >&2; exit 1; }
# run quietly; on failure show the command's output
quiet() {
  local out
  if ! out=$("$@" 2>&1); then echo "$out" | tail -40 >&2; die "failed: $*"; fi
}
have() { command -v "$1" >/dev/null 2>&1; }

alive() { # pid → true if the process exists and is not a zombie (PID 1 here may not reap)
  local pid=${1:-}
  [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/stat ]] || return 1
  local st; st=$(sed -E 's/^.*\) (.).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $st != Z && $st != X ]]
}
pid_of() { [[ -s $1 ]] && tr -dc 0-9 <"$1" || true; }
exe_is() { [[ "$(readlink "/proc/$1/exe" 2>/dev/null)" == "$2" ]]; }

ping_engine() { # unix socket path → true when the engine answers /_ping
  [[ -S $1 ]] || return 1
  if have curl; then
    [[ "$(curl -s --max-time 5 --unix-socket "$1" http://engine/_ping 2>/dev/null)" == OK ]]
  else
    timeout 10 "$(cli)" -H "unix://$1" version >/dev/null 2>&1
  fi
}
cli() { if [[ -x $ROOT/usr/bin/docker ]]; then echo "$ROOT/usr/bin/docker"; else echo docker; fi; }

engine_vars() { # "line" → n label br addr pool c8d, plus the derived paths
  read -r n label br addr pool c8d <<<"$1"
  sock=$RUN/$n.sock
  pidfile=$RUN/$n.pid
  execroot=$RUN/$n
  ctd_state=$RUN/$n-containerd
  ctd_sock=$ctd_state/containerd.sock
  ctd_pidfile=$RUN/$n-containerd.pid
  data=$LIB/$n
}

# ---------------------------------------------------------------- downloads (cached)
fetch_debs() {
  local stamp=$ROOT/.complete want
  want="${DEBS[*]}"
  if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  mkdir -p "$CACHE/debs" "$CACHE/apt/lists/partial" "$CACHE/apt/cache/archives/partial"
  local missing=() p
  for p in "${DEBS[@]}"; do
    compgen -G "$CACHE/debs/${p}_*.deb" >/dev/null || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
      >"$CACHE/apt/sources.list"
    # A private apt state: the machine's own sources, lists and caches are not touched.
    local o=(-o "Dir::Etc::sourcelist=$CACHE/apt/sources.list" -o Dir::Etc::sourceparts=-
             -o "Dir::State::Lists=$CACHE/apt/lists" -o "Dir::Cache=$CACHE/apt/cache"
             -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
             -o APT::Sandbox::User=root -qq)
    quiet apt-get "${o[@]}" update
    (cd "$CACHE/debs" && quiet apt-get "${o[@]}" download "${missing[@]}")
  fi
  rm -rf "$ROOT.tmp"; mkdir -p "$ROOT.tmp"
  for p in "${DEBS[@]}"; do
    local f; f=$(ls -1 "$CACHE/debs/${p}"_*.deb | sort -V | tail -1)
    dpkg -x "$f" "$ROOT.tmp"
  done
  local v
  v=$("$ROOT.tmp/usr/sbin/dockerd" --version 2>&1) || die "unpacked dockerd does not run: $v"
  [[ $v == "Docker version 26.1."* ]] || die "expected Docker 26.1 from Debian 13, got: $v"
  v=$("$ROOT.tmp/usr/libexec/docker/cli-plugins/docker-compose" version --short 2>&1) || die "compose v2 does not run: $v"
  [[ $v == 2.26.* ]] || die "expected Compose 2.26 from Debian 13, got: $v"
  v=$("$ROOT.tmp/usr/bin/containerd" --version 2>&1) || die "unpacked containerd does not run: $v"
  rm -rf "$ROOT"; mv "$ROOT.tmp" "$ROOT"
  echo "$want" >"$stamp"
}

install_compose() {
  local src=$ROOT/usr/libexec/docker/cli-plugins/docker-compose dst=$PLUGIN_DIR/docker-compose
  if ! cmp -s "$src" "$dst"; then
    mkdir -p "$PLUGIN_DIR"
    install -m 0755 "$src" "$dst.tmp.$$" && mv -f "$dst.tmp.$$" "$dst"
  fi
}

# ---------------------------------------------------------------- network
ensure_bridge() { # br addr
  local br=$1 addr=$2
  if ! ip link show "$br" >/dev/null 2>&1; then
    quiet ip link add name "$br" type bridge
  fi
  if ! ip -4 -o addr show dev "$br" | grep -qw "inet $addr"; then
    quiet ip addr add "$addr" dev "$br"
  fi
  quiet ip link set "$br" up
}

# With --iptables=false the 26 engines add no firewall rules. Port publishing still works
# (docker-proxy), but this machine has br_netfilter on and FORWARD policy DROP (set by 20.10),
# so traffic between two containers on a 26 engine's bridge would be dropped. One ACCEPT rule
# for our own address range fixes that; nothing of 20.10's rules is touched.
fwd_rule=(FORWARD -s "$ALL_POOLS" -d "$ALL_POOLS" -m comment --comment "$FWD_COMMENT" -j ACCEPT)
ensure_forward_rule() {
  have iptables || return 0
  iptables -w -C "${fwd_rule[@]}" 2>/dev/null || quiet iptables -w -A "${fwd_rule[@]}"
}
remove_forward_rule() {
  have iptables || return 0
  while iptables -w -C "${fwd_rule[@]}" 2>/dev/null; do iptables -w -D "${fwd_rule[@]}" 2>/dev/null; done
}

# ---------------------------------------------------------------- start
write_configs() {
  mkdir -p "$data" "$execroot" "$ctd_state" "$LOG"
  cat >"$data/containerd.toml" <<EOF
# generated by .ci/engines.sh: containerd of the $label engine only
version = 2
root = "$data/containerd"
state = "$ctd_state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$ctd_sock"
[ttrpc]
  address = "$ctd_sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$data/containerd-opt"
EOF
  cat >"$data/daemon.json" <<EOF
{
  "hosts": ["unix://$sock"],
  "data-root": "$data/docker",
  "exec-root": "$execroot",
  "pidfile": "$pidfile",
  "containerd": "$ctd_sock",
  "bridge": "$br",
  "iptables": false,
  "ip6tables": false,
  "ip-masq": false,
  "userland-proxy": true,
  "userland-proxy-path": "$ROOT/usr/sbin/docker-proxy",
  "init-path": "$ROOT/usr/bin/tini-static",
  "default-address-pools": [{"base": "$pool", "size": 24}],
  "cgroup-parent": "/budgetguard-$n",
  "mtu": 1400,
  "shutdown-timeout": 5,
  "live-restore": true,
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "3"},
  $( [[ $c8d == true ]] || echo '"storage-driver": "overlay2",' )
  "features": {"containerd-snapshotter": $c8d}
}
EOF
}

start_bg() { # pidfile log exe args... — own session, so it outlives the caller's process group
  local pf=$1 log=$2 exe=$3; shift 3
  PATH="$ROOT/usr/sbin:$ROOT/usr/bin:$SYS_PATH" setsid "$exe" "$@" </dev/null >>"$log" 2>&1 9>&- &
  local pid=$!
  sleep 0.2
  # setsid execs in place (we are not a process group leader), so $! is the daemon itself
  if alive "$pid" && exe_is "$pid" "$exe"; then echo "$pid" >"$pf"; fi
}

wait_for() { # check-command... → true once it succeeds, false after $TIMEOUT seconds
  local deadline=$((SECONDS + TIMEOUT))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.3
  done
}

ctd_answers() { timeout 5 "$ROOT/usr/bin/ctr" --address "$ctd_sock" version >/dev/null 2>&1; }

start_engine() {
  engine_vars "$1"
  if ping_engine "$sock"; then return 0; fi
  local pid
  pid=$(pid_of "$pidfile")
  if alive "$pid" && exe_is "$pid" "$ROOT/usr/sbin/dockerd"; then
    wait_for ping_engine "$sock" && return 0
    die "$label: dockerd (pid $pid) runs but does not answer on unix://$sock after ${TIMEOUT}s; see $LOG/$n-dockerd.log"
  fi
  ensure_bridge "$br" "$addr"
  write_configs
  # containerd of its own: the 26 engines never share /run/containerd/containerd.sock (or
  # 20.10's managed containerd), so no image store, namespace or task list is shared.
  pid=$(pid_of "$ctd_pidfile")
  if ! { alive "$pid" && exe_is "$pid" "$ROOT/usr/bin/containerd"; }; then
    rm -f "$ctd_pidfile" "$ctd_sock" "$ctd_sock.ttrpc"
    start_bg "$ctd_pidfile" "$LOG/$n-containerd.log" "$ROOT/usr/bin/containerd" --config "$data/containerd.toml"
  fi
  if ! wait_for ctd_answers; then
    tail -20 "$LOG/$n-containerd.log" >&2 || true
    die "$label: its containerd did not answer on $ctd_sock within ${TIMEOUT}s; see $LOG/$n-containerd.log"
  fi
  rm -f "$pidfile" "$sock"   # stale ones (the process is gone) would stop dockerd from starting
  local docker0; docker0=$(docker0_state)
  start_bg /dev/null "$LOG/$n-dockerd.log" "$ROOT/usr/sbin/dockerd" --config-file "$data/daemon.json"
  if ! wait_for ping_engine "$sock"; then
    tail -20 "$LOG/$n-dockerd.log" >&2 || true
    die "$label: engine did not answer on unix://$sock within ${TIMEOUT}s; see $LOG/$n-dockerd.log"
  fi
  restore_docker0 "$docker0"
}

# TRAP: dockerd (20.10 and 26) deletes the link named "docker0" — whatever its own bridge is —
# when it restarts on a data root that holds a default "bridge" network and default-address-pools
# are set without live-restore (moby configureNetworking → removeDefaultBridgeInterface), and
# always with --bridge=none. That is the machine's engine's bridge: its `run -p` then fails with
# "could not find bridge docker0". live-restore=true in the config above avoids it; as a safety
# net, a docker0 that disappears while one of our engines starts is put back as it was.
docker0_state() { # "mtu addr..." of docker0, or nothing
  ip link show docker0 >/dev/null 2>&1 || return 0
  echo "$(cat /sys/class/net/docker0/mtu) $(ip -4 -o addr show dev docker0 | awk '{print $4}' | tr '\n' ' ')"
}
restore_docker0() { # state from docker0_state
  [[ -n $1 ]] || return 0
  ip link show docker0 >/dev/null 2>&1 && return 0
  local mtu a; read -r mtu a <<<"$1"
  echo "engines.sh: WARNING: docker0 disappeared while $label started; recreating it ($mtu $a)" >&2
  ip link add docker0 type bridge && ip link set docker0 mtu "$mtu"
  for a in $a; do ip addr add "$a" dev docker0; done
  ip link set docker0 up
}

cmd_up() {
  have ip || die "ip (iproute2) is missing: run .ci/deps.sh"
  [[ -x /usr/sbin/runc ]] || have runc || die "runc is missing: apt-get install runc"
  mkdir -p "$RUN" "$LIB" "$LOG"
  fetch_debs
  install_compose
  ensure_forward_rule
  local e
  for e in "${ENGINES[@]}"; do start_engine "$e"; done
}

# ---------------------------------------------------------------- stop
stop_pid() { # pid exe grace-seconds
  local pid=$1 exe=$2 grace=$3
  alive "$pid" && exe_is "$pid" "$exe" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + grace))
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
}

unmount_under() { # dir: unmount everything mounted below it, deepest first
  local d=$1 m
  [[ -d $d ]] || return 0
  awk -v d="$d/" 'index($2 "/", d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

stop_engine() {
  engine_vars "$1"
  local pid
  # dockerd: SIGTERM stops its containers (10 s each at most), then it exits
  pid=$(pid_of "$pidfile")
  [[ -n $pid ]] || pid=$(pgrep -f -x "$ROOT/usr/sbin/dockerd --config-file $data/daemon.json" | head -1 || true)
  [[ -n $pid ]] && stop_pid "$pid" "$ROOT/usr/sbin/dockerd" 60
  # whatever tasks are left (dockerd killed earlier, say): kill them through containerd
  pid=$(pid_of "$ctd_pidfile")
  if alive "$pid" && ctd_answers; then
    local ns t ctr=("$ROOT/usr/bin/ctr" --address "$ctd_sock")
    for ns in $("${ctr[@]}" namespaces ls -q 2>/dev/null); do
      for t in $("${ctr[@]}" -n "$ns" tasks ls -q 2>/dev/null); do
        "${ctr[@]}" -n "$ns" tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
        sleep 0.2
        "${ctr[@]}" -n "$ns" tasks delete -f "$t" >/dev/null 2>&1 || true
      done
    done
  fi
  [[ -n $pid ]] && stop_pid "$pid" "$ROOT/usr/bin/containerd" 20
  # shims of this containerd that outlived it (they carry its socket on their command line)
  local p
  for p in $(pgrep -f -- "-address $ctd_sock" || true); do
    exe_is "$p" "$ROOT/usr/bin/containerd-shim-runc-v2" && stop_pid "$p" "$ROOT/usr/bin/containerd-shim-runc-v2" 5
  done
  rm -f "$pidfile" "$sock" "$ctd_pidfile"
  unmount_under "$execroot"; unmount_under "$ctd_state"; unmount_under "$data"
  rm -rf --one-file-system "$execroot" "$ctd_state" "$data"
  # bridges: its own, and those it made for networks (addresses from its pool)
  ip link del "$br" 2>/dev/null || true
  local line dev a
  while read -r line; do
    dev=$(awk '{print $2}' <<<"$line"); a=$(awk '{print $4}' <<<"$line")
    [[ $dev == br-* ]] || continue
    if ip_in_pool "${a%/*}" "$pool"; then ip link del "$dev" 2>/dev/null || true; fi
  done < <(ip -4 -o addr show type bridge 2>/dev/null)
  # cgroups it made (empty once the containers are gone)
  local cg
  for cg in /sys/fs/cgroup/*/budgetguard-"$n"; do
    [[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

ip_in_pool() { # a.b.c.d base/len → true if the address is inside the pool
  local ip=$1 base=${2%/*} len=${2#*/}
  local IFS=. a b
  read -r a1 a2 a3 a4 <<<"$ip"; read -r b1 b2 b3 b4 <<<"$base"
  a=$(( (a1 << 24) | (a2 << 16) | (a3 << 8) | a4 )); b=$(( (b1 << 24) | (b2 << 16) | (b3 << 8) | b4 ))
  local mask=$(( (0xffffffff << (32 - len)) & 0xffffffff ))
  (( (a & mask) == (b & mask) ))
}

cmd_down() {
  local e
  for e in "${ENGINES[@]}"; do stop_engine "$e"; done
  # docker-proxy processes of our binary whose dockerd is gone
  local p
  for p in $(pgrep -x docker-proxy || true); do
    exe_is "$p" "$ROOT/usr/sbin/docker-proxy" || continue
    alive "$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)" && [[ "$(awk '{print $4}' "/proc/$p/stat")" != 1 ]] && continue
    stop_pid "$p" "$ROOT/usr/sbin/docker-proxy" 2
  done
  remove_forward_rule
  rmdir "$RUN" "$LIB" 2>/dev/null || true
}

# ---------------------------------------------------------------- env / status
system_label() {
  local v
  v=$(curl -s --max-time 5 --unix-socket "$SYSTEM_SOCK" http://engine/version 2>/dev/null |
      sed -nE 's/.*"Version":"([0-9]+\.[0-9]+)[^"]*".*/\1/p' | head -1) || true
  echo "docker${v:-20.10}"
}

cmd_env() {
  local list=() e
  if ping_engine "$SYSTEM_SOCK"; then list+=("$(system_label)=unix://$SYSTEM_SOCK"); fi
  for e in "${ENGINES[@]}"; do
    engine_vars "$e"
    if ping_engine "$sock"; then list+=("$label=unix://$sock"); fi
  done
  local IFS=,
  echo "export BUDGETGUARD_TEST_ENGINES=${list[*]}"
}

cmd_status() {
  local e
  if ping_engine "$SYSTEM_SOCK"; then echo "$(system_label) unix://$SYSTEM_SOCK up"; else echo "system unix://$SYSTEM_SOCK down"; fi
  for e in "${ENGINES[@]}"; do
    engine_vars "$e"
    if ping_engine "$sock"; then echo "$label unix://$sock up"; else echo "$label unix://$sock down"; fi
  done
  if [[ -x $PLUGIN_DIR/docker-compose ]]; then echo "compose-v2 $("$PLUGIN_DIR/docker-compose" version --short 2>/dev/null) $PLUGIN_DIR/docker-compose"; fi
}

# ---------------------------------------------------------------- check
cmd_check() {
  local d
  have curl || die "curl is missing: run .ci/deps.sh"
  [[ -x $ROOT/bin/busybox || -x $ROOT/usr/bin/busybox ]] || die "run 'engines.sh up' first"
  d=$(cli)
  local bb=$ROOT/usr/bin/busybox; [[ -x $bb ]] || bb=$ROOT/bin/busybox
  local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/www"
  cp "$bb" "$tmp/rootfs/bin/busybox"; ln -s busybox "$tmp/rootfs/bin/sh"
  echo budgetguard-ok >"$tmp/rootfs/www/index.html"
  tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
  local -a socks=("$SYSTEM_SOCK") labels=("$(system_label)") e
  for e in "${ENGINES[@]}"; do engine_vars "$e"; socks+=("$sock"); labels+=("$label"); done
  local i fails=0 tag=budgetguard-ci-check
  for i in "${!socks[@]}"; do
    local s=${socks[$i]} l=${labels[$i]} D=("$d" -H "unix://${socks[$i]}")
    if ! ping_engine "$s"; then echo "FAIL $l: not answering on unix://$s"; fails=$((fails+1)); continue; fi
    "${D[@]}" import "$tmp/rootfs.tar" "$tag-$i:1" >/dev/null
    local c1 c2 port ip out
    c1=$("${D[@]}" run -d -p 127.0.0.1::8000 "$tag-$i:1" /bin/busybox httpd -f -p 8000 -h /www)
    port=$("${D[@]}" port "$c1" 8000/tcp | head -1 | sed 's/.*://')
    ip=$("${D[@]}" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$c1")
    out=""; for _ in $(seq 30); do out=$(curl -s --max-time 2 "http://127.0.0.1:$port/" || true); [[ $out == budgetguard-ok ]] && break; sleep 0.2; done
    if [[ $out == budgetguard-ok ]]; then echo "ok   $l: run -p 127.0.0.1:$port->8000 answers from the host"
    else echo "FAIL $l: run -p 127.0.0.1:$port->8000 does not answer"; fails=$((fails+1)); fi
    c2=$("${D[@]}" run --rm "$tag-$i:1" /bin/busybox wget -q -T 5 -O - "http://$ip:8000/" 2>&1 || true)
    if [[ $c2 == budgetguard-ok ]]; then echo "ok   $l: container -> container ($ip) on the default bridge"
    else echo "FAIL $l: container -> container ($ip): $c2"; fails=$((fails+1)); fi
    "${D[@]}" rm -f "$c1" >/dev/null
    echo "     $l: $("${D[@]}" info -f 'server {{.ServerVersion}}, driver {{.Driver}} {{range .DriverStatus}}{{index . 0}}={{index . 1}} {{end}}')"
  done
  # isolation: each engine sees only its own check image
  for i in "${!socks[@]}"; do
    ping_engine "${socks[$i]}" || continue
    local imgs; imgs=$("$d" -H "unix://${socks[$i]}" images --format '{{.Repository}}' | grep "^$tag-" | sort | tr '\n' ' ')
    if [[ $imgs == "$tag-$i " ]]; then echo "ok   ${labels[$i]}: sees only its own image"
    else echo "FAIL ${labels[$i]}: sees images: $imgs"; fails=$((fails+1)); fi
  done
  for i in "${!socks[@]}"; do
    ping_engine "${socks[$i]}" && "$d" -H "unix://${socks[$i]}" rmi -f "$tag-$i:1" >/dev/null 2>&1 || true
  done
  ((fails == 0)) || die "check: $fails failure(s)"
}

lock() { # one up/down at a time (the daemons are started with this descriptor closed)
  exec 9>>/run/budgetguard-engines.lock
  flock -w 300 9 || die "another engines.sh up/down still runs after 300 s"
}
case ${1:-} in
  up)     lock; cmd_up ;;
  down)   lock; cmd_down ;;
  env)    cmd_env ;;
  status) cmd_status ;;
  check)  cmd_check ;;
  *) echo "usage: $0 up|down|env|status|check" >&2; exit 2 ;;
esac
