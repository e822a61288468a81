"""German texts of the console pages (English text → German)."""

GERMAN: dict[str, str] = {
    # --- operator sign-in (operator.py) ---
    "Sign in": "Anmelden",
    "Sign in first: this simulator was started with an admin token.": (
        "Bitte zuerst anmelden: Dieser Simulator wurde mit einem Admin-Token gestartet."
    ),
    "That is not the admin token this simulator was started with.": (
        "Das ist nicht das Admin-Token, mit dem dieser Simulator gestartet wurde."
    ),
    "The console and the demo buyer need the admin token this simulator was started with (--admin-token or PUNCHOUT_SIM_ADMIN_TOKEN).": (
        "Konsole und Demo-Einkäufer brauchen das Admin-Token, mit dem dieser Simulator gestartet wurde "
        "(--admin-token oder PUNCHOUT_SIM_ADMIN_TOKEN)."
    ),
    "Admin token": "Admin-Token",
    "Sign out": "Abmelden",
    # --- console: navigation, accounts, scenarios, emails (console/accounts.py, scenarios.py, emails.py) ---
    "Console": "Konsole",
    "Console sections": "Bereiche der Konsole",
    "Everything the simulator does, in a browser: accounts, the journal, orders, scenarios, emails and spend.": (
        "Alles, was der Simulator tut, im Browser: Konten, das Journal, Bestellungen, Szenarien, E-Mails und Ausgaben."
    ),
    "Accounts": "Konten",
    "Journal": "Journal",
    "Orders": "Bestellungen",
    "Scenarios": "Szenarien",
    "Emails": "E-Mails",
    "Spend": "Ausgaben",
    "Amazon Business accounts (punchout groups): their credentials, status and set-up steps.": (
        "Amazon-Business-Konten (Punchout-Gruppen): ihre Zugangsdaten, ihr Status und ihre Einrichtungsschritte."
    ),
    "Account": "Konto",
    "accounts": "Konten",
    "Name": "Name",
    "ID": "ID",
    "Credential": "Zugangsdaten",
    "Status": "Status",
    "test": "Test",
    "active": "aktiv",
    "Business verified": "Unternehmen verifiziert",
    "Business registered": "Unternehmen registriert",
    "Punchout": "Punchout",
    "yes": "ja",
    "no": "nein",
    "none": "keine",
    "expected at": "erwartet am",
    "Create an account": "Ein Konto anlegen",
    "Credential domain": "Domain der Zugangsdaten",
    "Credential identity": "Identität der Zugangsdaten",
    "Shared secret": "Gemeinsames Geheimnis (Shared Secret)",
    "Create account": "Konto anlegen",
    "Payment method": "Zahlungsart",
    "Set-up steps": "Einrichtungsschritte",
    "Next:": "Als Nächstes:",
    "Every set-up step is done.": "Alle Einrichtungsschritte sind erledigt.",
    "done": "erledigt",
    "to do": "offen",
    "changed:": "geändert:",
    "changed": "geändert",
    "Business registered and verified": "Unternehmen registriert und verifiziert",
    "Punchout added": "Punchout hinzugefügt",
    "Account in test status": "Konto im Teststatus",
    "Settings reviewed (shown at their defaults)": "Einstellungen geprüft (mit ihren Standardwerten angezeigt)",
    "Test orders placed": "Testbestellungen aufgegeben",
    "Account moved from test to active": "Konto von Test auf aktiv umgestellt",
    "Default payment method added": "Standard-Zahlungsart hinzugefügt",
    "Users added": "Benutzer hinzugefügt",
    "Wait for Amazon to verify the business.": "Warten Sie, bis Amazon das Unternehmen verifiziert hat.",
    "Register the business.": "Registrieren Sie das Unternehmen.",
    "Add punchout to the account.": "Fügen Sie dem Konto Punchout hinzu.",
    "Punch out from the procurement system and send a test order.": (
        "Starten Sie einen Punchout aus dem Beschaffungssystem und senden Sie eine Testbestellung."
    ),
    "Move the account to active.": "Stellen Sie das Konto auf aktiv um.",
    "Add a payment method.": "Fügen Sie eine Zahlungsart hinzu.",
    "Add a user.": "Fügen Sie einen Benutzer hinzu.",
    "Verification delay (hours)": "Verzögerung der Verifizierung (Stunden)",
    "Register the business": "Unternehmen registrieren",
    "Add punchout (cannot be undone)": "Punchout hinzufügen (kann nicht rückgängig gemacht werden)",
    "See the settings": "Zu den Einstellungen",
    "Move to active…": "Auf aktiv umstellen …",
    "Add a payment method": "Eine Zahlungsart hinzufügen",
    "Add a user": "Einen Benutzer hinzufügen",
    "Users": "Benutzer",
    "Email": "E-Mail",
    "Roles": "Rollen",
    "Registered": "Registriert",
    "No users yet.": "Noch keine Benutzer.",
    "administrator": "Administrator",
    "punchout_user": "Punchout-Benutzer",
    "technical_administrator": "Technischer Administrator",
    "requisitioner": "Besteller",
    "finance": "Finanzen",
    "Add the user and send the invitation": "Benutzer hinzufügen und Einladung senden",
    "Default payment method": "Standard-Zahlungsart",
    "Type": "Art",
    "pcard": "Firmenkreditkarte (P-Card)",
    "invoice": "Rechnung",
    "Last 4 digits of the card (pcard only)": "Letzte 4 Ziffern der Karte (nur P-Card)",
    "Save the payment method": "Zahlungsart speichern",
    "Settings": "Einstellungen",
    "Change settings through PATCH /__admin/accounts/<id>; values that differ from the default are marked.": (
        "Einstellungen ändern Sie mit PATCH /__admin/accounts/<id>; vom Standard abweichende Werte sind markiert."
    ),
    "Setting": "Einstellung",
    "Value": "Wert",
    "Default": "Standard",
    "Move to active": "Auf aktiv umstellen",
    "This account is active.": "Dieses Konto ist aktiv.",
    "An active account places real orders: they are fulfilled, charged and shipped. This step is one way; "
    "the account cannot go back to test.": (
        "Ein aktives Konto gibt echte Bestellungen auf: Sie werden ausgeführt, berechnet und versandt. Dieser "
        "Schritt ist endgültig; das Konto kann nicht zurück in den Teststatus."
    ),
    "Amazon has not verified the business yet; the step will be refused until it has.": (
        "Amazon hat das Unternehmen noch nicht verifiziert; bis dahin wird dieser Schritt abgelehnt."
    ),
    "I understand that the account cannot go back to test status.": (
        "Mir ist bewusst, dass das Konto nicht zurück in den Teststatus kann."
    ),
    "Tick the box to confirm: an active account cannot go back to test.": (
        "Bestätigen Sie mit dem Häkchen: Ein aktives Konto kann nicht zurück in den Teststatus."
    ),
    "The account cannot go from test to active until Amazon has verified the business "
    "(register the business first, then wait for its verification).": (
        "Das Konto kann erst von Test auf aktiv umgestellt werden, wenn Amazon das Unternehmen verifiziert hat "
        "(registrieren Sie zuerst das Unternehmen und warten Sie dann auf die Verifizierung)."
    ),
    "Choose at least one role for the user.": "Wählen Sie mindestens eine Rolle für den Benutzer.",
    "The verification delay must be a number of hours.": "Die Verzögerung muss eine Zahl von Stunden sein.",
    "The verification delay must be 0 to 720 hours.": "Die Verzögerung muss zwischen 0 und 720 Stunden liegen.",
    "The scenario library and scenarios loaded through the admin API. Active scenarios decide how the "
    "simulator answers; each keeps a state, starting in Started.": (
        "Die Szenario-Bibliothek und über die Admin-API geladene Szenarien. Aktive Szenarien bestimmen, wie der "
        "Simulator antwortet; jedes hat einen Zustand, der mit Started beginnt."
    ),
    "Reset every state to Started": "Alle Zustände auf Started zurücksetzen",
    "Scenario": "Szenario",
    "Source": "Quelle",
    "library": "Bibliothek",
    "loaded": "geladen",
    "Active": "Aktiv",
    "State": "Zustand",
    "Actions": "Aktionen",
    "every account": "alle Konten",
    "rules fired:": "ausgelöste Regeln:",
    "Deactivate": "Deaktivieren",
    "For": "Für",
    "Activate": "Aktivieren",
    "No scenarios.": "Keine Szenarien.",
    "The outbox: every email the simulator sent as Amazon, newest first.": (
        "Der Postausgang: alle E-Mails, die der Simulator als Amazon gesendet hat, die neuesten zuerst."
    ),
    "Show": "Anzeigen",
    "emails": "E-Mails",
    "To": "An",
    "Kind": "Art",
    "Sent": "Gesendet",
    "No emails yet.": "Noch keine E-Mails.",
    # --- end console: accounts, scenarios, emails ---
}

# --- Journal, orders and spend dashboard (simulator/console/journal.py, orders.py, dashboard.py) ---
GERMAN.update(
    {
        # journal
        "Journal": "Journal",
        "Every document in and out, newest first. New documents appear here without a reload. Shared secrets are "
        "masked.": (
            "Jedes Dokument, ein- und ausgehend, neueste zuerst. Neue Dokumente erscheinen hier ohne Neuladen. "
            "Shared Secrets sind maskiert."
        ),
        "Message journal": "Nachrichtenjournal",
        "Type": "Typ",
        "All types": "Alle Typen",
        "Direction": "Richtung",
        "Both directions": "Beide Richtungen",
        "In": "Eingehend",
        "Out": "Ausgehend",
        "Account": "Konto",
        "All accounts": "Alle Konten",
        "Filter": "Filtern",
        "Entries": "Einträge",
        "New entries": "Neue Einträge",
        "Journal entries, newest first": "Journaleinträge, neueste zuerst",
        "Time": "Zeit",
        "Endpoint": "Endpunkt",
        "HTTP": "HTTP",
        "cXML status": "cXML-Status",
        "Advisories": "Hinweise",
        "No documents yet.": "Noch keine Dokumente.",
        "Scenario": "Szenario",
        "Advisories and DTD findings": "Hinweise und DTD-Befunde",
        "None": "Keine",
        "Body": "Inhalt",
        "Journal entry": "Journaleintrag",
        "Back to the journal": "Zurück zum Journal",
        "Request": "Anfrage",
        "Answer": "Antwort",
        "No answer recorded for this document.": "Zu diesem Dokument ist keine Antwort aufgezeichnet.",
        # orders
        "Order": "Bestellung",
        "Orders": "Bestellungen",
        "Back to the orders": "Zurück zu den Bestellungen",
        "Status": "Status",
        "User": "Benutzer",
        "Total": "Summe",
        "Rejected": "Abgelehnt",
        "Lines": "Positionen",
        "Description": "Beschreibung",
        "Quantity": "Menge",
        "Unit price": "Stückpreis",
        "Accepted": "Angenommen",
        "Backordered": "Nachbestellt",
        "Shipments": "Sendungen",
        "Shipment": "Sendung",
        "Carrier": "Versanddienst",
        "Tracking": "Sendungsnummer",
        "Ships": "Versand",
        "Delivery date": "Lieferdatum",
        "Timeline": "Ablauf",
        "Advance to the next step": "Nächsten Schritt ausführen",
        "Order received": "Bestellung eingegangen",
        "due": "fällig",
        "waits for a manual step": "wartet auf einen manuellen Schritt",
        "delivered": "zugestellt",
        "Attempt": "Versuch",
        "The buyer's answer": "Die Antwort des Käufers",
        "In the journal": "Im Journal",
        "Resend": "Erneut senden",
        "No documents for this order.": "Keine Dokumente zu dieser Bestellung.",
        "PO number": "Bestellnummer",
        "Search": "Suchen",
        "Show all orders": "Alle Bestellungen zeigen",
        "Orders, newest first": "Bestellungen, neueste zuerst",
        "Received": "Eingegangen",
        "No orders found.": "Keine Bestellungen gefunden.",
        # statuses of orders and outbox documents (translated with _(status))
        "accepted": "angenommen",
        "rejected": "abgelehnt",
        "cancelled": "storniert",
        "replaced": "ersetzt",
        "held": "zurückgehalten",
        "pending": "wartend",
        "sending": "wird gesendet",
        "failed": "fehlgeschlagen",
        "dead": "aufgegeben",
        # notices after the order buttons (simulator/console/orders.py NOTICES)
        "The next step was sent.": "Der nächste Schritt wurde gesendet.",
        "The next document is held: the account has no buyer endpoint.": (
            "Das nächste Dokument wird zurückgehalten: Das Konto hat keinen Käufer-Endpunkt."
        ),
        "This order has no document waiting to be sent.": "Diese Bestellung hat kein Dokument, das auf den Versand wartet.",
        "The document was sent again.": "Das Dokument wurde erneut gesendet.",
        "The document is being sent right now; resend it when this attempt is over.": (
            "Das Dokument wird gerade gesendet; senden Sie es erneut, wenn dieser Versuch vorbei ist."
        ),
        "The document has no buyer URL: set the account's buyer endpoint first.": (
            "Das Dokument hat keine Käufer-URL: Legen Sie zuerst den Käufer-Endpunkt des Kontos fest."
        ),
        # dashboard
        "Spend dashboard": "Ausgaben-Übersicht",
        "Currency": "Währung",
        "Show": "Anzeigen",
        "Orders received": "Eingegangene Bestellungen",
        "Accepted orders": "Angenommene Bestellungen",
        "Spend": "Ausgaben",
        "Average order value": "Durchschnittlicher Bestellwert",
        "Lines with rejected units": "Positionen mit abgelehnten Einheiten",
        "Lines with backordered units": "Positionen mit nachbestellten Einheiten",
        "On-time delivery": "Pünktliche Lieferung",
        "How these figures are made": "Wie diese Zahlen entstehen",
        "Spend: unit price × (accepted + backordered units) of the lines of accepted orders, in one currency.": (
            "Ausgaben: Stückpreis × (angenommene + nachbestellte Einheiten) der Positionen angenommener "
            "Bestellungen, in einer Währung."
        ),
        "Month: the order date. Category: the catalogue's category of the line's product. User: the order's user "
        "email.": (
            "Monat: das Bestelldatum. Kategorie: die Katalogkategorie des Produkts der Position. Benutzer: die "
            "Benutzer-E-Mail der Bestellung."
        ),
        "Cost center: the header Extrinsic named CostCenter of the order request; — when there is none.": (
            "Kostenstelle: das Extrinsic CostCenter im Kopf der Bestellanfrage; — wenn es keines gibt."
        ),
        "Rejected and backordered: lines with any such unit among all lines of all orders received.": (
            "Abgelehnt und nachbestellt: Positionen mit mindestens einer solchen Einheit unter allen Positionen "
            "aller eingegangenen Bestellungen."
        ),
        "On time: a shipped line whose shipment's delivery date is on or before the delivery date promised for it "
        "in the order confirmation; shipments count as scheduled.": (
            "Pünktlich: eine versandte Position, deren Sendung am oder vor dem in der Auftragsbestätigung "
            "zugesagten Lieferdatum ankommt; Sendungen zählen wie geplant."
        ),
        "Other": "Sonstige",
        "No spend yet": "Noch keine Ausgaben",
        "Spend by month": "Ausgaben nach Monat",
        "Spend by category": "Ausgaben nach Kategorie",
        "Spend by user": "Ausgaben nach Benutzer",
        "Spend by cost center": "Ausgaben nach Kostenstelle",
    }
)
