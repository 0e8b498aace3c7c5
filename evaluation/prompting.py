"""Question turns -> prompt token ids: the model's own chat template, a FastChat template, or plain text.

"auto" resolves once per run, from the tokenizer and the model's name, as Spec-Bench does: the tokenizer's own
chat template when it has one; else FastChat's template for the model's family (Vicuna -> vicuna_v1.1, read
from the name or folder); else the completion profile for a base model. A name that reads as a chat model (chat,
instruct, -it) with neither template is an error: raw text would measure a chat model on prompts it never saw.

Why a completion profile: a base model continues text, it does not answer it. Given "Translate German to
English: {source}" and nothing after, it writes more German-to-English-looking prose until the token limit, and
every drafter then "speeds up" a repetition loop. So for a base model each category gets a prompt whose natural
continuation is the answer and ends where the answer ends:
  translation  "Translate German to English: {source}\nEnglish:" (the source line, then the target-language cue);
               the category's stop string (a newline) ends the answer. Turns with or without a space after the
               colon, with or without the cue, give the same prompt.
  other        FastChat's zero-shot conversation ("### Human: ... ### Assistant:"), stopped at its "###".
"plain" still sends the raw turns.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_CHAT_NAME = re.compile(r"(chat|instruct|vicuna|(^|[-_])it($|[-_]))", re.IGNORECASE)


@dataclass(frozen=True)
class PromptFormat:
    """template: "auto" (resolved by `resolve_format`), "plain" (raw turns), "model" (the tokenizer's chat
    template), "completion" (the base-model profile above) or "fastchat:<name>" (a FastChat conversation
    template, e.g. fastchat:vicuna_v1.1)."""

    template: str = "auto"

    def __post_init__(self) -> None:
        if self.template not in ("auto", "plain", "model", "completion") and not self.template.startswith("fastchat:"):
            raise ValueError(f"unknown chat template {self.template!r}: use auto, plain, model, completion or "
                             f"fastchat:<name>")


@dataclass(frozen=True)
class Prompt:
    """What the target reads, and how it was made."""

    ids: list[int]
    profile: str  # the format actually used for this question, e.g. "completion:translation"; recorded per answer
    stops: tuple[str, ...] = ()  # stop strings the format itself needs, on top of the category's


# the conversation a base model gets for anything that is not a parsable translation turn
BASE_CONVERSATION = "zero_shot"
_TRANSLATION_TURN = re.compile(r"^\s*Translate\s+(?P<source_language>[^\n:]+?)\s+to\s+(?P<target_language>[^\n:]+?)\s*:"
                               r"(?P<text>.*)$", re.DOTALL)


def fastchat_template_for(model_name: str) -> str | None:
    """FastChat's conversation template for this model's family (by name or folder), None for models it does not
    know (its fallback adapter)."""
    from fastchat.model.model_adapter import BaseModelAdapter, get_model_adapter

    adapter = get_model_adapter(model_name)
    return None if type(adapter) is BaseModelAdapter else adapter.get_default_conv_template(model_name).name


def looks_like_chat_model(model_name: str) -> bool:
    return bool(_CHAT_NAME.search(Path(model_name.rstrip("/")).name))


def resolve_format(fmt: PromptFormat, tokenizer, model_name: str) -> PromptFormat:
    """The concrete format "auto" stands for with this tokenizer and model; explicit formats pass through."""
    if fmt.template != "auto":
        return fmt
    if getattr(tokenizer, "chat_template", None):
        return PromptFormat("model")
    template = fastchat_template_for(model_name)
    if template is not None:
        return PromptFormat(f"fastchat:{template}")
    if looks_like_chat_model(model_name):
        raise ValueError(f"{model_name!r} reads as a chat model, but its tokenizer has no chat template and FastChat "
                         f"knows no template for it: pass --chat-template fastchat:<name> (e.g. fastchat:llama-3), "
                         f"or --chat-template plain to send raw text on purpose")
    return PromptFormat("completion")


def describe(fmt: PromptFormat) -> str:
    """One line for the start of a run: what each category will be sent."""
    if fmt.template != "completion":
        return fmt.template
    return (f"completion (a base model: translation turns as 'Translate X to Y: source' + a newline + 'Y:', "
            f"stopped at the newline; other categories in FastChat's {BASE_CONVERSATION} conversation, stopped at "
            f"{fastchat_stops(BASE_CONVERSATION)[0]!r})")


def _fastchat_conversation(name: str, turns: list[str], answers: list[str]):
    from fastchat.conversation import get_conv_template

    conv = get_conv_template(name)
    for i, turn in enumerate(turns):
        conv.append_message(conv.roles[0], turn)
        conv.append_message(conv.roles[1], answers[i] if i < len(answers) else None)
    return conv


def fastchat_stops(name: str) -> tuple[str, ...]:
    from fastchat.conversation import get_conv_template

    stop = get_conv_template(name).stop_str
    return (stop,) if isinstance(stop, str) and stop else tuple(stop or ())


def translation_completion(turns: list[str], answers: list[str]) -> str | None:
    """Every turn as "Translate X to Y: {source}\nY:", earlier answers after their cue; None when a turn is not
    of that form (the caller then falls back to the conversation)."""
    lines = []
    for i, turn in enumerate(turns):
        match = _TRANSLATION_TURN.match(turn)
        if match is None:
            return None
        target_language = match["target_language"].strip()
        text = match["text"].strip()
        cue = f"{target_language}:"
        if text.endswith(cue):  # the project's own files already carry the cue on its own line
            text = text[: -len(cue)].rstrip()
        if not text:
            return None
        lines.append(f"Translate {match['source_language'].strip()} to {target_language}: {text}\n{cue}"
                     + (f" {answers[i]}" if i < len(answers) else ""))
    return "\n".join(lines)


def build_prompt(tokenizer, fmt: PromptFormat, turns: list[str], answers: list[str],
                 category: str | None = None) -> Prompt:
    """The prompt asking for the answer to turns[-1], given the earlier turns and their answers. `category`
    (e.g. "translation-de") picks the completion profile's form; None (a chat request) gets the conversation."""
    template = fmt.template
    if template == "auto":
        template = "model" if getattr(tokenizer, "chat_template", None) else "completion"
    if template == "completion":
        family = (category or "").split("-", 1)[0]
        text = translation_completion(turns, answers) if family == "translation" else None
        if text is not None:
            return Prompt(tokenizer(text).input_ids, "completion:translation")
        conv = _fastchat_conversation(BASE_CONVERSATION, turns, answers)
        return Prompt(tokenizer(conv.get_prompt()).input_ids, f"completion:fastchat:{BASE_CONVERSATION}",
                      fastchat_stops(BASE_CONVERSATION))
    return Prompt(_template_ids(tokenizer, template, turns, answers), template)


def _template_ids(tokenizer, template: str, turns: list[str], answers: list[str]) -> list[int]:
    if template == "model":
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("--chat-template model: this tokenizer has no chat template")
        messages = []
        for i, turn in enumerate(turns):
            messages.append({"role": "user", "content": turn})
            if i < len(answers):
                messages.append({"role": "assistant", "content": answers[i]})
        return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False))
    if template.startswith("fastchat:"):
        return tokenizer(_fastchat_conversation(template.split(":", 1)[1], turns, answers).get_prompt()).input_ids
    # plain text: earlier turns and answers in order, blank lines between
    pieces = [p for pair in zip(turns, answers) for p in pair] + [turns[-1]]
    return tokenizer("\n\n".join(pieces)).input_ids
