#!/usr/bin/env bash
# The portal's container image, built without a container engine: a static
# x86_64-unknown-linux-musl server binary and the site (scripts/build-site.sh)
# in an OCI image layout assembled by umoci (Debian's package), written as an
# OCI archive. Non-root (65532), meant for a read-only root filesystem,
# port 8080 — what deploy/chart/atrium expects. `Containerfile` builds the
# same image with Docker or Podman.
#   scripts/image.sh build [release|dev]  prints the archive's path
#                                         (target/image/atrium-<version>.oci.tar)
#   scripts/image.sh check ARCHIVE        checks the image's config, then starts
#                                         the binary inside the unpacked image
#                                         (chroot, read-only, as 65532) on the
#                                         local stack and asks it for pages
# Load the archive with `skopeo copy oci-archive:ARCHIVE docker://REGISTRY/atrium:TAG`
# or `podman load -i ARCHIVE`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$repo/target}
triple=x86_64-unknown-linux-musl
uid=65532

need_tools() {
  local missing=()
  command -v umoci >/dev/null || missing+=(umoci)
  command -v musl-gcc >/dev/null || missing+=(musl-tools)
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  rustup target list --installed | grep -q "^$triple\$" || rustup target add "$triple" >&2
}

build() {
  local profile=${1:-release} dir
  need_tools
  [ -f "$repo/target/site/build-id" ] || { echo "image: no site build (run scripts/build-site.sh first)" >&2; exit 1; }
  local id version
  id=$(cat "$repo/target/site/build-id")
  version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)
  # ring and SQLite compile C for the target with musl's gcc wrapper.
  (cd "$repo" && CC_x86_64_unknown_linux_musl=musl-gcc cargo build --quiet --profile "$profile" --target "$triple" --bin atrium >&2)
  dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
  local bin="$target_dir/$triple/$dir/atrium"
  if readelf -l "$bin" | grep -q 'program interpreter'; then echo "image: $bin is not static" >&2; exit 1; fi

  local work out
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  out="$repo/target/image/atrium-$version.oci.tar"
  mkdir -p "$(dirname "$out")"
  umoci init --layout "$work/layout"
  umoci new --image "$work/layout:$version"
  umoci unpack --image "$work/layout:$version" "$work/bundle" >/dev/null
  local root="$work/bundle/rootfs"
  mkdir -p "$root/app/site/pkg" "$root/etc/ssl/certs" "$root/tmp"
  # The container runtime mounts these (the kubelet writes the pod's own).
  : >"$root/etc/hosts"
  : >"$root/etc/resolv.conf"
  chmod 1777 "$root/tmp"
  # Without debug information (line tables make the binary ten times larger).
  strip --strip-debug -o "$root/app/atrium" "$bin" && chmod 0755 "$root/app/atrium"
  # The site of this build only (earlier builds' folders stay out).
  cp "$repo/target/site/build-id" "$root/app/site/"
  cp "$repo/target/site/pkg/atrium.css" "$repo/target/site/pkg/atrium.css.gz" "$root/app/site/pkg/"
  cp -r "$repo/target/site/pkg/$id" "$root/app/site/pkg/"
  # Public CAs for the identity provider and MLflow over HTTPS (rustls reads them
  # through the platform's store), and a name for the user.
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  printf 'root:x:0:0:root:/:/sbin/nologin\natrium:x:%s:%s:atrium:/app:/sbin/nologin\n' "$uid" "$uid" >"$root/etc/passwd"
  printf 'root:x:0:\natrium:x:%s:\n' "$uid" >"$root/etc/group"
  chown -R 0:0 "$root/app" "$root/etc"
  umoci repack --image "$work/layout:$version" "$work/bundle" >/dev/null
  umoci config --image "$work/layout:$version" \
    --os linux --architecture amd64 \
    --config.user "$uid:$uid" \
    --config.entrypoint /app/atrium \
    --config.workingdir /app \
    --config.exposedports 8080/tcp \
    --config.env ATRIUM_LISTEN=0.0.0.0:8080 \
    --config.env ATRIUM_SITE_ROOT=/app/site \
    --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --config.label org.opencontainers.image.title=atrium \
    --config.label org.opencontainers.image.version="$version" \
    --config.label org.opencontainers.image.revision="$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)" \
    --config.label org.opencontainers.image.licenses=Apache-2.0 \
    --history.created_by "scripts/image.sh build $profile"
  umoci gc --layout "$work/layout"
  tar -C "$work/layout" -cf "$out.tmp" . && mv "$out.tmp" "$out"
  echo "$out"
}

check() {
  local archive=$1 work
  need_tools
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  mkdir "$work/layout"
  tar -C "$work/layout" -xf "$archive"
  local tag
  tag=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"])' "$work/layout/index.json")
  # The image's configuration: what a kubelet reads.
  python3 - "$work/layout" <<'PY'
import json, sys, os
layout = sys.argv[1]
def blob(d):
    algo, hexd = d["digest"].split(":")
    return json.load(open(os.path.join(layout, "blobs", algo, hexd)))
manifest = blob(json.load(open(os.path.join(layout, "index.json")))["manifests"][0])
config = blob(manifest["config"])
c = config["config"]
problems = []
if config.get("os") != "linux" or config.get("architecture") != "amd64":
    problems.append(f"platform {config.get('os')}/{config.get('architecture')}, not linux/amd64")
user = c.get("User", "")
if not user or user.split(":")[0] in ("", "0", "root") or not user.split(":")[0].isdigit():
    problems.append(f"user {user!r}: not a numeric non-root user (runAsNonRoot needs one)")
if c.get("Entrypoint") != ["/app/atrium"]:
    problems.append(f"entrypoint {c.get('Entrypoint')}")
if list(c.get("ExposedPorts", {})) != ["8080/tcp"]:
    problems.append(f"exposed ports {list(c.get('ExposedPorts', {}))}")
env = dict(e.split("=", 1) for e in c.get("Env", []))
if env.get("ATRIUM_LISTEN") != "0.0.0.0:8080":
    problems.append(f"ATRIUM_LISTEN {env.get('ATRIUM_LISTEN')}")
layers = manifest["layers"]
size = sum(l["size"] for l in layers)
if problems:
    sys.exit("image config: " + "; ".join(problems))
print(f"image config: linux/amd64, user {user}, entrypoint /app/atrium, port 8080; {len(layers)} layer, {size / 1e6:.1f} MB compressed")
PY
  umoci unpack --image "$work/layout:$tag" "$work/bundle" >/dev/null
  local root="$work/bundle/rootfs"
  if readelf -l "$root/app/atrium" | grep -q 'program interpreter'; then echo "image: the binary in the layer is not static" >&2; return 1; fi
  [ -f "$repo/.stack/stack.env" ] || { echo "image: the check needs the local stack (deploy/local/stack.sh up)" >&2; return 1; }
  # The binary runs inside the image's root, mounted read-only, as 65532, with
  # a tmpfs at /tmp holding what a pod would mount (kubeconfig, the CA).
  local port=${ATRIUM_IMAGE_CHECK_PORT:-3188} env_file="$work/env"
  (
    set -a
    . "$repo/.stack/stack.env"
    set +a
    for v in $(compgen -e | grep '^ATRIUM_' | grep -v -x -e ATRIUM_KUBECONFIG -e ATRIUM_OIDC__CA_FILE -e ATRIUM_LISTEN); do
      printf '%s=%q\n' "$v" "${!v}"
    done >"$env_file"
    echo "$ATRIUM_KUBECONFIG" >"$work/kubeconfig-path"
    echo "$ATRIUM_OIDC__CA_FILE" >"$work/ca-path"
  )
  cat >>"$env_file" <<ENV
ATRIUM_LISTEN=127.0.0.1:$port
ATRIUM_PUBLIC_URL=http://localhost:$port
ATRIUM_SITE_ROOT=/app/site
ATRIUM_KUBECONFIG=/tmp/kubeconfig
ATRIUM_OIDC__CA_FILE=/tmp/ca.crt
ATRIUM_DATABASE_URL=sqlite:///tmp/atrium.db?mode=rwc
ATRIUM_NOTEBOOKS__CULLER_LEASE=image-check
ATRIUM_PIPELINES__LOG_ARCHIVE_LEASE=image-check-archiver
ATRIUM_LOG_FORMAT=json
ENV
  unshare --mount --fork bash -c '
    set -e
    root=$1; work=$2
    mount --bind "$root" "$root" && mount -o remount,bind,ro "$root" "$root"
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    # As a container runtime does: the names the pod resolves.
    mount --bind /etc/hosts "$root/etc/hosts"
    mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
    install -m 0444 "$(cat "$work/kubeconfig-path")" "$root/tmp/kubeconfig"
    install -m 0444 "$(cat "$work/ca-path")" "$root/tmp/ca.crt"
    exec env -i /bin/bash -c "set -a; . \"\$1\"; set +a; exec chroot --userspec=65532:65532 \"\$2\" /app/atrium" _ "$work/env" "$root"
  ' _ "$root" "$work" >"$work/portal.log" 2>&1 &
  local pid=$! ok=
  for _ in $(seq 1 120); do
    if curl -sf -m 10 "http://127.0.0.1:$port/readyz" >/dev/null; then ok=1; break; fi
    kill -0 $pid 2>/dev/null || break
    sleep 0.5
  done
  local failed=
  if [ -z "$ok" ]; then
    failed="the binary in the image did not become ready"
  else
    local id page
    id=$(cat "$root/app/site/build-id")
    page=$(curl -s -m 10 "http://127.0.0.1:$port/signed-out" || true)
    curl -sf -m 10 -o /dev/null "http://127.0.0.1:$port/pkg/$id/atrium_bg.wasm" || failed="the site in the image is not served (/pkg/$id/atrium_bg.wasm)"
    grep -q "atrium.css" <<<"$page" || failed="no page from the binary in the image"
  fi
  # unshare forked the portal: end its children too.
  pkill -TERM -P $pid 2>/dev/null || true
  kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
  if [ -n "$failed" ]; then
    tail -n 20 "$work/portal.log" >&2
    echo "image: $failed" >&2
    return 1
  fi
  echo "image check: the binary in the image started (read-only root, user $uid), is ready on the local stack, and serves the site's build $id"
}

case "${1:-}" in
  build) build "${2:-release}" ;;
  check) check "${2:?the archive to check}" ;;
  *) echo "usage: $0 build [release|dev] | check ARCHIVE" >&2; exit 2 ;;
esac
