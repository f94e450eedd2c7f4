#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image:
# it installs the Debian packages the grader needs. Base image: Ubuntu 22.04
# (Python 3.10, pytest 6.2) or later; the grader needs no pytest 7 feature.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends @PACKAGES@
