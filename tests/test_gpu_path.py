"""The CUDA path, guarded on CPU: host syncs per target forward within budget for every method, no tensor left
on the default device, the device-side accept rules equal the host walks, loading passes device maps and
attention backends through, flash attention is refused for trees, dtype follows native bf16, published heads
are built without allocating, and chat targets without a template get FastChat's."""
from __future__ import annotations

import random
from collections import Counter

import pytest
import torch
from test_sampling import EXPECTED_PAIRS, P, chi2_pvalue, draft_tree
from test_published_heads import write_published_medusa
from tiny import byte_tokenizer, save_tiny_checkpoint, tiny_gemma3, tiny_llama

from evaluation.host_syncs import SYNC_BUDGET, HostSyncCounter, count_syncs, untrained_heads
from evaluation.prompting import PromptFormat, build_prompt, resolve_format
from model.common.accept import AcceptConfig, accept_on_device, greedy_walk, typical_walk, warp
from model.common.device import pick_dtype
from model.common.loop import GenerationConfig, generate
from model.common.target import Target
from model.common.tree import Draft, ancestors
from model.registry import METHODS, build_drafter
from model.sd.drafter import Config as SdConfig
from model.sd.drafter import DraftModelDrafter

GREEDY, SAMPLING = AcceptConfig(), AcceptConfig(temperature=0.8, top_p=0.9)
PROMPTS = [[1] + list(range(5, 25)), [1] + [5, 9, 11, 13] * 5]  # random-ish, and repetitive (pld, lookahead hit)


@pytest.fixture(scope="module")
def gemma_with_heads(tmp_path_factory):
    target = Target(tiny_gemma3(window=6))
    return target, untrained_heads(target.model, tmp_path_factory.mktemp("heads"))


def drafter_factory(method: str, target: Target, heads: dict, accept: AcceptConfig, generator, **options):
    if method == "sd":  # a separate tiny draft model with the target's vocabulary
        return lambda: DraftModelDrafter(tiny_gemma3(window=6, seed=3), SdConfig(gamma=4), accept, generator)
    return lambda: build_drafter(method, target, {**heads.get(method, {}), **options}, accept=accept, generator=generator)


@pytest.mark.parametrize("accept", [GREEDY, SAMPLING], ids=["greedy", "sampling"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_host_syncs_per_target_forward_within_budget(method, accept, gemma_with_heads):
    target, heads = gemma_with_heads
    g = torch.Generator().manual_seed(0)
    counted = count_syncs(target, drafter_factory(method, target, heads, accept, g), PROMPTS,
                          GenerationConfig(max_new_tokens=40, accept=accept), g)
    assert counted["per_forward"] <= SYNC_BUDGET, f"{method}: {counted}"


def test_min_path_prob_reads_one_count_per_level(gemma_with_heads):
    """A confidence-limited tree may read one count per draft level, nothing more."""
    target, heads = gemma_with_heads
    depth = 6
    make = drafter_factory("eagle2", target, heads, GREEDY, None, depth=depth, top_k=2, total_tokens=10,
                           min_path_prob=1e-6)  # every level grows: the worst case
    counted = count_syncs(target, make, PROMPTS, GenerationConfig(max_new_tokens=40))
    assert SYNC_BUDGET < counted["per_forward"] <= SYNC_BUDGET + depth


def test_the_counter_sees_every_kind_of_sync():
    t = torch.arange(4)
    with HostSyncCounter() as counter:
        t[0].item(), t.tolist(), int(t[1]), float(t[2]), bool(t[3]), t.cpu(), t.numpy(), [0, 1][t[1]]
        torch.tensor([1, 2]), torch.as_tensor([3])
        torch.tensor([])  # an empty build copies nothing
        (t + 1).sum(), torch.arange(3)  # device work and device-born tensors: no sync
    assert (counter.reads, counter.builds) == (8, 2)


class ChattyDrafter:
    """Proposes a chain read back token by token: the per-node syncs the budget exists to catch."""

    hidden_layers: tuple[int, ...] = ()

    def reset(self, state) -> None:
        pass

    def update(self, state, verdict) -> None:
        pass

    def propose(self, state) -> Draft:
        ids = torch.tensor(state.tokens[-8:])
        return Draft.chain([int(x) for x in ids])


def test_a_drafter_that_reads_per_node_breaks_the_budget(gemma_with_heads):
    target, _ = gemma_with_heads
    counted = count_syncs(target, ChattyDrafter, PROMPTS, GenerationConfig(max_new_tokens=20))
    assert counted["per_forward"] > SYNC_BUDGET


@pytest.mark.parametrize("accept", [GREEDY, SAMPLING], ids=["greedy", "sampling"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_no_tensor_is_created_on_the_default_device(method, accept, gemma_with_heads):
    """With the default device set to meta, a tensor built without an explicit device fails loudly as soon as it
    meets real data: on a GPU it would have been a silent host tensor copied every step."""
    target, heads = gemma_with_heads
    g = torch.Generator().manual_seed(0)
    drafter = drafter_factory(method, target, heads, accept, g)()
    expected = generate(PROMPTS[1], target, drafter, GenerationConfig(max_new_tokens=16, accept=accept),
                        generator=g.manual_seed(5)).tokens
    with torch.device("meta"):
        out = generate(PROMPTS[1], target, drafter, GenerationConfig(max_new_tokens=16, accept=accept),
                       generator=g.manual_seed(5))
    assert out.tokens == expected


def random_tree(rng: random.Random, n: int, vocab: int) -> Draft:
    parents = [rng.randrange(-1, i) for i in range(n)]
    return Draft([rng.randrange(vocab) for _ in range(n)], parents)


def device_walk(draft: Draft, logits: torch.Tensor, cfg: AcceptConfig, generator=None) -> tuple[list[int], int]:
    """The verifier's call: chains take the prefix rule (no parents, no ancestor matrix), trees the general one."""
    ids = torch.tensor([0] + draft.tokens)
    parents = seen = None
    if not draft.is_chain():
        parents = torch.tensor(draft.parents, dtype=torch.long)
        seen = ancestors(parents, max(draft.depths()))
    walk = accept_on_device(ids, parents, seen, logits, draft.probs, cfg, generator)
    return walk.order[: int(walk.n)].tolist(), int(walk.bonus)


def test_device_accept_rules_equal_the_host_walks():
    """Greedy and typical acceptance on the device pick the same path and bonus as the sequential host walks, on
    random trees with repeated sibling tokens (the first child carrying a token wins)."""
    rng = random.Random(0)
    typical = AcceptConfig(temperature=1.0, typical=True)
    accepted = 0
    for trial in range(400):
        vocab = 4
        draft = random_tree(rng, rng.randrange(0, 12), vocab)
        if trial % 4 == 0:  # a chain of the same tokens
            draft = Draft.chain(draft.tokens)
        logits = torch.randn(len(draft) + 1, vocab, generator=torch.Generator().manual_seed(trial)) * 3
        host = greedy_walk(draft, logits.argmax(dim=-1).tolist())
        assert device_walk(draft, logits, GREEDY) == host
        assert device_walk(draft, logits, typical) == typical_walk(draft, warp(logits, typical), typical)
        accepted += len(host[0])
    assert accepted > 100  # the trees were accepted deep enough to test the walk, not just the root


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["chain", "topk"])
def test_device_speculative_sampling_preserves_target_distribution(shape):
    """Sampled chains (Leviathan's rule, all uniforms at once) and deterministic trees (one target draw per node)
    on the device: the first two emitted tokens follow the target's joint distribution."""
    g = torch.Generator().manual_seed(0)
    cfg = AcceptConfig(temperature=1.0)
    n, counts = 12000, Counter()
    for _ in range(n):
        seq = [0]
        while len(seq) < 3:
            draft = draft_tree(seq[-1], shape, g)
            logits = torch.log(torch.stack([P[seq[-1]]] + [P[t] for t in draft.tokens]))
            path, bonus = device_walk(draft, logits, cfg, g)
            seq += [draft.tokens[i] for i in path] + [bonus]
        counts[(seq[1], seq[2])] += 1
    assert chi2_pvalue(counts, EXPECTED_PAIRS, n) > 1e-3


def test_flash_attention_is_refused_for_tree_methods(tmp_path):
    target = Target(tiny_llama())
    heads = untrained_heads(target.model, tmp_path)
    target.attn_implementation = "flash_attention_2"  # as a target loaded with --attn-implementation flash_attention_2
    for method in ("eagle2", "medusa", "lookahead"):
        with pytest.raises(ValueError, match="4-D attention masks"):
            build_drafter(method, target, heads.get(method), accept=GREEDY)
    state = target.prefill([1, 4, 8], GREEDY)
    with pytest.raises(ValueError, match="4-D attention masks"):  # a custom drafter's tree is refused too
        target.verify(state, Draft([5, 6], [-1, -1]), GREEDY)
    assert build_drafter("pld", target, None, accept=GREEDY) is not None  # chains need no mask


def test_load_model_passes_device_map_and_attention_backend(tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM

    from model.common import zoo

    folder = save_tiny_checkpoint(tmp_path / "tiny")
    seen = []
    real = AutoModelForCausalLM.from_pretrained

    def spy(*args, **kwargs):
        seen.append(kwargs)
        model = real(*args, **{**kwargs, "device_map": None})  # load for real, on the CPU
        if kwargs["device_map"] == "balanced":  # as accelerate reports a model too big for the GPUs
            model.hf_device_map = {"model.layers.0": 0, "model.layers.1": "cpu", "lm_head": "disk"}
        return model

    monkeypatch.setattr(zoo.AutoModelForCausalLM, "from_pretrained", spy)
    zoo.load_model(folder, dtype="float32", device="cpu")
    zoo.load_model(folder, dtype="float32", device_map="auto", attn_implementation="eager")
    assert seen[0]["device_map"] == {"": "cpu"} and "attn_implementation" not in seen[0]  # straight to the device
    assert seen[1]["device_map"] == "auto" and seen[1]["attn_implementation"] == "eager"
    with pytest.raises(ValueError, match="not both"):
        zoo.load_model(folder, device="cpu", device_map="auto")
    with pytest.raises(ValueError, match="offloads part"):  # offloaded weights are refused, not decoded slowly
        zoo.load_model(folder, dtype="float32", device_map="balanced")


@pytest.mark.parametrize("capability, model_type, expected", [
    ((8, 0), "llama", torch.bfloat16), ((9, 0), "gemma3_text", torch.bfloat16),  # Ampere and later: native bf16
    ((7, 0), "llama", torch.float16), ((7, 5), "qwen2", torch.float16),  # V100 / T4: bf16 only emulated
    ((7, 0), "gemma3_text", torch.float32), ((7, 5), "gemma2", torch.float32),  # and Gemma overflows in fp16
])
def test_dtype_follows_native_bf16_on_gpus(capability, model_type, expected, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert pick_dtype(torch.device("cuda"), None, model_type) == expected
    if expected == torch.float32:
        assert "overflow" in capsys.readouterr().err  # the reason is printed
    assert pick_dtype(torch.device("cuda"), "float16", model_type) == torch.float16  # an explicit request wins


def test_published_heads_are_built_on_the_meta_device(tmp_path, monkeypatch):
    """No random initialisation on the host: every Linear of a published head is created without storage, then
    the checkpoint's tensors are assigned (its LM heads would be GBs for a 128k vocabulary)."""
    from model.medusa.drafter import load_heads

    target = Target(tiny_llama())
    weights = write_published_medusa(tmp_path / "medusa")
    devices = []
    real_reset = torch.nn.Linear.reset_parameters
    monkeypatch.setattr(torch.nn.Linear, "reset_parameters",
                        lambda self: (devices.append(self.weight.device.type), real_reset(self))[1])
    net = load_heads(str(tmp_path / "medusa"), target.model)
    assert devices and set(devices) == {"meta"}
    torch.testing.assert_close(net.lm_heads[0].weight, weights["0.1.weight"])
    assert not any(p.is_meta for p in net.parameters())


def test_chat_targets_without_a_template_get_fastchats():
    tokenizer = byte_tokenizer()  # no chat template, like Vicuna's
    fmt = resolve_format(PromptFormat("auto"), tokenizer, "lmsys/vicuna-7b-v1.3")
    assert fmt.template == "fastchat:vicuna_v1.1"
    from fastchat.conversation import get_conv_template

    conv = get_conv_template("vicuna_v1.1")
    conv.append_message(conv.roles[0], "Translate German to English: Guten Morgen")
    conv.append_message(conv.roles[1], None)
    ids = build_prompt(tokenizer, fmt, ["Translate German to English: Guten Morgen"], []).ids
    assert ids == tokenizer(conv.get_prompt()).input_ids and conv.get_prompt().startswith("A chat between")
    assert resolve_format(PromptFormat("auto"), tokenizer, "/models/vicuna-13b-v1.3").template == "fastchat:vicuna_v1.1"
    assert resolve_format(PromptFormat("auto"), tokenizer, "gemma-3-270m").template == "completion"  # a base model
    with pytest.raises(ValueError, match="reads as a chat model"):  # no silent plain text for a chat model
        resolve_format(PromptFormat("auto"), tokenizer, "acme/unknown-7b-instruct")
    assert resolve_format(PromptFormat("plain"), tokenizer, "acme/unknown-7b-instruct").template == "plain"


def test_openai_backend_sends_chat_messages_for_chat_targets():
    """Self-distillation through a server: a chat target gets the prompt as a user message (its template applied
    by the server), a base target the raw completion prompt."""
    from types import SimpleNamespace

    from data_generation.openai_backend import OpenAIBackend

    calls = []

    def answer(kind, text):
        def create(**kwargs):
            calls.append((kind, kwargs))
            choice = SimpleNamespace(text=text, message=SimpleNamespace(content=text))
            return SimpleNamespace(choices=[choice], usage=SimpleNamespace(completion_tokens=2))
        return create

    for chat in (True, False):
        backend = OpenAIBackend("http://localhost:1/v1", "lmsys/vicuna-7b-v1.3", 16, ("\n",), chat=chat)
        backend.client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=answer("chat", "Hi"))),
                                         completions=SimpleNamespace(create=answer("completions", "Hi")))
        assert backend.complete(["Translate: Hallo"], 0.0, 0) == [("Hi", 2)]
    (kind1, chat_args), (kind2, text_args) = calls
    assert kind1 == "chat" and chat_args["messages"] == [{"role": "user", "content": "Translate: Hallo"}]
    assert kind2 == "completions" and text_args["prompt"] == "Translate: Hallo" and text_args["stop"] == ["\n"]


def test_the_prepared_gpu_check_runs_and_reports_every_column(tmp_path, capsys):
    """scripts/gpu_check.sh's program on the CPU with a tiny checkpoint: the table it prints where a GPU is."""
    from evaluation import gpu_check

    folder = save_tiny_checkpoint(tmp_path / "tiny")
    rows = gpu_check.main(["--target", folder, "--max-new-tokens", "6", "--methods", "ar", "pld", "sd", "eagle2", "medusa"])
    out = capsys.readouterr().out
    assert "## GPU check" in out and "syncs_per_forward" in out and "overhead_share" in out
    assert [r["method"] for r in rows] == ["ar", "pld", "sd", "eagle2", "medusa"]
    assert all(r["lossless"] == "yes" and r["syncs_per_forward"] <= SYNC_BUDGET and r["mat"] >= 1 for r in rows)


def test_gpu_recipes_shape_the_eagle_layer_like_a_target_layer():
    """like_target: EAGLE's draft layer takes one target decoder layer's heads, widths, norm and (a single, scaled)
    rope, as EAGLE's recipes for 7B+ targets do."""
    from model.eagle.net import new_net, target_layer_shape

    model = tiny_llama()
    model.config.rope_parameters = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                                    "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    shape = new_net(model, **target_layer_shape(model)).shape
    config = model.config
    assert (shape.heads, shape.kv_heads, shape.intermediate_size) == (
        config.num_attention_heads, config.num_key_value_heads, config.intermediate_size)
    assert shape.rope_theta == 500000.0 and shape.rope_scaling["rope_type"] == "llama3"
