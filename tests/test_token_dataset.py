"""TokenShardDataset (zero-copy rows, labels/positions/masks) and ResumableSampler (exact resume)."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
import torch

from hanforge.errors import ShardError
from hanforge.shards import ResumableSampler, TokenShardDataset
from hanforge.shards.token_format import write_token_shards

SEQ_LEN = 32


@pytest.fixture(scope="module")
def split_set(tmp_path_factory):
    rng = np.random.default_rng(1)
    docs = [rng.integers(3, 300, int(rng.integers(1, 70))).tolist() for _ in range(120)]
    out = tmp_path_factory.mktemp("split")
    write_token_shards(
        ((d, None) for d in docs), output=out, seq_len=SEQ_LEN, vocab_size=300, eos_id=2, pad_id=0, rows_per_shard=25
    )
    return out, docs


@pytest.fixture(scope="module")
def sft_set(tmp_path_factory):
    rng = np.random.default_rng(2)
    examples = []
    for _ in range(60):
        n = int(rng.integers(4, 20))
        examples.append((rng.integers(3, 300, n).tolist(), [0] * (n // 2) + [1] * (n - n // 2)))
    out = tmp_path_factory.mktemp("sft")
    write_token_shards(
        examples,
        output=out,
        seq_len=SEQ_LEN,
        vocab_size=300,
        eos_id=2,
        pad_id=0,
        split_documents=False,
        rows_per_shard=10,
    )
    return out, examples


def test_items_are_int64_rows_with_positions_labels_and_masks(split_set):
    out, docs = split_set
    ds = TokenShardDataset(out)
    assert ds.seq_len == SEQ_LEN and ds.vocab_size == 300 and ds.manifest["num_rows"] == len(ds)
    flat = []
    for i in range(len(ds)):
        item = ds[i]
        assert set(item) == {"input_ids", "labels", "position_ids", "attention_mask"}
        for t in item.values():
            assert t.dtype == torch.int64 and t.shape == (SEQ_LEN,)
        lens = ds.doc_lens(i)
        row = ds.row(i)
        num_tokens = SEQ_LEN - row["num_pad"]
        starts = np.cumsum([0] + lens[:-1])
        expected_pos = np.concatenate([np.arange(n) for n in lens] + [np.arange(lens[-1], lens[-1] + row["num_pad"])])
        assert item["position_ids"].tolist() == expected_pos.tolist()
        labels = item["labels"].numpy()
        assert (labels[num_tokens:] == -100).all() and (item["attention_mask"][num_tokens:] == 0).all()
        assert (item["attention_mask"][:num_tokens] == 1).all()
        for s in starts[1:]:
            assert labels[s] == -100  # no target predicted across a document boundary
        keep = np.ones(SEQ_LEN, bool)
        keep[starts[1:]] = False
        keep[num_tokens:] = False
        assert (labels[keep] == item["input_ids"].numpy()[keep]).all()
        flat.extend(item["input_ids"][:num_tokens].tolist())
    assert flat == [t for d in docs for t in d + [2]]
    assert ds[-1]["input_ids"].tolist() == ds[len(ds) - 1]["input_ids"].tolist()
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_loss_mask_becomes_ignored_labels(sft_set):
    out, examples = sft_set
    ds = TokenShardDataset(out)
    masks = {tuple(ids + [2]): mask + [1] for ids, mask in examples}
    checked = 0
    for i in range(len(ds)):
        row, item = ds.row(i), ds[i]
        pos = 0
        for j, n in enumerate(ds.doc_lens(i)):
            seg = tuple(row["input_ids"][pos : pos + n].tolist())
            want = np.array(masks[seg])
            got = item["labels"][pos : pos + n].numpy()
            trained = want == 1
            if j > 0:
                trained[0] = False  # segment start: never a target
            assert (got[~trained] == -100).all() and (got[trained] == np.array(seg)[trained]).all()
            assert (item["position_ids"][pos : pos + n].numpy() == np.arange(n)).all()
            pos += n
            checked += 1
    assert checked == len(examples)


def test_rows_are_zero_copy_views_of_the_memory_map(split_set):
    out, _ = split_set
    ds = TokenShardDataset(out)
    before = pa.total_allocated_bytes()
    views = [ds.row(i)["input_ids"] for i in range(len(ds))]
    # token data is not read into Arrow's memory pool (only the small per-batch bool flags are)
    assert pa.total_allocated_bytes() - before < len(ds) * SEQ_LEN * 2 / 10
    assert all(not v.flags.owndata and not v.flags.writeable for v in views)
    buf = ds._shards[0].table.column("input_ids").chunk(0).values.buffers()[1]  # the mapped id buffer
    for v in views[:2]:
        assert buf.address <= v.__array_interface__["data"][0] < buf.address + buf.size
    clone = pickle.loads(pickle.dumps(ds))  # what a DataLoader worker gets
    assert clone._shards == {} and clone[3]["input_ids"].tolist() == ds[3]["input_ids"].tolist()


def test_import_of_hanforge_shards_does_not_import_torch():
    code = "import sys, hanforge.shards, hanforge.shards.token_format; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_dataset_refuses_incomplete_sets(tmp_path, split_set):
    with pytest.raises(ShardError, match="no manifest.json"):
        TokenShardDataset(tmp_path)


def test_sampler_covers_every_row_once_per_epoch_across_ranks():
    n = 103
    epochs = []
    for epoch in range(2):
        per_rank = []
        for rank in range(4):
            s = ResumableSampler(n, seed=9, rank=rank, world_size=4)
            s.set_epoch(epoch)
            per_rank.append(list(s))
        assert {len(x) for x in per_rank} == {26}
        merged = [i for x in per_rank for i in x]
        assert set(merged) == set(range(n)) and len(merged) == 104  # one index repeated as padding
        epochs.append(per_rank[0])
    assert epochs[0] != epochs[1]
    assert list(ResumableSampler(n, seed=9, shuffle=False)) == list(range(n))
    dropped = ResumableSampler(n, seed=9, rank=3, world_size=4, drop_last=True)
    assert len(list(dropped)) == 25


def test_sampler_resumes_mid_epoch_exactly():
    full = ResumableSampler(50, seed=4, rank=1, world_size=2)
    run = []
    for epoch in range(3):
        full.set_epoch(epoch)
        run.append(list(full))

    s = ResumableSampler(50, seed=4, rank=1, world_size=2)
    s.set_epoch(1)
    it = iter(s)
    head = [next(it) for _ in range(9)]
    state = s.state_dict()
    assert state["epoch"] == 1 and state["num_consumed"] == 9

    resumed = ResumableSampler(50, seed=4, rank=1, world_size=2)
    resumed.load_state_dict(state)
    resumed.set_epoch(1)  # what a training loop calls on restart: keeps the position
    assert len(resumed) == 25 - 9
    assert head + list(resumed) == run[1]
    resumed.set_epoch(2)
    assert list(resumed) == run[2]
    with pytest.raises(ShardError, match="world_size"):
        ResumableSampler(50, seed=4, rank=0, world_size=5).load_state_dict(state)


def test_sampler_with_a_dataloader_resumes_from_the_consumed_count(split_set):
    out, _ = split_set
    ds = TokenShardDataset(out)
    reference = [
        b["input_ids"] for b in torch.utils.data.DataLoader(ds, batch_size=4, sampler=ResumableSampler(ds, seed=1))
    ]
    sampler = ResumableSampler(ds, seed=1)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, sampler=sampler)
    seen = []
    for step, batch in enumerate(loader):
        seen.append(batch["input_ids"])
        if step == 2:
            state = sampler.state_dict(num_consumed=(step + 1) * 4)
            break
    sampler2 = ResumableSampler(ds, seed=1)
    sampler2.load_state_dict(state)
    seen += [b["input_ids"] for b in torch.utils.data.DataLoader(ds, batch_size=4, sampler=sampler2)]
    assert len(seen) == len(reference)
    assert all(torch.equal(a, b) for a, b in zip(seen, reference, strict=True))


def test_dataloader_workers_give_the_same_batches(split_set):
    out, _ = split_set
    ds = TokenShardDataset(out)
    batches = {}
    for workers in (0, 2):
        loader = torch.utils.data.DataLoader(
            ds, batch_size=5, sampler=ResumableSampler(ds, seed=3), num_workers=workers
        )
        batches[workers] = [b["input_ids"] for b in loader]
    assert len(batches[0]) == len(batches[2])
    assert all(torch.equal(a, b) for a, b in zip(batches[0], batches[2], strict=True))
