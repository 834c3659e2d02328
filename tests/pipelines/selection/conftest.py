"""Tiny in-memory data for the selection tests: planted near-duplicates (Japanese and English) and random
vectors with planted semantic duplicates."""

from __future__ import annotations

import numpy as np
import pytest

JA_BASE = [
    "東京都渋谷区に本社を置く株式会社ミライテックは、二〇一九年に設立されたソフトウェア企業で、従業員数は約百二十名である。"
    "主力製品はクラウド型の在庫管理システム「ストックナビ」で、全国の小売店約八百社に導入されている。",
    "北海道の小さな町にある「しろくま農園」では、寒冷地向けに改良された苺「ゆきあかり」を栽培している。"
    "収穫は毎年十二月から翌年三月までで、糖度は平均十四度と高く、贈答用として人気がある。",
    "社内の経費精算手順は次の通りである。まず領収書を撮影して専用アプリに登録し、上長の承認を得る。"
    "承認後、経理部が内容を確認し、毎月二十五日に指定口座へ振り込まれる。",
]
# One or two characters changed or a punctuation mark added: Jaccard of character 5-grams stays about 0.9.
JA_NEAR = [
    JA_BASE[0].replace("約百二十名", "約百三十名"),
    JA_BASE[1].replace("平均十四度", "平均十五度").replace("。", "！", 1),
]
EN_BASE = [
    "The Aurora X5 is a compact electric bicycle designed for city commuters. It weighs 14 kilograms, "
    "folds in under ten seconds and its battery provides a range of 80 kilometres on a single charge.",
    "To reset the router, hold the recessed button on the back panel for fifteen seconds until the status "
    "light blinks amber, then wait two minutes while the device restores its factory settings.",
]
EN_NEAR = [EN_BASE[0].replace("14 kilograms", "15 kilograms"), EN_BASE[1].replace("button", "buttons")]


@pytest.fixture
def planted_texts() -> tuple[list[str], set[int]]:
    """Texts in order, and the positions that are near-duplicates of an earlier text."""
    texts = JA_BASE + EN_BASE + JA_NEAR + EN_NEAR
    duplicates = set(range(len(JA_BASE) + len(EN_BASE), len(texts)))
    return texts, duplicates


def _planted_vectors(n_base: int, n_dup: int, d: int, noise: float, seed: int) -> tuple[np.ndarray, set[int]]:
    """``n_base`` random unit vectors followed by ``n_dup`` noisy copies of random earlier ones (shuffled in)."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n_base, d)).astype(np.float32)
    sources = rng.integers(0, n_base, n_dup)
    dups = base[sources] + noise * rng.standard_normal((n_dup, d)).astype(np.float32)
    x = np.concatenate([base, dups])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, set(range(n_base, n_base + n_dup))


@pytest.fixture
def planted_vectors():
    """``planted_vectors(n_base, n_dup, d, noise, seed) -> (unit vectors, positions of the noisy copies)``."""
    return _planted_vectors
