"""A byte-level BPE of a few thousand tokens, trained on the workspace's code and the teacher's
text, with identifiers split on camelCase and snake_case before merging (so `parseHttpResponse`
shares `parse` with `parse_args`). Saved beside the checkpoint as `tokenizer.json`."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

PAD, BOS, EOS, SEP, CODE, TEXT = "<pad>", "<bos>", "<eos>", "<sep>", "<code>", "<text>"
SPECIALS = [PAD, BOS, EOS, SEP, CODE, TEXT]
# Words, with identifiers cut at case changes and underscores; punctuation runs; whitespace.
# A single space before a word or punctuation stays with it (as in GPT-2's byte-level BPE): prose
# then costs about one token a word, not two, so 48 answer tokens hold ~40 words.
_SPLIT = r" ?[A-Z]+(?=[A-Z][a-z])| ?[A-Z]?[a-z]+| ?[A-Z]+| ?[0-9]+|_+| ?[^\sA-Za-z0-9_]+|\s+(?!\S)|\s+"


class Tokenizer:
    def __init__(self, inner) -> None:
        self.inner = inner
        self.pad, self.bos, self.eos, self.sep, self.code, self.text = (inner.token_to_id(t) for t in SPECIALS)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 3000) -> "Tokenizer":
        from tokenizers import Regex, decoders, models, pre_tokenizers, trainers
        from tokenizers import Tokenizer as HFTokenizer

        inner = HFTokenizer(models.BPE(unk_token=None))
        inner.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
        inner.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        inner.train_from_iterator(texts, trainer)
        return cls(inner)

    @classmethod
    def load(cls, path: Path) -> "Tokenizer":
        from tokenizers import Tokenizer as HFTokenizer

        return cls(HFTokenizer.from_file(str(path)))

    def save(self, path: Path) -> None:
        self.inner.save(str(path))

    @property
    def vocab_size(self) -> int:
        return self.inner.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.inner.encode(text).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.inner.encode_batch(texts)]

    def decode(self, ids: list[int]) -> str:
        return self.inner.decode(ids, skip_special_tokens=True)
