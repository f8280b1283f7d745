"""Bad inputs of the notebook API: training data given in memory (``rnnlab.train(config, data=...)``,
``rnnlab.RNNClassifier``) and configs saved from such runs."""

from __future__ import annotations

from .cases import Case

CASES = [
    Case("memory-config-without-data", "a run's saved `config.toml` whose `data.path` is "
         "`memory:DataFrame:sha256=…` (it trained on a DataFrame) trained again from the command line",
         "`rnnlab train`",
         lambda folder: ["train", "toy.toml", "--set", "data.path=memory:DataFrame:sha256=0123456789abcdef",
                         "--out", "out"], 2,
         r"names a table that was in memory when the run trained; there is no file to read\. Pass the table again",
         "`ConfigError` before any folder is made",
         "tests/data/test_memory.py::test_a_saved_memory_reference_is_no_path, "
         "tests/train/test_train_data.py::test_a_dataframe_trains_as_its_file"),
    Case("memory-data-bad", "`data=` that is no DataFrame, `(texts, labels)` pair or path; texts and labels of "
         "different lengths; one string as texts; a DataFrame without the label column",
         "`rnnlab.train(config, data=...)`", None, 2, "",
         "`ConfigError` / `DataError`, one line naming the fix",
         "tests/data/test_memory.py::test_bad_data_is_one_line, "
         "tests/data/test_memory.py::test_only_tables_come_from_memory"),
    Case("memory-resume-other-table", "`rnnlab.train(resume=RUN, data=frame)` with another table than the run "
         "trained on, or without one", "`rnnlab.train`", None, 2, "",
         "`RunError` naming both checksums", "tests/train/test_train_data.py::test_resume_needs_the_same_table"),
    Case("estimator-bad", "`RNNClassifier` given one class, one string, or an unknown config key "
         "(`fit__epoch=2`)", "`RNNClassifier.fit`", None, 2, "",
         "`ValueError` (scikit-learn's convention) / the config's one-line `ConfigError` at `fit`",
         "tests/train/test_estimator.py::test_unfitted_and_one_class, "
         "tests/train/test_estimator.py::test_an_unknown_key_fails_at_fit_in_one_line"),
]
