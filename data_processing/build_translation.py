"""Offline X->English translation benchmark and training pools from the system's gettext catalogs.

    python -m data_processing.build_translation --langs de fr ja ru zh [--per-pair 80] [--long-per-pair 40] \
        [--locale-dir /usr/share/locale] [--out-dir data] [--seed 0]

Writes, per language:
    <out-dir>/questions/translation_<lang>.jsonl  question_id "<lang>-0001", category "translation-<lang>",
                                                  turns [translation_prompt(...)], reference [English]
    <out-dir>/questions/translation_<lang>_long.jsonl
                                                  the long stratum: pairs whose English has >= 15 words,
                                                  question_id "<lang>-long-0001", category
                                                  "translation-<lang>-long" (so reports show it apart)
    <out-dir>/train/<lang>.jsonl                  {"id", "prompt", "text", "reference"}: every other pair, sharing no
                                                  source or English sentence with the evaluation set;
                                                  prompt in the same template, text = the source sentence
                                                  (target-language text for corpus pretraining),
                                                  reference = its English (teacher-forced features)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from data_processing.errors import InputError
from data_processing.gettext_pairs import LONG_WORDS, Pair, catalog_files, scan_catalogs, split_long, split_pairs
from data_processing.languages import LANGUAGE_NAMES, check_language, locale_folder, translation_prompt
from data_processing.questions import write_jsonl, write_questions


class NoCatalogsError(RuntimeError):
    """A requested language has no gettext catalogs (or yields no usable pairs) under the locale dir."""


def languages_with_catalogs(locale_dir: Path) -> list[str]:
    """Known language codes whose catalog folder holds at least one sentence catalog."""
    return sorted(code for code in LANGUAGE_NAMES if code != "en" and catalog_files(locale_dir, code))


def _missing_message(missing: list[str], locale_dir: Path) -> str:
    found = languages_with_catalogs(locale_dir) if locale_dir.is_dir() else []
    where = ", ".join(f"{locale_dir}/{locale_folder(c)}/LC_MESSAGES/*.mo" for c in missing)
    return (
        f"no usable gettext catalogs for {', '.join(missing)} (looked for {where}).\n"
        f"Languages with catalogs in {locale_dir}: {', '.join(found) if found else 'none'}"
        f"{'' if locale_dir.is_dir() else ' (the folder does not exist)'}.\n"
        "Compiled .mo catalogs are shipped by each program's own package, not by a language pack: on "
        "Debian/Ubuntu install programs with many translated messages, e.g.\n"
        "    apt-get install coreutils tar grep sed gettext git gnupg libgtk2.0-common postgresql\n"
        "(`dpkg -S /usr/share/locale/de/LC_MESSAGES/coreutils.mo` names the owning package). Minimal and "
        "container images often drop them at install time through a 'path-exclude=/usr/share/locale/*' "
        "line in /etc/dpkg/dpkg.cfg.d/; remove that line and reinstall the packages. "
        "Or point --locale-dir at another folder of <lang>/LC_MESSAGES/*.mo catalogs."
    )


def question_rows(lang: str, pairs: list[Pair], stratum: str = "") -> list[dict]:
    """stratum "" (the evaluation set) or "long"; it joins the ids and the category."""
    width = max(4, len(str(len(pairs))))
    tag = f"{lang}-{stratum}" if stratum else lang
    return [
        {
            "question_id": f"{tag}-{i:0{width}d}",
            "category": f"translation-{tag}",
            "turns": [translation_prompt(lang, p.source)],
            "reference": [p.english],
        }
        for i, p in enumerate(pairs, start=1)
    ]


def pool_rows(lang: str, pairs: list[Pair]) -> list[dict]:
    width = max(5, len(str(len(pairs))))
    return [
        {"id": f"{lang}-train-{i:0{width}d}", "prompt": translation_prompt(lang, p.source), "text": p.source,
         "reference": p.english}
        for i, p in enumerate(pairs, start=1)
    ]


def build(langs: list[str], locale_dir: Path, out_dir: Path, per_pair: int, seed: int,
          long_per_pair: int = 40) -> dict[str, tuple[int, int, int, int]]:
    """Write the files per language; returns lang -> (pairs after filtering, eval, long, pool). The long stratum
    takes up to long_per_pair pairs out of the pool (fewer when the catalogs have fewer; no file when none).

    Every language is scanned before anything is written, so a missing language leaves no partial output.
    """
    if per_pair < 1:
        raise ValueError(f"--per-pair must be >= 1, got {per_pair}")
    if long_per_pair < 0:
        raise ValueError(f"--long-per-pair must be >= 0, got {long_per_pair}")
    for lang in langs:
        check_language(lang)
    scans = {lang: scan_catalogs(locale_dir, lang) for lang in langs}
    missing = [lang for lang, scan in scans.items() if not scan.pairs]
    if missing:
        raise NoCatalogsError(_missing_message(missing, locale_dir))
    short = [f"{lang} ({len(scan.pairs)})" for lang, scan in scans.items() if len(scan.pairs) < per_pair]
    if short:
        raise ValueError(f"fewer usable pairs than --per-pair {per_pair}: {', '.join(short)}; lower --per-pair")
    counts = {}
    for lang, scan in scans.items():
        evaluation, pool = split_pairs(scan.pairs, per_pair, seed)
        long, pool = split_long(pool, long_per_pair)
        write_questions(out_dir / "questions" / f"translation_{lang}.jsonl", question_rows(lang, evaluation))
        if long:
            write_questions(out_dir / "questions" / f"translation_{lang}_long.jsonl", question_rows(lang, long, "long"))
        if len(long) < long_per_pair:
            print(f"{lang}: only {len(long)} pairs with >= {LONG_WORDS} English words for the long stratum "
                  f"(asked for {long_per_pair})", file=sys.stderr)
        write_jsonl(out_dir / "train" / f"{lang}.jsonl", pool_rows(lang, pool))
        counts[lang] = (len(scan.pairs), len(evaluation), len(long), len(pool))
        if scan.unreadable:
            print(f"{lang}: skipped unreadable catalogs: {', '.join(scan.unreadable)}", file=sys.stderr)
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--langs", nargs="+", required=True, help="language codes, e.g. de fr ja ru zh")
    parser.add_argument("--per-pair", type=int, default=80, help="evaluation questions per language")
    parser.add_argument("--long-per-pair", type=int, default=40,
                        help=f"questions per language in the long stratum (English of >= {LONG_WORDS} words)")
    parser.add_argument("--locale-dir", type=Path, default=Path("/usr/share/locale"))
    parser.add_argument("--out-dir", type=Path, default=Path("data"))
    parser.add_argument("--seed", type=int, default=0)
    return parser


def run(args: argparse.Namespace) -> None:
    try:
        counts = build(args.langs, Path(args.locale_dir), Path(args.out_dir), args.per_pair, args.seed,
                       args.long_per_pair)
    except (NoCatalogsError, ValueError) as e:
        raise InputError(str(e)) from None
    print(f"{'lang':<6}{'pairs':>8}{'eval':>6}{'long':>6}{'pool':>8}")
    for lang, (n, n_eval, n_long, n_pool) in counts.items():
        print(f"{lang:<6}{n:>8}{n_eval:>6}{n_long:>6}{n_pool:>8}")
    print(f"wrote {Path(args.out_dir) / 'questions'}/translation_<lang>[_long].jsonl and {Path(args.out_dir) / 'train'}/<lang>.jsonl")


def main(argv: list[str] | None = None) -> int:
    try:
        run(build_parser().parse_args(argv))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
