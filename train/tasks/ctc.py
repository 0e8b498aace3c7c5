"""CTC drafter training: EAGLE's loss on the draft layer, plus a CTC loss on the slots.

At net position i the slots read the predicted feature (of position i+1) and must spell the next
`ctc_tokens` tokens of the target's greedy continuation, argmax after positions i+1 .. i+ctc_tokens,
in S slots with blanks and repeats as CTC allows:

    loss = EAGLE loss + ctc_weight * CTC(slots(pred_i), [argmax_{i+1}, ..., argmax_{i+ctc_tokens}])

The sequence stops early at the answer's end or at a token outside the draft vocabulary. CTC is
computed on `ctc_positions` random answer positions per batch: (S, positions, draft vocabulary)
log-probs for every position would not fit in CPU memory.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from model.ctc import net as ctc_net
from model.ctc.net import CtcNet
from train.tasks.eagle import EagleTask
from train.tasks.features import IGNORE, DataSource


def next_tokens(labels: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """labels (B, T) -> (B, T, count) labels at t, t+1, ... (IGNORE past the end) and how many of them
    lead without an IGNORE (B, T): the CTC target sequence at each position and its length."""
    padded = F.pad(labels, (0, count - 1), value=IGNORE)
    ahead = torch.stack([padded[:, j: j + labels.shape[1]] for j in range(count)], dim=-1)
    lengths = (ahead != IGNORE).long().cumprod(dim=-1).sum(dim=-1)
    return ahead, lengths


class CtcTask(EagleTask):
    net_module = ctc_net

    def __init__(self, data: DataSource | list[DataSource], slots: int = 6, ctc_tokens: int = 3, ctc_weight: float = 0.01,
                 ctc_positions: int = 256, **eagle_args):
        if eagle_args.get("unroll", 1) != 1:
            raise ValueError("the CTC drafter drafts its slots in one pass: the training-time test (unroll) is EAGLE's")
        super().__init__(data, **eagle_args)
        if ctc_tokens > slots:
            raise ValueError(f"{ctc_tokens} CTC target tokens cannot be spelled in {slots} slots")
        self.shape_args["slots"] = slots
        self.ctc_tokens, self.ctc_weight, self.ctc_positions = ctc_tokens, ctc_weight, ctc_positions

    def ctc_loss(self, model, pred: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        net: CtcNet = getattr(model, "module", model)
        labels = batch["labels"][:, 1:]
        ahead, lengths = next_tokens(labels, self.ctc_tokens)
        answer = labels != IGNORE  # the positions (and order) EagleTask._predict keeps
        targets, lengths = ahead[answer], lengths[answer]  # (N, n), (N,)
        pick = torch.randperm(len(targets), device=targets.device)[: self.ctc_positions]
        log_probs = torch.log_softmax(net.slot_logits(pred[pick]), dim=-1).transpose(0, 1)  # (S, P, K+1)
        slots = torch.full((len(pick),), log_probs.shape[0], dtype=torch.long)
        return F.ctc_loss(log_probs, targets[pick].clamp(min=0), slots, lengths[pick], blank=net.blank_id,
                          zero_infinity=True)

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        level = self._predict(model, batch)
        return self.level_loss(level) + self.ctc_weight * self.ctc_loss(model, level[0], batch)
