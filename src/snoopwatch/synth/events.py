"""A block of generated events as parallel numpy arrays (codes, not strings), so millions of rows can be
built, concatenated and sorted cheaply before they become a DataFrame once at the end."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class EventBlock:
    time: np.ndarray        # int64 UTC seconds
    user: np.ndarray        # int32 staff code
    action: np.ndarray      # int8 vocab.ACTIONS
    query: np.ndarray       # int8 vocab.QUERY_TYPES
    system: np.ndarray      # int8 vocab.SYSTEMS
    subject: np.ndarray     # int32 subject code, -1 none
    case: np.ndarray        # int32 case-reference code (cases, then typos/fabrications), -1 none
    reason: np.ndarray      # int8 vocab.REASONS, -1 none
    workstation: np.ndarray  # int32 workstation code
    results: np.ndarray     # int32 result count
    requester: np.ndarray   # int32 staff code, -1 none
    instance: np.ndarray    # int32 misuse instance code, -1 for normal work

    def __len__(self) -> int:
        return len(self.time)

    @staticmethod
    def empty() -> EventBlock:
        return EventBlock(*(np.zeros(0, dtype=dt) for dt in _DTYPES))

    @staticmethod
    def build(n: int, **columns) -> EventBlock:
        """A block of n rows; columns not given get their 'none' value; scalars are broadcast."""
        values = []
        for f, dt in zip(fields(EventBlock), _DTYPES, strict=True):
            if f.name in columns:
                values.append(np.broadcast_to(np.asarray(columns[f.name]).astype(dt), (n,)).copy())
            else:
                values.append(np.full(n, _NONE[f.name], dtype=dt))
        return EventBlock(*values)

    @staticmethod
    def concat(blocks: list[EventBlock]) -> EventBlock:
        blocks = [b for b in blocks if len(b)]
        if not blocks:
            return EventBlock.empty()
        return EventBlock(*(np.concatenate([getattr(b, f.name) for b in blocks]) for f in fields(EventBlock)))

    def take(self, index: np.ndarray) -> EventBlock:
        return EventBlock(*(getattr(self, f.name)[index] for f in fields(EventBlock)))


_DTYPES = (np.int64, np.int32, np.int8, np.int8, np.int8, np.int32, np.int32, np.int8, np.int32, np.int32,
           np.int32, np.int32)
_NONE = {"time": 0, "user": -1, "action": 0, "query": 0, "system": 0, "subject": -1, "case": -1, "reason": -1,
         "workstation": -1, "results": 1, "requester": -1, "instance": -1}
