"""Value vocabularies of the generated events (codes are indexes into these tuples)."""

ACTIONS = ("search", "view", "export", "update")
QUERY_TYPES = ("person", "vehicle", "address", "incident", "intelligence")
SYSTEMS = ("PNC", "RMS", "INTEL", "CAD", "CUSTODY")
REASONS = ("stop", "crime", "incident", "accident", "arrest", "custody", "intelligence", "safeguarding",
           "missing_person", "licensing", "disclosure", "complaint", "admin")
A = {v: i for i, v in enumerate(ACTIONS)}
Q = {v: i for i, v in enumerate(QUERY_TYPES)}
S = {v: i for i, v in enumerate(SYSTEMS)}
R = {v: i for i, v in enumerate(REASONS)}
