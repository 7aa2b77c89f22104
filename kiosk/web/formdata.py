"""How the kiosk reads a request's form data: only parts that have a name reach the forms, and
every file the parser opens is closed.

- A multipart part whose ``Content-Disposition`` carries no ``name`` (RFC 7578 says every part has
  one) is kept by Werkzeug's parser under the key ``None``, although its types say the keys are
  strings. Flask-WTF's CSRF check, looking for a token under a prefixed name, calls
  ``key.endswith(...)`` on every key and raised ``AttributeError`` on it: a 500 on every POST that
  has no ``csrf_token`` field, before any view ran. No form can ask for a part without a name, so
  the parser drops such parts, text or file, for every route.
- The request closes the files it holds at its end; a file part dropped here, or one the parser
  had opened when the body turned out broken (truncated, a wrong boundary) and was given up, was
  held by nobody and stayed open until the garbage collector found it. Those are closed here.
"""

from __future__ import annotations

from typing import IO, Any

from flask import Flask, Request
from werkzeug.datastructures import FileStorage
from werkzeug.formparser import FormDataParser


class NamedPartsParser(FormDataParser):
    """Werkzeug's form parser, less the parts that have no name, closing what it does not hand on."""

    def parse(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict[str, str] | None = None
    ) -> tuple[IO[bytes], Any, Any]:
        opened: list[IO[bytes]] = []
        factory = self.stream_factory

        def tracked(*args: Any, **kwargs: Any) -> IO[bytes]:
            container = factory(*args, **kwargs)
            opened.append(container)
            return container

        self.stream_factory = tracked  # this parser serves one request
        kept: set[int] = set()
        try:
            stream, form, files = super().parse(stream, mimetype, content_length, options)
            form, files = self._named(form), self._named(files)
            kept = {id(f.stream) for _name, f in files.items(multi=True) if isinstance(f, FileStorage)}
            return stream, form, files
        finally:
            self.stream_factory = factory
            for container in opened:
                if id(container) not in kept:
                    container.close()

    def _named(self, data: Any) -> Any:
        if None not in data:
            return data
        return self.cls((key, value) for key, value in data.items(multi=True) if key is not None)


class KioskRequest(Request):
    form_data_parser_class = NamedPartsParser


def init_app(app: Flask) -> None:
    app.request_class = KioskRequest
