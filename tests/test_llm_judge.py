"""The judge: end to end against the local OpenAI-compatible server with a tiny real model (real HTTP),
resume, unreadable verdicts kept as such, retries, pairwise order swapping, and `show` arithmetic."""
from __future__ import annotations

import csv
import json

import pytest
from http_servers import scripted_chat_endpoint, uvicorn_running
from tiny import save_tiny_checkpoint

from evaluation.jsonl_store import read_rows
from llm_judge import judge, show
from llm_judge.engine import Engine
from llm_judge.serve import make_app
from llm_judge.verdicts import parse_rating, parse_winner

QUESTIONS = [
    {"question_id": "de-1", "category": "translation-de", "turns": ["Translate German to English: Hallo Welt\nEnglish:"],
     "reference": ["Hello world"]},
    {"question_id": "de-2", "category": "translation-de", "turns": ["Translate German to English: Guten Morgen\nEnglish:"]},
    {"question_id": "fr-1", "category": "translation-fr", "turns": ["Translate French to English: Bonjour\nEnglish:"],
     "reference": "Hello"},
    {"question_id": "w-1", "category": "writing", "turns": ["Name a colour.", "Another one?"]},
]


def answer_row(qid: str, method: str, turns: list[str], lossy: bool = False) -> dict:
    n = len(turns)
    return {"question_id": qid, "category": "c", "method": method, "lossy": lossy,
            "choices": [{"index": 0, "turns": turns, "new_tokens": [3] * n, "wall_time": [0.1] * n, "accept_lengths": [1]}]}


@pytest.fixture
def files(tmp_path):
    def write(name: str, rows: list[dict]) -> str:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return str(path)

    questions = write("q.jsonl", QUESTIONS)
    ar = write("ar.jsonl", [answer_row(q["question_id"], "ar", [f"{q['question_id']} plain {i}" for i in range(len(q["turns"]))])
                            for q in QUESTIONS])
    pld = write("pld.jsonl", [answer_row(q["question_id"], "pld", [f"{q['question_id']} good {i}" for i in range(len(q["turns"]))])
                              for q in QUESTIONS[:3]])  # no answer for w-1: skipped, not an error
    return questions, ar, pld


class CountingEngine(Engine):
    calls = 0

    def complete(self, *args, **kwargs):
        CountingEngine.calls += 1
        return super().complete(*args, **kwargs)


def test_judge_end_to_end_against_local_server_resumes(tmp_path, files):
    questions, ar, pld = files
    CountingEngine.calls = 0
    engine = CountingEngine(save_tiny_checkpoint(tmp_path / "tiny"), method="pld", dtype="float32", device="cpu")
    out = tmp_path / "judged.jsonl"
    with uvicorn_running(make_app(engine, "tiny-judge")) as url:
        argv = ["--questions", questions, "--answers", ar, pld, "--judge-model", "tiny-judge", "--api-base", url,
                "--max-tokens", "12", "--parallel", "2", "--out", str(out)]
        judge.main(argv)
        rows = read_rows(out)
        expected = {f"single|{q}|{t}|{m}" for q in ("de-1", "de-2", "fr-1") for m in ("ar", "pld") for t in (0,)}
        expected |= {"single|w-1|0|ar", "single|w-1|1|ar"}
        assert {r["id"] for r in rows} == expected and len(rows) == len(expected) == CountingEngine.calls
        for row in rows:  # the score is exactly what the judgment text says, or null with the reason
            assert (row["score"], row["parse_error"]) == parse_rating(row["judgment"])
        assert any(r["score"] is None and r["parse_error"] for r in rows)  # a random model writes no [[N]]
        prompts = {r["id"]: r["prompt"] for r in rows}
        assert prompts["single|de-1|0|ar"] == "single-translation-ref" and prompts["single|de-2|0|ar"] == "single-translation"
        assert prompts["single|w-1|1|ar"] == "single-general"

        # interrupted run: the last two rows never arrived and a third was cut mid-write
        kept = rows[:-3]
        out.write_text("".join(json.dumps(r) + "\n" for r in kept) + json.dumps(rows[-3])[:40])
        judge.main(argv)
        resumed = read_rows(out)
        assert resumed[: len(kept)] == kept and {r["id"] for r in resumed} == expected
        assert CountingEngine.calls == len(expected) + 3
        judge.main(argv)  # nothing left: no request
        assert CountingEngine.calls == len(expected) + 3


def test_judge_retries_then_scores_and_failures_write_nothing(tmp_path, files):
    questions, ar, _ = files
    with scripted_chat_endpoint(lambda body, n: (429, "slow down") if n == 1 else (200, "Fine.\nScore: [[8]]")) as (url, got):
        out = tmp_path / "j.jsonl"
        judge.main(["--questions", questions, "--answers", ar, "--api-base", url, "--parallel", "1",
                    "--max-retries", "2", "--limit", "1", "--out", str(out)])
        (row,) = read_rows(out)
        assert row["score"] == 8.0 and row["parse_error"] is None and len(got) == 2
        assert got[0]["model"] == "gpt-4o" and got[0]["temperature"] == 0.0
        assert "Hello world" in got[0]["messages"][1]["content"]  # the reference translation is shown
    with scripted_chat_endpoint(lambda body, n: (500, "down")) as (url, got):
        out = tmp_path / "failed.jsonl"
        with pytest.raises(SystemExit, match="1 judgment requests failed"):
            judge.main(["--questions", questions, "--answers", ar, "--api-base", url, "--max-retries", "1",
                        "--limit", "1", "--out", str(out)])
        assert len(got) == 2 and read_rows(out) == []


def translation_in(body: dict, slot: str) -> str:
    text = body["messages"][1]["content"]
    return text.split(f"[Translation {slot}]\n", 1)[1].split("\n[End of translation", 1)[0]


@pytest.mark.parametrize("policy", ["position-biased", "prefers-good"])
def test_pairwise_asks_both_orders(tmp_path, files, policy):
    questions, ar, pld = files

    def reply(body, n):
        if policy == "position-biased":
            return 200, "A reads better. [[A]]"
        return 200, "[[A]]" if " good " in translation_in(body, "A") else "[[B]]"

    with scripted_chat_endpoint(reply) as (url, got):
        out = tmp_path / "pairs.jsonl"
        judge.main(["--questions", questions, "--answers", ar, pld, "--mode", "pairwise", "--api-base", url,
                    "--out", str(out)])
    rows = read_rows(out)
    assert len(rows) == len(got) == 6  # 3 shared questions x 2 orders; w-1 has no pld answer
    for row, body in zip(sorted(rows, key=lambda r: r["id"]), sorted(got, key=lambda b: b["messages"][1]["content"])):
        assert (row["winner"], row["parse_error"]) == parse_winner(row["judgment"])
    for qid in ("de-1", "de-2", "fr-1"):
        orders = sorted(tuple(r["models"]) for r in rows if r["question_id"] == qid)
        assert orders == [("ar", "pld"), ("pld", "ar")]
    sent = {(translation_in(b, "A").split()[1], translation_in(b, "B").split()[1]) for b in got}
    assert sent == {("plain", "good"), ("good", "plain")}
    (ar_vs_pld,) = [r for r in show.pairwise_stats(rows) if r["model"] == "pld" and r["language"] == "all"]
    if policy == "position-biased":  # each order picks its first answer: inconsistent, so ties
        assert (ar_vs_pld["wins"], ar_vs_pld["ties"], ar_vs_pld["inconsistent"], ar_vs_pld["n"]) == (0, 3, 3, 3)
    else:
        assert (ar_vs_pld["wins"], ar_vs_pld["losses"], ar_vs_pld["inconsistent"], ar_vs_pld["win_rate"]) == (3, 0, 0, 1.0)


def single(qid: str, category: str, model: str, score: float | None) -> dict:
    return {"id": f"single|{qid}|0|{model}", "mode": "single", "question_id": qid, "category": category, "turn": 0,
            "models": [model], "judge_model": "j", "score": score, "parse_error": None if score else "no rating"}


def pair(qid: str, a: str, b: str, winner: str | None) -> dict:
    return {"id": f"pair|{qid}|0|{a}|{b}", "mode": "pairwise", "question_id": qid, "category": "translation-de",
            "turn": 0, "models": [a, b], "judge_model": "j", "winner": winner, "parse_error": None if winner else "x"}


def test_show_arithmetic(tmp_path, capsys):
    rows = [single("1", "translation-de", "ar", 8), single("2", "translation-de", "ar", 6),
            single("3", "translation-de", "ar", None), single("4", "translation-fr", "ar", 10),
            single("1", "translation-de", "pld", 7)]
    rows += [pair("1", "ar", "pld", "B"), pair("1", "pld", "ar", "A"),  # pld wins both orders
             pair("2", "ar", "pld", "A"), pair("2", "pld", "ar", "A"),  # inconsistent: tie
             pair("3", "ar", "pld", "A"), pair("3", "pld", "ar", None),  # one unreadable: left out
             pair("4", "ar", "pld", "C"), pair("4", "pld", "ar", "C"),  # tie both ways
             pair("5", "ar", "pld", "A"), pair("5", "pld", "ar", "B")]  # ar wins both orders
    path = tmp_path / "j.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    show.main([str(path), "--csv", str(tmp_path / "t.csv")])
    singles = {(r["model"], r["language"]): r for r in show.single_stats(rows[:5])}
    assert singles[("ar", "de")] == {"model": "ar", "language": "de", "mean_score": 7.0, "n": 2, "unreadable": 1}
    assert singles[("ar", "all")]["mean_score"] == 8.0 and singles[("ar", "all")]["n"] == 3
    assert singles[("pld", "all")]["mean_score"] == 7.0
    (pld,) = [r for r in show.pairwise_stats(rows[5:]) if r["model"] == "pld" and r["language"] == "de"]
    assert (pld["wins"], pld["ties"], pld["losses"], pld["inconsistent"], pld["n"]) == (1, 2, 1, 1, 4)
    assert pld["win_rate"] == 0.25 and pld["win_rate_ties_half"] == 0.5
    printed = capsys.readouterr().out
    assert "| ar | 7.00 (n=2, 1 unreadable) | 10.00 (n=1) | 8.00 (n=3, 1 unreadable) |" in printed
    with open(tmp_path / "t-pairwise.csv") as f:
        records = list(csv.DictReader(f))
    assert {(r["model"], r["language"], r["wins"], r["n"]) for r in records} >= {("ar", "de", "1", "4"), ("pld", "all", "1", "4")}


@pytest.mark.parametrize("judgment, verdict", [
    ("The translation is accurate.\nRating: [[8]]", (8.0, None)),
    ("Fluent but one word is off. [[7.5]]", (7.5, None)),
    ("Score: [[ 9 / 10 ]]", (9.0, None)),
    ("[[6]] as said above, [[6]].", (6.0, None)),
    ("Rating: 8", (None, "no [[N]] rating in the judgment")),
    ("First [[8]], on reflection [[3]].", (None, "conflicting ratings [3.0, 8.0]")),
    ("[[11]]", (None, "rating 11 outside 1-10")),
    ("[[0]]", (None, "rating 0 outside 1-10")),
])
def test_ratings_read_from_judgments_written_by_hand(judgment, verdict):
    assert parse_rating(judgment) == verdict


@pytest.mark.parametrize("judgment, verdict", [
    ("Assistant A keeps the meaning. [[A]]", ("A", None)),
    ("[[ B ]]", ("B", None)),
    ("Both are equally good: [[C]]", ("C", None)),
    ("A is better than B.", (None, "no [[A]], [[B]] or [[C]] verdict in the judgment")),
    ("[[A]]... no, [[B]]", (None, "conflicting verdicts ['A', 'B']")),
])
def test_winners_read_from_judgments_written_by_hand(judgment, verdict):
    assert parse_winner(judgment) == verdict
