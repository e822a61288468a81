"""German texts of the demo_buyer pages (English text → German)."""

GERMAN: dict[str, str] = {}
