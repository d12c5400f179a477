#!/usr/bin/env bash
# Install the sources that `trm-lsp pretrain` harvests (code, doc comment) pairs from:
# Debian's Go, Rust and JDK sources, and a few well-documented npm packages for TypeScript and
# JavaScript. Debian packages go in where this machine allows it (else the command is printed,
# as scripts/install-system-packages.sh does); npm packages go into NPM_DIR.
#
#   scripts/install-pretrain-sources.sh [NPM_DIR]    (default: $HOME/.cache/trm-lsp/pretrain-npm)
#
# Versions are exact, so two machines harvest the same pairs; the harvester records them.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
npm_dir="${1:-$HOME/.cache/trm-lsp/pretrain-npm}"

bash "$here/install-system-packages.sh" golang-src rust-src openjdk-17-source

NPM_PACKAGES=(
  typescript@5.6.3       # lib/lib.*.d.ts: the JavaScript runtime, with JSDoc
  @types/node@22.10.2    # Node's API, with JSDoc
  lodash@4.17.21
  rxjs@7.8.1             # ships its TypeScript sources in src/
  date-fns@3.6.0
  zod@3.23.8
  axios@1.7.9
  express@4.21.2
  immer@10.1.1
  vue@3.5.13
)

if ! command -v npm >/dev/null 2>&1; then
  echo "trm-lsp: npm not found; install Node.js and npm (scripts/install-system-packages.sh nodejs npm), then rerun $0" >&2
  exit 0
fi
mkdir -p "$npm_dir"
echo "trm-lsp: installing npm packages into $npm_dir" >&2
npm install --no-audit --no-fund --ignore-scripts --save-exact --prefix "$npm_dir" "${NPM_PACKAGES[@]}" >/dev/null \
  || echo "trm-lsp: npm install failed; please run: npm install --no-audit --no-fund --prefix $npm_dir ${NPM_PACKAGES[*]}" >&2
exit 0
