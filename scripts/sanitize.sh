#!/usr/bin/env bash
# Runs the test suite under a sanitizer (issue #21). Too slow for CI; run it before a release
# and after changing unsafe-pointer, threading or server code.
#
#   scripts/sanitize.sh address [swift test options…]   the whole suite under AddressSanitizer
#   scripts/sanitize.sh thread  [swift test options…]   the server, thread-pool/kernel and
#                                                        generation tests under ThreadSanitizer
#   scripts/sanitize.sh                                  both, one after the other
#
# Each sanitizer builds into its own scratch path (.build-asan, .build-tsan), so neither
# disturbs the normal .build. Tests run in release mode with -enable-testing, as in
# `swift test -c release -Xswiftc -enable-testing` (the model-level tests evaluate real models,
# 10–100× slower in debug); that is the shipping -Ounchecked configuration, whose memory
# accesses are exactly what ASan and TSan watch. Extra options (e.g. `--filter GGUF`) are
# passed to `swift test`. The exit status is swift test's: a sanitizer report fails the test
# process. Under TSan, LOOM_TEST_TIME_SCALE=20 (override it from the environment) stretches the
# server tests' wall-clock waits, since generation runs about 20× slower. Logs go to .build-asan/test.log / .build-tsan/test.log as well as to the terminal.
set -euo pipefail
cd "$(dirname "$0")/.."

run() {
    local sanitizer=$1 scratch=$2; shift 2
    mkdir -p "$scratch"
    echo "== swift test --sanitize=$sanitizer (scratch $scratch) $*" >&2
    # halt_on_error: the first report stops the process with the report's stack, naming the test.
    # detect_leaks=0: LeakSanitizer is not a memory-safety check, and the Swift runtime's
    # metadata and conformance caches live until exit, which it would report as leaks.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1} \
    TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
        swift test -c release -Xswiftc -enable-testing --sanitize="$sanitizer" --scratch-path "$scratch" "$@" \
        2>&1 | tee "$scratch/test.log"
    return "${PIPESTATUS[0]}"
}

mode=${1:-both}
[[ $# -gt 0 ]] && shift
case $mode in
    address) run address .build-asan "$@" ;;
    thread) LOOM_TEST_TIME_SCALE=${LOOM_TEST_TIME_SCALE:-20} run thread .build-tsan --filter 'LoomServerTests|LoomKernelsTests|LoomGenerationTests' "$@" ;;
    both)
        status=0
        run address .build-asan "$@" || status=$?
        LOOM_TEST_TIME_SCALE=${LOOM_TEST_TIME_SCALE:-20} run thread .build-tsan --filter 'LoomServerTests|LoomKernelsTests|LoomGenerationTests' "$@" || status=$?
        exit $status
        ;;
    *) echo "usage: scripts/sanitize.sh [address|thread] [swift test options…]" >&2; exit 2 ;;
esac
