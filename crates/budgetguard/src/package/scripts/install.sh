#!/bin/sh
# Installs a BudgetGuard TechOps package with only Docker and Docker Compose,
# on a workstation without budgetguard-techops. Unzip the package, then run
# from its folder:
#
#     sh install/install.sh [--start]
#
# It checks every file against SHA256SUMS, writes the model caches the
# package carries, loads the images, writes each node's Compose file to the
# install folder (BUDGETGUARD_INSTALL_DIR, by
# default ~/.local/share/budgetguard-techops) and creates the containers;
# --start also starts them.
#
# A package split into parts (p.zip.001, p.zip.002, … with their list
# p.zip.parts) is joined first, then unzipped: cat p.zip.0* > p.zip
set -eu
cd "$(dirname "$0")/.."

start=0
case "${1:-}" in
  --start) start=1 ;;
  "") ;;
  *) echo "usage: sh install/install.sh [--start]" >&2; exit 2 ;;
esac
install_dir="${BUDGETGUARD_INSTALL_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/budgetguard-techops}"

fail() { echo "error: $*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || fail "docker not found; install Docker Engine first"
docker info >/dev/null 2>&1 || fail "the Docker engine does not answer; start Docker and retry"
if docker compose version >/dev/null 2>&1; then
  compose="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then
  compose="docker-compose"
else
  fail "Docker Compose not found; install the docker-compose-plugin package"
fi

echo "Verifying the package..."
sha256sum --check --quiet --strict SHA256SUMS || fail "the package is damaged; copy it again"

# Nothing in the install folder is followed through a link: a link planted
# there would have this script write, chmod or chown outside the folder.
nolink() {
  if [ -L "$1" ]; then
    fail "$1 is a symbolic link; nothing was changed: remove the link and run this again"
  fi
}
nolink "$install_dir/compose"
nolink "$install_dir/models"
for dir in compose/*/; do
  service=$(basename "$dir")
  nolink "$install_dir/compose/$service"
  nolink "$install_dir/compose/$service/cache"
  nolink "$install_dir/compose/$service/docker-compose.yml"
done

# An update package leaves out what its base package holds: it installs only
# where the base is installed, and says so before changing anything.
base=""
if [ -f install/base.txt ]; then
  read -r base_id base_file < install/base.txt || true
  base="${base_file:+$base_file, }package id $(printf '%.12s' "$base_id")"
fi
if [ -f install/models.sh ]; then
  sh install/models.sh "$install_dir" check
fi

echo "Loading images..."
if ! tar -C images -cf - . | docker load; then
  [ -n "$base" ] && fail "this update package needs its base package ($base) installed first; nothing was changed: install that package, then this one"
  fail "docker load failed"
fi

if [ -f install/models.sh ]; then
  echo "Writing models..."
  sh install/models.sh "$install_dir"
fi

for dir in compose/*/; do
  service=$(basename "$dir")
  target="$install_dir/compose/$service"
  mkdir -p "$target/cache"
  # NIM containers run as user 1000 and write their model cache; nobody else may.
  chmod 2775 "$target/cache"
  if [ "$(id -u)" = 0 ]; then chown 1000:1000 "$target/cache"; fi
  cp "$dir/docker-compose.yml" "$target/docker-compose.yml"
  if [ "$start" = 1 ]; then
    $compose -p "budgetguard-$service" -f "$target/docker-compose.yml" up -d
  else
    $compose -p "budgetguard-$service" -f "$target/docker-compose.yml" up --no-start
  fi
  echo "Installed $service: $target/docker-compose.yml"
done
