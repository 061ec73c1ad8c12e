"""A fake OpenAI HTTP API (chat SSE, streaming transcription, pcm speech) for the real SDK.

Requests are checked against the SDK's own parameter TypedDicts: unknown or missing
parameters get OpenAI-shaped 400 errors. Replies are scripted per test; failures (status
codes, stalls) can be injected per endpoint. Threaded, port 0, HTTP/1.1 with chunked bodies.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from openai.types.audio import speech_create_params, transcription_create_params
from openai.types.chat import completion_create_params


def _keys(typed_dict) -> frozenset[str]:
    return frozenset(typed_dict.__required_keys__ | typed_dict.__optional_keys__)


ALLOWED = {
    "/v1/chat/completions": _keys(completion_create_params.CompletionCreateParamsStreaming),
    "/v1/audio/transcriptions": _keys(
        transcription_create_params.TranscriptionCreateParamsStreaming
    ),
    "/v1/audio/speech": _keys(speech_create_params.SpeechCreateParams),
}
REQUIRED = {
    "/v1/chat/completions": ("model", "messages"),
    "/v1/audio/transcriptions": ("model", "file"),
    "/v1/audio/speech": ("model", "input", "voice"),
}
ROLES = {"system", "developer", "user", "assistant", "tool"}


class RequestError(Exception):
    """An invalid request: becomes an OpenAI error body with this status."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 code: str | None = None, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = (
            status, message, param, code, kind)


class FakeOpenAI:
    """Scripted replies and recorded requests; `url` is the base_url for the SDK."""

    def __init__(self) -> None:
        self.transcripts: list[str] = ["hello"]  # one per transcription call (last repeats)
        self.replies: list[dict] = [{"text": "Hi there."}]  # {"text"} or {"tool_calls": [...]}
        self.speech_pcm = b"\x00\x00" * 2400  # 24 kHz s16le per speech call
        self.failures: dict[str, int] = {}  # path -> status for the next call
        self.stalls: dict[str, float] = {}  # path -> seconds to stall before answering
        self.requests: list[tuple[str, dict]] = []
        self.released = threading.Event()  # set at shutdown so stalled handlers return
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL including /v1."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release stalled requests and shut the server down."""
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    def take(self, script: list, default):
        """Pop the next scripted item (the last one repeats)."""
        with self._lock:
            return script.pop(0) if len(script) > 1 else (script[0] if script else default)

    def requests_to(self, path: str) -> list[dict]:
        """Recorded, validated bodies sent to `path`."""
        return [body for p, body in self.requests if p == path]


def validate(path: str, body: dict) -> None:
    """Raise RequestError for unknown or missing parameters, like the real API."""
    for key in body:
        if key not in ALLOWED[path]:
            raise RequestError(400, f"Unrecognized request argument supplied: {key}", key,
                               "unknown_parameter")
    for key in REQUIRED[path]:
        if body.get(key) in (None, "", []):
            raise RequestError(400, f"Missing required parameter: '{key}'.", key,
                               "missing_required_parameter")
    if path == "/v1/chat/completions":
        for i, message in enumerate(body["messages"]):
            if not isinstance(message, dict) or message.get("role") not in ROLES:
                raise RequestError(400, f"Invalid value for 'messages[{i}].role'.",
                                   f"messages[{i}].role", "invalid_value")
            if message["role"] == "assistant" and message.get("content") is None and not (
                    message.get("tool_calls")):
                raise RequestError(400, f"Invalid value for 'messages[{i}].content': expected a "
                                   "string, got null.", f"messages[{i}].content", "invalid_value")
            if message["role"] == "tool" and not message.get("tool_call_id"):
                raise RequestError(400, "Missing required parameter: 'tool_call_id'.",
                                   f"messages[{i}].tool_call_id", "missing_required_parameter")
    if path == "/v1/audio/speech" and body.get("response_format", "mp3") != "pcm":
        raise RequestError(400, "This fake only serves response_format=pcm.", "response_format")
    if path == "/v1/audio/transcriptions" and not body["file"].startswith(b"RIFF"):
        raise RequestError(400, "Invalid file format. Supported formats: ['wav', ...]", "file",
                           "invalid_value")


def _parse_multipart(content_type: str, raw: bytes) -> dict:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    body = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        body[name] = payload if part.get_filename() else payload.decode()
    if "stream" in body:
        body["stream"] = body["stream"] == "true"
    return body


def _handler_for(fake: FakeOpenAI):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def handle(self) -> None:
            # A client dropping its keep-alive connection is normal, not a server error.
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                super().handle()

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                if self.headers.get("Authorization", "") != "Bearer sk-fake":
                    raise RequestError(401, "Incorrect API key provided.", None,
                                       "invalid_api_key")
                if self.path not in ALLOWED:
                    raise RequestError(404, f"Invalid URL (POST {self.path})")
                content_type = self.headers.get("Content-Type", "")
                body = (_parse_multipart(content_type, raw)
                        if content_type.startswith("multipart/") else json.loads(raw or b"{}"))
                validate(self.path, body)
                fake.requests.append((self.path, body))
                if (stall := fake.stalls.get(self.path)) is not None:
                    fake.released.wait(stall)
                if (status := fake.failures.pop(self.path, None)) is not None:
                    raise RequestError(status, "The server had an error.", None, None,
                                       "server_error")
                getattr(self, "_" + self.path.rsplit("/", 1)[1])(body)
            except RequestError as exc:
                error = {"message": exc.message, "type": exc.kind, "param": exc.param,
                         "code": exc.code}
                self._send(exc.status, "application/json", json.dumps({"error": error}).encode())

        def _send(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _start_chunked(self, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _sse(self, events: list[dict], done: bool) -> None:
            self._start_chunked("text/event-stream")
            for event in events:
                self._chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
            if done:
                self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")

        def _completions(self, body: dict) -> None:
            reply = fake.take(fake.replies, {"text": ""})
            if body.get("stream"):
                self._sse(chat_chunks(body["model"], reply), done=True)
                return
            message = {"role": "assistant", "content": reply.get("text"), "refusal": None}
            completion = {"id": "chatcmpl-fake", "object": "chat.completion",
                          "created": int(time.time()), "model": body["model"],
                          "choices": [{"index": 0, "message": message, "finish_reason": "stop",
                                       "logprobs": None}]}
            self._send(200, "application/json", json.dumps(completion).encode())

        def _transcriptions(self, body: dict) -> None:
            text = fake.take(fake.transcripts, "")
            words = text.split(" ")
            deltas = [{"type": "transcript.text.delta", "delta": w if i == 0 else " " + w}
                      for i, w in enumerate(words)]
            usage = {"type": "tokens", "input_tokens": 10, "output_tokens": len(words),
                     "total_tokens": 10 + len(words)}
            self._sse(deltas + [{"type": "transcript.text.done", "text": text, "usage": usage}],
                      done=False)

        def _speech(self, body: dict) -> None:
            self._start_chunked("application/octet-stream")
            pcm = fake.speech_pcm
            for start in range(0, len(pcm), 4799):  # odd sizes: chunks split samples
                self._chunk(pcm[start : start + 4799])
            self._chunk(b"")

    return Handler


def chat_chunks(model: str, reply: dict) -> list[dict]:
    """chat.completion.chunk dicts streaming `reply` (text word by word, tool call args split)."""
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model}

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    words = (reply.get("text") or "").split(" ")
    chunks += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words) if w]
    for index, call in enumerate(reply.get("tool_calls", [])):
        arguments = call.get("arguments", "{}")
        half = len(arguments) // 2
        head = {"index": index, "id": call["id"], "type": "function",
                "function": {"name": call["name"], "arguments": ""}}
        chunks.append(chunk({"tool_calls": [head]}))
        for part in (arguments[:half], arguments[half:]):
            tail = {"index": index, "function": {"arguments": part}}
            chunks.append(chunk({"tool_calls": [tail]}))
    chunks.append(chunk({}, "tool_calls" if reply.get("tool_calls") else "stop"))
    return chunks
