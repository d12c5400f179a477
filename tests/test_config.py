"""Settings: defaults, camelCase keys, and errors that name the bad key."""

from __future__ import annotations

import pytest

from trm_lsp.config import ConfigError, Settings


def test_defaults():
    settings = Settings()
    assert settings.index.max_file_bytes == 1024 * 1024
    assert settings.documents.max_pdf_pages == 500


def test_camel_and_snake_case_keys():
    settings = Settings.from_dict({"index": {"maxFileBytes": 10, "exclude": "build/"}, "documents": {"ocr_timeout": 2}})
    assert settings.index.max_file_bytes == 10
    assert settings.index.exclude == ["build/"]
    assert settings.documents.ocr_timeout == 2.0


@pytest.mark.parametrize("data,message", [
    ({"indx": {}}, "unknown setting 'indx'"),
    ({"index": {"maxFileBytes": "1MB"}}, "'index.maxFileBytes' must be a number"),
    ({"index": {"maxFileBytes": -1}}, "must be a number not below 0"),
    ({"teacher": {"timeout": float("nan")}}, "'teacher.timeout' must be a number not below 0, not nan"),
    ({"index": {"workers": 1.5}}, "must be a whole number"),
    ({"documents": {"ocr": "yes"}}, "'documents.ocr' must be true or false"),
    ({"index": {"include": [1]}}, "must be a list of strings"),
    ({"index": 3}, "'index' must be a table"),
    ({"teacher": {"timeout": 0}}, "'teacher.timeout' must be at least 0.1, not 0"),
    ({"teacher": {"maxAnswerChars": 0}}, "'teacher.maxAnswerChars' must be at least 100"),
    ({"teacher": {"max_attempts": 0}}, "'teacher.maxAttempts' must be at least 1"),
    ({"serve": {"mcpPort": 99999}}, "'serve.mcpPort' must be 0-65535, not 99999"),
    ({"teacher": {"model": " "}}, "'teacher.model' must name a model"),
    ({"teacher": {"host": "not a url"}}, "'teacher.host' must be a URL like http://127.0.0.1:11434, not 'not a url'"),
    ({"teacher": {"host": "ftp://gpu-box"}}, "'teacher.host' must be a URL"),
    ({"teacher": {"host": "gpu-box:port"}}, "'teacher.host' must be a URL"),
    ({"teacher": {"hosts": [{"url": "gpu box"}]}}, r"'teacher.hosts\[0\].url' must be a URL"),
])
def test_errors_name_the_bad_key(data, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_dict(data)


def test_the_editor_keeps_every_other_setting_when_one_is_out_of_range(tmp_path):
    """Loaded leniently (the editor's settings), a value out of range falls back to its default
    alone, in either key spelling, and the message names it."""
    (tmp_path / "trm-lsp.toml").write_text("[serve]\nmcp_port = 70000\ndebounceMs = 50\n", encoding="utf-8")
    settings, problems = Settings.load_lenient(tmp_path)
    assert settings.serve.mcp_port == 8765 and settings.serve.debounce_ms == 50
    assert len(problems) == 1 and "'serve.mcpPort' must be 0-65535" in problems[0]


def test_a_teacher_host_may_be_written_as_ollama_host_takes_it():
    from trm_lsp.distill.teacher import resolve_host

    for host, url in (("gpu-box:11434", "http://gpu-box:11434"), ("https://gpu.example/ollama/", "https://gpu.example/ollama"),
                      ("gpu-box", "http://gpu-box:11434"), ("[::1]:8000", "http://[::1]:8000")):
        assert resolve_host(Settings.from_dict({"teacher": {"host": host}}).teacher) == url
