"""From a trained model to files other runtimes load: merged 16-bit safetensors, bitsandbytes
4-bit, GGUF (f16, q8_0, q4_k_m via llama.cpp's own tools), each verified against its source, and
deployment files for a llama.cpp or vLLM server. ``hanforge export`` calls :func:`export_run`."""

from hanforge.export.runner import ExportOptions, export_run, format_export_summary

__all__ = ["ExportOptions", "export_run", "format_export_summary"]
