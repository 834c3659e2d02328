"""Seed documents, synthetic corpora (rephrase, fact, graph) and selection. Never imports ``kinject.trainers``."""

import warnings

from pydantic.warnings import UnsupportedFieldAttributeWarning

# distilabel 1.5.3's StepResources declares `Field(default=None)` inside an Annotated union, which pydantic 2.12+
# warns about on every import of distilabel.steps: the user can do nothing about it, so only that one is silenced.
warnings.filterwarnings("ignore", message=r"The 'default' attribute with value None was provided to the `Field\(\)`",
                        category=UnsupportedFieldAttributeWarning)
