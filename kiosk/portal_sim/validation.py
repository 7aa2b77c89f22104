"""Requests checked against contract/openapi.yaml itself, by openapi-core.

The contract is the one statement of what a request may hold (parameters, headers, bodies, their
patterns, ranges and defaults): the simulator reads it, so a change to the contract changes what
the simulator accepts, with no second copy to keep in step. openapi-core and the contract are
loaded at the first API request, not at start: the embedded simulator starts inside every
``kiosk run``, and most starts (the tests', a terminal's) need neither at once.

The contract's one format of its own, ``iin``, is checked by the kiosk's IIN rules (checksum,
century, birth date), which a pattern cannot say.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Request, Response

from kiosk import ROOT
from kiosk.portal_sim.citizens import valid_iin
from kiosk.portal_sim.problems import problem

if TYPE_CHECKING:
    from openapi_core import OpenAPI

CONTRACT = ROOT / "contract" / "openapi.yaml"


class BadJson(ValueError):
    """The body is not JSON at all (400, not 422: there are no fields to name)."""


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity (which JSON does not have, though Python reads them)."""

    def no_constants(name: str) -> Any:
        raise BadJson(f"{name} is not JSON")

    try:
        return json.loads(body.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadJson(str(exc)) from None


def canonical(value: Any) -> bytes:
    """One spelling of a JSON value: sorted keys, no spaces; what "the same body" compares."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Contract:
    spec: dict[str, Any]  # contract/openapi.yaml as read
    api: OpenAPI  # the same, as openapi-core checks requests against it


_lock = threading.Lock()
_loaded: dict[str, Contract] = {}


def contract() -> Contract:
    """The contract, loaded once per process."""
    with _lock:
        if "contract" not in _loaded:
            import yaml
            from openapi_core import Config, OpenAPI

            spec = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
            spec["servers"] = [{"url": "/"}]  # the simulator answers on whatever host and port it is given
            config = Config(extra_format_validators={"iin": _is_iin})
            _loaded["contract"] = Contract(spec, OpenAPI.from_dict(spec, config=config))
        return _loaded["contract"]


def _is_iin(value: Any) -> bool:
    return not isinstance(value, str) or valid_iin(value)  # a format says nothing of other types


@dataclass(frozen=True)
class Checked:
    """A request that keeps to the contract: its parameters as the contract types them, defaults filled."""

    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)


def check(request: Request) -> Checked | Response:
    """The request's parameters, or the problem to answer: 400 for parameters, headers and bodies
    that are not JSON; 422 for a JSON body the contract rejects where the operation documents 422
    (each field named), else 400."""
    # openapi-core loads with the contract, at the first API request (see the module's docstring)
    from openapi_core.contrib.flask import FlaskOpenAPIRequest
    from openapi_core.templating.paths.exceptions import OperationNotFound, PathError
    from openapi_core.validation.request.exceptions import InvalidRequestBody, SecurityValidationError
    from openapi_core.validation.schemas.exceptions import InvalidSchemaValue

    if request.get_data(cache=True).strip():
        try:
            parse_json(request.get_data(cache=True))
        except BadJson as exc:
            return problem(400, "Bad Request", f"the body is not JSON: {exc}")
    known = contract()
    openapi_request = FlaskOpenAPIRequest(request)
    result = known.api.unmarshal_request(openapi_request)
    for error in result.errors:
        if isinstance(error, OperationNotFound):
            return problem(405, "Method Not Allowed", f"{request.method} is not in the contract for this path")
        if isinstance(error, PathError):
            return problem(404, "Not Found", "not a path of the contract")
        if isinstance(error, SecurityValidationError):
            continue  # the signature was checked before this, by kiosk.clients.signing
        if isinstance(error, InvalidRequestBody) and isinstance(error.__cause__, InvalidSchemaValue):
            operation = known.spec["paths"][openapi_request.path_pattern][request.method.lower()]
            status = 422 if "422" in operation["responses"] else 400
            errors = field_errors(error.__cause__.schema_errors)
            return problem(status, _TITLES[status], "the central system rejects these fields", errors=errors)
        return problem(400, "Bad Request", _message(error))
    parameters = result.parameters
    return Checked(path=dict(parameters.path), query=dict(parameters.query), header=dict(parameters.header))


_TITLES = {400: "Bad Request", 422: "Unprocessable Content"}


def _message(error: BaseException) -> str:
    """openapi-core's words for a parameter or body error, with the schema's reason when it has one."""
    reasons = [e.message for e in getattr(error.__cause__, "schema_errors", ())]
    cause = error.__cause__
    detail = str(error)
    if reasons:
        return f"{detail}: {'; '.join(reasons)}"
    if cause is not None and str(cause):
        return f"{detail}: {cause}"
    return detail


def field_errors(schema_errors: Iterable[Any]) -> list[dict[str, str]]:
    """Each rejected field by its path (``answers.grade``, ``attachments[0]``) and why.

    A missing or an unknown field is reported at the object that holds it; it is named here, so
    each gets a line of its own, as a kiosk's staff reads them.
    """
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def add(path: Iterable[Any], message: str) -> None:
        name = _field_name(path)
        if (name, message) not in seen:
            seen.add((name, message))
            out.append({"field": name, "message": message})

    for error in schema_errors:
        path = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            for name in error.validator_value:
                if name not in error.instance:
                    add([*path, name], "is required")
        elif error.validator == "additionalProperties" and error.validator_value is False:
            known = error.schema.get("properties", {})
            for name in error.instance:
                if name not in known:
                    add([*path, name], "is not a field of this request")
        else:
            add(path, error.message)
    return out


def _field_name(path: Iterable[Any]) -> str:
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "(body)"
