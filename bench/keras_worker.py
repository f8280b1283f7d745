"""One Keras measurement, run by bench/run.py in a fresh interpreter (the Keras venv).

This script must not import rnnlab. It reads a JSON spec (argv[1]) and prints one line
``RESULT {json}`` with the timings; ``KERAS_BACKEND`` (tensorflow or jax) is set by the runner.

Kinds:
- ``train``: reads the token ids saved by the runner (.npz: flat ids + offsets), pads them
  with Keras's ``pad_sequences`` to maxlen (Keras trains on fixed-length arrays, as the
  notebooks do), builds the model, warms up (one short fit and predict on a few batches,
  which traces/compiles every batch shape), then times ``epochs`` full epochs (training only,
  no validation) and ``predict`` on every row with batch 1024;
- ``tok``: Keras 2's ``Tokenizer`` (tf_keras) ``fit_on_texts`` + ``texts_to_sequences`` on the
  benchmark corpus, with hashes of the word index and of the sequences.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_corpus import read_corpus  # noqa: E402  (bench/make_corpus.py; no rnnlab import)


def status_mb(field: str) -> float:
    """A memory field of /proc/self/status (``VmRSS``, ``VmHWM``...) in MB; NaN where unreadable."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    """Peak RSS of this process since it started (VmHWM). ``ru_maxrss`` is not used: Linux
    carries the launching process's peak over the exec into it (the runner holds the data)."""
    peak = status_mb("VmHWM")
    return peak if peak == peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def hash_vocab(word_index: dict) -> str:
    h = hashlib.sha256()
    for w, i in word_index.items():
        h.update(f"{w}\t{i}\n".encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


def hash_sequences(flat: np.ndarray, offsets: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(flat, dtype=np.int32).tobytes())
    h.update(np.ascontiguousarray(offsets, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def run_tok(spec: dict) -> dict:
    from tf_keras.preprocessing.text import Tokenizer

    texts = read_corpus(spec["corpus"], spec.get("docs"))
    t0 = time.perf_counter()
    tok = Tokenizer()
    tok.fit_on_texts(texts)
    t1 = time.perf_counter()
    seqs = tok.texts_to_sequences(texts)
    t2 = time.perf_counter()
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((i for s in seqs for i in s), dtype=np.int32, count=int(offsets[-1]))
    return {"fit_s": t1 - t0, "transform_s": t2 - t1, "seconds": t2 - t0, "docs": len(texts),
            "tokens": int(offsets[-1]), "vocabulary": len(tok.word_index),
            "vocab_hash": hash_vocab(tok.word_index), "seq_hash": hash_sequences(flat, offsets)}


def _padded(data, prefix: str, maxlen: int) -> np.ndarray:
    from keras.utils import pad_sequences

    flat, offsets = data[f"{prefix}_flat"], data[f"{prefix}_offsets"]
    seqs = np.split(flat, offsets[1:-1]) if len(offsets) > 1 else []
    return pad_sequences(seqs, maxlen=maxlen, padding="pre", truncating="pre", dtype="int32")


def make_model(spec: dict):
    import keras
    from keras import layers

    m = spec["model"]
    keras.utils.set_random_seed(spec.get("seed", 0))
    inp = keras.Input(shape=(spec["maxlen"],), dtype="int32")
    h = layers.Embedding(m["input_dim"], m["embedding_dim"])(inp)
    rnn = {"LSTM": layers.LSTM, "GRU": layers.GRU, "SimpleRNN": layers.SimpleRNN}[m["rnn"]]
    cell = rnn(m["units"], return_sequences=m.get("return_sequences", False))
    h = (layers.Bidirectional(cell) if m.get("bidirectional") else cell)(h)
    if m.get("pool") == "max":
        h = layers.GlobalMaxPooling1D()(h)
    out = layers.Dense(m["outputs"], activation="sigmoid")(h)
    model = keras.Model(inp, out)
    model.compile(optimizer=m["optimizer"], loss="binary_crossentropy", metrics=["accuracy"])
    return keras, model


class EpochTimer:
    def __init__(self):
        self.times: list[float] = []
        self._t0 = 0.0

    def callback(self, keras):
        timer = self

        class _CB(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                timer._t0 = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                timer.times.append(time.perf_counter() - timer._t0)

        return _CB()


def run_train(spec: dict) -> dict:
    data = np.load(spec["data"])
    maxlen, bs = spec["maxlen"], spec["batch_size"]
    x_train, x_val = _padded(data, "train", maxlen), _padded(data, "val", maxlen)
    y_train = data["y_train"]
    x_all = np.concatenate([x_train, x_val])
    keras, model = make_model(spec)
    n = len(x_train)
    # warm-up: full batches and the epoch's last (partial) batch size, so tracing/compiling of
    # both shapes happens here and not in the timed epochs
    k = min(n, 3 * bs + n % bs)
    t0 = time.perf_counter()
    model.fit(x_train[:k], y_train[:k], batch_size=bs, epochs=1, shuffle=True, verbose=0)
    m = len(x_all)
    kp = min(m, 1024 + m % 1024)
    model.predict(x_all[:kp], batch_size=1024, verbose=0)
    warmup = time.perf_counter() - t0
    timer = EpochTimer()
    hist = model.fit(x_train, y_train, batch_size=bs, epochs=spec["epochs"], shuffle=True, verbose=0,
                     callbacks=[timer.callback(keras)])
    t0 = time.perf_counter()
    model.predict(x_all, batch_size=1024, verbose=0)
    infer = time.perf_counter() - t0
    steps = -(-n // bs)
    epoch_s = float(np.median(timer.times))
    return {"epoch_times": timer.times, "epoch_s": epoch_s, "steps": steps, "ms_per_step": 1000 * epoch_s / steps,
            "warmup_s": warmup, "infer_rows": m, "infer_s": infer, "rows_per_s": m / infer,
            "final_loss": float(hist.history["loss"][-1]), "backend": keras.backend.backend(),
            "keras_version": keras.__version__}


def versions() -> dict:
    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    backend = os.environ.get("KERAS_BACKEND", "")
    try:
        import keras

        out["keras"] = keras.__version__
    except Exception:  # noqa: BLE001
        pass
    if backend == "tensorflow" or backend == "":
        try:
            import tensorflow as tf

            out["tensorflow"] = tf.__version__
        except Exception:  # noqa: BLE001
            pass
    if backend == "jax":
        import jax

        out["jax"] = jax.__version__
    return out


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    if spec["kind"] == "tok":
        result = run_tok(spec)
    elif spec["kind"] == "train":
        result = run_train(spec)
    else:
        print(f"keras_worker: unknown kind {spec['kind']!r}", file=sys.stderr)
        return 2
    result["peak_rss_mb"] = peak_rss_mb()
    result["versions"] = versions()
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
