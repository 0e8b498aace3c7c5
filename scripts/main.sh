#!/usr/bin/env bash
# The main job: set up the environment if needed, then every method on the embedded target (Gemma 3 270M) over
# de, fr, ja, ru, zh -> English and each language's long stratum, ending in a report (table and plots):
# experiments/main/recipe.json, results in outputs/experiments/main. Without gettext catalogs to build the
# translation questions from, the built-in multilingual set instead (experiments/builtin). Extra arguments go to
# `multispec experiment` (e.g. --languages de, --quick).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if ls /usr/share/locale/{de,fr,ja,ru,zh_CN}/LC_MESSAGES/*.mo >/dev/null 2>&1; then
  exec multispec experiment main "$@"
fi
echo "[multispec] no gettext catalogs for de/fr/ja/ru/zh here: the built-in multilingual set instead" >&2
exec multispec experiment builtin "$@"
