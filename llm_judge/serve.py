"""A small OpenAI-compatible server answering with a local model through the shared loop.

    python -m llm_judge.serve --model gemma-3-270m [--method pld | --method sd --drafter PATH ...] --port 8000
        [--served-model-name NAME] [--max-tokens-limit 4096] [--host 127.0.0.1] [method options]

Endpoints: GET /v1/models, POST /v1/chat/completions, POST /v1/completions (no streaming, n=1).
Any OpenAI client works against it (the judge, data_generation's openai backend, curl), so speculative
decoding can serve requests offline. Bad requests get OpenAI-style JSON errors with a 4xx status.
Request and response bodies are FastChat's OpenAI protocol models.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any, Optional, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastchat.protocol.openai_api_protocol import (ChatCompletionRequest, ChatCompletionResponse,
                                                   ChatCompletionResponseChoice, ChatMessage, CompletionRequest,
                                                   CompletionResponse, CompletionResponseChoice, ModelCard,
                                                   ModelList, UsageInfo)

from data_processing.errors import run_command
from llm_judge.engine import Engine
from model.common.zoo import DEFAULT_TARGET
from model.registry import METHODS, method_module
from multispec.options import add_generation_options, add_target_options

log = logging.getLogger("multispec.serve")


# OpenAI's defaults (temperature 1) rather than FastChat's (0.7); `seed` as the OpenAI API has it
class ChatRequest(ChatCompletionRequest):
    temperature: Optional[float] = 1.0
    seed: Optional[int] = None


class TextRequest(CompletionRequest):
    temperature: Optional[float] = 1.0
    seed: Optional[int] = None
    prompt: Union[str, list[str], list[int]]


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def message_text(content: Any) -> str:
    """Message content as text: a string, or OpenAI's list of {"type": "text", "text": ...} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(str(p.get("text", "")) for p in content)
    raise ApiError(400, "message content must be text (a string or a list of text parts)", param="messages")


class Service:
    """Checks one request against the model and turns it into Engine.complete calls."""

    def __init__(self, engine: Engine, name: str, max_tokens_limit: int):
        self.engine, self.name, self.max_tokens_limit = engine, name, max_tokens_limit

    def check_common(self, req: ChatRequest | TextRequest) -> None:
        if req.model != self.name:
            raise ApiError(404, f"The model `{req.model}` does not exist; this server serves `{self.name}`",
                           param="model", code="model_not_found")
        if req.stream:
            raise ApiError(400, "stream=true is not supported by this server", param="stream")
        if (req.n or 1) != 1:
            raise ApiError(400, "only n=1 is supported", param="n")
        if not 0 <= (req.temperature if req.temperature is not None else 1.0) <= 2:
            raise ApiError(400, "temperature must be in [0, 2]", param="temperature")
        if not 0 < (req.top_p if req.top_p is not None else 1.0) <= 1:
            raise ApiError(400, "top_p must be in (0, 1]", param="top_p")
        stops = [req.stop] if isinstance(req.stop, str) else list(req.stop or ())
        if any(not isinstance(stop, str) or not stop for stop in stops):
            raise ApiError(400, "stop strings must be non-empty (an empty one would end every answer before it "
                                "starts)", param="stop")
        if req.seed is not None and not -2**63 <= req.seed < 2**64:
            raise ApiError(400, f"seed must be in [-2**63, 2**64), got {req.seed}", param="seed")
        if req.presence_penalty or req.frequency_penalty:
            raise ApiError(400, "presence and frequency penalties are not supported (they change the target "
                                "distribution that speculative decoding preserves)", param="presence_penalty")

    def budget(self, requested: int | None, prompt_tokens: int) -> int:
        room = self.engine.room(prompt_tokens)
        if room is not None and room < 1:
            raise ApiError(400, f"the prompt has {prompt_tokens} tokens, which fills the model's context "
                                f"of {self.engine.context_length}", param="messages", code="context_length_exceeded")
        if requested is None:
            return min(self.max_tokens_limit, room) if room is not None else self.max_tokens_limit
        if requested < 1:
            raise ApiError(400, f"max_tokens must be >= 1, got {requested}", param="max_tokens")
        if requested > self.max_tokens_limit:
            raise ApiError(400, f"max_tokens={requested} exceeds this server's limit of {self.max_tokens_limit}",
                           param="max_tokens")
        if room is not None and requested > room:
            raise ApiError(400, f"max_tokens={requested} plus the prompt's {prompt_tokens} tokens exceeds the "
                                f"model's context of {self.engine.context_length}", param="max_tokens",
                           code="context_length_exceeded")
        return requested

    def run(self, ids: list[int], req: ChatRequest | TextRequest, max_tokens: int | None,
            format_stops: tuple[str, ...] = ()):
        stop = (req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ())
        stop = tuple(dict.fromkeys(stop + format_stops))
        completion = self.engine.complete(ids, self.budget(max_tokens, len(ids)), req.temperature
                                          if req.temperature is not None else 1.0, req.top_p or 1.0, stop, req.seed)
        log.info("%d prompt + %d new tokens, %.2f tokens per target forward", completion.prompt_tokens,
                 completion.completion_tokens, completion.mean_accepted)
        return completion

    def chat(self, req: ChatRequest) -> ChatCompletionResponse:
        self.check_common(req)
        if isinstance(req.messages, str) or not req.messages:
            raise ApiError(400, "messages must be a non-empty list of {role, content}", param="messages")
        messages = []
        for m in req.messages:
            if m.get("role") not in ("system", "user", "assistant"):
                raise ApiError(400, f"unsupported message role {m.get('role')!r}", param="messages")
            messages.append({"role": m["role"], "content": message_text(m.get("content"))})
        try:
            prompt = self.engine.chat_prompt(messages)
        except ValueError as err:
            raise ApiError(400, str(err), param="messages") from err
        c = self.run(prompt.ids, req, req.max_tokens, prompt.stops)
        return ChatCompletionResponse(model=self.name, choices=[ChatCompletionResponseChoice(
            index=0, message=ChatMessage(role="assistant", content=c.text), finish_reason=c.finish_reason)],
            usage=UsageInfo(prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens,
                            total_tokens=c.prompt_tokens + c.completion_tokens))

    def text(self, req: TextRequest) -> CompletionResponse:
        self.check_common(req)
        if req.echo or req.logprobs or req.suffix or (req.best_of or 1) > 1 or req.use_beam_search:
            raise ApiError(400, "echo, logprobs, suffix, best_of and beam search are not supported")
        if isinstance(req.prompt, str):
            prompts = [self.engine.text_ids(req.prompt)]
        elif req.prompt and all(isinstance(p, int) for p in req.prompt):
            vocab = self.engine.target.vocab_size
            bad = [p for p in req.prompt if not 0 <= p < vocab]
            if bad:
                raise ApiError(400, f"token id {bad[0]} is outside the model's vocabulary of {vocab}", param="prompt")
            prompts = [list(req.prompt)]
        elif req.prompt and all(isinstance(p, str) for p in req.prompt):
            prompts = [self.engine.text_ids(p) for p in req.prompt]
        else:
            raise ApiError(400, "prompt must be a string, a list of strings or a list of token ids", param="prompt")
        choices, prompt_tokens, new_tokens = [], 0, 0
        for i, ids in enumerate(prompts):
            c = self.run(ids, req, req.max_tokens)
            choices.append(CompletionResponseChoice(index=i, text=c.text, finish_reason=c.finish_reason))
            prompt_tokens, new_tokens = prompt_tokens + c.prompt_tokens, new_tokens + c.completion_tokens
        return CompletionResponse(model=self.name, choices=choices, usage=UsageInfo(
            prompt_tokens=prompt_tokens, completion_tokens=new_tokens, total_tokens=prompt_tokens + new_tokens))


def make_app(engine: Engine, name: str, max_tokens_limit: int = 4096) -> FastAPI:
    service = Service(engine, name, max_tokens_limit)
    app = FastAPI(title="multispec OpenAI-compatible server")

    @app.exception_handler(ApiError)
    async def api_error(_: Request, err: ApiError) -> JSONResponse:
        return JSONResponse(error_body(err.message, err.kind, err.param, err.code), status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
                             for e in err.errors())
        return JSONResponse(error_body(f"invalid request: {problems}", "invalid_request_error"), status_code=400)

    @app.exception_handler(Exception)
    async def crashed(_: Request, err: Exception) -> JSONResponse:
        log.exception("request failed")
        return JSONResponse(error_body(f"internal error: {err}", "server_error"), status_code=500)

    @app.get("/v1/models")
    def models() -> ModelList:
        return ModelList(data=[ModelCard(id=name, owned_by="multispec")])

    # sync handlers run in FastAPI's thread pool; the engine's lock serializes decoding
    @app.post("/v1/chat/completions")
    def chat(req: ChatRequest) -> ChatCompletionResponse:
        return service.chat(req)

    @app.post("/v1/completions")
    def completions(req: TextRequest) -> CompletionResponse:
        return service.text(req)

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from evaluation.run import method_options_parser

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--method", default="ar", choices=sorted(METHODS))
    known, _ = pre.parse_known_args(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], parents=[method_options_parser(known.method)])
    parser.add_argument("--model", default=DEFAULT_TARGET, help="embedded name, local folder or hub id")
    parser.add_argument("--method", default="ar", choices=sorted(METHODS))
    parser.add_argument("--served-model-name", default=None, help="name clients pass as `model` (default: --model's name)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-tokens-limit", type=int, default=4096)
    add_target_options(parser, target=False)
    add_generation_options(parser, max_new_tokens=False)
    args = parser.parse_args(argv)
    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(method_module(args.method).Config)}
    logging.basicConfig(level=logging.INFO, format="[multispec] %(message)s")
    engine = Engine(args.model, args.method, options, args.dtype, args.device, args.chat_template)
    name = args.served_model_name or Path(args.model.rstrip("/")).name
    log.info("serving %s as `%s` with method %s (%s) on http://%s:%d/v1", args.model, name, args.method,
             json.dumps(options), args.host, args.port)
    uvicorn.run(make_app(engine, name, args.max_tokens_limit), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    run_command(main)
