"""`trm-lsp eval` measures retrieval as the daemon serves it, beside the plain BM25 baseline:
the question in an explanation's words finds the symbol through the daemon's stems and without
the words every explanation uses, where BM25 over code alone does not."""

from __future__ import annotations

import numpy as np

from trm_lsp.serve.search import document
from trm_lsp.student.evaluate import retrieval_scores


class NoStudent:
    """Embeddings that say nothing (all equal), so each ranking is its lexical part."""

    def embed(self, texts: list[str], kind: str = "code") -> np.ndarray:
        return np.ones((len(texts), 4), dtype=np.float32) / 2.0


def test_served_ranking_is_the_daemons_and_the_baseline_stays_plain_bm25():
    explained = [(f"helper_{i}", f"def helper_{i}(value):\n    return value + {i}",
                  f"This Python function `helper_{i}` takes a value and returns the value plus {i}.")
                 for i in range(40)]
    asked = ("parse_header", "def parse_header(line):\n    key, _, rest = line.partition(':')\n    return key.strip(), rest")
    codes = [code for _, code, _ in explained] + [asked[1]]
    documents = [document(name, code, answer) for name, code, answer in explained] + [document(*asked)]
    # Asked as an agent asks: in the explanations' template words, with inflected forms, no name.
    # Plain BM25 over code matches "value" and "return" in every helper and neither "partitioning"
    # nor "lines"; the daemon's terms drop the template words and stem the rest.
    question = "This Python function takes a value and returns the value, partitioning lines"
    [scores] = retrieval_scores(NoStudent(), codes, documents, [a for _, _, a in explained], [[question]], [40])
    assert scores.served_lexical == 1.0 and scores.served == 1.0
    assert scores.bm25 < 1.0
