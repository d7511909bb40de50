#!/usr/bin/env bash
# Runs the tests that share work between threads under ThreadSanitizer, and
# the file readers' tests under AddressSanitizer, each in its own build folder
# (.build-tsan, .build-asan). Any report fails the run.
#
#     Tests/sanitize.sh [thread] [address]      (default: both)
#
# ThreadSanitizer covers the shard scheduler and worker teams (the determinism
# tests run them on 1 to 5 threads, with teams splitting steps) and separate
# models training at once. The teams synchronise through the C11 atomics in
# CRNNSupport.h; they are inline functions compiled into the instrumented
# Swift modules, so ThreadSanitizer sees them as atomics and needs no
# annotation, and Dispatch's concurrent perform is known to it too.
# AddressSanitizer covers the safetensors, JSON, .ts, CSV, text and tensor
# data set readers, with their malformed fixtures and seeded mutations.
set -euo pipefail
cd "$(dirname "$0")/.."
source Tests/swiftpm.sh

sanitizers=("$@")
[ ${#sanitizers[@]} -gt 0 ] || sanitizers=(thread address)

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="halt_on_error=1 detect_stack_use_after_return=1 ${ASAN_OPTIONS:-}"
# XCTest leaks a few of its own objects when it exits (its run finds no
# XCTest cases here); LeakSanitizer still checks everything else.
suppressions=$(mktemp)
trap 'rm -f "$suppressions"' EXIT
echo "leak:libXCTest.so" > "$suppressions"
export LSAN_OPTIONS="suppressions=$suppressions ${LSAN_OPTIONS:-}"
# A report is printed by the sanitizer; the Swift runtime's backtracer would
# only add minutes.
export SWIFT_BACKTRACE=enable=no

for sanitizer in "${sanitizers[@]}"; do
    case $sanitizer in
        thread) filter='ThreadCount|chunkedInputProjections|separateModelsTrainConcurrently|finishedThreadsHelpTheTeamsStillRunning' ;;
        address) filter='SafetensorsTests|JSONTests|TimeSeriesClassificationTests|ForecastingSeriesTests|TextCorpusTests|TensorDatasetTests' ;;
        *) echo "sanitize.sh: unknown sanitizer '$sanitizer' (thread or address)" >&2; exit 2 ;;
    esac
    log=$(mktemp)
    echo "== $sanitizer sanitizer: $filter"
    status=0
    swiftpm swift test --sanitize="$sanitizer" --build-path ".build-${sanitizer:0:1}san" --filter "$filter" 2>&1 |
        grep -v "Cannot export local symbol" | tee "$log" || status=$?
    # A filter that no longer matches would pass without testing anything.
    if [ "$status" -eq 0 ] && ! grep -Eq "Test run with [1-9][0-9]* tests?.* passed" "$log"; then
        echo "sanitize.sh: no test matched '$filter'" >&2
        status=1
    fi
    rm -f "$log"
    [ "$status" -eq 0 ] || { echo "sanitize.sh: the $sanitizer sanitizer run failed" >&2; exit "$status"; }
done
