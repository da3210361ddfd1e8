"""Cover-song identification: CoverHunter's features, network, losses and engine.

- :mod:`~songscope.covers.features`: the log-magnitude CQT CoverHunter reads (no torch);
- :mod:`~songscope.covers.config`: its hyper-parameters under CoverHunterMPS's ``hparams.yaml`` keys;
- :mod:`~songscope.covers.model`: the conformer network; :mod:`~songscope.covers.losses`: its losses;
- :mod:`~songscope.covers.embedding`: a recording's embedding as CoverHunterMPS's tools compute it;
- :mod:`~songscope.covers.family`: the ``coverhunter`` family of the ``covers`` task.
"""
