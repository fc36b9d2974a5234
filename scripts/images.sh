#!/usr/bin/env bash
# Build every container image of docker/ and print their sizes:
#   zentrale:local           the daemon (docker/Dockerfile)
#   zentrale-asterisk:local  Asterisk 22 from Debian unstable (docker/asterisk/Dockerfile)
#   zentrale-postgres:local  PostgreSQL from Debian 12 (docker/postgres/Dockerfile; tests)
#   zentrale-moto:local      an S3-protocol server, moto from PyPI (docker/moto/Dockerfile; tests)
# The base images debian:bookworm-slim and debian:sid-slim are pulled when a registry answers;
# when none does (a machine that reaches only Debian's mirror and PyPI) they are made here:
# debootstrap --variant=minbase from the mirror in the host's apt sources, then docker import
# (with the host's local CA certificates, so builds behind a TLS-re-signing proxy reach PyPI).
# Builds are cached (dependencies before source), so a second run takes seconds.
# Starts dockerd when none answers (scripts/dockerd.sh). Needs root to make the base images.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/dockerd.sh

# The host's Debian archive and security archive (deb822 .sources files or sources.list).
apt_uris() {
  { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | sed 's/^URIs:[[:space:]]*//'
    grep -hE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | sed -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/'
  } | tr ' ' '\n' | grep -E '^https?://' || true
}
mirror=${ZENTRALE_SANDBOX_MIRROR:-$(apt_uris | grep -v security | head -n 1)}
security=$(apt_uris | grep security | head -n 1)
mirror=${mirror%/}

# make_base TAG SUITE: a minimal Debian root made with debootstrap, imported as TAG.
make_base() {
  local tag=$1 suite=$2 dir
  if [ -z "$mirror" ]; then
    echo "images: no Debian mirror in /etc/apt; set ZENTRALE_SANDBOX_MIRROR" >&2
    exit 1
  fi
  dir=$(mktemp -d /var/tmp/zentrale-base.XXXXXX)
  # shellcheck disable=SC2064  # expand $dir now: removed however the script ends
  trap "rm -rf '$dir' '$dir.log'" EXIT
  echo "images: making $tag: debootstrap --variant=minbase $suite from $mirror"
  debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$dir.log" 2>&1 \
    || { tail -n 20 "$dir.log" >&2; exit 1; }
  rm -f "$dir.log"
  {
    echo "deb $mirror $suite main"
    if [ "$suite" != sid ]; then
      echo "deb $mirror $suite-updates main"
      [ -n "$security" ] && echo "deb ${security%/} $suite-security main"
    fi
  } >"$dir/etc/apt/sources.list"
  # What the registry's -slim images leave out: documentation, manuals, translations.
  cat >"$dir/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  # The host's own local CA certificates (a network whose proxy re-signs TLS, as on the
  # machines this was written on): pip inside the builds trusts what the host trusts once the
  # image installs ca-certificates.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$dir/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/"
  fi
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$dir/etc/apt/apt.conf.d/docker-no-recommends"
  find "$dir/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
  rm -rf "$dir"/usr/share/{man,info,locale,lintian}/* "$dir"/var/lib/apt/lists/* \
    "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb "$dir"/var/log/*.log
  tar --numeric-owner -C "$dir" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL org.zentrale.base=debootstrap-$suite" \
    - "$tag" >/dev/null
  rm -rf "$dir"
  trap - EXIT
}

# base TAG SUITE: TAG as it is when present, pulled when a registry answers, else made.
base() {
  local tag=$1 suite=$2
  docker image inspect "$tag" >/dev/null 2>&1 && return
  if timeout 120 docker pull -q "$tag" >/dev/null 2>&1; then
    echo "images: pulled $tag"
    return
  fi
  make_base "$tag" "$suite"
}

# build TAG DOCKERFILE: one image from the repository root (host network: no bridge needed).
build() {
  local tag=$1 dockerfile=$2 started=$SECONDS log
  log=$(mktemp)
  if ! docker build --network host --force-rm -q -f "$dockerfile" -t "$tag" . >"$log" 2>&1; then
    echo "images: building $tag failed:" >&2
    tail -n 40 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  echo "images: $tag built in $((SECONDS - started)) s"
}

started=$SECONDS
base debian:bookworm-slim bookworm
base debian:sid-slim sid
echo "images: base images ready after $((SECONDS - started)) s"
build zentrale:local docker/Dockerfile
build zentrale-asterisk:local docker/asterisk/Dockerfile
build zentrale-postgres:local docker/postgres/Dockerfile
build zentrale-moto:local docker/moto/Dockerfile
echo "images: all built in $((SECONDS - started)) s"
for tag in debian:bookworm-slim debian:sid-slim zentrale:local zentrale-asterisk:local \
           zentrale-postgres:local zentrale-moto:local; do
  docker image inspect -f '{{.Size}}' "$tag" \
    | awk -v tag="$tag" '{ printf "images: %-24s %6.0f MB\n", tag, $1 / 1000000 }'
done
