"""One seed set per revision: every config records the sha256 of the seed documents it was built from.

A revision whose ``graph`` was built from seed set A and ``fact`` from seed set B would evaluate one of them on the
wrong questions, so publishing a corpus onto a revision whose ``seeds`` differ is refused, and training refuses a
config whose recorded seed sha differs from the revision's ``seeds``.
"""

from __future__ import annotations

import hashlib
import json

from kinject.errors import KinjectUserError


def seeds_sha(docs: list[dict]) -> str:
    """sha256 of the seed documents as JSON (sorted keys): what ``kinject.configs.<config>.seeds.sha256`` holds."""
    return hashlib.sha256(json.dumps(docs, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def revision_seeds_sha(front: dict) -> str | None:
    """The sha of a revision's ``seeds`` config from its card, or None when the card records none."""
    configs = (front.get("kinject") or {}).get("configs") or {}
    if "seeds" not in [c.get("config_name") for c in front.get("configs") or []]:
        return None
    own = (configs.get("seeds") or {}).get("sha256")
    if own:
        return own
    # Revisions published before ``seeds`` recorded its own sha: the corpus configs published with it did.
    return next((c["seeds"]["sha256"] for c in configs.values()
                 if isinstance(c, dict) and isinstance(c.get("seeds"), dict) and c["seeds"].get("sha256")), None)


def config_seeds_sha(front: dict, config: str) -> str | None:
    """The seed sha a config of the revision was built from, or None when its provenance records none."""
    entry = ((front.get("kinject") or {}).get("configs") or {}).get(config) or {}
    seeds = entry.get("seeds") if isinstance(entry, dict) else None
    return seeds.get("sha256") if isinstance(seeds, dict) else None


def check_publish_seeds(where: str, front: dict, sha: str) -> None:
    """Refuse to publish a corpus built from seed set ``sha`` onto revision ``where`` whose ``seeds`` differ."""
    published = revision_seeds_sha(front)
    if published is not None and published != sha:
        raise KinjectUserError(
            f"{where}: its seeds have sha256 {published[:12]}, these seed documents have sha256 {sha[:12]}; one revision holds "
            "corpora of one seed set. Publish to another dataset repo (set registry.repo in the recipe), or build "
            f"from the published seeds: kinject pull {where} --config seeds --out seeds.jsonl, then --seeds seeds.jsonl"
        )


def check_train_seeds(where: str, front: dict, config: str) -> None:
    """Refuse to train on ``config`` of revision ``where`` when it was built from other seeds than ``seeds``."""
    published, built = revision_seeds_sha(front), config_seeds_sha(front, config)
    if published is not None and built is not None and published != built:
        raise KinjectUserError(
            f"{where}: config {config!r} was built from seeds with sha256 {built[:12]}, but the revision's seeds have "
            f"sha256 {published[:12]}; its questions would not be the ones the corpus teaches. Rebuild {config!r} "
            "from this revision's seeds, or train on a revision where both match"
        )
