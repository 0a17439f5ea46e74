"""KServe's manifests from its Go module, made fit for a controller that runs
as a process of the local stack (deploy/local/stack.sh):

  resources.py MODULE_DIR CONFIG_DIR WEBHOOK_PORT CA_FILE before|after

prints, as one YAML stream, `before` the controller starts:
- the ConfigMap `inferenceservice-config` (config/configmap), in Standard
  (raw Deployment) mode, since the stack runs no Knative, with the ingress
  domain `models.localhost` and no Istio;
- the webhook configurations (config/webhook/manifests.yaml), each calling
  https://127.0.0.1:WEBHOOK_PORT/<path> with the stack's CA as caBundle,
  instead of a Service;
and `after` it answers (its webhook checks runtimes):
- the MLServer ClusterServingRuntime (config/runtimes/kserve-mlserver.yaml)
  with the image its kustomization names, and the runtime's seccomp profile,
  which Pod Security `restricted` (every team namespace) asks for;
- the ClusterStorageContainer `default` (config/storagecontainers), the
  storage initializer, likewise with its image and a restricted security
  context.
Text substitutions only, each checked: a changed upstream file stops the stack
rather than deploying something half-rewritten.
"""
import base64
import re
import sys

module, config_dir, port, ca_file, part = sys.argv[1:6]
ca = base64.b64encode(open(ca_file, "rb").read()).decode()


def must(pattern, repl, text, count, what, flags=0):
    new, n = re.subn(pattern, repl, text, flags=flags)
    if n != count:
        sys.exit(f"kserve/resources.py: expected {count} {what}, found {n}; has KServe's manifest changed?")
    return new


out = []

def with_image(folder, manifest, placeholder):
    """`folder/manifest` with the image its folder's kustomization gives
    `placeholder` (upstream's files name a placeholder, `<name>:replace`)."""
    text = open(f"{module}/config/{folder}/{manifest}").read()
    kustomization = open(f"{module}/config/{folder}/kustomization.yaml").read()
    image = re.search(rf"- name: {re.escape(placeholder)}\n\s+newName: (\S+)\n\s+newTag: (\S+)", kustomization)
    if not image:
        sys.exit(f"kserve/resources.py: no image for {placeholder} in config/{folder}/kustomization.yaml")
    return must(rf"image: {re.escape(placeholder)}:replace", f"image: {image.group(1)}:{image.group(2)}", text, 1, f"{placeholder} image")


if part == "after":
    runtime = with_image("runtimes", "kserve-mlserver.yaml", "mlserver")
    runtime = must(r"(?m)^(\s+)runAsNonRoot: true\n",
                   lambda m: f"{m.group(0)}{m.group(1)}seccompProfile:\n{m.group(1)}  type: RuntimeDefault\n",
                   runtime, 1, "runtime securityContext")
    # The storage initializer KServe adds to every model server's pod (its
    # init container), as its ClusterStorageContainer `default` describes
    # it, with the image its kustomization names and the same restricted
    # security context (without it, Pod Security refuses every pod).
    storage = with_image("storagecontainers", "default.yaml", "default-storage-initilizer")
    storage = must(r"(?m)^(\s+)imagePullPolicy: IfNotPresent\n",
                   lambda m: (f"{m.group(0)}{m.group(1)}securityContext:\n{m.group(1)}  runAsNonRoot: true\n"
                              f"{m.group(1)}  allowPrivilegeEscalation: false\n{m.group(1)}  capabilities: {{drop: [ALL]}}\n"
                              f"{m.group(1)}  seccompProfile: {{type: RuntimeDefault}}\n"),
                   storage, 1, "storage initializer container")
    print(runtime.strip("\n-") + "\n---\n" + storage.strip("\n-"))
    sys.exit(0)
if part != "before":
    sys.exit("kserve/resources.py: the last argument is before or after")

config = open(f"{config_dir}/inferenceservice.yaml").read()
# Its first key, `_example`, documents every setting; change only the others.
first = re.search(r"(?m)^  (?!_example)[A-Za-z]+: \|", config)
if not first:
    sys.exit("kserve/resources.py: no configuration key in inferenceservice.yaml")
example, config = config[:first.start()], config[first.start():]
config = must(r'"defaultDeploymentMode": "Serverless"', '"defaultDeploymentMode": "Standard"', config, 1, "deployment mode")
config = must(r'"ingressDomain"\s*: "example.com"', '"ingressDomain": "models.localhost"', config, 1, "ingress domain")
# No Istio here: without this, every reconcile warns that its CRD is missing.
config = must(r'"disableIstioVirtualHost": false', '"disableIstioVirtualHost": true', config, 1, "Istio switch")
out.append(example + config)

webhooks = open(f"{module}/config/webhook/manifests.yaml").read()
webhooks = must(
    r"(?m)^(\s+)service:\n\s+name: \$\(webhookServiceName\)\n\s+namespace: \$\(kserveNamespace\)\n\s+path: (\S+)\n",
    lambda m: f"{m.group(1)}url: https://127.0.0.1:{port}{m.group(2)}\n{m.group(1)}caBundle: {ca}\n",
    webhooks, 7, "webhooks")
out.append(webhooks)


print("\n---\n".join(doc.strip("\n-") for doc in out))
