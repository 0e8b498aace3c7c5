"""Question turns -> prompt token ids: the model's own chat template, a FastChat template, or plain text."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptFormat:
    """template: "auto" (the tokenizer's chat template if it has one, else plain), "plain", "model",
    or "fastchat:<name>" (a FastChat conversation template, e.g. fastchat:vicuna_v1.1)."""

    template: str = "auto"

    def __post_init__(self) -> None:
        if self.template not in ("auto", "plain", "model") and not self.template.startswith("fastchat:"):
            raise ValueError(f"unknown chat template {self.template!r}: use auto, plain, model or fastchat:<name>")


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
