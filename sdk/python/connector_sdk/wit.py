"""The unified model's types, as generated from the contract (`wit_world`), under short names."""

from wit_world.imports import unified_security_connector_types as types
from wit_world.imports.unified_security_connector_types import *  # noqa: F401,F403
from componentize_py_types import Err, Ok  # noqa: F401
