"""Bad inputs of run folders (files a user or an attacker replaced) and of the HTTP server
(hostile clients); each is checked by the tests it names."""

from __future__ import annotations

from pathlib import Path

from .cases import Case

RF = "tests/test_run_files.py::"
DEMO = "tests/experiments/test_demo.py::"
FZ = "tests/serve/test_http_fuzz.py::"
APP = "tests/serve/test_app.py::"



def _full_demo_folder(folder: Path) -> list[str]:
    """An earlier demo's folder given again as ``--out``."""
    (folder / "runs_demo" / "imdb_bigru").mkdir(parents=True)
    (folder / "runs_demo" / "comparison.md").write_text("| model |\n")
    return ["demo", "--out", "runs_demo", "--data", "imdb.csv"]


CASES = [
    Case("demo-out-not-empty", "`rnnlab demo --out DIR` where DIR holds an earlier demo (or anything)",
         "`rnnlab demo`", _full_demo_folder, 2, r"already exists and is not empty; choose another \(--out\)",
         "`ConfigError` before any training: a demo's comparison describes only its own run folders (without "
         "`--out` each demo gets `runs/demo`, `runs/demo-2`, …)",
         DEMO + "test_each_demo_gets_its_own_folder_and_a_full_out_is_refused"),
    Case("run-file-not-regular", "a run file replaced by a FIFO, a link to `/dev/zero`, a link out of the folder, "
         "or a folder", "any command loading a run", None, 2, "",
         "`RunError` before anything is read: `'…' is not a regular file inside the run folder (a link out of the "
         "folder, a FIFO, a device or a folder); rnnlab reads only the files it wrote: restore the file or retrain.`",
         RF + "test_a_protected_file_that_is_not_a_regular_file_is_refused_before_it_is_read, "
         + RF + "test_an_unprotected_file_that_is_not_a_regular_file_is_refused"),
    Case("run-file-too-large", "a run file larger than rnnlab writes (weights: larger than the manifest records)",
         "any command loading a run", None, 2, "",
         "`RunError`, read no further than the limit: `'…' has more than N bytes, more than rnnlab writes there; "
         "it is not the file rnnlab wrote: restore it or retrain.`",
         RF + "test_a_file_over_its_size_limit_is_refused_unread, "
         + RF + "test_weights_are_read_no_further_than_the_manifest_says"),
    Case("run-json-invalid", "`run.json` (not in the manifest) that is not JSON, not UTF-8, or of the wrong shape",
         "predict, evaluate, serve, export", None, 2, "",
         "`RunError`: `'…/run.json' is not valid JSON (line 1 column 30: …); restore it, or delete it (it only "
         "records versions and timings).`",
         RF + "test_invalid_run_json_is_a_one_line_run_error, " + RF + "test_run_json_of_the_wrong_shape_is_refused, "
         + APP + "test_a_run_with_an_invalid_run_json_is_a_run_error"),
    Case("run-json-any-bytes", "any bytes in `metrics.json`, `run.json` or `history.csv` (hypothesis)",
         "loading a run, `rnnlab report`", None, 2, "", "read, or one `RunError` naming the file; never a traceback",
         RF + "test_any_bytes_in_an_unprotected_json_file_read_or_are_one_run_error"),
    Case("manifest-escape", "a manifest naming `../secret`", "any command loading a run", None, 2, "",
         "`RunError`: `'…/manifest.json' is damaged (not the JSON rnnlab writes); restore it or retrain.`",
         RF + "test_a_manifest_naming_a_file_outside_the_folder_is_refused"),
    Case("serve-surrogate", '`{"texts": ["\\\\ud800"]}` (a lone UTF-16 surrogate)', "`rnnlab serve`", None, 422, "",
         "422 `invalid_text`: `texts[1] holds an unpaired UTF-16 surrogate …; send valid Unicode` — the input is "
         "never echoed, no traceback in the log",
         APP + "test_lone_surrogates_are_422_and_never_echoed, " + FZ + "test_generated_bodies_with_surrogates"),
    Case("serve-slow-headers", "a client that sends partial headers, or drips them byte by byte", "`rnnlab serve`",
         None, 408, "", "408 `request_timeout` JSON after `--header-timeout` (10 s), then the connection is closed",
         FZ + "test_partial_headers_get_408_and_are_closed_within_the_header_timeout, "
         + FZ + "test_headers_dripped_byte_by_byte_are_cut_at_the_header_timeout, "
         + FZ + "test_fifty_stalled_connections_are_all_released"),
    Case("serve-slow-body", "a client that stalls or drips its body", "`rnnlab serve`", None, 408, "",
         "408 `request_timeout` JSON after `--body-timeout` (30 s: `The body did not arrive within body_timeout_s=30 "
         "seconds (N bytes received); the connection is closed.`)",
         FZ + "test_a_stalled_body_gets_408_and_is_closed_within_the_body_timeout, "
         + FZ + "test_a_dripped_body_is_cut_at_the_body_timeout"),
    Case("serve-malformed-http", "`Content-Length: abc`, a garbage request line, no `Host`, pipelined garbage",
         "`rnnlab serve`", None, 400, "",
         "400 `bad_request` JSON with the parser's reason (httptools or h11, `--http`): `The HTTP request is "
         "malformed: invalid character in Content-Length. Nothing was processed.`",
         FZ + "test_malformed_requests_get_a_json_error, " + FZ + "test_generated_request_lines_and_garbage, "
         + FZ + "test_generated_headers_and_content_lengths, " + FZ + "test_pipelined_garbage_after_a_valid_request"),
    Case("serve-huge-headers", "request headers over 16 KiB", "`rnnlab serve`", None, 431, "",
         "431 `headers_too_large` JSON: `The request line and headers have N bytes; the limit is 16,384 bytes.`",
         FZ + "test_malformed_requests_get_a_json_error"),
    Case("serve-http-option", "`--http` other than auto / httptools / h11, or `--loop` other than auto / uvloop / "
         "asyncio", "`rnnlab serve`", lambda folder: ["serve", "some-run", "--http", "fast"], 2,
         r"The 'http' parameter must be one of 'auto', 'httptools', 'h11'\. Got 'fast' instead\.",
         "`ConfigError` before the run is loaded; a parser or loop that is not installed names "
         "`pip install 'rnnlab[serve]'`", FZ + "test_the_parser_and_loop_are_chosen_and_checked"),
    Case("serve-key-in-url", "an API key in the URL (`?api_key=…`, `?token=…`)", "`rnnlab serve`", None, 400, "",
         "400 `key_in_url` JSON: only `Authorization: Bearer` is accepted; the access log shows "
         "`/v1/predict?<query not logged>`",
         APP + "test_a_key_in_the_query_string_is_refused, "
         + FZ + "test_a_key_in_the_url_is_refused_and_never_logged"),
    Case("quantize-baseline", "a linear-baseline run (or an ensemble) given to `rnnlab quantize` / `serve --int8`",
         "`rnnlab quantize`, `rnnlab serve --int8`", None, 2, "",
         "`RunError`: `'…' is a linear baseline (model.type = 'tfidf_lr'); only recurrent models (model.type = "
         "'rnn') are quantized to int8.`",
         "tests/test_quantize.py::test_cli_refuses_a_baseline_in_one_line, "
         "tests/test_quantize.py::test_ensembles_and_baselines_are_refused"),
]
