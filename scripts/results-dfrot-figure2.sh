#!/usr/bin/env bash
# DFRot's Figure 2 at our scale, as a table: per-token 4-bit error ‖x − Q(x)‖ (asymmetric per token, as evaluation)
# of the massive tokens (magnitude rule) against the median ordinary token, per layer input, under
# none / RO / RH / DFRot, and how many rows each marking rule (magnitude, norm, public quant-error) marks, from
# `tameq inspect --json`.
#   scripts/results-dfrot-figure2.sh [MODEL_DIR] [WINDOWS]   (default ../shared/models/gut-llama-27m, 8)
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-../shared/models/gut-llama-27m}"
windows="${2:-8}"
tq="${TAMEQ:-build/tameq}"
json="${TMPDIR:-/tmp}/tameq-figure2-$(basename "$model").json"
[ -s "$json" ] || $tq inspect "$model" --calib ../shared/data/gutenberg/eval.txt --calib-windows "$windows" --calib-ctx 1024 \
    -o "${json%.json}.html" --json "$json" >&2
python3 - "$json" <<'PY'
import json, statistics, sys
j = json.load(open(sys.argv[1]))
rots = ["none", "ro", "rh", "dfrot"]
print(f"{j['windows']} windows of {j['ctx']} ({j['tokens']} tokens), {j['bits']}-bit per-token "
      f"{'symmetric' if j['symmetric'] else 'asymmetric'}; DFRot: {j['dfrot']}\n")
print("| layer | input | massive / tokens | " + " | ".join(f"{r} massive / median" for r in rots) + " |")
print("|---|---|---|" + "---|" * len(rots))
for layer in j["layers"]:
    for inp in ("attn_in", "mlp_in"):
        q = layer["quant_error"][inp]
        p = layer["points"][inp]
        cells = []
        for r in rots:
            ordinary = [e for e, m in zip(p["error"][r], p["massive"]) if not m]
            med = statistics.median(ordinary)
            mm = q[r]["mean_massive"]
            cells.append(f"{mm:.2f} / {med:.2f}" if mm is not None else f"– / {med:.2f}")
        print(f"| {layer['index']} | {inp} | {q['none']['n_massive']} / {q['none']['n_massive'] + q['none']['n_ordinary']} | "
              + " | ".join(cells) + " |")
print(f"\nmedians over the {len(p['massive'])} tokens whose points inspect keeps; massive = mean over all marked tokens")
rules = j["marking_rules"]
print(f"\nRows each marking rule marks (first tokens among them): magnitude = max|x| > {rules['magnitude_ratio']:g} x "
      f"median |x|; norm = row norm > {rules['norm_ratio']:g} x median row norm; quant-error (public DFRot code) = "
      f"unrotated per-token error < {rules['quant_error_threshold']:g} (8.5 at hidden 4096, 4 bits, scaled)\n")
print("| layer | input | tokens | magnitude | norm | quant-error |")
print("|---|---|---|---|---|---|")
for layer in j["layers"]:
    for inp in ("attn_in", "mlp_in"):
        q = layer["quant_error"][inp]
        m = q["marking"]
        cell = lambda r: f"{m[r]['rows']} ({m[r]['first_token']})"
        print(f"| {layer['index']} | {inp} | {q['none']['n_massive'] + q['none']['n_ordinary']} | {cell('magnitude')} | "
              f"{cell('norm')} | {cell('quant_error')} |")
PY
