"""Korean tokenizers: train a SentencePiece BPE (:mod:`train`), extend an existing Hugging Face
tokenizer with Korean tokens (:mod:`extend`), compare characters per token (:mod:`report`);
:mod:`load` loads any ``tokenizer.json`` with its fingerprint and EOS id."""
