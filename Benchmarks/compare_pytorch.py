#!/usr/bin/env python3
"""RNNKit against the PyTorch CPU anchor, shape by shape, in one run.

Builds rnnkit-bench in release, then for every shape runs RNNKit's bench and
../shared/anchors/pytorch_rnn_bench.py one after the other (RNNKit shape A,
PyTorch shape A, RNNKit shape B, ...), with the same thread count and minimum
time, so that both see the same machine load. Prints seq/s of both and their
ratio, and both GFLOP/s as a fraction of the FMA peak that rnnkit-bench
measures at that thread count.

Usage (from the repository root or anywhere):
    Benchmarks/compare_pytorch.py --threads 2 --min-time 1
    Benchmarks/compare_pytorch.py --shape lstm:64:100:128:256:1 --rounds 3

torch is taken from ${TORCH_PYTHON:-/tmp/torch-venv/bin/python}; when it cannot
import torch, RNNKit's figures are shown alone. Only the standard library is
needed to run this script itself.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ANCHOR = os.path.join(REPO, "..", "shared", "anchors", "pytorch_rnn_bench.py")
INFERENCE_ANCHOR = os.path.join(REPO, "Benchmarks", "pytorch_inference.py")
DEFAULT_TORCH_PYTHON = "/tmp/torch-venv/bin/python"

# The anchors README's table, in its order.
DEFAULT_SHAPES = [
    "rnn:64:50:32:64:1", "lstm:64:50:32:64:1", "gru:64:50:32:64:1",
    "lstm:64:100:128:256:1", "gru:64:100:128:256:1", "rnn:64:100:128:256:1",
    "lstm:128:50:512:512:1", "lstm:64:100:128:256:2",
]


def fail(message, status=2):
    print(f"compare_pytorch: {message}", file=sys.stderr)
    sys.exit(status)


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", action="append", default=[],
                        help="CELL:BATCH:SEQ:INPUT:HIDDEN:LAYERS (repeatable; default: the anchors README's 8 shapes)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for both (default: all cores)")
    parser.add_argument("--min-time", type=float, default=2.0, help="timed seconds per shape, each side (default 2)")
    parser.add_argument("--peak-time", type=float, default=1.0,
                        help="seconds per FMA peak measurement in rnnkit-bench (default 1)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate over all shapes this many times and report medians (default 1)")
    parser.add_argument("--no-inference", action="store_true",
                        help="skip the forward-only timing of both sides (RNNKit's reused Predictor, "
                             "PyTorch's module under torch.inference_mode: Benchmarks/pytorch_inference.py)")
    parser.add_argument("--skip-build", action="store_true", help="use the release rnnkit-bench already built")
    parser.add_argument("--anchor", default=DEFAULT_ANCHOR, help="path of pytorch_rnn_bench.py")
    parser.add_argument("--json", action="store_true", help="one JSON object per shape instead of the table")
    parser.add_argument("--svg", metavar="FILE", help="also draw both sides' seq/s per shape as an SVG bar chart")
    arguments = parser.parse_args()
    if arguments.threads < 1 or arguments.rounds < 1 or arguments.min_time < 0 or arguments.peak_time < 0:
        fail("--threads and --rounds must be positive, --min-time and --peak-time not negative")
    return arguments


def build_bench():
    """Builds rnnkit-bench in release and returns the binary's path."""
    print("building rnnkit-bench (release)...", file=sys.stderr, flush=True)
    build = subprocess.run(["swift", "build", "-c", "release", "--product", "rnnkit-bench"], cwd=REPO,
                           stdout=subprocess.DEVNULL)
    if build.returncode != 0:
        fail("swift build -c release --product rnnkit-bench failed", status=1)
    return bench_path()


def bench_path():
    shown = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPO,
                           capture_output=True, text=True)
    if shown.returncode != 0:
        fail("swift build --show-bin-path failed: " + shown.stderr.strip(), status=1)
    path = os.path.join(shown.stdout.strip(), "rnnkit-bench")
    if not os.access(path, os.X_OK):
        fail(f"{path} is not built; run without --skip-build", status=1)
    return path


def run_measured(command):
    """Runs `command`; returns (status, stdout, stderr, peak resident bytes of that process alone)."""
    with tempfile.TemporaryFile(mode="w+") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        output = process.stdout.read()
        process.stdout.close()
        # wait4, not wait: it returns this child's own rusage, not the maximum over all children.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
        return process.returncode, output, errors.read(), usage.ru_maxrss * scale


def torch_python():
    """(python, torch version, peak bytes of `import torch` alone), or (None, reason)."""
    python = os.environ.get("TORCH_PYTHON", DEFAULT_TORCH_PYTHON)
    try:
        status, output, errors, import_bytes = run_measured([python, "-c", "import torch; print(torch.__version__)"])
    except OSError as error:
        return None, f"cannot run {python}: {error}"
    if status != 0:
        last = (errors.strip().splitlines() or ["no message"])[-1]
        return None, f"{python} cannot import torch ({last})"
    return (python, output.strip(), import_bytes), None


def json_lines(name, command):
    """Runs `command`; returns the JSON objects it printed and its peak resident bytes, or raises RuntimeError."""
    status, output, errors, peak_bytes = run_measured(command)
    if status != 0:
        raise RuntimeError(f"{name} exited with status {status}: {errors.strip()[-500:]}")
    objects = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("{"):
            objects.append(json.loads(line))
    if not objects:
        raise RuntimeError(f"no JSON line from {name}: {' '.join(command)}")
    return objects, peak_bytes


def run_rnnkit(bench, shape, arguments):
    command = [bench, "--json", "--shape", shape, "--threads", str(arguments.threads),
               "--min-time", str(arguments.min_time), "--peak-time", str(arguments.peak_time)]
    if arguments.no_inference:
        command.append("--no-inference")
    return json_lines("rnnkit-bench", command)[0][0]


def anchor_spec(shape):
    """The shape as the anchor spells it, or None when the anchor has no such cell."""
    cell, rest = shape.split(":", 1)
    cell = {"rnn_tanh": "rnn"}.get(cell.lower(), cell.lower())
    return None if cell not in ("rnn", "lstm", "gru") else f"{cell}:{rest}"


def run_pytorch(torch, shape, arguments):
    python = torch[0]
    spec = anchor_spec(shape)
    if spec is None:
        return None
    command = [python, arguments.anchor, "--threads", str(arguments.threads), "--min-time", str(arguments.min_time),
               "--shape", spec]
    objects, peak_bytes = json_lines("the PyTorch anchor", command)
    result = objects[0]
    result["process_peak_memory_bytes"] = peak_bytes  # the anchor runs one shape per process here
    if not arguments.no_inference:
        command = [python, INFERENCE_ANCHOR, "--threads", str(arguments.threads),
                   "--min-time", str(arguments.min_time), "--shape", spec]
        result["inference_seq_per_s"] = json_lines("the PyTorch inference anchor", command)[0][0]["seq_per_s"]
    return result


def median(values):
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def summarize(shape, rnnkit_runs, pytorch_runs):
    """One row from the rounds of one shape: medians of each figure."""
    last = rnnkit_runs[-1]
    row = {
        "shape": shape,
        "threads": last["threads"],
        "rounds": len(rnnkit_runs),
        "rnnkit_seq_per_s": median([run["seq_per_s"] for run in rnnkit_runs]),
        "rnnkit_gflops": median([run["gflops"] for run in rnnkit_runs]),
        "rnnkit_peak_fraction": median([run["peak_fraction"] for run in rnnkit_runs]),
        "rnnkit_inference_seq_per_s": median([run.get("inference_seq_per_s") for run in rnnkit_runs]),
        "rnnkit_peak_memory_bytes": max(run["peak_memory_bytes"] for run in rnnkit_runs),
        "peak_gflops_n": median([run["peak_gflops_n"] for run in rnnkit_runs]),
        "load_average": max(run["load_average"] for run in rnnkit_runs),
        "pytorch_seq_per_s": None, "pytorch_gflops": None, "pytorch_peak_fraction": None, "ratio": None,
        "pytorch_peak_memory_bytes": None, "pytorch_inference_seq_per_s": None, "inference_ratio": None,
    }
    # Each PyTorch run against the peak rnnkit-bench measured just before it, at the same thread count.
    pairs = [(pytorch, rnnkit) for pytorch, rnnkit in zip(pytorch_runs, rnnkit_runs) if pytorch is not None]
    if pairs:
        row["pytorch_version"] = pairs[-1][0]["version"]
        row["pytorch_seq_per_s"] = median([pytorch["seq_per_s"] for pytorch, _ in pairs])
        row["pytorch_gflops"] = median([pytorch["gflops"] for pytorch, _ in pairs])
        row["pytorch_peak_memory_bytes"] = max(pytorch["process_peak_memory_bytes"] for pytorch, _ in pairs)
        row["pytorch_peak_fraction"] = median([pytorch["gflops"] / rnnkit["peak_gflops_n"]
                                               if rnnkit.get("peak_gflops_n") else None for pytorch, rnnkit in pairs])
        row["ratio"] = row["rnnkit_seq_per_s"] / row["pytorch_seq_per_s"]
        row["pytorch_inference_seq_per_s"] = median([pytorch.get("inference_seq_per_s") for pytorch, _ in pairs])
        if row["pytorch_inference_seq_per_s"] and row["rnnkit_inference_seq_per_s"]:
            row["inference_ratio"] = row["rnnkit_inference_seq_per_s"] / row["pytorch_inference_seq_per_s"]
    return row


COLUMNS = [
    ("shape", 22, "<"), ("threads", 7, ">"), ("RNNKit seq/s", 12, ">"), ("PyTorch seq/s", 13, ">"),
    ("RNNKit/PyTorch", 14, ">"), ("RNNKit GFLOP/s", 14, ">"), ("PyTorch GFLOP/s", 15, ">"),
    ("RNNKit % peak", 13, ">"), ("PyTorch % peak", 14, ">"), ("RNNKit infer seq/s", 18, ">"),
    ("PyTorch infer seq/s", 19, ">"), ("infer RNNKit/PyTorch", 20, ">"),
    ("RNNKit peak MiB", 15, ">"), ("PyTorch peak MiB", 16, ">"), ("load", 5, ">"),
]


def text_row(cells):
    return "  ".join(f"{cell:{align}{width}}" for cell, (_, width, align) in zip(cells, COLUMNS))


def number(value, decimals, suffix=""):
    return "-" if value is None else f"{value:.{decimals}f}{suffix}"


def table_row(row):
    return text_row([
        row["shape"], str(row["threads"]), number(row["rnnkit_seq_per_s"], 1), number(row["pytorch_seq_per_s"], 1),
        number(row["ratio"], 2, "x"), number(row["rnnkit_gflops"], 1), number(row["pytorch_gflops"], 1),
        number(row["rnnkit_peak_fraction"] and 100 * row["rnnkit_peak_fraction"], 1),
        number(row["pytorch_peak_fraction"] and 100 * row["pytorch_peak_fraction"], 1),
        number(row["rnnkit_inference_seq_per_s"], 1), number(row["pytorch_inference_seq_per_s"], 1),
        number(row["inference_ratio"], 2, "x"),
        number(row["rnnkit_peak_memory_bytes"] / 1048576, 1),
        number(row["pytorch_peak_memory_bytes"] and row["pytorch_peak_memory_bytes"] / 1048576, 1),
        number(row["load_average"], 1),
    ])


def throughput_chart(rows, threads):
    """Both sides' training seq/s per shape on a log scale, with the ratio above each pair."""
    import math
    width, height, left, right, top, bottom = 760, 420, 70, 740, 50, 310
    values = [v for row in rows for v in (row["rnnkit_seq_per_s"], row["pytorch_seq_per_s"]) if v]
    low = 10 ** math.floor(math.log10(min(values)))
    high = 10 ** math.ceil(math.log10(max(values)))
    def y(value):
        return bottom - (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low)) * (bottom - top)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'font-family="sans-serif" font-size="12">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">Training throughput, {threads} threads '
             f'(sequences/s, log scale)</text>']
    decade = low
    while decade <= high:
        parts.append(f'<line x1="{left}" y1="{y(decade):.1f}" x2="{right}" y2="{y(decade):.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{left - 6}" y="{y(decade) + 4:.1f}" text-anchor="end">{decade:g}</text>')
        decade *= 10
    slot = (right - left) / len(rows)
    bar = slot * 0.35
    for index, row in enumerate(rows):
        middle = left + slot * (index + 0.5)
        for offset, value, colour in ((-bar, row["rnnkit_seq_per_s"], "#1f77b4"), (0, row["pytorch_seq_per_s"], "#d62728")):
            if value:
                parts.append(f'<rect x="{middle + offset:.1f}" y="{y(value):.1f}" width="{bar:.1f}" '
                             f'height="{bottom - y(value):.1f}" fill="{colour}"/>')
        if row["ratio"]:
            highest = max(v for v in (row["rnnkit_seq_per_s"], row["pytorch_seq_per_s"]) if v)
            parts.append(f'<text x="{middle:.1f}" y="{y(highest) - 4:.1f}" text-anchor="middle" font-size="11">'
                         f'{row["ratio"]:.2f}x</text>')
        parts.append(f'<text transform="translate({middle:.1f} {bottom + 10}) rotate(35)" font-size="11">{row["shape"]}</text>')
    parts += [f'<rect x="{left}" y="{height - 22}" width="12" height="12" fill="#1f77b4"/>',
              f'<text x="{left + 16}" y="{height - 12}">RNNKit</text>',
              f'<rect x="{left + 90}" y="{height - 22}" width="12" height="12" fill="#d62728"/>',
              f'<text x="{left + 106}" y="{height - 12}">PyTorch</text>', '</svg>']
    return "\n".join(parts) + "\n"


def main():
    arguments = parse_arguments()
    shapes = arguments.shape or DEFAULT_SHAPES
    bench = bench_path() if arguments.skip_build else build_bench()
    for shape in shapes:
        # Let rnnkit-bench judge the syntax, quickly, before anything long runs.
        check = subprocess.run([bench, "--shape", shape, "--help"], capture_output=True, text=True)
        if check.returncode != 0:
            fail(check.stderr.strip().removeprefix("rnnkit-bench: "))
    torch, reason = torch_python()
    if torch is None:
        print(f"compare_pytorch: PyTorch not available: {reason}.\n"
              f"  Install it with: python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch numpy\n"
              f"  or point TORCH_PYTHON at a Python that has torch. Showing RNNKit's figures alone.",
              file=sys.stderr, flush=True)
    if not os.path.exists(arguments.anchor) and torch is not None:
        print(f"compare_pytorch: anchor script {arguments.anchor} not found; showing RNNKit's figures alone.",
              file=sys.stderr, flush=True)
        torch = None

    if not arguments.json:
        versions = f"PyTorch {torch[1]}" if torch else "PyTorch: not available"
        print(f"RNNKit vs {versions}; {arguments.threads} threads, {arguments.min_time} s per shape and side, "
              f"{arguments.rounds} round(s) alternating per shape (medians shown).")
        print("GFLOP/s counts the recurrent layers (3 x forward matmul FLOPs) on both sides; both train the bare")
        print("recurrent stack, MSE on its output (RNNKit: OutputHead.identity). % peak: of the FMA peak rnnkit-bench measured")
        print("at this thread count next to each shape. RNNKit/PyTorch > 1 means RNNKit is faster. load: the highest")
        print(f"1-minute load average seen before the shape's runs; above {os.cpu_count()} (the cores here), other work")
        print("competes for the cores, and PyTorch's spinning OpenMP threads suffer far more from that than RNNKit.")
        print("infer: forward passes only over the same batch, RNNKit's reused Predictor against PyTorch's module")
        print("under torch.inference_mode (Benchmarks/pytorch_inference.py); the mean of passes over the same time.")
        print("peak MiB: maximum resident set of the process that measured the shape (RNNKit: its child process,")
        print("about 19 MiB of it Swift runtime and Foundation before any model exists"
              + (f"; PyTorch: the anchor's whole process, {torch[2] / 1048576:.0f} MiB of it `import torch` alone)." if torch else ")."))
        print()
        print(text_row([title for title, _, _ in COLUMNS]))
        print("-" * len(text_row([title for title, _, _ in COLUMNS])), flush=True)

    results = {shape: ([], []) for shape in shapes}
    rows = []
    failures = 0
    for round_index in range(arguments.rounds):
        for shape in shapes:
            rnnkit_runs, pytorch_runs = results[shape]
            load = os.getloadavg()[0]
            try:
                rnnkit = run_rnnkit(bench, shape, arguments)
                pytorch = run_pytorch(torch, shape, arguments) if torch else None
                rnnkit["load_average"] = load
                rnnkit_runs.append(rnnkit)
                pytorch_runs.append(pytorch)
            except RuntimeError as error:
                failures += 1
                print(f"compare_pytorch: {shape}: {error}", file=sys.stderr, flush=True)
                continue
            if round_index == arguments.rounds - 1 and rnnkit_runs:
                row = summarize(shape, rnnkit_runs, pytorch_runs)
                rows.append(row)
                print(json.dumps(row) if arguments.json else table_row(row), flush=True)
    if arguments.svg and rows:
        with open(arguments.svg, "w") as chart:
            chart.write(throughput_chart(rows, arguments.threads))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
