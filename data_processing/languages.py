"""Language codes used across data_processing: English names, gettext locale folders, script checks, prompts.

Codes are short ISO-639-1 names ("zh", "pt"); where Debian keeps the catalogs of one variant in a
regional folder (zh_CN, pt_BR) the code maps to that folder. A regional code (e.g. "zh_TW") is also
accepted as written.
"""
from __future__ import annotations

import re

from data_processing.sample_sentences import LANGUAGE_NAMES as _BASE_NAMES

LANGUAGE_NAMES: dict[str, str] = {
    **_BASE_NAMES,
    "en": "English",
    "ko": "Korean",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "pt_PT": "Portuguese",
    "nl": "Dutch",
    "sv": "Swedish",
    "da": "Danish",
    "nb": "Norwegian",
    "fi": "Finnish",
    "pl": "Polish",
    "cs": "Czech",
    "sk": "Slovak",
    "hu": "Hungarian",
    "ro": "Romanian",
    "tr": "Turkish",
    "vi": "Vietnamese",
    "id": "Indonesian",
    "uk": "Ukrainian",
    "bg": "Bulgarian",
    "sr": "Serbian",
    "el": "Greek",
    "he": "Hebrew",
    "ar": "Arabic",
    "fa": "Persian",
    "hi": "Hindi",
    "th": "Thai",
    "ca": "Catalan",
    "zh_TW": "Chinese",
}

# code -> folder under /usr/share/locale, only where they differ (Debian ships zh as zh_CN/zh_TW, pt as pt/pt_BR)
_LOCALE_FOLDERS: dict[str, str] = {"zh": "zh_CN", "pt": "pt_BR", "pt_PT": "pt"}

# Characters a translation into this language must contain at least one of. A cheap guard against
# untranslated or half-translated entries (msgstr left in English) for languages not written in Latin.
_SCRIPTS: dict[str, str] = {
    "ja": r"\u3040-\u30ff\u4e00-\u9fff",  # kana + CJK ideographs
    "zh": r"\u4e00-\u9fff",
    "zh_TW": r"\u4e00-\u9fff",
    "ko": r"\uac00-\ud7af\u1100-\u11ff",  # Hangul syllables + jamo
    "ru": r"\u0400-\u04ff",
    "uk": r"\u0400-\u04ff",
    "bg": r"\u0400-\u04ff",
    "sr": r"\u0400-\u04ff",
    "el": r"\u0370-\u03ff",
    "he": r"\u0590-\u05ff",
    "ar": r"\u0600-\u06ff",
    "fa": r"\u0600-\u06ff",
    "hi": r"\u0900-\u097f",
    "th": r"\u0e00-\u0e7f",
}
_SCRIPT_RES = {code: re.compile(f"[{chars}]") for code, chars in _SCRIPTS.items()}


def check_language(code: str) -> str:
    """The code itself if known; a ValueError listing the known codes otherwise."""
    if code not in LANGUAGE_NAMES:
        known = ", ".join(sorted(LANGUAGE_NAMES))
        raise ValueError(f"unknown language code {code!r}; known codes: {known}")
    return code


def language_name(code: str) -> str:
    return LANGUAGE_NAMES[check_language(code)]


def locale_folder(code: str) -> str:
    """Folder name under the locale dir holding this language's catalogs."""
    return _LOCALE_FOLDERS.get(check_language(code), code)


def in_target_script(code: str, text: str) -> bool:
    """True when text holds a character of the language's script; always True for Latin-script languages."""
    pattern = _SCRIPT_RES.get(code)
    return pattern is None or bool(pattern.search(text))


def translation_prompt(code: str, source: str) -> str:
    """The translation turn: `Translate German to English: {src}` plus a newline and an "English:" cue.

    The cue sits on its own line after the source (as in sample_sentences.translation_prompt), so the
    model's answer starts right after "English:" and the translation stop string "\\n" ends it.
    """
    return f"Translate {language_name(code)} to English: {source}\nEnglish:"
