#!/usr/bin/env bash
# Install the Debian/Ubuntu packages named on the command line, where this machine allows it.
# Elsewhere, print the exact command to run, and go on: every feature that needs one of them
# says so clearly at run time and the rest works.
set -u
missing=()
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "trm-lsp: please install: sudo apt-get install -y ${missing[*]}" >&2
    exit 0
  fi
  echo "trm-lsp: installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
    || echo "trm-lsp: apt-get failed; please install: ${missing[*]}" >&2
elif command -v brew >/dev/null 2>&1; then
  echo "trm-lsp: on macOS run: brew install tesseract universal-ctags" >&2
else
  echo "trm-lsp: please install with your package manager: ${missing[*]}" >&2
fi
exit 0
