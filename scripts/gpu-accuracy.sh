#!/usr/bin/env bash
# On the GPU machine, over a bundle made by scripts/gpu-bundle.sh with the demo model and the E64 text beside
# it (BUNDLE/data/demo-gut-llama, BUNDLE/data/eval.txt, BUNDLE/data/calib.txt): the cuda-label tests, then E64
# perplexity of the CUDA engine against the CPU engines on the same windows, FP (CUDA BF16 vs CPU FP32) and
# W8A8 RTN and GPTQ (CUDA W8A8 vs the CPU integer engine). Logs and JSON into OUT; a table last.
#   scripts/gpu-accuracy.sh BUNDLE OUT [WINDOWS]
set -uo pipefail
b="$(cd "$1" && pwd)"; out="$2"; windows="${3:-64}"
mkdir -p "$out"
t() { "$b/run.sh" "$@"; }
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; lscpu | grep 'Model name'; uptime; } \
  > "$out/machine.txt" 2>&1
cat "$out/machine.txt"
t tameq_tests --gtest_filter='Cuda*' > "$out/tests.log" 2>&1
echo "tests rc=$?"; grep -E '^\[  (PASSED|FAILED|SKIPPED) |^\[==========\]|Failure|error' "$out/tests.log" | head -40
m="$b/data/demo-gut-llama"; data="$b/data/eval.txt"
t tameq quantize "$m" --recipe w=8,a=8 -o /tmp/q-w8a8-rtn > "$out/quantize.log" 2>&1 || echo "quantize rtn failed"
t tameq quantize "$m" --recipe "w=8,a=8,weights=gptq,calib=$b/data/calib.txt" -o /tmp/q-w8a8-gptq >> "$out/quantize.log" 2>&1 \
  || echo "quantize gptq failed"
ppl() {  # name model device [extra...]
  local name="$1" model="$2" device="$3"; shift 3
  local s=$SECONDS
  t tameq eval ppl "$model" --data "$data" --windows "$windows" --device "$device" --json "$@" \
    > "$out/$name.json" 2> "$out/$name.err"
  echo "$name rc=$? $((SECONDS - s)) s wall $(tail -c 300 "$out/$name.err" | tr '\r' '\n' | tail -1)"
}
ppl fp-cpu "$m" cpu
ppl fp-cuda "$m" cuda --ref "$m"
ppl rtn-cpu /tmp/q-w8a8-rtn cpu --ref "$m"
ppl rtn-cuda /tmp/q-w8a8-rtn cuda --ref "$m"
ppl gptq-cpu /tmp/q-w8a8-gptq cpu --ref "$m"
ppl gptq-cuda /tmp/q-w8a8-gptq cuda --ref "$m"
# Greedy generation, CPU FP32 against CUDA BF16 and the CPU integer engine against CUDA W8A8.
for d in cpu cuda; do
  t tameq run "$m" -p "It was a dark and stormy night" -n 48 --temp 0 --device "$d" > "$out/run-fp-$d.txt" 2> "$out/run-fp-$d.err"
  t tameq run /tmp/q-w8a8-rtn -p "It was a dark and stormy night" -n 48 --temp 0 --device "$d" > "$out/run-rtn-$d.txt" 2> "$out/run-rtn-$d.err"
done
cmp -s "$out/run-fp-cpu.txt" "$out/run-fp-cuda.txt" && echo "greedy FP: CUDA BF16 text equals CPU FP32" || echo "greedy FP: texts differ"
cmp -s "$out/run-rtn-cpu.txt" "$out/run-rtn-cuda.txt" && echo "greedy W8A8: CUDA text equals CPU integer" || echo "greedy W8A8: texts differ"
# Refusals: one line, exit 2.
t tameq quantize "$m" --recipe rotate=rh,w=8,a=8 -o /tmp/q-rh > /dev/null 2>&1
t tameq eval ppl /tmp/q-rh --data "$data" --windows 1 --device cuda > "$out/refuse.log" 2>&1; echo "refusal rc=$? $(cat "$out/refuse.log")"
python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
def load(n):
    try: return json.load(open(os.path.join(out, n + ".json")))
    except Exception as e: return None
print(f"{'run':10} {'PPL':>10} {'ref PPL':>10} {'KL':>10} {'top-1':>7}  engine")
for n in ["fp-cpu", "fp-cuda", "rtn-cpu", "rtn-cuda", "gptq-cpu", "gptq-cuda"]:
    j = load(n)
    if not j: print(f"{n:10} (no result)"); continue
    print(f"{n:10} {j['ppl']:10.4f} {j.get('ref_ppl', float('nan')):10.4f} {j.get('kl_mean', float('nan')):10.6f} "
          f"{100*j.get('top1_agree', float('nan')):6.2f}%  {j.get('engine', 'cpu fp32')[:90]}  windows={j['windows']} scored={j['tokens_scored']}")
for a, b in [("fp-cuda", "fp-cpu"), ("rtn-cuda", "rtn-cpu"), ("gptq-cuda", "gptq-cpu")]:
    ja, jb = load(a), load(b)
    if ja and jb: print(f"{a} / {b} - 1 = {100*(ja['ppl']/jb['ppl']-1):+.4f} %")
PY
