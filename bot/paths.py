from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
CONTENT = Path(__file__).resolve().parent / "content"
