"""The loaded student: embeddings for retrieval and short explanations, on the CPU.

The MLX network is read once into `engine.Engine`, which answers in numpy (see its docstring
for why); explanations are conditioned on the nearest remembered teacher answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trm_lsp.student import checkpoint
from trm_lsp.student.data import CodeIndex, Lengths, Record, header, nearest_explanation, prefix_ids, retrieval_arrays
from trm_lsp.student.doc_prose import doc_sentence
from trm_lsp.student.doc_verb import base_form, code_doc, doc_verb, says_the_doc_verb
from trm_lsp.student.engine import Engine, Generation
from trm_lsp.student.fluency import gist, says_nothing
from trm_lsp.student.gate import COLD_ANSWERS, Readability, cold_start, workspace_gate
from trm_lsp.student.lexicon import Lexicon, Vetter
from trm_lsp.student.model import TRM
from trm_lsp.student.openings import name_opening, opening_for, prose_name
from trm_lsp.student.tokenizer import Tokenizer
from trm_lsp.textutil import sentences, split_identifier

#: Weight of readability when choosing among the final beams (`Student._choose`), and how many
#: distinct texts are scored. Chosen on the train split's hold-out (fine-tuned on the other 80%,
#: bench/calibrate_gate.py's checkpoint), never dev: weights 0.25-100 all took unreadable from
#: 13.3% to 11.0-11.4% at the same ROUGE-L (0.370 vs 0.369); 1.0 was best. Whole sentences go
#: first (a beam the length limit cut is a fragment, which the judge passes and a reader does
#: not): 16.2% -> 14.8% with the weight, ROUGE-L 0.379 -> 0.375.
RERANK = 1.0
RERANK_TEXTS = 4
#: The others are scored only when the likeliest text's readability is below the gate plus this.
RERANK_MARGIN = 1.0
#: An answer that reads less plainly than the base's `fallback_below` (its config.json; the
#: fine-tuned gate's threshold when this was measured) with the neighbour's explanation as its
#: hint is written again from the code alone, with `FALLBACK_BEAMS` beams, and the more readable
#: of the two kept. On the train split's hold-out (bench/calibrate_gate.py's checkpoint, never
#: dev): unreadable 12.9% -> 8.1%, ROUGE-L 0.3675 -> 0.3652, explain p95 +10-25%, about one answer
#: in six written twice; 4 beams: 8.6% at p95 +50%; 1 beam: 9.5%; never hinting: 10.0% at ROUGE-L
#: 0.358. A higher trigger (-3.30) wrote more answers twice for no fewer unreadable ones (8.1%).
#: Students fine-tuned on a workspace's first answers (`gate.COLD_ANSWERS`) write every answer
#: twice (`fallback_below_cold`, 0.0: every score is below it): with 64 answers the hint is copied
#: where it does not fit. On the hold-out in that regime (64 answers, 90 s): unreadable 16.6% ->
#: 13.5%, ROUGE-L 0.324 -> 0.330, answers said word for word of another symbol too 29.0% -> 18.7%,
#: explain p95 66 -> 71 ms. For students fine-tuned on all 840 it is worse (ROUGE-L 0.364 ->
#: 0.357, said of another 14.3% -> 29.0%, p95 77 -> 109 ms): they keep the trigger above.
FALLBACK = True
FALLBACK_BEAMS = 2
#: Answers whose gist is remembered, to decline one said of another symbol too (`_said_of`).
SAID_LIMIT = 200_000
#: Added to the log-probability of the prose words the symbol's name is made of (` close`,
#: ` closes` for `Runner.close`) while the answer has not used them, where the model already
#: finds them plausible (`engine.BIAS_WINDOW`): the student copies the code's tokens but not
#: its identifiers' words as prose, and without this writes "is used to create a" where the
#: teacher writes "is used to close". On the train split's hold-out (never dev), the fine-tuned
#: calibration checkpoint: ROUGE-L 0.3644 -> 0.3664, unreadable 8.1% -> 8.6% (one answer),
#: "is used to create a" in 94 answers instead of 112 of 210; 64-answer cold start: ROUGE-L
#: 0.330 -> 0.336, unreadable 13.5% both. Of 20 changed answers read, 7 better, 3 worse ("is
#: used to result the `result` method"). 2.5: ROUGE-L 0.368 at 9.0% unreadable.
NAME_BIAS = 1.5
#: Added the same way to the verb the symbol's doc comment opens with, in the third person
#: ("Convert Tcl object to ..." -> ` converts`; `doc_verb.py`): the teacher says the doc again in
#: its frame, the student read it and still opened with "is used to create a". On the train
#: split's hold-out (never dev), the fine-tuned calibration checkpoint, 76 of 210 with such a
#: verb, 26 answers changed: ROUGE-L 0.3577 -> 0.3664, unreadable 7.6% -> 8.1%, shown by the
#: readability score alone 81.9% at 4.1% -> 80.0% at 3.6%; 1.5: 0.3637 at 7.6%. Forcing the verb
#: instead: 0.3662 at 10.0% unreadable; lifting the doc's other words too (0.75): 0.3668 at 7.1%,
#: 77.6% shown; the doc's whole first sentence as the answer: 0.3795 at 18.1% (the judge finds a
#: doc's words rare: "`Misc.winfo_ismapped` returns true if this widget is mapped", perplexity 354).
DOC_VERB_BIAS = 3.0
#: The answer names its symbol by this many of its last dotted parts (`openings.prose_name`).
NAME_PARTS = 2


@dataclass
class Explanation:
    text: str
    neighbour: str  # the symbol whose teacher explanation conditioned this one
    tokens: int
    hint: str = ""  # that explanation, its name swapped for ours, as the student read it
    confidence: float = 0.0  # mean log-probability of the tokens the student chose
    readability: float = 0.0  # how plainly it reads to the base (gate.Readability); the gate's score
    declined: bool = False  # below the gate: likely unreadable, not to be shown (gate.py)
    neighbour_answer: str = ""  # the neighbour's own teacher explanation, as the teacher wrote it
    same_as: str = ""  # declined: word for word what this student already said of that symbol
    says_nothing: str = ""  # declined: the words that state a thing of itself ("the name of the name")
    doc: str = ""  # declined: what the symbol's own doc comment says first (`Student.leaves_to_doc`)
    unlike_doc: str = ""  # declined: the verb its doc comment opens with, which the answer does not say


class Student:
    def __init__(self, model: TRM, tok: Tokenizer, meta: dict, memory: list[Record] | None = None) -> None:
        self.cfg, self.tok, self.meta = model.cfg, tok, meta
        self.engine = Engine(model)  # its own copy of the weights: the MLX model is not kept
        self.lengths = Lengths(**meta.get("lengths", {}))
        # Checkpoints from before `infer_sup_steps` answer with every supervision step.
        self.sup_steps = int(meta.get("infer_sup_steps", meta.get("sup_steps", 2)))
        self.version = meta.get("version_tag", "")
        self.beams = int(meta.get("beams", 1))
        self.min_tokens = int(meta.get("min_tokens", 0))
        #: Sentences kept of what the student writes: its first is its best (measured on the train
        #: hold-out: 15% unreadable at one sentence, 26% at three; bench/student_eval.py).
        self.sentences = int(meta.get("sentences", 1))
        self.gate: float | None = meta.get("gate")
        self.readability = Readability.of_base()
        #: Weight of readability when choosing among the final beams (0: the likeliest beam).
        self.rerank = float(meta.get("rerank", RERANK))
        #: Write again without the hint when the hinted answer reads below `fallback_below`
        #: (`explain`): the shipped base's threshold, for students fine-tuned from it (measured
        #: on those; a student trained from scratch writes poorly without its hint).
        self.fallback = bool(meta.get("fallback", FALLBACK))
        self.memory: list[Record] = memory or []
        if meta.get("base") and meta.get("gate_shift") is None and self.readability is not None and self.memory:
            # Fine-tuned before the gate moved with its workspace (`gate.workspace_gate`): as `train` now sets it.
            self.gate, _ = workspace_gate(self.readability.meta, self.memory)
        inherited = None
        if self.readability is not None and meta.get("base"):
            cold = cold_start(int(meta.get("train_samples", COLD_ANSWERS)))
            inherited = self.readability.fallback_below_cold if cold else self.readability.fallback_below
        self.fallback_below = meta.get("fallback_below", inherited)
        self.fallback_beams = int(meta.get("fallback_beams", FALLBACK_BEAMS))
        self.lexicon: Lexicon | None = None
        self._pieces = [tok.inner.decode([i], skip_special_tokens=False) for i in range(tok.vocab_size)]
        self._special = {tok.pad, tok.bos, tok.sep, tok.code, tok.text}
        self._said: dict[str, str] = {}  # gist of each answer given -> the symbol it was given for
        self._index = CodeIndex([r.input for r in self.memory]) if self.memory else None
        # Only students fine-tuned from the base: on the base alone it helped nothing (hold-out
        # ROUGE-L 0.150 -> 0.148) and led it into fragments ("Returns the number of incrementals …").
        self.name_bias = float(meta.get("name_bias", NAME_BIAS if meta.get("base") else 0.0))
        self.doc_verb_bias = float(meta.get("doc_verb_bias", DOC_VERB_BIAS if meta.get("base") else 0.0))
        self.name_parts = int(meta.get("name_parts", NAME_PARTS))
        self.verb_first = bool(meta.get("verb_first", True))
        #: The base alone (no teacher answer of this workspace learnt) leaves a symbol with a doc
        #: comment to it: on the train split's hold-out (never dev) its answers on the 94 of 210
        #: samples with a doc are ROUGE-L 0.184 against the teacher, the doc's first sentence
        #: 0.249, and of 22 such pairs read (seed 7) the doc says it better in 21 ("Return the
        #: size of the given size." for "Read size bytes using read_method, honoring start and
        #: stop."). A fine-tuned student writes what the teacher would (0.385 there): it answers.
        self.leaves_to_doc = not self.memory
        #: A fine-tuned student declines an answer that does not say what its symbol's doc comment
        #: opens with (`_unlike_doc`). On the train split's hold-out (never dev; stop 43's dropout
        #: checkpoint, decoding only) 27 of 210 answers, 18 of them shown before (61% shown at 3.1%
        #: unreadable -> 52% at 3.6%); all 27 read, none says more than the doc ("`Pool._maintain_pool`
        #: is used to create a new instance of a worker." for "Clean up any exited workers and start
        #: replacements for them."). The teacher's answers fail the same check in 8 of the 75 there
        #: whose doc opens with a verb.
        self.defer_to_doc = bool(meta.get("defer_to_doc", True))

    @classmethod
    def load(cls, directory: Path, memory: list[Record] | None = None) -> "Student":
        model, tok, meta = checkpoint.load(directory)
        if memory is None:
            memory_file = Path(directory) / "memory.jsonl"
            if memory_file.exists():
                from trm_lsp.student.data import load_samples

                memory = load_samples(memory_file).records
        student = cls(model, tok, meta, memory)
        del model
        checkpoint.release_mlx_memory()
        lexicon_file = Path(directory) / "lexicon.txt"
        if lexicon_file.exists():
            student.lexicon = Lexicon.load(lexicon_file)
        return student

    # -- retrieval -----------------------------------------------------------------------------

    def embed(self, texts: list[str], kind: str = "code", batch: int = 64) -> np.ndarray:
        """Unit vectors, one per text; `kind` is "code" or "text" (a question, an explanation)."""
        marker = self.tok.code if kind == "code" else self.tok.text
        length = self.lengths.code if kind == "code" else self.lengths.text
        out = []
        for start in range(0, len(texts), batch):
            ids, weights = retrieval_arrays(self.tok, texts[start : start + batch], marker, length)
            out.append(self.engine.embedding(ids, weights, self.sup_steps))
        return np.concatenate(out) if out else np.zeros((0, self.cfg.embed_dim), dtype=np.float32)

    # -- explanation ---------------------------------------------------------------------------

    def neighbour(self, code: str, name: str) -> tuple[str, str]:
        """The nearest remembered teacher explanation, with its symbol's name replaced by ours."""
        if self._index is None:
            return "", ""
        return nearest_explanation(self.memory, self._index, code, name)

    def remembered(self, symbol: str) -> str:
        """The teacher's explanation of a remembered symbol, as written."""
        return next((r.output for r in self.memory if r.symbol == symbol), "")

    def explain(self, code: str, name: str, max_tokens: int | None = None, symbol: str | None = None,
                kind: str = "function", language: str = "python", doc: str | None = None) -> Explanation:
        """`doc`: the symbol's doc comment when the caller has it; else it is read from `code`."""
        doc = code_doc(code, language) if doc is None else doc
        if self.leaves_to_doc:
            quoted = doc_sentence(doc, language)
            if quoted:
                return Explanation(quoted, "", 0, declined=True, doc=quoted)
        hint, neighbour = self.neighbour(code, name)
        limit = min(max_tokens or self.lengths.answer, self.lengths.answer)
        head = header(language, kind, symbol or name)
        # The teacher's usual opening for this kind, then the name: the student writes the rest.
        opening = opening_for(self.meta, kind, language)
        if opening:
            opening = f"{opening}`{prose_name(symbol or name, self.name_parts, kind)}`"
        else:
            opening = name_opening(self.meta, symbol or name, language)
        bias = self._own_words(symbol or name, doc, language)
        out, text, readability = self._write(code, hint, head, opening, symbol or name, limit, bias)
        used_hint = hint
        if hint and self.fallback and self.fallback_below is not None and readability < self.fallback_below:
            # Read badly with the neighbour's explanation as a hint (often it was copied from
            # where it does not fit): write again from the code alone and keep what reads better.
            again = self._write(code, "", head, opening, symbol or name, limit, bias, beams=self.fallback_beams)
            if again[2] > readability:
                (out, text, readability), used_hint = again, ""
        said = gist(text, symbol or name)
        same_as = self._said_of(said, symbol or name)
        empty = says_nothing(text)
        unlike = self._unlike_doc(text, symbol or name, doc, language)
        confidence = self._confidence(out, len(self.tok.encode(opening)) if opening else 0, text)
        declined = bool(same_as or empty or unlike) or self.reads_badly(readability)
        if not declined:
            self._remember(said, symbol or name)
        return Explanation(text, neighbour, len(out.tokens), used_hint, confidence, readability, declined,
                           self.remembered(neighbour) if declined and neighbour else "", same_as, empty,
                           unlike_doc=unlike)

    def _unlike_doc(self, text: str, symbol: str, doc: str, language: str) -> str:
        """The verb the symbol's doc comment opens with ("serve" for "Serve a POST request."),
        when the answer says neither it nor one of like meaning (`doc_verb.says_the_doc_verb`);
        else "". Such an answer is declined, and the structure answer shows the doc's sentence:
        the student wrote its commonest frame ("is used to create a POST request.") over what the
        code's own author wrote. A checkpoint whose config sets `defer_to_doc` false never does."""
        if not self.defer_to_doc or not doc or not doc_sentence(doc, language):
            return ""
        verb = doc_verb(doc, language, symbol.rsplit(".", 1)[-1])
        return base_form(verb) if verb and not says_the_doc_verb(text, symbol, verb) else ""

    def reads_badly(self, readability: float) -> bool:
        """The gate's verdict on an answer's readability score: below the threshold, when there
        is one and a scorer to give the score (`gate.py`)."""
        return self.gate is not None and self.readability is not None and readability < self.gate

    def _said_of(self, said: str, symbol: str) -> str:
        """The symbol this student already showed an answer of this gist (`fluency.gist`: word
        for word but for the name) for; else "". An answer that fits two symbols says nothing of
        either ("is used to create a new instance of a class."): the first keeps it, the others
        decline."""
        first = self._said.get(said, symbol)
        return first if first != symbol else ""

    def _remember(self, said: str, symbol: str) -> None:
        """Remember a shown answer's gist (bounded by `SAID_LIMIT`; a new checkpoint is a new
        Student and starts afresh). Declined answers are not remembered: nobody read them."""
        self._said.setdefault(said, symbol)
        if len(self._said) > SAID_LIMIT:
            self._said.pop(next(iter(self._said)))

    def forget(self) -> None:
        """Forget which answers were shown for which symbol, as a newly loaded student starts
        (a benchmark's rounds each answer as a fresh student would)."""
        self._said.clear()

    def _write(self, code: str, hint: str, head: str, opening: str, name: str, limit: int,
               bias: dict[int, float], beams: int | None = None) -> tuple[Generation, str, float]:
        """One beam search after the prompt (code, and the hint if any), the opening forced, then
        the best of its final beams (`_choose`)."""
        forced = self.tok.encode(opening) if opening else []
        prefix = prefix_ids(self.tok, code, hint, self.lengths, head)
        keep = (np.asarray(prefix) > self.tok.text).astype(np.float32)  # special tokens are never copied
        vet = None
        if self.lexicon is not None:
            vet = Vetter(self._pieces, self.lexicon, f"{code}\n{name}\n{hint}", self._special, self.tok.eos,
                         opening=forced if self.verb_first else None)
        out = self.engine.generate(prefix, limit, self.sup_steps, keep, forced, self.tok.eos, beams=beams or self.beams,
                                   vet=vet, min_tokens=min(self.min_tokens, limit), finished=self._said_enough,
                                   bias=bias)
        return self._choose(out, code, head, opening)

    def _choose(self, out: Generation, code: str, head: str, opening: str) -> tuple[Generation, str, float]:
        """Of the final beams' distinct texts (at most `RERANK_TEXTS`; whole sentences first, then
        the likeliest), the one with the best mean log-probability plus `rerank` times its
        readability (the gate's score): between near-equals, the student says what reads
        plainly. Returns (beam, its text, its readability)."""
        beams, texts = [], []
        candidates = [out, *out.others] if self.rerank else [out]
        tidied = [_tidy(self.tok.decode(beam.tokens), self.sentences) for beam in candidates]
        # A beam cut off at the length limit is a fragment (its text ends in " …" once tidied; a
        # beam stopped in its second sentence is whole): whole sentences go first.
        for i in sorted(range(len(candidates)), key=lambda i: not _SENTENCE_DONE.search(tidied[i])):
            if tidied[i] not in texts:
                beams.append(candidates[i])
                texts.append(tidied[i])
            if len(texts) == RERANK_TEXTS:
                break
        if self.readability is None:
            return beams[0], texts[0], 0.0
        scores = self.readability(code, head, texts[:1], opening)
        if len(texts) == 1 or (self.gate is not None and scores[0] >= self.gate + RERANK_MARGIN):
            return beams[0], texts[0], scores[0]  # reads plainly enough: the others are not scored
        scores += self.readability(code, head, texts[1:], opening)
        whole = [i for i in range(len(beams)) if _SENTENCE_DONE.search(texts[i])] or list(range(len(beams)))
        best = max(whole, key=lambda i: beams[i].mean_logp + self.rerank * scores[i])
        return beams[best], texts[best], scores[best]

    def _own_words(self, name: str, doc: str, language: str) -> dict[int, float]:
        """The bonus of each prose token (one token each) of the symbol's own words: those of its
        name, not its class's (` remove`, ` removes`, ` writer`, ` writers` for
        `Loop._remove_writer`; `NAME_BIAS`), and its doc comment's opening verb (` converts`;
        `DOC_VERB_BIAS`)."""
        out: dict[int, float] = {}
        if self.name_bias:
            for word in dict.fromkeys(split_identifier(name.rsplit(".", 1)[-1])):
                if len(word) < 3:
                    continue
                for form in (word, word + "s"):
                    token = self._prose_token(form)
                    if token is not None:
                        out[token] = self.name_bias
        if self.doc_verb_bias:
            verb = doc_verb(doc, language, name)
            token = self._prose_token(verb) if verb else None
            if token is not None:
                out[token] = max(out.get(token, 0.0), self.doc_verb_bias)
        return out

    def _prose_token(self, word: str) -> int | None:
        """The one token that writes ` word` in a sentence, or None when it takes more than one
        (the bias lifts single tokens only)."""
        ids = self.tok.encode(" " + word)
        return ids[0] if len(ids) == 1 else None

    def _said_enough(self, tokens: list[int]) -> bool:
        """The answer has its `sentences` whole sentences and has begun another (which `_tidy`
        drops): writing on would cost time for text nobody sees."""
        text = self.tok.decode(tokens).strip()
        if text[-1:] in ".!?" or not text:
            return False
        parts = sentences(text)
        whole = [p for p in parts[:-1] if p.count("`") % 2 == 0]
        return len(whole) >= self.sentences and len(parts) > self.sentences

    def _confidence(self, out, forced: int, kept: str) -> float:
        """Mean log-probability of the written tokens that made it into `kept` (the sentences
        shown, not the ones cut): the student's confidence in what the user reads."""
        if not out.logps:
            return out.mean_logp
        target = len(_SPACES.sub(" ", kept).strip())
        written = out.tokens[forced:]
        for count in range(1, len(written) + 1):
            if len(_SPACES.sub(" ", self.tok.decode(out.tokens[: forced + count])).strip()) >= target:
                return float(np.mean(out.logps[:count]))
        return float(np.mean(out.logps))


_SPACES = re.compile(r"\s+")
_SENTENCE_DONE = re.compile(r"[.!?]\s*$")


def _tidy(text: str, max_sentences: int = 3) -> str:
    """Whole sentences only: at most `max_sentences`, and a last one the length limit cut short is
    dropped when a whole one comes before it, else marked with an ellipsis. Whitespace collapsed."""
    text = _SPACES.sub(" ", text).strip()
    said = sentences(text)
    whole = [s for s in said if s[-1] in ".!?" and s.count("`") % 2 == 0]
    if whole and len(whole) < len(said) and said[-1] not in whole:
        said = said[:-1]
    text = " ".join(said[:max_sentences]).strip()
    if not text or _SENTENCE_DONE.search(text):
        return text
    # Cut off by the length limit, or at a dead end the vetter left no word to go on from, with no
    # whole sentence to fall back on: say so, without the last word, which may be half written
    # ("the distinct distin") or the one before it again ("a generic generic").
    return text.rsplit(" ", 1)[0] + " …" if " " in text else text + " …"
