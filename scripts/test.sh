#!/usr/bin/env bash
# The test command of README.md, and CI's (.ci/run calls exactly this):
# a throwaway PostgreSQL for the PostgreSQL tests (`.ci/postgres.sh`:
# installs Debian's postgresql if missing, which needs root; skipped when
# URNA_TEST_POSTGRES_URL already names a database), every Rust test including
# those (`-- --include-ignored`: without a database they are ignored, and a
# plain `cargo test` says so in its summary), then web/ci.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${URNA_TEST_POSTGRES_URL:-}" ]; then
  source .ci/postgres.sh
fi
# Asked for, the PostgreSQL tests fail without a database (never "ok").
export URNA_REQUIRE_POSTGRES=1

cargo test --workspace --all-features -- --include-ignored
bash web/ci.sh
