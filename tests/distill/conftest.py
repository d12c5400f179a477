from __future__ import annotations

def fast_settings(url: str, **overrides):
    """Teacher settings for tests: the fake server, short backoff, a breaker that trips fast."""
    from trm_lsp.config import TeacherSettings

    values = dict(host=url, timeout=5, backoff_initial=0.01, backoff_max=0.05, max_attempts=3,
                  breaker_failures=2, probe_interval=0.2)
    values.update(overrides)
    return TeacherSettings(**values)


def distill_edit_distill(store, settings, edit):
    """Distill everything, then `edit()` the workspace (it re-indexes what it changed), tell the
    distiller as the daemon does after an edit, and distill again: the session's stats."""
    import asyncio

    from trm_lsp.distill.teacher import make_teacher
    from trm_lsp.distill.worker import Distiller

    async def go():
        teacher = make_teacher(settings)
        try:
            distiller = Distiller(store, teacher, settings)
            distiller.plan()
            await distiller.run()
            edit()
            distiller.symbols_changed()
            return await distiller.run()
        finally:
            await teacher.close()

    return asyncio.run(go())
