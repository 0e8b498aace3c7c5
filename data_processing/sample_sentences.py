"""A few sentences per language, written for this project, for smoke benchmarks and real-model tests.

Each pair is (source sentence, English reference). Prompts follow the translation template of the
benchmarks: "Translate German to English: {src}\\nEnglish:".
"""
from __future__ import annotations

LANGUAGE_NAMES = {"de": "German", "fr": "French", "ja": "Japanese", "ru": "Russian", "zh": "Chinese"}

SENTENCES: dict[str, list[tuple[str, str]]] = {
    "de": [
        ("Der Zug nach Hamburg fährt heute wegen Bauarbeiten eine Stunde später ab.",
         "Because of construction work, the train to Hamburg leaves an hour later today."),
        ("Bitte speichern Sie Ihre Arbeit, bevor Sie das Programm schließen.",
         "Please save your work before closing the program."),
        ("Meine Schwester hat im Garten Tomaten, Bohnen und Kürbisse gepflanzt.",
         "My sister planted tomatoes, beans and pumpkins in the garden."),
    ],
    "fr": [
        ("La bibliothèque municipale sera fermée pendant les vacances d'été.",
         "The municipal library will be closed during the summer holidays."),
        ("Impossible d'ouvrir le fichier parce qu'il est utilisé par un autre processus.",
         "The file cannot be opened because it is being used by another process."),
        ("Nous avons marché le long de la rivière jusqu'au vieux moulin.",
         "We walked along the river to the old mill."),
    ],
    "ja": [
        ("明日の会議は午後三時から始まります。", "Tomorrow's meeting starts at three in the afternoon."),
        ("このファイルを削除してもよろしいですか？", "Are you sure you want to delete this file?"),
        ("駅の近くに新しいパン屋ができました。", "A new bakery has opened near the station."),
    ],
    "ru": [
        ("Сегодня вечером в парке будет концерт классической музыки.",
         "There will be a classical music concert in the park this evening."),
        ("Не удалось подключиться к серверу, попробуйте позже.",
         "Could not connect to the server, please try again later."),
        ("Мой дедушка каждое утро читает газету за чашкой чая.",
         "My grandfather reads the newspaper over a cup of tea every morning."),
    ],
    "zh": [
        ("今天下午我们在图书馆一起复习数学。", "This afternoon we reviewed math together in the library."),
        ("无法保存设置，因为磁盘已满。", "The settings could not be saved because the disk is full."),
        ("这家餐厅的饺子非常好吃。", "The dumplings at this restaurant are very tasty."),
    ],
}


def translation_prompt(lang: str, source: str) -> str:
    return f"Translate {LANGUAGE_NAMES[lang]} to English: {source}\nEnglish:"


def sample_prompts(per_language: int = 3) -> list[tuple[str, str]]:
    """(language, prompt) pairs, per_language from each language."""
    return [(lang, translation_prompt(lang, src)) for lang, pairs in SENTENCES.items() for src, _ in pairs[:per_language]]
