# Shared by the scripts/results-*.sh lab scripts: `source scripts/lib.sh` after `cd` to the repository root.
#   TAMEQ   the binary (default build/tameq)      SHARED  the shared models and text (default ../shared)
#   OUT     where rows are kept (default build/results-<script name>); finished rows survive an interruption
tq="${TAMEQ:-build/tameq}"
shared="${SHARED:-../shared}"
out="${OUT:-build/results-$(basename "${0%.sh}" | sed 's/^results-//')}"
eval_text="$shared/data/gutenberg/eval.txt"
calib_text="$shared/data/gutenberg/calib.txt"
mkdir -p "$out"

# One line of news on stderr, with the time and the load (speed figures need to say how busy the box was).
say() { echo "$(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg): $*" >&2; }

# sweep NAME MODEL ENGINE "recipe;recipe;..." [extra sweep flags]: protocol E64 (ctx 1024, 64 windows of
# eval.txt, BOS first) through `tameq sweep`, which keeps finished recipes in $out/NAME/runs and resumes.
sweep() {
  local name=$1 model=$2 engine=$3 recipes=$4
  shift 4
  say "sweep $name ($engine): $recipes"
  nice "$tq" sweep "$model" --recipes "$recipes" --data "$eval_text" --calib "$calib_text" --ctx 1024 --windows 64 \
    --engine "$engine" -o "$out/$name" "$@" > "$out/$name.log"
}
