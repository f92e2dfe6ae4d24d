#!/usr/bin/env bash
# Builds the web UI into web/dist with Debian's React, TypeScript and esbuild (npm is not needed): a strict type
# check, then one minified bundle. Installs the packages when they are missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
packages=(node-react node-react-dom node-scheduler node-csstype node-prop-types node-typescript esbuild)
if ! command -v esbuild >/dev/null || ! command -v tsc >/dev/null || [ ! -d /usr/share/nodejs/react-dom ] \
    || [ ! -d /usr/share/nodejs/@types/react ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null \
        || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null; }
fi
cd "$root/web"
tsc -p tsconfig.json
rm -rf dist.new && mkdir dist.new
NODE_PATH=/usr/share/nodejs esbuild src/main.tsx --bundle --minify --jsx=automatic --target=es2020 \
    --define:process.env.NODE_ENV='"production"' --log-level=warning --outfile=dist.new/app.js
cp index.html app.css favicon.svg dist.new/
rm -rf dist && mv dist.new dist
echo "web UI built in web/dist ($(du -sk dist | cut -f1) KiB)"
