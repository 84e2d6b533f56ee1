"""The declared primary endpoint and performance margin (regbench.endpoints)."""
import numpy as np
import pytest

from regbench.endpoints import declare, from_dict
from regbench.metrics import GroundTruth, score_attributions


def test_simulated_data_declare_the_papers_motif_fraction_and_binary_auroc_margin():
    endpoint = declare("binary", {"motif_mask", "peak_mask"})
    assert (endpoint.metric, endpoint.direction) == ("motif_fraction", "higher")
    assert (endpoint.performance, endpoint.performance_direction, endpoint.margin) == (
        "auroc", "higher", 0.01)
    assert "motif_fraction" in endpoint.describe() and "0.01" in endpoint.describe()


def test_genome_data_declare_peak_fraction_and_profile_a_jsd_margin():
    endpoint = declare("profile", {"peak_mask"})
    assert endpoint.metric == "peak_fraction"
    assert (endpoint.performance, endpoint.performance_direction) == ("profile_jsd", "lower")


def test_no_ground_truth_declares_nothing_and_the_record_round_trips():
    assert declare("binary", set()) is None
    endpoint = declare("binary", {"motif_mask"})
    assert from_dict(endpoint.as_dict()) == endpoint
    assert from_dict(None) is None


def test_peak_fraction_is_the_share_of_attribution_inside_the_peak():
    attr = np.zeros((2, 4, 5))
    attr[0, 0] = [1, 1, 2, 0, 0]      # 3 of 4 inside positions 1-3
    attr[1, 2] = [0, 0, 0, 0, -5]     # all outside (magnitude counts)
    peaks = np.zeros((2, 5), bool)
    peaks[:, 1:4] = True
    X = np.zeros((2, 4, 5))
    X[:, 0] = 1
    table, _ = score_attributions(attr, GroundTruth(X, None, None, None, peaks),
                                  ["peak_fraction"])
    assert table["peak_fraction"].tolist() == pytest.approx([0.75, 0.0])
