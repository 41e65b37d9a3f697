"""The classic audit rules read off the feature frame (for the rules-only baseline and for summaries)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

# The feature columns the rules read.
RULE_INPUTS = ("explained_by_case", "case_ref_present", "surname_match_rarity", "self_lookup", "same_postcode_sector",
               "home_proximity", "off_roster", "subject_vip", "colleague_record")


def rule_flag_arrays(columns: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """The rules on plain arrays (feature name -> n values; missing features absent): what rule_flags
    computes, without building frames (summaries call it once per alert, thousands of times)."""

    def col(name: str) -> np.ndarray:
        return np.asarray(columns[name], dtype=np.float64) if name in columns else np.zeros(n)

    if "explained_by_case" in columns:
        no_case = col("explained_by_case") == 0
    elif "case_ref_present" in columns:
        no_case = col("case_ref_present") == 0
    else:
        no_case = np.ones(n, dtype=bool)
    return {
        "no_case_link": no_case,
        "surname_match": (col("surname_match_rarity") > 0) | (col("self_lookup") > 0),
        "near_home": (col("same_postcode_sector") > 0) | (col("home_proximity") > 0.5),
        "off_roster": col("off_roster") > 0,
        "vip_staff_subject": (col("subject_vip") > 0) | (col("colleague_record") > 0),
    }


def rule_flags(frame: pd.DataFrame) -> pd.DataFrame:
    """Boolean columns no_case_link, surname_match, near_home, off_roster, vip_staff_subject (a missing
    feature never fires its rule, except no_case_link, which falls back to "no case reference")."""
    columns = {name: frame[name].to_numpy(np.float64) for name in RULE_INPUTS if name in frame.columns}
    return pd.DataFrame(rule_flag_arrays(columns, len(frame)), index=frame.index)
