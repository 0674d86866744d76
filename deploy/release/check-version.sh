#!/usr/bin/env bash
# Checks that a release tag names the version the sources say, and optionally that a
# built binary reports that version with the commit it was built from.
#
#   deploy/release/check-version.sh v0.2.0                  # the tag against the sources
#   deploy/release/check-version.sh v0.2.0 dist/release/data-subscriber-linux-x64
#
# The tag must be v<VERSION>, where VERSION is the one in src/version.ts and in
# package.json (both must agree); VERSION is MAJOR.MINOR.PATCH, optionally with a
# pre-release part (0.2.0-rc.1). With a binary, `<binary> version` must print
# "data-subscriber <VERSION> (commit <git rev-parse --short HEAD>, built <date>)".
# Run from anywhere inside the repository. Exit 0 when everything agrees, 1 otherwise
# (with a GitHub Actions ::error:: line per mismatch), 2 on wrong usage.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 TAG [BINARY]" >&2
  exit 2
fi
tag="$1"
binary="${2:-}"
cd "$(dirname "$0")/../.."

failed=0
fail() {
  echo "::error title=Release version mismatch::$1"
  failed=1
}

semver='^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'
want="${tag#v}"
if [ "$want" = "$tag" ] || ! [[ "$want" =~ $semver ]]; then
  fail "tag '$tag' is not v<MAJOR>.<MINOR>.<PATCH>[-<pre-release>] (e.g. v0.2.0, v0.2.0-rc.1)"
fi

# src/version.ts: export const VERSION = "0.1.0";
src_version="$(sed -n 's/^export const VERSION = "\([^"]*\)";.*$/\1/p' src/version.ts)"
if [ -z "$src_version" ]; then
  fail "src/version.ts has no line 'export const VERSION = \"...\";'"
elif [ "$src_version" != "$want" ]; then
  fail "tag '$tag' says version '$want' but src/version.ts says '$src_version': set VERSION in src/version.ts and package.json, commit, and tag that commit"
fi

pkg_version="$(node -p 'JSON.parse(require("fs").readFileSync("package.json", "utf8")).version')"
if [ "$pkg_version" != "$want" ]; then
  fail "tag '$tag' says version '$want' but package.json says '$pkg_version'"
fi

if [ -n "$binary" ]; then
  commit="$(git rev-parse --short HEAD)"
  if ! out="$("$binary" version 2>&1)"; then
    fail "'$binary version' failed: $out"
  elif ! [[ "$out" =~ ^data-subscriber\ ([^ ]+)\ \(commit\ ([^,]+),\ built\ ([^\)]+)\)$ ]]; then
    fail "'$binary version' printed '$out', not 'data-subscriber <version> (commit <sha>, built <date>)'"
  else
    [ "${BASH_REMATCH[1]}" = "$want" ] || fail "$binary reports version '${BASH_REMATCH[1]}', the tag says '$want'"
    [ "${BASH_REMATCH[2]}" = "$commit" ] || fail "$binary reports commit '${BASH_REMATCH[2]}', HEAD is '$commit'"
    [ "${BASH_REMATCH[3]}" != "dev" ] || fail "$binary has no build date (built without the DS_BUILD_DATE define)"
  fi
fi

if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "version $want: tag, src/version.ts, package.json${binary:+ and $binary} agree"
