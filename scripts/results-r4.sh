#!/usr/bin/env bash
# RESULTS §8.3, block-R4 and no-R4 rotations (issue 13, item 3): E64 (ctx 1024, 64 windows of eval.txt, BOS
# first) of W4A4KV16 and W4A8KV16 × {RTN, GPTQ} × {RH, DFRot} × r4 ∈ {full, block=128, 256, 512, none}, on
# gut-llama-27m (intermediate 1536 = 3·512) and models/demo-gut-llama (768 = 3·256, so block=512 is refused
# there: the refusal is printed). Integer engine (sweep's default, as eval ppl's). One `tameq sweep` per
# (stage, model), cheapest stage first: RH+RTN, RH+GPTQ, DFRot+RTN, DFRot+GPTQ (GPTQ: 32 calibration windows
# of 1024 of calib.txt; DFRot: 1 window, 100 iterations). Rows are kept in $OUT (an interrupted run resumes).
#   scripts/results-r4.sh [STAGE...]   (stages: rh-rtn rh-gptq dfrot-rtn dfrot-gptq; default all, in that order)
#   TAMEQ=binary SHARED=../shared OUT=build/results-r4 MODELS="demo llama" WINDOWS=64 JOBS=1 ROW_THREADS=
# JOBS > 1 runs that many rows at once (each recipe its own `tameq sweep` into the stage's directory, with
# ROW_THREADS kernel and BLAS threads each), for a machine with many cores; the stage's sweep then only
# assembles the finished rows. The rows are the same as one sweep's: each row's arithmetic does not depend on
# the others (the FP reference is evaluated beside every row either way).
# WINDOWS < 64 is a shorter protocol than E64 (the first WINDOWS windows of it), for a box too busy for E64;
# its sweeps go to their own directories (NAME-wWINDOWS).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

llama="$shared/models/gut-llama-27m"
demo="models/demo-gut-llama"

# recipes ROTATION WEIGHTS R4-VARIANTS...: "rotate=R,w=4,a=A,weights=Q,r4=V" for A in 4 8 and every variant.
recipes() {
  local rot=$1 q=$2 list=""
  shift 2
  for a in 4 8; do
    for v in "$@"; do
      local r="rotate=$rot,w=4,a=$a,weights=$q"
      [ "$v" = full ] || r+=",r4=$v"
      list+="${list:+;}$r"
    done
  done
  echo "$list"
}

windows="${WINDOWS:-64}"
models="${MODELS:-demo llama}"
suffix=""
[ "$windows" = 64 ] || suffix="-w$windows"

# One sweep at nice 5 (lib.sh's sweep runs at 10 and E64 only).
sweep_r4() {
  local name=$1 model=$2 recipes=$3
  say "sweep $name (int, $windows windows): $recipes"
  nice -n 5 "$tq" sweep "$model" --recipes "$recipes" --data "$eval_text" --calib "$calib_text" --ctx 1024 \
    --windows "$windows" --engine int -o "$out/$name" > "$out/$name.log"
}

# One row (ONE recipe) of a stage's sweep, for JOBS > 1: "NAME|MODEL|RECIPE".
sweep_row() {
  local name=${1%%|*} rest=${1#*|}
  local model=${rest%%|*} recipe=${rest#*|}
  local log="$out/$name.$(echo "$recipe" | tr ',=;' '_-_').log"
  say "row $name: $recipe"
  TAMEQ_THREADS=${ROW_THREADS:-1} OPENBLAS_NUM_THREADS=${ROW_THREADS:-1} nice -n 5 "$tq" sweep "$model" \
    --recipes "$recipe" --data "$eval_text" --calib "$calib_text" --ctx 1024 --windows "$windows" --engine int \
    -o "$out/$name" > "$log" 2>&1 || { say "row $name: $recipe FAILED (see $log)"; return 1; }
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(rh-rtn rh-gptq dfrot-rtn dfrot-gptq)

# The refusal on the demo model (one line, exit 2, nothing written).
if [ ! -f "$out/demo-block-512-refusal.txt" ]; then
  set +e
  "$tq" quantize "$demo" -o "$out/demo-block-512-refused" --rotate rh --wbits 4 --abits 4 --r4 block=512 \
    2> "$out/demo-block-512-refusal.txt"
  echo "exit $?" >> "$out/demo-block-512-refusal.txt"
  set -e
  cat "$out/demo-block-512-refusal.txt" >&2
fi

plan=()  # "NAME|MODEL|RECIPES", one per (stage, model), in order
for stage in "${stages[@]}"; do
  rot=${stage%-*} q=${stage#*-}
  first=""
  [ "$stage" = rh-rtn ] && first="fp;"
  for m in $models; do
    if [ "$m" = llama ]; then
      plan+=("llama-$stage$suffix|$llama|$first$(recipes "$rot" "$q" full block=128 block=256 block=512 none)")
    else
      plan+=("demo-$stage$suffix|$demo|$first$(recipes "$rot" "$q" full block=128 block=256 none)")
    fi
  done
done

if [ "${JOBS:-1}" -gt 1 ]; then
  # Costliest stages first (the plan's last), so the pool drains evenly.
  for ((i = ${#plan[@]} - 1; i >= 0; i--)); do
    p=${plan[i]}
    head=${p%|*}
    tr ';' '\n' <<< "${p##*|}" | sed "s#^#$head|#"
  done > "$out/rows.txt"
  export -f sweep_row say
  export tq out eval_text calib_text windows ROW_THREADS
  xargs -d '\n' -P "$JOBS" -n 1 bash -c 'sweep_row "$1"' _ < "$out/rows.txt" || say "some rows failed: see above"
fi
for p in "${plan[@]}"; do
  rest=${p#*|}
  sweep_r4 "${p%%|*}" "${rest%%|*}" "${rest#*|}"
done

python3 - "$out" "$suffix" "${stages[@]}" <<'PY'
import json, os, sys
out, suffix, stages = sys.argv[1], sys.argv[2], sys.argv[3:]
print("| model | recipe | PPL | ΔPPL vs full R4 | KL | top-1 | engine |")
print("|---|---|---|---|---|---|---|")
for model in ("llama", "demo"):
    for stage in stages:
        path = os.path.join(out, f"{model}-{stage}{suffix}", "sweep.json")
        if not os.path.exists(path):
            continue
        rows = json.load(open(path))["rows"]
        full = {}
        for r in rows:
            if r["recipe"] == "fp":
                print(f"| {model} | FP | {r['ppl']:.4f} | | 0 | 100% | FP32 |")
                continue
            base = r["recipe"].split(",r4=")[0]
            if ",r4=" not in r["recipe"]:
                full[base] = r["ppl"]
            d = f"{100 * (r['ppl'] / full[base] - 1):+.2f}%" if base in full and ",r4=" in r["recipe"] else ""
            print(f"| {model} | `{r['recipe']}` | {r['ppl']:.4f} | {d} | {r['kl']:.5f} | {100 * r['top1']:.2f}% "
                  f"| {r.get('engine_description', '')} |")
PY
