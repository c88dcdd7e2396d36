"""The work of each daily step, without Dagster.

One module per asset module: what a step computes for its coins and days (validate candles,
compute features and labels, train, score, run the consensus, choose champions, lay out the
export). The assets in :mod:`huracan_assets.assets` are thin: they load inputs, call these
functions through the compute seam, and record metadata. The benchmark's plain loop calls the
same functions with no Dagster at all. Nothing here imports dagster (a test checks it).
"""
