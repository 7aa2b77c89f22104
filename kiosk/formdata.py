"""How the kiosk reads a request's form data: only parts that have a name reach the forms.

A multipart part whose ``Content-Disposition`` carries no ``name`` (RFC 7578 says every part has
one) is kept by Werkzeug's parser under the key ``None``, although its types say the keys are
strings. Flask-WTF's CSRF check, looking for a token under a prefixed name, calls
``key.endswith(...)`` on every key and raised ``AttributeError`` on it: a 500 on every POST that
has no ``csrf_token`` field, before any view ran. No form can ask for a part without a name, so
the parser drops such parts, text or file, for every route.
"""

from __future__ import annotations

from typing import IO, Any

from flask import Flask, Request
from werkzeug.datastructures import FileStorage
from werkzeug.formparser import FormDataParser


class NamedPartsParser(FormDataParser):
    """Werkzeug's form parser, less the parts that have no name."""

    def parse(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict[str, str] | None = None
    ) -> tuple[IO[bytes], Any, Any]:
        stream, form, files = super().parse(stream, mimetype, content_length, options)
        return stream, self._named(form), self._named(files)

    def _named(self, data: Any) -> Any:
        if None not in data:
            return data
        for dropped in data.getlist(None):
            if isinstance(dropped, FileStorage):  # the request closes only the files it keeps
                dropped.close()
        return self.cls((key, value) for key, value in data.items(multi=True) if key is not None)


class KioskRequest(Request):
    form_data_parser_class = NamedPartsParser


def init_app(app: Flask) -> None:
    app.request_class = KioskRequest
