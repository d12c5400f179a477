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
    ({"index": {"maxFileBytes": -1}}, "must not be negative"),
    ({"index": {"workers": 1.5}}, "must be a whole number"),
    ({"documents": {"ocr": "yes"}}, "'documents.ocr' must be true or false"),
    ({"index": {"include": [1]}}, "must be a list of strings"),
    ({"index": 3}, "'index' must be a table"),
])
def test_errors_name_the_bad_key(data, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_dict(data)
