#!/usr/bin/env bash
# Style checks: clang-format on every C++ file (no changes, just a report), and clang-tidy on
# the files changed since main's merge base (or those named), with the build's compile commands.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files '*.cpp' '*.h')
if ! clang-format --dry-run --Werror $files 2>/tmp/gpushare-format.log; then
  echo "clang-format: these files differ from .clang-format (run 'make format'):"
  grep -o '^[^:]*\.\(cpp\|h\)' /tmp/gpushare-format.log | sort -u
  status=1
fi
[ -f build/compile_commands.json ] || cmake -S . -B build -G Ninja >/dev/null
changed=${*:-$(git diff --name-only --diff-filter=AM "$(git merge-base HEAD origin/main 2>/dev/null || git rev-list --max-parents=0 HEAD)" -- '*.cpp' | grep -v '^test/e2e/' || true)}
if [ -n "$changed" ]; then
  clang-tidy -p build --quiet $changed || status=1
fi
exit $status
