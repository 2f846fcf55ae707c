"""Base class of every request body: unknown fields are an error, not silently dropped."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A request model that rejects fields it does not declare."""

    model_config = ConfigDict(extra="forbid")
