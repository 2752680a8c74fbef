"""``hanforge serve``: an OpenAI-compatible HTTP endpoint for an exported model."""

from __future__ import annotations

import argparse

from hanforge.cli._options import add_verb

#: The line ``hanforge --help`` shows for this verb.
HELP = "serve an exported model over an OpenAI-compatible HTTP API (transformers, llama.cpp or vLLM)"


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "serve", serve_command, help=HELP)
    p.add_argument("model", help="export folder, run folder, model folder or .gguf file")
    p.add_argument("--backend", choices=["auto", "transformers", "llama.cpp", "vllm"], default="auto")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    p.add_argument("--name", help="model id in /v1/models (default: the folder or file name)")
    p.add_argument("--n-ctx", type=int, default=2048, help="context length (llama.cpp)")
    p.add_argument("--threads", type=int, help="CPU threads (llama.cpp n_threads / torch threads; default theirs)")


def serve_command(args: argparse.Namespace) -> int:
    """Serve a model over /v1/models, /v1/chat/completions and /v1/completions (OpenAI format,
    non-streaming and streaming SSE), with the chat template the model was trained with.

    Backends: transformers (merged safetensors, or a GGUF dequantised by transformers), llama.cpp
    (a .gguf through llama-cpp-python, CPU), vllm (starts `vllm serve` on a GPU machine).
    auto: llama.cpp for a .gguf when installed, vllm for a folder on a CUDA machine with vLLM,
    else transformers. Stop with Ctrl-C.

    Example:  hanforge serve runs/sft/export --port 8000
              curl -s localhost:8000/v1/chat/completions -d '{"messages":[{"role":"user","content":"안녕하세요"}]}'
    """
    import os
    import tempfile
    from pathlib import Path

    from hanforge.serve import (
        build_backend,
        choose_backend,
        make_server,
        resolve_model,
        vllm_command,
    )

    model = resolve_model(args.model)
    if choose_backend(model["kind"], args.backend) == "vllm":
        name = args.name or Path(args.model).resolve().name
        cmd = vllm_command(
            model["path"],
            host=args.host,
            port=args.port,
            name=name,
            template=model["template"],
            chat_template_file=Path(tempfile.mkdtemp(prefix="hanforge-serve-")) / "alpaca-ko.jinja",
        )
        print("starting:", " ".join(cmd), flush=True)
        os.execvp(cmd[0], cmd)
    backend, description = build_backend(
        args.model, backend=args.backend, name=args.name, n_ctx=args.n_ctx, threads=args.threads
    )
    server = make_server(backend, host=args.host, port=args.port)
    host, port = server.server_address[:2]
    print(
        f"hanforge serve: {description}\n  model id {backend.name!r} at http://{host}:{port}/v1 "
        "(/models, /chat/completions, /completions); Ctrl-C stops",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
