#!/usr/bin/env bash
# ctest "LlamaCpp.AgreesWithTameq" (label llamacpp): llama.cpp itself (its prebuilt CPU library, through
# node-llama-cpp) runs GGUF files that `tameq export` wrote from tameq's codes, and must agree with tameq's own
# evaluation of the same quantized directories: perplexity within 0.5 % on the same token windows (tameq with
# 8-bit per-token activations, the closest recipe to llama.cpp's 8-bit activation blocks), and for Q8_0 the
# same 32 greedy tokens. Rows: the demo model and gut-llama-27m, scored on ../shared's Gutenberg text.
#   tests/llamacpp/agree.sh TAMEQ_BINARY [SHARED_DIR]      (exit 77 = skipped: no node, or no ../shared)
# Env: ROWS=all adds the slower rows (GPTQ on gut-llama-27m); WINDOWS (8), CTX (512).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tameq=$1
shared=${2:-$root/../shared}
WINDOWS=${WINDOWS:-8} CTX=${CTX:-512}
command -v node >/dev/null || { echo "SKIP: node is not installed (llama.cpp runs through node-llama-cpp)"; exit 77; }
llamacpp=${LLAMACPP_DIR:-$root/build/llamacpp}
[ -d "$llamacpp/node_modules/node-llama-cpp" ] ||
    { echo "llama.cpp is not installed in $llamacpp: run scripts/install-llamacpp.sh (scripts/test.sh does)" >&2; exit 1; }
export LLAMACPP_DIR=$llamacpp TAMEQ_THREADS=${TAMEQ_THREADS:-2}
work=$(mktemp -d "${TMPDIR:-/tmp}/tameq-llamacpp.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0

# name model data flags [greedy]: quantize, export, score in both engines on the same windows.
row() {
    local name=$1 model=$2 data=$3 flags=$4 greedy=${5:-}
    local dir=$work/$name
    "$tameq" quantize "$model" -o "$dir" $flags >/dev/null
    "$tameq" export "$dir" -o "$dir.gguf" 2>/dev/null >"$dir.export.txt"
    "$tameq" eval ppl "$dir" --data "$data" --ctx "$CTX" --windows "$WINDOWS" --save-windows "$dir.windows.json" --json \
        2>/dev/null >"$dir.tameq.json"
    node "$here/score.mjs" --model "$dir.gguf" --windows "$dir.windows.json" 2>/dev/null >"$dir.llamacpp.json"
    local verdict
    verdict=$(node -e '
        const [t, l] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
        const rel = l.ppl / t.ppl - 1;
        console.log(`${Math.abs(rel) <= 0.005 ? "ok  " : "FAIL"} PPL tameq ${t.ppl.toFixed(4)} llama.cpp ${l.ppl.toFixed(4)} (${(100 * rel).toFixed(3)} %, ${l.tokens_scored} tokens)`);
    ' "$dir.tameq.json" "$dir.llamacpp.json")
    echo "$name: $verdict"
    [[ $verdict == ok* ]] || failures=$((failures + 1))
    if [ -n "$greedy" ]; then
        local prompt="It was a dark and stormy night" ours theirs
        ours=$("$tameq" run "$dir" -p "$prompt" -n 32 --temp 0 2>/dev/null)
        theirs=$(node "$root/bench/llamacpp/bench.mjs" --model "$dir.gguf" --greedy "$prompt" --gen 32 |
                 node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).text))')
        if [ "$ours" == "$prompt$theirs" ]; then
            echo "$name: ok   32 greedy tokens equal"
        else
            echo "$name: FAIL greedy texts differ"; echo "  tameq:     $ours"; echo "  llama.cpp: $prompt$theirs"
            failures=$((failures + 1))
        fi
    fi
}

demo=$root/models/demo-gut-llama
a8="--abits 8 --a-sym"
text=$shared/data/gutenberg/eval.txt calib=$shared/data/gutenberg/calib.txt
[ -f "$text" ] || { echo "SKIP: ../shared is absent ($shared): no evaluation text"; exit 77; }
row demo-q4_0-rtn "$demo" "$text" "--wbits 4 $a8"
row demo-q4_1-rtn "$demo" "$text" "--wbits 4 --w-asym --group 32 $a8"
row demo-q8_0-rtn "$demo" "$text" "--wbits 8 --w-narrow $a8" greedy
row demo-q4_0-gptq "$demo" "$text" "--wbits 4 --group 32 --weights gptq --calib $calib --calib-windows 8 --calib-ctx 256 $a8"
row gut-q4_0-rtn "$shared/models/gut-llama-27m" "$text" "--wbits 4 $a8"
if [ "${ROWS:-}" == all ]; then
    row gut-q8_0-rtn "$shared/models/gut-llama-27m" "$text" "--wbits 8 --w-narrow $a8" greedy
    row gut-q4_0-gptq "$shared/models/gut-llama-27m" "$text" "--wbits 4 --weights gptq --calib $calib $a8"
fi
[ "$failures" -eq 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
echo "llama.cpp agrees with tameq on every exported row"
