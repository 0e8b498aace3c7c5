#!/usr/bin/env bash
# Usage: scripts/bench_heads.sh [LANG]   (default de; heads from scripts/train/{eagle,medusa,hydra}.sh LANG)
# Every method on LANG side by side (ar, pld, lookahead, eagle, eagle2, medusa, hydra; CPU-sized trees of
# 20 nodes calibrated on held-apart data), then ar once more: the ratio of the two ar runs shows how
# far the machine drifted during the run, so speedups can be read against both baselines.
# Env: LIMIT (20), OUT_DIR (outputs/bench/LANG), TREE_NODES (20).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
lang="${1:-de}"; out="${OUT_DIR:-outputs/bench/$lang}"; nodes="${TREE_NODES:-20}"
for task in eagle medusa hydra; do
  [ -f "outputs/$task/$lang/final/${task}_config.json" ] || { echo "no $task head for $lang: run scripts/train/$task.sh $lang" >&2; exit 1; }
  total=$(python -c "import json, sys; print(sum(s['count'] for s in json.load(open(sys.argv[1]))['shards']))" "data/features/$lang/index.json")
  python -m evaluation.calibrate_tree --task "$task" --head "outputs/$task/$lang/final" --features "data/features/$lang" \
    --skip $((total - ${HOLDOUT:-500})) --total "$nodes" --out "outputs/$task/$lang/tree$nodes.json"
done
export EAGLE_HEAD="outputs/eagle/{lang}/final" EAGLE_TREE="outputs/eagle/{lang}/tree$nodes.json" \
  MEDUSA_HEAD="outputs/medusa/{lang}/final" MEDUSA_TREE="outputs/medusa/{lang}/tree$nodes.json" \
  HYDRA_HEAD="outputs/hydra/{lang}/final" HYDRA_TREE="outputs/hydra/{lang}/tree$nodes.json" \
  EXTRA_eagle2="--total-tokens $nodes --depth 6 --top-k 6"
OUT_DIR="$out" LANGS="$lang" METHODS="ar pld lookahead eagle eagle2 medusa hydra" \
  bash "$here/eval/all.sh" --limit "${LIMIT:-20}" --max-new-tokens 64
python -m evaluation.run --method ar --questions "data/questions/translation_$lang.jsonl" --limit "${LIMIT:-20}" \
  --max-new-tokens 64 --out "$out/ar_again.jsonl"
echo "[multispec] drift: the second ar run against the first (1.00 = no drift)"
python -m evaluation.speed --baseline "$out/$lang/ar.jsonl" --answers "$out/ar_again.jsonl" --format md
