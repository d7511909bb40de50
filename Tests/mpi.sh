#!/usr/bin/env bash
# Data-parallel training under Open MPI: builds rnnkit with the MPI trait and
# checks, on this one machine with 1, 2 and 3 ranks (oversubscribed):
#   - the weights are the bits of a run without mpirun, for every cell, with
#     variable-length batches and a rank left without a shard;
#   - a run resumed from a checkpoint with another rank count ends with the
#     bits of an uninterrupted run;
#   - a rank killed with SIGKILL ends the whole job within seconds, and the
#     last checkpoint stays whole.
# Installs Open MPI (Debian: libopenmpi-dev, openmpi-bin) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source Tests/swiftpm.sh

if ! command -v mpirun >/dev/null || ! pkg-config --exists ompi-c; then
    echo "mpi.sh: installing Open MPI"
    sudo_if_needed=()
    [ "$(id -u)" -ne 0 ] && sudo_if_needed=(sudo)
    "${sudo_if_needed[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo_if_needed[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenmpi-dev openmpi-bin pkg-config >/dev/null
fi
mpirun --version | head -1

swiftpm swift build -c release --traits MPI --product rnnkit --scratch-path .build-mpi
rnnkit="$PWD/.build-mpi/release/rnnkit"

# One machine: loopback TCP, more ranks than cores, and root allowed (CI runs as root).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,tcp
mpi() { mpirun --oversubscribe -np "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# 300 series of 8 to 40 steps in 3 classes; 240 train (batches of 100, 100
# and 40 rows: 4, 4 and 2 shards), 60 validate.
python3 - <<'EOF'
import math, random
random.seed(7)
lines = ["@problemName Waves", "@timeStamps false", "@missing false", "@univariate true",
         "@equalLength false", "@classLabel true a b c", "@data"]
for i in range(300):
    label = "abc"[i % 3]
    length = 8 + (i * 7) % 33
    values = [math.sin(0.3 * (1 + "abc".index(label)) * t) + random.gauss(0, 0.3) for t in range(length)]
    lines.append(",".join(f"{v:.4f}" for v in values) + ":" + label)
open("Waves_TRAIN.ts", "w").write("\n".join(lines) + "\n")
EOF
head -c 20000 "$OLDPWD/Sources/rnnkit/Resources/tinyshakespeare.txt" > text.txt

failures=0
check() { # check NAME A B: the two model files hold the same bytes
    if cmp -s "$2" "$3"; then echo "ok   $1"; else echo "FAIL $1: $2 and $3 differ"; failures=$((failures + 1)); fi
}

echo "== the same bits for 1, 2 and 3 ranks, every cell"
for cell in lstm gru rnn_tanh rnn_relu lstm_ln; do
    options=(train --data Waves_TRAIN.ts --cell "$cell" --hidden 16 --batch 100 --steps 9 --no-plot --seed 3)
    [ "$cell" = gru ] && options+=(--layers 2 --bidirectional)
    "$rnnkit" "${options[@]}" --threads 2 --out "alone-$cell.safetensors" >/dev/null
    for ranks in 1 2 3; do
        mpi "$ranks" "$rnnkit" "${options[@]}" --threads 1 --out "$cell-$ranks.safetensors" >/dev/null
        check "$cell on $ranks ranks" "alone-$cell.safetensors" "$cell-$ranks.safetensors"
    done
done

echo "== resumed on another rank count"
text=(train --data text.txt --hidden 32 --seq-len 50 --batch 70 --no-plot --seed 5 --threads 1)
"$rnnkit" "${text[@]}" --steps 12 --out straight.safetensors >/dev/null
mpi 3 "$rnnkit" "${text[@]}" --steps 6 --checkpoint-every 6 --checkpoint six.safetensors --out first.safetensors \
    >/dev/null
mpi 2 "$rnnkit" "${text[@]}" --steps 12 --resume six.safetensors --checkpoint six.safetensors \
    --out resumed.safetensors >/dev/null
check "3 ranks to step 6, then 2 ranks to step 12" straight.safetensors resumed.safetensors

echo "== SIGTERM stops every rank at the same step"
# mpirun itself in the background (not the mpi function's subshell), to signal it.
mpirun --oversubscribe -np 2 "$rnnkit" "${text[@]}" --steps 100000 --checkpoint term.safetensors \
    --out term-model.safetensors >term.log 2>&1 &
launcher=$!
sleep 4
kill -TERM "$launcher"
status=0
wait "$launcher" || status=$?
grep "interrupted" term.log | sed 's/^/    /' || true
step=$("$rnnkit" inspect --model term.safetensors --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["progress.step"])' 2>/dev/null || echo "")
if [ "$status" -eq 0 ] || [ -z "$step" ] || [ "$(grep -c "interrupted" term.log)" -ne 1 ]; then
    echo "FAIL SIGTERM: status $status, checkpoint step '$step', $(grep -c "interrupted" term.log) reports"
    failures=$((failures + 1))
else
    "$rnnkit" "${text[@]}" --steps $((step + 3)) --out term-straight.safetensors >/dev/null
    mpi 3 "$rnnkit" "${text[@]}" --steps $((step + 3)) --resume term.safetensors --checkpoint term.safetensors \
        --out term-resumed.safetensors >/dev/null
    check "stopped by SIGTERM at step $step on 2 ranks, resumed on 3" term-straight.safetensors term-resumed.safetensors
fi

echo "== a killed rank ends the job"
mpirun --oversubscribe -np 2 "$rnnkit" "${text[@]}" --steps 100000 --checkpoint-every 3 \
    --checkpoint killed.safetensors --out never.safetensors >killed.log 2>&1 &
launcher=$!
for _ in $(seq 600); do [ -f killed.safetensors ] && break; sleep 0.1; done
# The last rank process started: rnnkit itself, not mpirun.
victim=""
for process in /proc/[0-9]*; do
    command=$(tr '\0' ' ' <"$process/cmdline" 2>/dev/null || true)
    case "$command" in "$rnnkit train"*killed.safetensors*) victim=${process#/proc/} ;; esac
done
started=$(date +%s%N)
kill -9 "$victim"
status=0
wait "$launcher" || status=$?
milliseconds=$((($(date +%s%N) - started) / 1000000))
echo "mpirun ended with status $status $milliseconds ms after the kill; it said:"
grep "noticed" killed.log | sed 's/^/    /' | head -2 || true
if [ "$status" -eq 0 ] || [ "$milliseconds" -gt 10000 ]; then
    echo "FAIL the job went on after a rank died"
    failures=$((failures + 1))
else
    echo "ok   the job ended within $milliseconds ms"
fi
if "$rnnkit" inspect --model killed.safetensors >/dev/null; then
    echo "ok   the last checkpoint is whole"
else
    echo "FAIL the last checkpoint does not load"
    failures=$((failures + 1))
fi
if [ -e never.safetensors ]; then
    echo "FAIL a model file was written"
    failures=$((failures + 1))
else
    echo "ok   no model file was written"
fi

[ "$failures" -eq 0 ] || { echo "mpi.sh: $failures failures"; exit 1; }
echo "mpi.sh: all passed"
