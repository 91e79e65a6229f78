"""Base model for settings sections: unknown keys are errors, values are validated on assignment."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
