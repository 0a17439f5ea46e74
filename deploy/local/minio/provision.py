"""Makes the local stack's MinIO buckets, users and policies (idempotent).

    provision.py ENDPOINT REGION KEYS PORTAL_USER PORTAL_BUCKET MLFLOW_BUCKET [TEAM...]

run by deploy/local/stack.sh with the PyPI package `minio` (pinned in
versions.env), as MinIO's root user (MINIO_ROOT_USER, MINIO_ROOT_PASSWORD in
the environment, never on the command line). Each user's secret key is the
file KEYS/<user>, which the stack made before. The portal's user may read,
write and delete objects in its bucket and list it, nothing else. MLflow's
user (named as its bucket) may do the same in MLFLOW_BUCKET, where MLflow
keeps every workspace's artifacts under `workspaces/<team>/`. Each team gets
a bucket and a user of the same name, limited to that bucket, and may read
(never write) its own workspace's artifacts in MLflow's bucket: what a model
server of the team, given the team's data connection, downloads a
registered model version from (KServe's storage initializer).

Prints, on stdout, the teams' data connections (a Secret `object-storage` in
each team namespace, the shape the portal's own data connections have,
app/src/notebooks/connections.rs) for `kubectl apply -f -`.
"""

import base64
import json
import os
import sys
from urllib.parse import urlsplit

from minio import Minio
from minio.credentials import StaticProvider
from minio.error import MinioAdminException
from minio.minioadmin import MinioAdmin

# What the portal needs to archive logs (and later artifacts), and no more.
PORTAL_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
# A team's own bucket, used from notebooks and pipelines: also what
# multipart uploads need to be cleaned up, and the bucket's location, which
# some S3 tools ask for first.
TEAM_ACTIONS = PORTAL_ACTIONS + ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
TEAM_BUCKET_ACTIONS = ["s3:ListBucketMultipartUploads", "s3:GetBucketLocation"]


def policy(bucket, object_actions, bucket_actions=()):
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket", *bucket_actions], "Resource": [f"arn:aws:s3:::{bucket}"]},
            {"Effect": "Allow", "Action": object_actions, "Resource": [f"arn:aws:s3:::{bucket}/*"]},
        ],
    }


def team_policy(team, mlflow_bucket):
    """A team's own bucket, and reading its MLflow workspace's files."""
    rules = policy(team, TEAM_ACTIONS, TEAM_BUCKET_ACTIONS)
    prefix = f"workspaces/{team}/"
    rules["Statement"] += [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{mlflow_bucket}"],
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        },
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{mlflow_bucket}/{prefix}*"]},
    ]
    return rules


def main():
    endpoint, region, keys, portal_user, portal_bucket, mlflow_bucket, *teams = sys.argv[1:]
    url = urlsplit(endpoint)
    root = StaticProvider(os.environ["MINIO_ROOT_USER"], os.environ["MINIO_ROOT_PASSWORD"])
    secure = url.scheme == "https"
    s3 = Minio(url.netloc, credentials=root, region=region, secure=secure)
    admin = MinioAdmin(endpoint=url.netloc, credentials=root, secure=secure)

    def account(user, bucket, rules):
        with open(os.path.join(keys, user), encoding="utf-8") as f:
            secret = f.read().strip()
        if not s3.bucket_exists(bucket):
            s3.make_bucket(bucket)
        name = f"{user}-bucket"
        # Adding a policy or a user again replaces it: the stack's files win.
        admin.policy_add(name, policy=rules)
        admin.user_add(user, secret)
        try:
            admin.attach_policy([name], user=user)
        except MinioAdminException as e:
            # Attaching what is attached is an error to MinIO (400); here it
            # only means an earlier `stack.sh up` did it.
            if "XMinioAdminPolicyChangeAlreadyApplied" not in str(e):
                raise
        return secret

    account(portal_user, portal_bucket, policy(portal_bucket, PORTAL_ACTIONS))
    account(mlflow_bucket, mlflow_bucket, policy(mlflow_bucket, PORTAL_ACTIONS))
    connections = []
    for team in teams:
        secret = account(team, team, team_policy(team, mlflow_bucket))
        data = {
            "AWS_S3_ENDPOINT": endpoint,
            "AWS_S3_BUCKET": team,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": team,
            "AWS_SECRET_ACCESS_KEY": secret,
        }
        connections.append({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": "object-storage",
                "namespace": team,
                "labels": {"atrium.io/data-connection": "true"},
                "annotations": {
                    "atrium.io/connection-type": "s3",
                    "atrium.io/endpoint": endpoint,
                    "atrium.io/bucket": team,
                    # KServe's storage initializer reads the endpoint here
                    # (keys and region from the data).
                    "serving.kserve.io/s3-endpoint": endpoint,
                },
            },
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        })
    json.dump({"apiVersion": "v1", "kind": "List", "items": connections}, sys.stdout)


if __name__ == "__main__":
    main()
