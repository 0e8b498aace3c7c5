#!/usr/bin/env bash
# Usage: scripts/judge/quality.sh [LANG]      (default de)
# The paper's quality check: every method samples at temperature 1.0 on LANG -> English, each is judged
# (single 1-10 scores, and pairwise against ar in both orders), and the table shows whether lossless
# methods score like ar within noise while typical acceptance may not.
# env: METHODS (default "ar pld lookahead"; weights for trained methods as in scripts/eval/all.sh),
#      TYPICAL_METHODS (also run with lossy typical acceptance; default "pld"), LIMIT (default 20),
#      JUDGE_MODEL (default gpt-4o) at JUDGE_API_BASE (default OpenAI's API when OPENAI_API_KEY is set;
#      otherwise a local llm_judge.serve of JUDGE_LOCAL_MODEL, default gemma-3-270m, on JUDGE_PORT,
#      decoding with JUDGE_METHOD, default pld), JUDGE_MAX_TOKENS (judge answer length, default 1024).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../env.sh"
lang="${1:-de}"
limit="${LIMIT:-20}"
dir="outputs/quality/$lang"

OUT_DIR="$dir/sampled" LANGS="$lang" METHODS="${METHODS:-ar pld lookahead}" \
  bash "$here/../eval/all.sh" --temperature 1.0 --limit "$limit" --max-new-tokens 64
for method in ${TYPICAL_METHODS-pld}; do
  OUT_DIR="$dir/typical" bash "$here/../eval/_run.sh" "$method" "$lang" --temperature 1.0 --typical \
    --limit "$limit" --max-new-tokens 64
done
answers=("$dir/sampled/$lang/ar.jsonl")
for f in "$dir"/sampled/"$lang"/*.jsonl "$dir"/typical/"$lang"/*.jsonl; do
  [ -f "$f" ] && [ "$f" != "${answers[0]}" ] && answers+=("$f")
done

base="${JUDGE_API_BASE:-}"
judge="${JUDGE_MODEL:-gpt-4o}"
if [ -z "$base" ] && [ -z "${OPENAI_API_KEY:-}" ]; then
  judge="${JUDGE_LOCAL_MODEL:-gemma-3-270m}"
  port="${JUDGE_PORT:-8765}"
  base="http://127.0.0.1:$port/v1"
  echo "[multispec] no JUDGE_API_BASE or OPENAI_API_KEY: judging with a local $judge at $base" >&2
  # the local judge answers greedily through speculative decoding (same text as plain decoding, sooner)
  python -m llm_judge.serve --model "$judge" --served-model-name "$judge" --port "$port" --method "${JUDGE_METHOD:-pld}" &
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
python -m llm_judge.judge "${common[@]}" --mode pairwise --baseline ar --out "$dir/judgments/pairwise.jsonl"
python -m llm_judge.show "$dir/judgments/single.jsonl" "$dir/judgments/pairwise.jsonl" \
  --csv "$dir/judgments/table.csv" --markdown "$dir/judgments/table.md"
