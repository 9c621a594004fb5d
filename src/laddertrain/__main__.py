"""``python -m laddertrain STAGE ...`` (what ``accelerate launch -m laddertrain`` runs on every process)."""

import logging

from laddertrain.cli import train_app

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    train_app()
