#!/usr/bin/env bash
# Runs every test file under test/ with Node's runner. Node 20 has no glob support in --test,
# so the shell expands the paths; zero test files, or a run that executed no test, fails.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar nullglob
files=(test/**/*.test.ts)
if [ "$#" -gt 0 ]; then files=("$@"); fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files found" >&2
  exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
set +e
node --import tsx --test --test-concurrency="${JBC_TEST_CONCURRENCY:-2}" --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$out" "${files[@]}"
rc=$?
set -e
pass=$(grep -E '^# pass ' "$out" | awk '{print $3}')
fail=$(grep -E '^# fail ' "$out" | awk '{print $3}')
# Tests cancelled because a before() hook failed count as failed: they did not pass.
cancelled=$(grep -E '^# cancelled ' "$out" | awk '{print $3}')
fail=$(( ${fail:-0} + ${cancelled:-0} ))
echo "tests: ${pass:-0} passed, ${fail} failed"
if [ "${pass:-0}" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
exit $rc
