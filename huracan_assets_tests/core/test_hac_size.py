"""The HAC test has its stated size on overlapping labels at the pipeline's record lengths (issue 10, item 1).

Monte Carlo error: with N = 50,000 null records per case, the rejection count at alpha = 0.001 has
mean 50 and standard deviation 7.1 if the size is right, so the band [0.5, 1.5] x alpha is +-3.5
standard deviations (a correctly sized test leaves it with probability about 5e-4); a test of true
size 0.0016 (1.6x) lands outside it with probability about 0.8. At alpha = 0.05 and 0.01 the band
is +-25 and +-11 standard deviations. The seeds are fixed, so the outcome is reproducible.
"""

from __future__ import annotations

import numpy as np
import pytest

from huracan_assets.config import load_settings
from huracan_assets.core.stats import hac_mean_test, hac_mean_tests, newey_west_variance
from huracan_assets_tests.core.overlap_null import overlapping_labels, record_lengths, rejection_rates

N_SERIES = 50_000
SETTINGS = load_settings()
LENGTHS = record_lengths(SETTINGS)
CASES = [
    (horizon, h, kind, returns)
    for horizon, h in SETTINGS.horizon_bars.items()
    for kind, returns in (("shadow", "gaussian"), ("shadow", "laplace"), ("cold_start", "laplace"))
]


def _p_values(x: np.ndarray, h: int) -> np.ndarray:
    return hac_mean_tests(x, h, alternative="greater")[1]


def test_the_cases_are_the_pipelines_horizons_and_record_lengths():
    assert SETTINGS.horizon_bars == {"1h": 1, "4h": 4, "1d": 24}
    # 7 shadow days of 1h bars; a 150-day look-back, half of it tested by the cold-start folds
    assert LENGTHS == {
        "1h": {"shadow": 164, "cold_start": 1799},
        "4h": {"shadow": 158, "cold_start": 1798},
        "1d": {"shadow": 118, "cold_start": 1788},
    }


@pytest.mark.parametrize(("horizon", "h", "kind", "returns"), CASES)
def test_null_rejection_rate_is_within_half_and_one_and_a_half_times_alpha(horizon, h, kind, returns):
    n = LENGTHS[horizon][kind]
    rates = rejection_rates(_p_values, n=n, h=h, n_series=N_SERIES, seed=10_000 + n + h, returns=returns)
    for alpha, rate in rates.items():
        assert 0.5 * alpha <= rate <= 1.5 * alpha, (horizon, kind, returns, alpha, rate)


def test_the_old_bartlett_test_over_rejects_where_the_new_one_does_not():
    """The size test can fail: Newey–West with bandwidth h and n / h - 1 degrees of freedom (the test
    before issue 10) is outside the band on the same simulated 4h shadow records."""
    from scipy import stats

    n, h = LENGTHS["4h"]["shadow"], 4

    def old(x: np.ndarray, h: int) -> np.ndarray:
        variance = np.array([newey_west_variance(row, h) for row in x])
        t = x.mean(axis=1) / np.sqrt(variance / n)
        return stats.t(df=n / h - 1).sf(t)

    rates = rejection_rates(old, n=n, h=h, n_series=20_000, seed=7, returns="gaussian")
    assert rates[0.05] > 1.3 * 0.05 and rates[0.01] > 1.5 * 0.01


def test_rows_and_single_series_agree():
    x = overlapping_labels(np.random.default_rng(3), 5, 118, 24) + 0.5
    t_rows, p_rows = hac_mean_tests(x, 24, alternative="greater")
    for row, t, p in zip(x, t_rows, p_rows, strict=True):
        assert hac_mean_test(row, 24, alternative="greater") == pytest.approx((t, p), rel=1e-12)
