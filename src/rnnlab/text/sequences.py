"""Token-id sequences stored as one flat int32 array plus offsets, and Keras ``pad_sequences``.

Lists of Python lists cost ~36 bytes per token; this layout costs 4. Slicing, truncation and
batch padding are vectorised with NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence as Seq

import numpy as np

from ..errors import param_error


@dataclass(frozen=True)
class Sequences:
    """``len(offsets) == n + 1``; sequence ``i`` is ``flat[offsets[i]:offsets[i + 1]]``."""

    flat: np.ndarray  # int32, all tokens end to end
    offsets: np.ndarray  # int64, n + 1 entries, offsets[0] == 0

    @classmethod
    def from_lists(cls, seqs: Iterable[Seq[int]]) -> "Sequences":
        """Build from any iterable of integer sequences (lists, arrays)."""
        seqs = [np.asarray(s, dtype=np.int64).ravel() for s in seqs]
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.concatenate(seqs).astype(np.int32) if seqs and offsets[-1] else np.zeros(0, np.int32)
        return cls(flat, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Length of every sequence (int64)."""
        return np.diff(self.offsets)

    def lengths_of(self, index: np.ndarray) -> np.ndarray:
        """Lengths of the rows in ``index`` (without computing every row's)."""
        return self.offsets[index + 1] - self.offsets[index]

    def __getitem__(self, i: int) -> np.ndarray:
        return self.flat[self.offsets[i] : self.offsets[i + 1]]

    def to_lists(self) -> list[list[int]]:
        """The sequences as lists of Python ints (for tests and small data only)."""
        return [self[i].tolist() for i in range(len(self))]

    def take(self, index: np.ndarray) -> "Sequences":
        """A new ``Sequences`` with the rows in ``index`` (any order, repeats allowed)."""
        index = np.asarray(index, dtype=np.int64)
        lengths = self.lengths[index]
        offsets = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        starts = self.offsets[:-1][index]
        # position of every output token in the source array
        src = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
        return Sequences(self.flat[src], offsets)

    def truncate(self, maxlen: int | None, truncating: str = "pre") -> "Sequences":
        """Cut every sequence to at most ``maxlen`` tokens, dropping from the start ('pre',
        Keras's default) or the end ('post')."""
        if maxlen is None or len(self) == 0 or self.lengths.max(initial=0) <= maxlen:
            return self
        lengths = self.lengths
        new_len = np.minimum(lengths, maxlen)
        starts = self.offsets[:-1] + (lengths - new_len if truncating == "pre" else 0)
        offsets = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(new_len, out=offsets[1:])
        src = np.repeat(starts - offsets[:-1], new_len) + np.arange(offsets[-1], dtype=np.int64)
        return Sequences(self.flat[src], offsets)

    def pad(self, index: np.ndarray | None = None, length: int | None = None,
            padding: str = "pre", value: int = 0) -> np.ndarray:
        """Padded int64 matrix of the rows in ``index`` (all rows when None).

        ``length`` defaults to the longest selected row; rows longer than ``length`` keep their
        last tokens (call :meth:`truncate` first for other truncation rules)."""
        index = np.arange(len(self)) if index is None else np.asarray(index, dtype=np.int64)
        ends = self.offsets[index + 1]
        lengths = ends - self.offsets[index]
        width = int(lengths.max(initial=0)) if length is None else int(length)
        if width == 0 or len(index) == 0 or not len(self.flat):
            return np.full((len(index), width), value, dtype=np.int64)
        take = np.minimum(lengths, width)
        col = np.arange(width)
        # one gather: column j of a row holds the token at src[j] when it is not padding
        if padding == "pre":
            src = (ends - width)[:, None] + col
            real = col >= (width - take)[:, None]
        else:
            src = (ends - take)[:, None] + col
            real = col < take[:, None]
        np.clip(src, 0, len(self.flat) - 1, out=src)
        tokens = self.flat[src]
        if real.all():
            return tokens.astype(np.int64)
        out = np.full((len(index), width), value, dtype=np.int64)
        np.copyto(out, tokens, where=real)
        return out


def pad_sequences(sequences: Iterable[Seq[int]] | Sequences, maxlen: int | None = None,
                  padding: str = "pre", truncating: str = "pre", value: int = 0,
                  dtype: str = "int32") -> np.ndarray:
    """Keras ``pad_sequences``: pad/truncate every sequence to ``maxlen``.

    Args:
        sequences: lists of token ids or a :class:`Sequences`.
        maxlen: target length; default None = the longest sequence.
        padding: 'pre' (default, as Keras) or 'post': where the padding goes.
        truncating: 'pre' (default, as Keras) or 'post': which end is cut from longer rows.
        value: padding value, default 0.
        dtype: output dtype, default 'int32'.
    """
    for name, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise param_error(name, "'pre' or 'post'", v)
    if maxlen is not None and (not isinstance(maxlen, (int, np.integer)) or maxlen < 1):
        raise param_error("maxlen", "an int >= 1 or None", maxlen)
    seqs = sequences if isinstance(sequences, Sequences) else Sequences.from_lists(sequences)
    seqs = seqs.truncate(maxlen, truncating)
    width = maxlen if maxlen is not None else int(seqs.lengths.max(initial=0))
    return seqs.pad(length=width, padding=padding, value=value).astype(dtype)
