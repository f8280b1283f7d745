"""The IMDB movie-review sentiment data (25,000 train and 25,000 test reviews, positive or not).

It comes in three forms, all read by :func:`load_imdb`:

- a CSV with columns ``id,rating,label,text`` (one split, e.g. ``aclImdb_train.csv.gz``);
- the original ``aclImdb`` layout, as a folder or as the ``aclImdb_v1.tar.gz`` archive;
- Keras's ``imdb.npz`` (reviews already turned into word ids), with ``imdb_word_index.json``.

The npz stores its reviews as pickled object arrays. ``np.load(allow_pickle=True)`` would run
any code such a file asks for, so :func:`_read_npy` unpickles with a whitelist of the few
NumPy constructors that an array of lists needs, and refuses everything else.
"""

from __future__ import annotations

import codecs
import itertools
import json
import math
import os
import pickle
import re
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.lib import format as npy_format

from ..errors import DataError, param_error
from ..text.sequences import Sequences
from .dataset import LabelSchema, TextDataset
from .download import fetch
from .tables import EMPTY_TEXT_POLICIES, decode_utf8, load_table, read_bytes, read_frame, require_columns

KERAS_IMDB_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
KERAS_IMDB_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
KERAS_WORD_INDEX_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"
KERAS_WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"  # Keras publishes only an md5 for it
ACLIMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
ACLIMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"

SOURCES = ("auto", "csv", "aclimdb", "keras")
SCHEMA = LabelSchema("binary", ["positive"], column="label")
HINT = "pass its local path with --data or set RNNLAB_IMDB=/path/to/file"
_REVIEW = r"(pos|neg)/(\d+)_(\d+)\.txt"


def load_imdb(path: str | Path | None = None, *, split: str = "train", source: str = "auto",
              num_words: int | None = None, skip_top: int = 0, maxlen: int | None = None,
              seed: int = 113, start_char: int | None = 1, oov_char: int | None = 2,
              index_from: int = 3, word_index_path: str | Path | None = None,
              cache_dir: str | Path | None = None, download: bool = True,
              empty_text: str = "keep") -> TextDataset:
    """Load one split of IMDB; the target is the probability that a review is positive.

    Args:
        path: a CSV (``id,rating,label,text``), an ``aclImdb`` folder (or its parent), the
            ``aclImdb_v1.tar.gz`` archive, or Keras's ``imdb.npz``. Default None =
            ``$RNNLAB_IMDB``, else the archive is downloaded (``imdb.npz`` for source 'keras').
        split: 'train' (default) or 'test'. A CSV holds one split and ignores it.
        source: 'auto' (default: from what ``path`` is), 'csv', 'aclimdb' or 'keras'.
        num_words, skip_top, maxlen, seed, start_char, oov_char, index_from: Keras's
            ``imdb.load_data`` options, with its defaults (None, 0, None, 113, 1, 2, 3) and
            meaning; ``maxlen`` removes the reviews of ``maxlen`` ids or more. npz only.
        word_index_path: Keras's ``imdb_word_index.json``; default None = the one next to the
            npz, when there is one. npz only.
        cache_dir: where downloads are kept; default None = ``$RNNLAB_CACHE_DIR`` or
            ``~/.cache/rnnlab``.
        download: default True = download the data when no path is given.
        empty_text: 'keep' (default), 'drop' or 'error' for empty reviews (text forms only).
    """
    if split not in ("train", "test"):
        raise param_error("split", "'train' or 'test'", split)
    if source not in SOURCES:
        raise param_error("source", f"one of {', '.join(map(repr, SOURCES))}", source)
    if empty_text not in EMPTY_TEXT_POLICIES:
        raise param_error("empty_text", "one of 'keep', 'drop', 'error'", empty_text)
    if path is None:
        path = os.environ.get("RNNLAB_IMDB") or None
    if path is None:
        if not download:
            raise DataError("No IMDB data given and downloading is off: pass the file's path "
                            "with --data, set RNNLAB_IMDB=/path/to/file, or allow the download.")
        path = _fetch_default(source, cache_dir, word_index_path is None)
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"IMDB data '{path}' does not exist; check the path (or RNNLAB_IMDB).")
    kind = source if source != "auto" else detect_source(path)
    keras_options = dict(num_words=num_words, skip_top=skip_top, maxlen=maxlen, seed=seed,
                         start_char=start_char, oov_char=oov_char, index_from=index_from,
                         word_index_path=word_index_path)
    if kind == "keras":
        return _load_keras(path, split, **keras_options)
    ds = _load_csv(path, empty_text) if kind == "csv" else _load_aclimdb(path, split, empty_text)
    if kind == "csv" and split != "train":
        ds.notes.append(f"split={split!r} ignored: '{path}' holds a single split, used as is")
    # num_words is left out: for raw text the tokenizer applies its own
    changed = [f"{k}={v!r}" for k, v in keras_options.items()
               if k != "num_words" and v != load_imdb.__kwdefaults__[k]]
    if changed:
        ds.notes.append(f"ignored {', '.join(changed)}: these apply only to Keras's imdb.npz, "
                        f"and '{path}' holds raw text")
    return ds


def _fetch_default(source: str, cache_dir, with_word_index: bool) -> Path:
    if source == "csv":
        raise DataError("The IMDB CSV form cannot be downloaded: pass its path with --data or "
                        "RNNLAB_IMDB, or use source 'auto' to download the original archive.")
    if source == "keras":
        npz = fetch(KERAS_IMDB_URL, filename="imdb.npz", sha256=KERAS_IMDB_SHA256,
                    cache_dir=cache_dir, hint=HINT)
        if with_word_index:  # lands next to the npz, where _load_keras looks for it
            fetch(KERAS_WORD_INDEX_URL, filename="imdb_word_index.json", sha256=None,
                  md5=KERAS_WORD_INDEX_MD5, cache_dir=cache_dir, hint=HINT)
        return npz
    return fetch(ACLIMDB_URL, filename="aclImdb_v1.tar.gz", sha256=ACLIMDB_SHA256,
                 cache_dir=cache_dir, hint=HINT)


def detect_source(path: Path) -> str:
    name = path.name.lower()
    if path.is_dir() or name.endswith((".tar.gz", ".tgz", ".tar")):
        return "aclimdb"
    return "keras" if name.endswith(".npz") else "csv"


# --- CSV -------------------------------------------------------------------------------------

def _load_csv(path: Path, empty_text: str) -> TextDataset:
    """The ``id`` column repeats (0..12499 among positives, again among negatives), so the ids
    are rebuilt as the aclImdb file stems ``pos/{id}_{rating}`` / ``neg/{id}_{rating}``."""
    frame = read_frame(path)
    require_columns(frame, ["id", "rating", "label", "text"], str(path), "data.path")
    ids = []
    for row, (i, rating, label) in enumerate(zip(frame["id"], frame["rating"], frame["label"]), 1):
        if pd.isna(i) or pd.isna(rating) or pd.isna(label):
            raise DataError(f"'{path}' row {row}: empty id, rating or label; every IMDB row needs "
                            f"all three. Fix the row or drop it.")
        ids.append(f"{'pos' if _key(label) in ('1', '1.0', 'true') else 'neg'}/{_key(i)}_{_key(rating)}")
    frame = frame.assign(aclimdb_id=ids)
    ds = load_table(path, text_column="text", label_columns=["label"], id_column="aclimdb_id",
                    task="binary", empty_text=empty_text, frame=frame)
    ds.schema = SCHEMA
    return ds


def _key(v: object) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip().lower()


# --- aclImdb folder or archive ---------------------------------------------------------------

def _load_aclimdb(path: Path, split: str, empty_text: str) -> TextDataset:
    """Reviews ``{split}/pos/N_R.txt`` then ``{split}/neg/N_R.txt``, each by N ascending."""
    files = _folder_reviews(path, split) if path.is_dir() else _archive_reviews(path, split)
    if not files:
        raise DataError(f"'{path}' holds no {split}/pos/*.txt or {split}/neg/*.txt reviews; "
                        f"expected the aclImdb layout (folder or aclImdb_v1.tar.gz).")
    files.sort(key=lambda f: (f[0] != "pos", int(f[1])))
    ids = [f"{label}/{n}_{rating}" for label, n, rating, _, _ in files]
    texts = [decode_utf8(raw, where) for _, _, _, raw, where in files]
    labels = np.asarray([label == "pos" for label, *_ in files], dtype=np.float32)
    notes = []
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty:
        which = ", ".join(ids[i] for i in empty[:5]) + (", ..." if len(empty) > 5 else "")
        if empty_text == "error":
            raise DataError(f"'{path}' {split}: {len(empty)} empty reviews ({which}). Fix the "
                            f"files, or set data.empty_text = 'keep' or 'drop'.")
        if empty_text == "drop":
            keep = sorted(set(range(len(texts))) - set(empty))
            ids, texts, labels = [ids[i] for i in keep], [texts[i] for i in keep], labels[keep]
            notes.append(f"dropped {len(empty)} empty reviews ({which})")
        else:
            notes.append(f"kept {len(empty)} empty reviews as empty strings ({which})")
    return TextDataset(ids=np.asarray(ids, dtype=object), texts=texts, targets=labels[:, None],
                       schema=SCHEMA, source=f"{path} ({split})", notes=notes)


def _folder_reviews(path: Path, split: str) -> list[tuple]:
    root = next((r for r in (path, path / "aclImdb") if (r / split).is_dir()), None)
    if root is None:
        raise DataError(f"'{path}' has no '{split}' folder (nor 'aclImdb/{split}'); point the path "
                        f"at the aclImdb folder of the original archive.")
    out = []
    for label in ("pos", "neg"):
        for f in (root / split / label).glob("*.txt"):
            if m := re.fullmatch(_REVIEW, f"{label}/{f.name}"):
                try:
                    out.append((*m.groups(), f.read_bytes(), str(f)))
                except OSError as exc:
                    raise DataError(f"Cannot read '{f}': {exc.strerror or exc}.") from None
    return out


def _archive_reviews(path: Path, split: str) -> list[tuple]:
    """One streaming pass over the archive (nothing is extracted to disk)."""
    wanted = re.compile(rf"(?:.*/)?{split}/{_REVIEW}")
    out = []
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                if member.isfile() and (m := wanted.fullmatch(member.name)):
                    out.append((*m.groups(), tar.extractfile(member).read(), f"{path}:{member.name}"))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"Cannot read archive '{path}': {exc}. Is it complete? Delete it to download "
                        f"it again, or pass the extracted aclImdb folder.") from None
    return out


# --- Keras imdb.npz --------------------------------------------------------------------------

def _load_keras(path: Path, split: str, *, num_words, skip_top, maxlen, seed, start_char,
                oov_char, index_from, word_index_path) -> TextDataset:
    for key, value, minimum, none_ok in (
            ("num_words", num_words, 1, True), ("skip_top", skip_top, 0, False),
            ("maxlen", maxlen, 1, True), ("seed", seed, 0, False), ("start_char", start_char, 0, True),
            ("oov_char", oov_char, 0, True), ("index_from", index_from, 0, False)):
        is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if not ((value is None and none_ok) or (is_int and value >= minimum)):
            raise param_error(key, f"an int >= {minimum}" + (" or None" if none_ok else ""), value)
    seqs, y, num_words, removed = _keras_load_data(
        _read_npz(path), split, str(path), num_words=num_words, skip_top=skip_top, maxlen=maxlen,
        seed=seed, start_char=start_char, oov_char=oov_char, index_from=index_from)
    notes = [f"removed {removed} reviews of {maxlen} ids or more (Keras's maxlen)"] if maxlen else []
    start = "no start id" if start_char is None else f"{start_char} start"
    oov = "other ids removed" if oov_char is None else f"other ids become {oov_char} (out-of-vocabulary)"
    notes.append(f"token ids follow Keras's imdb encoding: 0 padding, {start}, words = frequency "
                 f"rank + {index_from}, kept if in [{skip_top}, {num_words}), {oov}")
    word_index = _word_index(path, word_index_path, index_from, skip_top, num_words, notes)
    return TextDataset(ids=np.asarray([f"{split}/{i}" for i in range(len(y))], dtype=object),
                       texts=None, targets=y.astype(np.float32)[:, None], schema=SCHEMA,
                       source=f"{path} ({split})", sequences=seqs, word_index=word_index, notes=notes)


def _keras_load_data(arrays: dict[str, np.ndarray], split: str, source: str, *, num_words, skip_top,
                     maxlen, seed, start_char, oov_char, index_from) -> tuple[Sequences, np.ndarray, int, int]:
    """Keras 3 ``imdb.load_data``, vectorised. Returns the split's (sequences, labels), the
    ``num_words`` used and how many of its reviews ``maxlen`` removed."""
    rng = np.random.RandomState(seed)
    splits = {}
    for name in ("train", "test"):  # one generator shuffles train, then test
        x, y = _ragged(arrays[f"x_{name}"], f"{source}:x_{name}.npy"), arrays[f"y_{name}"]
        if y.shape != (len(x),) or not np.isin(y, (0, 1)).all():
            raise DataError(f"'{source}': y_{name} must hold one 0/1 label per review of x_{name} "
                            f"({len(x)}); got shape {y.shape}, values {np.unique(y)[:5].tolist()}.")
        order = np.arange(len(x))
        rng.shuffle(order)
        x = x.take(order)
        flat, lengths = x.flat + index_from, x.lengths
        if start_char is not None:
            flat, lengths = np.insert(flat, x.offsets[:-1], start_char), lengths + 1
        splits[name] = (flat, lengths, y[order])
    removed = 0
    if maxlen:  # Keras removes (does not truncate) the reviews with len >= maxlen
        for name, (flat, lengths, y) in splits.items():
            keep = lengths < maxlen
            splits[name] = (flat[np.repeat(keep, lengths)], lengths[keep], y[keep])
            if name == split:
                removed = int((~keep).sum())
        if empty := [name for name, (_, _, y) in splits.items() if len(y) == 0]:
            raise DataError(f"No review of fewer than maxlen={maxlen} ids is left in "
                            f"{' and '.join(empty)}; increase maxlen.")
    if not num_words:  # the largest id, which `w < num_words` below then makes OOV (as Keras)
        num_words = int(max((flat.max() for flat, _, _ in splits.values() if len(flat)), default=0))
    flat, lengths, y = splits[split]
    inside = (flat >= skip_top) & (flat < num_words)
    if oov_char is not None:
        flat = np.where(inside, flat, oov_char)
    else:
        row = np.repeat(np.arange(len(lengths)), lengths)
        flat, lengths = flat[inside], np.bincount(row[inside], minlength=len(lengths))
    if len(flat) and flat.max() > np.iinfo(np.int32).max:
        raise DataError(f"'{source}' holds word ids beyond int32; is it really Keras's imdb.npz?")
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Sequences(flat.astype(np.int32), offsets), y, num_words, removed


def _word_index(npz: Path, word_index_path, index_from: int, skip_top: int, num_words: int,
                notes: list[str]) -> dict[str, int] | None:
    """Keras's word -> rank map shifted by ``index_from``, restricted to the ids kept."""
    path = Path(word_index_path).expanduser() if word_index_path else npz.with_name("imdb_word_index.json")
    if not path.is_file():
        if word_index_path:
            raise DataError(f"word_index_path '{path}' does not exist; pass Keras's imdb_word_index.json.")
        notes.append(f"no imdb_word_index.json next to '{npz}': new text cannot be tokenised for this run")
        return None
    try:
        ranks = json.loads(decode_utf8(read_bytes(path), str(path)))
    except json.JSONDecodeError as exc:
        raise DataError(f"'{path}' is not valid JSON ({exc.msg}, line {exc.lineno}).") from None
    if not isinstance(ranks, dict) or not all(isinstance(r, int) for r in ranks.values()):
        raise DataError(f"'{path}' must map words to integer ranks, like Keras's imdb_word_index.json.")
    return {w: r + index_from for w, r in ranks.items() if skip_top <= r + index_from < num_words}


def _ragged(x: np.ndarray, where: str) -> Sequences:
    """A 1-D object array of id lists as (int64) Sequences."""
    if x.ndim != 1 or x.dtype != object:
        raise DataError(f"'{where}' is a {x.dtype} array of shape {x.shape}; expected a 1-D object "
                        f"array of word-id lists, as in Keras's imdb.npz.")
    try:
        lengths = np.fromiter(map(len, x), dtype=np.int64, count=len(x))
        flat = np.fromiter(itertools.chain.from_iterable(x), dtype=np.int64, count=int(lengths.sum()))
    except (TypeError, ValueError, OverflowError) as exc:
        raise DataError(f"'{where}' must hold lists of integer word ids ({exc}).") from None
    return Sequences(flat, np.concatenate([[0], np.cumsum(lengths)]))


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    names = ("x_train", "y_train", "x_test", "y_test")
    try:
        with zipfile.ZipFile(path) as zf:
            missing = [n for n in names if f"{n}.npy" not in zf.namelist()]
            if missing:
                raise DataError(f"'{path}' lacks {', '.join(missing)} (it has {', '.join(zf.namelist())}); "
                                f"expected Keras's imdb.npz.")
            arrays = {}
            for n in names:
                with zf.open(f"{n}.npy") as fh:
                    arrays[n] = _read_npy(fh, f"{path}:{n}.npy")
            return arrays
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"Cannot read '{path}' as an npz archive: {exc}. Is the file complete?") from None


def _read_npy(fh, where: str) -> np.ndarray:
    """One .npy member; object arrays go through :class:`_SafeUnpickler`."""
    try:
        version = npy_format.read_magic(fh)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"unsupported .npy version {version}")
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = npy_format.read_array_header_2_0(fh)
        if dtype.hasobject:
            array = _SafeUnpickler(fh, where).load()
            if not isinstance(array, np.ndarray) or array.shape != shape:
                raise ValueError(f"the pickle holds a {type(array).__name__}, not the announced array")
            return array
        count = math.prod(shape)
        data = fh.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise ValueError("the array data is truncated")
        return np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    except (ValueError, pickle.UnpicklingError, EOFError, TypeError) as exc:
        raise DataError(f"'{where}' is not a valid .npy array: {exc}.") from None


_RECONSTRUCT = np.empty(0).__reduce__()[0]  # numpy's _reconstruct, wherever this numpy keeps it
_SCALAR = np.int64(0).__reduce__()[0]  # numpy's scalar
_ALLOWED = {  # NumPy 1.x pickles name numpy.core, NumPy 2.x numpy._core
    **{(module, "_reconstruct"): _RECONSTRUCT for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "scalar"): _SCALAR for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how protocol 2 pickles bytes
}


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles arrays of lists and numbers; any other global is refused, never imported."""

    def __init__(self, fh, where: str):
        super().__init__(fh, encoding="latin1")  # latin1: what NumPy uses for Python 2 pickles
        self.where = where

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataError(f"'{self.where}' asks to load {module}.{name}, which a word-id array "
                            f"never needs; refusing it (the file may be malicious). Use the "
                            f"official imdb.npz.") from None
