"""Exchange builds as people name them: 15.2.1748.10 is Exchange 2019 CU15."""

from __future__ import annotations

# Builds named in Microsoft's build list (the ones remediate's docs and tests meet).
KNOWN: dict[tuple[int, int, int], str] = {
    (15, 0, 1497): "Exchange 2013 CU23",
    (15, 1, 466): "Exchange 2016 CU2",
    (15, 1, 544): "Exchange 2016 CU3",
    (15, 1, 2375): "Exchange 2016 CU22",
    (15, 1, 2507): "Exchange 2016 CU23",
    (15, 2, 221): "Exchange 2019 RTM",
    (15, 2, 986): "Exchange 2019 CU11",
    (15, 2, 1118): "Exchange 2019 CU12",
    (15, 2, 1544): "Exchange 2019 CU14",
    (15, 2, 1748): "Exchange 2019 CU15",
    (15, 2, 2562): "Exchange SE RTM",
}
SE_FIRST_BUILD = 2562  # Exchange Server SE is 15.2 with a build of 2562 or later


def product(build: str) -> str:
    """`15.2.1748.10` -> `Exchange 2019 CU15`; unknown builds get their product line."""
    try:
        major, minor, number = (int(part) for part in build.split(".")[:3])
    except ValueError:
        return "unknown Exchange build"
    known = KNOWN.get((major, minor, number))
    if known:
        return known
    if (major, minor) == (15, 2):
        return "Exchange SE" if number >= SE_FIRST_BUILD else "Exchange 2019"
    return {(15, 1): "Exchange 2016", (15, 0): "Exchange 2013", (14, 3): "Exchange 2010"}.get(
        (major, minor), f"Exchange {major}.{minor}"
    )
