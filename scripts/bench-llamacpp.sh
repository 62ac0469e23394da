#!/usr/bin/env bash
# End-to-end speed and memory, tameq against llama.cpp on the same machine, threads and token counts:
#   scripts/bench-llamacpp.sh [gut|synth7b]...     (default: both)
# For each model: quantized directories (W8A8 RTN, W4A8 RH RTN, W4A4 RH RTN) made by `tameq quantize`, GGUF files
# (f32, q8_0, q4_0) made by `tameq export`, then build/tameq_bench's E2E benchmarks (one process per
# configuration, so peak RSS is its own) and bench/llamacpp/bench.mjs; prints one table with ratios to our FP32.
# On gut-llama-27m it first checks the export: llama.cpp's greedy continuation of the F32 GGUF must equal ours.
# Needs: scripts/build.sh (Release build/), scripts/install-llamacpp.sh. Env: THREADS (2), PROMPT (512), GEN (128),
# SYNTH_LAYERS (2), REPS (3: llama.cpp runs, best kept), WORK (/tmp/tameq-e2e: models, GGUF files, JSON results in res-tTHREADS/).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
THREADS=${THREADS:-2} PROMPT=${PROMPT:-512} GEN=${GEN:-128} SYNTH_LAYERS=${SYNTH_LAYERS:-2} REPS=${REPS:-3}
WORK=${WORK:-/tmp/tameq-e2e}
shared=${TAMEQ_SHARED_DIR:-$root/../shared}
[ -x build/tameq ] && [ -x build/tameq_bench ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
[ -d build/llamacpp/node_modules/node-llama-cpp ] || { echo "install llama.cpp first: scripts/install-llamacpp.sh" >&2; exit 1; }
res=$WORK/res-t$THREADS
mkdir -p "$WORK/bin" "$res"
# Copies, so a rebuild during the run does not change what is timed.
cp build/tameq build/tameq_bench "$WORK/bin/"
tameq=$WORK/bin/tameq
export TAMEQ_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS

declare -A recipe=([w8a8]="--wbits 8 --abits 8" [w4a8]="--rotate rh --wbits 4 --abits 8" [w4a4]="--rotate rh --wbits 4 --abits 4")

prepare() {  # name src
    local name=$1 src=$2
    for q in w8a8 w4a8 w4a4; do
        [ -d "$WORK/$name-$q" ] || $tameq quantize "$src" -o "$WORK/$name-$q" ${recipe[$q]} --seed 1 >/dev/null
    done
    for t in f32 q8_0 q4_0; do
        [ -f "$WORK/$name-$t.gguf" ] || $tameq export "$src" -o "$WORK/$name-$t.gguf" --type "$t"
    done
}

check_export() {  # src name: greedy text of llama.cpp on the F32 GGUF equals ours
    local src=$1 name=$2 prompt="It was a dark and stormy night" n=32
    local ours theirs
    ours=$($tameq run "$src" -p "$prompt" -n $n --temp 0 2>/dev/null)
    for t in f32 q8_0 q4_0; do
        theirs=$(node bench/llamacpp/bench.mjs --model "$WORK/$name-$t.gguf" --greedy "$prompt" --gen $n --threads "$THREADS" |
                 node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).text))')
        if [ "$ours" == "$prompt$theirs" ]; then
            echo "export check $name $t: llama.cpp's $n greedy tokens equal tameq FP32's"
        else
            echo "export check $name $t: greedy texts differ"; echo "  tameq:     $ours"; echo "  llama.cpp: $prompt$theirs"
            [ "$t" != f32 ] || { echo "F32 export does not reproduce the model" >&2; exit 1; }
        fi
    done
}

run_one() {  # name src
    local name=$1 src=$2
    for cfg in fp32 w8a8 w4a8 w4a4; do
        local dir=$src; [ $cfg == fp32 ] || dir=$WORK/$name-$cfg
        TAMEQ_E2E_MODELS="$cfg=$dir" TAMEQ_E2E_PROMPT=$PROMPT TAMEQ_E2E_GEN=$GEN nice -n 10 "$WORK/bin/tameq_bench" \
            --benchmark_filter=E2E --benchmark_format=json --benchmark_out="$res/$name-tameq-$cfg.json" >/dev/null
    done
    for t in f32 q8_0 q4_0; do
        nice -n 10 node bench/llamacpp/bench.mjs --model "$WORK/$name-$t.gguf" --prompt "$PROMPT" --gen "$GEN" \
            --threads "$THREADS" --reps "$REPS" > "$res/$name-llamacpp-$t.json"
    done
    node bench/llamacpp/table.mjs "$res" "$name"
}

echo "$(date -u '+%F %T UTC') | $(lscpu | grep 'Model name' | sed 's/Model name: *//') | threads $THREADS | prompt $PROMPT, decode $GEN | $(uptime | sed 's/.*load/load/')"
for which in "${@:-gut synth7b}"; do
  for w in $which; do
    case $w in
        gut)
            prepare gut "$shared/models/gut-llama-27m"
            check_export "$shared/models/gut-llama-27m" gut
            run_one gut "$shared/models/gut-llama-27m" ;;
        synth7b)
            name=synth7b-${SYNTH_LAYERS}l src=$WORK/llama2-7b-shaped-${SYNTH_LAYERS}l
            TAMEQ_E2E_MODELS=none= TAMEQ_E2E_MAKE_SYNTHETIC=$src:$SYNTH_LAYERS "$WORK/bin/tameq_bench" --benchmark_filter=NONE >/dev/null
            prepare "$name" "$src"
            run_one "$name" "$src" ;;
        *) echo "unknown model '$w' (gut, synth7b)" >&2; exit 2 ;;
    esac
  done
done
echo "after: $(uptime | sed 's/.*load/load/')"
