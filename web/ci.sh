#!/usr/bin/env bash
# web/ci.sh: everything the web app needs, on a fresh machine with Node,
# Rust and a Debian base: installs (npm ci; Debian's chromium if missing),
# builds the bundle, runs the spec test vectors in Node's test runner, the
# TypeScript → Rust ballot cross-check, and the browser end-to-end tests
# against a real `urna serve`. Called from .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
WEB="$(pwd)"
ROOT="$(cd .. && pwd)"

step() { printf '\n== web: %s\n' "$*"; }

command -v node >/dev/null || { echo "web/ci.sh: node is required" >&2; exit 1; }
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)' \
  || { echo "web/ci.sh: Node >= 20.19 is required (found $(node --version))" >&2; exit 1; }

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  step "installing Debian's chromium"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
export CHROMIUM

step "npm ci"
npm ci --no-audit --no-fund --loglevel=error

step "typecheck"
npx tsc --noEmit

step "build the bundle (web/dist)"
node build.mjs

step "spec/test-vectors and board records in node --test"
node build.mjs --tests
node --test test-dist/

step "ballots made by the TypeScript client verify in Rust"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
node test-dist/ts-ballots.mjs "$TMP/ts-ballots.json"
# The crate's integration tests are one binary (`it`); the filter picks this module.
(cd "$ROOT" && URNA_TS_BALLOTS="$TMP/ts-ballots.json" cargo test -q -p urna-crypto --test it ts_client_ballots::)

step "browser end-to-end tests (headless chromium, real urna serve)"
(cd "$ROOT" && cargo build -q --release -p urna)
# Cargo's target directory (honours CARGO_TARGET_DIR and .cargo/config), not a guess.
TARGET_DIR="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')"
export URNA_BIN="${URNA_BIN:-$TARGET_DIR/release/urna}"
[ -x "$URNA_BIN" ] || { echo "web/ci.sh: no urna binary at $URNA_BIN (cargo build --release -p urna should have made it)" >&2; exit 1; }
# Every *.test.mjs of test/e2e/: browser, registration, verify (the whole-election verifier page).
node --test --test-concurrency=1 test/e2e/
echo "web: screenshots in $WEB/screenshots/"
