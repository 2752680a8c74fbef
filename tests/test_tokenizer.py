"""Tokenizer train / extend / report on the embedded sample (tiny vocabularies, no downloads)."""

from __future__ import annotations

import json

import pytest
import sentencepiece as spm
from token_helpers import english_lines, sample_texts, train_tiny_tokenizer, write_text_shards
from transformers import AutoTokenizer

from hanforge.cli import main as cli_main
from hanforge.errors import ConfigError, InputError
from hanforge.tokenizer.extend import extend_tokenizer
from hanforge.tokenizer.load import load_tokenizer
from hanforge.tokenizer.report import classify_line, held_out_lines, tokenizer_report
from hanforge.tokenizer.train import TokenizerTrainConfig


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, sample_html_files):
    root = tmp_path_factory.mktemp("tok")
    docs = sample_texts(sample_html_files)
    train, held = docs[: len(docs) * 3 // 4], docs[len(docs) * 3 // 4 :]
    english = [("english", line) for line in english_lines([t for _, t in train])]
    shards = write_text_shards(root / "train", train, num_shards=2)
    held_shards = write_text_shards(root / "held", held, num_shards=1)
    en_shards = write_text_shards(root / "english", english, num_shards=1)
    tok = train_tiny_tokenizer(shards, root / "tok", vocab_size=1200)
    return {"root": root, "train": shards, "held": held_shards, "english": en_shards, "tok": tok}


def test_trained_tokenizer_matches_sentencepiece_and_round_trips(corpus):
    sp = spm.SentencePieceProcessor(model_file=str(corpus["tok"] / "sentencepiece.model"))
    hf = AutoTokenizer.from_pretrained(corpus["tok"])
    lines = held_out_lines([corpus["held"]])
    assert len(lines["ko"]) > 100 and len(lines["en"]) > 20
    for line in lines["ko"] + lines["en"]:
        ids = hf.encode(line, add_special_tokens=False)
        assert ids == sp.encode(line)
        assert hf.decode(ids) == line
    assert hf.eos_token == "</s>" and hf.bos_token == "<s>" and len(hf) == 1200
    for symbol in ("<한국어>", "<영어>", "<코드>"):
        assert len(hf.encode(f"{symbol} 안녕", add_special_tokens=False)) >= 2
        assert hf.convert_ids_to_tokens(hf.encode(symbol, add_special_tokens=False)) == [symbol]
    emoji = hf.encode("😀", add_special_tokens=False)  # unseen: byte fallback, never <unk>
    assert hf.unk_token_id not in emoji and hf.decode(emoji) == "😀"
    manifest = json.loads((corpus["tok"] / "manifest.json").read_text())
    assert manifest["kind"] == "tokenizer" and manifest["config"]["character_coverage"] == 0.9995
    assert manifest["num_lines"] > 0 and set(manifest["inputs"]) == {
        "train/shards/part-0.parquet",
        "train/shards/part-1.parquet",
    }


def test_training_is_deterministic_and_validates_config(corpus, tmp_path):
    again = train_tiny_tokenizer(corpus["train"], tmp_path / "again", vocab_size=1200)
    for name in ("sentencepiece.model", "tokenizer.json", "tokenizer_config.json", "manifest.json"):
        assert (again / name).read_bytes() == (corpus["tok"] / name).read_bytes(), name
    with pytest.raises(ConfigError, match="character_coverage"):
        TokenizerTrainConfig.from_table({"character_coverage": 0.5})
    with pytest.raises(ConfigError, match="vocab_size"):
        TokenizerTrainConfig.from_table({"vocab_size": 10})


def test_extend_adds_korean_tokens_and_keeps_english_unchanged(corpus, tmp_path):
    base = train_tiny_tokenizer(corpus["english"], tmp_path / "en-base", vocab_size=600)
    out = tmp_path / "extended"
    manifest = extend_tokenizer(base=base, inputs=[corpus["train"]], output=out, num_new_tokens=300)
    new = json.loads((out / "new_tokens.json").read_text())
    base_tok, ext_tok = load_tokenizer(base).tokenizer, load_tokenizer(out).tokenizer
    assert manifest["num_added_tokens"] == len(new) == 300
    assert [t["id"] for t in new] == list(range(600, 900)) and ext_tok.get_vocab_size() == 900
    for t in new:
        assert ext_tok.token_to_id(t["token"]) == t["id"]
        assert any("\uac00" <= c <= "\ud7a3" for c in t["text"])
        assert t["base_ids"] and all(i < 600 for i in t["base_ids"])
        assert base_tok.decode(t["base_ids"]) == t["text"]  # the base pieces spell the same text
    lines = held_out_lines([corpus["held"]])
    for line in lines["en"]:  # no Hangul: old merges win, nothing changes
        assert ext_tok.encode(line).ids == base_tok.encode(line).ids
    ko_base = sum(len(base_tok.encode(x).ids) for x in lines["ko"])
    ko_ext = sum(len(ext_tok.encode(x).ids) for x in lines["ko"])
    assert ko_ext < 0.8 * ko_base
    for line in lines["ko"]:
        assert ext_tok.decode(ext_tok.encode(line).ids) == line
    with pytest.raises(InputError, match="no Korean lines"):
        extend_tokenizer(base=base, inputs=[corpus["english"]], output=tmp_path / "x", num_new_tokens=5)


def test_report_compares_korean_and_english_chars_per_token(corpus, tmp_path, capsys):
    base = train_tiny_tokenizer(corpus["english"], tmp_path / "en-base", vocab_size=600)
    rows = tokenizer_report(inputs=[corpus["held"]], tokenizers=[corpus["tok"], base])
    ko_trained, ko_english_only = rows[0]["ko_chars_per_token"], rows[1]["ko_chars_per_token"]
    assert ko_trained > ko_english_only  # the Korean-trained tokenizer packs more Korean per token
    for r in rows:
        assert r["ko_chars_per_token"] == pytest.approx(r["ko_chars"] / r["ko_tokens"])
    assert classify_line("데비안은 무엇인가요?") == "ko"
    assert classify_line("This is an untranslated English sentence.") == "en"
    assert classify_line("12345 -- ##") is None
    code = cli_main(
        [
            "tokenizer",
            "report",
            str(corpus["held"]),
            "--tokenizer",
            str(corpus["tok"]),
            str(base),
            "--json",
            str(tmp_path / "r.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "ko chars/token" in out and "en-base" in out
    assert json.loads((tmp_path / "r.json").read_text())[0]["ko_tokens"] == rows[0]["ko_tokens"]


def test_ksx1001_syllables_are_required_characters(corpus, tmp_path):
    from hanforge.tokenizer.train import TokenizerTrainConfig, ksx1001_syllables, train_tokenizer

    syllables = ksx1001_syllables()
    assert len(syllables) == len(set(syllables)) == 2350
    assert syllables[0] == "가" and syllables[-1] == "힝" and "민" in syllables and "젝" in syllables
    assert syllables.encode("euc-kr").decode("euc-kr") == syllables and "똠" not in syllables  # 똠: not KS X 1001
    out = tmp_path / "tok-ks"
    train_tokenizer(inputs=[corpus["train"]], output=out, config=TokenizerTrainConfig(vocab_size=3000))
    rows = tokenizer_report(inputs=[corpus["held"]], tokenizers=[out, corpus["tok"]])
    assert rows[0]["ksx1001_in_bytes"] == 0  # every syllable is a piece of its own
    assert rows[1]["ksx1001_in_bytes"] > 1000  # the tiny tokenizer without them spells most in bytes
    assert rows[0]["ko_byte_fallback_rate"] <= rows[1]["ko_byte_fallback_rate"]
    with pytest.raises(ConfigError, match="KS X 1001"):
        TokenizerTrainConfig(vocab_size=1200).validate()
    # Printable ASCII and common punctuation are pieces too (common_chars), whatever the text.
    import sentencepiece as spm

    from hanforge.tokenizer.train import COMMON_CHARS

    sp = spm.SentencePieceProcessor(model_file=str(out / "sentencepiece.model"))
    assert all(not sp.is_byte(i) for c in COMMON_CHARS for i in sp.encode(c))
    assert TokenizerTrainConfig(vocab_size=3000, common_chars=False).vocab_size == 3000
