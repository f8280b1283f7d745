"""The bad-input registry (cases.py), the test that runs it and writes docs/bad-inputs.md, and
the hypothesis suite of hostile files."""
