"""``hanforge tokenizer train --pretokenize morphemes``: pieces learned inside morphemes only."""

from __future__ import annotations

import sys

import pytest
import sentencepiece as spm
from token_helpers import sample_texts, train_tiny_tokenizer, write_text_shards

from hanforge.cli import main as cli_main
from hanforge.errors import ConfigError
from hanforge.tokenizer import morpheme_split
from hanforge.tokenizer.morpheme_split import DELIMITER, align, mark_morphemes
from hanforge.tokenizer.train import TokenizerTrainConfig, iter_shard_texts, train_tokenizer


def test_align_finds_konlpy_forms_as_written():
    # Komoran's 공부했다 -> 공부 하 았 다: 하/았 are not in the line and give no boundary.
    assert align("공부했다", ["공부", "하", "았", "다"]) == [0, 3]
    assert align("학교에서 공부", ["학교", "에서", "공부"]) == [0, 2, 5]
    assert align("abc", ["x", "", " "]) == []


def test_mark_puts_delimiters_only_inside_eojeols(monkeypatch):
    monkeypatch.setattr(morpheme_split, "_starts", lambda name: lambda line: [0, 2, 4, 5, 7, 8])
    line = "학교에서 공부했다"
    assert mark_morphemes(line) == f"학교{DELIMITER}에서 공부{DELIMITER}했{DELIMITER}다"
    assert mark_morphemes(f"a{DELIMITER}b") == "ab"  # a delimiter in the text itself is removed first


def test_config_and_missing_analyzer_are_one_line_errors(monkeypatch, tmp_path, capsys):
    with pytest.raises(ConfigError, match="pretokenize"):
        TokenizerTrainConfig(pretokenize="words").validate()
    with pytest.raises(ConfigError, match="morpheme_analyzer"):
        TokenizerTrainConfig(pretokenize="morphemes", morpheme_analyzer="mecab").validate()
    monkeypatch.setitem(sys.modules, "kiwipiepy", None)  # import kiwipiepy -> ImportError
    morpheme_split._starts.cache_clear()
    shards = write_text_shards(tmp_path / "in", [("s", "학교에서 공부했다")], num_shards=1)
    try:
        rc = cli_main(
            ["tokenizer", "train", str(shards), "--output", str(tmp_path / "tok"), "--pretokenize", "morphemes"]
        )
    finally:
        morpheme_split._starts.cache_clear()
        err = capsys.readouterr().err.strip()
    assert rc == 2 and "kiwipiepy is not installed" in err and "hanforge[korean]" in err and "\n" not in err


def test_morpheme_pieces_never_cross_a_kiwi_boundary(sample_html_files, tmp_path):
    pytest.importorskip("kiwipiepy", reason="kiwipiepy is in the korean extra (pip install 'hanforge[korean]')")
    docs = sample_texts(sample_html_files)
    docs = [d for d in docs if d[0] == "debian-faq"] or docs  # prose; Kiwi on all of it costs ~1 s of CPU
    shards = write_text_shards(tmp_path / "train", docs, num_shards=1)
    default = train_tiny_tokenizer(shards, tmp_path / "default", vocab_size=1200)
    config = TokenizerTrainConfig(vocab_size=1200, ksx1001_syllables=False, pretokenize="morphemes")
    manifest = train_tokenizer(inputs=[shards], output=tmp_path / "morph", config=config)
    assert manifest["method"] == "sentencepiece-bpe+kiwi-morphemes" and manifest["num_morpheme_cuts"] > 500

    # Kiwi's segments of the training text (between delimiters and whitespace), one string.
    lines = [line for _, text in iter_shard_texts([shards]) for line in text.split("\n") if line.strip()]
    marked = [mark_morphemes(line) for line in lines]
    assert [m.replace(DELIMITER, "") for m in marked] == lines  # boundaries only, text unchanged
    segments = "\n".join(seg for m in marked for seg in m.replace(DELIMITER, " ").split())

    def crossing(folder):
        sp = spm.SentencePieceProcessor(model_file=str(folder / "sentencepiece.model"))
        pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if sp.is_unused(i) or not sp.is_control(i)]
        words = [p.replace("▁", " ").strip() for p in pieces if not p.startswith("<")]
        return [w for w in words if len(w) > 1 and " " not in w and w not in segments]

    assert crossing(default)  # e.g. 있습니다 (있 + 습니다) learned as one piece
    assert crossing(tmp_path / "morph") == []
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "morph" / "sentencepiece.model"))
    assert sp.decode(sp.encode("학교에서 공부했다")) == "학교에서 공부했다"  # raw text, no analyzer needed
