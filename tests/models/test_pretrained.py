"""Pretrained word vectors: fastText/GloVe formats, gzip, matching rules, coverage, the one-line
errors, and streaming (a large file is never loaded whole, only needed lines are parsed)."""

import gzip
import time
import tracemalloc

import numpy as np
import pytest

from rnnlab.errors import ConfigError, DataError
from rnnlab.models import pretrained as pt
from rnnlab.models.pretrained import Pretrained, coverage, load_pretrained


def write(path, text, gz=False):
    data = text.encode("utf-8") if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def as_dict(p: Pretrained) -> dict:
    return {int(r): p.vectors[i].tolist() for i, r in enumerate(p.rows)}


VEC = "3 4\nthe 0.1 0.2 0.3 0.4 \ncat 1 2 3 4 \n, -1.5 0 0 2e-3 \n"
GLOVE = "the 0.1 0.2 0.3\ncat 1 2 3\n, -1.5 0 2e-3\n"


def test_vec_with_header(tmp_path):
    p = load_pretrained(write(tmp_path / "w.vec", VEC), {"the": 1, "cat": 2, "dog": 3, ",": 4}, n_rows=5)
    assert p.dim == 4 and p.file_words == 3 and p.considered == 4
    assert p.rows.dtype == np.int64 and p.vectors.dtype == np.float32
    assert p.rows.tolist() == [1, 2, 4]
    np.testing.assert_array_equal(p.vectors, np.array([[0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4], [-1.5, 0, 0, 2e-3]],
                                                      dtype=np.float32))
    assert (p.exact, p.lowercase) == (3, 0)
    assert p.path == str(tmp_path / "w.vec")


def test_glove_txt_without_header(tmp_path):
    p = load_pretrained(write(tmp_path / "g.txt", GLOVE), {"cat": 1, "the": 2}, n_rows=3, dim=3)
    assert p.dim == 3 and p.file_words == 3
    assert as_dict(p) == {1: [1.0, 2.0, 3.0], 2: pytest.approx([0.1, 0.2, 0.3])}


@pytest.mark.parametrize("name, text", [("w.vec.gz", VEC), ("g.txt.gz", GLOVE), ("named_plain.txt", GLOVE)])
def test_gzip_by_suffix_or_magic_bytes(tmp_path, name, text):
    p = load_pretrained(write(tmp_path / name, text, gz=True), {"the": 1, "cat": 2}, n_rows=3)
    assert p.rows.tolist() == [1, 2] and p.file_words == 3
    assert p.vectors[1, :3].tolist() == [1.0, 2.0, 3.0]


def test_glove_token_with_spaces(tmp_path):
    text = "the 1 2 3\nnew york 4 5 6\nat & t 7 8 9\nyork 0 0 1\n"
    p = load_pretrained(write(tmp_path / "g.txt", text), {"new york": 1, "at & t": 2, "york": 3}, n_rows=4)
    assert p.file_words == 4
    assert as_dict(p) == {1: [4.0, 5.0, 6.0], 2: [7.0, 8.0, 9.0], 3: [0.0, 0.0, 1.0]}


def test_exact_later_in_file_replaces_lowercase_fallback(tmp_path):
    path = write(tmp_path / "g.txt", "Hello 1 1\nHELLO 2 2\nhello 3 3\n")
    p = load_pretrained(path, {"hello": 1}, n_rows=2)
    assert as_dict(p) == {1: [3.0, 3.0]} and (p.exact, p.lowercase) == (1, 0)


def test_lowercase_fallback_takes_the_first_file_word_both_ways(tmp_path):
    path = write(tmp_path / "g.txt", "Hello 1 1\nHELLO 2 2\nparis 4 4\nParis 5 5\n")
    p = load_pretrained(path, {"hello": 1, "PARIS": 2}, n_rows=3)
    assert as_dict(p) == {1: [1.0, 1.0], 2: [4.0, 4.0]} and (p.exact, p.lowercase) == (0, 2)
    # tokenizer with lower=False: both spellings in the vocabulary; each exact one wins for itself
    p = load_pretrained(path, {"Paris": 1, "paris": 2, "HeLLo": 3, "Hello": 4}, n_rows=5)
    assert as_dict(p) == {1: [5.0, 5.0], 2: [4.0, 4.0], 3: [1.0, 1.0], 4: [1.0, 1.0]}
    assert (p.exact, p.lowercase) == (3, 1)


def test_duplicate_file_word_first_exact_wins(tmp_path):
    p = load_pretrained(write(tmp_path / "g.txt", "a 1\na 2\n"), {"a": 1}, n_rows=2)
    assert as_dict(p) == {1: [1.0]} and p.file_words == 2


def test_rows_at_or_past_n_rows_and_padding_row_are_ignored(tmp_path):
    path = write(tmp_path / "g.txt", "<pad> 9 9\nthe 1 1\ncat 2 2\ndog 3 3\n<OOV> 4 4\n")
    index = {"<pad>": 0, "<OOV>": 1, "the": 2, "cat": 3, "dog": 4}
    p = load_pretrained(path, index, n_rows=4)
    assert p.considered == 3 and p.rows.tolist() == [1, 2, 3]
    assert 0 not in p.rows.tolist() and 4 not in p.rows.tolist()
    assert as_dict(p) == {1: [4.0, 4.0], 2: [1.0, 1.0], 3: [2.0, 2.0]}


def test_coverage_hand_computed(tmp_path):
    text = "the 1 2\nparis 3 4\nCAT 5 6\nzebra 7 8\ncat 9 10\n"
    index = {"<OOV>": 1, "the": 2, "cat": 3, "Paris": 4, "dog": 5, "zebra": 6, "rare": 7}
    counts = {"the": 50, "cat": 10, "Paris": 5, "dog": 20, "zebra": 10, "rare": 2}
    p = load_pretrained(write(tmp_path / "g.txt", text), index, n_rows=6)
    assert as_dict(p) == {2: [1.0, 2.0], 3: [9.0, 10.0], 4: [3.0, 4.0]}
    # considered: <OOV>, the, cat, Paris, dog (zebra=6 and rare=7 are >= n_rows)
    # tokens: 97 in all; the + cat + Paris = 65 have a vector; zebra is in the file but has no row
    assert coverage(p, index, counts) == {"vocabulary_share": 0.6, "token_share": 0.6701, "words_found": 3,
                                          "words_considered": 5, "exact": 2, "lowercase": 1, "dim": 2,
                                          "file_words": 5}


def test_coverage_with_nothing_found_or_considered(tmp_path):
    p = load_pretrained(write(tmp_path / "g.txt", "x 1\n"), {"a": 1}, n_rows=1)
    assert p.considered == 0 and p.rows.shape == (0,) and p.vectors.shape == (0, 1)
    assert coverage(p, {"a": 1}, {})["vocabulary_share"] == 0.0
    assert coverage(p, {"a": 1}, {})["token_share"] == 0.0


def test_dim_mismatch_is_one_config_line(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_pretrained(write(tmp_path / "w.vec", VEC), {"the": 1}, n_rows=2, dim=100)
    msg = str(exc.value)
    assert "\n" not in msg
    assert "'model.embedding.dim'" in msg and "Got 100" in msg and "w.vec" in msg
    assert "Set model.embedding.dim = 4 or leave it unset" in msg


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_pretrained(tmp_path / "nope.vec", {"the": 1}, n_rows=2)
    msg = str(exc.value)
    assert "'model.embedding.pretrained'" in msg and "nope.vec" in msg and "check the path" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("text, where, what", [
    ("the 1 2 3\ncat 1 2 3\ndog 1 2\n", "line 3", "expected a word and 3 numbers, got 3 fields"),
    ("3 2\nthe 1 2\ncat 1 x\n", "line 3", "non-numeric value 'x'"),
    ("the 1 2\ncat 1 nan\n", "line 2", "NaN or infinite"),
    ("the\n", "line 1", "expected a fastText header"),
])
def test_malformed_line_names_file_and_line(tmp_path, text, where, what):
    with pytest.raises(DataError) as exc:
        load_pretrained(write(tmp_path / "bad.txt", text), {"the": 1, "cat": 2}, n_rows=3)
    msg = str(exc.value)
    assert "bad.txt" in msg and where in msg and what in msg and "\n" not in msg


def test_non_utf8_names_the_line(tmp_path):
    with pytest.raises(DataError, match=r"line 2 is not UTF-8"):
        load_pretrained(write(tmp_path / "g.txt", b"the 1\ncaf\xe9 2\n"), {"the": 1}, n_rows=2)


def test_broken_gzip_is_a_data_error(tmp_path):
    path = write(tmp_path / "g.txt.gz", b"the 1 2\n")
    with pytest.raises(DataError, match=r"g\.txt\.gz' could not be read"):
        load_pretrained(path, {"the": 1}, n_rows=2)
    truncated = write(tmp_path / "t.txt.gz", gzip.compress(GLOVE.encode() * 50)[:-30])
    with pytest.raises(DataError, match=r"could not be read after line"):
        load_pretrained(truncated, {"the": 1}, n_rows=2)


@pytest.mark.parametrize("text, what", [("", "is empty"), ("\n  \n", "is empty"), ("5 3\n", "header but no vectors")])
def test_empty_file(tmp_path, text, what):
    with pytest.raises(DataError, match=what):
        load_pretrained(write(tmp_path / "e.vec", text), {"the": 1}, n_rows=2)


def test_streaming_large_file(tmp_path, monkeypatch):
    n, dim = 200_000, 20
    row = " ".join(["0.125"] * dim)
    wanted = {f"w{i}": k + 1 for k, i in enumerate(range(0, n, n // 10))}
    lines = [f"{n} {dim}"] + [f"w{i} {row}" for i in range(n)]
    lines[5] = "junk " + " ".join(["x"] * dim)  # never parsed: its word is not needed
    path = write(tmp_path / "big.vec", "\n".join(lines) + "\n")
    del lines
    parsed = []
    real_parse = pt._parse
    monkeypatch.setattr(pt, "_parse", lambda *a: parsed.append(a[-1]) or real_parse(*a))

    start = time.perf_counter()
    p = load_pretrained(path, wanted, n_rows=len(wanted) + 1)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, f"{elapsed:.2f}s for {n} lines"
    assert p.file_words == n and p.vectors.shape == (10, dim) and p.rows.tolist() == list(range(1, 11))
    assert sorted(parsed) == sorted(wanted) and np.all(p.vectors == 0.125)

    size = path.stat().st_size
    tracemalloc.start()
    load_pretrained(path, wanted, n_rows=len(wanted) + 1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < size / 20, f"peak {peak} bytes for a {size}-byte file"
