"""The evaluation attribution methods, one module each (the plain-gradient family,
saliency and input x gradient, shares one). ``regbench.attributions.builtin``
registers them; none of them names a model's modules."""
