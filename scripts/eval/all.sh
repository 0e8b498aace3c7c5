#!/usr/bin/env bash
# Usage: scripts/eval/all.sh [evaluation.run options...]   (e.g. --limit 20)
# Every method in $METHODS over every language in $LANGS (a language "de-long" is de's long stratum, answered
# with de's weights), side by side question by question
# (evaluation/side_by_side.py), then the report (markdown table + plots) in
# $OUT_DIR/report. METHODS defaults to the training-free ones (ar pld lookahead), plus sd when DRAFTER
# is set. Trained methods take their weights from env, where {lang} becomes each language:
#   DRAFTER (sd), EAGLE_HEAD (+ EAGLE_TREE for eagle; eagle2 builds its own), EAGLE3_HEAD (eagle3), MEDUSA_HEAD + MEDUSA_TREE,
#   HYDRA_HEAD + HYDRA_TREE, CTC_HEAD
# and EXTRA_<method> adds that method's own options, e.g.
#   METHODS="ar eagle2" EAGLE_HEAD=outputs/eagle/{lang}/final EXTRA_eagle2="--total-tokens 20" bash scripts/eval/all.sh --limit 20
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../env.sh"
out="${OUT_DIR:-outputs/answers}"
default="ar pld lookahead"
[ -n "${DRAFTER:-}" ] && default="$default sd"
read -r -a methods <<< "${METHODS:-$default}"
[[ " ${methods[*]} " == *" ar "* ]] || methods=(ar "${methods[@]}")  # the baseline every speedup needs

method_args() {  # method lang -> its weights' options
  local path="" tree=""
  case "$1" in
    sd) path="${DRAFTER:?sd needs DRAFTER=path}"; echo "--drafter ${path//\{lang\}/$2}"; return ;;
    eagle) path="${EAGLE_HEAD:?eagle needs EAGLE_HEAD=path}"; tree="${EAGLE_TREE:-}" ;;
    eagle2) path="${EAGLE_HEAD:?eagle2 needs EAGLE_HEAD=path}" ;;
    eagle3) path="${EAGLE3_HEAD:?eagle3 needs EAGLE3_HEAD=path}" ;;
    medusa) path="${MEDUSA_HEAD:?medusa needs MEDUSA_HEAD=path}"; tree="${MEDUSA_TREE:-}" ;;
    hydra) path="${HYDRA_HEAD:?hydra needs HYDRA_HEAD=path}"; tree="${HYDRA_TREE:-}" ;;
    ctc) path="${CTC_HEAD:?ctc needs CTC_HEAD=path}" ;;
    *) return ;;
  esac
  echo "--head ${path//\{lang\}/$2}${tree:+ --tree ${tree//\{lang\}/$2}}"
}

question_files=()
for lang in ${LANGS:-de fr ja ru zh}; do
  runs=()
  for method in "${methods[@]}"; do
    extra="EXTRA_$method"
    runs+=(--run "$method=--method $method $(method_args "$method" "${lang%-long}") ${!extra:-}")
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
  cat "$out"/*/"$method".jsonl > "$out/${method}_all.jsonl"
  others+=("$out/${method}_all.jsonl")
done
python -m evaluation.report --baseline "$out/ar_all.jsonl" --answers "${others[@]}" --out-dir "$out/report" \
  --questions "$out/questions_all.jsonl"
cat "$out/report/report.md"
