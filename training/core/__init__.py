"""The shared modelling core: every model family tunes, evaluates, registers and promotes through it.

Public API (binding, see docs/CORE_API.md): ``tuning.run_study``, ``lgbm.suggest_lgbm_params`` /
``lgbm.fit_lgbm``, ``registry.log_and_register``, ``promotion.promote`` / ``GATES``. Modules are
imported on demand so ``import training.core`` stays cheap.
"""
