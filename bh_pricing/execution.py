"""How each code location executes runs."""

import dagster as dg


def forkserver_executor(module: str) -> dg.ExecutorDefinition:
    """Multiprocess executor whose steps fork from a server that already imported ``module``.

    A step then starts in milliseconds instead of re-importing MLflow and scikit-learn.
    """
    return dg.multiprocess_executor.configured(
        {"start_method": {"forkserver": {"preload_modules": [module]}}}
    )
