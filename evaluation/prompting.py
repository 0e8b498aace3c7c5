"""Question turns -> prompt token ids: the model's own chat template, a FastChat template, or plain text.

"auto" resolves once per run, from the tokenizer and the model's name, as Spec-Bench does: the tokenizer's own
chat template when it has one; else FastChat's template for the model's family (Vicuna -> vicuna_v1.1, read
from the name or folder); else plain text for a base model. A name that reads as a chat model (chat, instruct,
-it) with neither template is an error: raw text would measure a chat model on prompts it never saw.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_CHAT_NAME = re.compile(r"(chat|instruct|vicuna|(^|[-_])it($|[-_]))", re.IGNORECASE)


@dataclass(frozen=True)
class PromptFormat:
    """template: "auto" (the tokenizer's chat template if it has one, else plain), "plain", "model",
    or "fastchat:<name>" (a FastChat conversation template, e.g. fastchat:vicuna_v1.1)."""

    template: str = "auto"

    def __post_init__(self) -> None:
        if self.template not in ("auto", "plain", "model") and not self.template.startswith("fastchat:"):
            raise ValueError(f"unknown chat template {self.template!r}: use auto, plain, model or fastchat:<name>")


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
    return PromptFormat("plain")


def _fastchat_prompt(name: str, turns: list[str], answers: list[str]) -> str:
    from fastchat.conversation import get_conv_template

    conv = get_conv_template(name)
    for i, turn in enumerate(turns):
        conv.append_message(conv.roles[0], turn)
        conv.append_message(conv.roles[1], answers[i] if i < len(answers) else None)
    return conv.get_prompt()


def prompt_ids(tokenizer, fmt: PromptFormat, turns: list[str], answers: list[str]) -> list[int]:
    """Token ids asking for the answer to turns[-1], given the earlier turns and their answers."""
    template = fmt.template
    if template == "auto":
        template = "model" if getattr(tokenizer, "chat_template", None) else "plain"
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
        return tokenizer(_fastchat_prompt(template.split(":", 1)[1], turns, answers)).input_ids
    # plain text: earlier turns and answers in order, blank lines between
    pieces = [p for pair in zip(turns, answers) for p in pair] + [turns[-1]]
    return tokenizer("\n\n".join(pieces)).input_ids
