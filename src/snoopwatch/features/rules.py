"""The classic audit rules read off the feature frame (for the rules-only baseline and for summaries)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame.columns:
        return frame[name].to_numpy(np.float64)
    return np.zeros(len(frame))


def rule_flags(frame: pd.DataFrame) -> pd.DataFrame:
    """Boolean columns no_case_link, surname_match, near_home, off_roster, vip_staff_subject (a missing
    feature never fires its rule, except no_case_link, which falls back to "no case reference")."""
    if "explained_by_case" in frame.columns:
        no_case = _col(frame, "explained_by_case") == 0
    elif "case_ref_present" in frame.columns:
        no_case = _col(frame, "case_ref_present") == 0
    else:
        no_case = np.ones(len(frame), dtype=bool)
    return pd.DataFrame({
        "no_case_link": no_case,
        "surname_match": (_col(frame, "surname_match_rarity") > 0) | (_col(frame, "self_lookup") > 0),
        "near_home": (_col(frame, "same_postcode_sector") > 0) | (_col(frame, "home_proximity") > 0.5),
        "off_roster": _col(frame, "off_roster") > 0,
        "vip_staff_subject": (_col(frame, "subject_vip") > 0) | (_col(frame, "colleague_record") > 0),
    }, index=frame.index)
