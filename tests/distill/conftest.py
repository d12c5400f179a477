from __future__ import annotations

def fast_settings(url: str, **overrides):
    """Teacher settings for tests: the fake server, short backoff, a breaker that trips fast."""
    from trm_lsp.config import TeacherSettings

    values = dict(host=url, timeout=5, backoff_initial=0.01, backoff_max=0.05, max_attempts=3,
                  breaker_failures=2, probe_interval=0.2)
    values.update(overrides)
    return TeacherSettings(**values)
