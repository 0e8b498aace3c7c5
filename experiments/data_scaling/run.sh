#!/usr/bin/env bash
# Usage: bash experiments/data_scaling/run.sh   (from the repository root; resumes: every stage skips finished work)
# German EAGLE heads on self-distilled (SD) and teacher-forced (TF) features, then eagle2 with each against ar,
# side by side (recipe.json). Sizes in pool rows: SD on the first $SD prompts (the next $HOLDOUT distilled
# too, held apart for every head's top-1 per depth), TF on the same $SD rows' English references, and TF on
# $SD + $MORE rows (the $MORE after the held-apart ones). Each stage prints its wall time.
# Env: SD (1000), HOLDOUT (500), MORE (3000), STEPS (600), LANG_ (de). Argument `data`: stop after the data stages
# (experiments/embedded_weights/run.sh trains the shipped weights on them).
set -euo pipefail
lang="${LANG_:-de}"; sd="${SD:-1000}"; holdout="${HOLDOUT:-500}"; more="${MORE:-3000}"; steps="${STEPS:-600}"
data="data/scaling/$lang"; out="outputs/data_scaling/$lang"
mkdir -p "$data" "$out"
stage() { local name="$1"; shift; local start=$SECONDS; "$@"; echo "[data_scaling] $name: $((SECONDS - start)) s" | tee -a "$out/stages.log"; }
[ -f "data/train/$lang.jsonl" ] || python -m data_processing.build_translation --langs "$lang" --out-dir data
sed -n "$((sd + holdout + 1)),$((sd + holdout + more))p" "data/train/$lang.jsonl" > "$data/more.jsonl"

stage "distill $((sd + holdout)) prompts" python -m data_generation.generate --prompts "data/train/$lang.jsonl" \
  --out "$data/distilled.jsonl" --stop '\n' --temperatures 0 --limit $((sd + holdout))
stage "SD features" python -m data_generation.hidden_states --data "$data/distilled.jsonl" --out "$data/sd" --layers -1
stage "TF features, $sd rows" python -m data_generation.hidden_states --data "data/train/$lang.jsonl" --limit "$sd" \
  --continuation reference --answer-prefix ' ' --out "$data/tf" --layers -1
stage "TF features, $more more rows" python -m data_generation.hidden_states --data "$data/more.jsonl" \
  --continuation reference --answer-prefix ' ' --out "$data/tf-more" --layers -1
[ "${1:-}" = data ] && exit 0

train() {  # NAME DATA LIMIT
  python -m train.run --config train/configs/eagle_quick.json --resume "output_dir=$out/$1" "task_args.data=$2" \
    "task_args.limit=$3" "steps=$steps" save_every=200
}
stage "train sd-$sd" train "sd-$sd" "$data/sd" "$sd"
stage "train tf-$sd" train "tf-$sd" "$data/tf" 0
stage "train tf-$((sd + more))" train "tf-$((sd + more))" "[\"$data/tf\", \"$data/tf-more\"]" 0
for head in "sd-$sd" "tf-$sd" "tf-$((sd + more))"; do  # top-1 per depth on the held-apart self-distilled answers
  stage "held-apart accuracy $head" python -m evaluation.calibrate_tree --task eagle --head "$out/$head/final" \
    --features "$data/sd" --skip "$sd" --total 10 --top-k 2 --out "$out/$head/tree.json" | tee "$out/$head/held_apart.md"
done
stage "eagle2 side by side" multispec experiment data_scaling
