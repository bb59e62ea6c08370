from pathlib import Path

# This repository's checkout, whose .venv and test hosts the benchmark uses.
CHECKOUT = Path(__file__).resolve().parent.parent
