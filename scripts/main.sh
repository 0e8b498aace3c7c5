#!/usr/bin/env bash
# Set up the environment if needed, then run the main job on the embedded default target (Gemma 3 270M):
# all ten methods over de, fr, ja, ru, zh -> English, each trained one where weights ship for it (weights/: German),
# (20 questions each from the system's gettext catalogs, and 10 (LONG_LIMIT) from each language's long stratum,
# English of >= 15 words, reported as translation-<lang>-long; the built-in multilingual set where there are no
# catalogs), ending in the report table and plots under outputs/answers/report. Extra arguments go to
# evaluation.run; METHODS, LANGS and the weights' variables of scripts/eval/all.sh narrow or change it.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
if ls /usr/share/locale/{de,fr,ja,ru,zh_CN}/LC_MESSAGES/*.mo >/dev/null 2>&1; then
  langs="de fr ja ru zh de-long fr-long ja-long ru-long zh-long"
else
  echo "[multispec] no gettext catalogs for de/fr/ja/ru/zh here: using the built-in multilingual set" >&2
  langs="builtin"
fi
LANGS="${LANGS:-$langs}" LONG_LIMIT="${LONG_LIMIT:-10}" bash "$here/eval/all.sh" --limit "${LIMIT:-20}" --max-new-tokens 64 "$@"
