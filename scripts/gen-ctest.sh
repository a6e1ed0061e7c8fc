#!/usr/bin/env bash
# Writes the CTest file for the whole suite to stdout (run from the repo root by
# `make check`). Each test is its own process with a timeout; CTest prints the closing
# "N tests failed out of M" line and exits non-zero on any failure.
#   build/tests/test_*             unit, kernel, scheduler and golden tests (release build)
#   build-asan/tests/test_*        the same under AddressSanitizer + UBSan (prefix asan_)
#   tests/mpi/test_*.c             launched with mpirun; the file declares "// nranks: N"
#   tests/e2e/test_*.sh, *.py      script tests against the built binary
#   build-fuzz/fuzz_*              libFuzzer smoke runs (args in tests/fuzz/<name>.args)
set -euo pipefail
ROOT=$(pwd)
FIX=${JANUS_FIXTURES:-$(cd "$ROOT/../shared/fixtures" 2>/dev/null && pwd || echo "$ROOT/../shared/fixtures")}
ENVS="JANUS_FIXTURES=$FIX;JANUS_BIN=$ROOT/build/janus;JANUS_ROOT=$ROOT;OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_btl_vader_single_copy_mechanism=none;OMPI_MCA_mpi_yield_when_idle=1;OMPI_MCA_rmaps_base_oversubscribe=1"
ASAN_ENVS="$ENVS;ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
emit() { # name, env, command...
  local name=$1 env=$2; shift 2
  printf 'add_test(%s' "$name"
  for a in "$@"; do printf ' "%s"' "$a"; done
  printf ')\nset_tests_properties(%s PROPERTIES WORKING_DIRECTORY "%s" ENVIRONMENT "%s" TIMEOUT 1200)\n' \
    "$name" "$ROOT" "$env"
}
# A shell test that exits 77 cannot run here (e.g. no root for network namespaces): CTest
# reports it as skipped, never as passed. (Only shell tests: libFuzzer's error exit is 77.)
skippable() { printf 'set_tests_properties(%s PROPERTIES SKIP_RETURN_CODE 77)\n' "$1"; }
is_mpi() { [ -f "tests/mpi/$1.c" ]; }
# Source hygiene: banned calls and the formatter's verdict.
emit lint "$ENVS" bash "$ROOT/scripts/lint.sh"
emit format_check "$ENVS" make -C "$ROOT" --no-print-directory format-check
for t in build/tests/test_*; do
  [ -x "$t" ] || continue
  n=$(basename "$t")
  if is_mpi "$n"; then
    np=$(grep -m1 -o 'nranks: *[0-9]*' "tests/mpi/$n.c" | grep -o '[0-9]*$' || echo 2)
    emit "mpi_${n#test_}" "$ENVS" mpirun --oversubscribe -n "$np" "$ROOT/$t"
  else
    emit "${n#test_}" "$ENVS" "$ROOT/$t"
  fi
done
for t in build-asan/tests/test_*; do
  [ -x "$t" ] || continue
  n=$(basename "$t")
  is_mpi "$n" && continue
  emit "asan_${n#test_}" "$ASAN_ENVS;JANUS_BIN=$ROOT/build-asan/janus" "$ROOT/$t"
done
for s in tests/e2e/test_*.sh tests/*/test_*.py; do
  [ -f "$s" ] || continue
  n=$(basename "$s"); n=${n%.*}; n=${n#test_}
  case "$s" in
    *.sh) emit "script_$n" "$ENVS" bash "$ROOT/$s"; skippable "script_$n" ;;
    *.py) emit "script_$n" "$ENVS" /usr/bin/python3 "$ROOT/$s" ;;
  esac
done
for f in build-fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  n=$(basename "$f")
  args="-runs=2000"
  [ -f "tests/fuzz/$n.args" ] && args=$(cat "tests/fuzz/$n.args")
  # shellcheck disable=SC2086
  emit "$n" "$ENVS" "$ROOT/$f" $args
done
