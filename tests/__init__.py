from pathlib import Path

# This repository's checkout: the reference project the e2e tests deploy from.
CHECKOUT = Path(__file__).resolve().parent.parent
