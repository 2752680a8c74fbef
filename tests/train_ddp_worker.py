"""One rank of tests/test_train_ddp.py, launched by ``torchrun --standalone --nproc_per_node 2``.

Reads a JSON spec (two TrainConfig tables: ``whole`` and ``parts``, and ``stop``), then on every
rank: trains ``whole``; trains ``parts`` for ``stop`` steps (checkpoint) and again to the end
(resume); writes the first row indices its training dataloader yields to ``rows-rank<R>.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from hanforge.train.config import TrainConfig
from hanforge.train.trainer import build_trainer, train


def main() -> None:
    torch.set_num_threads(1)
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    whole, parts = TrainConfig.from_table(spec["whole"]), TrainConfig.from_table(spec["parts"])
    quiet = {"progress": False, "log": lambda _: None}
    results = {"whole": train(whole, **quiet).to_dict()}
    results["first"] = train(parts, max_steps_this_run=spec["stop"], **quiet).to_dict()
    results["second"] = train(parts, **quiet).to_dict()
    rank = int(os.environ["RANK"])
    built = build_trainer(whole.merge({"output": spec["probe"]}), **quiet)
    loader = built.trainer.get_train_dataloader()
    rows = [int(i) for _, i in zip(range(spec["num_rows"]), iter(loader.sampler), strict=False)]
    results["world_size"] = built.trainer.args.world_size
    results["rows"] = rows
    Path(spec["out"], f"rank{rank}.json").write_text(json.dumps(results), encoding="utf-8")


if __name__ == "__main__":
    main()
