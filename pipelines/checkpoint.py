"""Resumable generation: row ids, the JSONL checkpoint, the distilabel step that appends to it, and the pipeline
every method builds around its generation step.

Why our own checkpoint rather than distilabel's ``use_cache=True``: distilabel's cache recovery after a hard
kill has been reported to hang (distilabel #1065), and its cache is keyed on the whole pipeline signature —
including the ``LoadDataFromDicts`` data, which changes on every resume because only missing rows are loaded.
Our rule is simpler and checkable: a row is finished once its line is in ``rows.jsonl``; a resumed run loads only
the (document, sample) variants whose id is not there. The last step appends each batch with one ``write`` and
an ``fsync``; a line cut by SIGKILL is dropped (and the file truncated to the last full line) when read back.

A request that failed for transport reasons (connection refused, timeout, 429/5xx after the client's retries) is
not a finished row: its id and reason go to ``<checkpoint>.failed.jsonl`` instead, so the next run retries it.
A model answer that fails a check (unparseable, wrong language, ...) is finished and reaches ``failures``.
"""

# no `from __future__ import annotations`: distilabel finds a step's input parameter by its runtime
# `StepInput` (typing.Annotated) annotation, which a string annotation would hide
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from distilabel.pipeline import Pipeline
from distilabel.steps import LoadDataFromDicts, Step, StepInput

if TYPE_CHECKING:
    from distilabel.steps import StepOutput

# Columns a finished row keeps (the corpus-row contract, minus the check columns, plus bookkeeping).
ROW_COLUMNS = ("id", "doc_id", "method", "variant", "sample", "text", "generator", "prompt_sha", "seed",
               "input_tokens", "output_tokens", "reason", "run")


def row_id(doc_id: str, method: str, variant: str, sample: int, seed: int) -> str:
    """Stable row id: sha256 of the row's coordinates (Python's hash() is salted per process)."""
    key = "\x1f".join((doc_id, method, variant, str(sample), str(seed)))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: one token per CJK character, one per 4 other characters.

    Used for the composer's rows and for ``--dry-run``, where no tokenizer of the remote model is at hand.
    """
    text = text or ""
    cjk = sum(1 for ch in text if "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff")
    return cjk + -(-(len(text) - cjk) // 4)


class Checkpoint:
    """An append-only JSONL of finished rows, one JSON object per line, keyed by ``id``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, dict]:
        """Finished rows by id (first line wins); a trailing partial line is cut off the file."""
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a line cut by a kill: drop it so the next append starts on a fresh line
            with open(self.path, "r+b") as f:
                f.truncate(end)
        rows: dict[str, dict] = {}
        for line in data[:end].splitlines():
            if line.strip():
                row = json.loads(line)
                rows.setdefault(row["id"], row)
        return rows

    def append(self, rows: Iterable[dict]) -> None:
        payload = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        if not payload:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())


def failed_path(checkpoint: Path) -> Path:
    """Where the requests of a checkpoint that failed for transport reasons are recorded (``rows.failed.jsonl``)."""
    return checkpoint.with_name(checkpoint.stem + ".failed.jsonl")


def transport_failures(checkpoint: Path, run: str) -> dict[str, str]:
    """id -> reason of the requests of run ``run`` that failed for transport reasons and are still unfinished."""
    path = failed_path(checkpoint)
    if not path.exists():
        return {}
    finished = Checkpoint(checkpoint).read()
    failed: dict[str, str] = {}
    for line in path.read_bytes().splitlines():
        if line.strip().endswith(b"}"):
            row = json.loads(line)
            if row["run"] == run and row["id"] not in finished:
                failed[row["id"]] = row["reason"]
    return failed


class AppendToCheckpoint(Step):
    """Append each finished batch to the checkpoint (the last step of every generation pipeline).

    Input columns: ``id`` and the row columns present; the LLM's token statistics are read from
    ``distilabel_metadata`` when the task recorded them. Output columns: ``id`` (the rows live in the checkpoint).
    """

    path: str
    run: str = ""
    columns: list[str] = list(ROW_COLUMNS)
    text_column: str = "generation"

    @property
    def inputs(self) -> list[str]:
        return ["id"]

    @property
    def outputs(self) -> list[str]:
        return ["id"]

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        from kinject.pipelines.backends import generation_error

        rows, failed = [], []
        for row in inputs:
            reason = generation_error(row)
            if reason is None:
                rows.append(self._finished(row))
            else:
                failed.append({"id": row["id"], "reason": reason, "run": self.run})
        Checkpoint(failed_path(Path(self.path))).append(failed)
        Checkpoint(Path(self.path)).append(rows)
        yield [{"id": row["id"]} for row in rows + failed]

    def _finished(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {**row, "run": self.run}
        if self.text_column in row:
            out["text"] = row[self.text_column] or ""
        stats = next((v for k, v in (row.get("distilabel_metadata") or {}).items() if k.startswith("statistics_")),
                     None) or {}
        out["input_tokens"] = int(stats.get("input_tokens") or row.get("input_tokens") or 0)
        # the composer (or an LLM client that reports no usage) gets the tokenizer-free estimate
        out["output_tokens"] = int(stats.get("output_tokens") or row.get("output_tokens")
                                   or estimate_tokens(out.get("text") or ""))
        if "model_name" in row and not row.get("generator"):
            out["generator"] = row["model_name"]
        return {col: out.get(col) for col in self.columns if col in out}


def generation_pipeline(
    name: str, rows: list[dict], make_step: Callable[[], Step], checkpoint: Path, *, cache_dir: Path,
    batch_size: int, run: str = "", columns: Iterable[str] = ROW_COLUMNS, text_column: str = "generation",
    use_ray: bool = False,
) -> Pipeline:
    """``load >> step >> append-to-checkpoint`` over the planned rows; ``use_ray`` converts it to a RayPipeline.

    ``make_step`` builds the generation step: a distilabel step joins the pipeline whose ``with`` block is open
    when it is constructed (``_Step.model_post_init``), so it must be built inside this block.
    """
    with Pipeline(name=name, cache_dir=str(cache_dir)) as pipeline:
        load = LoadDataFromDicts(name="load_variants", data=rows, batch_size=batch_size)
        step = make_step()
        save = AppendToCheckpoint(name="append_to_checkpoint", path=str(checkpoint), run=run,
                                  columns=list(columns), text_column=text_column, input_batch_size=batch_size)
        step.input_batch_size = batch_size
        load >> step >> save
    return pipeline.ray() if use_ray else pipeline
