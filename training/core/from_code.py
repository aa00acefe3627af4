"""The models-from-code entry file of every crmlab pyfunc (``python_model=<this file>`` in ``log_model``).

MLflow executes this file when it loads the model, with the logged ``model_config`` in effect; it sets
an empty instance of the class the config names (``training.core.model_state.CLASSES``), and that
instance's ``load_context`` fills it from the ``crmlab_state`` artifact. Nothing is unpickled.

Only MLflow should import this file: outside a model load there is no ``model_config``.
"""

from mlflow.models import ModelConfig, set_model

from training.core.model_state import CONFIG_KEY, empty_model

set_model(empty_model(ModelConfig().get(CONFIG_KEY)))
