"""A document decided now and built later: what the outbox keeps until the document is due.

An order's ConfirmationRequest, ShipNoticeRequests and InvoiceDetailRequest are decided when the
order is taken — payloadIDs, order numbers, dates, amounts — but building and validating a 10-line
invoice costs milliseconds, and Amazon sends these documents minutes to days later anyway. So the
order engine stores a :class:`Deferred` (the builder's name and its inputs) and the outbox builds
the bytes when the document is first needed: when it is due, or when someone looks at it.

The builders of :mod:`simulator.cxml.fulfil` are pure functions of ``(envelope, document, test)``,
so building later gives exactly the bytes building at intake would have given.

Storage: pickle, read back through an unpickler that only admits the dataclasses of
``simulator.cxml`` and the few standard types they hold — a stored recipe can describe a document,
never run code.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from typing import Any, Final

from . import fulfil
from .types import Envelope

#: The builders a recipe may name, by their names in :mod:`simulator.cxml.fulfil`.
BUILDERS: Final = frozenset(
    {"confirmation_request", "ship_notice_request", "invoice_detail_request", "status_update_request"}
)

_ALLOWED_MODULES: Final = frozenset({"simulator.cxml.fulfil", "simulator.cxml.types"})
_ALLOWED_GLOBALS: Final = frozenset(
    {
        ("decimal", "Decimal"),
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("builtins", "frozenset"),
        ("builtins", "set"),
        ("simulator.cxml.deferred", "Deferred"),
    }
)


class RecipeError(ValueError):
    """A stored recipe names something that is not a document builder or one of its inputs."""


@dataclass(frozen=True)
class Deferred:
    """``fulfil.<builder>(envelope, document, test=test)``, or for a StatusUpdateRequest
    ``fulfil.status_update_request(envelope, test=test, **document)``."""

    builder: str
    envelope: Envelope
    document: Any
    test: bool

    def render(self) -> bytes:
        if self.builder not in BUILDERS:
            raise RecipeError(f"{self.builder!r} is not a document builder")
        build = getattr(fulfil, self.builder)
        if self.builder == "status_update_request":
            return build(self.envelope, test=self.test, **dict(self.document))  # type: ignore[no-any-return]
        return build(self.envelope, self.document, test=self.test)  # type: ignore[no-any-return]


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in _ALLOWED_MODULES or (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise RecipeError(f"a document recipe may not contain {module}.{name}")


def dumps(recipe: Deferred) -> bytes:
    return pickle.dumps(recipe, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Deferred:
    recipe = _Unpickler(io.BytesIO(data)).load()
    if not isinstance(recipe, Deferred):
        raise RecipeError("a stored recipe is not a deferred document")
    return recipe
