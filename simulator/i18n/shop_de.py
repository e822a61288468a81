"""German texts of the shop pages (English text → German)."""

GERMAN: dict[str, str] = {}
