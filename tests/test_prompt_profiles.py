"""Base models get prompts whose continuation is the answer: translation turns in every common spelling become
"Translate X to Y: source\\nY:", other categories FastChat's zero-shot conversation with its stop string; chat
tokenizers keep their own template and `plain` still sends raw text."""
from __future__ import annotations

import json

import pytest
from tiny import byte_tokenizer, save_tiny_checkpoint

from evaluation import run
from evaluation.jsonl_store import read_rows
from evaluation.prompting import PromptFormat, build_prompt, resolve_format

SOURCE = "Der Hund schläft im Garten."
CANONICAL = f"Translate German to English: {SOURCE}\nEnglish:"
# Spec-Bench / the reference paper's files (with or without a space after the colon) and the project's own
SPELLINGS = [f"Translate German to English:{SOURCE}", f"Translate German to English: {SOURCE}",
             f"Translate German to English: {SOURCE}\nEnglish:", f"  Translate German to English:  {SOURCE} \n"]


@pytest.mark.parametrize("turn", SPELLINGS)
def test_translation_turns_of_a_base_model_get_the_translation_profile(turn):
    tokenizer = byte_tokenizer()
    fmt = resolve_format(PromptFormat("auto"), tokenizer, "some/base-model-1b")
    assert fmt.template == "completion"
    for category in ("translation", "translation-de"):  # Spec-Bench's category and the project's
        prompt = build_prompt(tokenizer, fmt, [turn], [], category)
        assert prompt.ids == tokenizer(CANONICAL).input_ids
        assert prompt.profile == "completion:translation" and prompt.stops == ()


def test_earlier_translation_turns_carry_their_answers():
    tokenizer = byte_tokenizer()
    prompt = build_prompt(tokenizer, PromptFormat("completion"), ["Translate French to English: Bonjour",
                                                                  "Translate French to English:Merci"],
                          ["Hello"], "translation-fr")
    assert tokenizer.decode(prompt.ids, skip_special_tokens=True) == \
        "Translate French to English: Bonjour\nEnglish: Hello\nTranslate French to English: Merci\nEnglish:"


@pytest.mark.parametrize("category, turn", [("writing", "Write a haiku about rain."),
                                            ("translation", "Please put this into English: Guten Tag")])
def test_other_turns_of_a_base_model_get_the_zero_shot_conversation(category, turn):
    from fastchat.conversation import get_conv_template

    tokenizer = byte_tokenizer()
    conv = get_conv_template("zero_shot")
    conv.append_message(conv.roles[0], turn)
    conv.append_message(conv.roles[1], None)
    prompt = build_prompt(tokenizer, PromptFormat("completion"), [turn], [], category)
    assert prompt.ids == tokenizer(conv.get_prompt()).input_ids
    assert prompt.profile == "completion:fastchat:zero_shot" and prompt.stops == ("###",)


def test_plain_and_chat_templates_are_left_alone():
    tokenizer = byte_tokenizer()
    turn = f"Translate German to English:{SOURCE}"
    plain = build_prompt(tokenizer, PromptFormat("plain"), [turn], [], "translation")
    assert plain.ids == tokenizer(turn).input_ids and plain.profile == "plain" and plain.stops == ()
    tokenizer.chat_template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"
    fmt = resolve_format(PromptFormat("auto"), tokenizer, "some/base-model-1b")
    assert fmt.template == "model"  # a tokenizer with a template gets it, translation or not
    chat = build_prompt(tokenizer, fmt, [turn], [], "translation")
    assert tokenizer.decode(chat.ids) == f"<user>{turn}<assistant>" and chat.profile == "model"


def test_the_runner_records_the_profile_and_stops_at_the_format_s_stop(tmp_path):
    checkpoint = save_tiny_checkpoint(tmp_path / "llama")
    questions = tmp_path / "q.jsonl"
    rows = [{"question_id": 1, "category": "translation", "turns": [f"Translate German to English:{SOURCE}"]},
            {"question_id": 2, "category": "writing", "turns": ["Write a haiku about rain."]}]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "a.jsonl"
    run.main(["--method", "ar", "--target", checkpoint, "--questions", str(questions), "--out", str(out),
              "--dtype", "float32", "--max-new-tokens", "24", "--warmup", "0"])
    answers = {r["question_id"]: r for r in read_rows(out)}
    tokenizer = byte_tokenizer()
    assert answers[1]["prompt_format"] == "completion:translation"
    assert answers[1]["choices"][0]["prompt_token_ids"][0] == tokenizer(CANONICAL).input_ids
    assert answers[2]["prompt_format"] == "completion:fastchat:zero_shot"
    assert tokenizer.decode(answers[2]["choices"][0]["prompt_token_ids"][0]).endswith("### Assistant:")


def test_stop_strings_join_the_category_s_and_the_format_s():
    from evaluation.prompting import Prompt
    from evaluation.session import Session

    session = object.__new__(Session)  # stops need no model
    conversation = Prompt([1], "completion:fastchat:zero_shot", ("###",))
    assert session.stops(conversation, "qa-en") == ("\n\n", "###")
    assert session.stops(Prompt([1], "completion:translation"), "translation-de") == ("\n",)
    runner = object.__new__(run.Runner)
    runner.session = session
    runner.args = run.parse_args(["--method", "ar", "--questions", "q", "--out", "o", "--stop", "END"])[0]
    assert runner.stops(conversation, "qa-en") == ("END",)  # --stop replaces both


def test_speed_compares_prompts_by_their_ids():
    from evaluation.comparability import prompt_differences

    def row(qid, fmt=None, ids=None):
        return {"question_id": qid, **({"prompt_format": fmt} if fmt else {}),
                "choices": [{"prompt_token_ids": [ids]} if ids else {}]}

    baseline = [row(1, "plain", [5, 6]), row(2, "plain", [5, 6, 7]), row(3, "plain"), row(4)]
    rows = [row(1, "completion:translation", [5, 6]),  # another name, the same prompt: comparable
            row(2, "completion:fastchat:zero_shot", [9, 5, 6, 7]),  # another prompt
            row(3, "completion:translation"),  # no ids on either side: the names decide
            row(4, "plain"), row(5, "plain", [1])]  # unrecorded or unmatched: not judged
    assert prompt_differences(baseline, rows) == [
        "question 2: prompt (completion:fastchat:zero_shot) differs from the baseline's (plain)",
        "question 3: prompt (completion:translation) differs from the baseline's (plain)"]


def test_resume_refuses_rows_prompted_otherwise_and_keeps_the_same_prompts(tmp_path):
    from evaluation.jsonl_store import OutputFileError

    checkpoint = save_tiny_checkpoint(tmp_path / "llama")
    questions = tmp_path / "q.jsonl"
    rows = [{"question_id": 1, "category": "translation-de", "turns": [CANONICAL]},
            {"question_id": 2, "category": "chat-en", "turns": ["Tell me a story."]},
            {"question_id": 3, "category": "chat-en", "turns": ["And another one."]}]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["--method", "ar", "--target", checkpoint, "--questions", str(questions), "--dtype", "float32",
            "--max-new-tokens", "4", "--warmup", "0"]
    # a file written before the completion profile: the same command then sent every turn as plain text
    old = tmp_path / "old.jsonl"
    run.main([*argv, "--out", str(old), "--chat-template", "plain", "--limit", "2"])
    lines = old.read_text().splitlines()
    config = json.loads(lines[0])["config"]
    rewritten = [json.dumps({**json.loads(line), "config": {**config, "chat_template": "auto"}}) for line in lines]
    translation_only = tmp_path / "translation_only.jsonl"
    translation_only.write_text(rewritten[0] + "\n")
    run.main([*argv, "--out", str(translation_only)])  # the translation prompt did not change: resumes
    assert [r["question_id"] for r in read_rows(translation_only)] == [1, 2, 3]
    old.write_text("\n".join(rewritten) + "\n")
    before = old.read_bytes()
    with pytest.raises(OutputFileError, match=r"question 2 was prompted otherwise \(plain\).*completion:fastchat"):
        run.main([*argv, "--out", str(old)])
    assert old.read_bytes() == before
