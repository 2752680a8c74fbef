"""llama.cpp's own Hugging Face → GGUF converter, taken from the ``llama-cpp-python`` sdist on PyPI.

``convert_hf_to_gguf.py`` (with its ``conversion/`` package and ``gguf-py``) ships inside the
llama-cpp-python source distribution under ``vendor/llama.cpp/``. :func:`converter_dir` fetches
that sdist once with pip (``pip download --no-deps --no-binary :all:``; no build), extracts only
the converter files into a cache folder and returns it; later runs use the cache without network.
The cache folder is written under a temporary name and renamed when complete, so a killed fetch
never leaves a half converter that looks whole; processes that ask at the same time (parallel
test workers, two exports) wait on one lock file and the sdist is fetched once. The code is run, never imported into hanforge:
:func:`convert` starts it as a subprocess with the same Python.

``q4_k_m`` is not an outtype of the converter; :func:`quantize` calls llama.cpp's
``llama_model_quantize`` through the optional ``llama-cpp-python`` package (built from source;
``pip install 'hanforge[gguf]'``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from hanforge.errors import ExportError

#: The llama-cpp-python release whose converter hanforge is tested with (pinned so that a new
#: upstream converter never changes an export silently; override with ``version=``).
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
CONVERTER_OUTTYPES = ("f32", "f16", "bf16", "q8_0")
_VENDOR = "vendor/llama.cpp/"
_KEEP = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/", "LICENSE")


def cache_root() -> Path:
    """``$HANFORGE_CACHE``, else ``$XDG_CACHE_HOME/hanforge``, else ``~/.cache/hanforge``."""
    if os.environ.get("HANFORGE_CACHE"):
        return Path(os.environ["HANFORGE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hanforge"


def converter_dir(
    *, version: str = LLAMA_CPP_PYTHON_VERSION, cache: Path | None = None, download: bool = True, log=print
) -> Path:
    """The folder holding ``convert_hf_to_gguf.py`` of llama-cpp-python ``version``; fetch it if needed.

    Raises :class:`ExportError` when it is not cached and ``download`` is false or pip fails.
    """
    final = (cache or cache_root()) / "llama.cpp-converter" / version
    if _complete(final):
        return final
    if not download:
        raise ExportError(f"llama.cpp converter {version} is not cached in {final}; run once with network access")
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{version}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be fetching it: wait, then use its copy
        if _complete(final):
            return final
        _fetch(version, final, log=log)
    return final


def _complete(folder: Path) -> bool:
    return (folder / "convert_hf_to_gguf.py").is_file() and (folder / "COMPLETE").is_file()


def _fetch(version: str, final: Path, *, log) -> None:
    """pip download the sdist into a temporary folder next to ``final``; extract the converter; rename."""
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=f".{version}.tmp-") as tmp:
        tmp_path = Path(tmp)
        log(f"fetching llama.cpp's converter: pip download llama-cpp-python=={version} (sdist, no build)")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--quiet",
            f"llama-cpp-python=={version}",
            "-d",
            str(tmp_path / "sdist"),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        sdists = sorted((tmp_path / "sdist").glob("llama_cpp_python-*.tar.gz"))
        if proc.returncode != 0 or not sdists:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no sdist"]
            raise ExportError(f"could not fetch the llama-cpp-python {version} sdist with pip: {tail[0]}")
        staged = tmp_path / "converter"
        staged.mkdir()
        with tarfile.open(sdists[0]) as tar:
            for member in tar.getmembers():
                _, _, rel = member.name.partition("/")
                if not rel.startswith(_VENDOR):
                    continue
                rel = rel[len(_VENDOR) :]
                if not rel.startswith(_KEEP) or not (member.isfile() or member.isdir()):
                    continue
                member.name = rel
                tar.extract(member, staged, filter="data")
        if not (staged / "convert_hf_to_gguf.py").is_file():
            raise ExportError(f"{sdists[0].name} has no {_VENDOR}convert_hf_to_gguf.py")
        (staged / "COMPLETE").write_text(f"llama-cpp-python {version}\n", encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(staged, final)


def convert(model_dir: Path, outfile: Path, *, outtype: str, converter: Path, log=print) -> Path:
    """Run ``convert_hf_to_gguf.py model_dir --outtype outtype``; write ``outfile`` atomically.

    Errors of the converter become :class:`ExportError` with its last lines; an unknown BPE
    pre-tokenizer gets an explanation of what to do.
    """
    if outtype not in CONVERTER_OUTTYPES:
        raise ExportError(f"outtype {outtype!r}: the converter writes {', '.join(CONVERTER_OUTTYPES)}")
    tmp = outfile.with_name(f"{outfile.name}.tmp-{os.getpid()}")
    cmd = [
        sys.executable,
        str(converter / "convert_hf_to_gguf.py"),
        str(model_dir),
        "--outfile",
        str(tmp),
        "--outtype",
        outtype,
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(converter / "gguf-py"), str(converter)]),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    env.pop("NO_LOCAL_GGUF", None)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0 or not tmp.is_file():
            raise ExportError(_converter_failure(proc.stderr + proc.stdout, model_dir))
        os.replace(tmp, outfile)
    finally:
        tmp.unlink(missing_ok=True)
    return outfile


def _converter_failure(output: str, model_dir: Path) -> str:
    if "BPE pre-tokenizer was not recognized" in output:
        return (
            f"{model_dir}: llama.cpp does not know this byte-level BPE tokenizer's pre-tokenizer "
            "(its hash of a test string is not registered in convert_hf_to_gguf.py). A custom "
            "byte-level BPE needs a pre-tokenizer registered in llama.cpp (convert_hf_to_gguf_update.py "
            "and llama-vocab.cpp) before it can run there; SentencePiece tokenizers "
            "(hanforge tokenizer train) and BPEs extended with hanforge tokenizer extend from a known "
            "base convert as they are"
        )
    if "is not supported" in output:
        line = next((x for x in output.splitlines() if "is not supported" in x), "")
        return f"{model_dir}: llama.cpp's converter: {line.split(':', 2)[-1].strip()}"
    lines = [x for x in output.strip().splitlines() if x.strip()]
    return f"{model_dir}: llama.cpp's converter failed: " + " | ".join(lines[-3:])


def require_llama_cpp(what: str):
    """The ``llama_cpp`` module, or an :class:`ExportError` saying how to install it."""
    try:
        import llama_cpp
    except ImportError:
        raise ExportError(
            f"{what} needs llama.cpp itself: pip install 'hanforge[gguf]' (llama-cpp-python, built from "
            "source, ~10 min on 2 cores); GGUF f16 and q8_0 need only the converter"
        ) from None
    return llama_cpp


def quantize(source: Path, outfile: Path, *, kind: str = "q4_k_m") -> Path:
    """llama.cpp's own quantizer (``llama_model_quantize``) from a 16/32-bit GGUF to ``kind``."""
    llama_cpp = require_llama_cpp(f"GGUF {kind}")
    ftype = {
        "q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
        "q5_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M,
        "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0,
    }.get(kind)
    if ftype is None:
        raise ExportError(f"quantize: unknown kind {kind!r} (q4_k_m, q5_k_m, q4_0)")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = max(1, os.cpu_count() or 1)
    tmp = outfile.with_name(f"{outfile.name}.tmp-{os.getpid()}")
    try:
        rc = llama_cpp.llama_model_quantize(str(source).encode(), str(tmp).encode(), params)
        if rc != 0 or not tmp.is_file():
            raise ExportError(f"{source}: llama_model_quantize to {kind} failed (code {rc})")
        os.replace(tmp, outfile)
    finally:
        tmp.unlink(missing_ok=True)
    return outfile
