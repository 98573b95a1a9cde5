#!/usr/bin/env bash
# Installs the classical codecs `lic anchors` measures, from Debian's packages:
# JPEG (libjpeg-turbo), WebP, AVIF (libavif/libaom), HEIC (libheif/x265), JPEG XL, JPEG 2000.
set -euo pipefail
packages="libjpeg-turbo-progs webp libavif-bin libheif-examples libjxl-tools libopenjp2-tools"
missing=""
for tool in cjpeg cwebp avifenc heif-enc cjxl opj_compress; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $packages
