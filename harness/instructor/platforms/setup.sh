#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image:
# it installs the Debian packages the grader needs. Base image: Ubuntu 22.04
# (Python 3.10, pytest 6.2.5) or later. Tested on Debian 11, bullseye (Python
# 3.9, pytest 6.0.2), older than 22.04 in each, which stands for it by
# version: harness/instructor/platforms/check-old-base (make check-old-base)
# runs this and run_autograder there (docs/instructors.md, "The oldest base").
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends @PACKAGES@
