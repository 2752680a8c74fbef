"""``hanforge export --deploy``: Dockerfile, docker-compose.yml and a Kubernetes manifest.

Two servers: **llama.cpp** (llama-cpp-python's OpenAI server on a GGUF, CPU) and **vLLM** (its
OpenAI server on the merged safetensors, one NVIDIA GPU). The image holds only the server; the
weights are mounted read-only (a bind mount in compose, a PersistentVolumeClaim in Kubernetes), so
one image serves every export. Both images answer ``/v1/models`` and ``/v1/chat/completions``
with the template the model was trained with (written into the GGUF for llama.cpp, passed as
``--chat-template`` to vLLM). Health checks: ``GET /v1/models`` (llama.cpp server) and
``GET /health`` (vLLM).

Resource requests come from the model size: memory = weights + KV cache for ``context`` tokens
(from config.json: layers × 2 × kv-heads × head-dim × 2 bytes per token) + 1 GiB of runtime,
limit 1.5x; vLLM also requests ``nvidia.com/gpu: 1``.

:func:`validate_deploy` checks what can be checked here: every YAML parses, the Kubernetes
objects validate against the Kubernetes JSON schema (kubernetes-validate, offline, strict), and
``docker-compose config`` (Debian's docker-compose) accepts the compose file when installed. The
Dockerfile has no offline validator here; it is built by ``docker build`` on the user's machine.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

from hanforge.errors import ExportError
from hanforge.export.chat_template import ALPACA_KO_CHAT_TEMPLATE
from hanforge.export.llamacpp import LLAMA_CPP_PYTHON_VERSION

PORT = 8000
KUBERNETES_VERSION = "1.33.0"
VLLM_IMAGE = "vllm/vllm-openai:v0.11.0"  # pin the tag you have tested; vLLM's CLI changes between releases
GIB = 1 << 30


def kv_cache_bytes(model_dir: Path, context: int) -> int:
    """Bytes of an f16 KV cache for ``context`` tokens (0 if config.json does not say)."""
    cfg_path = model_dir / "config.json"
    if not cfg_path.is_file():
        return 0
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    layers = cfg.get("num_hidden_layers", 0)
    heads = cfg.get("num_attention_heads", 1)
    kv_heads = cfg.get("num_key_value_heads", heads)
    head_dim = cfg.get("head_dim") or cfg.get("hidden_size", 0) // max(1, heads)
    return context * layers * 2 * kv_heads * head_dim * 2


def _mi(n_bytes: float) -> str:
    return f"{math.ceil(n_bytes / (1 << 20))}Mi"


def _yaml(obj) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, width=120)


def _dns_name(name: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return (out or "model")[:50]


def write_deploy(
    manifest: dict, *, output: Path, backend: str = "llama.cpp", context: int = 4096, name: str | None = None
) -> dict:
    """Write the three files for ``manifest`` (an export.json dict) under ``output``; validate them."""
    source = Path(manifest["source"])
    name = _dns_name(name or (Path(manifest["run"]).name if manifest.get("run") else source.name))
    formats = manifest["formats"]
    output.mkdir(parents=True, exist_ok=True)
    kv = kv_cache_bytes(source, context)
    if backend == "llama.cpp":
        gguf = next((formats[f] for f in ("q4_k_m", "q8_0", "f16") if f in formats), None)
        if gguf is None:
            raise ExportError("--deploy with llama.cpp needs a GGUF export (f16, q8_0 or q4_k_m)")
        weights = Path(gguf["path"])
        model_mount, model_file = weights.parent, f"/models/{weights.name}"
        weight_bytes = gguf["bytes"]
        dockerfile = _llama_cpp_dockerfile(model_file, name=name, context=context)
        health_path = "/v1/models"
    elif backend == "vllm":
        model_mount, model_file = source, "/models"
        weight_bytes = sum(p.stat().st_size for p in source.glob("*.safetensors"))
        if manifest["template"] == "alpaca-ko":
            (output / "chat_template.jinja").write_text(ALPACA_KO_CHAT_TEMPLATE, encoding="utf-8")
        dockerfile = _vllm_dockerfile(name=name, context=context, alpaca=manifest["template"] == "alpaca-ko")
        health_path = "/health"
    else:
        raise ExportError(f"deploy backend {backend!r}: choose llama.cpp or vllm")
    request = weight_bytes + kv + GIB
    resources = {"requests": {"cpu": "2", "memory": _mi(request)}, "limits": {"cpu": "4", "memory": _mi(request * 1.5)}}
    if backend == "vllm":
        resources["requests"]["nvidia.com/gpu"] = 1
        resources["limits"]["nvidia.com/gpu"] = 1
    files = {
        "dockerfile": output / "Dockerfile",
        "compose": output / "docker-compose.yml",
        "kubernetes": output / "k8s.yaml",
    }
    files["dockerfile"].write_text(dockerfile, encoding="utf-8")
    files["compose"].write_text(
        _compose(
            name=name, model_mount=model_mount, health_path=health_path, resources=resources, gpu=backend == "vllm"
        ),
        encoding="utf-8",
    )
    files["kubernetes"].write_text(
        _kubernetes(name=name, health_path=health_path, resources=resources, storage=_mi(weight_bytes * 1.2 + GIB)),
        encoding="utf-8",
    )
    result = {
        "backend": backend,
        "name": name,
        "memory_request": resources["requests"]["memory"],
        "files": {k: str(v) for k, v in files.items()},
    }
    result["validation"] = validate_deploy(output)
    return result


def _healthcheck_cmd(path: str) -> str:
    return f"python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}{path}', timeout=4)\""


def _llama_cpp_dockerfile(model_file: str, *, name: str, context: int) -> str:
    return f"""# Written by hanforge export --deploy: llama.cpp's OpenAI-compatible server (llama-cpp-python).
# Build: docker build -t hanforge-{name} .   The GGUF is mounted at /models (see docker-compose.yml);
# its chat template (the one the model was trained with) is read from the GGUF itself.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \\
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir 'llama-cpp-python[server]=={LLAMA_CPP_PYTHON_VERSION}'
EXPOSE {PORT}
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 CMD {_healthcheck_cmd("/v1/models")}
CMD ["python3", "-m", "llama_cpp.server", "--model", "{model_file}", "--model_alias", "{name}", \\
     "--host", "0.0.0.0", "--port", "{PORT}", "--n_ctx", "{context}"]
"""


def _vllm_dockerfile(*, name: str, context: int, alpaca: bool) -> str:
    template = "COPY chat_template.jinja /templates/chat_template.jinja\n" if alpaca else ""
    args = [
        "--model",
        "/models",
        "--served-model-name",
        name,
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--max-model-len",
        str(context),
    ]
    if alpaca:
        args += ["--chat-template", "/templates/chat_template.jinja"]
    return f"""# Written by hanforge export --deploy: vLLM's OpenAI-compatible server on one NVIDIA GPU.
# Build: docker build -t hanforge-{name} .   The merged safetensors are mounted at /models.
FROM {VLLM_IMAGE}
{template}EXPOSE {PORT}
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 CMD {_healthcheck_cmd("/health")}
ENTRYPOINT ["python3", "-m", "vllm.entrypoints.openai.api_server"]
CMD {json.dumps(args)}
"""


def _compose(*, name: str, model_mount: Path, health_path: str, resources: dict, gpu: bool) -> str:
    service: dict = {
        "build": {"context": "."},
        "image": f"hanforge-{name}:latest",
        "ports": [f"{PORT}:{PORT}"],
        "volumes": [f"{model_mount.resolve()}:/models:ro"],
        "healthcheck": {
            "test": ["CMD-SHELL", _healthcheck_cmd(health_path)],
            "interval": "30s",
            "timeout": "5s",
            "retries": 3,
            "start_period": "300s" if gpu else "120s",
        },
        "mem_limit": resources["limits"]["memory"].replace("Mi", "m"),
        "restart": "unless-stopped",
    }
    if gpu:
        service["deploy"] = {
            "resources": {"reservations": {"devices": [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]}}
        }
        service["ipc"] = "host"
    return "# Written by hanforge export --deploy.  docker compose up -d --build\n" + _yaml(
        {"version": "3.8", "services": {name: service}}
    )


def _kubernetes(*, name: str, health_path: str, resources: dict, storage: str) -> str:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "hanforge"}
    probe = {"httpGet": {"path": health_path, "port": PORT}, "periodSeconds": 15, "timeoutSeconds": 5}
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": f"{name}-model", "labels": labels},
        "spec": {"accessModes": ["ReadOnlyMany"], "resources": {"requests": {"storage": storage}}},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": f"hanforge-{name}:latest",
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"containerPort": PORT, "name": "http"}],
                            "resources": resources,
                            "volumeMounts": [{"name": "model", "mountPath": "/models", "readOnly": True}],
                            "startupProbe": {**probe, "failureThreshold": 40},
                            "readinessProbe": probe,
                            "livenessProbe": {**probe, "failureThreshold": 4},
                        }
                    ],
                    "volumes": [
                        {"name": "model", "persistentVolumeClaim": {"claimName": f"{name}-model", "readOnly": True}}
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]},
    }
    head = (
        "# Written by hanforge export --deploy.  Copy the model files into the PVC "
        f"{name}-model, load the image hanforge-{name}:latest, then: kubectl apply -f k8s.yaml\n"
    )
    return head + "---\n".join(_yaml(d) for d in (pvc, deployment, service))


def validate_deploy(folder: Path) -> dict[str, str]:
    """Check the deployment files with the tools available here; ``{file: result}``."""
    import yaml

    results: dict[str, str] = {}
    docs = list(yaml.safe_load_all((folder / "k8s.yaml").read_text(encoding="utf-8")))
    try:
        import kubernetes_validate
        from kubernetes_validate.utils import SchemaNotFoundError, ValidationError
    except ImportError:
        results["k8s.yaml"] = (
            f"YAML parses ({len(docs)} objects); kubernetes-validate not installed: schema not checked"
        )
    else:
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except (ValidationError, SchemaNotFoundError) as exc:
                raise ExportError(f"{folder / 'k8s.yaml'}: {doc['kind']} fails the Kubernetes schema: {exc}") from None
        results["k8s.yaml"] = f"{len(docs)} objects valid against the Kubernetes {KUBERNETES_VERSION} schema (strict)"
    compose = yaml.safe_load((folder / "docker-compose.yml").read_text(encoding="utf-8"))
    tool = shutil.which("docker-compose")
    if tool:
        proc = subprocess.run(
            [tool, "-f", str(folder / "docker-compose.yml"), "config", "-q"],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ExportError(f"{folder / 'docker-compose.yml'}: docker-compose config: {proc.stderr.strip()}")
        results["docker-compose.yml"] = "accepted by docker-compose config"
    else:
        results["docker-compose.yml"] = (
            f"YAML parses ({len(compose['services'])} service); docker-compose not "
            "installed here: not checked by the tool"
        )
    results["Dockerfile"] = "not validated here (no offline Dockerfile checker); docker build checks it"
    return results
