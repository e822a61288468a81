"""The BODs the simulator answers with: ``AcknowledgePurchaseOrder`` and ``ConfirmBOD`` (OAGIS 9).

Built with lxml's ElementMaker in the OAGIS 9 default namespace, serialised with an XML
declaration in UTF-8. There is no official OAGIS schema in the repository to validate against; the
shape is the one the package's docstring describes and the tests check.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from lxml import etree
from lxml.builder import ElementMaker

from .. import clock
from ..cxml.read import OrderRequest
from ..orders.outcomes import LinePlan, Plan
from . import NS, RELEASE_ID
from .read import ApplicationArea

E = ElementMaker(namespace=NS, nsmap={None: NS})
SENDER_LOGICAL_ID = "AmazonBusiness-Simulator"
COMPONENT_ID = "PunchOutSimulator"

ACCEPTED, BACKORDERED, REJECTED, MODIFIED, CANCELLED = "Accepted", "Backordered", "Rejected", "Modified", "Cancelled"


@dataclass(frozen=True)
class Stamp:
    """Our ApplicationArea: a new BODID and the time."""

    bod_id: str
    creation: str

    @staticmethod
    def new() -> Stamp:
        return Stamp(str(uuid.uuid4()), clock.timestamp())


def serialise(root: Any) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def _application_area(stamp: Stamp) -> Any:
    return E.ApplicationArea(
        E.Sender(E.LogicalID(SENDER_LOGICAL_ID), E.ComponentID(COMPONENT_ID)),
        E.CreationDateTime(stamp.creation),
        E.BODID(stamp.bod_id),
    )


def _original(area: ApplicationArea) -> Any:
    logical = E.LogicalID(area.logical_id)
    if area.logical_id_scheme:
        logical.set("schemeID", area.logical_id_scheme)
    sender = E.Sender(logical, *([E.ComponentID(area.component_id)] if area.component_id else []))
    parts = [sender]
    if area.creation:
        parts.append(E.CreationDateTime(area.creation))
    parts.append(E.BODID(area.bod_id))
    return E.OriginalApplicationArea(*parts)


def _root(name: str, stamp: Stamp, data_area: Any, *, test: bool | None, language: str) -> Any:
    attributes = {"releaseID": RELEASE_ID, "languageCode": language}
    if test is not None:
        attributes["systemEnvironmentCode"] = "Test" if test else "Production"
    return E(name, _application_area(stamp), data_area, **attributes)


def _status(code: str, reason_code: str = "", reason: str = "") -> Any:
    status = E.Status(E.Code(code))
    if reason_code:
        status.append(E.ReasonCode(reason_code))
    if reason:
        status.append(E.Reason(reason))
    return status


def _money(amount: Decimal, currency: str) -> Any:
    return E.Amount(str(amount), currencyID=currency) if currency else E.Amount(str(amount))


@dataclass(frozen=True)
class LineAnswer:
    """What the acknowledgement says about one ordered line."""

    line_number: int
    part: str
    unit: str
    status: str
    quantity: int  # what will be delivered; the rejected quantity for a rejected line
    parts: tuple[tuple[str, int], ...]  # (status, quantity) per part of the line
    reason_code: str = ""
    reason: str = ""
    unit_price: Decimal | None = None  # when the price changed
    lead_time_days: int = 0


def line_answers(order: OrderRequest, plan: Plan) -> list[LineAnswer]:
    """Every ordered line with its outcome; a whole-order rejection rejects each line with its code."""
    planned = {line.line_number: line for line in plan.lines}
    answers = []
    for line in order.lines:
        quantity = int(line.quantity) if line.quantity == line.quantity.to_integral_value() else 0
        p: LinePlan | None = planned.get(line.line_number)
        if p is None:
            if plan.order_reject is not None:
                status, code, reason = REJECTED, plan.order_reject.code, plan.reject_message
            elif order.type == "delete":
                status, code, reason = CANCELLED, "", ""
            else:
                status, code, reason = REJECTED, "", ""
            answers.append(
                LineAnswer(
                    line_number=line.line_number,
                    part=line.supplier_part_id,
                    unit=line.unit_of_measure,
                    status=status,
                    quantity=quantity,
                    parts=((status, quantity),),
                    reason_code=code,
                    reason=reason,
                )
            )
            continue
        parts = tuple(
            (s, n) for s, n in ((ACCEPTED, p.accepted), (BACKORDERED, p.backordered), (REJECTED, p.rejected)) if n
        )
        if not parts:  # nothing to deliver and nothing counted as rejected: a quantity of 0
            parts = ((REJECTED, 0),)
        status = parts[0][0] if len(parts) == 1 else MODIFIED
        delivered = p.accepted + p.backordered
        answers.append(
            LineAnswer(
                line_number=p.line_number,
                part=p.supplier_part_id,
                unit=p.unit_of_measure,
                status=status,
                quantity=p.rejected if status == REJECTED else delivered,
                parts=parts,
                reason_code=p.reject.code if p.reject else "",
                reason=p.reject_message,
                unit_price=p.unit_price if p.price_changed else None,
                lead_time_days=p.lead_time_days,
            )
        )
    return answers


def action_code(order: OrderRequest, plan: Plan, lines: Sequence[LineAnswer]) -> str:
    """Accepted (all as ordered), Rejected (the order, or every line), else Modified."""
    if plan.order_reject is not None:
        return REJECTED
    if order.type == "delete":
        return ACCEPTED
    if lines and all(line.status == REJECTED for line in lines):
        return REJECTED
    if all(line.status == ACCEPTED and line.unit_price is None for line in lines):
        return ACCEPTED
    return MODIFIED


def _line(answer: LineAnswer, currency: str) -> Any:
    delivery = clock.timestamp(clock.now() + timedelta(days=max(answer.lead_time_days, 1)))
    element = E.PurchaseOrderLine(
        E.LineNumber(str(answer.line_number)),
        _status(answer.status, answer.reason_code, answer.reason),
        E.Item(E.ItemID(E.ID(answer.part))),
        E.Quantity(str(answer.quantity), unitCode=answer.unit),
    )
    if answer.unit_price is not None:
        element.append(E.UnitPrice(_money(answer.unit_price, currency)))
    for status, quantity in answer.parts:
        schedule = E.PurchaseOrderSchedule(
            _status(status, *((answer.reason_code, answer.reason) if status == REJECTED else ())),
            E.Quantity(str(quantity), unitCode=answer.unit),
        )
        if status in (ACCEPTED, BACKORDERED):
            schedule.append(E.PromisedDeliveryDateTime(delivery))
        element.append(schedule)
    return element


def acknowledge_purchase_order(
    stamp: Stamp,
    original: ApplicationArea,
    order: OrderRequest,
    plan: Plan,
    *,
    currency: str,
    test: bool,
    language: str,
) -> bytes:
    """The AcknowledgePurchaseOrder for an order the engine has planned."""
    lines = line_answers(order, plan)
    action = action_code(order, plan, lines)
    criteria = E.ResponseCriteria(E.ResponseExpression(actionCode=action))
    if plan.order_reject is not None:
        criteria.append(
            E.ChangeStatus(E.Code(REJECTED), E.ReasonCode(plan.order_reject.code), E.Reason(plan.reject_message))
        )
    if plan.order_reject is not None:
        header_status = _status(REJECTED, plan.order_reject.code, plan.reject_message)
    else:
        header_status = _status(CANCELLED if order.type == "delete" else action)
    purchase_order = E.PurchaseOrder(
        E.PurchaseOrderHeader(E.DocumentID(E.ID(order.order_id)), header_status),
        *(_line(line, currency) for line in lines),
    )
    data_area = E.DataArea(E.Acknowledge(_original(original), criteria), purchase_order)
    return serialise(_root("AcknowledgePurchaseOrder", stamp, data_area, test=test, language=language))


def confirm_bod(
    stamp: Stamp,
    original: ApplicationArea | None,
    code: int,
    text: str,
    message: str,
    *,
    language: str = "en-US",
) -> bytes:
    """A ConfirmBOD: the BOD was refused (code 4xx/5xx) or, for a scenario's answer, accepted."""
    success = code < 300
    confirm = E.Confirm(
        *([_original(original)] if original is not None and original.bod_id else []),
        E.ResponseCriteria(E.ResponseExpression(actionCode=ACCEPTED if success else REJECTED)),
    )
    detail = (E.Description(message or text), E.ReasonCode(str(code)), E.Reason(text))
    outcome = (
        E.BODSuccessMessage(E.NounSuccessMessage(E.ProcessMessage(*detail)))
        if success
        else E.BODFailureMessage(E.ErrorProcessMessage(*detail))
    )
    data_area = E.DataArea(confirm, E.BOD(outcome))
    return serialise(_root("ConfirmBOD", stamp, data_area, test=None, language=language))
