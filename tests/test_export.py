"""hanforge export / serve / deploy on a tiny model trained by hanforge train on CPU:

GGUF f16 and q8_0 through llama.cpp's own converter (fetched once from the llama-cpp-python sdist
on PyPI into a cache; the test is skipped only when PyPI cannot be reached), verified through
transformers' GGUF loader against the 16-bit source; the Korean SentencePiece vocabulary and the
Alpaca chat template survive conversion; a real HTTP chat completion in Korean on loopback; the
deployment files pass the Kubernetes schema and docker-compose."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request

import pytest
import torch
from train_helpers import (
    build_tiny_model,
    build_tokenizer_and_shards,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    tiny_config,
)

from hanforge.cli import main as cli_main
from hanforge.errors import ExportError
from hanforge.export import ExportOptions, export_run
from hanforge.export.chat_template import ALPACA_KO_CHAT_TEMPLATE
from hanforge.train.backend import load_tokenizer_for_training
from hanforge.train.data import alpaca_ko_prompt
from hanforge.train.trainer import train


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


def _start_converter_fetch() -> threading.Thread | None:
    """On a machine without the cached converter, start fetching it (a ~76 MB sdist, network-bound)
    as soon as this module is collected, so the download overlaps with the tests that run before
    these. A non-daemon thread: the interpreter waits for it at exit, so no pip is left behind;
    parallel workers share one lock file and one download (:func:`converter_dir`)."""
    from hanforge.export.llamacpp import converter_dir

    try:
        converter_dir(download=False)
        return None
    except ExportError:
        pass

    def fetch():
        try:
            converter_dir(log=lambda _: None)
        except ExportError:
            pass  # the fixture calls it again and reports (or skips when PyPI is unreachable)

    thread = threading.Thread(target=fetch, name="llama.cpp-converter-fetch")
    thread.start()
    return thread


_CONVERTER_FETCH = _start_converter_fetch()


@pytest.fixture(scope="session")
def converter():
    """llama.cpp's converter from the pinned llama-cpp-python sdist (cached after the first fetch)."""
    from hanforge.export.llamacpp import converter_dir

    if _CONVERTER_FETCH is not None:
        _CONVERTER_FETCH.join()
    try:
        return converter_dir(log=lambda _: None)
    except ExportError as exc:
        if not _pypi_reachable():
            pytest.skip(f"llama.cpp's converter is not cached and PyPI is unreachable: {exc}")
        raise


@pytest.fixture(scope="module")
def exported(tmp_path_factory, sample_html_files, converter):
    root = tmp_path_factory.mktemp("gguf")
    tok, _ = build_tokenizer_and_shards(root, sample_html_files)
    model = build_tiny_model(root / "model", vocab_size=len(load_tokenizer_for_training(str(tok))))
    config = tiny_config(
        output=root / "run",
        model_dir=model,
        tokenizer=tok,
        stage="sft",
        run={"batch_size": 4, "max_steps": 4},
        export={"adapter": False, "merged": True},
    )
    train(config, progress=False, log=lambda _: None)
    options = ExportOptions(formats=["merged", "f16", "q8_0"], verify_chars=1200, verify_window=96, deploy=True)
    manifest = export_run(root / "run", options=options, log=lambda _: None)
    return {"root": root, "model": model, "tok": tok, "manifest": manifest}


def test_gguf_f16_and_q8_0_agree_with_the_source(exported):
    formats = exported["manifest"]["formats"]
    assert set(formats) == {"merged", "f16", "q8_0"}
    f16, q8 = formats["f16"], formats["q8_0"]
    assert 0 < q8["bytes"] < f16["bytes"]
    src_bpc = formats["merged"]["verification"]["bits_per_char"]
    for entry in (f16, q8):
        v = entry["verification"]
        print(entry["path"], v)  # the per-format agreement, in the test log
        assert v["num_tokens"] > 50 and v["source_bits_per_char"] == pytest.approx(src_bpc)
        assert abs(v["bits_per_char_delta"]) < 0.02 and v["top1_agreement"] >= 0.95 and v["top5_overlap"] >= 0.9
    assert f16["verification"]["max_abs_logit_diff"] < 1e-2  # bf16 weights are exact in f16
    assert q8["verification"]["max_abs_logit_diff"] > 0  # q8_0 really is quantised
    on_disk = json.loads((exported["root"] / "run" / "export" / "export.json").read_text(encoding="utf-8"))
    assert on_disk["formats"]["q8_0"]["verification"] == q8["verification"]


def test_verification_fails_for_a_different_model(exported):
    """The same comparison against another random model disagrees: the check can fail."""
    from hanforge.export import verify as vf
    from hanforge.export.source import load_tokenizer

    q8 = exported["manifest"]["formats"]["q8_0"]["path"]
    tok = load_tokenizer(exported["tok"])
    windows, num_chars = vf.token_windows(tok, vf.korean_sample_text(max_chars=600), window=96)
    gguf = vf.transformers_scorer(q8.rsplit("/", 1)[0], gguf_file=q8.rsplit("/", 1)[1])
    model = build_tiny_model(exported["root"] / "other", vocab_size=len(tok), seed=1)
    other = vf.compare(vf.transformers_scorer(model), gguf, windows, num_chars=num_chars, name="other")
    # (tiny random models mostly predict the current token again, so top-1 agrees; top-5 does not)
    assert other.max_abs_logit_diff > 0.5 and other.top5_overlap < 0.5 and other.mean_kl_nats > 0.01


def test_korean_vocabulary_and_training_template_are_in_the_gguf(exported):
    from gguf import GGUFReader

    from hanforge.export.source import load_tokenizer
    from hanforge.export.verify import gguf_vocab_mismatches

    tok = load_tokenizer(exported["tok"])
    for fmt in ("f16", "q8_0"):
        path = exported["manifest"]["formats"][fmt]["path"]
        assert gguf_vocab_mismatches(path, tok) == []
        fields = GGUFReader(path).fields
        text = bytes(fields["tokenizer.chat_template"].parts[-1]).decode("utf-8")
        assert text == ALPACA_KO_CHAT_TEMPLATE
        assert bool(fields["tokenizer.ggml.add_bos_token"].parts[-1][0]) is False  # as the tokenizer behaves
    assert any("\uac00" <= ch <= "\ud7a3" for t in tok.get_vocab() for ch in t)


def test_alpaca_chat_template_renders_the_training_prompt(exported):
    from hanforge.export.source import load_tokenizer

    tok = load_tokenizer(exported["tok"])
    render = lambda msgs: tok.apply_chat_template(  # noqa: E731 - a one-line stand-in
        msgs, chat_template=ALPACA_KO_CHAT_TEMPLATE, tokenize=False, add_generation_prompt=True
    )
    assert render([{"role": "user", "content": "한국의 수도는? "}]) == alpaca_ko_prompt("한국의 수도는?")
    two = render(
        [
            {"role": "system", "content": "친절하게"},
            {"role": "user", "content": "안녕"},
            {"role": "assistant", "content": "안녕하세요"},
            {"role": "user", "content": "고마워"},
        ]
    )
    assert two == ("### 지시사항:\n친절하게\n\n안녕\n\n### 응답:\n안녕하세요</s>\n\n" + alpaca_ko_prompt("고마워"))


def _request(port: int, path: str, body: dict | None = None) -> tuple[int, str]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8")


def test_serve_answers_a_korean_chat_completion_over_http(exported):
    from transformers import AutoModelForCausalLM

    from hanforge.serve import build_backend, make_server

    backend, _ = build_backend(exported["root"] / "run" / "export", backend="transformers", name="tiny-ko")
    server = make_server(backend, host="127.0.0.1", port=0)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        status, body = _request(port, "/v1/models")
        assert status == 200 and json.loads(body)["data"][0]["id"] == "tiny-ko"
        question = "데비안에서 패키지를 설치하는 명령을 알려 주세요."
        status, body = _request(
            port,
            "/v1/chat/completions",
            {"model": "tiny-ko", "messages": [{"role": "user", "content": question}], "max_tokens": 8},
        )
        assert status == 200, body
        reply = json.loads(body)
        # the same prompt (Alpaca, as trained) through transformers' own greedy generate
        tok = backend.tokenizer
        ids = tok(alpaca_ko_prompt(question), add_special_tokens=True)["input_ids"]
        model = AutoModelForCausalLM.from_pretrained(str(backend_path(exported)), dtype=torch.float32).eval()
        out = model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False, pad_token_id=tok.eos_token_id)
        new = out[0, len(ids) :].tolist()
        expected = tok.decode([t for t in new if t != tok.eos_token_id], skip_special_tokens=True)
        assert reply["object"] == "chat.completion" and reply["model"] == "tiny-ko"
        assert reply["choices"][0]["message"] == {"role": "assistant", "content": expected}
        assert reply["usage"]["prompt_tokens"] == len(ids)
        assert reply["usage"]["completion_tokens"] == len([t for t in new if t != tok.eos_token_id])
        status, body = _request(
            port,
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": question}], "max_tokens": 8, "stream": True},
        )
        events = [x.removeprefix("data: ") for x in body.split("\n\n") if x.startswith("data: ")]
        assert status == 200 and events[-1] == "[DONE]"
        streamed = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
        assert streamed == expected
        status, body = _request(port, "/v1/chat/completions", {"messages": "안녕"})
        assert status == 400 and "messages" in json.loads(body)["error"]["message"]
        assert _request(port, "/v1/nothing")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_llama_cpp_q4_k_m_and_serving_a_korean_chat(exported, tmp_path):
    """q4_k_m by llama.cpp's own quantizer, verified in llama.cpp and transformers; the f16 GGUF
    scored by llama.cpp's kernels agrees with the source; ``hanforge serve --backend llama.cpp``
    answers a Korean chat over loopback with the training (Alpaca) template from the GGUF."""
    pytest.importorskip(
        "llama_cpp",
        reason="llama-cpp-python (hanforge[gguf], compiled from source, 10+ min) is not installed: "
        "CI does not build it; run this test where it is",
    )
    from hanforge.export import verify as vf
    from hanforge.export.source import load_tokenizer
    from hanforge.serve import build_backend, make_server

    run = exported["root"] / "run"
    options = ExportOptions(formats=["q4_k_m"], verify_chars=1200, verify_window=96, verify_llama_cpp=True)
    manifest = export_run(run, output=tmp_path / "q4", options=options, log=lambda _: None)
    q4 = manifest["formats"]["q4_k_m"]
    assert set(manifest["formats"]) == {"q4_k_m"} and not (tmp_path / "q4" / "gguf" / "model-f16.gguf").exists()
    assert 0 < q4["bytes"] < exported["manifest"]["formats"]["f16"]["bytes"]
    for key in ("verification", "verification_llama_cpp"):
        v = q4[key]
        print(key, v)
        assert v["num_tokens"] > 50 and abs(v["bits_per_char_delta"]) < 0.1 and v["top5_overlap"] >= 0.8
        assert v["max_abs_logit_diff"] > 0  # really quantised
    # llama.cpp's own kernels on the f16 file follow the source
    tok = load_tokenizer(exported["tok"])
    windows, num_chars = vf.token_windows(tok, vf.korean_sample_text(max_chars=600), window=96)
    f16 = exported["manifest"]["formats"]["f16"]["path"]
    lc = vf.compare(
        vf.transformers_scorer(run / "merged"),
        vf.llama_cpp_scorer(f16, n_ctx=96),
        windows,
        num_chars=num_chars,
        name="f16",
    )
    assert lc.top1_agreement >= 0.95 and lc.max_abs_logit_diff < 0.1 and abs(lc.bits_per_char_delta) < 0.01

    backend, description = build_backend(q4["path"], backend="llama.cpp", name="tiny-ko-q4", n_ctx=256)
    assert description.startswith("llama.cpp")
    server = make_server(backend, host="127.0.0.1", port=0)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        question = "데비안에서 패키지를 설치하는 명령을 알려 주세요."
        body = {"messages": [{"role": "user", "content": question}], "max_tokens": 8}
        status, text = _request(port, "/v1/chat/completions", body)
        assert status == 200, text
        reply = json.loads(text)
        # the same greedy continuation of the Alpaca training prompt, straight from llama.cpp
        backend.llm.reset()
        direct = backend.llm.create_completion(prompt=alpaca_ko_prompt(question), max_tokens=8, temperature=0.0)
        prompt_ids = backend.llm.tokenize(alpaca_ko_prompt(question).encode("utf-8"), special=True)
        assert reply["model"] == "tiny-ko-q4" and reply["object"] == "chat.completion"
        assert reply["choices"][0]["message"]["content"] == direct["choices"][0]["text"]
        assert reply["usage"]["prompt_tokens"] == len(prompt_ids) == direct["usage"]["prompt_tokens"]
        status, text = _request(port, "/v1/chat/completions", {**body, "stream": True})
        events = [x.removeprefix("data: ") for x in text.split("\n\n") if x.startswith("data: ")]
        assert status == 200 and events[-1] == "[DONE]"
        streamed = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
        assert streamed == reply["choices"][0]["message"]["content"]
        assert _request(port, "/v1/chat/completions", {"messages": []})[0] == 400
    finally:
        server.shutdown()
        server.server_close()


def backend_path(exported):
    return exported["root"] / "run" / "merged"


def test_deploy_files_are_valid_and_validation_can_fail(exported, tmp_path):
    from hanforge.export.deploy import validate_deploy

    deploy = exported["manifest"]["deploy"]
    assert deploy["backend"] == "llama.cpp"
    assert "valid against the Kubernetes" in deploy["validation"]["k8s.yaml"]
    folder = exported["root"] / "run" / "export" / "deploy"
    assert "llama_cpp.server" in (folder / "Dockerfile").read_text(encoding="utf-8")
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("Dockerfile", "docker-compose.yml"):
        (bad / name).write_text((folder / name).read_text(encoding="utf-8"), encoding="utf-8")
    (bad / "k8s.yaml").write_text(
        (folder / "k8s.yaml")
        .read_text(encoding="utf-8")
        .replace("containerPort: 8000", "containerPort: eight-thousand"),
        encoding="utf-8",
    )
    with pytest.raises(ExportError, match="Kubernetes schema"):
        validate_deploy(bad)


def test_export_cli_errors_are_one_line(exported, tmp_path, capsys):
    assert cli_main(["export", str(tmp_path / "missing")]) == 2
    assert "no such run or model folder" in capsys.readouterr().err
    if torch.cuda.is_available():
        pytest.skip("bnb-4bit works on CUDA")
    run = exported["root"] / "run"
    assert cli_main(["export", str(run), "--formats", "bnb-4bit", "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "needs a CUDA GPU" in err
    assert cli_main(["export", str(run), "--formats", "f16,q5"]) == 2
    assert "formats" in capsys.readouterr().err
