"""The default model: real LendingClub rows, features, training, evaluation, synthetic applicants.

Modules: ``data`` (the real rows as raw applicants), ``features`` (the one feature list),
``train`` and ``evaluation`` (fit, held-out metrics, baselines), ``report`` (figures),
``artifact`` (versioned artifacts, what the risk service loads), ``synthetic`` (generator).
Run ``python -m lendstream.model train`` to train and write an artifact.
"""
