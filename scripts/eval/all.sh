#!/usr/bin/env bash
# Usage: scripts/eval/all.sh [evaluation.run options...]   (e.g. --limit 20)
# Every method in $METHODS over every language in $LANGS (a language "de-long" is de's long stratum, answered
# with de's weights), side by side question by question
# (evaluation/side_by_side.py), then the report (markdown table + plots) in
# $OUT_DIR/report. METHODS defaults to all ten; a trained method runs where it has weights: by default the ones
# shipped for the embedded target (weights/gemma-3-270m/<lang>/, German today), elsewhere it is left out with a
# note. Other weights come from env, where {lang} becomes each language:
#   DRAFTER (sd), EAGLE_HEAD (eagle, eagle2), EAGLE3_HEAD (eagle3), MEDUSA_HEAD, HYDRA_HEAD, CTC_HEAD, and the static
#   trees EAGLE_TREE, MEDUSA_TREE, HYDRA_TREE (default: the head folder's tree.json, calibrated for this CPU)
# and EXTRA_<method> adds that method's own options (without a GPU, eagle2, eagle3 and ctc default to the CPU trees
# of env.sh), e.g.
#   METHODS="ar eagle2" EAGLE_HEAD=outputs/eagle/{lang}/final EXTRA_eagle2="--total-tokens 20" bash scripts/eval/all.sh --limit 20
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../env.sh"
out="${OUT_DIR:-outputs/answers}"
read -r -a methods <<< "${METHODS:-ar pld lookahead sd eagle eagle2 eagle3 medusa hydra ctc}"
[[ " ${methods[*]} " == *" ar "* ]] || methods=(ar "${methods[@]}")  # the baseline every speedup needs

method_args() {  # method lang -> its weights' options; exit status 1: no weights for this language
  local option=--head path shipped="$1" tree=""
  case "$1" in
    sd) option=--drafter; path="${DRAFTER:-}" ;;
    eagle) path="${EAGLE_HEAD:-}"; tree="${EAGLE_TREE:-}" ;;
    eagle2) path="${EAGLE_HEAD:-}"; shipped=eagle ;;
    eagle3) path="${EAGLE3_HEAD:-}" ;;
    medusa) path="${MEDUSA_HEAD:-}"; tree="${MEDUSA_TREE:-}" ;;
    hydra) path="${HYDRA_HEAD:-}"; tree="${HYDRA_TREE:-}" ;;
    ctc) path="${CTC_HEAD:-}" ;;
    *) return 0 ;;
  esac
  path="${path:-embedded:$2/$shipped}"
  path="${path//\{lang\}/$2}"
  if [[ "$path" == embedded:* && ! -f "weights/gemma-3-270m/${path#embedded:}/provenance.json" ]]; then
    echo "[multispec] $1: no weights shipped for $2 ($path), left out there" >&2
    return 1
  fi
  echo "$option $path${tree:+ --tree ${tree//\{lang\}/$2}}"
}

if ! command -v nvidia-smi >/dev/null 2>&1; then  # a CPU: the small dynamic trees measured for it (env.sh)
  : "${EXTRA_eagle2:=$CPU_EAGLE2_TREE}" "${EXTRA_eagle3:=$CPU_EAGLE2_TREE}" "${EXTRA_ctc:=--total-tokens $CPU_TREE_NODES}"
fi

question_files=()
for lang in ${LANGS:-de fr ja ru zh}; do
  runs=()
  for method in "${methods[@]}"; do
    extra="EXTRA_$method"
    weights="$(method_args "$method" "${lang%-long}")" || continue
    runs+=(--run "$method=--method $method $weights ${!extra:-}")
  done
  question_files+=("$(bash "$here/questions.sh" "$lang")")
  # one loaded target per language; every question answered by every method before the next (drift-free ratios)
  long_limit=()  # LONG_LIMIT: fewer questions for the long strata, whose answers take ~2x as long
  [[ "$lang" == *-long && -n "${LONG_LIMIT:-}" ]] && long_limit=(--limit "$LONG_LIMIT")
  python -m evaluation.side_by_side --questions "${question_files[-1]}" --out-dir "$out/$lang" \
    "${runs[@]}" "$@" "${long_limit[@]}"
done
cat "${question_files[@]}" > "$out/questions_all.jsonl"  # references for chrF/BLEU (ids carry the language)
cat "$out"/*/ar.jsonl > "$out/ar_all.jsonl"
others=()
for method in "${methods[@]}"; do
  [ "$method" = ar ] && continue
  cat "$out"/*/"$method".jsonl > "$out/${method}_all.jsonl" 2>/dev/null || true  # languages it ran on
  others+=("$out/${method}_all.jsonl")
done
python -m evaluation.report --baseline "$out/ar_all.jsonl" --answers "${others[@]}" --out-dir "$out/report" \
  --questions "$out/questions_all.jsonl"
cat "$out/report/report.md"
