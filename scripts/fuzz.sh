#!/usr/bin/env bash
# Builds and runs one libFuzzer harness of the Fuzz/ package (issue #21).
#
#   scripts/fuzz.sh NAME [SECONDS] [libFuzzer options…]   fuzz for SECONDS (default 60)
#   scripts/fuzz.sh NAME check                            run the committed seeds once, verbose
#   scripts/fuzz.sh NAME repro FILE                       run one input (e.g. a crash file)
#   scripts/fuzz.sh list                                  the harness names
#
# NAME is a harness without its Fuzz prefix: GGUF, Safetensors, HFConfig, HFTokenizer, JSON,
# Jinja, BPE, ServerRequest. The build goes to .build-fuzz (its own scratch path; the normal
# .build is untouched). The committed seeds in Fuzz/Corpus/NAME are only read: inputs that
# reach new code go to .build-fuzz/corpus/NAME, crashes, timeouts and out-of-memory inputs to
# .build-fuzz/findings/NAME/ (crash-*, timeout-*, oom-*). Turn a finding into a unit test in
# the matching Tests/ target, fix it, and re-run `repro` on it.
#
# Build mode: release (-O) with LOOM_AS_DEPENDENCY=1, so Loom's targets get none of the
# -Ounchecked / -enforce-exclusivity=unchecked flags of its own release build: the fuzzers run
# with Swift's overflow, bounds and exclusivity traps, which is what should catch size
# arithmetic gone wrong. -sanitize=fuzzer,address adds coverage and AddressSanitizer to every
# Swift target (C dependencies are linked against the ASan runtime but not instrumented).
#
# Environment: FUZZ_RSS_MB (default 2048) and FUZZ_TIMEOUT (seconds per input, default 10)
# become -rss_limit_mb / -timeout; FUZZ_JOBS > 1 runs that many fuzzing processes
# (libFuzzer -fork) sharing the corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

harnesses=(GGUF Safetensors HFConfig HFTokenizer JSON Jinja BPE ServerRequest)
if [[ $# -lt 1 || $1 == list || $1 == -h || $1 == --help ]]; then
    [[ ${1:-} == list ]] || sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    printf '%s\n' "${harnesses[@]}"
    exit 0
fi
name=$1; shift
if [[ ! " ${harnesses[*]} " == *" $name "* ]]; then
    echo "unknown harness '$name'; one of: ${harnesses[*]}" >&2
    exit 2
fi
product=Fuzz$name
scratch=.build-fuzz

LOOM_AS_DEPENDENCY=1 swift build --package-path Fuzz -c release --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing \
    --product "$product" >&2
binary=$scratch/release/$product
# Swift's own crash backtracer reads process memory in a way ASan reports as a second,
# unrelated error; libFuzzer and ASan print the useful stack.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}

seeds=Fuzz/Corpus/$name
corpus=$scratch/corpus/$name
findings=$scratch/findings/$name
mkdir -p "$corpus" "$findings"
# No leak checking: at exit LeakSanitizer reports the harnesses' global templates and
# tokenizers as leaked (Swift stores some references in forms it does not recognise as
# pointers), as a "crash" of the empty input. A real per-input leak still shows as RSS
# growth, which -rss_limit_mb turns into an oom-* finding.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
common=(-rss_limit_mb="${FUZZ_RSS_MB:-2048}" -timeout="${FUZZ_TIMEOUT:-10}" -detect_leaks=0 -artifact_prefix="$findings/")
case $name in Jinja) dict=Fuzz/Dictionaries/Jinja.dict ;; BPE | GGUF) dict= ;; *) dict=Fuzz/Dictionaries/JSON.dict ;; esac
[[ -n $dict ]] && common+=(-dict="$dict")

# libFuzzer ends with _Exit, so harnesses cannot remove their scratch files themselves
# (Fuzz/Sources/FuzzSupport/ScratchFile.swift): remove those of processes that are gone.
remove_stale_scratch() {
    local dir pid
    for dir in /dev/shm/loom-fuzz-* /tmp/loom-fuzz-*; do
        [[ -d $dir ]] || continue
        pid=${dir##*/loom-fuzz-}; pid=${pid%%-*}
        kill -0 "$pid" 2>/dev/null || rm -rf "$dir"
    done
}
trap remove_stale_scratch EXIT

case ${1:-60} in
    check)
        LOOM_FUZZ_VERBOSE=1 "$binary" "${common[@]}" "$seeds"/*
        ;;
    repro)
        [[ $# -ge 2 ]] || { echo "usage: scripts/fuzz.sh $name repro FILE" >&2; exit 2; }
        LOOM_FUZZ_VERBOSE=1 "$binary" "${common[@]}" "$2"
        ;;
    *)
        seconds=${1:-60}; shift || true
        [[ $seconds =~ ^[0-9]+$ ]] || { echo "SECONDS must be a whole number, got '$seconds'" >&2; exit 2; }
        jobs=()
        [[ ${FUZZ_JOBS:-1} -gt 1 ]] && jobs=(-fork="$FUZZ_JOBS")
        "$binary" "${common[@]}" "${jobs[@]}" -max_total_time="$seconds" -print_final_stats=1 "$@" "$corpus" "$seeds"
        ;;
esac
