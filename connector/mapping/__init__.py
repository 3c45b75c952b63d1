"""The mapping engine: admin-editable files that turn source records into domain data and back."""

from __future__ import annotations
