"""The built-in metrics, registered in the order the report shows them."""
from __future__ import annotations

from regbench.metrics import interpretability as interp
from regbench.metrics import performance, profile
from regbench.metrics.registry import register_metric

# -- performance (results.csv: test_<name>) ---------------------------------------------
register_metric("accuracy", needs="labels", direction="higher", kind="performance",
                label="test accuracy (fraction)", lead=3)(performance.accuracy)
register_metric("auroc", needs="labels", direction="higher", kind="performance",
                label="test auROC", headline=True, lead=1)(performance.auroc)
register_metric("auprc", needs="labels", direction="higher", kind="performance",
                label="test auPRC", lead=2)(performance.auprc)
register_metric("loss", needs="labels", direction="lower", kind="performance",
                label="test loss (nats)")(performance.balanced_bce)

# -- performance of profile models (results.csv: test_<name>) ---------------------------
register_metric("profile_nll", needs="profile", direction="lower", kind="performance",
                label="test profile multinomial NLL (nats)", headline=True)(
    profile.multinomial_nll)
register_metric("profile_jsd", needs="profile", direction="lower", kind="performance",
                label="test profile Jensen-Shannon distance")(profile.profile_jsd)
register_metric("counts_pearson", needs="profile", direction="higher", kind="performance",
                label="test log-counts Pearson r")(profile.counts_pearson)
register_metric("counts_spearman", needs="profile", direction="higher", kind="performance",
                label="test counts Spearman ρ")(profile.counts_spearman)

# -- attributions ---------------------------------------------------------------------------
register_metric("highfreq_fraction", needs="nothing", direction="lower",
                label="high-frequency fraction", headline=True, lead=4,
                better="lower is better (less high-frequency noise)")(
    lambda attr, truth: interp.highfreq_fraction(attr, truth.freq_limit))
register_metric("entropy", needs="nothing", direction="lower",
                label="attribution entropy (bits)", headline=True,
                better="lower is better (bits; attribution more concentrated)")(
    lambda attr, truth: interp.attribution_entropy(attr))
register_metric("entropy_scale_free", needs="nothing", direction="lower",
                label="attribution entropy, scale-free (bits)",
                better="lower is better (bits; attribution more concentrated; the "
                       "pseudocount is a share of the track's mean, so unlike entropy it "
                       "ignores the attribution scale)")(
    lambda attr, truth: interp.scale_free_entropy(attr))
register_metric("attribution_scale", needs="nothing", direction="",
                label="attribution scale (Σ|attribution| per sequence)",
                better="not a quality (the total |attribution| of a track; entropy's "
                       "pseudocount is in its units): never tested against none")(
    lambda attr, truth: interp.attribution_scale(attr))
register_metric("motif_fraction", needs="motif_mask", direction="higher",
                label="motif fraction", headline=True, lead=3,
                better="higher is better (more attribution inside motifs)")(
    lambda attr, truth: interp.motif_fraction(attr, truth.motif_mask))
register_metric("motif_auprc", needs="motif_mask", direction="higher",
                label="motif auPRC (pooled)", per_sequence=False, headline=True, lead=1,
                better="higher is better (all positions of all sequences ranked by "
                       "attribution find motifs)")(
    lambda attr, truth: interp.motif_auprc(attr, truth.motif_mask))
register_metric("motif_auprc_per_sequence", needs="motif_mask", direction="higher",
                label="motif auPRC per sequence", in_results=False,
                better="higher is better (a sequence's positions ranked by attribution "
                       "find its motif)")(
    lambda attr, truth: interp.motif_auprc_per_sequence(attr, truth.motif_mask))
register_metric("summit_spearman", needs="summits", direction="lower",
                label="summit-distance Spearman ρ",
                better="more negative is better (attribution falls off away from the "
                       "summit: the peak summit of peaks.bed where the data have one, "
                       "else the sequence centre, as on simulated binary data)")(
    lambda attr, truth: interp.summit_spearman(attr, truth.summits))
register_metric("peak_auprc", needs="peak_mask", direction="higher",
                label="peak auPRC (pooled)", per_sequence=False, headline=True, lead=2,
                better="higher is better (all positions ranked by attribution find the "
                       "peak intervals; real data, where no motif truth exists)")(
    lambda attr, truth: interp.motif_auprc(attr, truth.peak_mask))
register_metric("peak_fraction", needs="peak_mask", direction="higher",
                label="peak fraction", headline=True,
                better="higher is better (more attribution inside the peak interval; the "
                       "paper's Table 4 on real data)")(
    lambda attr, truth: interp.motif_fraction(attr, truth.peak_mask))
register_metric("gc_reliance", needs="nothing", direction="zero", label="GC reliance",
                better="closer to 0 is better (+: background G/C raises the output, "
                       "-: A/T does)")(
    lambda attr, truth: interp.gc_reliance(attr, truth.X, truth.motif_mask, truth.scores))
