"""OAGIS purchase orders, a simulator extension: ``POST /oagis`` takes a ``ProcessPurchaseOrder`` BOD.

Amazon's documentation names OAG next to cXML for technical integration but publishes no OAGIS
message guide, so this is the simulator's own reading of OAGIS 9, kept small and documented here.
There is no official OAGIS schema in the repository: nothing is validated against one, and the
tests check the shape of what is produced with their own assertions.

In (lenient). The BOD may carry the OAGIS 9 default namespace
``http://www.openapplications.org/oagis/9``, none at all, or another (read as OAGIS 9, with an
advisory). Elements are found by local name, in any order, with a case-insensitive fallback::

    ProcessPurchaseOrder[@systemEnvironmentCode="Test"]         → a test order, as deploymentMode="test"
      ApplicationArea/Sender/LogicalID[@schemeID]                → the account (credential identity; domain)
      ApplicationArea/Sender/ComponentID                         → journal only
      ApplicationArea/CreationDateTime                           → order date when DocumentDateTime is missing
      ApplicationArea/BODID                                      → the order's payloadID (idempotency)
      DataArea/Process/ActionCriteria/ActionExpression@actionCode  Add (default) | Change, Replace | Delete
      DataArea/PurchaseOrder/PurchaseOrderHeader/
        DocumentID/ID                                            → orderID (required; OAGIS 10's ID is read too)
        DocumentDateTime                                         → orderDate
        ExtendedAmount@currencyID | TotalAmount@currencyID       → Total, currency
        ShipToParty, BillToParty  (…/Location/Address or …/Address: LineOne…, CityName,
                                   CountrySubDivisionCode, PostalCode, CountryCode; Name; Contact email)
        CustomerParty | BuyerParty  Contact email                → the user's email (order emails)
      DataArea/PurchaseOrder/PurchaseOrderLine*/
        LineNumber                                               → lineNumber (the position when missing)
        Item/SupplierItemID/ID, else Item/ItemID/ID              → SupplierPartID (the ASIN)
        Quantity@unitCode                                        → quantity, UnitOfMeasure (EA by default)
        UnitPrice/Amount@currencyID                              → UnitPrice
        Description | Item/Description                           → Description
        ShipToParty                                              → a line's own ShipTo

Authentication. ``Sender/LogicalID`` names the account (its credential identity; the credential
domain is the ``schemeID`` of LogicalID or, without one, the domain of the one account with that
identity). The shared secret comes in HTTP Basic auth (``identity:secret``; the user name must be
the LogicalID, and stands in for a missing one) or in an ``X-Shared-Secret`` header. The check is
``accounts.authenticate``, the one cXML uses.

Out (exact). Always the OAGIS 9 namespace, an XML declaration, UTF-8:

* ``AcknowledgePurchaseOrder`` (HTTP 200) for every order the engine takes — the outcome the
  ConfirmationRequest will carry, at once: ``Acknowledge/OriginalApplicationArea`` echoes the BOD's,
  ``ResponseCriteria/ResponseExpression@actionCode`` is ``Accepted`` (every line accepted as
  ordered), ``Modified`` (a line backordered, partly or wholly rejected, or repriced) or
  ``Rejected`` (the whole order refused — with ``ChangeStatus`` and header ``Status`` carrying the
  ``NNN-NNN`` code and text — or every line rejected). Each ``PurchaseOrderLine`` has
  ``Status/Code`` ``Accepted``, ``Backordered``, ``Rejected`` or ``Modified`` (mixed), with
  ``ReasonCode``/``Reason`` for a rejection; ``Quantity`` is what will be delivered (accepted and
  backordered; the rejected quantity for a rejected line), ``UnitPrice`` appears when the price
  changed, and one ``PurchaseOrderSchedule`` per part of the line (Status, Quantity,
  ``PromisedDeliveryDateTime`` for what ships) breaks it down.
* ``ConfirmBOD`` for what is refused before the engine: HTTP 400 (not well-formed, with the line; not
  a ProcessPurchaseOrder; no DocumentID), 401 (credentials), 409 (the PO number again with another
  BODID), 413 (too large), 405 (not POST), 500 (the simulator's own failure). Its
  ``BOD/BODFailureMessage/ErrorProcessMessage`` has the reason in ``Description`` and the status in
  ``ReasonCode``. Never HTML, never a stack trace.

The same BODID again gets the same acknowledgement, byte for byte, and creates nothing. Every
request and answer is journaled (``ProcessPurchaseOrder`` in, ``AcknowledgePurchaseOrder`` or
``ConfirmBOD`` out). Orders taken here are the engine's like any other: the ConfirmationRequest,
ship notices and invoice still go to the account's buyer endpoint as cXML through the outbox,
referring to the order by ``orderID`` = DocumentID and ``payloadID`` = BODID. Scenario rules see the
order as ``document: ProcessPurchaseOrder``, ``endpoint: oagis``; an XPath in a rule is evaluated on a
copy of the BOD without namespaces.
"""

from __future__ import annotations

NS = "http://www.openapplications.org/oagis/9"
RELEASE_ID = "9.0"
