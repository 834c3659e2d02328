"""The ``kinject`` command line: one verb per stage, each a thin call into the stage's Python API.

Stage modules are imported inside each command so ``kinject --help`` and ``kinject recipe show`` stay instant.
A ``KinjectUserError`` becomes one message on stderr and exit code 2; commands that publish print
``REPO@REVISION`` as their last stdout line.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Callable, Optional

import typer

from kinject.errors import KinjectUserError

app = typer.Typer(
    help="Synthetic corpora for continual pretraining, and how fast a model learns from them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
recipe_app = typer.Typer(help="Inspect recipes.", no_args_is_help=True)
hub_app = typer.Typer(help="Share the local registry with stock Hub clients.", no_args_is_help=True)
app.add_typer(recipe_app, name="recipe")
app.add_typer(hub_app, name="hub")

RecipeOption = typer.Option(Path("recipes/cpu.yaml"), "--recipe", "-r", help="Recipe YAML file.")


def user_errors(command: Callable) -> Callable:
    """Turn a ``KinjectUserError`` into a one-line message and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KinjectUserError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def _load(recipe: Path):
    from kinject.recipes.schema import load_recipe

    return load_recipe(recipe)


def _print_ref(ref) -> None:
    """Last stdout line of every publishing command."""
    sys.stdout.flush()
    typer.echo(str(ref))


# ---------------------------------------------------------------------------------------------------------------
# recipes and seeds
# ---------------------------------------------------------------------------------------------------------------


@recipe_app.command("show")
@user_errors
def recipe_show(recipe: Path = typer.Argument(..., help="Recipe YAML file.")) -> None:
    """Print the resolved recipe (``extends:`` applied, defaults filled in)."""
    from kinject.recipes.schema import recipe_to_yaml

    typer.echo(recipe_to_yaml(_load(recipe)), nl=False)


@app.command()
@user_errors
def seed(
    recipe: Path = RecipeOption,
    out: Optional[Path] = typer.Option(None, "--out", help="Output .jsonl or .parquet (default: seeds.out)."),
    from_file: Optional[Path] = typer.Option(None, "--from", help="Validate and convert a user's seed file."),
) -> None:
    """Build the fictional seed documents (or validate a user's seed file) and write them."""
    from kinject.pipelines.seeds import run_seed

    path = run_seed(_load(recipe), out=out, from_file=from_file)
    typer.echo(str(path))


# ---------------------------------------------------------------------------------------------------------------
# study and reproduce
# ---------------------------------------------------------------------------------------------------------------


@app.command()
@user_errors
def study(
    recipe: Path = typer.Option(Path("recipes/study-cpu.yaml"), "--recipe", "-r", help="Study recipe YAML file."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default: study.out)."),
    no_publish: bool = typer.Option(False, "--no-publish", help="Write the report only; publish no revision."),
) -> None:
    """The paper's figures at the recipe's scale: corpora, subsets, training runs, report; prints REPO@SHA last.

    Resumable: rerunning skips published data and finished runs of the same recipe.
    """
    from kinject.study import run_study

    ref = run_study(_load(recipe), out=out, publish=not no_publish)
    if ref is not None:
        _print_ref(ref)


@app.command()
@user_errors
def reproduce(
    card: str = typer.Argument(..., help="REPO@REVISION whose card holds the results to reproduce."),
    run: Optional[str] = typer.Option(None, "--run", help="Run name in kinject.results (default: the last one)."),
    recipe: Path = typer.Option(
        Path("recipes/cpu.yaml"), "--recipe", "-r", help="Only its registry section is used: where the card lives."
    ),
    hub: bool = typer.Option(False, "--hub", help="Read the card from the Hugging Face Hub (registry kind hf)."),
) -> None:
    """Re-run a published run from its card alone; exit 0 within tolerance, 1 outside, 2 if the card lacks inputs."""
    from kinject.cards.reproduce import reproduce as run_reproduce

    registry = _load(recipe).registry
    if hub:
        registry = registry.model_copy(update={"kind": "hf"})
    code = run_reproduce(card, run, registry_cfg=registry, echo=typer.echo,
                         echo_err=lambda line: typer.echo(line, err=True))
    raise typer.Exit(code)
