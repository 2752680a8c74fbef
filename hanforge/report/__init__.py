"""``hanforge report``: one self-contained HTML page about an output folder, or two side by side.

``output_folder`` opens any output of run/dedup/mix/tokenize, ``aggregate`` computes every number
with Polars lazy scans, ``samples`` picks example documents by limited scans, ``charts`` draws
inline SVG and ``page`` writes the HTML.
"""

from hanforge.report.page import build_report

__all__ = ["build_report"]
