#!/usr/bin/env bash
# Usage: scripts/judge/quality.sh [LANG]      (default de)
# The paper's quality check: the runs of experiments/quality_samples sample at temperature 1.0 on LANG -> English,
# each is judged (single 1-10 scores, and pairwise against the recipe's baseline in both orders), and the table
# shows whether lossless runs score like plain decoding within noise while typical acceptance may not.
# env: LIMIT (questions judged, default 20), JUDGE_MODEL (default gpt-4o) at JUDGE_API_BASE (default OpenAI's API
#      when OPENAI_API_KEY is set; otherwise a local llm_judge.serve of JUDGE_LOCAL_MODEL, default gemma-3-270m, on
#      JUDGE_PORT, decoding with JUDGE_METHOD if set), JUDGE_MAX_TOKENS (judge answer length, default 1024).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../env.sh"
lang="${1:-de}"
limit="${LIMIT:-20}"
dir="outputs/quality/$lang"

multispec experiment quality_samples --languages "$lang" --out-dir "$dir"
sampled=("$dir/$lang"/sampled/*.jsonl)
baseline="$dir/$lang/sampled/plain.jsonl"  # the recipe's baseline, plain decoding
answers=("$baseline")
for f in "${sampled[@]}"; do [ "$f" != "$baseline" ] && answers+=("$f"); done

base="${JUDGE_API_BASE:-}"
judge="${JUDGE_MODEL:-gpt-4o}"
if [ -z "$base" ] && [ -z "${OPENAI_API_KEY:-}" ]; then
  judge="${JUDGE_LOCAL_MODEL:-gemma-3-270m}"
  port="${JUDGE_PORT:-8765}"
  base="http://127.0.0.1:$port/v1"
  echo "[multispec] no JUDGE_API_BASE or OPENAI_API_KEY: judging with a local $judge at $base" >&2
  # the local judge answers greedily through speculative decoding (same text as plain decoding, sooner)
  python -m llm_judge.serve --model "$judge" --served-model-name "$judge" --port "$port" ${JUDGE_METHOD:+--method "$JUDGE_METHOD"} &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  python -c "
import sys, time, urllib.request
for _ in range(600):
    try:
        urllib.request.urlopen('$base/models', timeout=2); sys.exit(0)
    except OSError:
        time.sleep(1)
sys.exit('the local judge server did not start')"
fi
common=(--questions "data/questions/translation_${lang}.jsonl" --answers "${answers[@]}" --judge-model "$judge"
        --limit "$limit" ${base:+--api-base "$base"} --parallel "${PARALLEL:-4}" --max-tokens "${JUDGE_MAX_TOKENS:-1024}")
python -m llm_judge.judge "${common[@]}" --mode single --out "$dir/judgments/single.jsonl"
python -m llm_judge.judge "${common[@]}" --mode pairwise --out "$dir/judgments/pairwise.jsonl"
python -m llm_judge.show "$dir/judgments/single.jsonl" "$dir/judgments/pairwise.jsonl" \
  --csv "$dir/judgments/table.csv" --markdown "$dir/judgments/table.md"
