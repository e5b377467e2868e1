"""Small models: one contract (:mod:`fabmind.models.base`), one module per family."""

from fabmind.models.base import (
    Explanation,
    FeatureContribution,
    FeatureSchemaError,
    ModelError,
    ModelMetadata,
    SmallModel,
)

__all__ = ["Explanation", "FeatureContribution", "FeatureSchemaError", "ModelError", "ModelMetadata", "SmallModel"]
