"""How each code location executes runs."""

import dagster as dg

# What every step process imports after the fork, before its step starts: MLflow's SQL stores
# (SQLAlchemy, Alembic) behind the tracking and registry clients, and the storage, run launcher
# and run coordinator of the Dagster instance the step reports to, and the loader of the code
# location. Imported in each step process they took about 1.4 s per step on two cores (measured
# 1.58 s -> 0.20 s from fork to a loaded job and MLflow store); the forkserver imports them once.
# multiprocessing's forkserver skips a preload module that fails to import, so a name that moves
# in a later Dagster release costs time, not a failure.
STEP_PROCESS_MODULES = (
    "sqlalchemy",
    "alembic",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.launcher.default_run_launcher",
    "dagster._core.run_coordinator.queued_run_coordinator",
    "dagster._utils.test",
)


def forkserver_executor(module: str) -> dg.ExecutorDefinition:
    """Multiprocess executor whose steps fork from a server that already imported ``module``
    and ``STEP_PROCESS_MODULES``.

    A step then starts in a fraction of a second instead of re-importing MLflow, scikit-learn
    and the Dagster instance's storage.
    """
    return dg.multiprocess_executor.configured(
        {"start_method": {"forkserver": {"preload_modules": [module, *STEP_PROCESS_MODULES]}}}
    )
