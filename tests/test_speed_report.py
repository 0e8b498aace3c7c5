"""Speed metrics and reports on hand-made answer files whose numbers are worked out by hand in the comments."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from evaluation.answers import AnswerFileError, load_answers
from evaluation.report import write_report
from evaluation.speed import evaluate, main, match_notes, summarize, to_csv, to_json, to_markdown

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def row(qid: str, cat: str, method: str, tokens: list[int], times: list[float], accept: list[int], **extra) -> dict:
    """One answer row in the format written by evaluation.run (only the fields the metrics read, plus a few)."""
    return {
        "question_id": qid,
        "category": cat,
        "answer_id": f"{method}-{qid}",
        "model_id": "gemma-3-270m",
        "tstamp": 1790000000.0,
        "method": method,
        "choices": [
            {
                "index": 0,
                "turns": ["x"] * len(tokens),
                "token_ids": [[1] * n for n in tokens],
                "decoding_steps": [len(accept)] + [0] * (len(tokens) - 1),
                "new_tokens": tokens,
                "wall_time": times,
                "accept_lengths": accept,
            }
        ],
        **extra,
    }


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    # Baseline: q1 (de) 10 tok / 1 s = 10 tok/s; q2 (fr) 40 tok / 2 s = 20 tok/s; q3 only in the baseline.
    ar = write(
        tmp_path / "ar.jsonl",
        [
            row("q1", "de", "ar", [10], [1.0], [1] * 10),
            row("q2", "fr", "ar", [40], [2.0], [1] * 40),
            row("q3", "fr", "ar", [5], [1.0], [1] * 5),
        ],
    )
    # Method: q1 20 tok / 1 s = 20 tok/s (4 forwards of 5); q2 two turns 30+30 tok / (0.25+0.75) s = 60 tok/s
    # (10 forwards of 6); q4 has no baseline answer and must be ignored (its accept lengths too).
    pld = write(
        tmp_path / "pld.jsonl",
        [
            row("q1", "de", "pld", [20], [1.0], [5] * 4, run="seed0"),
            row("q2", "fr", "pld", [30, 30], [0.25, 0.75], [6] * 10, run="seed0"),
            row("q4", "fr", "pld", [7], [1.0], [1] * 7, run="seed0"),
        ],
    )
    # Second run of the same method: q1 30 tok/s, q2 60 tok/s -> speedup (30+60)/2 / 15 = 3.0.
    pld2 = write(
        tmp_path / "pld2.jsonl",
        [
            row("q1", "de", "pld", [30], [1.0], [5] * 6, run="seed1"),
            row("q2", "fr", "pld", [60], [1.0], [6] * 10, run="seed1"),
        ],
    )
    typical = write(
        tmp_path / "typical.jsonl",
        [row("q1", "de", "medusa", [12], [0.5], [3, 3, 3, 3], lossy=True)],
    )
    return {"ar": ar, "pld": pld, "pld2": pld2, "typical": typical}


def test_speedup_total_ratio_mat_by_hand(files):
    (res,) = evaluate(files["ar"], [files["pld"]])
    m = res.overall
    assert m.questions == 2 and res.unmatched == 1  # q1, q2 matched; q4 ignored; q3 (baseline only) unused
    # Mean-ratio speedup: mean(20, 60) / mean(10, 20) = 40 / 15.
    assert m.speedup == pytest.approx(40 / 15)
    # Total-token ratio: (80 tok / 2 s) / (50 tok / 3 s) = 40 / 16.667 = 2.4.
    assert m.total_token_ratio == pytest.approx(2.4)
    # MAT over matched questions only: (4*5 + 10*6) / 14 forwards.
    assert m.mat == pytest.approx(80 / 14)
    assert m.mean_new_tokens == pytest.approx(40) and m.baseline_mean_new_tokens == pytest.approx(25)
    assert m.tokens_per_s == pytest.approx(40) and m.baseline_tokens_per_s == pytest.approx(15)


def test_per_category_breakdown(files):
    (res,) = evaluate(files["ar"], [files["pld"]])
    assert set(res.categories) == {"de", "fr"}
    de, fr = res.categories["de"], res.categories["fr"]
    assert (de.questions, de.speedup, de.total_token_ratio, de.mat) == (1, pytest.approx(2.0), pytest.approx(2.0), 5.0)
    # fr: only q2 matched (q3 has no method answer, q4 no baseline answer): 60 tok/s vs 20 tok/s.
    assert (fr.questions, fr.speedup, fr.total_token_ratio, fr.mat) == (1, pytest.approx(3.0), pytest.approx(3.0), 6.0)
    # Per-category question counts add up to the overall count.
    assert sum(c.questions for c in res.categories.values()) == res.overall.questions


def test_baseline_against_itself_is_exactly_one(files):
    (res,) = evaluate(files["ar"], [files["ar"]])
    assert res.overall.questions == 3
    assert res.overall.speedup == pytest.approx(1.0) and res.overall.total_token_ratio == pytest.approx(1.0)
    assert res.overall.mat == 1.0  # plain decoding emits exactly one token per forward


def test_std_over_two_runs(files):
    table = summarize(evaluate(files["ar"], [files["pld"], files["pld2"]]))
    overall = next(r for r in table if r.label == "pld" and r.category == "overall")
    assert overall.runs == 2
    assert overall.speedup == pytest.approx((40 / 15 + 3.0) / 2)
    # Sample std of two values is |a - b| / sqrt(2).
    assert overall.speedup_std == pytest.approx(abs(3.0 - 40 / 15) / math.sqrt(2))
    # Rows: per category then overall, and only one method group.
    assert [r.category for r in table] == ["de", "fr", "overall"]
    de = table[0]
    assert de.speedup == pytest.approx(2.5) and de.speedup_std == pytest.approx(1 / math.sqrt(2))


def test_single_run_has_no_std_column_and_lossy_is_marked(files):
    table = summarize(evaluate(files["ar"], [files["pld"], files["typical"]]))
    md = to_markdown(table)
    assert "std" not in md and "medusa (lossy)" in md
    assert "| pld | overall | 2 | 2.667 | 2.400 | 5.714 | 40.0 | 25.0 | 40.0 | 15.0 |" in md
    csv_lines = to_csv(table).splitlines()
    assert csv_lines[0].startswith("method,category,questions,speedup")
    assert any(line.startswith("medusa (lossy),overall,1,") for line in csv_lines)


def test_json_output_per_file(files, capsys):
    assert main(["--baseline", str(files["ar"]), "--answers", str(files["pld"]), str(files["pld2"]), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [o["file"] for o in out] == [str(files["pld"]), str(files["pld2"])]
    first = out[0]
    assert first["method"] == "pld" and first["run"] == "seed0" and first["questions"] == 2
    assert first["speedup"] == pytest.approx(40 / 15) and first["total_token_ratio"] == pytest.approx(2.4)
    assert first["mat"] == pytest.approx(80 / 14) and first["mean_new_tokens"] == pytest.approx(40)
    assert first["categories"]["fr"]["speedup"] == pytest.approx(3.0)
    assert out[1]["speedup"] == pytest.approx(3.0)
    assert to_json(evaluate(files["ar"], [files["pld"]])) == [first]


def test_no_shared_questions_is_an_error(files, tmp_path, capsys):
    other = write(tmp_path / "other.jsonl", [row("zz", "de", "pld", [5], [1.0], [5])])
    with pytest.raises(ValueError, match="none of its 1 question_ids appear in the baseline"):
        evaluate(files["ar"], [other])
    assert main(["--baseline", str(files["ar"]), "--answers", str(other)]) == 2
    assert "other.jsonl" in capsys.readouterr().err


def test_category_mismatch_is_an_error(files, tmp_path):
    other = write(tmp_path / "other.jsonl", [row("q1", "fr", "pld", [5], [1.0], [5])])
    with pytest.raises(ValueError, match="question 'q1' has category 'fr' but 'de'"):
        evaluate(files["ar"], [other])


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({**row("q9", "de", "ar", [1], [1.0], [1]), "category": 3}), "'category' must be a non-empty string"),
        (json.dumps(row("q9", "de", "ar", [1, 2], [1.0], [1])), "2 new_tokens entries but 1 wall_time"),
        (json.dumps(row("q9", "de", "ar", [1], [0.0], [1])), "sums to 0 seconds"),
        (json.dumps(row("q9", "de", "ar", [1], [1.0], [0])), "accept_lengths must be a list of integers >= 1"),
        (json.dumps(row("q1", "de", "ar", [1], [1.0], [1])), r"duplicate question_id 'q1' \(first on line 1\)"),
        (json.dumps(row("q9", "de", "pld", [1], [1.0], [1])), "method 'pld' differs from 'ar'"),
        (json.dumps({**row("q9", "de", "ar", [1], [1.0], [1]), "lossy": True}), "'lossy' differs"),
    ],
)
def test_malformed_answer_file_names_file_and_line(tmp_path, line, message):
    # Line 2 is blank and skipped, so the bad row is on line 3 of the file.
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row("q1", "de", "ar", [1], [1.0], [1])) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(AnswerFileError, match=rf"bad\.jsonl:3: .*{message}"):
        load_answers(path)


def test_missing_or_empty_answer_file(tmp_path):
    with pytest.raises(AnswerFileError, match="missing.jsonl: cannot read"):
        load_answers(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(AnswerFileError, match="empty.jsonl: answer file has no rows"):
        load_answers(tmp_path / "empty.jsonl")


def test_report_writes_markdown_and_pngs(files, tmp_path):
    out = tmp_path / "report"
    paths = write_report(files["ar"], [files["ar"], files["pld"], files["pld2"], files["typical"]], out)
    assert [p.name for p in paths] == ["report.md", "speedup.png", "accept_lengths.png"]
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| method | de | fr | overall |" in md
    # Cells are "speedup× / MAT": pld de = mean(2.0, 3.0) ± 0.71 over two runs, MAT 5; ar is 1× / 1.
    assert "| pld | 2.50× ± 0.71 / 5.00 |" in md
    assert "| ar | 1.00× / 1.00 | 1.00× / 1.00 | 1.00× / 1.00 |" in md
    assert "| medusa (lossy) | 2.40× / 3.00 | – | 2.40× / 3.00 |" in md  # 24 tok/s vs 10 tok/s, fr absent
    for name in ("speedup.png", "accept_lengths.png"):
        data = (out / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000


def test_files_with_other_method_options_are_not_repeated_runs(tmp_path):
    base = tmp_path / "ar.jsonl"
    base.write_text(json.dumps(row("q1", "de", "ar", [10], [1.0], [1] * 10)) + "\n")
    files = []
    for name, drafter, seconds in (("a", "pre", 1.0), ("b", "fine", 0.5), ("c", "fine", 0.25)):
        r = {**row("q1", "de", "sd", [10], [seconds], [2] * 5), "config": {"method_options": {"drafter": drafter, "gamma": 4}}}
        (tmp_path / f"{name}.jsonl").write_text(json.dumps(r) + "\n")
        files.append(tmp_path / f"{name}.jsonl")
    overall = {r.label: r for r in summarize(evaluate(base, files)) if r.category == "overall"}
    assert set(overall) == {"sd [drafter=pre]", "sd [drafter=fine]"}
    assert overall["sd [drafter=pre]"].runs == 1 and overall["sd [drafter=pre]"].speedup == pytest.approx(1.0)
    assert overall["sd [drafter=fine]"].runs == 2 and overall["sd [drafter=fine]"].speedup == pytest.approx(3.0)


def test_files_drafted_in_another_dtype_are_not_repeated_runs(tmp_path):
    base = tmp_path / "ar.jsonl"
    base.write_text(json.dumps(row("q1", "de", "ar", [10], [1.0], [1] * 10)) + "\n")
    files = []
    for dtype, seconds in (("bfloat16", 0.5), ("float32", 1.0)):
        r = {**row("q1", "de", "eagle", [10], [seconds], [2] * 5),
             "config": {"method_options": {"head": "h"}, "draft_dtype": dtype}}
        (tmp_path / f"{dtype}.jsonl").write_text(json.dumps(r) + "\n")
        files.append(tmp_path / f"{dtype}.jsonl")
    overall = {r.label: r for r in summarize(evaluate(base, files)) if r.category == "overall"}
    assert overall["eagle [draft_dtype=bfloat16]"].runs == 1 and overall["eagle [draft_dtype=bfloat16]"].speedup == pytest.approx(2.0)
    assert overall["eagle [draft_dtype=float32]"].runs == 1 and overall["eagle [draft_dtype=float32]"].speedup == pytest.approx(1.0)


def test_repetition_and_length_limit_by_hand():
    from evaluation.degenerate import limit_share, repeated_tokens, repetition

    # "a b c d a b c d x": the 4-gram a b c d occurs twice -> positions 0-3 and 4-7 marked, x not: 8 of 9
    assert repeated_tokens(list("abcdabcdx")) == 8
    assert repeated_tokens(list("abcdefgh")) == 0
    # "a b c d e b c d e": b c d e twice (1-4, 5-8): 8 of 9
    assert repeated_tokens(list("abcdebcde")) == 8
    looping = row("q1", "de", "ar", [9], [1.0], [1] * 9, config={"max_new_tokens": 9})
    looping["choices"][0]["token_ids"] = [[5, 6, 7, 8, 5, 6, 7, 8, 4]]
    fine = row("q2", "de", "ar", [3], [1.0], [1] * 3, config={"max_new_tokens": 9})
    fine["choices"][0]["token_ids"] = [[1, 2, 3]]
    assert repetition([looping, fine]) == pytest.approx(8 / 12)
    assert limit_share([looping, fine]) == 0.5 and limit_share([row("q3", "de", "ar", [2], [1.0], [1, 1])]) is None


def test_a_repetition_loop_is_flagged_in_every_output(tmp_path):
    """The issue's case: a base model loops to the length limit, pld copies the loop and looks fast."""
    loop = [[7, 8, 9, 10] * 6]  # 24 tokens, all inside the repeated 4-gram, at the limit of 24
    rows = {}
    for method, time_s, accept in (("ar", 2.4, [1] * 24), ("pld", 0.6, [1, 5, 5, 5, 5, 3])):
        rows[method] = [row(f"q{i}", "de", method, [24], [time_s], accept, config={"max_new_tokens": 24})
                        for i in range(3)]
        for r in rows[method]:
            r["choices"][0]["token_ids"] = loop
    ar, pld = write(tmp_path / "ar.jsonl", rows["ar"]), write(tmp_path / "pld.jsonl", rows["pld"])
    (result,) = evaluate(ar, [pld])
    assert result.overall.speedup == pytest.approx(4.0)
    assert result.overall.hit_limit == 1.0 and result.overall.repeated == 1.0 and result.overall.baseline_repeated == 1.0
    (summary,) = [r for r in summarize([result]) if r.category == "overall"]
    assert summary.flag == "DEGENERATE"
    assert "DEGENERATE" in to_markdown(summarize([result])) and to_json([result])[0]["degenerate"] is True
    paths = write_report(ar, [pld], tmp_path / "report")
    assert "| DEGENERATE |" in paths[0].read_text()

    healthy = [row(f"q{i}", "de", "pld", [6], [0.3], [3, 3], config={"max_new_tokens": 24}) for i in range(3)]
    for r in healthy:
        r["choices"][0]["token_ids"] = [[1, 2, 3, 4, 5, 6]]
    (ok,) = evaluate(write(tmp_path / "ar-ok.jsonl", [dict(r, method="ar") for r in healthy]),
                     [write(tmp_path / "pld-ok.jsonl", healthy)])
    assert [r.flag for r in summarize([ok])] == ["", ""]


def test_answers_that_echo_their_source_are_flagged_with_the_questions(tmp_path):
    """The zh-long case: the base model writes 2 of 3 Chinese sources back instead of translating them and pld
    copies the echo. With the question file, 2/3 of the answers stand in their prompts: DEGENERATE. A short answer
    found in its prompt (a name, "GRANT") does not count; without the question file nothing is known (no flag)."""
    sources = {"q1": "归档是压缩过的", "q2": "截图必须包含图像或视频", "q3": "GRANT 和 REVOKE"}
    questions = write(tmp_path / "q.jsonl", [{"question_id": q, "category": "zh", "reference": ["..."],
                                             "turns": [f"Translate Chinese to English: {s}\nEnglish:"]}
                                            for q, s in sources.items()])
    answers = [" 归档是压缩过的", "截图必须包含图像或视频", "GRANT"]  # two echoes (one after a space), one short name
    files = {}
    for method, seconds in (("ar", 1.0), ("pld", 0.25)):
        rows = [row(q, "zh", method, [4], [seconds], [1, 1, 1, 1] if method == "ar" else [4]) for q in sources]
        for r, text in zip(rows, answers):
            r["choices"][0]["turns"] = [text]
        files[method] = write(tmp_path / f"{method}.jsonl", rows)
    (result,) = evaluate(files["ar"], [files["pld"]], questions)
    assert result.overall.echoed == pytest.approx(2 / 3) and result.overall.baseline_echoed == pytest.approx(2 / 3)
    assert result.overall.repeated == 0 and result.overall.speedup == pytest.approx(4.0)
    assert [r.flag for r in summarize([result])] == ["DEGENERATE", "DEGENERATE"]
    assert to_json([result])[0]["degenerate"] is True and "| 0.67 | 0.67 |" in to_markdown(summarize([result]))
    (unknown,) = evaluate(files["ar"], [files["pld"]])
    assert math.isnan(unknown.overall.echoed) and [r.flag for r in summarize([unknown])] == ["", ""]


def test_chrf_and_bleu_next_to_speed_against_hand_made_references(tmp_path):
    import sacrebleu

    questions = tmp_path / "q.jsonl"
    refs = {"q1": "The file was saved.", "q2": "The network is unreachable."}
    questions.write_text("".join(json.dumps({"question_id": q, "category": "de", "turns": ["..."], "reference": [r]})
                                 + "\n" for q, r in refs.items())
                         + json.dumps({"question_id": "q3", "category": "de", "turns": ["no reference"]}) + "\n")
    texts = {"ar": ["The file was saved.", "The network cannot be reached.", "x"],
             "pld": ["The file was saved.", "The network cannot be reached.", "x"],  # greedy lossless: same text
             "typical": ["A file got saved.", "The network is unreachable.", "y"]}  # lossy: other text
    files = {}
    for method, answers in texts.items():
        rows = [row(q, "de", "ar" if method == "ar" else method, [4], [1.0], [1, 1, 1, 1],
                    config={"temperature": 0.0},
                    **({"lossy": True} if method == "typical" else {})) for q in ("q1", "q2", "q3")]
        for r, text in zip(rows, answers):
            r["choices"][0]["turns"] = [text]
        files[method] = write(tmp_path / f"{method}.jsonl", rows)
    pld, typical = evaluate(files["ar"], [files["pld"], files["typical"]], questions)
    hand = lambda answers: (sacrebleu.corpus_chrf(answers[:2], [list(refs.values())]).score,  # noqa: E731
                            sacrebleu.corpus_bleu(answers[:2], [list(refs.values())]).score)
    assert (pld.overall.chrf, pld.overall.bleu) == pytest.approx(hand(texts["pld"]))
    assert (pld.overall.baseline_chrf, pld.overall.baseline_bleu) == pytest.approx(hand(texts["ar"]))
    assert pld.overall.chrf == pld.overall.baseline_chrf  # greedy lossless scores exactly as ar
    assert (typical.overall.chrf, typical.overall.bleu) == pytest.approx(hand(texts["typical"]))
    assert typical.overall.chrf != typical.overall.baseline_chrf  # lossy: the difference shows
    assert not any("chrF" in note for note in match_notes([pld, typical], files["ar"]))
    broken = [dict(r) for r in load_answers(files["pld"])]
    broken[1] = {**broken[1], "choices": [{**broken[1]["choices"][0], "turns": ["Something else entirely."]}]}
    (wrong,) = evaluate(files["ar"], [write(tmp_path / "broken.jsonl", broken)], questions)
    assert "greedy and lossless, yet chrF" in match_notes([wrong], files["ar"])[0]
    assert to_json([pld])[0]["chrf"] == pytest.approx(pld.overall.chrf)
    assert "chrF" in write_report(files["ar"], [files["pld"]], tmp_path / "r", questions)[0].read_text()


def test_acceptance_per_depth_from_hand_made_rows(tmp_path):
    from evaluation.depth_acceptance import acceptance_by_depth, depth_counts

    # steps (emitted, draft depth): prefill (1, 0) counts nowhere; (4, 3) accepted all 3 -> passes d1 d2 d3;
    # (2, 3) accepted 1 -> passes d1, fails d2, never tries d3; (1, 3) accepted 0 -> fails d1;
    # (3, 5) accepted 2 -> passes d1 d2, fails d3
    r = row("q1", "de", "eagle2", [10], [1.0], [1, 4, 2, 1, 3])
    r["choices"][0]["draft_depths"] = [0, 3, 3, 3, 5]
    tried, passed = depth_counts([r])
    assert (tried, passed) == ([4, 3, 2], [3, 2, 1])
    assert acceptance_by_depth([r]) == pytest.approx((3 / 4, 2 / 3, 1 / 2))
    old = row("q1", "de", "eagle2", [10], [1.0], [1, 4])  # written before depths were recorded
    assert acceptance_by_depth([r, old]) is None

    ar = write(tmp_path / "ar.jsonl", [row("q1", "de", "ar", [10], [2.0], [1] * 10)])
    (result,) = evaluate(ar, [write(tmp_path / "eagle2.jsonl", [r])])
    assert result.overall.by_depth == pytest.approx((0.75, 2 / 3, 0.5))
    assert to_json([result])[0]["acceptance_by_depth"] == pytest.approx([0.75, 2 / 3, 0.5])
    text = to_markdown(summarize([result]))
    assert "| depth 1 | depth 2 | depth 3 |" in text and "| 0.75 | 0.67 | 0.50 |" in text
    assert "## Acceptance per draft depth" in write_report(ar, [tmp_path / "eagle2.jsonl"], tmp_path / "r")[0].read_text()
