"""Tiny real tokenizers for tests, trained in milliseconds on a few sentences."""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import BertTokenizer, GPT2TokenizerFast, NllbTokenizer

EOS = "<|endoftext|>"
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def bpe_tokenizer(texts: list[str]) -> GPT2TokenizerFast:
    """A byte-level BPE tokenizer (GPT-2's kind) whose only special token, EOS, also pads."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return GPT2TokenizerFast(
        tokenizer_object=tok, bos_token=EOS, eos_token=EOS, unk_token=EOS, pad_token=EOS
    )


def wordpiece_tokenizer(texts: list[str]) -> BertTokenizer:
    """A BERT tokenizer ([CLS] question [SEP] context [SEP]) whose vocabulary holds the words of
    `texts` and every character, so any ASCII text tokenizes without [UNK]."""
    words = sorted({word for text in texts for word in text.lower().split()})
    characters = [chr(code) for code in range(33, 127)]
    pieces = [*BERT_SPECIALS, *characters, *(f"##{c}" for c in characters), *words]
    return BertTokenizer(vocab={piece: i for i, piece in enumerate(dict.fromkeys(pieces))})


def nllb_tokenizer() -> NllbTokenizer:
    """NLLB's multilingual tokenizer (language codes such as eng_Latn as special tokens) over a
    character vocabulary."""
    characters = ["▁", *(chr(code) for code in range(33, 127))]
    vocab = {piece: i for i, piece in enumerate(["<s>", "<pad>", "</s>", "<unk>", *characters])}
    return NllbTokenizer(vocab=vocab, merges=[])
