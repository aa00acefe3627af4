"""A small client for CRM integrations calling the crmlab model server.

Scoring is a pure function of the rows sent, so a POST may be retried safely: connection errors,
timeouts, 429 and 5xx are retried with exponential backoff (with jitter); a 4xx other than 429 is the
caller's mistake and raises ``ScoringRefused`` at once with the server's own message (which never
holds customer values: see ``training.core.scoring_guard``). Large frames go out in chunks of ``chunk_rows``
so a request stays under the server's body limit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import requests
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
DEFAULT_TIMEOUT = (3.0, 30.0)  # (connect, read) seconds
CHUNK_ROWS = 1000


class ScoringRefused(RuntimeError):
    """The server refused the request (HTTP 4xx): fix the payload; retrying will not help."""

    def __init__(self, status: int, message: str, error_code: str | None = None) -> None:
        self.status, self.server_message, self.error_code = status, message, error_code
        code = f" {error_code}" if error_code else ""
        super().__init__(f"the scoring server refused the request (HTTP {status}{code}): {message}")


class ServerUnavailable(RuntimeError):
    """The server did not answer successfully after every retry (down, overloaded or failing)."""


class _Retryable(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")


class CrmClient:
    """``CrmClient("http://127.0.0.1:5001").score(frame)`` -> one output row per input row (same index)."""

    def __init__(self, base_url: str, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT, attempts: int = 5,
                 backoff_s: float = 0.5, max_backoff_s: float = 10.0, chunk_rows: int = CHUNK_ROWS,
                 session: requests.Session | None = None) -> None:
        if attempts < 1 or chunk_rows < 1:
            raise ValueError("attempts and chunk_rows must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.timeout, self.attempts, self.chunk_rows = timeout, attempts, chunk_rows
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.session = session or requests.Session()

    def ping(self) -> bool:
        """True when the server answers ``/ping`` with 200 (one attempt, no retries)."""
        try:
            return self.session.get(f"{self.base_url}/ping", timeout=self.timeout).status_code == 200
        except requests.RequestException:
            return False

    def score(self, records: pd.DataFrame | Sequence[Mapping[str, Any]], *, reasons: bool = True
              ) -> pd.DataFrame:
        """Score a DataFrame or list of dicts; raises ``ScoringRefused`` or ``ServerUnavailable``.

        ``reasons=False`` asks the model to skip ``top_reasons`` (much cheaper for large pulls).
        """
        frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
        if frame.empty:
            raise ValueError("no records to score: pass at least one customer row")
        parts = [self._score_chunk(frame.iloc[start:start + self.chunk_rows], reasons)
                 for start in range(0, len(frame), self.chunk_rows)]
        return pd.concat(parts)

    def _score_chunk(self, chunk: pd.DataFrame, reasons: bool) -> pd.DataFrame:
        params = "" if reasons else ', "params": {"reasons": false}'
        body = ('{"dataframe_split": ' + chunk.to_json(orient="split", index=False, date_format="iso")
                + params + "}")
        response = self._post("/invocations", body)
        predictions = response.json()["predictions"]
        return pd.DataFrame(predictions).set_axis(chunk.index)

    def _post(self, path: str, body: str) -> requests.Response:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(initial=self.backoff_s, max=self.max_backoff_s),
            retry=retry_if_exception_type((requests.ConnectionError, requests.Timeout, _Retryable)),
        )
        url = f"{self.base_url}{path}"
        try:
            return retrying(self._post_once, url, body)
        except RetryError as err:
            last = err.last_attempt.exception()
            raise ServerUnavailable(f"scoring server {self.base_url} did not answer after {self.attempts} "
                                    f"attempt(s): {last}") from None

    def _post_once(self, url: str, body: str) -> requests.Response:
        response = self.session.post(url, data=body.encode(), timeout=self.timeout,
                                     headers={"Content-Type": "application/json"})
        if response.status_code < 400:
            return response
        message, code = _server_message(response)
        if response.status_code in RETRY_STATUS:
            raise _Retryable(response.status_code, message)
        raise ScoringRefused(response.status_code, message, code)


def _server_message(response: requests.Response) -> tuple[str, str | None]:
    try:
        payload = response.json()
    except (ValueError, json.JSONDecodeError):
        return response.text.strip()[:500] or response.reason or "no message", None
    if isinstance(payload, dict):
        return str(payload.get("message", payload))[:2000], payload.get("error_code")
    return str(payload)[:500], None
