"""English -> X sentence pairs from the system's compiled gettext catalogs (/usr/share/locale/<lang>/LC_MESSAGES/*.mo).

The catalogs are software messages, so most entries are not sentences: menu labels, option help
lines, format strings, identifiers. `clean_pair` strips keyboard mnemonics and rejects everything that
is not a plain sentence on both sides; `split_pairs` then orders the survivors by a seeded hash and cuts
an evaluation set and a disjoint training pool from them.
"""
from __future__ import annotations

import gettext
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from data_processing.languages import in_target_script, locale_folder

# Catalogs of names rather than sentences (countries, currencies, scripts, keyboard layouts): long
# names like "Congo, The Democratic Republic of the" pass the length and word filters, so drop them by domain.
NAME_LIST_DOMAINS = re.compile(r"^(iso_.*|xkeyboard-config)$")

# Keyboard mnemonics: "(_F)" / "(&F)" suffixes (ja/zh/ko), "(F)" after a CJK label, "_File" / "&File" prefixes.
_MNEMONIC_SUFFIX = re.compile(r"\s*\((?:_|&)[A-Za-z0-9]\)")
_CJK_LETTER_SUFFIX = re.compile(r"(?<=[\u3000-\u9fff\uac00-\ud7af])\([A-Z0-9]\)")
_MNEMONIC_PREFIX = re.compile(r"(?<![\w&])[_&](?=\w)")

# Anything that marks a message as a template or markup rather than prose. '%' is rejected outright:
# printf (%s, %1$s, %-10.3lf), Python (%(name)s) and Qt (%1) forms all start with it, and a literal
# percent sign in a real sentence is rare enough in these catalogs not to be worth telling apart.
_TEMPLATE = re.compile(
    r"%"  # printf / Python / Qt placeholders
    r"|[{}]"  # {0}, {name}, ${x}
    r"|\$\w"  # $HOME, $1
    r"|@\w+@"  # autoconf substitutions
    r"|<[A-Za-z/!][^>]*>"  # <b>, </a>, <!-- -->
    r"|&\w+;"  # HTML entities
    r"|\\"  # escapes, Windows paths
    r"|\w[_&]\w|_"  # identifiers (max_connections) and mid-word mnemonics left after prefix stripping
    r"|(?:^|\s)/\w"  # file paths
)
_OPTION = re.compile(r"(?:^|\s)--?[A-Za-z0-9]")  # "-E, --escape", "use -f to force"
_COLUMNS = re.compile(r"\S\s{2,}\S")  # column-aligned help text
_TRAILING = ".!?:;…。！？：；"


@dataclass(frozen=True)
class Bounds:
    """Length limits; English ones in characters, plus a minimum English word count."""

    min_chars: int = 20
    max_chars: int = 200
    min_words: int = 3
    max_target_chars: int = 400

    def __post_init__(self) -> None:
        if not 0 < self.min_chars <= self.max_chars:
            raise ValueError(f"need 0 < min_chars <= max_chars, got {self.min_chars}, {self.max_chars}")


@dataclass(frozen=True)
class Pair:
    source: str  # the sentence in the target language
    english: str
    domain: str  # catalog name, e.g. "coreutils", kept for provenance


@dataclass
class CatalogScan:
    """What one language's catalogs yielded: kept pairs and the counts behind them."""

    pairs: list[Pair] = field(default_factory=list)
    files: int = 0
    entries: int = 0  # singular msgid/msgstr entries read
    unreadable: list[str] = field(default_factory=list)  # catalogs GNUTranslations could not parse


def strip_mnemonics(text: str) -> str:
    text = _MNEMONIC_SUFFIX.sub("", text)
    text = _CJK_LETTER_SUFFIX.sub("", text)
    return _MNEMONIC_PREFIX.sub("", text).strip()


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)  # \n and \t are Cc too


def _is_plain(text: str) -> bool:
    """No control characters, templates, option syntax or column layout; holds at least one letter."""
    return (
        not _has_control(text)
        and not _TEMPLATE.search(text)
        and not _OPTION.search(text)
        and not _COLUMNS.search(text)
        and any(ch.isalpha() for ch in text)
    )


def _latin_only(text: str) -> bool:
    # the English side must not carry another script (some msgids are themselves non-English)
    return all(ord(ch) < 0x250 for ch in text if ch.isalpha())


def clean_pair(english: str, translated: str, lang: str, bounds: Bounds = Bounds()) -> tuple[str, str] | None:
    """(english, translated) with mnemonics stripped, or None when the entry is not a plain sentence pair."""
    english, translated = strip_mnemonics(english), strip_mnemonics(translated)
    if not (bounds.min_chars <= len(english) <= bounds.max_chars) or len(english.split()) < bounds.min_words:
        return None
    if not (2 <= len(translated) <= bounds.max_target_chars):
        return None
    if not (_is_plain(english) and _is_plain(translated) and _latin_only(english)):
        return None
    if norm_key(english) == norm_key(translated) or not in_target_script(lang, translated):
        return None
    return english, translated


def norm_key(text: str) -> str:
    """Comparison key: case, spacing and final punctuation do not make two sentences different."""
    return " ".join(text.casefold().split()).rstrip(_TRAILING).strip()


def catalog_files(locale_dir: str | Path, lang: str) -> list[Path]:
    """Sentence catalogs of one language, sorted by name so every scan sees them in the same order."""
    folder = Path(locale_dir) / locale_folder(lang) / "LC_MESSAGES"
    files = sorted(folder.glob("*.mo")) if folder.is_dir() else []
    return [f for f in files if not NAME_LIST_DOMAINS.match(f.stem)]


def read_catalog(path: Path) -> list[tuple[str, str]]:
    """Singular (msgid, msgstr) entries, context prefixes removed, sorted by msgid.

    Plural entries (keys that are (msgid, index) tuples) are skipped: nearly all of them carry a count
    placeholder, which the filter would reject anyway. The header entry (msgid "") is skipped too.
    """
    with path.open("rb") as f:
        catalog = gettext.GNUTranslations(f)._catalog
    entries = []
    for key, value in catalog.items():
        if not isinstance(key, str) or not key or not value:
            continue
        entries.append((key.split("\x04", 1)[-1], value))  # "context\x04msgid" -> "msgid"
    return sorted(entries)


def scan_catalogs(locale_dir: str | Path, lang: str, bounds: Bounds = Bounds()) -> CatalogScan:
    """Clean, deduplicated pairs of one language; the first catalog (by name) wins a duplicate."""
    scan = CatalogScan()
    seen_en: set[str] = set()
    seen_src: set[str] = set()
    for path in catalog_files(locale_dir, lang):
        try:
            entries = read_catalog(path)
        except Exception:  # a broken system catalog should cost its pairs, not the whole run
            scan.unreadable.append(path.name)
            continue
        scan.files += 1
        scan.entries += len(entries)
        for msgid, msgstr in entries:
            cleaned = clean_pair(msgid, msgstr, lang, bounds)
            if cleaned is None:
                continue
            english, source = cleaned
            ken, ksrc = norm_key(english), norm_key(source)
            if ken in seen_en or ksrc in seen_src:
                continue
            seen_en.add(ken)
            seen_src.add(ksrc)
            scan.pairs.append(Pair(source=source, english=english, domain=path.stem))
    return scan


def _order_key(seed: int, pair: Pair) -> str:
    # sha256 instead of random.shuffle: stable across Python hash seeds and versions, and a pair's place
    # does not depend on which other pairs exist, so adding a catalog barely changes the evaluation set
    return hashlib.sha256(f"{seed}\x00{norm_key(pair.english)}\x00{norm_key(pair.source)}".encode()).hexdigest()


# A "long" item: an English side of at least this many words. Counted on the English side because the answers are
# English (answer length is what speculation scales with) and because Japanese and Chinese sources have no spaces.
LONG_WORDS = 15


def is_long(pair: Pair) -> bool:
    return len(pair.english.split()) >= LONG_WORDS


def split_long(pool: list[Pair], n_long: int) -> tuple[list[Pair], list[Pair]]:
    """(long, rest): the first n_long long pairs of the pool in its order (fewer when the pool has fewer), and the
    pool without any pair sharing a side with them."""
    long = [p for p in pool if is_long(p)][:n_long]
    long_en = {norm_key(p.english) for p in long}
    long_src = {norm_key(p.source) for p in long}
    return long, [p for p in pool if norm_key(p.english) not in long_en and norm_key(p.source) not in long_src]


def split_pairs(pairs: list[Pair], n_eval: int, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(eval, pool): n_eval pairs chosen by seeded hash, and every other pair sharing no side with them."""
    if n_eval < 1:
        raise ValueError(f"n_eval must be >= 1, got {n_eval}")
    ordered = sorted(pairs, key=lambda p: _order_key(seed, p))
    evaluation = ordered[:n_eval]
    eval_en = {norm_key(p.english) for p in evaluation}
    eval_src = {norm_key(p.source) for p in evaluation}
    # pairs are already deduplicated on both sides; filter again so the guarantee holds for any input list
    pool = [p for p in ordered[n_eval:] if norm_key(p.english) not in eval_en and norm_key(p.source) not in eval_src]
    return evaluation, pool
