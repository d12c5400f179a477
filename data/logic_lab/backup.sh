#!/usr/bin/env bash
# Keeps the last N dated copies of a folder.
set -euo pipefail

# Copies $1 to $2/<date>, then deletes all but the newest $3 copies.
rotate_backup() {
  local source="$1" target="$2" keep="$3"
  mkdir -p "$target"
  cp -a "$source" "$target/$(date +%Y%m%d-%H%M%S)"
  ls -1d "$target"/*/ | sort | head -n -"$keep" | xargs -r rm -rf
}

rotate_backup "${1:-.}" "${2:-/tmp/backups}" "${3:-5}"
