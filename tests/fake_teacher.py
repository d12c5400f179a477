"""A local HTTP server that speaks the Ollama API (and the OpenAI chat API) for deterministic
tests: the one stand-in the project allows, since Ollama itself cannot be installed here.

It answers /api/tags, /api/show, /api/version and /api/chat (streaming or not, with or without
`think`), /v1/models and /v1/chat/completions; counts calls; and injects faults on request:
slow answers, HTTP 500, malformed JSON, a stream cut mid-answer, an empty answer, a runaway
answer (`huge:N`, N characters of prose), one enormous word (`word:N`), and the ways a small
model goes wrong in words: an answer in Chinese (`script`, as DeepSeek's models answer English
now and then), one that loops inside a sentence (`wordloop`) and one that writes its last
sentence again and again (`repeat`).
"""

from __future__ import annotations

import collections
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_NAME = re.compile(r"`([^`]+)`")


class FakeTeacher:
    def __init__(self, model: str = "deepseek-r1:1.5b", thinking: bool = True, delay: float = 0.0,
                 port: int = 0) -> None:
        self.model = model
        #: Every model name this server has (a test may add more), and the model of each chat call.
        self.models = {model}
        self.asked: list[str] = []
        self.thinking = thinking
        self.delay = delay
        self.faults: collections.deque[str] = collections.deque()
        self.calls = 0
        self.prompts: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeTeacher":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer_for(self, prompt: str) -> tuple[str, str]:
        match = _NAME.search(prompt)
        name = match.group(1) if match else "this item"
        reasoning = f"First, {name} reads its inputs. Then it computes the result step by step."
        output = f"{name} computes its result from its inputs and returns it to the caller."
        return reasoning, output

    def _handler(self):
        teacher = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as a real server does: no 40 ms stalls between chunks

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _json(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/api/tags":
                    self._json(200, {"models": [{"name": teacher.model, "model": teacher.model, "size": 1,
                                                 "digest": "0" * 12, "modified_at": "2026-01-01T00:00:00Z"}]})
                elif self.path == "/api/version":
                    self._json(200, {"version": "0.12.0"})
                elif self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": teacher.model, "object": "model"}]})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path == "/api/show":
                    if body.get("model") not in teacher.models:
                        self._json(404, {"error": f"model '{body.get('model')}' not found"})
                        return
                    caps = ["completion", "thinking"] if teacher.thinking else ["completion"]
                    self._json(200, {"modelfile": "", "template": "", "capabilities": caps, "details": {}})
                elif self.path in ("/api/chat", "/v1/chat/completions"):
                    self._chat(body, openai=self.path.startswith("/v1"))
                else:
                    self._json(404, {"error": "not found"})

            def _chat(self, body: dict, openai: bool) -> None:
                with teacher.lock:
                    teacher.calls += 1
                    fault = teacher.faults.popleft() if teacher.faults else ""
                    prompt = body["messages"][-1]["content"]
                    teacher.prompts.append(prompt)
                    teacher.asked.append(body.get("model"))
                if body.get("model") not in teacher.models:
                    self._json(404, {"error": f"model '{body.get('model')}' not found, try pulling it first"})
                    return
                if fault.startswith("slow"):
                    time.sleep(float(fault.split(":")[1]))
                if teacher.delay:
                    time.sleep(teacher.delay)
                if fault == "http500":
                    self._json(500, {"error": "model runner has unexpectedly stopped"})
                    return
                reasoning, output = teacher.answer_for(prompt)
                if fault == "empty":
                    reasoning, output = "", ""
                elif fault.startswith("huge:"):
                    size = int(fault.split(":")[1])
                    output = " ".join(f"Step {i} adds one more line." for i in range(size // 20 + 1))[:size]
                elif fault.startswith("word:"):
                    output = "x" * int(fault.split(":")[1])
                elif fault == "script":
                    output = "这个函数根据输入计算结果，并把结果返回给调用者。"
                elif fault == "wordloop":
                    output = output.replace("its result", "the value of the value of the value of the value of the value")
                elif fault == "repeat":
                    output += " It is called by the tests of this module." * 5
                if openai:
                    self._openai(reasoning, output, fault)
                elif body.get("stream", True):
                    self._stream(body, reasoning, output, fault)
                else:
                    self._whole(body, reasoning, output, fault)

            def _message(self, body: dict, reasoning: str, output: str) -> dict:
                if body.get("think") and teacher.thinking:
                    return {"role": "assistant", "content": output, "thinking": reasoning}
                if reasoning:
                    return {"role": "assistant", "content": f"<think>\n{reasoning}\n</think>\n\n{output}"}
                return {"role": "assistant", "content": output}

            def _whole(self, body: dict, reasoning: str, output: str, fault: str) -> None:
                if fault == "malformed":
                    self._raw(200, b'{"model": "x", "message": {"role": "assist')
                    return
                self._json(200, {"model": teacher.model, "created_at": "2026-01-01T00:00:00Z",
                                 "message": self._message(body, reasoning, output), "done": True,
                                 "done_reason": "stop", "eval_count": len(output.split())})

            def _stream(self, body: dict, reasoning: str, output: str, fault: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                message = self._message(body, reasoning, output)
                pieces = []
                if message.get("thinking"):
                    pieces += [{"role": "assistant", "content": "", "thinking": w + " "} for w in message["thinking"].split()]
                content = message["content"]
                if len(content) > 100_000:  # a runaway answer arrives in large pieces, as a fast server sends it
                    pieces += [{"role": "assistant", "content": content[i:i + 65536]} for i in range(0, len(content), 65536)]
                else:
                    pieces += [{"role": "assistant", "content": w + " "} for w in content.split(" ") if w]
                for n, piece in enumerate(pieces):
                    if fault == "cut" and n == len(pieces) // 2:
                        self.wfile.flush()
                        self.connection.shutdown(2)  # the connection drops mid-answer
                        return
                    line = json.dumps({"model": teacher.model, "created_at": "x", "message": piece, "done": False})
                    if fault == "malformed" and n == 1:
                        line = line[: len(line) // 2]
                    self._chunk((line + "\n").encode())
                final = {"model": teacher.model, "created_at": "x", "message": {"role": "assistant", "content": ""},
                         "done": True, "done_reason": "stop", "eval_count": len(pieces)}
                self._chunk((json.dumps(final) + "\n").encode())
                self._chunk(b"")

            def _openai(self, reasoning: str, output: str, fault: str) -> None:
                if fault == "malformed":
                    self._raw(200, b'{"choices": [{"message": ')
                    return
                content = f"{reasoning}\nExplanation: {output}" if reasoning else output
                self._json(200, {"id": "x", "object": "chat.completion", "model": teacher.model,
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                              "finish_reason": "stop"}],
                                 "usage": {"completion_tokens": len(content.split())}})

            def _raw(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        return Handler


def main() -> None:
    """`python -m tests.fake_teacher --port N --delay S`: the same server in its own process,
    for benchmarks that must not share a GIL with it."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--model", default="deepseek-r1:1.5b")
    args = parser.parse_args()
    teacher = FakeTeacher(model=args.model, delay=args.delay, port=args.port)
    print(teacher.url, flush=True)
    teacher.server.serve_forever()


if __name__ == "__main__":
    main()
