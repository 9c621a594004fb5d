#!/usr/bin/env bash
# laddertrain's GPU check (docs/performance.md, "GPU check"): on a random Qwen2.5-VL-3B-shaped model and a ladder
# dataset, stage-1/2 samples/s, tokens/s, MFU and peak memory through the real runner (TRL) for each lever, the
# bare loop, rollouts per backend (hf; vllm when installed) and one GRPO step. Prints one table and writes every
# figure to benchmarks/results/<date>-<device>.json. Planned to fit 8 minutes on one H100.
#
#   bash benchmarks/gpu_check.sh          # on the GPU machine
#   bash benchmarks/gpu_check.sh --dry    # CPU, the tiny model, one step each: checks this script (the tests run it)
#
# Environment: DATA (a dataset written by `ladder build-dataset` or `ladder demo`; default demo/dataset),
# RESULTS (default benchmarks/results), PYTHON (default python).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python}"
data="${DATA:-demo/dataset}"
results="${RESULTS:-benchmarks/results}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [[ ! -d "$data/data" ]]; then
    echo "gpu_check: no ladder dataset at $data: run 'ladder demo --out demo' first, or set DATA" >&2
    exit 2
fi
installed() { "$python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)"; }

if [[ "${1:-}" == "--dry" ]]; then
    size=(--shape tiny --device cpu --steps 1 --batch 2 --workers 0 --prompts 2 --generations 2 --completion-tokens 4)
    levers="loop,checkpoint-every-2,fused-eager"  # no compile: minutes of compilation on a CPU
    export OMP_NUM_THREADS=1  # tiny kernels: threads only add contention
else
    size=(--shape 3b --steps 3 --batch 8 --workers 8 --prompts 8 --generations 8 --completion-tokens 256)
    levers="grouped,no-checkpointing,vision-no-checkpointing,checkpoint-every-2,fused-eager,fused-compiled"
    if installed liger_kernel; then levers="$levers,liger,fused-liger"; else echo "gpu_check: liger-kernel not installed: liger levers not measured"; fi
    levers="$levers,compile"  # last: it compiles the model's blocks for good
fi
bench=("$python" benchmarks/bench_train.py --data "$data" "${size[@]}")

# the real runner on stages 1 and 2 with the recipe's levers, rollouts and one GRPO step with hf generate
"${bench[@]}" --sections trl,rollouts,grpo --json "$work/1-base.json"
# each lever on its own, stage 2 (the long stage)
"${bench[@]}" --sections trl --stages stage2 --variants "$levers" --json "$work/2-levers.json"
# the bare loop (processor, forward + backward, optimizer), for the runner's overhead; attention calls per layer
"${bench[@]}" --sections raw,profile --json "$work/3-raw.json"
if [[ "${1:-}" != "--dry" ]]; then
    if installed vllm; then
        "${bench[@]}" --sections grpo --rollouts vllm --json "$work/4-vllm.json"
    else
        echo "gpu_check: vllm not installed: rollouts: vllm not measured"
    fi
fi

"$python" - "$results" "$work"/*.json <<'EOF'
import datetime, json, re, sys
from pathlib import Path

results, parts = Path(sys.argv[1]), [json.loads(Path(p).read_text()) for p in sys.argv[2:]]
device = parts[0]["device"]
records = [r for part in parts for r in part["records"]]
slug = re.sub(r"[^a-z0-9]+", "-", device.lower()).strip("-")
target = results / f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d}-{slug}.json"
results.mkdir(parents=True, exist_ok=True)
report = {"device": device, "date": parts[0]["date"], "shape": parts[0]["shape"], "records": records}
tmp = target.with_name(f".{target.name}.tmp")
tmp.write_text(json.dumps(report, indent=2) + "\n")
tmp.replace(target)

def number(value, scale=1.0, digits=2):
    return "n/a" if value is None else f"{value * scale:,.{digits}f}"

print(f"\n{device}, {parts[0]['shape']} shape")
print(f"| section | stage | variant | levers | samples/s | tokens/s | MFU % | peak GiB | step s |")
print("|---|---|---|---|---|---|---|---|---|")
for r in records:
    levers = r.get("levers", {})
    keys = ("precision", "vision_attention", "checkpointing", "checkpoint_vision", "checkpoint_every", "compile_blocks", "liger", "fused_ops", "rollouts")
    shown = ", ".join(f"{k} {levers[k]}" for k in keys if k in levers)
    if r["section"] in ("raw", "trl"):
        print(f"| {r['section']} | {r['stage']} | {r['variant']} | {shown} | {number(r['samples_per_s'])} | "
              f"{number(r['tokens_per_s'], digits=0)} | {number(r['mfu'], 100, 1)} | {number(r['peak_gib'], digits=1)} | "
              f"{number(r['step_s'])} |")
    elif r["section"] == "rollouts":
        print(f"| rollouts | {r['completions']} completions | {r['path']} | {shown} | | "
              f"{number(r['new_tokens_per_s'], digits=0)} new | | | {number(r['seconds'])} |")
    elif r["section"] == "grpo":
        print(f"| GRPO step | {r['completions']} completions | | {shown} | | | | | "
              f"{number(r['step_s'])} (generation {number(r['generation_s'])}) |")
print(f"\nwrote {target}")
EOF
