#!/usr/bin/env bash
# Fuzzes the safetensors, .ts, CSV and text readers with libFuzzer, each for a
# bounded time, and fails if any input crashes, traps, breaks an invariant,
# trips AddressSanitizer, hangs or exhausts memory; the input's path is printed.
#
#     Tests/fuzz.sh [safetensors] [ts] [csv] [text]      (default: all four)
#
# RNNKIT_FUZZ_SECONDS sets the time per reader (default 60).
#
# How the fuzzer is built: the harness is the executable target rnnkit-fuzz
# (Tests/Fuzz). A plain `swift build` compiles it as a replayer that runs the
# files it is given through a reader, for reproducing a finding without the
# fuzz build:
#
#     swift run rnnkit-fuzz ts crash-input
#
# With RNNKIT_FUZZING=1 in the environment, Package.swift compiles RNNKit and
# the harness with `-sanitize=fuzzer,address` (coverage for libFuzzer, and
# AddressSanitizer) and defines FUZZING. The flags cannot come from the
# command line (`-Xswiftc`, `--sanitize=fuzzer`): those reach every
# executable, KernelGenerator included, which has no fuzz target to link.
# SwiftPM defines `main` as the harness's main.swift when it links an
# executable, so libFuzzer's own `main` never runs; main.swift hands the
# arguments to `LLVMFuzzerRunDriver` instead.
#
# Seeds: Tests/Fixtures/fuzz/<reader>/, Tests/Fixtures/malformed/<reader>/
# and, for safetensors, Tests/Fixtures/golden/. libFuzzer's working corpus
# and findings go to a temporary folder, kept only when something is found.
# A finding, once fixed, goes into Tests/Fixtures/malformed/<reader>/ with
# its expected error (the reader tests replay that folder).
set -euo pipefail
cd "$(dirname "$0")/.."
source Tests/swiftpm.sh

seconds=${RNNKIT_FUZZ_SECONDS:-60}
readers=("$@")
[ ${#readers[@]} -gt 0 ] || readers=(safetensors ts csv text)

work=$(mktemp -d "${TMPDIR:-/tmp}/rnnkit-fuzz.XXXXXX")
export RNNKIT_FUZZING=1
# gold warns once per AddressSanitizer helper symbol; the rest is kept.
if ! swiftpm swift build --build-path .build-fuzz --product rnnkit-fuzz > "$work/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$work/build.log" >&2
    exit 1
fi
binary=.build-fuzz/debug/rnnkit-fuzz
# A Swift trap is reported by libFuzzer's handler; the Swift runtime's own
# backtracer would only add minutes.
export SWIFT_BACKTRACE=enable=no
failed=()
for reader in "${readers[@]}"; do
    corpus="$work/$reader/corpus"
    mkdir -p "$corpus"
    case $reader in
        safetensors | ts | csv | text) seeds=("Tests/Fixtures/fuzz/$reader" "Tests/Fixtures/malformed/$reader") ;;
        *) echo "fuzz.sh: no reader named '$reader'" >&2; exit 2 ;;
    esac
    [ "$reader" != safetensors ] || seeds+=(Tests/Fixtures/golden)
    find "${seeds[@]}" -type f ! -name '*.md' ! -name MANIFEST.txt -exec cp {} "$corpus/" \;
    echo "== $reader: $(ls "$corpus" | wc -l) seeds, ${seconds} s"
    if "$binary" "$reader" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/$reader/" -print_final_stats=1 "$corpus" > "$work/$reader/log" 2>&1; then
        grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added)" "$work/$reader/log" || true
    else
        tail -n 60 "$work/$reader/log"
        echo "fuzz.sh: the $reader reader failed; input: $(ls "$work/$reader/"{crash,leak,timeout,oom,slow-unit}-* 2>/dev/null | tr '\n' ' ')"
        failed+=("$reader")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: findings for ${failed[*]}; logs and inputs in $work"
    exit 1
fi
rm -rf "$work"
echo "fuzz.sh: no findings in ${readers[*]}"
