"""The base of every custom resource model: Python names in snake_case, the API's in camelCase.

``populate_by_name`` lets the code build models with Python names while the API (and the CRD
schema generated in ``crds.py``) speaks camelCase.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
