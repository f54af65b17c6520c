"""Earth Engine's noncommercial quota tiers, and which one a job's EECU-hours need.

Noncommercial projects get a monthly quota of EECU-hours, per project, reset every month
(https://developers.google.com/earth-engine/guides/noncommercial_tiers, "Noncommercial tiers"): the
Community Tier 150 EECU-hours (every verified noncommercial project), the Contributor Tier 1,000 (an active
billing account, not charged for noncommercial Earth Engine use) and the Partner Tier 100,000 (by
application). EECU-hours are what the profiler and the task list report
(https://developers.google.com/earth-engine/guides/computation_overview).
"""

from __future__ import annotations

#: (tier, EECU-hours a month), smallest first (noncommercial_tiers page above).
NONCOMMERCIAL_TIERS: tuple[tuple[str, float], ...] = (
    ("Community", 150.0),
    ("Contributor", 1_000.0),
    ("Partner", 100_000.0),
)
TIERS_PAGE = "https://developers.google.com/earth-engine/guides/noncommercial_tiers"


def tier_needed(eecu_hours: float) -> str | None:
    """The smallest noncommercial tier whose monthly quota holds ``eecu_hours``; None when none does."""
    return next((name for name, quota in NONCOMMERCIAL_TIERS if eecu_hours <= quota), None)


def tier_line(eecu_hours: float) -> str:
    """One line: the EECU-hours and the tier of the noncommercial quota they need."""
    tier = tier_needed(eecu_hours)
    if tier is None:
        months = eecu_hours / NONCOMMERCIAL_TIERS[-1][1]
        return (
            f"{eecu_hours:,.2f} EECU-hours: above every noncommercial tier's month (the Partner Tier holds "
            f"{NONCOMMERCIAL_TIERS[-1][1]:,.0f}); spread it over {months:.1f} months or use a paid plan ({TIERS_PAGE})"
        )
    quota = dict(NONCOMMERCIAL_TIERS)[tier]
    return (
        f"{eecu_hours:,.2f} EECU-hours: fits the noncommercial {tier} Tier ({quota:,.0f} EECU-hours a month, "
        f"{100 * eecu_hours / quota:.1f} % of it; {TIERS_PAGE})"
    )
