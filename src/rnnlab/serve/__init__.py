"""Serve a trained run over HTTP: ``create_app(run_or_path, limits, api_key)`` → a FastAPI app
(``rnnlab serve RUN`` runs it with uvicorn). Needs the ``serve`` extra:
``pip install 'rnnlab[serve]'``."""

from .app import API_KEY_ENV, Limits, MicroBatcher, create_app

__all__ = ["API_KEY_ENV", "Limits", "MicroBatcher", "create_app"]
