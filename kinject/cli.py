"""The ``kinject`` command line: one verb per stage, each a thin call into the stage's Python API.

Stage modules are imported inside each command so ``kinject --help`` and ``kinject recipe show`` stay instant.
A ``KinjectUserError`` becomes one message on stderr and exit code 2; commands that publish print
``REPO@REVISION`` as their last stdout line.
"""

from __future__ import annotations

import functools
import sys
import traceback
from pathlib import Path
from typing import Callable, Optional

import click
import typer
import typer.core

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
    """How every command ends when it does not succeed.

    - ``KinjectUserError``: one line on stderr, exit 2.
    - Ctrl-C (``RunInterrupted`` or ``KeyboardInterrupt``): one line saying how to resume, exit 130.
    - Any other exception (a bug): Python's plain traceback, exit 1. Never rich's: distilabel installs rich's
      traceback handler with ``show_locals=True`` on import, which printed every local variable (recipes,
      documents, a ``base_url`` with its password). URL credentials are redacted from whatever is printed.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from kinject.errors import RunInterrupted
        from kinject.redact import redact_urls

        try:
            return command(*args, **kwargs)
        except KinjectUserError as exc:
            typer.echo(f"error: {redact_urls(str(exc))}", err=True)
            raise typer.Exit(2) from None
        except RunInterrupted as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(130) from None
        except KeyboardInterrupt:
            typer.echo("interrupted; nothing was published; rerun the same command to resume", err=True)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, click.exceptions.ClickException):
            raise
        except SystemExit as exc:
            if exc.code in (None, 0):
                raise
            # distilabel's third Ctrl-C ends its pipeline with sys.exit(1) after terminating its workers
            typer.echo("interrupted; nothing was published; rerun the same command to resume", err=True)
            raise typer.Exit(130) from None
        except BaseException:
            sys.excepthook = sys.__excepthook__  # the hook distilabel's import replaced
            typer.echo(redact_urls(traceback.format_exc()).rstrip(), err=True)
            raise typer.Exit(1) from None

    return wrapper


# typer 0.29 labels flags "<bool>" in --help as if they took a value; a flag takes none.
_display_type_rich = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = lambda self, ctx: None if self.is_flag else _display_type_rich(self, ctx)


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
# dataset repos: publish, pull, log, card, hub serve
# ---------------------------------------------------------------------------------------------------------------


def _registry(recipe: Path):
    from kinject.cards.registry import open_registry

    loaded = _load(recipe)
    return loaded, open_registry(loaded.registry)


@app.command()
@user_errors
def publish(
    file: Path = typer.Option(..., "--file", help="Rows to publish: .jsonl or .parquet."),
    config: str = typer.Option(..., "--config", help="Config name the rows become (e.g. seeds)."),
    recipe: Path = RecipeOption,
    repo: Optional[str] = typer.Option(None, "--repo", help="Dataset repo <org>/<name> (default: registry.repo)."),
    split: str = typer.Option("train", "--split", help="Split name."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Tag the new revision (tags are never moved)."),
    message: Optional[str] = typer.Option(None, "--message", "-m", help="Commit message."),
) -> None:
    """Publish one file as a config of a dataset repo, in one commit; prints REPO@SHA last."""
    from kinject.cards.tables import read_table
    from kinject.recipes.schema import recipe_to_yaml

    loaded, registry = _registry(recipe)
    ref = registry.publish(
        repo or loaded.registry.repo,
        {config: {split: read_table(file)}},
        provenance={config: {"recipe": str(recipe), "source_file": file.name}},
        files={f"provenance/{config}/recipe.yaml": recipe_to_yaml(loaded)},
        message=message or f"Publish {config} from {file.name}",
        tag=tag,
    )
    _print_ref(ref)


@app.command()
@user_errors
def pull(
    ref: str = typer.Argument(..., help="REPO@REVISION (sha, tag or branch)."),
    config: Optional[str] = typer.Option(None, "--config", help="Config (default: the only one, else seeds)."),
    split: str = typer.Option("train", "--split", help="Split."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write .jsonl or .parquet (default: JSON lines on stdout)."),
    recipe: Path = RecipeOption,
) -> None:
    """Rows of one config of a dataset repo at exactly one revision."""
    from kinject.cards.refs import DatasetRef
    from kinject.cards.tables import write_table

    _, registry = _registry(recipe)
    parsed = DatasetRef.parse(ref)
    if config is None:
        have = registry.configs(parsed)
        config = have[0] if len(have) == 1 else "seeds"
    write_table(registry.load(parsed, config, split), out)
    if out is not None:
        typer.echo(f"{out}")


@app.command("log")
@user_errors
def log_(repo: str = typer.Argument(..., help="Dataset repo <org>/<name>."), recipe: Path = RecipeOption) -> None:
    """Revisions of a dataset repo, newest first: sha, date, tags, configs, message."""
    _, registry = _registry(recipe)
    for entry in registry.log(repo.partition("@")[0]):
        tags = f" ({', '.join(entry['tags'])})" if entry["tags"] else ""
        typer.echo(f"{entry['sha'][:12]}{tags}  {entry['date']}  [{', '.join(entry['configs'])}]  {entry['message']}")


@app.command()
@user_errors
def card(ref: str = typer.Argument(..., help="REPO@REVISION."), recipe: Path = RecipeOption) -> None:
    """Print the dataset card at a revision, its load snippet pinned to the resolved sha."""
    from kinject.cards.card import render_card
    from kinject.cards.refs import DatasetRef

    _, registry = _registry(recipe)
    parsed = DatasetRef.parse(ref)
    sha = registry.resolve(parsed)
    pinned = DatasetRef(repo_id=parsed.repo_id, revision=sha)
    front = registry.card_data(pinned)
    if not front:
        raise KinjectUserError(f"{parsed.repo_id}@{sha[:7]} has no card (README.md)")
    typer.echo(render_card(parsed.repo_id, front, set(registry.list_files(pinned)), revision=sha), nl=False)


@hub_app.command("serve")
@user_errors
def hub_serve(
    recipe: Path = RecipeOption,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 to share on a LAN)."),
    port: int = typer.Option(8090, "--port", help="Port."),
    public_netloc: Optional[str] = typer.Option(None, "--public-netloc", help="host:port clients use, if not host."),
) -> None:
    """Serve the local registry to stock Hub clients (olah, offline): set HF_ENDPOINT to the printed URL."""
    from kinject.cards.olah import start_olah, stop_olah

    loaded = _load(recipe)
    if loaded.registry.kind != "local":
        raise KinjectUserError(f"{recipe}: registry.kind: hub serve needs a local registry, got {loaded.registry.kind!r}")
    proc, url = start_olah(loaded.registry.root, host=host, port=port, public_netloc=public_netloc)
    typer.echo(f"serving {Path(loaded.registry.root).resolve()} (olah, offline); clients: export HF_ENDPOINT={url}")
    try:
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_olah(proc)


# ---------------------------------------------------------------------------------------------------------------
# judge
# ---------------------------------------------------------------------------------------------------------------


@app.command()
@user_errors
def judge(
    recipe: Path = RecipeOption,
    answers: Optional[Path] = typer.Option(
        None, "--answers", help="JSON Lines with question, gold, answer (other fields kept); default: the run's."
    ),
    out: Optional[Path] = typer.Option(None, "--out", help="Judged JSON Lines (default: <answers>.judged.jsonl)."),
    judge_kind: Optional[str] = typer.Option(None, "--judge", help="match or llm (overrides judge.kind)."),
    run_dir: Optional[Path] = typer.Option(None, "--run", help="Training run folder to re-judge (no --answers)."),
    publish: bool = typer.Option(False, "--publish", help="Also publish the judged answers as a dataset config."),
    config: str = typer.Option("judged", "--config", help="Config name for --publish."),
) -> None:
    """Judge answers: a JSON Lines file (prints accuracy last), or a training run's answers (prints REPO@SHA)."""
    from kinject.recipes.schema import load_recipe

    if judge_kind is not None and judge_kind not in ("match", "llm"):
        raise KinjectUserError(f"--judge: expected match or llm, got {judge_kind!r}")
    loaded = load_recipe(recipe, overrides={"judge": {"kind": judge_kind}} if judge_kind else None)
    if answers is None:
        from kinject.trainers.results import judge_run

        _print_ref(judge_run(loaded, run_dir))
        return
    from kinject.trainers.judges import accuracy, judge_file, publish_judged, read_answers

    out = out or answers.with_name(f"{answers.stem}.judged.jsonl")
    judge_file(loaded.judge, answers, out)
    rows = read_answers(out)
    correct = sum(bool(r["verdict"]) for r in rows)
    typer.echo(f"wrote {out}")
    if publish:
        typer.echo(f"accuracy: {accuracy(rows):.3f} ({correct}/{len(rows)})")
        _print_ref(publish_judged(loaded, rows, config, source=answers.name))
        return
    sys.stdout.flush()
    typer.echo(f"accuracy: {accuracy(rows):.3f} ({correct}/{len(rows)})")


@app.command()
@user_errors
def corpus(
    recipe: Path = RecipeOption,
    method: str = typer.Option("graph", "--method", "-m", help="none, rephrase, fact, graph, or all."),
    seeds: Optional[Path] = typer.Option(None, "--seeds", help="A seed file (seeds schema) instead of building."),
    samples: Optional[int] = typer.Option(None, "--samples", help="Samples per document (default: the recipe's)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print requests, tokens and cost; write nothing."),
) -> None:
    """Generate, check and publish a synthetic corpus (resumable; prints REPO@SHA last)."""
    from kinject.pipelines.corpus import run_corpus

    ref = run_corpus(_load(recipe), method, seeds_file=seeds, samples=samples, dry_run=dry_run)
    if ref is not None:
        _print_ref(ref)


@app.command()
@user_errors
def select(
    recipe: Path = RecipeOption,
    method: str = typer.Option(..., "--method", help="Corpus config to select from: none, rephrase, fact, graph."),
    by: str = typer.Option("ppl", "--by", help="ppl: perplexity top/bottom/middle subsets; d4: D4 subset."),
    from_ref: Optional[str] = typer.Option(
        None, "--from", help="Source REPO@REV (default: the recipe's registry.repo at main)."
    ),
) -> None:
    """Publish perplexity or D4 subsets of a corpus, with the scores that chose them (prints REPO@SHA)."""
    from kinject.cards.refs import DatasetRef
    from kinject.pipelines.selection.run import run_selection

    source = DatasetRef.parse(from_ref) if from_ref else None
    _print_ref(run_selection(_load(recipe), source, method, by))


@app.command()
@user_errors
def train(
    recipe: Path = RecipeOption,
    data: Optional[str] = typer.Option(
        None, "--data", help="Dataset REPO@REV to train on (default: the recipe's registry.repo at main)."
    ),
    config: str = typer.Option("graph", "--config", help="Config to train on: none, rephrase, fact, graph, a subset."),
    output_dir: Optional[Path] = typer.Option(
        None, "--output-dir", help="Folder for the run (default: the recipe's train.output_dir)."
    ),
) -> None:
    """Continually pretrain on a corpus revision, evaluate on the clock, publish results (prints REPO@SHA).

    Multi-GPU: ``accelerate launch -m kinject train --recipe …`` with the same recipe.
    """
    from kinject.cards.refs import DatasetRef
    from kinject.trainers.cpt import run_train

    from kinject.recipes.schema import load_recipe

    ref = DatasetRef.parse(data) if data else None
    overrides = {"train": {"output_dir": str(output_dir)}} if output_dir is not None else None
    run_dir, card = run_train(load_recipe(recipe, overrides=overrides), ref, config)
    typer.echo(f"run: {run_dir}", err=True)
    _print_ref(card)


@app.command()
@user_errors
def recall(
    run_dirs: list[Path] = typer.Argument(..., help="Finished run folders (each with run.json and model/)."),
    recipe: Path = typer.Option(
        Path("recipes/cpu.yaml"), "--recipe", "-r", help="Its registry (where the runs' data lives) and eval."
    ),
) -> None:
    """Document recall of finished runs: does the model write each fact when continuing its own document?

    Training measures it at the end of every run (``recall.json``); this command measures runs trained before.
    """
    from kinject.trainers.recall import recall_line, recall_run

    loaded = _load(recipe)
    for run_dir in run_dirs:
        typer.echo(recall_line(run_dir.name, recall_run(loaded, run_dir)))


@app.command()
@user_errors
def base(
    recipe: Path = RecipeOption,
    data: Optional[str] = typer.Option(
        None, "--data", help="Teaching-world REPO@REV to pretrain on (default: build and publish it first)."
    ),
) -> None:
    """Build the teaching world (disjoint from the recipe's seed documents), pretrain the tiny base on it and
    publish it as a model repo (prints REPO@SHA); `train.model: base` then continues from it."""
    from kinject.cards.refs import DatasetRef
    from kinject.pipelines.seeds import build_seeds, read_seed_file
    from kinject.pipelines.teaching import run_teaching
    from kinject.trainers.base import run_base

    cfg = _load(recipe)
    if data:
        teaching = DatasetRef.parse(data)
    else:
        target = read_seed_file(cfg.seeds.path) if cfg.seeds.path else build_seeds(cfg.seeds)
        teaching = run_teaching(cfg, target)
        typer.echo(f"teaching world: {teaching}", err=True)
    _print_ref(run_base(cfg, teaching))


# ---------------------------------------------------------------------------------------------------------------
# study and reproduce
# ---------------------------------------------------------------------------------------------------------------


@app.command()
@user_errors
def study(
    recipe: Path = typer.Option(Path("recipes/study-cpu.yaml"), "--recipe", "-r", help="Study recipe YAML file."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default: study.out)."),
    no_publish: bool = typer.Option(False, "--no-publish", help="Write the report only; publish no revision."),
    figures: Optional[str] = typer.Option(
        None, "--figures", help="Comma-separated subset of fig1,fig2,appB,appC,beyond (default: study.figures)."
    ),
) -> None:
    """The paper's figures at the recipe's scale: corpora, subsets, training runs, report; prints REPO@SHA last.

    Resumable: rerunning skips published data and finished runs of the same recipe.
    """
    from kinject.study import run_study

    from kinject.recipes.schema import load_recipe

    overrides = {"study": {"figures": figures.split(",")}} if figures else None
    ref = run_study(load_recipe(recipe, overrides=overrides), out=out, publish=not no_publish)
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
