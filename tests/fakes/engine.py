"""A fake serving engine on 127.0.0.1: the OpenAI-compatible chat API plus each engine's own
introspection endpoints, in the formats of ``tests/fixtures/verify`` with the figures a test sets.

- vLLM: ``/metrics`` (0.34 labels with ``kv_cache_size_tokens``, or the legacy V0 label set with
  only ``num_gpu_blocks`` x ``block_size``), one ``cache_config_info`` series per DP rank.
- SGLang: ``/server_info`` (0.5) or only the older ``/get_server_info``.
- TGI: ``/info`` and ``/metrics`` with the ``tgi_batch_max_total_tokens`` gauge (>= 2.3), or a
  2.0-style ``/info`` carrying ``max_batch_total_tokens``.

Chat completions are scripted: a first token after ``ttft_s``, then one token per ``tpot_s``,
``max_tokens`` of them (the load test asks the engine to ignore EOS); GSM8K questions get their
right answer unless their index is in ``wrong``. Prompt tokens are counted as the engines would
report them: a fixed chat-template overhead plus ``tokens_per_word`` per word. ``fault(route,
kind)`` scripts failures: "500", "503", "drop" (close without an answer), "break" (a stream cut
after its first token).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "verify"
CHAT = "/v1/chat/completions"


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _gsm8k_answers() -> dict[str, tuple[int, str]]:
    from llmplan.verify.evaluation import items

    return {i.question: (i.index, i.answer) for i in items()}


class FakeEngine:
    def __init__(self, engine: str = "vllm", *, version: str = "current",
                 kv_tokens: int = 500_000, block_size: int = 16, dp: int = 1,
                 model: str = "meta-llama/Llama-3.1-8B-Instruct", context: int = 8192,
                 memory_fraction: float | None = 0.9, max_running: int | None = None,
                 api_key: str | None = None, ttft_s: float = 0.0, tpot_s: float = 0.0,
                 wrong: set[int] | None = None, metrics: bool = True,
                 tokens_per_word: float = 1.3, template_overhead: int = 30,
                 preemptions_per_request: int = 0) -> None:
        self.engine = engine
        self.version = version
        self.kv_tokens = kv_tokens
        self.block_size = block_size
        self.dp = dp
        self.model = model
        self.context = context
        self.memory_fraction = memory_fraction
        self.max_running = max_running
        self.api_key = api_key
        self.ttft_s = ttft_s
        self.tpot_s = tpot_s
        self.wrong = wrong or set()
        self.metrics = metrics
        self.tokens_per_word = tokens_per_word
        self.template_overhead = template_overhead
        self.preemptions_per_request = preemptions_per_request
        self.preemptions = 0
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.answers = _gsm8k_answers()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:
                fake._serve(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake._serve(self, self.rfile.read(length) if length else b"")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    # --- lifecycle

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def __enter__(self) -> FakeEngine:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fault(self, route: str, *kinds: str) -> None:
        with self.lock:
            self.faults[route].extend(kinds)

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for _m, p, _h, _b in self.requests if p == path)

    # --- dispatch

    def _serve(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        path = h.path.split("?")[0]
        with self.lock:
            self.requests.append((h.command, path, dict(h.headers), body))
            fault = self.faults[path].popleft() if self.faults[path] else None
        if fault == "drop":
            h.close_connection = True
            return
        if fault in ("500", "503"):
            return self._send(h, int(fault), {"error": {"message": f"scripted {fault}"}})
        public = path in ("/health", "/metrics", "/info", "/server_info", "/get_server_info")
        authorised = h.headers.get("Authorization") == f"Bearer {self.api_key}"
        if self.api_key and not public and not authorised:
            return self._send(h, 401, {"error": {"message": "Unauthorized"}})
        if path == "/health":
            return self._send(h, 200, None)
        if path == "/v1/models":
            return self._send(h, 200, {"object": "list", "data": [
                {"id": self.model, "object": "model", "owned_by": self.engine}]})
        if path == CHAT and h.command == "POST":
            return self._chat(h, json.loads(body), fault)
        text = self._introspection(path)
        if text is None:
            return self._send(h, 404, {"error": "not found"})
        ctype = "application/json" if text.startswith("{") else "text/plain; version=0.0.4"
        return self._send_raw(h, 200, text.encode(), ctype)

    def _send(self, h: BaseHTTPRequestHandler, status: int, doc: Any) -> None:
        payload = b"" if doc is None else json.dumps(doc).encode()
        self._send_raw(h, status, payload, "application/json")

    def _send_raw(self, h: BaseHTTPRequestHandler, status: int, payload: bytes,
                  ctype: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    # --- the engines' own figures

    def _introspection(self, path: str) -> str | None:
        if self.engine == "vllm" and path == "/metrics" and self.metrics:
            return self._vllm_metrics()
        if self.engine == "sglang":
            if path == "/server_info" and self.version == "current":
                return json.dumps(self._sglang_info())
            if path == "/get_server_info":
                return json.dumps(self._sglang_info())
        if self.engine == "tgi":
            if path == "/info":
                return json.dumps(self._tgi_info())
            if path == "/metrics" and self.metrics and self.version == "current":
                return ("# HELP tgi_batch_max_total_tokens Maximum tokens for a batch\n"
                        "# TYPE tgi_batch_max_total_tokens gauge\n"
                        f"tgi_batch_max_total_tokens {self.kv_tokens}\n"
                        "# TYPE tgi_queue_size gauge\ntgi_queue_size 0\n"
                        "# TYPE tgi_batch_current_size gauge\ntgi_batch_current_size 0\n")
        return None

    def _vllm_metrics(self) -> str:
        if self.version == "legacy":
            text = _fixture("vllm_metrics_legacy_real.prom")
            blocks = self.kv_tokens // self.block_size
            text = re.sub(r'num_gpu_blocks="\d+"', f'num_gpu_blocks="{blocks}"', text)
            text = re.sub(r'block_size="\d+"', f'block_size="{self.block_size}"', text)
            fraction = "None" if self.memory_fraction is None else f"{self.memory_fraction}"
            return re.sub(r'gpu_memory_utilization="[^"]*"',
                          f'gpu_memory_utilization="{fraction}"', text)
        text = _fixture("vllm_metrics_0.34_constructed.prom")
        lines = text.splitlines()
        info = next(line for line in lines if line.startswith("vllm:cache_config_info{"))
        out = [line for line in lines if line is not info]
        fraction = "None" if self.memory_fraction is None else f"{self.memory_fraction}"
        for rank in range(self.dp):
            series = info
            for key, value in (("kv_cache_size_tokens", str(self.kv_tokens)),
                               ("kv_cache_max_concurrency", f"{self.kv_tokens / self.context}"),
                               ("num_gpu_blocks", str(self.kv_tokens // self.block_size)),
                               ("block_size", str(self.block_size)),
                               ("gpu_memory_utilization", fraction), ("engine", str(rank))):
                series = re.sub(key + r'="[^"]*"', f'{key}="{value}"', series)
            out.append(series)
        out += ["# HELP vllm:num_preemptions_total Cumulative number of preemptions.",
                "# TYPE vllm:num_preemptions_total counter",
                f'vllm:num_preemptions_total{{engine="0",model_name="{self.model}"}} '
                f"{float(self.preemptions)}"]
        return "\n".join(out) + "\n"

    def _sglang_info(self) -> dict[str, Any]:
        doc = json.loads(_fixture("sglang_server_info_0.5.23_constructed.json"))
        doc.pop("_comment", None)
        doc.update(model_path=self.model, served_model_name=self.model,
                   context_length=self.context, mem_fraction_static=self.memory_fraction,
                   max_total_num_tokens=self.kv_tokens, dp_size=self.dp)
        if self.version == "current":
            state = doc["internal_states"][0]
            state["memory_usage"]["token_capacity"] = self.kv_tokens
            if self.max_running is not None:
                state["effective_max_running_requests_per_dp"] = self.max_running
            doc["internal_states"] = [json.loads(json.dumps(state)) for _ in range(self.dp)]
        else:
            doc.pop("internal_states", None)
            doc["version"] = "0.4.6"
            doc["max_running_requests"] = (self.max_running * self.dp if self.max_running
                                           else None)
        return doc

    def _tgi_info(self) -> dict[str, Any]:
        if self.version == "current":
            doc = json.loads(_fixture("tgi_info_3.3.7_constructed.json"))
            doc.update(version="3.3.7")
        else:
            doc = json.loads(_fixture("tgi_info_2.0.4_thirdparty.json"))
            doc["max_batch_total_tokens"] = self.kv_tokens
        doc.pop("_comment", None)
        doc.update(model_id=self.model, max_total_tokens=self.context,
                   max_input_tokens=self.context - 1)
        if self.max_running is not None:
            doc["max_concurrent_requests"] = self.max_running
        return doc

    # --- chat completions

    def _prompt_tokens(self, request: dict[str, Any]) -> int:
        words = sum(len(str(m.get("content", "")).split()) for m in request.get("messages", []))
        return self.template_overhead + round(words * self.tokens_per_word)

    def _chat(self, h: BaseHTTPRequestHandler, request: dict[str, Any], fault: str | None
              ) -> None:
        with self.lock:
            self.preemptions += self.preemptions_per_request
        prompt_tokens = self._prompt_tokens(request)
        max_tokens = int(request.get("max_tokens") or 16)
        if not request.get("stream"):
            question = str(request["messages"][-1]["content"]).split("\n\nSolve the problem")[0]
            if question in self.answers:
                index, answer = self.answers[question]
                shown = str(int(answer) + 1) if index in self.wrong else answer
                text = f"Working through it step by step.\nThe answer is {shown}."
            else:
                text = "word " * max_tokens
            time.sleep(self.ttft_s)
            return self._send(h, 200, {
                "id": "cmpl-1", "object": "chat.completion", "model": self.model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 12,
                          "total_tokens": prompt_tokens + 12}})
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True

        def event(doc: dict[str, Any]) -> None:
            h.wfile.write(f"data: {json.dumps(doc)}\n\n".encode())
            h.wfile.flush()

        try:
            event({"id": "c", "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}}]})
            time.sleep(self.ttft_s)
            for n in range(max_tokens):
                if n:
                    time.sleep(self.tpot_s)
                event({"id": "c", "object": "chat.completion.chunk", "choices": [
                    {"index": 0, "delta": {"content": "tok "}, "finish_reason": None}]})
                if fault == "break":
                    return
            event({"id": "c", "object": "chat.completion.chunk", "choices": [],
                   "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": max_tokens,
                             "total_tokens": prompt_tokens + max_tokens}})
            h.wfile.write(b"data: [DONE]\n\n")
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
