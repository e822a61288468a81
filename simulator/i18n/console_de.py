"""German texts of the console pages (English text → German)."""

GERMAN: dict[str, str] = {}
