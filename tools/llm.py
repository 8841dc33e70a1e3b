"""The LLM layer: every call of every role goes through here.

langchain-openai's ChatOpenAI against any OpenAI-compatible server; a SQL cache keyed by model + messages +
params; bounded async concurrency per role; retries with backoff on timeouts, connection errors and 5xx, then a
clear error naming the endpoint; JSON mode with strict parsing, one repair round-trip, rejections counted; tokens
counted per role and round. Replies are untrusted: callers pass a ``parse`` that raises ``ParseError``.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from settings import IloopConfig
from state import llm_calls
from state.db import Store
from tools.embedded_server import endpoint, serial
from tools.llm_parse import ParseError
from tools.llm_task import LLMTask

T = TypeVar("T")
Messages = list[dict[str, str]]


class LLMEndpointError(RuntimeError):
    """The endpoint kept failing after all retries."""


class ReplyCut(Exception):
    """The server stopped the reply at the token limit (langchain-openai raises instead of returning it)."""


def _length_cut(exc: BaseException | None) -> BaseException | None:
    """openai's LengthFinishReasonError in the chain, if any (it carries the cut completion and its usage)."""
    while exc is not None:
        if type(exc).__name__ == "LengthFinishReasonError":
            return exc
        exc = exc.__cause__
    return None


def _cut_usage(cut: BaseException) -> tuple[int, int]:
    usage = getattr(getattr(cut, "completion", None), "usage", None)
    return (int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0))


def _failing(parse, message: str):
    """A parser that rejects the (empty) reply with ``message``, so the repair attempt asks for a briefer one."""
    def fail(text: str, _parse=parse):
        if not text:
            raise ParseError(message)
        return _parse(text)
    return fail


@dataclass
class LLMResult(Generic[T]):
    value: T | None
    text: str
    ok: bool
    error: str = ""
    cached: bool = False
    repaired: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0


def cache_key(model: str, messages: Messages, params: dict[str, Any]) -> str:
    blob = json.dumps({"model": model, "messages": messages, "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


_RETRYABLE = ("APITimeoutError", "APIConnectionError", "InternalServerError", "RateLimitError", "TimeoutException",
              "ConnectError", "ReadTimeout", "RemoteProtocolError")


def _retryable(exc: BaseException | None) -> bool:
    # langchain-openai re-raises openai's errors as its own classes; the original is the __cause__.
    while exc is not None:
        status = getattr(exc, "status_code", None)
        if type(exc).__name__ in _RETRYABLE or (isinstance(status, int) and status >= 500):
            return True
        exc = exc.__cause__
    return False


class LLM:
    def __init__(self, config: IloopConfig, store: Store, round_: int = 0) -> None:
        self.config, self.store, self.round = config, store, round_
        self._models: dict[tuple[str, bool, int, str], Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http: Any = None  # this object's async HTTP client (see _chat_model)

    def _chat_model(self, role: str, json_mode: bool, max_tokens: int, task: str):
        key = (role, json_mode, max_tokens, task)
        if key not in self._models:
            from langchain_openai import ChatOpenAI

            rs = self.config.role(role)
            base_url, model = endpoint(self.config, role)
            api_key = os.environ.get(rs.api_key_env) or "not-needed"
            kwargs: dict[str, Any] = {}
            if json_mode:
                kwargs["response_format"] = {"type": "json_object"}
            if self._http is None:
                import openai

                # Our own client, used only on this object's loop. ChatOpenAI's default one is cached per base URL
                # for the whole process: a later LLM object (the next graph node) got the pooled connections of a
                # closed loop, and the first one the server had dropped meanwhile raised "Event loop is closed".
                self._http = openai.DefaultAsyncHttpxClient()
            self._models[key] = ChatOpenAI(
                http_async_client=self._http,
                model=model, base_url=base_url, api_key=api_key, temperature=rs.temperature,
                max_tokens=max_tokens, timeout=rs.timeout_s, max_retries=0, seed=self.config.seed,
                # the task name travels as a header: server logs (and the test suite's fake server) can tell
                # which unit asked without reading the prompt
                default_headers={"X-Iloop-Task": task} if task else None,
                # llama.cpp's server ignores max_completion_tokens: without this a reply can run to n_ctx.
                extra_body={"max_tokens": max_tokens}, model_kwargs=kwargs)
        return self._models[key]

    def params(self, role: str, json_mode: bool, max_tokens: int | None = None) -> dict[str, Any]:
        rs = self.config.role(role)
        # the run's seed goes with every request (llama.cpp and vLLM honour it): sampled replies are reproducible
        return {"temperature": rs.temperature, "max_tokens": max_tokens or rs.max_tokens, "json": json_mode,
                "seed": self.config.seed}

    def _account(self, role: str, **delta: int) -> None:
        llm_calls.account(self.store, self.round, role, **delta)

    # ---- calls -------------------------------------------------------------------------------------------
    async def _invoke(self, role: str, messages: Messages, json_mode: bool, max_tokens: int | None, task: str
                      ) -> tuple[str, tuple[int, int], bool]:
        _, model = endpoint(self.config, role)
        params = self.params(role, json_mode, max_tokens)
        key = cache_key(model, messages, params)
        hit = llm_calls.cached_response(self.store, key)
        if hit is not None:
            self._account(role, calls=1, cache_hits=1)
            return hit, (0, 0), True
        rs = self.config.role(role)
        chat = self._chat_model(role, json_mode, params["max_tokens"], task)
        last: BaseException | None = None
        for attempt in range(rs.max_retries + 1):
            t0 = time.monotonic()
            try:
                reply = await chat.ainvoke(messages)
            except Exception as exc:  # classified below; non-retryable errors propagate at once
                cut = _length_cut(exc)
                if cut is not None:
                    # a cut reply is no data, but the server spent its tokens: the budget and the benches count them
                    spent = _cut_usage(cut)
                    self._account(role, calls=1, prompt_tokens=spent[0], completion_tokens=spent[1])
                    raise ReplyCut(f"the reply was cut off at the {params['max_tokens']}-token limit; be briefer")
                if not _retryable(exc):
                    raise
                last = exc
                await asyncio.sleep(min(30.0, 0.5 * 2 ** attempt) * (0.5 + random.random()))
                continue
            meta = getattr(reply, "usage_metadata", None) or {}
            usage = (int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0)))
            if (getattr(reply, "response_metadata", None) or {}).get("finish_reason") == "length":
                # plain-text replies come back cut instead of raising; a cut answer is never usable data
                self._account(role, calls=1, prompt_tokens=usage[0], completion_tokens=usage[1])
                raise ReplyCut(f"the reply was cut off at the {params['max_tokens']}-token limit; be briefer")
            text = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
            llm_calls.store_call(self.store, key, role, model, messages, text, usage, time.monotonic() - t0, self.round)
            self._account(role, calls=1, prompt_tokens=usage[0], completion_tokens=usage[1])
            return text, usage, False
        base_url, _ = endpoint(self.config, role)
        raise LLMEndpointError(f"role {role}: endpoint {base_url} (model {model}) failed {rs.max_retries + 1} times; "
                               f"last error: {type(last).__name__}: {last}")

    async def _one(self, role: str, messages: Messages, parse: Callable[[str], T] | None, json_mode: bool,
                   sem: asyncio.Semaphore, max_tokens: int | None, task: str) -> LLMResult[T]:
        async with sem:
            try:
                text, usage, cached = await self._invoke(role, messages, json_mode, max_tokens, task)
            except ReplyCut as cut:
                text, usage, cached = "", (0, 0), False
                if parse is None:
                    return LLMResult(None, "", False, error=str(cut))
                parse = _failing(parse, str(cut))
            if parse is None:
                return LLMResult(text, text, True, cached=cached, prompt_tokens=usage[0], completion_tokens=usage[1])
            try:
                return LLMResult(parse(text), text, True, cached=cached, prompt_tokens=usage[0],
                                 completion_tokens=usage[1])
            except ParseError as first:
                repair = messages + [{"role": "assistant", "content": text},
                                     {"role": "user", "content": f"Your reply could not be used: {first}. Reply "
                                      "again with only the requested JSON, nothing else."}]
                try:
                    text2, usage2, cached2 = await self._invoke(role, repair, json_mode, max_tokens, task)
                except ReplyCut as cut:
                    self._account(role, rejections=1)
                    return LLMResult(None, text, False, error=str(cut))
                try:
                    value = parse(text2)
                except ParseError as second:
                    self._account(role, rejections=1)
                    return LLMResult(None, text2, False, error=str(second), cached=cached2,
                                     prompt_tokens=usage[0] + usage2[0], completion_tokens=usage[1] + usage2[1])
                self._account(role, repairs=1)
                return LLMResult(value, text2, True, cached=cached2, repaired=True,
                                 prompt_tokens=usage[0] + usage2[0], completion_tokens=usage[1] + usage2[1])

    async def achat_many(self, role: str, batch: list[Messages],
                         parse: Callable[[str], T] | list[Callable[[str], T]] | None = None,
                         json_mode: bool = False, max_tokens: int | None = None, task: str = ""
                         ) -> list[LLMResult[T]]:
        rs = self.config.role(role)
        sem = asyncio.Semaphore(1 if serial(self.config, role) else rs.concurrency)
        parsers = parse if isinstance(parse, list) else [parse] * len(batch)
        if len(parsers) != len(batch):
            raise ValueError(f"{len(parsers)} parsers for {len(batch)} prompts")
        from tqdm import tqdm

        # every LLM-bound stage shows its calls with an ETA (stderr; gone when done, so stages keep their own lines)
        with tqdm(total=len(batch), desc=task or role, unit="call", leave=False, mininterval=2,
                  disable=len(batch) < 3) as bar:
            async def one(m, p):
                result = await self._one(role, m, p, json_mode, sem, max_tokens, task)
                bar.update(1)
                return result
            return list(await asyncio.gather(*(one(m, p) for m, p in zip(batch, parsers))))

    def chat_many(self, role: str, batch: list[Messages],
                  parse: Callable[[str], T] | list[Callable[[str], T]] | None = None,
                  json_mode: bool = False, max_tokens: int | None = None, task: str = "") -> list[LLMResult[T]]:
        """Batch in, results out in the same order; failures to parse are results with ok=False.

        ``parse`` is one function for every prompt, or a list with one per prompt."""
        # One loop per LLM object: ChatOpenAI's async HTTP client belongs to the loop that first used it, so a
        # fresh asyncio.run() per batch would leave it bound to a closed loop.
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.achat_many(role, batch, parse, json_mode, max_tokens, task))

    def run(self, task: LLMTask, items: list) -> list[LLMResult]:
        """One task over a batch of items: format each, call the task's role, parse strictly (one repair round),
        cache and count; results in item order, failures as results with ok=False."""
        prompts = [task.format_input(it) for it in items]
        parsers = [lambda text, it=it: task.parse_output(text, it) for it in items] if task.parses else None
        return self.chat_many(task.role, prompts, parse=parsers, json_mode=task.json_mode, max_tokens=task.max_tokens,
                              task=task.name)

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            if self._http is not None:
                self._loop.run_until_complete(self._http.aclose())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()
        self._http, self._models = None, {}
