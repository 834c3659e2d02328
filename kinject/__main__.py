"""``python -m kinject`` runs the CLI, so ``accelerate launch -m kinject train --recipe …`` works."""

from kinject.cli import app

if __name__ == "__main__":
    app()
