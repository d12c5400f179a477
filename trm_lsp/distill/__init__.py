"""Distillation: teacher backends, prompts, the persistent job queue and the worker that asks
the teacher for every symbol whose text has no answer yet."""
