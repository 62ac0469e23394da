#!/usr/bin/env bash
# docs/RESULTS.md §8.1: tameq's codes exported to GGUF and run by llama.cpp itself (node-llama-cpp's prebuilt CPU
# library), protocol E64 (64 windows of 1024 of ../shared/data/gutenberg/eval.txt, BOS prepended, never scored).
#   scripts/results-llamacpp.sh agree   [MODEL...]   llama.cpp's PPL of each export beside tameq's PPL of the same
#       quantized directory (8-bit symmetric per-token activations: the closest tameq recipe to llama.cpp's
#       8-bit activation blocks); Q8_0 rows also compare 32 greedy tokens.
#   scripts/results-llamacpp.sh compare [MODEL...]   llama.cpp-measured PPL, KL and top-1 against the F32 GGUF for
#       llama.cpp's own Q4_0 (ggml's RTN of the FP model) and tameq's Q4_0 exports at the same file size.
# MODEL: gut (gut-llama-27m, default) and/or demo (models/demo-gut-llama). Rows are resumable: each writes
# $WORK/<row>.json and is skipped when it exists. Env: WORK (/tmp/tameq-llamacpp-results), WINDOWS (64), CTX (1024),
# KL_WINDOWS (8: KL needs llama.cpp's full logits, the slow part), THREADS (2), ROWS (a regex over row names),
# TAMEQ (the binary, default build/tameq).
# Needs: scripts/build.sh, scripts/install-llamacpp.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
shared=${TAMEQ_SHARED_DIR:-$root/../shared}
WORK=${WORK:-/tmp/tameq-llamacpp-results} WINDOWS=${WINDOWS:-64} CTX=${CTX:-1024} KL_WINDOWS=${KL_WINDOWS:-8}
THREADS=${THREADS:-2} ROWS=${ROWS:-.}
export TAMEQ_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS LLAMACPP_DIR=${LLAMACPP_DIR:-$root/build/llamacpp}
tameq=${TAMEQ:-$root/build/tameq}
text=$shared/data/gutenberg/eval.txt calib=$shared/data/gutenberg/calib.txt
[ -x "$tameq" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
[ -d "$LLAMACPP_DIR/node_modules/node-llama-cpp" ] || { echo "install llama.cpp first: scripts/install-llamacpp.sh" >&2; exit 1; }
mkdir -p "$WORK"
mode=${1:-agree}; shift || true
models=("${@:-gut}")

model_dir() { case $1 in gut) echo "$shared/models/gut-llama-27m" ;; demo) echo "$root/models/demo-gut-llama" ;;
              *) echo "unknown model '$1' (gut, demo)" >&2; exit 2 ;; esac; }
# The tameq recipe of a GGUF type, without rotation or quantizer.
declare -A weights=([q8_0]="--wbits 8 --w-narrow" [q4_0]="--wbits 4 --group 32" [q4_1]="--wbits 4 --w-asym --group 32")
declare -A rotation=([none]="" [rh]="--rotate rh --r4 none" [dfrot]="--rotate dfrot --r4 none")
a8="--abits 8 --a-sym"
json() { node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(process.argv.slice(2).map(k=>j[k]).join(" "))' "$@"; }

# name model flags: the quantized directory and its GGUF, made once.
make_export() {
    local name=$1 model=$2 flags=$3
    [ -f "$WORK/$name.gguf" ] && return
    rm -rf "$WORK/$name"
    "$tameq" quantize "$model" -o "$WORK/$name" $flags --calib "$calib" --seed 0 >/dev/null
    "$tameq" export "$WORK/$name" -o "$WORK/$name.gguf" 2>/dev/null >/dev/null
}

# The E64 windows, once per model (both engines score these ids).
windows_of() {
    local m=$1 f=$WORK/$1.windows.json
    [ -f "$f" ] || "$tameq" eval ppl "$(model_dir "$m")" --data "$text" --ctx "$CTX" --windows "$WINDOWS" --save-windows "$f" \
        --json >"$WORK/$m-fp.tameq.json" 2>/dev/null
    echo "$f"
}

agree() {
    local m=$1 model w; model=$(model_dir "$1"); w=$(windows_of "$m")
    echo "| model | GGUF type | quantizer | rotation | tameq PPL (a8 per token) | llama.cpp PPL | difference | greedy 32 |"
    echo "|---|---|---|---|---|---|---|---|"
    for type in q8_0 q4_0 q4_1; do for q in rtn gptq; do for rot in none rh dfrot; do
        local name=$m-$type-$q-$rot
        [[ $name =~ $ROWS ]] || continue
        if [ ! -f "$WORK/$name.json" ]; then
            make_export "$name" "$model" "${weights[$type]} --weights $q ${rotation[$rot]} $a8"
            "$tameq" eval ppl "$WORK/$name" --data "$text" --ctx "$CTX" --windows "$WINDOWS" --json 2>/dev/null >"$WORK/$name.tameq.json"
            node tests/llamacpp/score.mjs --model "$WORK/$name.gguf" --windows "$w" --threads "$THREADS" 2>/dev/null >"$WORK/$name.llamacpp.json"
            local greedy="—"
            if [ "$type" == q8_0 ]; then
                local prompt="It was a dark and stormy night" ours theirs
                ours=$("$tameq" run "$WORK/$name" -p "$prompt" -n 32 --temp 0 2>/dev/null)
                theirs=$(node bench/llamacpp/bench.mjs --model "$WORK/$name.gguf" --greedy "$prompt" --gen 32 --threads "$THREADS" |
                         node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).text))')
                [ "$ours" == "$prompt$theirs" ] && greedy=equal || greedy=differ
            fi
            read -r tp < <(json "$WORK/$name.tameq.json" ppl)
            read -r lp < <(json "$WORK/$name.llamacpp.json" ppl)
            echo "{\"tameq_ppl\":$tp,\"llamacpp_ppl\":$lp,\"greedy\":\"$greedy\"}" >"$WORK/$name.json"
        fi
        node -e '
            const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
            const [m, t, q, r] = process.argv.slice(2);
            console.log(`| ${m} | ${t.toUpperCase()} | ${q} | ${r} | ${j.tameq_ppl.toFixed(4)} | ${j.llamacpp_ppl.toFixed(4)} | ${(100 * (j.llamacpp_ppl / j.tameq_ppl - 1)).toFixed(3)} % | ${j.greedy} |`);
        ' "$WORK/$name.json" "$m" "$type" "$q" "$rot"
    done; done; done
}

compare() {
    local m=$1 model w; model=$(model_dir "$1"); w=$(windows_of "$m")
    [ -f "$WORK/$m-f32.gguf" ] || "$tameq" export "$model" -o "$WORK/$m-f32.gguf" --type f32 >/dev/null
    [ -f "$WORK/$m-llamacpp-q4_0.gguf" ] || "$tameq" export "$model" -o "$WORK/$m-llamacpp-q4_0.gguf" --type q4_0 --head-type f16 >/dev/null
    for spec in "tameq-rtn-none:--weights rtn" "tameq-gptq-none:--weights gptq" "tameq-gptq-rh:--weights gptq ${rotation[rh]}" \
                "tameq-gptq-dfrot:--weights gptq ${rotation[dfrot]}"; do
        local name=$m-q4_0-${spec%%:*}
        [[ $name =~ $ROWS ]] && make_export "$name" "$model" "${weights[q4_0]} ${spec#*:} $a8"
    done
    echo "| model | file | MB | llama.cpp PPL | KL vs F32 ($KL_WINDOWS windows) | top-1 vs F32 |"
    echo "|---|---|---|---|---|---|"
    for f in f32 llamacpp-q4_0 q4_0-tameq-rtn-none q4_0-tameq-gptq-none q4_0-tameq-gptq-rh q4_0-tameq-gptq-dfrot; do
        local g=$WORK/$m-$f.gguf
        [ -f "$g" ] || continue
        [ -f "$WORK/$m-$f.compare.json" ] || node tests/llamacpp/score.mjs --model "$g" --windows "$w" --ref "$WORK/$m-f32.gguf" --ref-cache "$WORK/$m-f32.refcache.json" \
            --kl-windows "$KL_WINDOWS" --threads "$THREADS" 2>/dev/null >"$WORK/$m-$f.compare.json"
        node -e '
            const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
            const mb = (require("fs").statSync(process.argv[2]).size / 1e6).toFixed(2);
            console.log(`| ${process.argv[3]} | ${process.argv[4]} | ${mb} | ${j.ppl.toFixed(4)} | ${j.kl_mean.toFixed(5)} | ${(100 * j.top1_agree).toFixed(2)} % |`);
        ' "$WORK/$m-$f.compare.json" "$g" "$m" "$f"
    done
}

echo "$(date -u '+%F %T UTC') | $(lscpu | grep 'Model name' | sed 's/Model name: *//') | threads $THREADS | E64: $WINDOWS windows of $CTX | $(uptime | sed 's/.*load/load/')"
for m in "${models[@]}"; do
    case $mode in agree) agree "$m" ;; compare) compare "$m" ;; *) echo "unknown mode '$mode' (agree, compare)" >&2; exit 2 ;; esac
done
echo "after: $(uptime | sed 's/.*load/load/')"
