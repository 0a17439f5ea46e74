# Loaded by the local stack's MLflow server processes only (PYTHONPATH set by
# deploy/local/stack.sh), never by clients.
#
# MLflow 3.17.2 imports its basic-auth module inside every runs search
# (mlflow/server/handlers.py, search_runs_impl). Without Flask-WTF that import
# fails, after about 4 s the first time in each worker, and while it runs the
# half-made module is visible to concurrent searches, which then fail with
# AttributeError (HTTP 500). The portal is MLflow's gateway and MLflow's own
# basic auth is not used, so the server is told the module is absent: the
# import fails at once, the same way every time.
import sys

sys.modules.setdefault("mlflow.server.auth", None)
