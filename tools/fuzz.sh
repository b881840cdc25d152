#!/usr/bin/env bash
# The long fuzz run: every loader (or those named) with N mutated inputs each (default 1,000,000), in this
# process's temp folder on /dev/shm when there is one; prints per loader the inputs, rejections, undocumented
# exceptions (with the saved input), the slowest input and the most memory one input took. Failing inputs are saved
# under FINDINGS (default /tmp/sharpgrad-fuzz-findings); copy them to tests/Sharpgrad.NN.Tests/Fuzz/regressions/TARGET
# with a .txt of the expected message.
#   tools/fuzz.sh [INPUTS_PER_LOADER] [TARGETS, e.g. png,jpeg] [SEED]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
report=$(mktemp)
export SHARPGRAD_FUZZ_INPUTS=${1:-1000000} SHARPGRAD_FUZZ_SEED=${3:-1} SHARPGRAD_FUZZ_REPORT=$report
export SHARPGRAD_FUZZ_FINDINGS=${FINDINGS:-/tmp/sharpgrad-fuzz-findings}
[ -n "${2:-}" ] && export SHARPGRAD_FUZZ_TARGETS=$2
[ -d /dev/shm ] && export TMPDIR=/dev/shm
dotnet build "$root/tests/Sharpgrad.NN.Tests" -c Release -nologo -v q >/dev/null
set +e
dotnet test "$root/tests/Sharpgrad.NN.Tests" -c Release --no-build --filter "FullyQualifiedName~FuzzTests.LoaderThrowsOnlyDataException" >/dev/null
rc=$?
set -e
grep -v '^  \.\.\. ' "$report"
rm -f "$report"
exit $rc
