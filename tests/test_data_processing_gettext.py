"""Gettext pairs and the translation builder, on catalogs the tests compile themselves (pure-Python .mo writer)."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from data_processing import build_translation
from data_processing.build_translation import NoCatalogsError, build
from data_processing.gettext_pairs import Pair, clean_pair, norm_key, scan_catalogs, split_pairs
from data_processing.questions import load_questions

REPO = Path(__file__).resolve().parents[1]
HEADER = "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n"


def write_mo(path: Path, entries: dict[str, str]) -> None:
    """GNU .mo: magic, revision, count, offsets of the msgid and msgstr tables, no hash table, then the strings."""
    entries = {"": HEADER, **entries}
    keys = sorted(entries)  # the format requires msgids sorted (byte order equals code point order in UTF-8)
    ids = [k.encode() for k in keys]
    strs = [entries[k].encode() for k in keys]
    n = len(keys)
    header_size = 7 * 4
    ids_table, strs_table = header_size, header_size + 8 * n
    data_start = strs_table + 8 * n
    blob, id_pairs, str_pairs = b"", [], []
    for raw, pairs in ((ids, id_pairs), (strs, str_pairs)):
        for s in raw:
            pairs.append((len(s), data_start + len(blob)))
            blob += s + b"\0"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(struct.pack("<7I", 0x950412DE, 0, n, ids_table, strs_table, 0, data_start))
        for length, offset in id_pairs + str_pairs:
            f.write(struct.pack("<2I", length, offset))
        f.write(blob)


NOUNS = [("file", "Datei"), ("folder", "Ordner"), ("image", "Bild"), ("message", "Nachricht"),
         ("profile", "Profil"), ("document", "Dokument")]
VERBS = [("saved", "gespeichert"), ("opened", "geöffnet"), ("deleted", "gelöscht"), ("copied", "kopiert"),
         ("renamed", "umbenannt")]
GOOD_DE = {f"The {en} could not be {ven}.": f"{de} konnte nicht {vde} werden." for en, de in NOUNS for ven, vde in VERBS}

NOISE_DE = {
    "Cannot open file %s for reading": "Datei %s kann nicht gelesen werden",
    "Removed %1$s entries from the list": "%1$s Einträge aus der Liste entfernt",
    "{0} files were deleted today": "{0} Dateien wurden heute gelöscht",
    "Set the ${HOME} folder for this user": "Den Ordner ${HOME} für diesen Benutzer setzen",
    "<b>Warning:</b> the disk is nearly full": "<b>Warnung:</b> die Festplatte ist fast voll",
    "  -E, --escape   print escapes for graphic characters": "  -E, --escape   Escapes für Grafikzeichen ausgeben",
    "use --force to overwrite existing files": "--force verwenden, um Dateien zu überschreiben",
    "First line of the text\nsecond line of the text": "Erste Zeile des Textes\nzweite Zeile des Textes",
    "Column one\tcolumn two\tcolumn three": "Spalte eins\tSpalte zwei\tSpalte drei",
    "Open file": "Datei öffnen",  # too short, too few words
    "The value of max_connections is too high": "Der Wert von max_connections ist zu hoch",
    "This message was left untranslated": "This message was left untranslated",
}
MNEMONIC_DE = {
    "_Open the selected file now": "Gewählte Datei jetzt ö_ffnen",  # mid-word mnemonic: rejected
    "_Close all open windows at once": "_Alle offenen Fenster sofort schließen",
    "&Print the whole document again": "Das ganze Dokument erneut &drucken",
}
CONTEXT_DE = {"menu\x04Reload the page from the server": "Seite vom Server neu laden"}
PLURAL_DE = {"One file was removed from disk\x00Many files were removed from disk": "x\x00y"}


def de_catalogs(root: Path) -> Path:
    folder = root / "de" / "LC_MESSAGES"
    write_mo(folder / "alpha.mo", {**GOOD_DE, **NOISE_DE, **MNEMONIC_DE, **CONTEXT_DE, **PLURAL_DE})
    # a second catalog repeating one English sentence with another translation: the first catalog wins
    write_mo(folder / "beta.mo", {"The file could not be saved.": "Speichern der Datei fehlgeschlagen."})
    write_mo(folder / "iso_3166-1.mo", {"Congo, The Democratic Republic of the": "Kongo, Demokratische Republik"})
    (folder / "broken.mo").write_bytes(b"not a catalog at all")
    return root


def ja_catalogs(root: Path) -> Path:
    write_mo(root / "ja" / "LC_MESSAGES" / "gamma.mo", {
        "_Open the file in a new window": "新しいウィンドウでファイルを開く(_O)",
        "Save the current document to disk": "現在のドキュメントをディスクに保存します",
        "The network connection was lost": "The network connection was lost",  # untranslated
        "Close this window and quit": "Close this window and quit now",  # Latin only: not Japanese
        "Show hidden files in the list": "一覧に隠しファイルを表示(H)",
    })
    return root


def expected_de() -> dict[str, str]:
    """English -> German of every pair the de fixture catalogs should yield."""
    return {**GOOD_DE, "Close all open windows at once": "Alle offenen Fenster sofort schließen",
            "Print the whole document again": "Das ganze Dokument erneut drucken",
            "Reload the page from the server": "Seite vom Server neu laden"}


def test_filters_and_mnemonics_on_fixture_catalogs(tmp_path):
    scan = scan_catalogs(de_catalogs(tmp_path), "de")
    # noise, mid-word mnemonics, plurals, name lists and the duplicate are gone; prefixes and context stripped
    assert {p.english: p.source for p in scan.pairs} == expected_de()
    assert scan.unreadable == ["broken.mo"]
    assert scan.files == 2  # alpha and beta; iso_3166-1 is a name list, broken.mo unreadable


def test_script_check_and_cjk_mnemonics(tmp_path):
    got = {p.english: p.source for p in scan_catalogs(ja_catalogs(tmp_path), "ja").pairs}
    assert got == {
        "Open the file in a new window": "新しいウィンドウでファイルを開く",
        "Save the current document to disk": "現在のドキュメントをディスクに保存します",
        "Show hidden files in the list": "一覧に隠しファイルを表示",
    }


@pytest.mark.parametrize("lang, translated", [("ru", "Файл не найден на диске"), ("zh", "磁盘上找不到文件"),
                                              ("ko", "디스크에서 파일을 찾을 수 없습니다")])
def test_non_latin_targets_need_their_script(lang, translated):
    assert clean_pair("The file was not found on disk", translated, lang) is not None
    assert clean_pair("The file was not found on disk", "Fichier introuvable sur le disque", lang) is None


def test_split_is_disjoint_and_sized():
    pairs = [Pair(f"Quelle {i}", f"Source sentence number {i}", "t") for i in range(30)]
    # a pair repeating an evaluation sentence on one side only must not reach the pool
    evaluation, pool = split_pairs(pairs, 5, seed=0)
    clash = [Pair(evaluation[0].source + ".", "A brand new english sentence", "t"),
             Pair("Eine ganz neue Quelle", evaluation[1].english.upper(), "t")]
    evaluation2, pool2 = split_pairs(pairs + clash, 5, seed=0)
    assert len(evaluation) == 5 and len(pool) == 25
    for ev, pl in ((evaluation, pool), (evaluation2, pool2)):
        assert not {norm_key(p.source) for p in ev} & {norm_key(p.source) for p in pl}
        assert not {norm_key(p.english) for p in ev} & {norm_key(p.english) for p in pl}
    # each pair's rank is its own hash, so adding pairs only lets new ones in, never reshuffles the old ones
    kept = [p for p in evaluation2 if p not in clash]
    assert kept == evaluation[: len(kept)]
    assert split_pairs(list(reversed(pairs)), 5, seed=0) == (evaluation, pool)  # input order does not matter
    assert split_pairs(pairs, 5, seed=1)[0] != evaluation


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_build_writes_eval_and_disjoint_pool(tmp_path):
    counts = build(["de"], de_catalogs(tmp_path / "locale"), tmp_path / "out", per_pair=6, seed=0)
    assert counts == {"de": (33, 6, 0, 27)}  # no sentence of >= 15 English words: no long stratum
    assert not (tmp_path / "out" / "questions" / "translation_de_long.jsonl").exists()
    questions = load_questions(tmp_path / "out" / "questions" / "translation_de.jsonl")
    pool = read_jsonl(tmp_path / "out" / "train" / "de.jsonl")
    assert [q["question_id"] for q in questions] == [f"de-{i:04d}" for i in range(1, 7)]
    assert {q["category"] for q in questions} == {"translation-de"}
    expected = expected_de()
    for q in questions:  # the prompt carries the German sentence, the reference its own English
        assert q["turns"] == [f"Translate German to English: {expected[q['reference'][0]]}\nEnglish:"]
    assert len(pool) == 27 and all(set(r) == {"id", "prompt", "text", "reference"} for r in pool)
    assert all(r["prompt"] == f"Translate German to English: {r['text']}\nEnglish:" for r in pool)
    assert all(expected[r["reference"]] == r["text"] for r in pool)  # each pair's own English, for teacher forcing
    assert len({r["id"] for r in pool}) == len(pool)
    eval_sources = {expected[q["reference"][0]] for q in questions}
    assert not eval_sources & {r["text"] for r in pool}
    assert eval_sources | {r["text"] for r in pool} == set(expected.values())  # nothing lost, nothing invented


LONG_DE = {
    f"The {en} you asked for could not be {ven} because another program is still using it right now.":
        f"{de} konnte nicht {vde} werden, weil ein anderes Programm sie gerade noch benutzt."
    for en, de in NOUNS[:2] for ven, vde in VERBS[:2]}


def test_long_stratum_is_long_apart_and_leaves_the_evaluation_set_alone(tmp_path):
    locale = tmp_path / "locale"
    write_mo(locale / "de" / "LC_MESSAGES" / "alpha.mo", {**GOOD_DE, **LONG_DE})
    without = build(["de"], locale, tmp_path / "a", per_pair=6, seed=0, long_per_pair=0)
    counts = build(["de"], locale, tmp_path / "b", per_pair=6, seed=0, long_per_pair=3)
    assert without == {"de": (34, 6, 0, 28)} and counts == {"de": (34, 6, 3, 25)}
    short = "questions/translation_de.jsonl"
    assert (tmp_path / "a" / short).read_bytes() == (tmp_path / "b" / short).read_bytes()
    long = load_questions(tmp_path / "b" / "questions" / "translation_de_long.jsonl")
    assert [q["question_id"] for q in long] == ["de-long-0001", "de-long-0002", "de-long-0003"]
    assert {q["category"] for q in long} == {"translation-de-long"}
    assert all(q["reference"][0] in LONG_DE and len(q["reference"][0].split()) >= 15 for q in long)
    pool = {r["text"] for r in read_jsonl(tmp_path / "b" / "train" / "de.jsonl")}
    assert not pool & {LONG_DE[q["reference"][0]] for q in long}  # nothing asked is trained on
    assert len(pool) == 25


def test_per_pair_larger_than_available_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"fewer usable pairs than --per-pair 10: ja \(3\)"):
        build(["ja"], ja_catalogs(tmp_path), tmp_path / "out", per_pair=10, seed=0)


def test_same_seed_same_files_across_hash_seeds(tmp_path):
    locale = de_catalogs(tmp_path / "locale")
    outputs = []
    for i, hash_seed in enumerate(["1", "2"]):
        out = tmp_path / f"out{i}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-m", "data_processing.build_translation", "--langs", "de", "--per-pair", "5",
                        "--locale-dir", str(locale), "--out-dir", str(out)], check=True, cwd=REPO, env=env,
                       capture_output=True)
        outputs.append([(out / rel).read_bytes() for rel in ("questions/translation_de.jsonl", "train/de.jsonl")])
    assert outputs[0] == outputs[1]


def test_missing_catalogs_give_a_clear_error(tmp_path, capsys):
    locale = de_catalogs(tmp_path / "locale")
    with pytest.raises(NoCatalogsError) as e:
        build(["de", "ja", "ko"], locale, tmp_path / "out", per_pair=3, seed=0)
    message = str(e.value)
    assert "no usable gettext catalogs for ja, ko" in message
    assert f"Languages with catalogs in {locale}: de" in message
    assert "dpkg -S" in message and "apt-get install" in message and "--locale-dir" in message
    assert not (tmp_path / "out").exists()  # nothing written when any language is missing

    assert build_translation.main(["--langs", "de", "--locale-dir", str(tmp_path / "nowhere"),
                                   "--out-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "the folder does not exist" in err and "no usable gettext catalogs for de" in err


def test_unknown_language_code_lists_known_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown language code 'xx'; known codes: .*de"):
        build(["xx"], tmp_path, tmp_path / "out", per_pair=3, seed=0)
